package alerting

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/logengine/logengine/search"
	"github.com/logengine/logengine/storage"
)

func TestMain(m *testing.M) {
	// Bleve's analysis queue is process-wide and outlives every index.
	goleak.VerifyTestMain(m, goleak.IgnoreTopFunction("github.com/blevesearch/bleve_index_api.AnalysisWorker"))
}

// fakeClock is a clock that moves only when told.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

var t0 = time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)

func newClock() *fakeClock { return &fakeClock{t: t0} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// env is a store, a search engine and a manager in a temporary directory,
// driven synchronously: drain runs the ingest path, EvaluateAll the
// periodic one, and nothing runs in the background unless a test calls Run.
type env struct {
	t      testing.TB
	dir    string
	clock  *fakeClock
	opts   Options
	store  *storage.Store
	index  *search.Index
	engine *search.Engine
	m      *Manager
	ev     *evaluator
}

func newEnv(t testing.TB, opts Options) *env {
	t.Helper()
	e := &env{t: t, dir: t.TempDir(), clock: newClock(), opts: opts}
	e.open()
	t.Cleanup(e.close)
	return e
}

func (e *env) open() {
	e.t.Helper()
	var err error
	sopts := storage.DefaultOptions(filepath.Join(e.dir, "db"))
	sopts.SyncWrites = false
	sopts.BlockCacheBytes = 8 << 20
	sopts.MemTableBytes = 16 << 20
	if e.store, err = storage.Open(sopts); err != nil {
		e.t.Fatal(err)
	}
	if e.index, err = search.OpenIndex(filepath.Join(e.dir, "index"), nil); err != nil {
		e.t.Fatal(err)
	}
	// The indexer never runs: the engine checks the unindexed tail by hand,
	// which is exact.
	ix := search.NewIndexer(e.store, e.index, search.DefaultIndexerOptions())
	var eopts search.EngineOptions
	if ts, ok := e.opts.Patterns.(search.Templates); ok {
		eopts.Templates = ts
	}
	e.engine = search.NewEngine(e.store, e.index, ix, eopts)
	opts := e.opts
	opts.Now = e.clock.Now
	if opts.RetryMin == 0 {
		opts.RetryMin = time.Millisecond
		opts.RetryMax = 10 * time.Millisecond
	}
	if e.m, err = Open(context.Background(), e.store, e.engine, opts); err != nil {
		e.t.Fatal(err)
	}
	if e.ev, err = e.m.newEvaluator(); err != nil {
		e.t.Fatal(err)
	}
}

func (e *env) close() {
	if e.m == nil {
		return
	}
	if err := e.m.Close(); err != nil {
		e.t.Error(err)
	}
	if err := e.index.Close(); err != nil {
		e.t.Error(err)
	}
	if err := e.store.Close(); err != nil {
		e.t.Error(err)
	}
	e.m = nil
}

// reopen closes everything, as a clean stop would (saving the checkpoint
// when save is set; a kill saves nothing), and opens it again.
func (e *env) reopen(save bool) {
	e.t.Helper()
	if save {
		if err := e.ev.save(); err != nil {
			e.t.Fatal(err)
		}
	}
	e.close()
	e.open()
}

// log stores one entry stamped at the clock plus offset.
func (e *env) log(level storage.Level, source, msg string, offset time.Duration) {
	e.t.Helper()
	ent := storage.Entry{Time: e.clock.Now().Add(offset), Level: level, Source: source, Message: msg}
	ents := []storage.Entry{ent}
	if _, err := e.store.Append(context.Background(), ents); err != nil {
		e.t.Fatal(err)
	}
	e.m.Committed(ents)
}

// logs stores n entries at the clock and hands them to the manager as
// the daemon's ingest path does (after a reopen the evaluator reads those
// stored before from storage).
func (e *env) logs(n int, level storage.Level, source, msg string) {
	e.t.Helper()
	ents := make([]storage.Entry, n)
	for i := range ents {
		ents[i] = storage.Entry{Time: e.clock.Now(), Level: level, Source: source, Message: fmt.Sprintf("%s %d", msg, i)}
	}
	if _, err := e.store.Append(context.Background(), ents); err != nil {
		e.t.Fatal(err)
	}
	e.m.Committed(ents)
}

// drain runs the ingest path over everything committed.
func (e *env) drain() {
	e.t.Helper()
	for {
		n, err := e.ev.round(context.Background())
		if err != nil {
			e.t.Fatal(err)
		}
		if n == 0 {
			return
		}
	}
}

func (e *env) evaluate() {
	e.t.Helper()
	if err := e.m.EvaluateAll(context.Background()); err != nil {
		e.t.Fatal(err)
	}
}

func (e *env) notifier(name, typ, url, secret string) {
	e.t.Helper()
	if _, err := e.m.CreateNotifier(context.Background(), Notifier{Name: name, Type: typ, URL: url, Secret: secret}); err != nil {
		e.t.Fatal(err)
	}
}

func (e *env) rule(r Rule) string {
	e.t.Helper()
	info, err := e.m.CreateRule(context.Background(), r)
	if err != nil {
		e.t.Fatal(err)
	}
	e.drain() // the evaluator picks the rule up, as Run does at once
	return info.ID
}

func (e *env) state(id string) State {
	e.t.Helper()
	e.m.mu.Lock()
	defer e.m.mu.Unlock()
	rs := e.m.states[id]
	if rs == nil {
		e.t.Fatalf("no state for rule %s", id)
	}
	return rs.State
}

// outbox returns the queued items, in queue order per notifier.
func (e *env) outbox() []outboxItem {
	e.t.Helper()
	var out []outboxItem
	err := e.m.b.outbox.Scan(context.Background(), "", func(_ string, data []byte) error {
		var it outboxItem
		if err := json.Unmarshal(data, &it); err != nil {
			return err
		}
		out = append(out, it)
		return nil
	})
	if err != nil {
		e.t.Fatal(err)
	}
	return out
}

// notes describes the queued notifications as "notifier:state:value".
func (e *env) notes() string {
	var parts []string
	for _, it := range e.outbox() {
		parts = append(parts, fmt.Sprintf("%s:%s:%s", it.Notifier, it.Note.State, formatValue(it.Note.Value)))
	}
	return strings.Join(parts, " ")
}

// clearOutbox drops every queued item, as if delivered.
func (e *env) clearOutbox() {
	e.t.Helper()
	err := e.store.Update(func(w *storage.Writer) error {
		for _, it := range e.outbox() {
			if err := w.Delete(e.m.b.outbox, outboxKey(it.Notifier, it.ID)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		e.t.Fatal(err)
	}
}

func (e *env) history(rule string) string {
	e.t.Helper()
	evs, err := e.m.History(context.Background(), HistoryQuery{Rule: rule})
	if err != nil {
		e.t.Fatal(err)
	}
	var parts []string
	for _, ev := range evs {
		if ev.Error != "" {
			parts = append(parts, "error")
			continue
		}
		parts = append(parts, fmt.Sprintf("%s>%s", ev.From, ev.To))
	}
	return strings.Join(parts, " ")
}
