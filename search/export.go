package search

import (
	"context"
	"fmt"
	"time"

	"github.com/logengine/logengine/storage"
)

// ExportRequest is every entry matching a query in a time range.
type ExportRequest struct {
	Query    string
	From, To time.Time
}

// Export calls fn with every entry matching req, oldest first (ties by id),
// without a limit. It searches one page (MaxLimit entries) at a time, each
// with its own time budget, so an export of any size holds at most a page
// of entries and
// stops at the first error of fn or when ctx ends. The entry passed to fn
// is valid only during the call.
func (e *Engine) Export(ctx context.Context, req ExportRequest, fn func(*storage.Entry) error) error {
	page := Request{Query: req.Query, From: req.From, To: req.To, Sort: SortTimeAsc, Limit: e.exportPage}
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		res, err := e.Search(ctx, page)
		if err != nil {
			return fmt.Errorf("export: %w", err)
		}
		for i := range res.Entries {
			if err := fn(&res.Entries[i]); err != nil {
				return err
			}
		}
		if res.NextCursor == "" {
			return nil
		}
		page.Cursor = res.NextCursor
	}
}
