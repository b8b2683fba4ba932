package search

import (
	"context"
	"errors"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/logengine/logengine/storage"
)

// TestExportContextFacets checks export, context and facets against the
// brute-force reference on random entries: export every match in time
// order across pages; the same source's neighbours of an entry, ties by
// id; and each field's count and top values as an aggregation of the
// entries that have it.
func TestExportContextFacets(t *testing.T) {
	propLeaks(t)
	env := newPropEnv(t)
	g := &propGen{rng: rand.New(rand.NewPCG(15, 19)), env: env}
	env.startIndexer()
	g.appendBatches(2000)
	env.waitIndexed()
	eng := NewEngine(env.store, env.index, env.ix, EngineOptions{Now: propClock})
	eng.exportPage = 37 // many pages, a page boundary inside runs of ties
	ctx := context.Background()

	t.Run("export", func(t *testing.T) {
		for i := range 40 {
			q := g.query()
			from, to := g.timeRange()
			node, err := Parse(q)
			if err != nil {
				t.Fatalf("parse %q: %v", q, err)
			}
			want := propSorted(propMatches(env.entries, node, from, to), SortTimeAsc)
			var got []storage.ID
			err = eng.Export(ctx, ExportRequest{Query: q, From: from, To: to}, func(e *storage.Entry) error {
				got = append(got, e.ID)
				return nil
			})
			if err != nil {
				t.Fatalf("case %d: export %q %s: %v", i, q, describeRange(from, to), err)
			}
			if !slices.Equal(got, want) {
				t.Fatalf("case %d: export %q %s: %d entries, want %d", i, q, describeRange(from, to), len(got), len(want))
			}
		}
	})

	t.Run("export stops at the first error of its callback", func(t *testing.T) {
		stop := errors.New("client gone")
		n := 0
		err := eng.Export(ctx, ExportRequest{}, func(*storage.Entry) error {
			if n++; n == 50 {
				return stop
			}
			return nil
		})
		if !errors.Is(err, stop) || n != 50 {
			t.Fatalf("err %v after %d entries, want %v after 50", err, n, stop)
		}
	})

	t.Run("export stops when its context ends", func(t *testing.T) {
		cctx, cancel := context.WithCancel(ctx)
		n := 0
		err := eng.Export(cctx, ExportRequest{}, func(*storage.Entry) error {
			if n++; n == 40 {
				cancel()
			}
			return nil
		})
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("err %v after %d entries, want context.Canceled", err, n)
		}
		if n > 2*eng.exportPage {
			t.Fatalf("%d entries after the cancel at 40: the export went on", n)
		}
	})

	t.Run("context", func(t *testing.T) {
		byID := slices.Clone(env.entries)
		slices.SortFunc(byID, func(a, b storage.Entry) int { return a.ID.Compare(b.ID) })
		for i := range 60 {
			e := g.someEntry()
			before, after := g.pick(30), g.pick(30)
			if i == 0 {
				before, after = 0, 0
			}
			var same []storage.ID
			at := -1
			for _, o := range byID {
				if o.Source == e.Source {
					if o.ID == e.ID {
						at = len(same)
					}
					same = append(same, o.ID)
				}
			}
			res, err := eng.Context(ctx, e.ID, before, after)
			if err != nil {
				t.Fatalf("context of %s: %v", e.ID, err)
			}
			wantBefore := same[max(0, at-before):at]
			wantAfter := same[at+1 : min(len(same), at+1+after)]
			if got := ids(res.Before); !slices.Equal(got, wantBefore) {
				t.Errorf("context of %s (source %q), %d before: %v, want %v", e.ID, e.Source, before, got, wantBefore)
			}
			if got := ids(res.After); !slices.Equal(got, wantAfter) {
				t.Errorf("context of %s (source %q), %d after: %v, want %v", e.ID, e.Source, after, got, wantAfter)
			}
			if res.Entry.ID != e.ID {
				t.Errorf("context of %s has the entry %s", e.ID, res.Entry.ID)
			}
			if res.MoreBefore != (at-before > 0) || res.MoreAfter != (at+1+after < len(same)) {
				t.Errorf("context of %s: more before %v, after %v; want %v, %v", e.ID, res.MoreBefore, res.MoreAfter, at-before > 0, at+1+after < len(same))
			}
		}
	})

	t.Run("context errors", func(t *testing.T) {
		if _, err := eng.Context(ctx, storage.ID{Nanos: 1, Seq: 1}, 5, 5); !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("unknown id: %v, want storage.ErrNotFound", err)
		}
		var ie *InputError
		if _, err := eng.Context(ctx, env.entries[0].ID, MaxContext+1, 0); !errors.As(err, &ie) {
			t.Errorf("before above the maximum: %v, want an input error", err)
		}
	})

	t.Run("facets", func(t *testing.T) {
		for i := range 30 {
			q := g.query()
			from, to := g.timeRange()
			limit := []int{0, 1, 3, 10}[g.pick(4)]
			node, err := Parse(q)
			if err != nil {
				t.Fatalf("parse %q: %v", q, err)
			}
			matches := propMatches(env.entries, node, from, to)
			var named []string
			if i%2 == 1 {
				// Some fields only: a scan may read just those.
				named = []string{"host", "severity", "tags", "latency"}
			}
			res, err := eng.Facets(ctx, FacetRequest{Query: q, From: from, To: to, Limit: limit, Fields: named})
			if err != nil {
				t.Fatalf("facets %q: %v", q, err)
			}
			if res.Total != int64(len(matches)) {
				t.Fatalf("case %d: facets %q %s: total %d, want %d", i, q, describeRange(from, to), res.Total, len(matches))
			}
			want := propFacets(matches, limit)
			if named != nil {
				want = slices.DeleteFunc(want, func(f Facet) bool { return !slices.Contains([]string{"host", "level", "tag", "latency"}, f.Field) })
			}
			if !reflect.DeepEqual(res.Facets, want) {
				t.Fatalf("case %d: facets %q %s:\n got %+v\nwant %+v", i, q, describeRange(from, to), res.Facets, want)
			}
		}
	})

	t.Run("facets of named fields", func(t *testing.T) {
		res, err := eng.Facets(ctx, FacetRequest{Fields: []string{"host", "severity"}})
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, f := range res.Facets {
			names = append(names, f.Field)
		}
		if !slices.Equal(names, []string{"level", "host"}) {
			t.Fatalf("facets of host and severity: %v, want [level host]", names)
		}
		var ie *InputError
		if _, err := eng.Facets(ctx, FacetRequest{Fields: []string{"message"}}); !errors.As(err, &ie) {
			t.Fatalf("facets of message: %v, want an input error", err)
		}
	})
}

func ids(es []storage.Entry) []storage.ID {
	out := []storage.ID{}
	for _, e := range es {
		out = append(out, e.ID)
	}
	return out
}

// propFacets is the reference of Facets: for each field that some match
// has, the aggregation by it of the matches that have it.
func propFacets(matches []*storage.Entry, limit int) []Facet {
	has := func(name string, e *storage.Entry) bool {
		switch name {
		case "level":
			return true
		case "source":
			return e.Source != ""
		case "tag":
			return len(e.Tags) > 0
		}
		_, ok := e.Field(name)
		return ok
	}
	names := []string{"level", "source", "tag"}
	var fields []string
	for _, e := range matches {
		for _, f := range e.Fields {
			if !slices.Contains(fields, f.Name) {
				fields = append(fields, f.Name)
			}
		}
	}
	var out []Facet
	for _, name := range append(names, fields...) {
		var with []*storage.Entry
		for _, e := range matches {
			if has(name, e) {
				with = append(with, e)
			}
		}
		if len(with) == 0 {
			continue
		}
		agg := propAggregate(with, []string{name}, limit)
		out = append(out, Facet{Field: name, Count: int64(len(with)), Values: agg.Groups, Other: agg.Other})
	}
	// Client fields after the built-in ones, most common first.
	builtin := 0
	for builtin < len(out) && slices.Contains(names, out[builtin].Field) {
		builtin++
	}
	slices.SortStableFunc(out[builtin:], func(a, b Facet) int {
		if a.Count != b.Count {
			return int(b.Count - a.Count)
		}
		return strings.Compare(a.Field, b.Field)
	})
	return out
}
