package alerting

import (
	"context"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/logengine/logengine/storage"
)

// The alerting keyspace: one storage bucket per kind of record. What one
// decision writes is staged in a batch (below) and committed in one
// storage.Update, so that a state change, its history event and its outbox
// items commit together or not at all.
//
//	alerting.rules      <rule id>              → Rule (JSON)
//	alerting.notifiers  <name>                 → Notifier (JSON, with secret)
//	alerting.state      <rule id>              → State (JSON)
//	alerting.history    <16 hex nanos>             → Event (JSON), in time order
//	alerting.outbox     <notifier>/<16 hex nanos>  → outboxItem (JSON), per notifier in queue order
//	alerting.seen       <rule id>              → seenRecord (JSON): a new_pattern rule's known patterns
//	alerting.meta       checkpoint                 → journal sequence evaluated (uvarint)
//
// The hex nanoseconds come from keyGen: unique, and in creation order. An
// outbox item's key after the notifier is its delivery id.
//
// JSON because the records are few and small, and readable in a backup.
type buckets struct {
	rules, notifiers, state, history, outbox, meta, seen *storage.Bucket
}

func openBuckets(s *storage.Store) buckets {
	return buckets{
		rules:     s.Bucket("alerting.rules"),
		notifiers: s.Bucket("alerting.notifiers"),
		state:     s.Bucket("alerting.state"),
		history:   s.Bucket("alerting.history"),
		outbox:    s.Bucket("alerting.outbox"),
		meta:      s.Bucket("alerting.meta"),
		seen:      s.Bucket("alerting.seen"),
	}
}

// checkpointKey holds the evaluator's checkpoint in the meta bucket, where
// it commits with the states it decided (Manager.Checkpoint reads it for
// the journal's trimmer).
const checkpointKey = "checkpoint"

// batch collects the writes of one decision (an evaluation round, an API
// call) so that they commit in one transaction, and the in-memory changes
// that may happen only once they have.
type batch struct {
	writes []func(w *storage.Writer) error
	afters []func()
}

// put stages v, encoded now: later changes to v are not written.
func (b *batch) put(bk *storage.Bucket, key string, v any) {
	data, err := json.Marshal(v)
	b.writes = append(b.writes, func(w *storage.Writer) error {
		if err != nil {
			return fmt.Errorf("encode %s: %w", key, err)
		}
		return w.Put(bk, key, data)
	})
}

func (b *batch) del(bk *storage.Bucket, key string) {
	b.writes = append(b.writes, func(w *storage.Writer) error { return w.Delete(bk, key) })
}

func (b *batch) after(f func()) { b.afters = append(b.afters, f) }

// commitLocked writes b atomically, then applies its in-memory changes.
func (m *Manager) commitLocked(b *batch) error {
	if len(b.writes) > 0 {
		err := m.store.Update(func(w *storage.Writer) error {
			for _, f := range b.writes {
				if err := f(w); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("alerting: commit: %w", err)
		}
	}
	for _, f := range b.afters {
		f()
	}
	return nil
}

func scanJSON[T any](ctx context.Context, b *storage.Bucket, fn func(key string, v *T) error) error {
	return b.Scan(ctx, "", func(key string, data []byte) error {
		var v T
		if err := json.Unmarshal(data, &v); err != nil {
			return fmt.Errorf("decode %s: %w", key, err)
		}
		return fn(key, &v)
	})
}

func (b buckets) loadCheckpoint() (uint64, bool, error) {
	v, err := b.meta.Get(checkpointKey)
	if errors.Is(err, storage.ErrNotFound) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, fmt.Errorf("load alerting checkpoint: %w", err)
	}
	seq, n := binary.Uvarint(v)
	if n <= 0 {
		return 0, false, errors.New("load alerting checkpoint: corrupt record")
	}
	return seq, true, nil
}

func putCheckpoint(w *storage.Writer, b buckets, seq uint64) error {
	return w.Put(b.meta, checkpointKey, binary.AppendUvarint(nil, seq))
}

// keyGen gives history and outbox keys that sort in creation order and
// never repeat, also across restarts and with a clock that stands still
// (tests) or steps back.
type keyGen struct{ last int64 }

func (g *keyGen) next(now time.Time) string {
	n := max(now.UnixNano(), g.last+1)
	g.last = n
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], uint64(n))
	return hex.EncodeToString(b[:])
}

// observe makes the generator continue after an existing key.
func (g *keyGen) observe(key string) {
	if len(key) < 16 {
		return
	}
	b, err := hex.DecodeString(key[:16])
	if err != nil {
		return
	}
	g.last = max(g.last, int64(binary.BigEndian.Uint64(b)))
}

func keyTime(key string) time.Time {
	if len(key) < 16 {
		return time.Time{}
	}
	b, err := hex.DecodeString(key[:16])
	if err != nil {
		return time.Time{}
	}
	return time.Unix(0, int64(binary.BigEndian.Uint64(b))).UTC()
}

func timeKey(t time.Time) string {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], uint64(max(t.UnixNano(), 0)))
	return hex.EncodeToString(b[:])
}
