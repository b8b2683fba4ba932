package search

import (
	"context"
	"errors"
	"fmt"

	"github.com/logengine/logengine/internal/journal"
	"github.com/logengine/logengine/storage"
)

// ErrTailBehind ends a tail whose reader fell too far behind ingest.
var ErrTailBehind = errors.New("the client fell too far behind ingest")

// maxTailLag is how many committed entries a tail may trail by before it is
// ended: a reader that slow would never catch up, and ending it tells the
// client instead of silently skipping entries.
const maxTailLag = 200000

// Tail calls fn with every entry committed from now on that matches the
// query, in commit order, until ctx ends, fn fails, or the caller falls more
// than maxTailLag entries behind (ErrTailBehind). It follows the journal, so
// it costs ingest nothing and misses no commit.
func (e *Engine) Tail(ctx context.Context, query string, fn func(*storage.Entry) error) error {
	node, err := Parse(query)
	if err != nil {
		return err
	}
	after := e.store.HighSeq()
	// A failed step is not retried: the client is told why its tail ended.
	loop := journal.Loop{Store: e.store, Fatal: func(error) bool { return true }}
	err = loop.Run(ctx, func(ctx context.Context) (int, error) {
		high := e.store.HighSeq()
		if high <= after {
			return 0, nil
		}
		if high-after > maxTailLag {
			return 0, fmt.Errorf("%w: %d entries behind", ErrTailBehind, high-after)
		}
		ids, err := e.store.ReadJournal(ctx, after, int(min(high-after, 10000)))
		if err != nil {
			return 0, err
		}
		var ferr error
		err = e.store.GetMany(ctx, ids, func(en *storage.Entry) bool {
			if Match(node, en) {
				ferr = fn(en)
			}
			return ferr == nil
		})
		if err != nil {
			return 0, err
		}
		if ferr != nil {
			return 0, ferr
		}
		consumed := high - after
		if len(ids) > 0 {
			after = ids[len(ids)-1].Seq
		} else {
			after = high
		}
		return int(consumed), nil
	}, nil)
	if err != nil {
		return err
	}
	return ctx.Err()
}
