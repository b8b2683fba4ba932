package search

import (
	"cmp"
	"slices"
	"strings"

	"github.com/logengine/logengine/storage"
	"github.com/logengine/logengine/storage/block"
)

// headerFilter returns what a scan asks each block's header before reading
// it: whether any of its entries may match node, from the header's level
// counts, tags, sources and per-field statistics (value sets, integer and
// float ranges, bloom filters). It must never refuse a block holding a
// match; it may accept one that holds none. nil when node has nothing a
// header can decide, so that a scan does not unmarshal headers for naught.
func headerFilter(node Node) func(*block.Header) bool {
	if !headerDecides(node) {
		return nil
	}
	return func(h *block.Header) bool { return blockMayMatch(node, h) }
}

// headerDecides reports whether some term of node can refuse a block.
func headerDecides(n Node) bool {
	switch n := n.(type) {
	case *Equal, *Compare, *Exists:
		return true
	case *ValuePrefix:
		return n.Field != FieldTimestamp && n.Field != FieldID
	case *And:
		for _, c := range n.Nodes {
			if headerDecides(c) {
				return true
			}
		}
	case *Or:
		for _, c := range n.Nodes {
			if !headerDecides(c) {
				return false
			}
		}
		return len(n.Nodes) > 0
	}
	return false
}

func blockMayMatch(n Node, h *block.Header) bool {
	switch n := n.(type) {
	case *And:
		for _, c := range n.Nodes {
			if !blockMayMatch(c, h) {
				return false
			}
		}
		return true
	case *Or:
		for _, c := range n.Nodes {
			if blockMayMatch(c, h) {
				return true
			}
		}
		return false
	case *Equal:
		return equalMayMatch(n, h)
	case *Compare:
		return compareMayMatch(n, h)
	case *Exists:
		switch n.Field {
		case FieldTag:
			return len(h.Tags) > 0
		case FieldPattern:
			return h.Column(block.ColumnTemplates) != nil
		case FieldLevel, FieldSeverity, FieldSource, FieldMessage, FieldTimestamp, FieldID:
			return true
		}
		return len(userColumns(h, n.Field)) > 0
	case *ValuePrefix:
		switch n.Field {
		case FieldLevel, FieldSeverity, FieldSource, FieldMessage, FieldTimestamp, FieldID:
			return true
		case FieldTag:
			for _, t := range h.Tags {
				if strings.HasPrefix(t, n.Prefix) {
					return true
				}
			}
			return false
		}
		return len(userColumns(h, n.Field)) > 0
	}
	// Words, phrases and prefixes are the keyword index's; NOT of anything
	// may match.
	return true
}

// userColumns returns the columns a user field's value may come from: the
// field of that name and, for "fields.x", the field x (see userField).
func userColumns(h *block.Header, name string) []*block.Column {
	var cols []*block.Column
	if c := h.Field(name); c != nil {
		cols = append(cols, c)
	}
	if rest, ok := strings.CutPrefix(name, UserFieldPrefix); ok {
		if c := h.Field(rest); c != nil {
			cols = append(cols, c)
		}
	}
	return cols
}

func equalMayMatch(n *Equal, h *block.Header) bool {
	lit := n.Value
	switch n.Field {
	case FieldLevel, FieldSeverity:
		return levelMayMatch(h, func(l storage.Level) bool { return lit.IsNumber && float64(l) == lit.Number })
	case FieldSource:
		return sourceMayBe(h, lit.Text)
	case FieldTag:
		_, found := slices.BinarySearch(h.Tags, lit.Text)
		return found
	case FieldPattern:
		return h.Column(block.ColumnTemplates) != nil // no entry of the block has one otherwise
	case FieldMessage, FieldTimestamp, FieldID:
		return true
	}
	for _, c := range userColumns(h, n.Field) {
		if c.MayHaveString(lit.Text) {
			return true
		}
		if c.Kinds.Has(storage.KindBool) && (lit.Text == "true" || lit.Text == "false") {
			return true
		}
		if !lit.IsNumber {
			continue
		}
		if lit.IsInt && c.MayHaveInt(lit.Int) {
			return true
		}
		if !lit.IsInt && c.Kinds.Has(storage.KindInt) && float64(c.MinInt) <= lit.Number && lit.Number <= float64(c.MaxInt) {
			return true
		}
		if c.Kinds.Has(storage.KindFloat) && c.MinFloat <= lit.Number && lit.Number <= c.MaxFloat {
			return true
		}
	}
	return false
}

func compareMayMatch(n *Compare, h *block.Header) bool {
	lit := n.Value
	switch n.Field {
	case FieldLevel, FieldSeverity:
		return levelMayMatch(h, func(l storage.Level) bool {
			return lit.IsNumber && holds(cmp.Compare(float64(l), lit.Number), n.Op)
		})
	case FieldTag:
		if lit.IsNumber {
			return false
		}
		for _, t := range h.Tags {
			if holds(strings.Compare(t, lit.Text), n.Op) {
				return true
			}
		}
		return false
	case FieldSource, FieldMessage, FieldTimestamp, FieldID:
		return true
	}
	for _, c := range userColumns(h, n.Field) {
		if c.Kinds.Has(storage.KindString) && !lit.IsNumber {
			return true // strings have no range in the header
		}
		if !lit.IsNumber {
			continue
		}
		if c.Kinds.Has(storage.KindInt) && rangeMayHold(storage.Int(c.MinInt), storage.Int(c.MaxInt), lit, n.Op) {
			return true
		}
		if c.Kinds.Has(storage.KindFloat) && c.MinFloat <= c.MaxFloat &&
			rangeMayHold(storage.Float(c.MinFloat), storage.Float(c.MaxFloat), lit, n.Op) {
			return true
		}
	}
	return false
}

// rangeMayHold reports whether some number of [least, greatest] compares
// with the literal as op asks, comparing as compareNumber does.
func rangeMayHold(least, greatest storage.Value, lit Literal, op Op) bool {
	lo, ok := compareNumber(least, lit)
	hi, _ := compareNumber(greatest, lit)
	if !ok {
		return false
	}
	switch op {
	case OpLess, OpLessEqual:
		return holds(lo, op)
	case OpGreater, OpGreaterEqual:
		return holds(hi, op)
	}
	return true
}

func levelMayMatch(h *block.Header, ok func(storage.Level) bool) bool {
	for _, l := range storage.Levels {
		if h.LevelCount(l) > 0 && ok(l) {
			return true
		}
	}
	return false
}

// sourceMayBe reports whether the block may hold entries of source src.
func sourceMayBe(h *block.Header, src string) bool {
	known, found := false, false
	known = h.EachSourceLevels(func(s []byte, _ *[6]int) {
		if string(s) == src {
			found = true
		}
	})
	if known {
		return found
	}
	if c := h.Column(block.ColumnSources); c != nil && c.Set != nil {
		for _, v := range c.Set {
			if v.Str == src {
				return true
			}
		}
		return false
	}
	return true
}
