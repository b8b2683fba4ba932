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
//
// A tail keeps no durable checkpoint, so the journal's trimmer does not
// wait for it: one that trails even the slowest durable consumer may find
// its part of the journal gone, and ends with ErrTailBehind too.
func (e *Engine) Tail(ctx context.Context, query string, fn func(*storage.Entry) error) error {
	node, err := Parse(query)
	if err != nil {
		return err
	}
	filter := NewFilter(node)
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
		// Sequences are dense and every commit is journalled: a journal
		// that does not go on right after the tail's position was trimmed
		// past it.
		if len(ids) == 0 || ids[0].Seq != after+1 {
			return 0, fmt.Errorf("%w: the journal was trimmed past it (%d entries behind)", ErrTailBehind, high-after)
		}
		var ferr error
		err = e.store.GetMany(ctx, ids, func(en *storage.Entry) bool {
			if filter.Match(en, nil) {
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
		after = ids[len(ids)-1].Seq
		return len(ids), nil
	}, nil)
	if err != nil {
		return err
	}
	return ctx.Err()
}
