package search

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/blevesearch/bleve/v2"

	"github.com/logengine/logengine/storage"
)

// kwLeaks checks, at the end of a test, that everything the test started
// has stopped. Bleve's analysis workers are process-wide and stay.
func kwLeaks(t *testing.T) {
	t.Helper()
	opts := []goleak.Option{
		goleak.IgnoreCurrent(),
		goleak.IgnoreAnyFunction("github.com/blevesearch/bleve_index_api.AnalysisWorker"),
	}
	t.Cleanup(func() { goleak.VerifyNone(t, opts...) })
}

// kwEnv is a data directory with a store, an index and an indexer that
// can be stopped and started again like the daemon.
type kwEnv struct {
	t     *testing.T
	dir   string
	store *storage.Store
	index *Index
	ix    *Indexer
	logs  *kwLogBuffer

	cancel context.CancelFunc
	done   chan error
	// hook is installed as the next indexer's beforeCheckpoint.
	hook func(last uint64) error
	// commits counts appends: every other one is handed to the indexer,
	// as the daemon's ingest path does, so that both the handed-over and
	// the read-back paths are exercised.
	commits int
}

// kwLogBuffer collects log output; the indexer logs from Run's goroutine.
type kwLogBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *kwLogBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *kwLogBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func kwNewEnv(t *testing.T) *kwEnv {
	env := &kwEnv{t: t, dir: t.TempDir(), logs: &kwLogBuffer{}}
	env.open()
	t.Cleanup(env.close)
	return env
}

func (env *kwEnv) open() {
	t := env.t
	t.Helper()
	opts := storage.DefaultOptions(filepath.Join(env.dir, "db"))
	opts.SyncWrites = false
	s, err := storage.Open(opts)
	if err != nil {
		t.Fatal(err)
	}
	env.store = s
	logger := slog.New(slog.NewTextHandler(env.logs, nil))
	x, err := OpenIndex(filepath.Join(env.dir, "index"), logger)
	if err != nil {
		t.Fatal(err)
	}
	env.index = x
	env.ix = NewIndexer(s, x, IndexerOptions{BatchSize: 400, Logger: logger})
}

// start runs the indexer in a goroutine the env owns.
func (env *kwEnv) start() {
	ctx, cancel := context.WithCancel(context.Background())
	env.cancel, env.done = cancel, make(chan error, 1)
	env.ix.beforeCheckpoint = env.hook
	go func() { env.done <- env.ix.Run(ctx) }()
}

// stop cancels Run and returns what it returned.
func (env *kwEnv) stop() error {
	if env.cancel == nil {
		return nil
	}
	env.cancel()
	err := <-env.done
	env.cancel = nil
	return err
}

func (env *kwEnv) close() {
	if err := env.stop(); err != nil {
		env.t.Errorf("Run: %v", err)
	}
	if env.index != nil {
		if err := env.index.Close(); err != nil {
			env.t.Error(err)
		}
		env.index = nil
	}
	if env.store != nil {
		if err := env.store.Close(); err != nil {
			env.t.Error(err)
		}
		env.store = nil
	}
}

// restart stops and closes everything and opens the data directory again.
func (env *kwEnv) restart() {
	env.close()
	env.open()
	env.start()
}

// append stores entries at the given times and returns them as the brute
// force sees them.
func (env *kwEnv) append(rng *rand.Rand, times []time.Time) []kwEntry {
	env.t.Helper()
	entries := make([]storage.Entry, len(times))
	for i, at := range times {
		entries[i] = storage.Entry{Time: at, Level: storage.LevelInfo, Source: "api", Message: kwMessage(rng, kwPick(rng))}
	}
	ids, err := env.store.Append(context.Background(), entries)
	if err != nil {
		env.t.Fatal(err)
	}
	if env.commits++; env.commits%2 == 0 {
		env.ix.Committed(entries)
	}
	out := make([]kwEntry, len(ids))
	for i, id := range ids {
		out[i] = kwNewEntry(id, entries[i].Message)
	}
	return out
}

// appendDays appends n entries spread over days [from, to) of kwDay0, in
// commits of up to 250.
func (env *kwEnv) appendDays(rng *rand.Rand, n, from, to int) []kwEntry {
	var out []kwEntry
	for n > 0 {
		k := min(n, 1+rng.IntN(250))
		times := make([]time.Time, k)
		for i := range times {
			span := int64(time.Duration(to-from) * 24 * time.Hour)
			times[i] = kwDay0.Add(time.Duration(from)*24*time.Hour + time.Duration(rng.Int64N(span)))
		}
		out = append(out, env.append(rng, times)...)
		n -= k
	}
	return out
}

func (env *kwEnv) waitIndexed() {
	env.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := env.ix.WaitIndexed(ctx, env.store.HighSeq()); err != nil {
		env.t.Fatalf("WaitIndexed(%d): %v (indexed %d)", env.store.HighSeq(), err, env.ix.IndexedSeq())
	}
}

// checkAll checks the index against the brute force, and that every entry
// is there exactly once.
func (env *kwEnv) checkAll(all []kwEntry, rng *rand.Rand) {
	t := env.t
	t.Helper()
	kwCheck(t, env.index, all, rng)
	c, err := env.index.Search(context.Background(), Keywords{}, storage.MinID, storage.MaxID)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(c.Sure) + len(c.Maybe); n != len(all) {
		t.Fatalf("index holds %d entries, want %d", n, len(all))
	}
	if n, want := kwBlockEntries(t, env.index), len(all); n != want {
		t.Fatalf("the index's blocks hold %d entries besides deleted ones, want %d: some are indexed twice", n, want)
	}
}

func TestIndexerTailsJournal(t *testing.T) {
	kwLeaks(t)
	env := kwNewEnv(t)
	rng := rand.New(rand.NewPCG(7, 8))
	all := env.appendDays(rng, 1500, 1, 3) // before the indexer starts
	env.start()
	all = append(all, env.appendDays(rng, 1500, 0, 4)...)
	// Late arrivals for the oldest day, one entry at a time.
	for i := 0; i < 20; i++ {
		all = append(all, env.append(rng, []time.Time{kwDay0.Add(time.Duration(i) * time.Minute)})...)
	}
	env.waitIndexed()
	env.checkAll(all, rng)
	if n, age := env.ix.Lag(); n != 0 || age != 0 {
		t.Fatalf("Lag() = %d, %v after catching up", n, age)
	}
	cp, err := env.store.Checkpoint(checkpointName)
	if err != nil || cp != env.store.HighSeq() {
		t.Fatalf("checkpoint = %d, %v; want %d", cp, err, env.store.HighSeq())
	}
	if err := env.stop(); err != nil {
		t.Fatalf("Run returned %v after cancel", err)
	}
}

// A kill between writing the shards and storing the checkpoint leaves
// documents in Bleve beyond the checkpoint: after a restart they are indexed
// again, and nothing is missing or doubled.
func TestIndexerResumesAfterKill(t *testing.T) {
	kwLeaks(t)
	env := kwNewEnv(t)
	rng := rand.New(rand.NewPCG(9, 10))
	steps := 0
	var killedAt uint64
	env.hook = func(last uint64) error {
		if steps++; steps == 3 {
			killedAt = last
			return errKilled
		}
		return nil
	}
	// Started on an empty store, the indexer tails everything (on a full
	// store with an empty index it would rebuild from a scan instead).
	env.start()
	all := env.appendDays(rng, 3000, 0, 4)
	if err := <-env.done; !errors.Is(err, errKilled) {
		t.Fatalf("Run = %v, want the kill", err)
	}
	env.cancel()
	env.cancel = nil
	cp, _ := env.store.Checkpoint(checkpointName)
	if cp == 0 || cp >= killedAt {
		t.Fatalf("checkpoint %d, killed at %d: want the kill between them", cp, killedAt)
	}
	env.hook = nil
	env.close()
	env.open()
	all = append(all, env.appendDays(rng, 500, 2, 5)...) // while stopped
	env.start()
	env.waitIndexed()
	env.checkAll(all, rng)
}

func TestIndexerRebuildsMissingAndDamagedShards(t *testing.T) {
	kwLeaks(t)
	env := kwNewEnv(t)
	rng := rand.New(rand.NewPCG(11, 12))
	all := env.appendDays(rng, 2000, 0, 4)
	env.start()
	env.waitIndexed()
	env.checkAll(all, rng)
	days := env.index.Days()
	if len(days) != 4 {
		t.Fatalf("Days() = %v", days)
	}

	cases := []struct {
		name   string
		damage func(indexDir string)
		log    string
	}{
		{"one day deleted", func(dir string) {
			kwMust(t, os.RemoveAll(filepath.Join(dir, days[1].String())))
		}, "shard missing"},
		{"whole index deleted", func(dir string) {
			kwMust(t, os.RemoveAll(dir))
		}, "shard missing"},
		{"metadata lost", func(dir string) {
			kwMust(t, os.Remove(filepath.Join(dir, days[2].String(), "index_meta.json")))
		}, "does not open"},
		{"store garbage", func(dir string) {
			store := filepath.Join(dir, days[3].String(), "store")
			kwMust(t, os.RemoveAll(store))
			kwMust(t, os.WriteFile(store, []byte("garbage"), 0o600))
		}, "does not open"},
		{"written by the previous release", func(dir string) {
			// A shard with a document per entry and no format record.
			shard := filepath.Join(dir, days[1].String())
			kwMust(t, os.RemoveAll(shard))
			old, err := bleve.New(shard, newIndexMapping())
			kwMust(t, err)
			kwMust(t, old.Index(all[0].id.String(), map[string]any{messageFieldName: all[0].msg}))
			kwMust(t, old.Close())
		}, "older release"},
		{"block list lost", func(dir string) {
			kwMust(t, os.Truncate(filepath.Join(dir, days[2].String(), blockFileName), 0))
		}, "does not open"},
		{"interrupted rebuild", func(dir string) {
			kwMust(t, os.Rename(filepath.Join(dir, days[0].String()), filepath.Join(dir, days[0].String()+rebuildSuffix)))
		}, "interrupted keyword index rebuild"},
	}
	for _, c := range cases {
		t.Log(c.name)
		env.close()
		c.damage(filepath.Join(env.dir, "index"))
		before := len(env.logs.String())
		env.open()
		all = append(all, env.appendDays(rng, 100, 0, 4)...)
		env.start()
		env.waitIndexed()
		env.checkAll(all, rng)
		if logs := env.logs.String()[before:]; !strings.Contains(logs, c.log) || !strings.Contains(logs, "rebuilt keyword index shard") {
			t.Errorf("%s: logs do not tell %q and the rebuild:\n%s", c.name, c.log, logs)
		}
	}
}

func TestIndexerReindex(t *testing.T) {
	kwLeaks(t)
	env := kwNewEnv(t)
	rng := rand.New(rand.NewPCG(13, 14))
	ctx := context.Background()
	if err := env.ix.Reindex(ctx); err == nil {
		t.Fatal("Reindex without Run: want an error")
	}
	all := env.appendDays(rng, 2000, 0, 3)
	env.start()
	env.waitIndexed()
	// Appends go on during the rebuild.
	var wg sync.WaitGroup
	var more []kwEntry
	wg.Go(func() {
		arng := rand.New(rand.NewPCG(15, 16))
		for i := 0; i < 10; i++ {
			more = append(more, env.appendDays(arng, 100, 0, 4)...)
		}
	})
	if err := env.ix.Reindex(ctx); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	all = append(all, more...)
	env.waitIndexed()
	env.checkAll(all, rng)
	if !strings.Contains(env.logs.String(), "rebuilding the keyword index") {
		t.Error("the rebuild is not logged")
	}
}

// Per-source retention deletes entries inside days: the index follows,
// with the indexer running or not, across a restart, and when an entry
// deleted before the indexer reached it is handed over after the deletion.
func TestIndexerDeleteSource(t *testing.T) {
	kwLeaks(t)
	env := kwNewEnv(t)
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(19, 20))
	var all []kwEntry
	// appendBatch stores n entries of source "batch" over days 0-2 and
	// returns them; they are not handed to the indexer.
	appendBatch := func(n int) []storage.Entry {
		entries := make([]storage.Entry, n)
		for i := range entries {
			at := kwDay0.Add(time.Duration(rng.Int64N(int64(72 * time.Hour))))
			entries[i] = storage.Entry{Time: at, Level: storage.LevelWarn, Source: "batch", Message: kwMessage(rng, kwPick(rng))}
		}
		ids, err := env.store.Append(ctx, entries)
		kwMust(t, err)
		for i, id := range ids {
			all = append(all, kwNewEntry(id, entries[i].Message))
		}
		return entries
	}
	// deleteBatch deletes the "batch" entries below cut from storage and
	// from the brute force.
	deleteBatch := func(cut time.Time) []storage.ID {
		t.Helper()
		hi := storage.ID{Nanos: cut.UnixNano()}
		ids, err := env.store.Postings(ctx, storage.IndexValue{Kind: storage.IndexSource, Value: "batch"}, storage.MinID, hi)
		kwMust(t, err)
		n, err := env.store.DeleteSource(ctx, "batch", storage.MinID, hi)
		kwMust(t, err)
		if n == 0 || n != len(ids) {
			t.Fatalf("DeleteSource deleted %d entries, want %d", n, len(ids))
		}
		gone := map[storage.ID]bool{}
		for _, id := range ids {
			gone[id] = true
		}
		all = slices.DeleteFunc(all, func(e kwEntry) bool { return gone[e.id] })
		return ids
	}

	// With the indexer running, while other entries keep arriving.
	env.start()
	all = append(all, env.appendDays(rng, 600, 0, 3)...)
	appendBatch(600)
	env.waitIndexed()
	var more []kwEntry
	var wg sync.WaitGroup
	arng := rand.New(rand.NewPCG(21, 22))
	wg.Go(func() {
		for range 5 {
			more = append(more, env.appendDays(arng, 100, 0, 3)...)
		}
	})
	deleted := deleteBatch(kwDay0.Add(30 * time.Hour))
	kwMust(t, env.ix.ApplyDeletes(ctx))
	// Gone from the index's answers when ApplyDeletes returns.
	c, err := env.index.Search(ctx, Keywords{}, storage.MinID, storage.MaxID)
	kwMust(t, err)
	indexed := union(c.Sure, c.Maybe)
	for _, id := range deleted {
		if _, found := slices.BinarySearchFunc(indexed, id, storage.ID.Compare); found {
			t.Fatalf("deleted entry %s still indexed when ApplyDeletes returned", id)
		}
	}
	wg.Wait()
	all = append(all, more...)
	env.waitIndexed()
	env.checkAll(all, rng)

	// Deleted while the indexer is stopped, before it indexed them, and
	// handed over after the deletion was applied: not indexed.
	// In several commits, so that the indexer takes several steps to pass
	// them: it must remember them until it has passed the last.
	kwMust(t, env.stop())
	var late [][]storage.Entry
	for range 4 {
		late = append(late, appendBatch(250))
	}
	deleteBatch(kwDay0.Add(72 * time.Hour))
	cp, err := env.store.Checkpoint(checkpointName)
	kwMust(t, err)
	kwMust(t, env.ix.applyDeletes(ctx, cp)) // what Run does; Run is stopped
	for _, entries := range late {
		env.ix.Committed(entries)
	}
	env.start()
	env.waitIndexed()
	env.checkAll(all, rng)

	// Deleted from storage, then a crash before the index followed: the
	// next start removes them from the index and releases the tombstones.
	appendBatch(300)
	env.waitIndexed()
	kwMust(t, env.stop())
	deleteBatch(kwDay0.Add(72 * time.Hour))
	kwMust(t, env.ix.ApplyDeletes(ctx)) // not running: left for the start
	env.restart()
	env.waitIndexed()
	env.checkAll(all, rng)
	left := 0
	kwMust(t, env.store.Tombstones(ctx, func(ids []storage.ID) error { left += len(ids); return nil }))
	if left != 0 {
		t.Fatalf("%d tombstones left after the index removed them", left)
	}
}

// Retention drops a day from storage and from the index; journal entries
// of the dropped day are skipped, and a shard left behind is dropped at the
// next start.
func TestIndexerRetention(t *testing.T) {
	kwLeaks(t)
	env := kwNewEnv(t)
	rng := rand.New(rand.NewPCG(17, 18))
	all := env.appendDays(rng, 1200, 0, 3)
	env.start()
	env.waitIndexed()
	day0 := storage.DayOf(kwDay0.UnixNano())
	kwMust(t, env.store.DropDay(day0))
	kwMust(t, env.index.DropDay(day0))
	all = slices.DeleteFunc(all, func(e kwEntry) bool { return storage.DayOf(e.id.Nanos) == day0 })
	env.checkAll(all, rng)

	// Journalled, then dropped before the indexer saw them: skipped, and
	// no shard is made for them.
	kwMust(t, env.stop())
	day3 := day0 + 3
	env.appendDays(rng, 50, 3, 4)
	kwMust(t, env.store.DropDay(day3))
	env.ix.ForgetRecent() // as the daemon's retention does
	env.start()
	env.waitIndexed()
	if slices.Contains(env.index.Days(), day3) {
		t.Fatalf("Days() = %v: a shard for a dropped day", env.index.Days())
	}

	// Dropped from storage, then a crash before the index followed: the
	// shard left behind is dropped at the next start.
	day4 := day0 + 4
	env.appendDays(rng, 50, 4, 5)
	env.waitIndexed()
	if !slices.Contains(env.index.Days(), day4) {
		t.Fatalf("Days() = %v: no shard for %s", env.index.Days(), day4)
	}
	kwMust(t, env.stop())
	kwMust(t, env.store.DropDay(day4))
	env.restart()
	env.waitIndexed()
	if got := env.index.Days(); slices.Contains(got, day4) || slices.Contains(got, day0) {
		t.Fatalf("Days() = %v: dropped days still have shards", got)
	}
	if !strings.Contains(env.logs.String(), "day storage no longer has") {
		t.Error("dropping the orphan shard is not logged")
	}
	env.checkAll(all, rng)
}

func TestIndexerLagAndWait(t *testing.T) {
	kwLeaks(t)
	env := kwNewEnv(t)
	now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	var clockMu sync.Mutex
	env.ix.opts.Now = func() time.Time { clockMu.Lock(); defer clockMu.Unlock(); return now }
	tick := func(d time.Duration) { clockMu.Lock(); now = now.Add(d); clockMu.Unlock() }
	rng := rand.New(rand.NewPCG(19, 20))

	if n, age := env.ix.Lag(); n != 0 || age != 0 {
		t.Fatalf("Lag() of an empty store = %d, %v", n, age)
	}
	env.appendDays(rng, 30, 0, 1)
	if n, _ := env.ix.Lag(); n != 30 {
		t.Fatalf("Lag() = %d, want 30", n)
	}
	tick(5 * time.Second)
	env.appendDays(rng, 10, 0, 1)
	tick(2 * time.Second)
	if n, age := env.ix.Lag(); n != 40 || age != 7*time.Second {
		t.Fatalf("Lag() = %d, %v; want 40, 7s", n, age)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := env.ix.WaitIndexed(ctx, 40); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("WaitIndexed without Run = %v", err)
	}
	env.start()
	env.waitIndexed()
	if n, age := env.ix.Lag(); n != 0 || age != 0 {
		t.Fatalf("Lag() = %d, %v after catching up", n, age)
	}
}

func kwMust(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// kwBlockEntries counts the entries of the blocks the index's documents
// refer to, duplicates included, deleted ones not.
func kwBlockEntries(t testing.TB, x *Index) int {
	t.Helper()
	total := 0
	for _, day := range x.Days() {
		_, err := x.use(day, false, func(sh *shard) error {
			ai, err := sh.idx.Advanced()
			if err != nil {
				return err
			}
			r, err := ai.Reader()
			if err != nil {
				return err
			}
			defer r.Close()
			metas := sh.blocks.snapshot()
			s := &blockSearch{ctx: context.Background(), r: r, metas: metas, inRange: func(int) bool { return true }}
			set, err := s.all()
			if err != nil {
				return err
			}
			deleted := sh.deletedIDs()
			for n := range set {
				ids, err := sh.blocks.readIDs(&metas[n], blockSize, nil)
				if err != nil {
					return err
				}
				for _, id := range ids {
					if _, gone := slices.BinarySearchFunc(deleted, id, storage.ID.Compare); !gone {
						total++
					}
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	return total
}

// A few entries wait for more before they are indexed, unless someone
// waits for them or they fill a block.
func TestIndexerGathersSmallCommits(t *testing.T) {
	kwLeaks(t)
	env := kwNewEnv(t)
	rng := rand.New(rand.NewPCG(23, 24))
	ix := env.ix
	if d := ix.gatherFor(env.store.HighSeq()); d != 0 {
		t.Fatalf("nothing pending: gather for %v, want 0", d)
	}
	env.appendDays(rng, 3, 0, 1)
	if d := ix.gatherFor(0); d <= 0 || d > gatherDelay {
		t.Fatalf("3 entries pending: gather for %v, want (0, %v]", d, gatherDelay)
	}
	ix.waiters.Add(1)
	if d := ix.gatherFor(0); d != 0 {
		t.Fatalf("3 entries pending and a waiter: gather for %v, want 0", d)
	}
	ix.waiters.Add(-1)
	env.appendDays(rng, blockSize, 0, 1)
	if d := ix.gatherFor(0); d != 0 {
		t.Fatalf("a block's worth pending: gather for %v, want 0", d)
	}
}
