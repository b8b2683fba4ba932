package retention

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/logengine/logengine/search"
	"github.com/logengine/logengine/storage"
)

// now is the clock of every test: noon of the sixth day after day0.
var (
	day0 = storage.DayOf(time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC).UnixNano())
	now  = time.Unix(0, (day0 + 5).Start()).UTC().Add(12 * time.Hour)
)

func leaks(t *testing.T) {
	t.Helper()
	opts := []goleak.Option{
		goleak.IgnoreCurrent(),
		goleak.IgnoreAnyFunction("github.com/blevesearch/bleve_index_api.AnalysisWorker"),
	}
	t.Cleanup(func() { goleak.VerifyNone(t, opts...) })
}

// env is a store, a keyword index and its indexer in a temporary data
// directory, as the daemon wires them.
type env struct {
	t       testing.TB
	store   *storage.Store
	index   *search.Index
	indexer *search.Indexer
	stop    func()
}

func newEnv(t testing.TB) *env {
	t.Helper()
	dir := t.TempDir()
	opts := storage.DefaultOptions(filepath.Join(dir, "db"))
	opts.SyncWrites = false
	s, err := storage.Open(opts)
	if err != nil {
		t.Fatal(err)
	}
	x, err := search.OpenIndex(filepath.Join(dir, "index"), nil)
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, store: s, index: x, indexer: search.NewIndexer(s, x, search.DefaultIndexerOptions())}
	t.Cleanup(func() {
		e.stopIndexer()
		if err := x.Close(); err != nil {
			t.Error(err)
		}
		if err := s.Close(); err != nil {
			t.Error(err)
		}
	})
	return e
}

func (e *env) deps() Deps {
	return Deps{Days: e.store, Sources: e.store, Index: e.index, Indexer: e.indexer}
}

// startIndexer runs the indexer until stopIndexer or the end of the test.
func (e *env) startIndexer() {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.indexer.Run(ctx) }()
	e.stop = func() {
		cancel()
		if err := <-done; err != nil {
			e.t.Errorf("indexer: %v", err)
		}
	}
}

func (e *env) stopIndexer() {
	if e.stop != nil {
		e.stop()
		e.stop = nil
	}
}

// waitIndexed waits until the index holds every committed entry.
func (e *env) waitIndexed() {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := e.indexer.WaitIndexed(ctx, e.store.HighSeq()); err != nil {
		e.t.Fatalf("wait for the index: %v", err)
	}
}

// appendEvery stores an entry of source every step from from to to, its
// message the source's name, and returns them.
func (e *env) appendEvery(source string, from, to time.Time, step time.Duration) []storage.Entry {
	e.t.Helper()
	var entries []storage.Entry
	for at := from; at.Before(to); at = at.Add(step) {
		entries = append(entries, storage.Entry{Time: at, Level: storage.LevelInfo, Source: source, Message: source + " said " + at.Format(time.RFC3339)})
	}
	ids, err := e.store.Append(context.Background(), entries)
	if err != nil {
		e.t.Fatal(err)
	}
	for i, id := range ids {
		entries[i].ID = id
	}
	return entries
}

// stored returns, ascending, the ids of the entries of source in storage.
func (e *env) stored(source string) []storage.ID {
	e.t.Helper()
	var ids []storage.ID
	err := e.store.Scan(context.Background(), storage.MinID, storage.MaxID, false, func(en *storage.Entry) bool {
		if en.Source == source {
			ids = append(ids, en.ID)
		}
		return true
	})
	if err != nil {
		e.t.Fatal(err)
	}
	return ids
}

// checkIndex checks the keyword index's candidates for source's name, the
// word of all its messages, against storage: every stored entry is a
// candidate, and every sure one is stored. With exact, no candidate is
// missing from storage either (no deletion inside a day).
func (e *env) checkIndex(source string, exact bool) {
	e.t.Helper()
	c, err := e.index.Search(context.Background(), search.Keywords{Terms: []string{source}}, storage.MinID, storage.MaxID)
	if err != nil {
		e.t.Fatal(err)
	}
	all := slices.SortedFunc(slices.Values(append(slices.Clone(c.Sure), c.Maybe...)), storage.ID.Compare)
	stored := e.stored(source)
	for _, id := range stored {
		if _, found := slices.BinarySearchFunc(all, id, storage.ID.Compare); !found {
			e.t.Errorf("%s: stored entry %s is no candidate of the keyword index", source, id)
			return
		}
	}
	for _, id := range c.Sure {
		if _, found := slices.BinarySearchFunc(stored, id, storage.ID.Compare); !found {
			e.t.Errorf("%s: the keyword index is sure of %s, which storage no longer has", source, id)
			return
		}
	}
	if exact && len(all) != len(stored) {
		e.t.Errorf("%s: %d candidates in the keyword index, %d entries in storage", source, len(all), len(stored))
	}
}

func dayTime(d storage.Day) time.Time { return time.Unix(0, d.Start()).UTC() }

func TestRunDropsOldDays(t *testing.T) {
	leaks(t)
	e := newEnv(t)
	e.appendEvery("api", dayTime(day0), now, time.Hour)
	e.startIndexer()
	e.waitIndexed()

	// The cutoff falls inside day0+2: that day is kept whole.
	p := New(Config{Period: 3 * 24 * time.Hour, Now: func() time.Time { return now }}, e.deps())
	res, err := p.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if want := []storage.Day{day0, day0 + 1}; !slices.Equal(res.DroppedDays, want) {
		t.Errorf("dropped %v, want %v", res.DroppedDays, want)
	}
	if res.Period != 3*24*time.Hour || len(res.DeletedBySource) != 0 || len(res.Errors) != 0 {
		t.Errorf("result %+v", res)
	}
	kept := []storage.Day{day0 + 2, day0 + 3, day0 + 4, day0 + 5}
	days, err := e.store.Days(0, storage.MaxID.Nanos)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(days, kept) {
		t.Errorf("storage holds %v, want %v", days, kept)
	}
	if got := e.index.Days(); !slices.Equal(got, kept) {
		t.Errorf("the keyword index holds %v, want %v", got, kept)
	}
	// 24 an hour on the full days kept, 12 on the last.
	if n := len(e.stored("api")); n != 3*24+12 {
		t.Errorf("%d entries in storage, want %d", n, 3*24+12)
	}
	e.checkIndex("api", true)

	// A second run finds nothing more to drop.
	res, err = p.Run(context.Background())
	if err != nil || len(res.DroppedDays) != 0 {
		t.Errorf("second run: %+v, %v", res, err)
	}
}

// Entries of a day handed to the indexer at commit and not yet indexed
// when the day is dropped must not make a new shard for it.
func TestRunDroppedDayStaysOutOfIndex(t *testing.T) {
	leaks(t)
	e := newEnv(t)
	// Indexed once, so that the indexer does not rebuild every shard when
	// it starts again and tails the journal instead.
	e.appendEvery("api", dayTime(day0+4), now, time.Hour)
	e.startIndexer()
	e.waitIndexed()
	e.stopIndexer()
	e.indexer.Committed(e.appendEvery("api", dayTime(day0), dayTime(day0+1), time.Hour))

	p := New(Config{Period: 2 * 24 * time.Hour, Now: func() time.Time { return now }}, e.deps())
	res, err := p.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if want := []storage.Day{day0}; !slices.Equal(res.DroppedDays, want) {
		t.Fatalf("dropped %v, want %v", res.DroppedDays, want)
	}
	e.startIndexer()
	e.waitIndexed()
	if got := e.index.Days(); slices.Contains(got, day0) {
		t.Fatalf("the keyword index made a shard for the dropped day: %v", got)
	}
	if n := len(e.stored("api")); n != 36 {
		t.Errorf("%d entries in storage, want 36", n)
	}
	e.checkIndex("api", true)
}

// recorder notes, in order, the calls a run makes to the parts that drop
// a day, and passes them on.
type recorder struct {
	calls *[]string
	days  DayStore
	index Index
	ix    Indexer
}

func (r recorder) Days(from, to int64) ([]storage.Day, error) { return r.days.Days(from, to) }
func (r recorder) DropDay(day storage.Day) error {
	*r.calls = append(*r.calls, "storage "+day.String())
	return r.days.DropDay(day)
}
func (r recorder) RunValueLogGC(ctx context.Context, ratio float64) error {
	*r.calls = append(*r.calls, "gc")
	return r.days.RunValueLogGC(ctx, ratio)
}

type indexRecorder recorder

func (r indexRecorder) DropDay(day storage.Day) error {
	*r.calls = append(*r.calls, "index "+day.String())
	return r.index.DropDay(day)
}
func (r indexRecorder) ForgetRecent() {
	*r.calls = append(*r.calls, "forget")
	r.ix.ForgetRecent()
}
func (r indexRecorder) ApplyDeletes(ctx context.Context) error { return r.ix.ApplyDeletes(ctx) }

// The order of a day's drop is what keeps it out of the index (see
// dropDays): storage, then the indexer's hand-over, then the shard.
func TestRunDropOrder(t *testing.T) {
	leaks(t)
	e := newEnv(t)
	e.appendEvery("api", dayTime(day0), now, 6*time.Hour)
	var calls []string
	rec := recorder{calls: &calls, days: e.store, index: e.index, ix: e.indexer}
	deps := Deps{Days: rec, Sources: e.store, Index: indexRecorder(rec), Indexer: indexRecorder(rec)}
	if _, err := New(Config{Period: 3 * 24 * time.Hour, Now: func() time.Time { return now }}, deps).Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	want := []string{
		"storage " + day0.String(), "forget", "index " + day0.String(),
		"storage " + (day0 + 1).String(), "forget", "index " + (day0 + 1).String(),
		"gc",
	}
	if !slices.Equal(calls, want) {
		t.Fatalf("calls\n%v\nwant\n%v", calls, want)
	}
}

func TestRunDeletesBySource(t *testing.T) {
	leaks(t)
	e := newEnv(t)
	from := now.Add(-48 * time.Hour)
	e.appendEvery("api", from, now, 10*time.Minute)
	e.appendEvery("noisy", from, now, 10*time.Minute)
	e.appendEvery("chatty", from, now, 10*time.Minute)
	e.startIndexer()
	e.waitIndexed()

	p := New(Config{
		Period:   30 * 24 * time.Hour,
		BySource: map[string]time.Duration{"noisy": 12 * time.Hour, "chatty": 24 * time.Hour, "silent": time.Hour},
		Now:      func() time.Time { return now },
	}, e.deps())
	res, err := p.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	// 6 entries an hour; the entry at the cutoff itself is kept.
	want := map[string]int{"noisy": 6 * 36, "chatty": 6 * 24, "silent": 0}
	if !maps.Equal(res.DeletedBySource, want) || len(res.DroppedDays) != 0 || len(res.Errors) != 0 {
		t.Fatalf("result %+v, want deleted %v", res, want)
	}
	// The index has taken the deletions when Run returns (their tombstones
	// are used up, below): it is sure of no deleted entry, so keyword
	// counts are exact at once.
	for src, n := range map[string]int{"api": 6 * 48, "noisy": 6 * 12, "chatty": 6 * 24} {
		if got := len(e.stored(src)); got != n {
			t.Errorf("%s: %d entries in storage, want %d", src, got, n)
		}
		e.checkIndex(src, false)
	}
	left := 0
	if err := e.store.Tombstones(context.Background(), func(ids []storage.ID) error { left += len(ids); return nil }); err != nil {
		t.Fatal(err)
	}
	if left != 0 {
		t.Errorf("%d tombstones left when Run returned", left)
	}
}

// failingSource fails the deletion of one source.
type failingSource struct {
	SourceStore
	source string
}

func (f failingSource) DeleteSource(ctx context.Context, source string, lo, hi storage.ID) (int, error) {
	if source == f.source {
		return 0, fmt.Errorf("delete source %s: disk on fire", source)
	}
	return f.SourceStore.DeleteSource(ctx, source, lo, hi)
}

func TestRunSourceFailureLetsOthersGoOn(t *testing.T) {
	leaks(t)
	e := newEnv(t)
	e.appendEvery("a", now.Add(-4*time.Hour), now, time.Hour)
	e.appendEvery("b", now.Add(-4*time.Hour), now, time.Hour)
	deps := e.deps()
	deps.Sources = failingSource{SourceStore: e.store, source: "a"}
	p := New(Config{BySource: map[string]time.Duration{"a": time.Hour, "b": time.Hour}, Now: func() time.Time { return now }}, deps)
	res, err := p.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Errors) != 1 || !strings.Contains(res.Errors[0].Error(), "disk on fire") {
		t.Errorf("errors %v, want the failure of a", res.Errors)
	}
	if res.DeletedBySource["a"] != 0 || res.DeletedBySource["b"] != 3 {
		t.Errorf("deleted %v, want a: 0, b: 3", res.DeletedBySource)
	}
	if n := len(e.stored("b")); n != 1 {
		t.Errorf("b: %d entries left, want 1", n)
	}
}

func TestRunNothingConfigured(t *testing.T) {
	leaks(t)
	e := newEnv(t)
	e.appendEvery("api", dayTime(day0), now, 12*time.Hour)
	res, err := New(Config{Now: func() time.Time { return now }}, e.deps()).Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	// Empty, not nil: the answer lists them as [] and {}.
	if res.DroppedDays == nil || len(res.DroppedDays) != 0 || res.DeletedBySource == nil || len(res.DeletedBySource) != 0 || res.Period != 0 {
		t.Errorf("result %#v", res)
	}
	if n := len(e.stored("api")); n != 11 {
		t.Errorf("%d entries left of 11", n)
	}
}

func TestRunEndsWithContext(t *testing.T) {
	leaks(t)
	e := newEnv(t)
	e.appendEvery("api", dayTime(day0), now, 12*time.Hour)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	res, err := New(Config{Period: 24 * time.Hour, Now: func() time.Time { return now }}, e.deps()).Run(ctx)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Run with an ended context: %+v, %v", res, err)
	}
	if days, _ := e.store.Days(0, storage.MaxID.Nanos); len(days) != 6 {
		t.Errorf("days left %v, want all 6", days)
	}
}

func TestConfigValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  Config
		bad  string // in the error; empty: valid
	}{
		{"zero keeps forever", Config{}, ""},
		{"period and shorter sources", Config{Period: 72 * time.Hour, BySource: map[string]time.Duration{"a": time.Hour}}, ""},
		{"sources without period", Config{BySource: map[string]time.Duration{"a": 1000 * time.Hour}}, ""},
		{"negative period", Config{Period: -time.Hour}, "period"},
		{"zero source", Config{BySource: map[string]time.Duration{"a": 0}}, "source a"},
		{"source as long as period", Config{Period: 24 * time.Hour, BySource: map[string]time.Duration{"b": 24 * time.Hour}}, "source b: 1d"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.cfg.Validate()
			switch {
			case tc.bad == "" && err != nil:
				t.Fatalf("Validate() = %v", err)
			case tc.bad != "" && (err == nil || !strings.Contains(err.Error(), tc.bad)):
				t.Fatalf("Validate() = %v, want an error about %q", err, tc.bad)
			}
		})
	}
}
