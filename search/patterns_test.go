package search

import (
	"cmp"
	"context"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/logengine/logengine/patterns"
)

// TestPatternsAgainstReference compares the template counts of random
// queries and ranges with a count by hand over the stored entries, merged
// template ids resolved.
func TestPatternsAgainstReference(t *testing.T) {
	propLeaks(t)
	env := newPropEnv(t)
	g := &propGen{rng: rand.New(rand.NewPCG(8, 9)), env: env}
	env.startIndexer()
	g.appendBatches(600)
	env.waitIndexed()
	eng := NewEngine(env.store, env.index, env.ix, EngineOptions{Templates: propTemplates{}, Now: propClock})
	ctx := context.Background()
	for i := range 60 {
		q := g.query()
		if i%4 == 0 {
			q = ""
		}
		from, to := g.timeRange()
		limit := 1 + g.pick(8)
		got, err := eng.Patterns(ctx, PatternsRequest{Query: q, From: from, To: to, Limit: limit})
		if err != nil {
			t.Fatalf("Patterns(%q): %v", q, err)
		}
		node, err := Parse(q)
		if err != nil {
			t.Fatal(err)
		}
		type want struct {
			count       int64
			first, last time.Time
		}
		by := map[uint64]*want{}
		var total, other int64
		for _, e := range propMatches(env.entries, node, from, to) {
			total++
			if e.Pattern == 0 {
				other++
				continue
			}
			id := uint64(propResolve(e.Pattern))
			w := by[id]
			if w == nil {
				w = &want{first: e.Time, last: e.Time}
				by[id] = w
			}
			w.count++
			if e.Time.Before(w.first) {
				w.first = e.Time
			}
			if e.Time.After(w.last) {
				w.last = e.Time
			}
		}
		ids := make([]uint64, 0, len(by))
		for id := range by {
			ids = append(ids, id)
		}
		slices.SortFunc(ids, func(a, b uint64) int {
			if c := cmp.Compare(by[b].count, by[a].count); c != 0 {
				return c
			}
			return cmp.Compare(a, b)
		})
		for j, id := range ids {
			if j >= limit {
				other += by[id].count
			}
		}
		ids = ids[:min(limit, len(ids))]
		if got.Total != total || got.Other != other || len(got.Patterns) != len(ids) {
			t.Fatalf("Patterns(%q, %v, %v, limit %d): total %d other %d, %d patterns; want %d, %d, %d", q, from, to, limit, got.Total, got.Other, len(got.Patterns), total, other, len(ids))
		}
		for j, id := range ids {
			p, w := got.Patterns[j], by[id]
			if p.ID != patterns.FormatID(id) || p.Count != w.count || !p.FirstSeen.Equal(w.first) || !p.LastSeen.Equal(w.last) || p.Known {
				t.Fatalf("Patterns(%q): #%d = %+v, want %s %d %v..%v", q, j, p, patterns.FormatID(id), w.count, w.first, w.last)
			}
		}
	}
}
