// Package handoff holds what the ingest path committed for the consumers
// that tail the journal behind it (the keyword indexer, the alert
// evaluator), so that they need not read just-written entries back from
// storage: those point reads were a fifth of the indexer's CPU and three
// quarters of the evaluator's. The journal stays the source of truth: what
// is not held here (after a restart, or overwritten while a consumer
// lagged) is read from storage.
package handoff

import (
	"sync"

	"github.com/logengine/logengine/storage"
)

// Slots is how many committed entries a Ring holds ahead of its consumer
// unless told otherwise. An entry is held in slot seq % slots, so one that
// falls further behind than that is overwritten and read back instead.
const Slots = 1 << 16

// Ring holds a value per committed entry, by sequence. The zero Ring is
// empty, holds Slots entries and allocates its slots on the first Put.
type Ring[T any] struct {
	// Size, when set before the first Put, is how many entries the ring
	// holds. A consumer that can fall seconds behind under load wants room
	// for those seconds: reading back is much slower than taking, so a
	// consumer that falls out of its ring tends to fall further behind.
	Size int
	// MaxBytes bounds what the held values take, as value reports it: an
	// entry that does not fit is not held (and is read back), so a burst of
	// large messages cannot pin gigabytes. Zero means DefaultMaxBytes.
	MaxBytes int64

	mu    sync.Mutex
	slots []slot[T] // guarded by mu
	bytes int64     // what the held values cost; guarded by mu
}

// DefaultMaxBytes is what a Ring holds at most unless told otherwise.
const DefaultMaxBytes = 32 << 20

type slot[T any] struct {
	id   storage.ID // zero: empty
	cost int64
	val  T
}

// Put holds the value of each committed entry (whose ID is set); value
// returns it and the bytes it keeps alive.
func (r *Ring[T]) Put(entries []storage.Entry, value func(*storage.Entry) (T, int)) {
	if len(entries) == 0 {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.slots == nil {
		n := r.Size
		if n <= 0 {
			n = Slots
		}
		r.slots = make([]slot[T], n)
	}
	limit := r.MaxBytes
	if limit <= 0 {
		limit = DefaultMaxBytes
	}
	n := uint64(len(r.slots))
	for i := range entries {
		e := &entries[i]
		s := &r.slots[e.ID.Seq%n]
		r.forget(s)
		v, cost := value(e)
		if r.bytes+int64(cost) > limit {
			continue
		}
		*s = slot[T]{id: e.ID, cost: int64(cost), val: v}
		r.bytes += int64(cost)
	}
}

// forget empties s. The caller holds mu.
func (r *Ring[T]) forget(s *slot[T]) {
	r.bytes -= s.cost
	*s = slot[T]{}
}

// Take calls fn with the held value of each of ids, in the order of ids,
// and forgets it; it appends the ids not held to missing and returns it.
// fn runs under the ring's lock: it should only collect.
func (r *Ring[T]) Take(ids []storage.ID, fn func(T), missing []storage.ID) []storage.ID {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.slots == nil {
		return append(missing, ids...)
	}
	n := uint64(len(r.slots))
	for _, id := range ids {
		s := &r.slots[id.Seq%n]
		if s.id == id && id != (storage.ID{}) {
			fn(s.val)
			r.forget(s)
		} else {
			missing = append(missing, id)
		}
	}
	return missing
}

// Drop forgets the held values of ids.
func (r *Ring[T]) Drop(ids []storage.ID) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.slots == nil {
		return
	}
	n := uint64(len(r.slots))
	for _, id := range ids {
		if s := &r.slots[id.Seq%n]; s.id == id {
			r.forget(s)
		}
	}
}

// Clear forgets everything held.
func (r *Ring[T]) Clear() {
	r.mu.Lock()
	defer r.mu.Unlock()
	clear(r.slots)
	r.bytes = 0
}

// Held returns how many values are held.
func (r *Ring[T]) Held() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for i := range r.slots {
		if r.slots[i].id != (storage.ID{}) {
			n++
		}
	}
	return n
}
