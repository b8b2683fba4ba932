package search

import (
	"context"
	"testing"
	"time"

	"github.com/logengine/logengine/storage"
)

func TestZZKeywordLimits(t *testing.T) {
	env := loadBench1M(t)
	ctx := context.Background()
	lo, hi := storage.ID{Nanos: bench1MDay.UnixNano()}, storage.ID{Nanos: bench1MDay.Add(24 * time.Hour).UnixNano()}
	for _, kw := range []Keywords{{Terms: []string{"connection", "reset", "by", "peer"}}, {Terms: []string{"connection"}}, {Terms: []string{"11"}}} {
		for _, limit := range []int{0, 128, 512, 2048, 8192, 32768} {
			best := time.Hour
			n := 0
			for range 7 {
				start := time.Now()
				ids, err := env.index.Search(ctx, kw, lo, hi, true, limit)
				if err != nil {
					t.Fatal(err)
				}
				best = min(best, time.Since(start))
				n = len(ids)
			}
			t.Logf("%v limit %6d: %6d ids in %v", kw.Terms, limit, n, best)
		}
		start := time.Now()
		c, _ := env.index.Count(ctx, kw, lo, hi)
		t.Logf("count %d in %v", c, time.Since(start))
	}
}
