package search

import (
	"slices"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
)

func TestTokenize(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []string
	}{
		{"empty", "", nil},
		{"separators only", " \t-!./", nil},
		{"words", "connection reset by peer", []string{"connection", "reset", "by", "peer"}},
		{"lowered", "ERROR Upstream TimeOut", []string{"error", "upstream", "timeout"}},
		{"digits and underscore", "user_id=42 x1", []string{"user_id", "42", "x1"}},
		{"punctuation separates", "GET /api/v1/users?id=7", []string{"get", "api", "v1", "users", "id", "7"}},
		{"ip", "10.0.0.1", []string{"10", "0", "0", "1"}},
		{"hyphen", "web-1", []string{"web", "1"}},
		{"edges", "(a)", []string{"a"}},
		{"accented", "Été café", []string{"été", "café"}},
		{"non-latin", "Ошибка 東京 αβγ", []string{"ошибка", "東京", "αβγ"}},
		{"mixed ascii and unicode token", "naïve", []string{"naïve"}},
		{"unicode after ascii token", "ab—cd", []string{"ab", "cd"}},
		{"unicode upper after ascii", "abÉ", []string{"abé"}},
		{"unicode digits", "٣٤ x", []string{"٣٤", "x"}},
		{"symbols separate", "a€b a→b", []string{"a", "b", "a", "b"}},
		{"invalid utf-8 separates", "ab\xffcd\xe2\x82", []string{"ab", "cd"}},
		{"replacement char separates", "ab\uFFFDcd", []string{"ab", "cd"}},
		{"non-breaking space separates", "a\u00a0b", []string{"a", "b"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Tokenize(tt.in, nil)
			if !slices.Equal(got, tt.want) {
				t.Errorf("Tokenize(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestTokenizeAppends(t *testing.T) {
	dst := []string{"keep"}
	got := Tokenize("A b", dst)
	if !slices.Equal(got, []string{"keep", "a", "b"}) {
		t.Errorf("Tokenize appended %q", got)
	}
}

// TestTokenizeRunes checks over all of Unicode that the tokens of a token
// are the token itself: lowering keeps a rune in the token alphabet and is
// idempotent. Query words are tokenized again when a canonical query is
// parsed, and a prefix query is matched against indexed tokens, so both
// rely on it.
func TestTokenizeRunes(t *testing.T) {
	for r := rune(0); r <= unicode.MaxRune; r++ {
		if !isWordRune(r) {
			continue
		}
		l := unicode.ToLower(r)
		if !isWordRune(l) || unicode.ToLower(l) != l {
			t.Errorf("rune %U lowers to %U, which is not a stable token rune", r, l)
		}
	}
}

// referenceTokenize is the definition of Tokenize, written plainly.
func referenceTokenize(s string) []string {
	var out []string
	var cur []rune
	flush := func() {
		if len(cur) > 0 {
			out = append(out, string(cur))
			cur = cur[:0]
		}
	}
	for _, r := range s {
		if r != utf8.RuneError && (unicode.IsLetter(r) || unicode.IsDigit(r) || r == '_') {
			cur = append(cur, unicode.ToLower(r))
		} else {
			flush()
		}
	}
	flush()
	return out
}

func FuzzTokenize(f *testing.F) {
	for _, s := range []string{"", "Upstream timeout after 30s", "Été—café", "ab\xffcd", "10.0.0.1 web-1", "İSTANBUL ǅ"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := Tokenize(s, nil)
		if want := referenceTokenize(s); !slices.Equal(got, want) {
			t.Fatalf("Tokenize(%q) = %q, want %q", s, got, want)
		}
		for _, tok := range got {
			if again := Tokenize(tok, nil); len(again) != 1 || again[0] != tok {
				t.Fatalf("token %q of %q tokenizes as %q", tok, s, again)
			}
		}
		if joined := strings.Join(got, " "); len(got) > 1 {
			if again := Tokenize(joined, nil); !slices.Equal(again, got) {
				t.Fatalf("tokens of %q joined tokenize as %q", s, again)
			}
		}
	})
}
