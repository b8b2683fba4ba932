package search

import (
	"slices"
	"testing"
)

// TestCheckColumns checks the fields a check of the index's candidates
// decodes: every user field the query reads, none
// for message terms and the entry's own fields.
func TestCheckColumns(t *testing.T) {
	for _, tc := range []struct {
		q    string
		want []string
	}{
		{"a1b2c3d4", nil},
		{`"connection reset" req-77`, nil},
		{"a1b2c3d4 status:500", []string{"status"}},
		{"a1b2c3d4 OR host:web-7", []string{"host"}},
		{"a1b2c3d4 -fields.user:bob", []string{"user"}},
		{"a1b2c3d4 latency_ms>400 level:error source:api tag:prod", []string{"latency_ms"}},
		{"a1b2c3d4 trace_id:*", []string{"trace_id"}},
		{"a1b2c3d4 message:timeout", nil},
	} {
		node, err := Parse(tc.q)
		if err != nil {
			t.Fatalf("%q: %v", tc.q, err)
		}
		got := checkColumns(node)
		slices.Sort(got)
		want := slices.Clone(tc.want)
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Errorf("checkColumns(%q) = %q, want %q", tc.q, got, want)
		}
		// The scan's columns are unchanged: message terms need whole
		// entries there.
		if _, partial := scanColumns(node, nil); partial {
			t.Errorf("scanColumns(%q) reads columns only, but the query reads messages", tc.q)
		}
	}
}

// TestMessageOnly: the candidates of a query that reads only message words
// are checked on their messages alone; anything else reads more.
func TestMessageOnly(t *testing.T) {
	for _, tc := range []struct {
		q    string
		want bool
	}{
		{"a1b2c3d4", true},
		{`"connection reset" req-77`, true},
		{"time* OR -a1b2c3d4", true},
		{"a1b2c3d4 level:error", false},
		{"a1b2c3d4 OR source:api", false},
		{"a1b2c3d4 -tag:prod", false},
		{"a1b2c3d4 status:500", false},
		{"a1b2c3d4 trace_id:*", false},
	} {
		node, err := Parse(tc.q)
		if err != nil {
			t.Fatalf("%q: %v", tc.q, err)
		}
		if got := messageOnly(node); got != tc.want {
			t.Errorf("messageOnly(%q) = %v, want %v", tc.q, got, tc.want)
		}
	}
}
