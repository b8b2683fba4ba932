package alerting

import (
	"context"
	"sync"
	"sync/atomic"

	"github.com/logengine/logengine/storage"
)

// recentSlots is how many committed entries the ingest path may hand to
// the evaluator ahead of it (a power of two). Beyond that the evaluator
// reads them from storage.
const recentSlots = 1 << 16

// recent holds entries the ingest path committed and the evaluator has not
// evaluated yet, by sequence, so that the evaluator need not read them back
// from storage: point reads were three quarters of its cost. The journal
// stays the source of truth: an entry missing here (after a restart, or
// overwritten while the evaluator lagged) is read from storage.
type recent struct {
	enabled atomic.Bool // an enabled rule exists; otherwise nothing is kept
	mu      sync.Mutex
	slots   []*storage.Entry // slot seq % recentSlots; guarded by mu
}

func (r *recent) put(entries []storage.Entry) {
	if !r.enabled.Load() || len(entries) == 0 {
		return
	}
	r.mu.Lock()
	if r.slots == nil {
		r.slots = make([]*storage.Entry, recentSlots)
	}
	for i := range entries {
		e := &entries[i]
		r.slots[e.ID.Seq%recentSlots] = e
	}
	r.mu.Unlock()
}

// take removes and returns the kept entries of ids (in the order of ids),
// and the ids not kept.
func (r *recent) take(ids []storage.ID, got []*storage.Entry, missing []storage.ID) ([]*storage.Entry, []storage.ID) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.slots == nil {
		return got, append(missing, ids...)
	}
	for _, id := range ids {
		slot := &r.slots[id.Seq%recentSlots]
		if e := *slot; e != nil && e.ID == id {
			got = append(got, e)
			*slot = nil
		} else {
			missing = append(missing, id)
		}
	}
	return got, missing
}

// drop forgets the kept entries of ids.
func (r *recent) drop(ids []storage.ID) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.slots == nil {
		return
	}
	for _, id := range ids {
		if slot := &r.slots[id.Seq%recentSlots]; *slot != nil && (*slot).ID == id {
			*slot = nil
		}
	}
}

// appender is the store's append path, as the ingest service uses it.
type appender interface {
	Append(ctx context.Context, entries []storage.Entry) ([]storage.ID, error)
}

// Appender appends through the store and hands each committed batch to
// the evaluator, which then evaluates it without reading it back. The
// caller must not change the entries after Append returns (the ingest
// service does not).
type Appender struct {
	next appender
	m    *Manager
}

// Appender returns next's append path, observed by the evaluator. Give it
// to the ingest service in place of the store.
func (m *Manager) Appender(next appender) *Appender { return &Appender{next: next, m: m} }

// Append appends entries and, once they are committed, hands them over.
func (a *Appender) Append(ctx context.Context, entries []storage.Entry) ([]storage.ID, error) {
	ids, err := a.next.Append(ctx, entries)
	if err == nil {
		a.m.recent.put(entries)
	}
	return ids, err
}
