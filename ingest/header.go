package ingest

import (
	"strings"
	"time"

	"github.com/logengine/logengine/storage"
)

// A line's header is what its logger writes before the message: besides
// the time and the level, host names, process and thread ids, thread names
// in brackets, logger names, separators, a container runtime's stream and
// tag (`stderr F`), even a second timestamp. Loggers put these in any
// order, so when the time or the level is not where ParseTextLine first
// looks (at the start, and right after the time), the header is walked
// token by token. A token that reads like a word of prose ends the header:
// a time or level word after it is the message's, not the line's.

// headerTokens bounds the tokens walked before the time, and after it
// before the level.
const headerTokens = 6

// headerBytes bounds how far into the line the header may reach.
const headerBytes = 160

// findHeaderTime looks for a timestamp among the first tokens of a line
// that does not start with one, and returns it and where it ends.
func findHeaderTime(s string, now time.Time) (time.Time, int, bool) {
	i := 0
	for n := 0; n < headerTokens && i < len(s) && i < headerBytes; n++ {
		end := tokenEnd(s, i)
		if !headerToken(s[i:end]) {
			return time.Time{}, 0, false
		}
		i = skipBlanks(s, end)
		if i >= len(s) || !startsTime(s[i]) {
			continue
		}
		if t, tend, _, ok := parseLeadingTime(s[i:], now); ok && tend > 0 {
			return t, i + tend, true
		}
	}
	return time.Time{}, 0, false
}

// findHeaderLevel looks for a level among the header tokens from s[i:]
// (just after the time), skipping the other header fields, and returns it
// and where it ends.
func findHeaderLevel(s string, i int, now time.Time) (storage.Level, int, bool) {
	for n := 0; n < headerTokens && i < len(s) && i < headerBytes; n++ {
		i = skipBlanks(s, i)
		if i >= len(s) {
			break
		}
		// Away from the time only the unmistakable forms count: upper
		// case, bracketed, or followed by a colon.
		if lvl, end, ok := levelToken(s, i, false, false); ok {
			return lvl, end, true
		}
		// A second timestamp (a container runtime's, then the
		// program's) is part of the header.
		if startsTime(s[i]) {
			if _, tend, _, ok := parseLeadingTime(s[i:], now); ok && tend > 0 {
				i += tend
				continue
			}
		}
		end := tokenEnd(s, i)
		if !headerToken(s[i:end]) {
			break
		}
		i = end
	}
	return 0, 0, false
}

func startsTime(c byte) bool { return isDigit(c) || c == '[' || isLetter(c) }

// tokenEnd returns where the token at s[i:] ends: at the next blank, or
// after the closing bracket of a bracketed token (which may hold blanks).
func tokenEnd(s string, i int) int {
	if c := s[i]; c == '[' || c == '(' || c == '<' {
		closer := map[byte]byte{'[': ']', '(': ')', '<': '>'}[c]
		if j := strings.IndexByte(s[i+1:min(len(s), i+headerBytes)], closer); j >= 0 {
			return i + j + 2
		}
	}
	j := i
	for j < len(s) && s[j] != ' ' && s[j] != '\t' {
		j++
	}
	return j
}

// headerToken reports whether tok reads like a header field rather than a
// word of the message: a separator, a number, something bracketed, a name
// with dots, digits, dashes, underscores, slashes or a trailing colon (hosts,
// loggers, pids like 12#12:, components like kernel:), a single capital
// letter (a stream tag like F or P), or a stream name.
func headerToken(tok string) bool {
	if tok == "" {
		return false
	}
	switch tok {
	case "-", "|", ":", "--", "stdout", "stderr":
		return true
	}
	switch tok[0] {
	case '[', '(', '<':
		return true
	}
	if len(tok) == 1 && tok[0] >= 'A' && tok[0] <= 'Z' {
		return true
	}
	if tok[len(tok)-1] == ':' && len(tok) > 1 {
		return true
	}
	// A dot or comma that ends a word ends a sentence, not a logger name.
	body := strings.TrimRight(tok, ".,;")
	for k := 0; k < len(body); k++ {
		switch c := body[k]; {
		case isDigit(c), c == '.', c == '-', c == '_', c == '/', c == '#', c == '@', c == '*':
			return true
		}
	}
	return false
}
