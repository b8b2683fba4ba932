package journal

import (
	"context"

	"github.com/logengine/logengine/internal/handoff"
	"github.com/logengine/logengine/storage"
)

// Fetcher hands a consumer what it needs of the entries a journal read
// listed: the values the ingest path handed over in the ring, and the
// others read back from storage (after a restart, or when the consumer
// lagged out of its ring). Its buffers are reused from one fetch to the
// next: a Fetcher serves one goroutine.
type Fetcher[T any] struct {
	store *storage.Store
	ring  *handoff.Ring[T]

	held    []T
	missing []storage.ID
}

// NewFetcher returns a fetcher that takes from ring first and reads the
// rest from store.
func NewFetcher[T any](store *storage.Store, ring *handoff.Ring[T]) *Fetcher[T] {
	return &Fetcher[T]{store: store, ring: ring}
}

// Fetch calls held with the value handed over for each of ids the ring
// holds, in the order of ids, and forgets it there; then it calls read
// with each of the other entries found in storage. Those are read in key
// order, not journal order: a walk reads a run of recent entries several
// times faster than a lookup per entry, which is what keeps a lagging
// consumer from falling further behind (see storage.Store.GetSorted).
// Entries dropped by retention since they were journalled are skipped;
// their journal positions are consumed all the same. read returning false
// stops the fetch.
//
// held and read run outside the ring's lock, so they may do real work.
func (f *Fetcher[T]) Fetch(ctx context.Context, ids []storage.ID, held func(T), read func(*storage.Entry) bool) error {
	f.held = f.held[:0]
	f.missing = f.ring.Take(ids, func(v T) { f.held = append(f.held, v) }, f.missing[:0])
	for _, v := range f.held {
		held(v)
	}
	clear(f.held) // let the values go with the step that used them
	if len(f.missing) == 0 {
		return nil
	}
	return f.store.GetSorted(ctx, f.missing, read)
}
