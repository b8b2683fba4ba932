package search

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

type tokenKind uint8

const (
	tokEOF    tokenKind = iota
	tokLParen           // (
	tokRParen           // )
	tokAnd              // AND
	tokOr               // OR
	tokNot              // NOT
	tokMinus            // '-' directly before a term or '('
	tokTerm             // a word, a quoted text or a field term
)

// opMatch is the ':' of a field term, next to the comparisons of Op.
const opMatch Op = 0

// token is one lexical unit of a query. The lexer does the character-level
// work of a term (field name, operator, quoting, a trailing '*'); the parser
// gives it its meaning.
type token struct {
	kind tokenKind
	pos  int // byte offset of the first character

	// Terms only.
	field    string // field name as written; empty for a message word
	op       Op     // opMatch or a comparison; meaningful with field
	value    string // the value or word, unquoted, without a trailing '*'
	valuePos int    // byte offset of the value (of its opening quote if quoted)
	star     bool   // the value ended with a '*' outside quotes
	starPos  int    // byte offset of that '*'
}

// lexer splits a query into tokens on demand. Whitespace separates tokens;
// '(' and ')' are tokens of their own; everything else up to the next of
// those (or a '"') is a bare run, which is a keyword, a field term or a word.
type lexer struct {
	q   string
	off int // byte offset of the next unread character
}

func (l *lexer) next() (token, error) {
	for l.off < len(l.q) {
		r, size := utf8.DecodeRuneInString(l.q[l.off:])
		if !isSpace(r) {
			break
		}
		l.off += size
	}
	start := l.off
	if start == len(l.q) {
		return token{kind: tokEOF, pos: start}, nil
	}
	switch l.q[start] {
	case '(':
		l.off++
		return token{kind: tokLParen, pos: start}, nil
	case ')':
		l.off++
		return token{kind: tokRParen, pos: start}, nil
	case '"':
		return l.quoted(token{kind: tokTerm, pos: start}, start)
	case '-':
		// A '-' negates only what directly follows it: alone, or before a
		// space or ')', it is a word (which then has no token to search).
		if start+1 < len(l.q) {
			r, _ := utf8.DecodeRuneInString(l.q[start+1:])
			if !isSpace(r) && r != ')' {
				l.off++
				return token{kind: tokMinus, pos: start}, nil
			}
		}
	}
	return l.bare(start)
}

// bare lexes the run of characters at start up to whitespace, a
// parenthesis, a quote or the end.
func (l *lexer) bare(start int) (token, error) {
	end := start
	for end < len(l.q) {
		r, size := utf8.DecodeRuneInString(l.q[end:])
		if isSpace(r) || r == '(' || r == ')' || r == '"' {
			break
		}
		end += size
	}
	l.off = end
	w := l.q[start:end]
	switch w {
	case "AND":
		return token{kind: tokAnd, pos: start}, nil
	case "OR":
		return token{kind: tokOr, pos: start}, nil
	case "NOT":
		return token{kind: tokNot, pos: start}, nil
	}

	t := token{kind: tokTerm, pos: start, value: w, valuePos: start}
	// A field term is a field name, then ':' or a comparison, then the
	// value. The name must start with a letter, so that "10:30" or ":)" stay
	// words.
	if k := strings.IndexAny(w, ":<>"); k > 0 && isFieldName(w[:k]) {
		n, op := lexOp(w[k:])
		t.field, t.op = w[:k], op
		t.valuePos = start + k + n
		t.value = w[k+n:]
		if t.value == "" {
			if end < len(l.q) && l.q[end] == '"' {
				return l.quoted(t, end)
			}
			return token{}, l.errorf(t.valuePos, "", "expected a value after %q", l.q[start:t.valuePos])
		}
	}
	if end < len(l.q) && l.q[end] == '"' {
		return token{}, l.errorf(end, `put the whole word or value in quotes, like host:"a b"`, "unexpected '\"'")
	}
	if strings.HasSuffix(t.value, "*") {
		t.star, t.starPos = true, end-1
		t.value = t.value[:len(t.value)-1]
	}
	if i := strings.IndexByte(t.value, '*'); i >= 0 {
		if t.field != "" {
			return token{}, l.errorf(t.valuePos+i, `quote the value to match a '*' in it, like path:"/a*b"`, "'*' inside a value")
		}
		return token{}, l.errorf(t.valuePos+i, "use it at the end of a word for a prefix, like time*", "'*' inside a word")
	}
	return t, nil
}

// quoted lexes the quoted value of t whose opening quote is at q[open], and
// an optional '*' directly after the closing quote. A backslash makes the
// next character literal, so `\"` is a quote and `\\` a backslash.
func (l *lexer) quoted(t token, open int) (token, error) {
	var b strings.Builder
	from := open + 1 // start of the text not yet copied into b
	i, closed := open+1, false
	for i < len(l.q) {
		c := l.q[i]
		if c == '"' {
			closed = true
			break
		}
		if c == '\\' && i+1 < len(l.q) {
			// Drop the backslash; the byte after it is copied with the
			// text that follows.
			b.WriteString(l.q[from:i])
			from = i + 1
			i += 2
			continue
		}
		i++
	}
	if !closed {
		return token{}, l.errorf(open, `end the value with '"' (write \" for a quote inside it)`, "unterminated quote starting")
	}
	if b.Len() == 0 {
		t.value = l.q[from:i]
	} else {
		b.WriteString(l.q[from:i])
		t.value = b.String()
	}
	t.valuePos = open
	i++ // the closing quote
	if i < len(l.q) && l.q[i] == '*' {
		t.star, t.starPos = true, i
		i++
	}
	l.off = i
	if i < len(l.q) {
		r, _ := utf8.DecodeRuneInString(l.q[i:])
		if !isSpace(r) && r != '(' && r != ')' {
			return token{}, l.errorf(i, "separate terms with a space", "unexpected %q after the closing quote", r)
		}
	}
	return t, nil
}

// lexOp returns the length and kind of the operator at the start of s, which
// starts with ':', '<' or '>'. After ':' a comparison may follow
// (`status:>=500`, as Elasticsearch writes it).
func lexOp(s string) (int, Op) {
	n, op := 0, opMatch
	if s[0] == ':' {
		n = 1
		if len(s) == 1 || (s[1] != '<' && s[1] != '>') {
			return 1, opMatch
		}
	}
	switch {
	case s[n] == '<' && n+1 < len(s) && s[n+1] == '=':
		n, op = n+2, OpLessEqual
	case s[n] == '<':
		n, op = n+1, OpLess
	case n+1 < len(s) && s[n+1] == '=':
		n, op = n+2, OpGreaterEqual
	default:
		n, op = n+1, OpGreater
	}
	return n, op
}

// isFieldName reports whether s can name a field: a letter, '_' or '@',
// then letters, digits and "_.-@". JSON keys with other characters cannot
// be queried by name.
func isFieldName(s string) bool {
	for i, r := range s {
		switch {
		case unicode.IsLetter(r), r == '_', r == '@':
		case i > 0 && (unicode.IsDigit(r) || r == '.' || r == '-'):
		default:
			return false
		}
	}
	return s != ""
}

// isSpace reports whether r separates tokens of a query.
func isSpace(r rune) bool {
	return unicode.IsSpace(r)
}

func (l *lexer) errorf(off int, hint, format string, args ...any) *SyntaxError {
	return newSyntaxError(l.q, off, hint, format, args...)
}

// newSyntaxError reports an error at the byte offset off of q.
func newSyntaxError(q string, off int, hint, format string, args ...any) *SyntaxError {
	return &SyntaxError{Pos: position(q, off), Msg: fmt.Sprintf(format, args...), Hint: hint}
}

// position turns the byte offset off of q into the 1-based character
// position users count, the way range over a string counts characters (an
// invalid byte is one).
func position(q string, off int) int {
	pos := 1
	for i := range q {
		if i >= off {
			break
		}
		pos++
	}
	return pos
}
