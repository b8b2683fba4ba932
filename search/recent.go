package search

import (
	"context"
	"sync"

	"github.com/logengine/logengine/storage"
)

// recentSlots is how many committed messages the ingest path may hand to
// the indexer ahead of it (a power of two). Beyond that the indexer reads
// entries from storage.
const recentSlots = 1 << 16

// recentDoc is a committed entry's id and message, held for the indexer.
type recentDoc struct {
	id  storage.ID
	msg string
}

// recent holds what the ingest path committed and the indexer has not
// indexed yet, by sequence, so that the indexer need not read it back from
// storage: point reads of just-committed entries were a fifth of the
// indexer's CPU. The journal stays the source of truth: an entry missing
// here (after a restart, or overwritten while the indexer lagged) is read
// from storage.
type recent struct {
	mu    sync.Mutex
	slots []recentDoc // slot seq % recentSlots; guarded by mu
}

func (r *recent) put(entries []storage.Entry) {
	if len(entries) == 0 {
		return
	}
	r.mu.Lock()
	if r.slots == nil {
		r.slots = make([]recentDoc, recentSlots)
	}
	for i := range entries {
		e := &entries[i]
		r.slots[e.ID.Seq%recentSlots] = recentDoc{id: e.ID, msg: e.Message}
	}
	r.mu.Unlock()
}

// take calls fn with the held document of each of ids (in the order of
// ids), forgetting it, and returns the ids not held.
func (r *recent) take(ids []storage.ID, fn func(recentDoc), missing []storage.ID) []storage.ID {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.slots == nil {
		return append(missing, ids...)
	}
	for _, id := range ids {
		slot := &r.slots[id.Seq%recentSlots]
		if slot.id == id && id != (storage.ID{}) {
			fn(*slot)
			*slot = recentDoc{}
		} else {
			missing = append(missing, id)
		}
	}
	return missing
}

// clear forgets everything held: entries deleted from storage must not
// reach the index from here.
func (r *recent) clear() {
	r.mu.Lock()
	clear(r.slots)
	r.mu.Unlock()
}

// appender is the store's append path, as the ingest service uses it.
type appender interface {
	Append(ctx context.Context, entries []storage.Entry) ([]storage.ID, error)
}

// Appender appends through next and hands each committed batch's messages
// to the indexer.
type Appender struct {
	next appender
	ix   *Indexer
}

// Appender returns next's append path, observed by the indexer. Give it to
// the ingest service in place of the store.
func (ix *Indexer) Appender(next appender) *Appender { return &Appender{next: next, ix: ix} }

// Append appends entries and, once they are committed, hands them over.
func (a *Appender) Append(ctx context.Context, entries []storage.Entry) ([]storage.ID, error) {
	ids, err := a.next.Append(ctx, entries)
	if err == nil {
		a.ix.recent.put(entries)
	}
	return ids, err
}

// ForgetRecent drops the messages handed over and not indexed yet, so that
// the indexer reads them from storage. Call it after deleting entries from
// storage and before deleting them from the index.
func (ix *Indexer) ForgetRecent() { ix.recent.clear() }
