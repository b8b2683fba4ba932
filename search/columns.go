package search

import (
	"slices"
	"strings"
)

// scanColumns returns the user fields a scan must decode to evaluate node,
// and to read the fields named in also, on entries without their messages
// (storage.ScanColumns), and false when node reads messages, so that the
// scan needs whole entries. Reading only some columns of a block skips the
// message column, usually most of its bytes.
func scanColumns(node Node, also []string) ([]string, bool) {
	return nodeColumns(node, also, false)
}

// checkColumns returns the user fields Match reads to evaluate node besides
// the message and the entry's own fields (storage.GetSortedWith).
func checkColumns(node Node) []string {
	cols, _ := nodeColumns(node, nil, true)
	return cols
}

// messageOnly reports whether node reads nothing of an entry but its
// message: words, phrases and prefixes, combined.
func messageOnly(node Node) bool {
	switch n := node.(type) {
	case *Word, *Phrase, *Prefix, *MatchAll:
		return true
	case *And:
		return !slices.ContainsFunc(n.Nodes, func(c Node) bool { return !messageOnly(c) })
	case *Or:
		return !slices.ContainsFunc(n.Nodes, func(c Node) bool { return !messageOnly(c) })
	case *Not:
		return messageOnly(n.Node)
	}
	return false
}

// nodeColumns is scanColumns; with words set, message terms (words,
// phrases, prefixes) need no column but the message and do not fail it.
func nodeColumns(node Node, also []string, words bool) ([]string, bool) {
	var cols []string
	add := func(field string) bool {
		if field == FieldMessage {
			return words
		}
		if ownFields[field] {
			return true
		}
		// As userField looks it up: by its name, then without the
		// fields. prefix.
		cols = append(cols, field)
		if rest, ok := strings.CutPrefix(field, UserFieldPrefix); ok {
			cols = append(cols, rest)
		}
		return true
	}
	var walk func(Node) bool
	walk = func(n Node) bool {
		switch n := n.(type) {
		case *MatchAll:
			return true
		case *Exists:
			return add(n.Field)
		case *Equal:
			return add(n.Field)
		case *ValuePrefix:
			return add(n.Field)
		case *Compare:
			return add(n.Field)
		case *And:
			for _, c := range n.Nodes {
				if !walk(c) {
					return false
				}
			}
			return true
		case *Or:
			for _, c := range n.Nodes {
				if !walk(c) {
					return false
				}
			}
			return true
		case *Not:
			return walk(n.Node)
		}
		return words // words, phrases, prefixes: the message
	}
	if !walk(node) {
		return nil, false
	}
	for _, f := range also {
		if !add(f) {
			return nil, false
		}
	}
	return cols, true
}
