package search

import (
	"strings"
	"unicode"
	"unicode/utf8"
	"unsafe"
)

// Classes of ASCII bytes for the tokenizer's fast path.
const (
	classSep   = iota // separates tokens
	classLower        // lower-case letter, digit or '_': kept as it is
	classUpper        // upper-case letter: lowered
	classHigh         // first or later byte of a multi-byte rune: slow path
)

var byteClass = func() [256]uint8 {
	var t [256]uint8
	for c := 0; c < 256; c++ {
		switch {
		case c >= utf8.RuneSelf:
			t[c] = classHigh
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9', c == '_':
			t[c] = classLower
		case c >= 'A' && c <= 'Z':
			t[c] = classUpper
		}
	}
	return t
}()

// Tokenize appends the tokens of s to dst and returns the extended slice.
//
// It is the one tokenizer of logengine: the keyword index runs it over every
// message and the query parser runs it over every query word, so that a word
// is found exactly when the index holds it. Changing it changes what indexed
// data means: the whole index must then be rebuilt.
//
// A token is a maximal run of Unicode letters, decimal digits and '_',
// lower-cased rune by rune with unicode.ToLower. Everything else (spaces,
// punctuation, symbols, invalid UTF-8) separates tokens. "GET /api/v1/users
// 10.0.0.1 web-1 ÉTÉ" gives get, api, v1, users, 10, 0, 0, 1, web, 1, été.
//
// Tokens share memory with s where they need no lowering, and with one
// lowered copy of s where they do, so that tokenizing allocates at most that
// copy (plus a string per token with non-ASCII upper-case letters, and dst
// when it grows).
func Tokenize(s string, dst []string) []string {
	var lowered string // s with ASCII letters lowered, made when first needed
	i := 0
	for i < len(s) {
		c := s[i]
		switch byteClass[c] {
		case classSep:
			i++
			continue
		case classHigh:
			r, size := utf8.DecodeRuneInString(s[i:])
			if !isWordRune(r) {
				i += size
				continue
			}
		}

		// The fast path covers ASCII tokens: most log text is ASCII, and
		// this loop runs over every byte of every ingested message.
		start, upper := i, false
		for i < len(s) {
			k := byteClass[s[i]]
			if k == classLower {
				i++
				continue
			}
			if k == classUpper {
				upper = true
				i++
				continue
			}
			break
		}
		if i < len(s) && byteClass[s[i]] == classHigh {
			var tok string
			tok, i = unicodeToken(s, start)
			dst = append(dst, tok)
			continue
		}
		if upper {
			if lowered == "" {
				lowered = lowerASCII(s)
			}
			dst = append(dst, lowered[start:i])
		} else {
			dst = append(dst, s[start:i])
		}
	}
	return dst
}

// unicodeToken returns the lowered token that starts at s[start] and the
// offset just after it, for tokens with non-ASCII runes.
func unicodeToken(s string, start int) (string, int) {
	i := start
	for i < len(s) {
		if k := byteClass[s[i]]; k != classHigh {
			if k == classSep {
				break
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if !isWordRune(r) {
			break
		}
		i += size
	}
	// strings.ToLower maps with unicode.ToLower and returns its argument
	// unchanged, without allocating, when nothing needs lowering.
	return strings.ToLower(s[start:i]), i
}

// lowerASCII lowers the ASCII letters of s and keeps every other byte, so
// that offsets into s are offsets into the result.
func lowerASCII(s string) string {
	b := []byte(s)
	for i, c := range b {
		b[i] = c + lowerDelta[c]
	}
	// b is never written again, so it can back the string without the copy
	// that string(b) makes: this runs for most ingested messages.
	return unsafe.String(unsafe.SliceData(b), len(b))
}

// lowerDelta is what to add to a byte to lower it.
var lowerDelta = func() [256]byte {
	var t [256]byte
	for c := 'A'; c <= 'Z'; c++ {
		t[c] = 'a' - 'A'
	}
	return t
}()

// isWordRune reports whether r belongs in a token.
func isWordRune(r rune) bool {
	if r < utf8.RuneSelf {
		return byteClass[r] == classLower || byteClass[r] == classUpper
	}
	return unicode.IsLetter(r) || unicode.IsDigit(r)
}

// isTokenText reports whether s is non-empty and made only of runes that
// belong in tokens, so that it is exactly one token before lowering.
func isTokenText(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if !isWordRune(r) {
			return false
		}
	}
	return true
}
