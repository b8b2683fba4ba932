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
// (a power of two). An entry is held in slot seq % Slots, so one that
// falls further behind than that is overwritten and read back instead.
const Slots = 1 << 16

// Ring holds a value per committed entry, by sequence. The zero Ring is
// empty and allocates its slots on the first Put.
type Ring[T any] struct {
	mu    sync.Mutex
	slots []slot[T] // guarded by mu
}

type slot[T any] struct {
	id  storage.ID // zero: empty
	val T
}

// Put holds value(e) for each committed entry (whose ID is set).
func (r *Ring[T]) Put(entries []storage.Entry, value func(*storage.Entry) T) {
	if len(entries) == 0 {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.slots == nil {
		r.slots = make([]slot[T], Slots)
	}
	for i := range entries {
		e := &entries[i]
		r.slots[e.ID.Seq%Slots] = slot[T]{id: e.ID, val: value(e)}
	}
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
	for _, id := range ids {
		s := &r.slots[id.Seq%Slots]
		if s.id == id && id != (storage.ID{}) {
			fn(s.val)
			*s = slot[T]{}
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
	for _, id := range ids {
		if s := &r.slots[id.Seq%Slots]; s.id == id {
			*s = slot[T]{}
		}
	}
}

// Clear forgets everything held.
func (r *Ring[T]) Clear() {
	r.mu.Lock()
	defer r.mu.Unlock()
	clear(r.slots)
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
