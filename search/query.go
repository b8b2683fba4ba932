// Package search owns the query language, the planner and executor,
// aggregations, and the Bleve keyword index with its indexer.
package search

import (
	"strings"
	"time"
)

// Node is one node of a parsed query: a term (Word, Phrase, Prefix, Exists,
// Equal, ValuePrefix, Compare, MatchAll) or a combination of nodes (And, Or,
// Not). Parse builds the tree; Match evaluates it on one entry.
type Node interface {
	// String returns the node in the canonical query syntax. For trees
	// that Parse built, parsing it gives the same tree (the fuzz test
	// holds it to that); words print as their lower-case tokens.
	String() string

	// KeywordOnly reports whether the keyword index alone decides the node:
	// it is a word, phrase or prefix on the message, or an AND, OR or NOT of
	// such nodes. The planner can hand such a subtree to the index as a
	// whole; any other node needs the entry (or a secondary key) to decide.
	// Phrases are decided by the index only when it keeps token positions;
	// otherwise it returns entries with all the words, and Match on the
	// fetched entry settles the order.
	KeywordOnly() bool

	node()
}

// Names of the entry's own fields in Exists, Equal, ValuePrefix and Compare
// nodes. The parser maps the aliases "time" and "tags" onto them; any other
// name is looked up in the entry's Fields.
const (
	FieldLevel     = "level"     // the level name, compared by severity
	FieldSeverity  = "severity"  // the OpenTelemetry severity number of the level
	FieldSource    = "source"    // the source
	FieldTag       = "tag"       // any one of the tags
	FieldMessage   = "message"   // only in Exists: message words become Word, Phrase, Prefix
	FieldTimestamp = "timestamp" // the entry time
	FieldID        = "id"        // the entry id, in its 26-character text form
	FieldPattern   = "pattern"   // the id of the message's template (patterns.FormatID)
)

// UserFieldPrefix names a field of the entry's Fields explicitly, for one
// whose name is also one of the entry's own: `fields.id:req-42` is the
// field "id" a client sent, where `id:` is the entry id.
const UserFieldPrefix = "fields."

// ownFields are the names the parser and group_by give the entry's own
// fields, aliases included.
var ownFields = map[string]bool{
	FieldLevel: true, FieldSeverity: true, FieldSource: true, FieldTag: true, "tags": true,
	FieldMessage: true, FieldTimestamp: true, "time": true, FieldID: true, FieldPattern: true,
}

// CanonicalField returns the name under which a field is looked up:
// "fields.host" is "host", while "fields.id" stays as it is because "id"
// would be the entry id.
func CanonicalField(name string) string {
	if rest, ok := strings.CutPrefix(name, UserFieldPrefix); ok && rest != "" && !ownFields[rest] {
		return rest
	}
	return name
}

// MatchAll matches every entry: the empty query, or "*".
type MatchAll struct{}

// Word matches entries whose message has Token among its tokens (see
// Tokenize). Token is lower-case: it is the only token of the query word.
type Word struct {
	Token string
}

// Phrase matches entries whose message tokens contain Tokens adjacent and in
// order. A query word or quoted text that tokenizes into two or more tokens
// is a phrase: `"connection reset"`, `10.0.0.1`, `web-1`.
type Phrase struct {
	Tokens []string
}

// Prefix matches entries with a message token that starts with Prefix, which
// is one lower-case token (`time*` matches "timeout").
type Prefix struct {
	Prefix string
}

// Exists matches entries that have the field: `host:*`. The entry's own
// fields always exist except source (when empty), message (when empty) and
// tag (when there are no tags).
type Exists struct {
	Field string
}

// Equal is `field:value`: the field's whole value equals Value, case
// sensitively. Numbers compare as numbers, so `status:404` matches the
// integer 404 and the string "404", and `latency:0.5` the float 0.5. With
// tag, any one tag must equal the value.
type Equal struct {
	Field string
	Value Literal

	// resolve, for pattern, maps a stored template id onto the live one
	// (templates merge, and the older id becomes an alias); set by the
	// engine when a query is prepared, nil matches ids as stored.
	resolve func(uint64) (uint64, bool)
}

// ValuePrefix is `field:value*`: the field's value in its text form
// (storage.Value.Text; the level name; the timestamp in RFC 3339 UTC; the id
// text) starts with Prefix. With tag, any one tag must start with it.
type ValuePrefix struct {
	Field  string
	Prefix string
}

// Compare is `field>value` and the other comparisons. Numbers compare with
// numeric fields, other values lexically with string fields; any other
// pairing, and a missing field, is false. Level and severity compare by
// severity number, timestamp by time, id by id order.
type Compare struct {
	Field string
	Op    Op
	Value Literal
}

// And matches entries that match all of Nodes (and every entry when Nodes is
// empty). The parser never nests an And directly in an And.
type And struct {
	Nodes []Node
}

// Or matches entries that match any of Nodes (and no entry when Nodes is
// empty). The parser never nests an Or directly in an Or.
type Or struct {
	Nodes []Node
}

// Not matches entries that do not match Node: `NOT x` or `-x`.
type Not struct {
	Node Node
}

// Op is the operator of a Compare.
type Op uint8

// The comparison operators.
const (
	OpLess Op = iota + 1
	OpLessEqual
	OpGreater
	OpGreaterEqual
)

func (o Op) String() string {
	switch o {
	case OpLess:
		return "<"
	case OpLessEqual:
		return "<="
	case OpGreater:
		return ">"
	case OpGreaterEqual:
		return ">="
	}
	return "?"
}

// Literal is the value of an Equal or Compare, parsed once into the forms
// the field can be compared with. Quoting does not change it: `status:"404"`
// is the same literal as `status:404`.
type Literal struct {
	// Text is the value as written, without quotes; for level the canonical
	// level name, for timestamp RFC 3339 in UTC, for id the canonical id.
	Text string
	// Number holds the value when IsNumber: Text is a decimal number, or
	// the field is level and Number is the level's severity.
	Number   float64
	IsNumber bool
	// Int holds the value when IsInt: Text is an integer that fits in int64
	// (so that large integers compare exactly), or the field is level.
	Int   int64
	IsInt bool
	// Time is set for timestamp.
	Time time.Time
}

func (*MatchAll) node()    {}
func (*Word) node()        {}
func (*Phrase) node()      {}
func (*Prefix) node()      {}
func (*Exists) node()      {}
func (*Equal) node()       {}
func (*ValuePrefix) node() {}
func (*Compare) node()     {}
func (*And) node()         {}
func (*Or) node()          {}
func (*Not) node()         {}

// KeywordOnly is false: matching everything needs no index.
func (*MatchAll) KeywordOnly() bool    { return false }
func (*Word) KeywordOnly() bool        { return true }
func (*Phrase) KeywordOnly() bool      { return true }
func (*Prefix) KeywordOnly() bool      { return true }
func (*Exists) KeywordOnly() bool      { return false }
func (*Equal) KeywordOnly() bool       { return false }
func (*ValuePrefix) KeywordOnly() bool { return false }
func (*Compare) KeywordOnly() bool     { return false }
func (n *And) KeywordOnly() bool       { return allKeywordOnly(n.Nodes) }
func (n *Or) KeywordOnly() bool        { return allKeywordOnly(n.Nodes) }
func (n *Not) KeywordOnly() bool       { return n.Node.KeywordOnly() }

func allKeywordOnly(nodes []Node) bool {
	for _, n := range nodes {
		if !n.KeywordOnly() {
			return false
		}
	}
	return len(nodes) > 0
}

// Requirements returns the positive constraints that n requires of every
// matching entry: n itself for a term or an Or, and for an And the
// requirements of its parts. Negations and MatchAll require nothing that an
// index could look up, so they are left out; an empty result means that
// candidates have to come from a scan of the time range.
//
// Every entry that matches n matches each returned node, so the planner may
// fetch candidates from the index (keyword, secondary key or time range) of
// any one of them, or intersect several, and must then keep only the
// candidates for which Match(n, e) holds.
func Requirements(n Node) []Node {
	return appendRequirements(nil, n)
}

func appendRequirements(dst []Node, n Node) []Node {
	switch n := n.(type) {
	case *And:
		for _, c := range n.Nodes {
			dst = appendRequirements(dst, c)
		}
	case *Not, *MatchAll:
	default:
		dst = append(dst, n)
	}
	return dst
}

func (*MatchAll) String() string { return "*" }
func (n *Word) String() string   { return n.Token }
func (n *Phrase) String() string { return quote(strings.Join(n.Tokens, " ")) }
func (n *Prefix) String() string { return n.Prefix + "*" }
func (n *Exists) String() string { return n.Field + ":*" }
func (n *Equal) String() string  { return n.Field + ":" + quoteValue(n.Value.Text) }

func (n *ValuePrefix) String() string {
	return n.Field + ":" + quoteValue(n.Prefix) + "*"
}

func (n *Compare) String() string {
	return n.Field + n.Op.String() + quoteValue(n.Value.Text)
}

func (n *And) String() string {
	var b strings.Builder
	for i, c := range n.Nodes {
		if i > 0 {
			b.WriteByte(' ')
		}
		// OR binds looser than AND, so it needs parentheses here.
		if _, ok := c.(*Or); ok {
			b.WriteString("(" + c.String() + ")")
		} else {
			b.WriteString(c.String())
		}
	}
	return b.String()
}

func (n *Or) String() string {
	var b strings.Builder
	for i, c := range n.Nodes {
		if i > 0 {
			b.WriteString(" OR ")
		}
		b.WriteString(c.String())
	}
	return b.String()
}

func (n *Not) String() string {
	switch n.Node.(type) {
	case *And, *Or:
		return "-(" + n.Node.String() + ")"
	}
	return "-" + n.Node.String()
}

// quoteValue returns s as it must be written after "field:" or an operator
// to be read back as the same value: bare when the lexer would take it as it
// is, else quoted.
func quoteValue(s string) string {
	if s == "" {
		return `""`
	}
	switch s[0] {
	case '<', '>', '=': // would be read as (part of) the operator
		return quote(s)
	}
	for _, r := range s {
		if isSpace(r) || r == '(' || r == ')' || r == '"' || r == '*' || r == '\\' {
			return quote(s)
		}
	}
	return s
}

// quote puts s in double quotes with '"' and '\' escaped by a backslash, the
// one escape the lexer knows.
func quote(s string) string {
	var b strings.Builder
	b.Grow(len(s) + 2)
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		if s[i] == '"' || s[i] == '\\' {
			b.WriteByte('\\')
		}
		b.WriteByte(s[i])
	}
	b.WriteByte('"')
	return b.String()
}
