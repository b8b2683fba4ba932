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
	return eachField(node, func(field string) bool { return field == FieldMessage })
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
	if !eachField(node, add) {
		return nil, false
	}
	for _, f := range also {
		if !add(f) {
			return nil, false
		}
	}
	return cols, true
}

// eachField calls read with each field node reads (FieldMessage for its
// words, phrases and prefixes) and reports false as soon as read does.
func eachField(node Node, read func(field string) bool) bool {
	all := func(nodes []Node) bool {
		return !slices.ContainsFunc(nodes, func(c Node) bool { return !eachField(c, read) })
	}
	switch n := node.(type) {
	case *MatchAll:
		return true
	case *Exists:
		return read(n.Field)
	case *Equal:
		return read(n.Field)
	case *ValuePrefix:
		return read(n.Field)
	case *Compare:
		return read(n.Field)
	case *And:
		return all(n.Nodes)
	case *Or:
		return all(n.Nodes)
	case *Not:
		return eachField(n.Node, read)
	}
	return read(FieldMessage) // words, phrases, prefixes
}
