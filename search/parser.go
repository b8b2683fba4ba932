package search

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/logengine/logengine/patterns"
	"github.com/logengine/logengine/storage"
)

// Limits of a query. They bound the work of parsing and the recursion of
// everything that walks the tree (Match, String, the planner).
const (
	MaxQueryLength = 4096 // bytes
	MaxQueryDepth  = 64   // nested parentheses and NOTs
)

// SyntaxError is a query that cannot be parsed. It blames the caller, so
// it answers 400 over HTTP.
type SyntaxError struct {
	Pos  int    // 1-based character (not byte) offset in the query where it failed
	Msg  string // what is wrong
	Hint string // how to fix it; may be empty
}

func (e *SyntaxError) Error() string {
	s := e.Msg + " at position " + strconv.Itoa(e.Pos)
	if e.Hint != "" {
		s += ": " + e.Hint
	}
	return s
}

// InvalidInput marks the error as the caller's to fix.
func (e *SyntaxError) InvalidInput() bool { return true }

// Parse parses a query of the query language (README.md, "Query language"):
//
//	query   = [ or ]                     empty: MatchAll
//	or      = and { "OR" and }
//	and     = unary { [ "AND" ] unary }   juxtaposition is AND
//	unary   = ( "NOT" | "-" ) unary | primary
//	primary = "(" or ")" | term
//	term    = word | word* | "quoted text" | field ( ":" | ">" | ">=" | "<" | "<=" ) value
//	value   = bare | "quoted" ; after ":" also * , bare* , "quoted"*
//
// So NOT binds tighter than AND, and AND tighter than OR: `a b OR c` is
// `(a AND b) OR c`. AND, OR and NOT are keywords only in upper case. A '-'
// negates when it directly precedes a term or '('. Quoting protects spaces,
// parentheses, keywords and '*' but does not change the type of a value:
// `status:"404"` is `status:404`.
//
// A word (bare or quoted, alone or after "message:") is tokenized with
// Tokenize: one token gives a Word, several a Phrase, none an error. `word*`
// is a Prefix and must be one token. `field:*` is Exists, `field:value*` a
// ValuePrefix, `field:value` an Equal and `field>value` a Compare. Values of
// level must be level names, of severity numbers, of timestamp RFC 3339
// times (or dates) and of id ids.
//
// Errors are *SyntaxError.
func Parse(q string) (Node, error) {
	if len(q) > MaxQueryLength {
		return nil, newSyntaxError(q, MaxQueryLength, "", "query is longer than %d bytes", MaxQueryLength)
	}
	p := &parser{lex: lexer{q: q}}
	if err := p.advance(); err != nil {
		return nil, err
	}
	if p.tok.kind == tokEOF {
		return &MatchAll{}, nil
	}
	n, err := p.or()
	if err != nil {
		return nil, err
	}
	if p.tok.kind != tokEOF {
		// or() stops only at the end or at a ')' without its '('.
		return nil, p.unexpected()
	}
	return n, nil
}

type parser struct {
	lex   lexer
	tok   token // the next token, not yet consumed
	prev  token // the token consumed last, for "expected ... after" errors
	depth int
}

func (p *parser) advance() error {
	p.prev = p.tok
	t, err := p.lex.next()
	if err != nil {
		return err
	}
	p.tok = t
	return nil
}

func (p *parser) or() (Node, error) {
	n, err := p.and()
	if err != nil {
		return nil, err
	}
	if p.tok.kind != tokOr {
		return n, nil
	}
	nodes := appendOr(nil, n)
	for p.tok.kind == tokOr {
		if err := p.advance(); err != nil {
			return nil, err
		}
		n, err := p.and()
		if err != nil {
			return nil, err
		}
		nodes = appendOr(nodes, n)
	}
	return &Or{Nodes: nodes}, nil
}

func (p *parser) and() (Node, error) {
	n, err := p.unary()
	if err != nil {
		return nil, err
	}
	var nodes []Node
	for {
		switch p.tok.kind {
		case tokAnd:
			if err := p.advance(); err != nil {
				return nil, err
			}
		case tokTerm, tokLParen, tokNot, tokMinus:
		default:
			if nodes == nil {
				return n, nil
			}
			return &And{Nodes: nodes}, nil
		}
		if nodes == nil {
			nodes = appendAnd(nil, n)
		}
		n, err := p.unary()
		if err != nil {
			return nil, err
		}
		nodes = appendAnd(nodes, n)
	}
}

// appendAnd appends n to nodes, or its parts when it is an And, so that
// `(a b) c` is one And of three.
func appendAnd(nodes []Node, n Node) []Node {
	if a, ok := n.(*And); ok {
		return append(nodes, a.Nodes...)
	}
	return append(nodes, n)
}

// appendOr is appendAnd for Or.
func appendOr(nodes []Node, n Node) []Node {
	if o, ok := n.(*Or); ok {
		return append(nodes, o.Nodes...)
	}
	return append(nodes, n)
}

func (p *parser) unary() (Node, error) {
	if p.tok.kind != tokNot && p.tok.kind != tokMinus {
		return p.primary()
	}
	if err := p.enter(); err != nil {
		return nil, err
	}
	if err := p.advance(); err != nil {
		return nil, err
	}
	n, err := p.unary()
	if err != nil {
		return nil, err
	}
	p.depth--
	return &Not{Node: n}, nil
}

func (p *parser) primary() (Node, error) {
	switch p.tok.kind {
	case tokTerm:
		n, err := p.term(p.tok)
		if err != nil {
			return nil, err
		}
		return n, p.advance()
	case tokLParen:
		open := p.tok.pos
		if err := p.enter(); err != nil {
			return nil, err
		}
		if err := p.advance(); err != nil {
			return nil, err
		}
		n, err := p.or()
		if err != nil {
			return nil, err
		}
		if p.tok.kind != tokRParen {
			// or() stops only at ')' or the end.
			return nil, p.errorf(p.tok.pos, fmt.Sprintf("close the '(' at position %d", position(p.lex.q, open)), "expected ')'")
		}
		p.depth--
		return n, p.advance()
	case tokEOF:
		return nil, p.errorf(p.tok.pos, "", "expected a term after %s", describe(p.prev))
	}
	return nil, p.unexpected()
}

// enter counts one more level of nesting at the current token.
func (p *parser) enter() error {
	p.depth++
	if p.depth > MaxQueryDepth {
		return p.errorf(p.tok.pos, "", "query nests parentheses and NOTs deeper than %d levels", MaxQueryDepth)
	}
	return nil
}

func (p *parser) unexpected() error {
	hint := ""
	if p.tok.kind == tokAnd || p.tok.kind == tokOr {
		hint = fmt.Sprintf(`%s joins two terms; to search for the word, quote it: "%s"`, describe(p.tok), describe(p.tok))
	}
	return p.errorf(p.tok.pos, hint, "unexpected %s", describe(p.tok))
}

// describe names a token in errors.
func describe(t token) string {
	switch t.kind {
	case tokLParen:
		return "'('"
	case tokRParen:
		return "')'"
	case tokAnd:
		return "AND"
	case tokOr:
		return "OR"
	case tokNot:
		return "NOT"
	case tokMinus:
		return "'-'"
	case tokEOF:
		return "the end"
	}
	return "a term"
}

func (p *parser) errorf(off int, hint, format string, args ...any) *SyntaxError {
	return newSyntaxError(p.lex.q, off, hint, format, args...)
}

// term gives a term token its meaning.
func (p *parser) term(t token) (Node, error) {
	if t.field == "" {
		return p.messageTerm(t)
	}
	field := CanonicalField(t.field)
	switch field {
	case "time":
		field = FieldTimestamp
	case "tags":
		field = FieldTag
	}
	if t.op == opMatch && t.star && t.value == "" {
		return &Exists{Field: field}, nil
	}
	if field == FieldMessage {
		if t.op != opMatch {
			return nil, p.errorf(t.pos+len(t.field), "search words with message:word", "message cannot be compared with %q", t.op)
		}
		return p.messageTerm(t)
	}
	if field == FieldPattern && (t.star || t.op != opMatch) {
		return nil, p.errorf(t.valuePos, "use pattern:p3f9 (pattern:* for entries with any)", "a pattern id is matched whole, with ':'")
	}
	if t.star {
		if t.op != opMatch {
			return nil, p.errorf(t.starPos, "", "'*' in a comparison")
		}
		prefix := t.value
		switch field {
		case FieldLevel:
			prefix = strings.ToLower(prefix) // level names are lower case
		case FieldID:
			prefix = strings.ToUpper(prefix) // id text is upper case
		}
		return &ValuePrefix{Field: field, Prefix: prefix}, nil
	}
	lit, err := p.literal(field, t)
	if err != nil {
		return nil, err
	}
	if t.op == opMatch {
		return &Equal{Field: field, Value: lit}, nil
	}
	return &Compare{Field: field, Op: t.op, Value: lit}, nil
}

// messageTerm turns a word, a quoted text or the value of "message:" into a
// Word, Phrase or Prefix by the tokens the index holds for it.
func (p *parser) messageTerm(t token) (Node, error) {
	if t.star {
		if t.value == "" {
			return &MatchAll{}, nil // "*" alone; "message:*" is Exists
		}
		if !isTokenText(t.value) {
			return nil, p.errorf(t.valuePos, "for a prefix of a field value use field:value*",
				"prefix %q is not a single word of letters, digits and '_'", t.value)
		}
		return &Prefix{Prefix: Tokenize(t.value, nil)[0]}, nil
	}
	tokens := Tokenize(t.value, nil)
	switch len(tokens) {
	case 0:
		hint := ""
		switch t.value {
		case ":", "<", "<=", ">", ">=":
			hint = "write comparisons without spaces, like status>=500"
		}
		return nil, p.errorf(t.valuePos, hint, "%q has no letters or digits to search for", t.value)
	case 1:
		return &Word{Token: tokens[0]}, nil
	}
	return &Phrase{Tokens: tokens}, nil
}

// literal parses the value of an Equal or Compare on field.
func (p *parser) literal(field string, t token) (Literal, error) {
	lit := Literal{Text: t.value}
	switch field {
	case FieldLevel:
		l, ok := levelNames[strings.ToLower(t.value)]
		if !ok {
			return Literal{}, p.errorf(t.valuePos, "use trace, debug, info, warn, error or fatal", "unknown level %q", t.value)
		}
		lit.Text = l.String()
		lit.Number, lit.IsNumber = float64(l), true
		lit.Int, lit.IsInt = int64(l), true
	case FieldTimestamp:
		tm, ok := parseTime(t.value)
		if !ok {
			return Literal{}, p.errorf(t.valuePos, "use RFC 3339, like 2026-11-26T10:00:00Z, or a date, like 2026-11-26", "invalid time %q", t.value)
		}
		lit.Time = tm
		lit.Text = tm.Format(time.RFC3339Nano)
	case FieldID:
		id, err := storage.ParseID(t.value)
		if err != nil {
			return Literal{}, p.errorf(t.valuePos, "an id has 26 characters of Crockford base32", "invalid id %q", t.value)
		}
		lit.Text = id.String()
	case FieldPattern:
		id, err := patterns.ParseID(t.value)
		if err != nil {
			return Literal{}, p.errorf(t.valuePos, "a pattern id is p and base-36 digits, as /api/v1/patterns lists them (p3f9)", "invalid pattern id %q", t.value)
		}
		lit.Text = patterns.FormatID(id)
		lit.Int = int64(id) // ids fit: the store keeps 32 bits
	default:
		parseNumber(&lit)
		if field == FieldSeverity && !lit.IsNumber {
			return Literal{}, p.errorf(t.valuePos, "severity is a number from 1 (trace) to 24 (fatal), like severity>=13",
				"expected a number after %q, got %q", p.lex.q[t.pos:t.valuePos], t.value)
		}
	}
	return lit, nil
}

// levelNames maps the level names and aliases of queries (README.md,
// "Query language") onto levels.
var levelNames = map[string]storage.Level{
	"trace":    storage.LevelTrace,
	"debug":    storage.LevelDebug,
	"info":     storage.LevelInfo,
	"notice":   storage.LevelInfo,
	"warn":     storage.LevelWarn,
	"warning":  storage.LevelWarn,
	"error":    storage.LevelError,
	"err":      storage.LevelError,
	"severe":   storage.LevelError,
	"fatal":    storage.LevelFatal,
	"crit":     storage.LevelFatal,
	"critical": storage.LevelFatal,
	"alert":    storage.LevelFatal,
	"emerg":    storage.LevelFatal,
	"panic":    storage.LevelFatal,
	"failure":  storage.LevelFatal,
}

// parseTime accepts RFC 3339 with optional fractional seconds, and a bare
// date as midnight UTC. The result is in UTC.
func parseTime(s string) (time.Time, bool) {
	layout := time.RFC3339Nano
	if len(s) == len(time.DateOnly) {
		layout = time.DateOnly
	}
	tm, err := time.Parse(layout, s)
	if err != nil {
		return time.Time{}, false
	}
	return tm.UTC(), true
}

// parseNumber fills the numeric members of lit when its text is a decimal
// number: an optional sign, digits with an optional fraction, an optional
// exponent. Forms that strconv also accepts (hex, "inf", "nan",
// underscores) stay text, and so do numbers too large for a float64.
func parseNumber(lit *Literal) {
	s := lit.Text
	i := 0
	if i < len(s) && (s[i] == '+' || s[i] == '-') {
		i++
	}
	digits := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i, digits = i+1, digits+1
	}
	integer := i == len(s) && digits > 0
	if i < len(s) && s[i] == '.' {
		i++
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i, digits = i+1, digits+1
		}
	}
	if digits == 0 {
		return
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		exp := 0
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i, exp = i+1, exp+1
		}
		if exp == 0 {
			return
		}
	}
	if i != len(s) {
		return
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil { // out of range
		return
	}
	lit.Number, lit.IsNumber = f, true
	if integer {
		if n, err := strconv.ParseInt(s, 10, 64); err == nil {
			lit.Int, lit.IsInt = n, true
		}
	}
}
