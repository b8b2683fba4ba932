package search

import "github.com/logengine/logengine/storage"

// Filter is a query prepared for matching entries one at a time as they are
// committed: the standing queries of alert rules and of a live tail. It
// decides exactly what Match decides, but looks at the parts of a query's
// conjunction that need no message words first, so that most entries are
// turned away without tokenizing their message, and it lets many filters
// share one entry's tokens.
type Filter struct {
	node Node
	// plan is node with the parts of a top-level And in the order they are
	// tried: those that read no message words, then words, then the rest.
	// An And matches the same entries in any order.
	plan   Node
	source string
}

// NewFilter prepares the query n, as Parse returned it, for matching.
func NewFilter(n Node) *Filter {
	f := &Filter{node: n, plan: n}
	for _, r := range Requirements(n) {
		if eq, ok := r.(*Equal); ok && eq.Field == FieldSource {
			f.source = eq.Value.Text
			break
		}
	}
	if a, ok := n.(*And); ok {
		var cheap, words, rest []Node
		for _, c := range a.Nodes {
			switch c.(type) {
			case *Word:
				words = append(words, c)
			default:
				if readsWords(c) {
					rest = append(rest, c)
				} else {
					cheap = append(cheap, c)
				}
			}
		}
		nodes := make([]Node, 0, len(a.Nodes))
		nodes = append(append(append(nodes, cheap...), words...), rest...)
		f.plan = &And{Nodes: nodes}
	}
	return f
}

// Node returns the query the filter was made from.
func (f *Filter) Node() Node { return f.node }

// Source returns a source that every entry the filter matches has (the
// query requires source:x), or "" when the query requires none. A caller
// with many filters can look up by an entry's source the few that may
// match it.
func (f *Filter) Source() string { return f.source }

// Match reports whether e matches the query, as Match(f.Node(), e) does.
// tokens, when not nil, returns Tokenize(e.Message): it is called at most
// once, and only when the query needs the message's words, so that a
// caller matching one entry against many filters tokenizes it once for all
// of them. With tokens nil, Match tokenizes the message itself when needed.
func (f *Filter) Match(e *storage.Entry, tokens func() []string) bool {
	m := matcher{e: e, tokenize: tokens}
	return m.match(f.plan)
}

// readsWords reports whether n looks at the message's words anywhere.
func readsWords(n Node) bool {
	switch n := n.(type) {
	case *Word, *Phrase, *Prefix:
		return true
	case *And:
		for _, c := range n.Nodes {
			if readsWords(c) {
				return true
			}
		}
	case *Or:
		for _, c := range n.Nodes {
			if readsWords(c) {
				return true
			}
		}
	case *Not:
		return readsWords(n.Node)
	}
	return false
}
