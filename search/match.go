package search

import (
	"cmp"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/logengine/logengine/storage"
)

// Match reports whether the entry matches the query n. It is the reference
// semantics of the query language: the executor applies it to fetched
// entries as the residual filter, and tests compare every faster path with
// it.
func Match(n Node, e *storage.Entry) bool {
	m := matcher{e: e}
	return m.match(n)
}

// matcher evaluates one node tree on one entry, tokenizing the message at
// most once however many words the query has.
type matcher struct {
	e *storage.Entry
	// tokenize, when set, returns the message's tokens in place of
	// Tokenize (see Filter.Match).
	tokenize  func() []string
	tokens    []string
	tokenized bool
}

func (m *matcher) messageTokens() []string {
	if !m.tokenized {
		if m.tokenize != nil {
			m.tokens = m.tokenize()
		} else {
			m.tokens = Tokenize(m.e.Message, make([]string, 0, 16))
		}
		m.tokenized = true
	}
	return m.tokens
}

func (m *matcher) match(n Node) bool {
	switch n := n.(type) {
	case *MatchAll:
		return true
	case *Word:
		for _, t := range m.messageTokens() {
			if t == n.Token {
				return true
			}
		}
		return false
	case *Phrase:
		return containsPhrase(m.messageTokens(), n.Tokens)
	case *Prefix:
		for _, t := range m.messageTokens() {
			if strings.HasPrefix(t, n.Prefix) {
				return true
			}
		}
		return false
	case *Exists:
		return m.exists(n.Field)
	case *Equal:
		return m.equal(n)
	case *ValuePrefix:
		return m.valuePrefix(n)
	case *Compare:
		return m.compare(n)
	case *And:
		for _, c := range n.Nodes {
			if !m.match(c) {
				return false
			}
		}
		return true
	case *Or:
		for _, c := range n.Nodes {
			if m.match(c) {
				return true
			}
		}
		return false
	case *Not:
		return !m.match(n.Node)
	}
	panic(fmt.Sprintf("BUG: search.Match: unknown node type %T", n))
}

func containsPhrase(tokens, phrase []string) bool {
	if len(phrase) == 0 {
		return true
	}
outer:
	for i := 0; i+len(phrase) <= len(tokens); i++ {
		for j, p := range phrase {
			if tokens[i+j] != p {
				continue outer
			}
		}
		return true
	}
	return false
}

func (m *matcher) exists(field string) bool {
	e := m.e
	switch field {
	case FieldLevel, FieldSeverity, FieldTimestamp, FieldID:
		return true
	case FieldPattern:
		return e.Pattern != 0
	case FieldSource:
		return e.Source != ""
	case FieldMessage:
		return e.Message != ""
	case FieldTag:
		return len(e.Tags) > 0
	}
	_, ok := userField(e, field)
	return ok
}

func (m *matcher) equal(n *Equal) bool {
	e, lit := m.e, n.Value
	switch n.Field {
	case FieldLevel, FieldSeverity:
		return lit.IsNumber && float64(e.Level) == lit.Number
	case FieldSource:
		return e.Source == lit.Text
	case FieldTag:
		for _, t := range e.Tags {
			if t == lit.Text {
				return true
			}
		}
		return false
	case FieldTimestamp:
		return e.Time.Equal(lit.Time)
	case FieldID:
		return e.ID.String() == lit.Text
	case FieldPattern:
		return e.Pattern != 0 && resolvePattern(n.resolve, e.Pattern) == uint64(lit.Int)
	case FieldMessage:
		return false // the parser makes message values Word, Phrase or Prefix
	}
	v, ok := userField(e, n.Field)
	return ok && valueEqual(v, lit)
}

// valueEqual reports whether a user field's value equals a literal, as
// field:value asks.
func valueEqual(v storage.Value, lit Literal) bool {
	switch v.Kind {
	case storage.KindString:
		return v.Str == lit.Text
	case storage.KindInt, storage.KindFloat:
		c, ok := compareNumber(v, lit)
		return ok && c == 0
	case storage.KindBool:
		return v.Text() == lit.Text
	}
	return false
}

func (m *matcher) valuePrefix(n *ValuePrefix) bool {
	e := m.e
	switch n.Field {
	case FieldLevel:
		return strings.HasPrefix(e.Level.String(), n.Prefix)
	case FieldSeverity:
		return strings.HasPrefix(strconv.Itoa(int(e.Level)), n.Prefix)
	case FieldSource:
		return strings.HasPrefix(e.Source, n.Prefix)
	case FieldTag:
		for _, t := range e.Tags {
			if strings.HasPrefix(t, n.Prefix) {
				return true
			}
		}
		return false
	case FieldTimestamp:
		return strings.HasPrefix(e.Time.UTC().Format(time.RFC3339Nano), n.Prefix)
	case FieldID:
		return strings.HasPrefix(e.ID.String(), n.Prefix)
	case FieldMessage:
		return false // the parser makes message prefixes Prefix
	}
	v, ok := userField(e, n.Field)
	return ok && valueHasPrefix(v, n.Prefix)
}

// valueHasPrefix reports whether a user field's value starts with prefix
// in its text form, as field:prefix* asks.
func valueHasPrefix(v storage.Value, prefix string) bool {
	return strings.HasPrefix(v.Text(), prefix)
}

func (m *matcher) compare(n *Compare) bool {
	e, lit := m.e, n.Value
	switch n.Field {
	case FieldLevel, FieldSeverity:
		return lit.IsNumber && holds(cmp.Compare(float64(e.Level), lit.Number), n.Op)
	case FieldSource:
		return !lit.IsNumber && holds(strings.Compare(e.Source, lit.Text), n.Op)
	case FieldTag:
		if lit.IsNumber {
			return false
		}
		for _, t := range e.Tags {
			if holds(strings.Compare(t, lit.Text), n.Op) {
				return true
			}
		}
		return false
	case FieldTimestamp:
		return holds(e.Time.Compare(lit.Time), n.Op)
	case FieldID:
		// The text form of ids sorts like the ids.
		return holds(strings.Compare(e.ID.String(), lit.Text), n.Op)
	case FieldMessage:
		return false // the parser refuses comparisons on the message
	}
	v, ok := userField(e, n.Field)
	return ok && valueCompare(v, n.Op, lit)
}

// valueCompare reports whether a user field's value compares with a
// literal as op asks.
func valueCompare(v storage.Value, op Op, lit Literal) bool {
	switch v.Kind {
	case storage.KindString:
		// A string is compared with strings only: "10" > 9 would
		// otherwise depend on how the value happened to be sent.
		return !lit.IsNumber && holds(strings.Compare(v.Str, lit.Text), op)
	case storage.KindInt, storage.KindFloat:
		c, ok := compareNumber(v, lit)
		return ok && holds(c, op)
	}
	return false
}

// compareNumber compares a numeric field value with a literal. It reports
// false when the literal is not a number or the value is NaN. Integers
// compare exactly with integer literals, beyond float64 precision.
func compareNumber(v storage.Value, lit Literal) (int, bool) {
	switch v.Kind {
	case storage.KindInt:
		if lit.IsInt {
			return cmp.Compare(v.Int, lit.Int), true
		}
		if lit.IsNumber {
			return cmp.Compare(float64(v.Int), lit.Number), true
		}
	case storage.KindFloat:
		if lit.IsNumber && !math.IsNaN(v.Float) {
			return cmp.Compare(v.Float, lit.Number), true
		}
	}
	return 0, false
}

// holds reports whether a comparison result c (-1, 0, 1) satisfies op.
func holds(c int, op Op) bool {
	switch op {
	case OpLess:
		return c < 0
	case OpLessEqual:
		return c <= 0
	case OpGreater:
		return c > 0
	case OpGreaterEqual:
		return c >= 0
	}
	return false
}

// userField returns the value of one of e's Fields by canonical name: a
// name that keeps UserFieldPrefix (see CanonicalField) is looked up
// without it, unless e has a field of that very name.
func userField(e *storage.Entry, name string) (storage.Value, bool) {
	if v, ok := e.Field(name); ok {
		return v, true
	}
	if rest, ok := strings.CutPrefix(name, UserFieldPrefix); ok {
		return e.Field(rest)
	}
	return storage.Value{}, false
}

// resolvePattern returns the live template id of a stored one: templates
// merge, and the ids stored before a merge become aliases.
func resolvePattern(resolve func(uint64) (uint64, bool), id uint32) uint64 {
	if resolve != nil {
		if live, ok := resolve(uint64(id)); ok {
			return live
		}
	}
	return uint64(id)
}
