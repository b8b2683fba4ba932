package ingest

import (
	"fmt"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// This file is the JSON syntax layer: a validating skipper that works on a
// request body ([]byte) or a line (string) without recursion, and a scanner
// that reads strings and numbers out of a line without copying when it can.
// encoding/json into map[string]any costs tens of allocations per log; here
// a string without escapes is a substring of the line.

// syntaxError is a JSON syntax error at a byte offset.
type syntaxError struct {
	off int
	msg string
}

func (e *syntaxError) Error() string { return fmt.Sprintf("at byte %d: %s", e.off, e.msg) }

// positionedError is a syntax error as a record or body reports it.
type positionedError struct{ msg string }

func (e *positionedError) Error() string        { return e.msg }
func (e *positionedError) Is(target error) bool { return target == ErrSyntax }

// lineError reports a syntax error inside one line or array element.
func lineError(e *syntaxError) error {
	return &positionedError{msg: fmt.Sprintf("invalid JSON at column %d: %s", e.off+1, e.msg)}
}

// bodyError reports a syntax error of a whole body with its line and column.
func bodyError(body []byte, e *syntaxError) error {
	off := min(e.off, len(body))
	line, col := 1, 1
	for _, c := range body[:off] {
		if c == '\n' {
			line++
			col = 1
		} else {
			col++
		}
	}
	return &positionedError{msg: fmt.Sprintf("invalid JSON at line %d, column %d (offset %d): %s", line, col, off, e.msg)}
}

// describeByte names a byte for an error message.
func describeByte(c byte) string {
	if c >= 0x20 && c < 0x7f {
		return fmt.Sprintf("%q", rune(c))
	}
	return fmt.Sprintf("byte 0x%02x", c)
}

type text interface{ ~string | ~[]byte }

func skipWS[T text](s T, i int) int {
	for i < len(s) {
		switch s[i] {
		case ' ', '\t', '\n', '\r':
			i++
		default:
			return i
		}
	}
	return i
}

// skipJSON validates the JSON value starting at s[i] and returns where it
// ends. Nesting is tracked on an explicit stack, so no input can exhaust the
// goroutine stack.
func skipJSON[T text](s T, i int) (int, *syntaxError) {
	var stackBuf [64]byte
	stack := stackBuf[:0]
	var err *syntaxError
	for {
		// A value is expected at s[i].
		i = skipWS(s, i)
		if i >= len(s) {
			return i, &syntaxError{i, "unexpected end of JSON, expected a value"}
		}
		switch c := s[i]; c {
		case '{':
			i = skipWS(s, i+1)
			if i < len(s) && s[i] == '}' {
				i++
				break
			}
			stack = append(stack, '{')
			if i, err = skipKey(s, i); err != nil {
				return i, err
			}
			continue
		case '[':
			i = skipWS(s, i+1)
			if i < len(s) && s[i] == ']' {
				i++
				break
			}
			stack = append(stack, '[')
			continue
		case '"':
			if i, err = skipString(s, i); err != nil {
				return i, err
			}
		case 't':
			if i, err = skipLiteral(s, i, "true"); err != nil {
				return i, err
			}
		case 'f':
			if i, err = skipLiteral(s, i, "false"); err != nil {
				return i, err
			}
		case 'n':
			if i, err = skipLiteral(s, i, "null"); err != nil {
				return i, err
			}
		default:
			if c != '-' && !isDigit(c) {
				return i, &syntaxError{i, "unexpected " + describeByte(c) + ", expected a value"}
			}
			if i, _, err = skipNumber(s, i); err != nil {
				return i, err
			}
		}
		// A value ended: close containers until one continues.
		for {
			if len(stack) == 0 {
				return i, nil
			}
			i = skipWS(s, i)
			if i >= len(s) {
				return i, &syntaxError{i, "unexpected end of JSON, expected ',' or a closing bracket"}
			}
			top := stack[len(stack)-1]
			c := s[i]
			if c == ',' {
				i++
				if top == '{' {
					if i, err = skipKey(s, skipWS(s, i)); err != nil {
						return i, err
					}
				}
				break
			}
			if (top == '{' && c == '}') || (top == '[' && c == ']') {
				i++
				stack = stack[:len(stack)-1]
				continue
			}
			if top == '{' {
				return i, &syntaxError{i, "unexpected " + describeByte(c) + ", expected ',' or '}'"}
			}
			return i, &syntaxError{i, "unexpected " + describeByte(c) + ", expected ',' or ']'"}
		}
	}
}

// skipKey reads an object key and the colon after it.
func skipKey[T text](s T, i int) (int, *syntaxError) {
	if i >= len(s) {
		return i, &syntaxError{i, "unexpected end of JSON, expected a string key"}
	}
	if s[i] != '"' {
		return i, &syntaxError{i, "unexpected " + describeByte(s[i]) + ", expected a string key"}
	}
	i, err := skipString(s, i)
	if err != nil {
		return i, err
	}
	i = skipWS(s, i)
	if i >= len(s) || s[i] != ':' {
		return i, &syntaxError{i, "expected ':' after an object key"}
	}
	return i + 1, nil
}

// skipString validates the string starting at the quote s[i].
func skipString[T text](s T, i int) (int, *syntaxError) {
	for i++; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"':
			return i + 1, nil
		case c == '\\':
			i++
			if i >= len(s) {
				return i, &syntaxError{i, "unterminated string"}
			}
			switch s[i] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			case 'u':
				if i+4 >= len(s) {
					return i, &syntaxError{i, "unterminated string"}
				}
				for j := i + 1; j <= i+4; j++ {
					if unhex(s[j]) < 0 {
						return j, &syntaxError{j, "invalid \\u escape: want four hex digits"}
					}
				}
				i += 4
			default:
				return i, &syntaxError{i - 1, "invalid escape \\" + string(rune(s[i])) + " in a string"}
			}
		case c < 0x20:
			return i, &syntaxError{i, fmt.Sprintf("control character 0x%02x in a string: escape it as \\u%04x", c, c)}
		}
	}
	return i, &syntaxError{i, "unterminated string"}
}

func skipLiteral[T text](s T, i int, lit string) (int, *syntaxError) {
	if len(s)-i < len(lit) {
		return i, &syntaxError{i, "invalid literal, expected " + lit}
	}
	for j := 0; j < len(lit); j++ {
		if s[i+j] != lit[j] {
			return i + j, &syntaxError{i + j, "invalid literal, expected " + lit}
		}
	}
	return i + len(lit), nil
}

// skipNumber validates a JSON number and reports whether it has a fraction
// or an exponent, which is what makes it a float rather than an integer.
func skipNumber[T text](s T, i int) (end int, isFloat bool, err *syntaxError) {
	start := i
	if i < len(s) && s[i] == '-' {
		i++
	}
	switch {
	case i < len(s) && s[i] == '0':
		i++
	case i < len(s) && isDigit(s[i]):
		for i < len(s) && isDigit(s[i]) {
			i++
		}
	default:
		return i, false, &syntaxError{start, "invalid number"}
	}
	if i < len(s) && s[i] == '.' {
		i++
		if i >= len(s) || !isDigit(s[i]) {
			return i, false, &syntaxError{i, "invalid number: digits must follow the decimal point"}
		}
		for i < len(s) && isDigit(s[i]) {
			i++
		}
		isFloat = true
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		if i >= len(s) || !isDigit(s[i]) {
			return i, false, &syntaxError{i, "invalid number: digits must follow the exponent"}
		}
		for i < len(s) && isDigit(s[i]) {
			i++
		}
		isFloat = true
	}
	return i, isFloat, nil
}

func unhex(c byte) int {
	switch {
	case '0' <= c && c <= '9':
		return int(c - '0')
	case 'a' <= c && c <= 'f':
		return int(c-'a') + 10
	case 'A' <= c && c <= 'F':
		return int(c-'A') + 10
	}
	return -1
}

// scanner reads the values of one JSON line. The first syntax error stops
// it; callers check err after each step.
type scanner struct {
	s   string
	i   int
	err *syntaxError
	buf []byte // scratch for strings with escapes
}

func (sc *scanner) reset(s string) {
	sc.s, sc.i, sc.err = s, 0, nil
}

func (sc *scanner) fail(off int, msg string) {
	if sc.err == nil {
		sc.err = &syntaxError{off, msg}
	}
	sc.i = len(sc.s) // stop every loop
}

func (sc *scanner) ws() { sc.i = skipWS(sc.s, sc.i) }

// peek returns the next byte, or 0 at the end.
func (sc *scanner) peek() byte {
	if sc.i < len(sc.s) {
		return sc.s[sc.i]
	}
	return 0
}

// skip validates and skips one value and returns its raw text.
func (sc *scanner) skip() string {
	start := sc.i
	end, err := skipJSON(sc.s, sc.i)
	if err != nil {
		sc.fail(err.off, err.msg)
		return ""
	}
	sc.i = end
	return sc.s[start:end]
}

// key reads an object key and the colon after it.
func (sc *scanner) key() string {
	if sc.peek() != '"' {
		if sc.i >= len(sc.s) {
			sc.fail(sc.i, "unexpected end of JSON, expected a string key")
		} else {
			sc.fail(sc.i, "unexpected "+describeByte(sc.s[sc.i])+", expected a string key")
		}
		return ""
	}
	k, _ := sc.str()
	sc.ws()
	if sc.peek() != ':' {
		sc.fail(sc.i, "expected ':' after an object key")
		return ""
	}
	sc.i++
	sc.ws()
	return k
}

// str reads the string at the quote s[i]. Without escapes the result is a
// substring of the line. Invalid UTF-8 is replaced by U+FFFD, as
// encoding/json does. special reports that the string may hold characters
// that callers clean (non-ASCII or escaped ones).
func (sc *scanner) str() (v string, special bool) {
	s := sc.s
	start := sc.i + 1
	ascii := true
	for i := start; i < len(s); i++ {
		c := s[i]
		if !strSpecial[c] {
			continue
		}
		switch {
		case c == '"':
			v = s[start:i]
			sc.i = i + 1
			if !ascii && !utf8.ValidString(v) {
				v = strings.ToValidUTF8(v, "\uFFFD")
			}
			return v, !ascii
		case c == '\\':
			return sc.strEscaped(start), true
		case c < 0x20:
			sc.fail(i, fmt.Sprintf("control character 0x%02x in a string: escape it as \\u%04x", c, c))
			return "", false
		default: // DEL or non-ASCII: callers clean the string
			ascii = false
		}
	}
	sc.fail(len(s), "unterminated string")
	return "", false
}

// strSpecial marks the bytes that end the fast path of str: the quote,
// the backslash, control characters, DEL and non-ASCII bytes.
var strSpecial = func() (t [256]bool) {
	for c := range t {
		t[c] = c == '"' || c == '\\' || c < 0x20 || c >= 0x7f
	}
	return t
}()

// strEscaped decodes a string with escapes into a new string.
func (sc *scanner) strEscaped(start int) string {
	s := sc.s
	b := sc.buf[:0]
	for i := start; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"':
			sc.i = i + 1
			sc.buf = b
			if !utf8.Valid(b) {
				return strings.ToValidUTF8(string(b), "\uFFFD")
			}
			return string(b)
		case c < 0x20:
			sc.fail(i, fmt.Sprintf("control character 0x%02x in a string: escape it as \\u%04x", c, c))
			return ""
		case c != '\\':
			b = append(b, c)
			continue
		}
		i++
		if i >= len(s) {
			break
		}
		switch s[i] {
		case '"', '\\', '/':
			b = append(b, s[i])
		case 'b':
			b = append(b, '\b')
		case 'f':
			b = append(b, '\f')
		case 'n':
			b = append(b, '\n')
		case 'r':
			b = append(b, '\r')
		case 't':
			b = append(b, '\t')
		case 'u':
			r, n := sc.unicodeEscape(i - 1)
			if n == 0 {
				return ""
			}
			b = utf8.AppendRune(b, r)
			i += n - 2
		default:
			sc.fail(i-1, "invalid escape \\"+string(rune(s[i]))+" in a string")
			return ""
		}
	}
	sc.fail(len(s), "unterminated string")
	return ""
}

// unicodeEscape decodes \uXXXX at s[i] (and a following low surrogate). It
// returns the rune and the bytes used; a lone surrogate becomes U+FFFD.
func (sc *scanner) unicodeEscape(i int) (rune, int) {
	r, ok := hex4(sc.s, i+2)
	if !ok {
		sc.fail(i, "invalid \\u escape: want four hex digits")
		return 0, 0
	}
	if !utf16.IsSurrogate(r) {
		return r, 6
	}
	if i+11 < len(sc.s) && sc.s[i+6] == '\\' && sc.s[i+7] == 'u' {
		if r2, ok := hex4(sc.s, i+8); ok {
			if d := utf16.DecodeRune(r, r2); d != utf8.RuneError {
				return d, 12
			}
		}
	}
	return utf8.RuneError, 6
}

func hex4(s string, i int) (rune, bool) {
	if i+4 > len(s) {
		return 0, false
	}
	var r rune
	for j := i; j < i+4; j++ {
		h := unhex(s[j])
		if h < 0 {
			return 0, false
		}
		r = r<<4 | rune(h)
	}
	return r, true
}

// number reads a number and returns its text.
func (sc *scanner) number() (raw string, isFloat bool) {
	end, isFloat, err := skipNumber(sc.s, sc.i)
	if err != nil {
		sc.fail(err.off, err.msg)
		return "", false
	}
	raw = sc.s[sc.i:end]
	sc.i = end
	return raw, isFloat
}

// literal reads true, false or null.
func (sc *scanner) literal(lit string) {
	end, err := skipLiteral(sc.s, sc.i, lit)
	if err != nil {
		sc.fail(err.off, err.msg)
		return
	}
	sc.i = end
}

// compactJSON returns JSON text without the whitespace between tokens, so
// arrays stored as text look the same however they were sent.
func compactJSON(raw string) string {
	inString, escaped, spaced := false, false, false
	for i := 0; i < len(raw) && !spaced; i++ {
		c := raw[i]
		switch {
		case escaped:
			escaped = false
		case inString && c == '\\':
			escaped = true
		case c == '"':
			inString = !inString
		case !inString && (c == ' ' || c == '\t' || c == '\n' || c == '\r'):
			spaced = true
		}
	}
	if !spaced {
		return raw
	}
	var b strings.Builder
	b.Grow(len(raw))
	inString, escaped = false, false
	for i := 0; i < len(raw); i++ {
		c := raw[i]
		switch {
		case escaped:
			escaped = false
		case inString && c == '\\':
			escaped = true
		case c == '"':
			inString = !inString
		case !inString && (c == ' ' || c == '\t' || c == '\n' || c == '\r'):
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}
