package search

import (
	"context"
	"fmt"
	"slices"

	"github.com/logengine/logengine/storage"
)

// MaxContext bounds how many entries a context request asks for on each
// side of its entry.
const MaxContext = 1000

// ContextResult is an entry with its neighbours from the same source, in
// id order (time, ties by id).
type ContextResult struct {
	Before []storage.Entry // oldest first, up to the entry
	Entry  storage.Entry
	After  []storage.Entry // oldest first, from the entry on
	// MoreBefore and MoreAfter say whether the source has entries beyond
	// the ones returned.
	MoreBefore, MoreAfter bool
	// Missing names the cluster peers whose part is missing (see Result).
	Missing []string
}

// Context returns up to before entries before the entry id and up to after
// entries after it that have its source, whatever any query matches: what
// its source logged around it. An unknown id is storage.ErrNotFound.
func (e *Engine) Context(ctx context.Context, id storage.ID, before, after int) (*ContextResult, error) {
	if before < 0 || after < 0 || before > MaxContext || after > MaxContext {
		return nil, &InputError{Msg: fmt.Sprintf("before=%d and after=%d: each must be 0 to %d", before, after, MaxContext)}
	}
	ctx, cancel := context.WithTimeout(ctx, e.opts.Timeout)
	defer cancel()
	en, err := e.store.Get(id)
	if err != nil {
		return nil, fmt.Errorf("context of %s: %w", id, err)
	}
	node := &Equal{Field: FieldSource, Value: Literal{Text: en.Source}}
	side := func(lo, hi storage.ID, desc bool, want int) ([]storage.Entry, bool, error) {
		q := &query{e: e, node: node, lo: lo, hi: hi, inRange: map[Node]bool{}}
		// One more tells whether there are more.
		out, err := q.collect(ctx, node, desc, want+1)
		if err != nil {
			return nil, false, fmt.Errorf("context of %s: %w", id, err)
		}
		more := len(out) > want
		return out[:min(len(out), want)], more, nil
	}
	res := &ContextResult{Entry: en}
	if res.Before, res.MoreBefore, err = side(storage.MinID, id, true, before); err != nil {
		return nil, err
	}
	slices.Reverse(res.Before)
	if res.After, res.MoreAfter, err = side(next(id), storage.MaxID, false, after); err != nil {
		return nil, err
	}
	return res, nil
}
