package journal_test

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/logengine/logengine/alerting"
	"github.com/logengine/logengine/internal/journal"
	"github.com/logengine/logengine/search"
	"github.com/logengine/logengine/storage"
)

// daemon is the journal's consumers as the daemon wires them: a store, the
// keyword indexer, the alert evaluator and the trimmer over both, each
// consumer started and stopped on its own.
type daemon struct {
	t       *testing.T
	dir     string
	store   *storage.Store
	index   *search.Index
	ix      *search.Indexer
	alerts  *alerting.Manager
	trimmer *journal.Trimmer
	stops   map[string]func()
}

func openDaemon(t *testing.T, dir string) *daemon {
	t.Helper()
	d := &daemon{t: t, dir: dir, stops: map[string]func(){}}
	opts := storage.DefaultOptions(filepath.Join(dir, "db"))
	opts.SyncWrites = false
	opts.BlockCacheBytes = 8 << 20
	opts.MemTableBytes = 16 << 20
	var err error
	if d.store, err = storage.Open(opts); err != nil {
		t.Fatal(err)
	}
	if d.index, err = search.OpenIndex(filepath.Join(dir, "index"), nil); err != nil {
		t.Fatal(err)
	}
	iopts := search.DefaultIndexerOptions()
	iopts.BatchSize = 25 // several steps per batch of the test
	d.ix = search.NewIndexer(d.store, d.index, iopts)
	engine := search.NewEngine(d.store, d.index, d.ix, search.EngineOptions{})
	aopts := alerting.DefaultOptions()
	aopts.BatchSize = 25
	if d.alerts, err = alerting.Open(context.Background(), d.store, engine, aopts); err != nil {
		t.Fatal(err)
	}
	d.trimmer = journal.NewTrimmer(d.store, []journal.Checkpointer{d.ix, d.alerts}, journal.DefaultTrimmerOptions())
	return d
}

// start runs a consumer ("indexer" or "alerting") in a goroutine the
// daemon owns.
func (d *daemon) start(name string) {
	run := map[string]func(context.Context) error{"indexer": d.ix.Run, "alerting": d.alerts.Run}[name]
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- run(ctx) }()
	d.stops[name] = func() {
		cancel()
		if err := <-done; err != nil {
			d.t.Errorf("%s: Run: %v", name, err)
		}
	}
}

// stop stops a consumer as the daemon does: it saves its checkpoint.
func (d *daemon) stop(name string) {
	if stop := d.stops[name]; stop != nil {
		stop()
		delete(d.stops, name)
	}
}

func (d *daemon) close() {
	d.stop("alerting")
	d.stop("indexer")
	for _, err := range []error{d.alerts.Close(), d.index.Close(), d.store.Close()} {
		if err != nil {
			d.t.Error(err)
		}
	}
}

// appendLogs commits n commits of size entries, as the ingest path does:
// committed, then handed over to the consumers in memory. It returns their
// ids.
func (d *daemon) appendLogs(commits, size int, level storage.Level, source, word string) []storage.ID {
	d.t.Helper()
	var all []storage.ID
	for c := range commits {
		entries := make([]storage.Entry, size)
		for i := range entries {
			entries[i] = storage.Entry{
				Time: time.Now(), Level: level, Source: source,
				Message: fmt.Sprintf("%s entry %d of commit %d", word, i, c),
			}
		}
		ids, err := d.store.Append(context.Background(), entries)
		if err != nil {
			d.t.Fatal(err)
		}
		all = append(all, ids...)
		d.alerts.Committed(entries)
		d.ix.Committed(entries)
	}
	return all
}

// waitDurable waits until the running consumers' durable checkpoints are
// at the newest commit.
func (d *daemon) waitDurable(names ...string) {
	d.t.Helper()
	high := d.store.HighSeq()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for _, name := range names {
		c := map[string]journal.Checkpointer{"indexer": d.ix, "alerting": d.alerts}[name]
		for {
			cp, err := c.Checkpoint()
			if err != nil {
				d.t.Fatal(err)
			}
			if cp >= high {
				break
			}
			select {
			case <-ctx.Done():
				d.t.Fatalf("%s: checkpoint %d, want %d", name, cp, high)
			case <-time.After(10 * time.Millisecond):
			}
		}
	}
}

// trim trims the journal and checks that it then lists exactly the
// sequences above want.
func (d *daemon) trim(want uint64) {
	d.t.Helper()
	if _, err := d.trimmer.Trim(context.Background()); err != nil {
		d.t.Fatal(err)
	}
	ids, err := d.store.ReadJournal(context.Background(), 0, 1<<30)
	if err != nil {
		d.t.Fatal(err)
	}
	high := d.store.HighSeq()
	var got []uint64
	for _, id := range ids {
		got = append(got, id.Seq)
	}
	var wantSeqs []uint64
	for s := want + 1; s <= high; s++ {
		wantSeqs = append(wantSeqs, s)
	}
	if !slices.Equal(got, wantSeqs) {
		d.t.Fatalf("after the trim the journal lists %d entries (%v...), want %d from %d", len(got), got[:min(len(got), 3)], len(wantSeqs), want+1)
	}
	if n := d.trimmer.Entries(); n != uint64(len(wantSeqs)) {
		d.t.Errorf("Entries = %d, want %d", n, len(wantSeqs))
	}
}

// indexed returns how many of ids, entries with word, the keyword index
// holds: finds among the candidates for word.
func (d *daemon) indexed(word string, ids []storage.ID) int {
	d.t.Helper()
	c, err := d.index.Search(context.Background(), search.Keywords{Terms: []string{word}}, storage.MinID, storage.MaxID)
	if err != nil {
		d.t.Fatal(err)
	}
	n := 0
	for _, id := range ids {
		if slices.Contains(c.Sure, id) || slices.Contains(c.Maybe, id) {
			n++
		}
	}
	return n
}

func (d *daemon) firing(rule string) bool {
	d.t.Helper()
	alerts, err := d.alerts.Alerts(context.Background(), []alerting.StateName{alerting.StateFiring})
	if err != nil {
		d.t.Fatal(err)
	}
	return slices.ContainsFunc(alerts, func(a alerting.Alert) bool { return a.RuleName == rule })
}

// TestTrimBehindSlowestConsumer stops one durable consumer while the other
// goes on: the journal is trimmed up to the stopped one's checkpoint and no
// further, and after a restart both resume from their checkpoints and see
// every entry, the stopped one those it missed included; once both have
// passed them, the journal is gone below.
func TestTrimBehindSlowestConsumer(t *testing.T) {
	opts := []goleak.Option{
		goleak.IgnoreCurrent(),
		// Bleve's analysis queue is process-wide and outlives every index.
		goleak.IgnoreAnyFunction("github.com/blevesearch/bleve_index_api.AnalysisWorker"),
	}
	t.Cleanup(func() { goleak.VerifyNone(t, opts...) })
	for _, behind := range []string{"indexer", "alerting"} {
		t.Run(behind+" behind", func(t *testing.T) {
			ahead := map[string]string{"indexer": "alerting", "alerting": "indexer"}[behind]
			dir := t.TempDir()
			d := openDaemon(t, dir)
			defer func() { d.close() }()
			d.start("indexer")
			d.start("alerting")
			if _, err := d.alerts.CreateRule(context.Background(), alerting.Rule{
				Name: "late errors", Query: "level:error source:late", Enabled: true,
			}); err != nil {
				t.Fatal(err)
			}

			early := d.appendLogs(6, 20, storage.LevelInfo, "app", "early")
			d.waitDurable("indexer", "alerting")
			d.trim(d.store.HighSeq()) // both passed everything

			// One consumer stops; logs go on arriving and the other one
			// consumes them.
			d.stop(behind)
			mark := d.store.HighSeq()
			late := d.appendLogs(4, 15, storage.LevelError, "late", "late")
			d.waitDurable(ahead)
			d.trim(mark) // not past the stopped one
			if behind == "indexer" && d.indexed("late", late) != 0 {
				t.Fatal("the stopped indexer indexed entries")
			}
			if behind == "alerting" && d.firing("late errors") {
				t.Fatal("the stopped evaluator evaluated entries")
			}

			// A restart resumes both from their checkpoints.
			d.close()
			d = openDaemon(t, dir)
			d.start("indexer")
			d.start("alerting")
			d.waitDurable("indexer", "alerting")
			if got := d.indexed("late", late); got != len(late) {
				t.Errorf("the keyword index holds %d late entries, want %d", got, len(late))
			}
			if got := d.indexed("early", early); got != len(early) {
				t.Errorf("the keyword index holds %d early entries, want %d", got, len(early))
			}
			if !d.firing("late errors") {
				t.Error("the rule matching the late entries is not firing")
			}
			d.trim(d.store.HighSeq())

			// And both go on from there.
			after := d.appendLogs(3, 10, storage.LevelInfo, "app", "after")
			d.waitDurable("indexer", "alerting")
			if got := d.indexed("after", after); got != len(after) {
				t.Errorf("the keyword index holds %d of %d entries committed after the restart", got, len(after))
			}
			d.trim(d.store.HighSeq())
		})
	}
}
