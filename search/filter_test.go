package search

import (
	"math/rand/v2"
	"testing"

	"github.com/logengine/logengine/storage"
)

// TestFilterMatchesMatch: a filter decides what Match decides on random
// entries and queries, with the tokens handed in or not, asks for the
// tokens at most once, and every entry it matches has the source it names.
func TestFilterMatchesMatch(t *testing.T) {
	const seed = 21
	g := &propGen{rng: rand.New(rand.NewPCG(seed, seed)), env: &propEnv{}}
	for i := range 2000 {
		e := g.entry()
		e.ID = storage.ID{Nanos: e.Time.UnixNano(), Seq: uint64(i + 1)}
		g.env.entries = append(g.env.entries, e)
	}
	queries := []string{"", "*", "timeout source:api", `"connection reset" source:db level>=warn`, "-source:api timeout", "source:api OR source:db"}
	for range 300 {
		queries = append(queries, g.query())
	}
	for _, q := range queries {
		node, err := Parse(q)
		if err != nil {
			t.Fatalf("query %q does not parse: %v", q, err)
		}
		f := NewFilter(node)
		if f.Node() != node {
			t.Fatalf("query %q: Node is not the query the filter was made from", q)
		}
		for i := range g.env.entries {
			e := &g.env.entries[i]
			want := Match(node, e)
			if got := f.Match(e, nil); got != want {
				t.Fatalf("query %q (%s) on %+v: filter %v, Match %v", q, node, e, got, want)
			}
			calls := 0
			tokens := func() []string {
				calls++
				return Tokenize(e.Message, nil)
			}
			if got := f.Match(e, tokens); got != want {
				t.Fatalf("query %q (%s) on %+v with tokens handed in: filter %v, Match %v", q, node, e, got, want)
			}
			if calls > 1 {
				t.Fatalf("query %q: tokens asked for %d times", q, calls)
			}
			if want && f.Source() != "" && e.Source != f.Source() {
				t.Fatalf("query %q matches source %q but names %q", q, e.Source, f.Source())
			}
		}
	}
}

// TestFilterSource: the source a filter names is one every match requires.
func TestFilterSource(t *testing.T) {
	tests := []struct{ q, want string }{
		{"source:api", "api"},
		{"timeout source:api level:error", "api"},
		{"source:api source:db", "api"},
		{"-source:api timeout", ""},
		{"source:api OR source:db", ""},
		{"source:api*", ""},
		{"(source:api timeout) OR cache", ""},
		{"", ""},
	}
	for _, tt := range tests {
		t.Run(tt.q, func(t *testing.T) {
			node, err := Parse(tt.q)
			if err != nil {
				t.Fatal(err)
			}
			if got := NewFilter(node).Source(); got != tt.want {
				t.Errorf("Source() = %q, want %q", got, tt.want)
			}
		})
	}
}
