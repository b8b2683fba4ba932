package alerting

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"time"

	"github.com/logengine/logengine/internal/journal"
	"github.com/logengine/logengine/storage"
)

// The outbox worker delivers queued notifications, at least once. Each
// notifier is a lane of its own, delivered strictly in queue order (a
// resolved never overtakes its firing), so that a receiver that is down
// holds back only its own notifications. A failed attempt is recorded (in
// the item, the history and the counters) and the lane retries after an
// exponential backoff; the item stays until a receiver accepts it, so a
// crash or restart at any point re-sends it with the same delivery id.

// laneState is the worker's view of one notifier's lane.
type laneState struct {
	running  bool
	failures int       // consecutive failed rounds
	next     time.Time // no attempt before (wall clock)
}

type laneDone struct {
	name   string
	failed bool
}

// outboxKey is an item's key: its lane, then its id, so that a lane is one
// prefix scan in queue order.
func outboxKey(notifier, id string) string { return notifier + "/" + id }

// lanes returns the notifiers with queued items and how many items there
// are in all.
func (m *Manager) lanes(ctx context.Context) (map[string]bool, int, error) {
	names := map[string]bool{}
	n := 0
	err := m.b.outbox.Scan(ctx, "", func(key string, _ []byte) error {
		if name, _, ok := strings.Cut(key, "/"); ok {
			names[name] = true
		}
		n++
		return nil
	})
	return names, n, err
}

func (m *Manager) runOutbox(ctx context.Context) error {
	lanes := map[string]*laneState{}
	done := make(chan laneDone)
	var wg sync.WaitGroup
	defer wg.Wait()
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	var backoff time.Duration
	for {
		// A start, like a newly queued item, is a reason to try at once:
		// lanes begin with no backoff.
		names, depth, err := m.lanes(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			if errors.Is(err, storage.ErrClosed) {
				return err
			}
			backoff = journal.Backoff(backoff)
			m.log.Error("read the notification outbox; retrying", "err", err, "retry_in", backoff)
			if !journal.Sleep(ctx, backoff) {
				return nil
			}
			continue
		}
		backoff = 0
		m.outboxDepth.Store(int64(depth))
		now := time.Now()
		var wakeAt time.Time
		for name := range names {
			l := lanes[name]
			if l == nil {
				l = &laneState{}
				lanes[name] = l
			}
			if l.running {
				continue
			}
			if now.Before(l.next) {
				if wakeAt.IsZero() || l.next.Before(wakeAt) {
					wakeAt = l.next
				}
				continue
			}
			l.running = true
			wg.Add(1)
			go func() {
				defer wg.Done()
				failed := m.deliverLane(ctx, name)
				select {
				case done <- laneDone{name, failed}:
				case <-ctx.Done():
				}
			}()
		}
		if !timer.Stop() {
			select {
			case <-timer.C:
			default:
			}
		}
		if !wakeAt.IsZero() {
			timer.Reset(time.Until(wakeAt))
		}
		select {
		case <-ctx.Done():
			return nil
		case <-m.outboxChanged:
		case <-timer.C:
		case d := <-done:
			l := lanes[d.name]
			l.running = false
			if d.failed {
				l.failures++
				l.next = time.Now().Add(m.backoff(l.failures))
			} else {
				l.failures = 0
				l.next = time.Time{}
			}
		}
	}
}

// backoff is the delay after the nth consecutive failure: RetryMin
// doubling up to RetryMax, with ±20% jitter so that lanes do not retry in
// lockstep.
func (m *Manager) backoff(n int) time.Duration {
	d := m.opts.RetryMin
	for i := 1; i < n && d < m.opts.RetryMax; i++ {
		d *= 2
	}
	d = min(d, m.opts.RetryMax)
	jitter := 0.8 + 0.4*rand.Float64()
	return time.Duration(float64(d) * jitter)
}

// deliverLane delivers the notifier's queued items in order until the
// queue is empty or an attempt fails; it reports whether one failed.
func (m *Manager) deliverLane(ctx context.Context, name string) (failed bool) {
	var items []outboxItem
	var bad []string
	err := m.b.outbox.Scan(ctx, name+"/", func(key string, data []byte) error {
		var it outboxItem
		if err := json.Unmarshal(data, &it); err != nil {
			m.log.Error("undecodable notification in the outbox; dropping it", "key", key, "err", err)
			bad = append(bad, key)
			return nil
		}
		items = append(items, it)
		return nil
	})
	if err != nil {
		if ctx.Err() == nil {
			m.log.Error("read the notification outbox", "notifier", name, "err", err)
		}
		return true
	}
	if len(bad) > 0 {
		err := m.store.Update(func(w *storage.Writer) error {
			for _, k := range bad {
				if err := w.Delete(m.b.outbox, k); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			m.log.Error("drop undecodable notifications", "err", err)
			return true
		}
	}
	for i := range items {
		if ctx.Err() != nil {
			return false
		}
		if !m.deliverItem(ctx, &items[i]) {
			return true
		}
	}
	return false
}

// deliverItem makes one attempt at an item and records the outcome. It
// reports whether the lane may go on to the next item.
func (m *Manager) deliverItem(ctx context.Context, it *outboxItem) bool {
	m.mu.Lock()
	nf := m.notifiers[it.Notifier]
	var n Notifier
	if nf != nil {
		n = *nf
	}
	m.mu.Unlock()
	now := m.now()
	switch {
	case nf == nil:
		m.dropItem(it, "the notifier was deleted", true)
		return true
	case !it.Expires.IsZero() && now.After(it.Expires):
		m.dropItem(it, "", false) // a stale resend: a newer one follows
		return true
	case now.Sub(it.CreatedAt) > m.opts.MaxDeliveryAge:
		m.dropItem(it, fmt.Sprintf("not delivered within %s after %d attempts (last error: %s)", Duration(m.opts.MaxDeliveryAge), it.Attempts, it.LastError), true)
		return true
	}
	err := m.send(ctx, &n, it)
	if err == nil {
		m.mu.Lock()
		derr := m.store.Update(func(w *storage.Writer) error { return w.Delete(m.b.outbox, outboxKey(it.Notifier, it.ID)) })
		m.mu.Unlock()
		m.stats.delivered.Add(1)
		if derr != nil {
			// Delivered, but it will be delivered again: at least once.
			m.log.Error("remove a delivered notification from the outbox", "id", it.ID, "err", derr)
			return false
		}
		return true
	}
	if ctx.Err() != nil {
		return false // shutting down: not the receiver's fault
	}
	m.stats.failures.Add(1)
	it.Attempts++
	it.LastError = err.Error()
	var perm *permanentError
	if errors.As(err, &perm) {
		m.dropItem(it, fmt.Sprintf("the receiver refused it: %v", err), true)
		return true
	}
	m.log.Warn("notification delivery failed; will retry", "notifier", it.Notifier, "rule", it.Note.Rule.Name, "delivery", it.ID, "attempt", it.Attempts, "err", err)
	m.mu.Lock()
	b := &batch{}
	b.put(m.b.outbox, outboxKey(it.Notifier, it.ID), it)
	m.failureEventLocked(b, it, fmt.Sprintf("delivery attempt %d failed: %v", it.Attempts, err))
	if cerr := m.commitLocked(b); cerr != nil {
		m.log.Error("record a failed delivery", "err", cerr)
	}
	m.mu.Unlock()
	return false
}

// dropItem removes an item that will never be delivered; with record set
// the drop is an error in the history and the counters.
func (m *Manager) dropItem(it *outboxItem, why string, record bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	b := &batch{}
	b.del(m.b.outbox, outboxKey(it.Notifier, it.ID))
	if record {
		m.failureEventLocked(b, it, "dropped: "+why)
		m.log.Error("notification dropped", "notifier", it.Notifier, "rule", it.Note.Rule.Name, "delivery", it.ID, "why", why)
		b.after(func() { m.stats.dropped.Add(1) })
	}
	if err := m.commitLocked(b); err != nil {
		m.log.Error("drop a notification from the outbox", "err", err)
	}
}

func (m *Manager) failureEventLocked(b *batch, it *outboxItem, msg string) {
	now := m.now()
	ev := Event{
		RuleID: it.Note.Rule.ID, RuleName: it.Note.Rule.Name, From: it.Note.State, To: it.Note.State,
		Value: it.Note.Value, At: now, Notifier: it.Notifier, Error: msg,
	}
	b.put(m.b.history, m.keys.next(now), &ev)
}
