package search

import (
	"math"
	"math/bits"
	"slices"
	"strings"

	"github.com/logengine/logengine/storage"
	"github.com/logengine/logengine/storage/block"
)

// # DESIGN: queries evaluated on columns
//
// A query that no block header can refuse (status>=500 when every block
// holds some 5xx) once built an entry per row of every block and ran Match
// on it: ~200 ns a row, most of it building entries, walking the tree and
// hashing a group key per row. Terms on levels, sources and user fields are
// compiled instead into checks on a block's decoded columns that fill a
// bitmap of the block's rows, block at a time: a string column stored as a
// dictionary is checked once per distinct string and then by one byte per
// row, numbers by a comparison per row; and, or and not are word-wise
// operations on bitmaps. The rows selected count, and group keys are taken
// from the same columns (one key per dictionary string, counted per block
// in an array and handed to the group counter once per block).
//
// The semantics stay Match's: the user field checks are the functions the
// row matcher calls (valueEqual, valueCompare, valueHasPrefix) on the value
// userField would return (an entry's first value of the field, then for
// "fields.x" the field x); a level or source term is decided by Match on an
// entry holding only that level or source, once per distinct value. What
// this does not cover (message words, tags, patterns, times and ids other
// than the range's own, tag and pattern group keys) goes the row way; the
// decision is columnPlan's, in one place.

// colOp is what a compiled node does.
type colOp uint8

const (
	colAll colOp = iota
	colNone
	colAnd
	colOr
	colNot
	colOnLevel  // a term on level or severity
	colOnSource // a term on source
	colOnField  // a term on a user field
)

// colNode is a query node compiled for evaluation on columns.
type colNode struct {
	op   colOp
	kids []*colNode
	term Node // the term of a leaf

	field string                   // colOnField: the field's canonical name
	value func(storage.Value) bool // colOnField: whether a present value matches
	// ints, when set, is the range [lo, hi] of the integers value accepts,
	// so that an integer column is checked without a call per row.
	ints   bool
	lo, hi int64
}

// intRange returns the integers a term on a user field accepts as a range
// [lo, hi] (empty when lo > hi), and false when they are not one range
// that valueEqual or valueCompare would agree with: a literal that is not
// an integer compares as a float.
func intRange(term Node) (lo, hi int64, ok bool) {
	switch n := term.(type) {
	case *Exists:
		return math.MinInt64, math.MaxInt64, true
	case *Equal:
		if n.Value.IsInt {
			return n.Value.Int, n.Value.Int, true
		}
	case *Compare:
		if !n.Value.IsInt {
			return 0, 0, false
		}
		l := n.Value.Int
		switch n.Op {
		case OpLess:
			if l == math.MinInt64 {
				return 1, 0, true
			}
			return math.MinInt64, l - 1, true
		case OpLessEqual:
			return math.MinInt64, l, true
		case OpGreater:
			if l == math.MaxInt64 {
				return 1, 0, true
			}
			return l + 1, math.MaxInt64, true
		case OpGreaterEqual:
			return l, math.MaxInt64, true
		}
	}
	return 0, 0, false
}

// compileColumns compiles node for evaluation on columns, and reports false
// when some part of it needs entries. always reports the terms every entry
// in range matches (the range's own terms on timestamp and id).
func compileColumns(node Node, always func(Node) bool) (*colNode, bool) {
	if always(node) {
		return &colNode{op: colAll}, true
	}
	switch n := node.(type) {
	case *MatchAll:
		return &colNode{op: colAll}, true
	case *And, *Or:
		var nodes []Node
		op := colAnd
		if a, ok := n.(*And); ok {
			nodes = a.Nodes
		} else {
			nodes, op = n.(*Or).Nodes, colOr
		}
		if len(nodes) == 0 {
			if op == colAnd {
				return &colNode{op: colAll}, true
			}
			return &colNode{op: colNone}, true
		}
		c := &colNode{op: op}
		for _, x := range nodes {
			k, ok := compileColumns(x, always)
			if !ok {
				return nil, false
			}
			c.kids = append(c.kids, k)
		}
		return c, true
	case *Not:
		k, ok := compileColumns(n.Node, always)
		if !ok {
			return nil, false
		}
		return &colNode{op: colNot, kids: []*colNode{k}}, true
	}
	var field string
	var value func(storage.Value) bool
	switch n := node.(type) {
	case *Exists:
		field, value = n.Field, func(storage.Value) bool { return true }
	case *Equal:
		lit := n.Value
		field, value = n.Field, func(v storage.Value) bool { return valueEqual(v, lit) }
	case *Compare:
		lit, op := n.Value, n.Op
		field, value = n.Field, func(v storage.Value) bool { return valueCompare(v, op, lit) }
	case *ValuePrefix:
		prefix := n.Prefix
		field, value = n.Field, func(v storage.Value) bool { return valueHasPrefix(v, prefix) }
	default:
		return nil, false // words, phrases, prefixes: the message
	}
	switch field {
	case FieldLevel, FieldSeverity:
		return &colNode{op: colOnLevel, term: node}, true
	case FieldSource:
		return &colNode{op: colOnSource, term: node}, true
	}
	if ownFields[field] {
		return nil, false // tags, patterns, the message, times and ids
	}
	c := &colNode{op: colOnField, term: node, field: field, value: value}
	c.lo, c.hi, c.ints = intRange(node)
	return c, true
}

// colBlock is one block being evaluated on its columns: what was decoded
// of it so far. Its slices are reused from block to block.
type colBlock struct {
	h    *block.Header
	body []byte
	n    int

	levels    []storage.Level
	levelsOK  bool
	sources   block.StringColumn
	sourcesOK bool
	fields    map[string]*colField // by column name
	free      []*colField          // columns of earlier blocks, for reuse

	stack [][]uint64 // bitmaps for the nodes being evaluated, by depth
	probe storage.Entry
}

// colField is a field column of the block, decoded once however many terms
// and group keys read it.
type colField struct {
	block.FieldColumn
	dictOK []int8 // per dictionary string, for the term being evaluated: 0 unknown, 1 match, -1 not
}

func (b *colBlock) reset(h *block.Header, body []byte) {
	b.h, b.body, b.n = h, body, h.Count
	b.levelsOK, b.sourcesOK = false, false
	for name, f := range b.fields {
		if f != nil {
			b.free = append(b.free, f)
		}
		delete(b.fields, name)
	}
}

func (b *colBlock) levelColumn() ([]storage.Level, error) {
	if !b.levelsOK {
		var err error
		if b.levels, err = block.DecodeLevelsInto(b.levels, b.h, b.body); err != nil {
			return nil, err
		}
		b.levelsOK = true
	}
	return b.levels, nil
}

func (b *colBlock) sourceColumn() (*block.StringColumn, error) {
	if !b.sourcesOK {
		if err := block.DecodeSourceColumn(b.h, b.body, &b.sources); err != nil {
			return nil, err
		}
		b.sourcesOK = true
	}
	return &b.sources, nil
}

// column returns the block's column of a field name, nil when the block
// has none.
func (b *colBlock) column(name string) (*colField, error) {
	if f, ok := b.fields[name]; ok {
		return f, nil
	}
	if b.h.Field(name) == nil {
		if b.fields == nil {
			b.fields = map[string]*colField{}
		}
		b.fields[name] = nil
		return nil, nil
	}
	var f *colField
	if k := len(b.free); k > 0 {
		f, b.free = b.free[k-1], b.free[:k-1]
	} else {
		f = new(colField)
	}
	if err := block.DecodeFieldColumn(b.h, b.body, name, &f.FieldColumn); err != nil {
		return nil, err
	}
	if b.fields == nil {
		b.fields = map[string]*colField{}
	}
	b.fields[name] = f
	return f, nil
}

// userColumns returns the columns a user field's value comes from, as
// userField looks it up: the field of that name, then for "fields.x" the
// field x. Either may be nil.
func (b *colBlock) userColumns(name string) (first, second *colField, err error) {
	if first, err = b.column(name); err != nil {
		return nil, nil, err
	}
	if rest, ok := strings.CutPrefix(name, UserFieldPrefix); ok {
		if second, err = b.column(rest); err != nil {
			return nil, nil, err
		}
	}
	return first, second, nil
}

// bitmap returns a cleared bitmap of the block's rows for depth d.
func (b *colBlock) bitmap(d int) []uint64 {
	for len(b.stack) <= d {
		b.stack = append(b.stack, nil)
	}
	words := (b.n + 63) / 64
	if cap(b.stack[d]) < words {
		b.stack[d] = make([]uint64, words)
	}
	bm := b.stack[d][:words]
	clear(bm)
	return bm
}

// eval sets in out (cleared, one bit per row of the block) the rows that
// match c, exactly for the rows set in mask (every row when mask is nil);
// the bits of other rows are unspecified, as are bits past the last row:
// callers mask them. An AND evaluates each term after the first only on
// the rows the ones before it left (its mask): host:web-7 status:404
// compares the status of the ~5 rows of web-7 in a block, not of all 1,000.
func (b *colBlock) eval(c *colNode, out []uint64, depth int, mask []uint64) error {
	switch c.op {
	case colAll:
		for i := range out {
			out[i] = ^uint64(0)
		}
	case colNone:
	case colAnd, colOr:
		if err := b.eval(c.kids[0], out, depth+1, mask); err != nil {
			return err
		}
		for _, k := range c.kids[1:] {
			if c.op == colAnd && allZero(out) {
				return nil
			}
			tmp := b.bitmap(depth + 1)
			kmask := mask
			if c.op == colAnd {
				kmask = out // the rows that may still match
			}
			if err := b.eval(k, tmp, depth+2, kmask); err != nil {
				return err
			}
			for i := range out {
				if c.op == colAnd {
					out[i] &= tmp[i]
				} else {
					out[i] |= tmp[i]
				}
			}
		}
	case colNot:
		if err := b.eval(c.kids[0], out, depth+1, mask); err != nil {
			return err
		}
		for i := range out {
			out[i] = ^out[i]
		}
	case colOnLevel:
		levels, err := b.levelColumn()
		if err != nil {
			return err
		}
		var ok [256]bool
		for _, l := range storage.Levels {
			b.probe = storage.Entry{Level: l}
			ok[l] = Match(c.term, &b.probe)
		}
		for i, l := range levels {
			if ok[l] {
				out[i>>6] |= 1 << (i & 63)
			}
		}
	case colOnSource:
		src, err := b.sourceColumn()
		if err != nil {
			return err
		}
		matches := func(s string) bool {
			b.probe = storage.Entry{Source: s}
			return Match(c.term, &b.probe)
		}
		if src.Dict != nil {
			var ok [256]bool
			for j, s := range src.Dict {
				ok[j] = matches(s)
			}
			for i, x := range src.Codes {
				if ok[x] {
					out[i>>6] |= 1 << (i & 63)
				}
			}
			return nil
		}
		for i, s := range src.Values {
			if matches(s) {
				out[i>>6] |= 1 << (i & 63)
			}
		}
	case colOnField:
		first, second, err := b.userColumns(c.field)
		if err != nil {
			return err
		}
		if first == nil && second == nil {
			return nil
		}
		if second == nil && first.Kinds == nil {
			first.evalOneKind(c, out, mask)
			return nil
		}
		for _, f := range []*colField{first, second} {
			if f != nil && f.Dict != nil {
				f.dictOK = slices.Grow(f.dictOK[:0], len(f.Dict))[:len(f.Dict)]
				clear(f.dictOK)
			}
		}
		for i := 0; i < b.n; i++ {
			f, v, ok := first, 0, false
			if first != nil {
				v, ok = first.First(i)
			}
			if !ok && second != nil {
				f = second
				v, ok = second.First(i)
			}
			if ok && f.matches(v, c.value) {
				out[i>>6] |= 1 << (i & 63)
			}
		}
	}
	return nil
}

// evalOneKind sets in out the rows whose first value of the column matches,
// for a column of one kind that is the field's only one: a dictionary's
// strings are checked once each, then each row by its code. The two
// commonest cases (an integer range, dictionary strings) skip the 64 rows
// of a word that mask (when not nil) leaves out; see eval.
func (f *colField) evalOneKind(c *colNode, out []uint64, mask []uint64) {
	off, value := f.Offsets, c.value
	n := len(off) - 1
	switch {
	case f.Kind == storage.KindInt && c.ints && f.Dense:
		// Every row has one value, the row's own: a word of 64 rows is
		// built from 64 comparisons, without the offsets.
		lo, hi := c.lo, c.hi
		for w := 0; w*64 < n; w++ {
			if mask != nil && mask[w] == 0 {
				continue
			}
			var word uint64
			for j, x := range f.Ints[w*64 : min(n, w*64+64)] {
				if lo <= x && x <= hi {
					word |= 1 << j
				}
			}
			out[w] |= word
		}
	case f.Kind == storage.KindInt && c.ints:
		lo, hi := c.lo, c.hi
		for w := 0; w*64 < n; w++ {
			if mask != nil && mask[w] == 0 {
				continue
			}
			for i := w * 64; i < min(n, w*64+64); i++ {
				if off[i] != off[i+1] {
					if x := f.Ints[off[i]]; lo <= x && x <= hi {
						out[i>>6] |= 1 << (i & 63)
					}
				}
			}
		}
	case f.Kind == storage.KindString && f.Dict != nil:
		var ok [256]bool
		for j, s := range f.Dict {
			ok[j] = value(storage.String(s))
		}
		for w := 0; w*64 < n; w++ {
			if mask != nil && mask[w] == 0 {
				continue
			}
			for i := w * 64; i < min(n, w*64+64); i++ {
				if off[i] != off[i+1] && ok[f.Codes[off[i]]] {
					out[i>>6] |= 1 << (i & 63)
				}
			}
		}
	case f.Kind == storage.KindInt:
		for i := 0; i < n; i++ {
			if off[i] != off[i+1] && value(storage.Int(f.Ints[off[i]])) {
				out[i>>6] |= 1 << (i & 63)
			}
		}
	default:
		for i := 0; i < n; i++ {
			if off[i] != off[i+1] && value(f.Value(int(off[i]))) {
				out[i>>6] |= 1 << (i & 63)
			}
		}
	}
}

// matches reports whether value v of the column matches, checking a
// dictionary string once per block.
func (f *colField) matches(v int, value func(storage.Value) bool) bool {
	if f.Dict == nil || f.KindOf(v) != storage.KindString {
		return value(f.Value(v))
	}
	code := f.Codes[v]
	switch f.dictOK[code] {
	case 1:
		return true
	case -1:
		return false
	}
	ok := value(storage.String(f.Dict[code]))
	f.dictOK[code] = -1
	if ok {
		f.dictOK[code] = 1
	}
	return ok
}

func allZero(bm []uint64) bool {
	for _, w := range bm {
		if w != 0 {
			return false
		}
	}
	return true
}

// selectRows evaluates c on the block and returns the bitmap of its
// matching rows among [from, to).
func (b *colBlock) selectRows(c *colNode, from, to int) ([]uint64, error) {
	out := b.bitmap(0)
	if err := b.eval(c, out, 1, nil); err != nil {
		return nil, err
	}
	// Keep [from, to) only.
	for i := range out {
		lo, hi := i*64, i*64+64
		switch {
		case hi <= from || lo >= to:
			out[i] = 0
		case lo < from || hi > to:
			var mask uint64 = ^uint64(0)
			if lo < from {
				mask &= ^uint64(0) << (from - lo)
			}
			if hi > to {
				mask &= ^uint64(0) >> (hi - to)
			}
			out[i] &= mask
		}
	}
	return out, nil
}

// eachRow calls fn with each row set in bm.
func eachRow(bm []uint64, fn func(i int)) {
	for w, word := range bm {
		for word != 0 {
			fn(w*64 + bits.TrailingZeros64(word))
			word &= word - 1
		}
	}
}

// countRows returns the number of rows set in bm.
func countRows(bm []uint64) int {
	n := 0
	for _, w := range bm {
		n += bits.OnesCount64(w)
	}
	return n
}
