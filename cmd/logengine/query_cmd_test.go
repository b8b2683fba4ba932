package main

import (
	"flag"
	"io"
	"slices"
	"testing"
)

func TestParseInterspersed(t *testing.T) {
	for _, tc := range []struct {
		name      string
		args      []string
		wantWords []string
		wantLimit int
		wantAll   bool
	}{
		{"flags first", []string{"--limit", "5", "level:error", "timeout"}, []string{"level:error", "timeout"}, 5, false},
		{"flags after the words", []string{"level:error", "--limit", "5", "--all"}, []string{"level:error"}, 5, true},
		{"flags between words", []string{"level:error", "--limit=7", "timeout"}, []string{"level:error", "timeout"}, 7, false},
		{"single dash", []string{"timeout", "-limit", "3"}, []string{"timeout"}, 3, false},
		{"a negated term is a word", []string{"timeout", "-level:debug", "-source:db"}, []string{"timeout", "-level:debug", "-source:db"}, 100, false},
		{"a query that starts with a negated word, after --", []string{"--", "-timeout"}, []string{"-timeout"}, 100, false},
		{"after -- everything is a word", []string{"--all", "--", "--limit", "x"}, []string{"--limit", "x"}, 100, true},
		{"-- after a word", []string{"a", "--", "-all"}, []string{"a", "-all"}, 100, false},
		{"no words", []string{"--limit", "2"}, nil, 2, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fs := flag.NewFlagSet("query", flag.ContinueOnError)
			fs.SetOutput(io.Discard)
			limit := fs.Int("limit", 100, "")
			all := fs.Bool("all", false, "")
			words, err := parseInterspersed(fs, tc.args)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(words, tc.wantWords) || *limit != tc.wantLimit || *all != tc.wantAll {
				t.Errorf("parseInterspersed(%q) = %q, limit %d, all %v; want %q, %d, %v", tc.args, words, *limit, *all, tc.wantWords, tc.wantLimit, tc.wantAll)
			}
		})
	}
	fs := flag.NewFlagSet("query", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Int("limit", 100, "")
	if _, err := parseInterspersed(fs, []string{"timeout", "--limit", "many"}); err == nil {
		t.Error("a bad flag value after the words: no error")
	}
}
