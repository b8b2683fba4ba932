package ingest

import (
	"strings"
	"unicode/utf8"
)

// What a stored string may contain. Stored text ends up in terminals, CSV
// exports and other log files, so control characters could forge lines or
// colours there; index keys also use NUL as a separator.
type cleanMode uint8

const (
	// keepNewline keeps '\n' (and tab): JSON messages and field values,
	// where multi-line stack traces are legitimate and JSON output escapes
	// them.
	keepNewline cleanMode = iota
	// keepTab keeps only tab: text lines, which are single lines by
	// construction.
	keepTab
	// singleLine keeps no control character at all: source, tags and field
	// names.
	singleLine
)

// clean replaces invalid UTF-8 and control characters (C0 other than the
// ones mode keeps, DEL, and C1) with U+FFFD. ANSI escape sequences
// (ESC [ ... final byte), as coloured console loggers write them, are
// removed whole rather than leaving "[31m" behind. Clean strings are
// returned as they are, without allocating.
func clean(s string, mode cleanMode) string {
	i := 0
	for ; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c >= 0x7f {
			if c == '\t' && mode != singleLine || c == '\n' && mode == keepNewline {
				continue
			}
			if c >= 0x80 {
				r, n := utf8.DecodeRuneInString(s[i:])
				if r != utf8.RuneError && r >= 0xa0 {
					i += n - 1
					continue
				}
			}
			break
		}
	}
	if i == len(s) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 8)
	b.WriteString(s[:i])
	for i < len(s) {
		c := s[i]
		switch {
		case c == '\t' && mode != singleLine, c == '\n' && mode == keepNewline:
			b.WriteByte(c)
			i++
		case c == 0x1b:
			i += ansiLen(s[i:])
		case c < 0x20 || c == 0x7f:
			b.WriteRune(utf8.RuneError)
			i++
		case c < 0x80:
			b.WriteByte(c)
			i++
		default:
			r, n := utf8.DecodeRuneInString(s[i:])
			if r == utf8.RuneError || r < 0xa0 { // invalid, or a C1 control
				b.WriteRune(utf8.RuneError)
			} else {
				b.WriteString(s[i : i+n])
			}
			i += n
		}
	}
	return b.String()
}

// ansiLen returns the length of the ANSI CSI sequence at s (which starts
// with ESC), or 1 to drop a lone ESC.
func ansiLen(s string) int {
	if len(s) < 2 || s[1] != '[' {
		return 1
	}
	for i := 2; i < len(s); i++ {
		c := s[i]
		if c >= 0x40 && c <= 0x7e {
			return i + 1
		}
		if c < 0x20 || c > 0x7e {
			return i
		}
	}
	return len(s)
}

// shorten cuts s for an error message, on a rune boundary.
func shorten(s string) string {
	const n = 40
	if len(s) <= n {
		return s
	}
	cut := n
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}
