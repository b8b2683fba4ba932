package search

import (
	"context"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"testing"
	"time"

	"github.com/logengine/logengine/storage"
)

// BenchmarkNewest measures searches for the newest (and oldest) matches of
// one day of 200,000 logs stored two ways: in arrival order, as one live
// stream sends them, and out of order, with timestamps spread at random
// over the day (several shippers, late logs), so that every commit's blocks
// span the whole day. Commits of 5,000 logs, as a shipper's batches:
//
//	go test ./search -run '^$' -bench Newest -benchmem
//
// Building both takes a minute or so.
func BenchmarkNewest(b *testing.B) {
	for _, layout := range []string{"in_order", "out_of_order"} {
		env := buildNewestBench(b, layout)
		for _, bq := range newestQueries {
			b.Run(layout+"/"+bq.name, func(b *testing.B) {
				b.ReportAllocs()
				ctx := context.Background()
				cpu0 := kwCPU() // the process's CPU: the figure on a shared machine
				for b.Loop() {
					res, err := env.engine.Search(ctx, bq.req)
					if err != nil {
						b.Fatal(err)
					}
					if len(res.Entries) == 0 {
						b.Fatal("empty answer")
					}
				}
				b.ReportMetric(float64((kwCPU()-cpu0).Microseconds())/1000/float64(b.N), "cpu-ms/op")
			})
		}
	}
}

const newestLogs = 200_000

var newestDay = time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC)

var newestQueries = []struct {
	name string
	req  Request
}{
	{"word_1pct_newest_100", Request{Query: "zebracorn", Limit: 100}},
	{"phrase_newest_100", Request{Query: `"connection reset by peer"`, Limit: 100}},
	{"word_10pct_newest_100", Request{Query: "database", Limit: 100}},
	{"all_newest_100", Request{Limit: 100}},
	{"status_500_newest_100", Request{Query: "status:500", Limit: 100}},
	{"word_1pct_oldest_100", Request{Query: "zebracorn", Limit: 100, Sort: SortTimeAsc}},
}

// buildNewestBench stores and indexes the day of logs in the layout, in a
// directory removed when b ends.
func buildNewestBench(b *testing.B, layout string) *bench1MEnv {
	b.Helper()
	dir := b.TempDir()
	opts := storage.DefaultOptions(filepath.Join(dir, "db"))
	opts.SyncWrites = false
	store, err := storage.Open(opts)
	if err != nil {
		b.Fatal(err)
	}
	index, err := OpenIndex(filepath.Join(dir, "index"), nil)
	if err != nil {
		b.Fatal(err)
	}
	env := &bench1MEnv{store: store, index: index, ix: NewIndexer(store, index, DefaultIndexerOptions())}
	ctx, cancel := context.WithCancel(context.Background())
	env.cancel, env.done = cancel, make(chan error, 1)
	go func() { env.done <- env.ix.Run(ctx) }()
	b.Cleanup(func() {
		cancel()
		if err := <-env.done; err != nil {
			b.Error(err)
		}
		if err := index.Close(); err != nil {
			b.Error(err)
		}
		if err := store.Close(); err != nil {
			b.Error(err)
		}
	})

	r := rand.New(rand.NewPCG(7, 8))
	levels := []storage.Level{storage.LevelDebug, storage.LevelInfo, storage.LevelInfo, storage.LevelInfo, storage.LevelWarn, storage.LevelError}
	words := []string{"request", "served", "cache", "lookup", "user", "session", "database", "query", "timeout", "retry"}
	batch := make([]storage.Entry, 0, 5000)
	for i := range newestLogs {
		t := newestDay.Add(time.Duration(int64(i) * int64(24*time.Hour) / newestLogs))
		if layout == "out_of_order" {
			t = newestDay.Add(time.Duration(r.Int64N(int64(24 * time.Hour))))
		}
		msg := words[r.IntN(len(words))] + " " + words[r.IntN(len(words))] + fmt.Sprintf(" id=%d", r.IntN(1e6))
		switch k := r.IntN(200); {
		case k < 2:
			msg += " zebracorn"
		case k == 2:
			msg += " connection reset by peer"
		}
		batch = append(batch, storage.Entry{
			Time: t, Level: levels[r.IntN(len(levels))], Source: fmt.Sprintf("svc-%d", r.IntN(50)), Message: msg,
			Fields: []storage.Field{
				{Name: "status", Value: storage.Int([]int64{200, 200, 200, 404, 500}[r.IntN(5)])},
				{Name: "host", Value: storage.String(fmt.Sprintf("web-%d", r.IntN(20)))},
			},
		})
		if len(batch) == cap(batch) || i == newestLogs-1 {
			if _, err := store.Append(ctx, batch); err != nil {
				b.Fatal(err)
			}
			batch = batch[:0]
		}
	}
	if err := env.ix.WaitIndexed(ctx, store.HighSeq()); err != nil {
		b.Fatal(err)
	}
	env.engine = NewEngine(store, index, env.ix, EngineOptions{})
	return env
}
