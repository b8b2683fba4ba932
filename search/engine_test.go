package search

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/logengine/logengine/storage"
)

// TestEngineEdges checks requests at the edges: input errors, ranges
// beyond the times entries can have, and a cancelled context.
func TestEngineEdges(t *testing.T) {
	propLeaks(t)
	env := newPropEnv(t)
	g := &propGen{rng: rand.New(rand.NewPCG(3, 3)), env: env}
	env.startIndexer()
	g.appendBatches(300)
	env.waitIndexed()
	eng := NewEngine(env.store, env.index, env.ix, EngineOptions{Now: propClock})
	ctx := context.Background()
	far := time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC)
	early := time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC)

	inputErrors := []struct {
		name string
		run  func() error
	}{
		{"limit above the maximum", func() error {
			_, err := eng.Search(ctx, Request{Limit: MaxLimit + 1})
			return err
		}},
		{"malformed query", func() error {
			_, err := eng.Search(ctx, Request{Query: "a )"})
			return err
		}},
		{"cursor of another sort", func() error {
			res, err := eng.Search(ctx, Request{Limit: 2})
			if err != nil || res.NextCursor == "" {
				t.Fatalf("first page: %v %+v", err, res)
			}
			_, err = eng.Search(ctx, Request{Limit: 2, Sort: SortSeverityAsc, Cursor: res.NextCursor})
			return err
		}},
		{"group by time", func() error {
			_, err := eng.Aggregate(ctx, AggRequest{GroupBy: []string{"timestamp"}})
			return err
		}},
		{"no group by", func() error {
			_, err := eng.Aggregate(ctx, AggRequest{})
			return err
		}},
		{"too many buckets", func() error {
			_, err := eng.Histogram(ctx, HistRequest{From: early, To: far, Interval: time.Hour})
			return err
		}},
	}
	for _, c := range inputErrors {
		t.Run(c.name, func(t *testing.T) {
			var ie interface{ InvalidInput() bool }
			if err := c.run(); !errors.As(err, &ie) || !ie.InvalidInput() {
				t.Fatalf("got %v, want an input error", err)
			}
		})
	}

	t.Run("max range", func(t *testing.T) {
		limited := NewEngine(env.store, env.index, env.ix, EngineOptions{Now: propClock, MaxRange: 48 * time.Hour})
		now := propClock()
		cases := []struct {
			name     string
			from, to time.Time
			ok       bool
		}{
			{"open from", time.Time{}, now, false},
			{"open from and to", time.Time{}, time.Time{}, false},
			{"exactly the limit", now.Add(-48 * time.Hour), now, true},
			{"one second over", now.Add(-48*time.Hour - time.Second), now, false},
			{"open to measured from now", now.Add(-47 * time.Hour), time.Time{}, true},
			{"open to, too far back", now.Add(-49 * time.Hour), time.Time{}, false},
		}
		for _, c := range cases {
			_, serr := limited.Search(ctx, Request{From: c.from, To: c.to})
			_, aerr := limited.Aggregate(ctx, AggRequest{From: c.from, To: c.to, GroupBy: []string{"level"}})
			_, herr := limited.Histogram(ctx, HistRequest{From: c.from, To: c.to})
			for _, err := range []error{serr, aerr, herr} {
				var ie interface{ InvalidInput() bool }
				if c.ok && err != nil || !c.ok && (!errors.As(err, &ie) || !strings.Contains(err.Error(), "max_query_range")) {
					t.Errorf("%s: got %v, want ok=%v", c.name, err, c.ok)
				}
			}
		}
	})

	t.Run("ranges beyond entry times", func(t *testing.T) {
		res, err := eng.Search(ctx, Request{From: far, To: far.Add(time.Hour)})
		if err != nil || len(res.Entries) != 0 {
			t.Fatalf("search in 9999: %v %d", err, len(res.Entries))
		}
		res, err = eng.Search(ctx, Request{From: early, To: far, Limit: 1000})
		if err != nil || len(res.Entries) != len(env.entries) {
			t.Fatalf("search from year 1 to 9999: %v %d entries, want %d", err, len(res.Entries), len(env.entries))
		}
		agg, err := eng.Aggregate(ctx, AggRequest{Query: "timestamp<9999-01-01 timestamp>0001-01-01", GroupBy: []string{"level"}})
		if err != nil || agg.Total != int64(len(env.entries)) {
			t.Fatalf("aggregate over all time: %v %+v", err, agg)
		}
		h, err := eng.Histogram(ctx, HistRequest{From: early, To: far, Interval: 365 * 24 * time.Hour})
		if err != nil {
			t.Fatal(err)
		}
		n := int64(0)
		for _, b := range h.Buckets {
			n += b.Count
		}
		if n != int64(len(env.entries)) {
			t.Fatalf("histogram over all time: %d entries, want %d", n, len(env.entries))
		}
	})

	t.Run("cancelled", func(t *testing.T) {
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		if _, err := eng.Search(cctx, Request{Query: "-nothing", Limit: 1000}); !errors.Is(err, context.Canceled) {
			t.Errorf("search: %v", err)
		}
		if _, err := eng.Aggregate(cctx, AggRequest{Query: "status>0", GroupBy: []string{"user"}}); !errors.Is(err, context.Canceled) {
			t.Errorf("aggregate: %v", err)
		}
	})
}

// unusableIndex stands for a keyword index whose shards wait to be rebuilt
// (a data directory of the previous release, just upgraded).
type unusableIndex struct{}

func (unusableIndex) Search(context.Context, Keywords, storage.ID, storage.ID) (Candidates, error) {
	return Candidates{}, fmt.Errorf("shard 2026-11-20: %w", errShardUnusable)
}

// Until the indexer has rebuilt a shard it cannot use, keyword searches
// scan and answer the same.
func TestEngineScansWhileShardsWaitForRebuild(t *testing.T) {
	propLeaks(t)
	env := newPropEnv(t)
	g := &propGen{rng: rand.New(rand.NewPCG(5, 5)), env: env}
	env.startIndexer()
	g.appendBatches(300)
	env.waitIndexed()
	indexed := NewEngine(env.store, env.index, env.ix, EngineOptions{Now: propClock})
	waiting := NewEngine(env.store, unusableIndex{}, env.ix, EngineOptions{Now: propClock})
	ctx := context.Background()
	found := 0
	for _, q := range []string{"error", "time*", `"connection reset"`, "-error level>=warn"} {
		want, err := indexed.Search(ctx, Request{Query: q, Limit: 1000})
		if err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		found += len(want.Entries)
		got, err := waiting.Search(ctx, Request{Query: q, Limit: 1000})
		if err != nil {
			t.Fatalf("%s with shards waiting for a rebuild: %v", q, err)
		}
		if len(got.Entries) != len(want.Entries) {
			t.Fatalf("%s: %d entries with shards waiting for a rebuild, %d indexed", q, len(got.Entries), len(want.Entries))
		}
		for i := range got.Entries {
			if got.Entries[i].ID != want.Entries[i].ID {
				t.Fatalf("%s: entry %d differs", q, i)
			}
		}
	}
	if found == 0 {
		t.Fatal("no query found anything: the comparison shows nothing")
	}
}
