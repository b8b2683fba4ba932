package search

import (
	"strings"
	"testing"
)

func TestRequirements(t *testing.T) {
	tests := []struct {
		q    string
		want []string // String() of each requirement
	}{
		{"", nil},
		{"*", nil},
		{"timeout", []string{"timeout"}},
		{"-timeout", nil},
		{"a b", []string{"a", "b"}},
		{"a -b c", []string{"a", "c"}},
		{"a OR b", []string{"a OR b"}},
		{"level:error (source:api OR source:auth) -tag:test", []string{"level:error", "source:api OR source:auth"}},
		{"(a b) OR c", []string{"a b OR c"}},
		{"status>=500 host:* time*", []string{"status>=500", "host:*", "time*"}},
		{"* a", []string{"a"}},
	}
	for _, tt := range tests {
		t.Run(tt.q, func(t *testing.T) {
			n, err := Parse(tt.q)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, r := range Requirements(n) {
				got = append(got, r.String())
			}
			if strings.Join(got, " | ") != strings.Join(tt.want, " | ") {
				t.Errorf("Requirements(%q) = %q, want %q", tt.q, got, tt.want)
			}
		})
	}
}

func TestKeywordOnly(t *testing.T) {
	tests := []struct {
		q    string
		want bool
	}{
		{"timeout", true},
		{`"connection reset"`, true},
		{"time*", true},
		{"web-1", true},
		{"message:timeout", true},
		{"a OR (b -c)", true},
		{"NOT a", true},
		{"*", false},
		{"-*", false},
		{"message:*", false},
		{"host:web-1", false},
		{"level>=warn", false},
		{"host:web*", false},
		{"a host:x", false},
		{"a OR host:x", false},
		{"-host:x", false},
	}
	for _, tt := range tests {
		t.Run(tt.q, func(t *testing.T) {
			n, err := Parse(tt.q)
			if err != nil {
				t.Fatal(err)
			}
			if got := n.KeywordOnly(); got != tt.want {
				t.Errorf("Parse(%q).KeywordOnly() = %v, want %v", tt.q, got, tt.want)
			}
		})
	}
	if (&And{}).KeywordOnly() || (&Or{}).KeywordOnly() {
		t.Error("an empty And or Or is keyword-only; it needs no index at all")
	}
}
