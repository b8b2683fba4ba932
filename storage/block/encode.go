package block

import (
	"cmp"
	"encoding/binary"
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/logengine/logengine/storage/logs"
)

// maxDict is the most distinct values a string stream keeps as a
// dictionary: its indexes are one byte each.
const maxDict = 256

// String stream modes.
const (
	streamPlain byte = 0
	streamDict  byte = 1
)

// builder gathers the columns of one block in one pass over its entries.
type builder struct {
	h Header

	sources  stringStream
	messages stringStream

	fieldIndex map[string]int // field name → index in fields
	fields     []*fieldColumn

	layoutIndex map[string]int // encoded layout → its number
	layouts     [][]byte       // encoded layouts: uvarint field indexes
	entryLayout []int          // layout number of each entry
	cols        []int          // scratch: field indexes of the current entry
	key         []byte         // scratch: encoded layout of the current entry

	raw []byte // scratch: the raw bytes of the column being written
}

func (b *builder) build(entries []logs.Entry, templates []uint32) (Header, []byte, error) {
	if templates == nil {
		for i := range entries {
			if entries[i].Pattern != 0 {
				templates = make([]uint32, len(entries))
				for j := range entries {
					templates[j] = entries[j].Pattern
				}
				break
			}
		}
	}
	n := len(entries)
	h := &b.h
	h.Count = n
	h.MinID, h.MaxID = entries[0].ID, entries[n-1].ID
	b.fieldIndex = make(map[string]int)
	b.layoutIndex = make(map[string]int)
	b.entryLayout = make([]int, n)
	b.sources.init(n)
	b.messages.init(n)
	tagSet := make(map[string]struct{})
	tagValues, tagEntries, values := 0, 0, 0
	var prev *logs.Entry
	for i := range entries {
		e := &entries[i]
		h.Levels[levelIndex(e.Level)]++
		b.sources.add(e.Source)
		b.messages.add(e.Message)
		if len(e.Tags) > 0 {
			tagEntries++
			tagValues += len(e.Tags)
			for _, t := range e.Tags {
				tagSet[t] = struct{}{}
			}
		}
		values += len(e.Tags) + len(e.Fields)
		if values > MaxValues {
			return Header{}, nil, fmt.Errorf("more than %d tags and field values", MaxValues)
		}
		b.entryLayout[i] = b.layout(e, prev, i)
		for j, f := range e.Fields {
			b.fields[b.cols[j]].add(i, f.Value)
		}
		prev = e
	}
	for t := range tagSet {
		h.Tags = append(h.Tags, t)
	}
	slices.Sort(h.Tags)

	var body []byte
	add := func(c Column, raw []byte) error {
		c.Offset, c.RawLength = len(body), len(raw)
		if c.RawLength > MaxRawBytes-h.rawLength() {
			return fmt.Errorf("columns of more than %d bytes", MaxRawBytes)
		}
		body, c.Codec = appendColumn(body, raw)
		c.Length = len(body) - c.Offset
		h.Columns = append(h.Columns, c)
		return nil
	}
	all := Column{Entries: n, Values: n}

	if err := add(all.with(ColumnIDs), b.idsColumn(entries)); err != nil {
		return Header{}, nil, err
	}
	if err := add(all.with(ColumnLevels), b.levelsColumn(entries)); err != nil {
		return Header{}, nil, err
	}
	for _, s := range []struct {
		kind   ColumnKind
		stream *stringStream
	}{{ColumnSources, &b.sources}, {ColumnMessages, &b.messages}} {
		c := all.with(s.kind)
		s.stream.stats(&c)
		limitSet(&c)
		if s.kind == ColumnMessages && s.stream.dict == nil && n >= minFramedRows {
			values, codec := s.stream.values, CodecFrames
			if d := len(b.sources.order); d > 1 && groupingPays(values, b.sources.index, d) {
				values, codec = bySource(values, b.sources.index, d), CodecFramesBySource
			}
			c.Offset = len(body)
			body, c.RawLength = appendFramed(body, frameRows, framedRaws(values))
			if c.RawLength > MaxRawBytes-h.rawLength() {
				return Header{}, nil, fmt.Errorf("columns of more than %d bytes", MaxRawBytes)
			}
			c.Codec, c.Length = codec, len(body)-c.Offset
			h.Columns = append(h.Columns, c)
			continue
		}
		b.raw = s.stream.append(b.raw[:0])
		if err := add(c, b.raw); err != nil {
			return Header{}, nil, err
		}
	}
	if err := add(Column{Kind: ColumnTags, Entries: tagEntries, Values: tagValues}, b.tagsColumn(entries)); err != nil {
		return Header{}, nil, err
	}
	if err := add(Column{Kind: ColumnLayouts}, b.layoutsColumn()); err != nil {
		return Header{}, nil, err
	}
	if raw, nonZero := b.templatesColumn(templates); nonZero > 0 {
		if err := add(Column{Kind: ColumnTemplates, Entries: nonZero, Values: nonZero}, raw); err != nil {
			return Header{}, nil, err
		}
	}
	b.sourceLevels(entries)
	h.setTemplateLevels(entries, templates)
	for _, f := range b.fields {
		c := Column{Kind: ColumnField, Name: f.name, Entries: f.entries, Values: len(f.kinds)}
		f.stats(&c)
		if c.Set == nil {
			c.Filter = f.filter()
		}
		b.raw = f.append(b.raw[:0])
		if err := add(c, b.raw); err != nil {
			return Header{}, nil, err
		}
	}
	return *h, body, nil
}

// sourceLevels keeps the per-source level counts in the header when the
// sources fit a dictionary, which is the case a count by source can use:
// streams of a few hundred sources at most.
func (b *builder) sourceLevels(entries []logs.Entry) {
	s := &b.sources
	if s.dict == nil {
		return
	}
	counts := make([][6]int, len(s.order))
	if len(s.order) == 1 {
		counts[0] = b.h.Levels
	} else {
		for i := range entries {
			counts[s.index[i]][levelIndex(entries[i].Level)]++
		}
	}
	b.h.setSourceLevels(s.order, counts)
}

func (c Column) with(k ColumnKind) Column { c.Kind = k; return c }

func (h *Header) rawLength() int {
	n := 0
	for i := range h.Columns {
		n += h.Columns[i].RawLength
	}
	return n
}

func (b *builder) idsColumn(entries []logs.Entry) []byte {
	raw := b.raw[:0]
	raw = binary.AppendUvarint(raw, uint64(entries[0].ID.Nanos))
	raw = binary.AppendUvarint(raw, entries[0].ID.Seq)
	for i := 1; i < len(entries); i++ {
		raw = binary.AppendUvarint(raw, uint64(entries[i].ID.Nanos-entries[i-1].ID.Nanos))
	}
	for i := 1; i < len(entries); i++ {
		raw = binary.AppendVarint(raw, int64(entries[i].ID.Seq-entries[i-1].ID.Seq))
	}
	b.raw = raw
	return raw
}

func (b *builder) levelsColumn(entries []logs.Entry) []byte {
	for _, n := range b.h.Levels {
		if n == len(entries) {
			return nil // one level: the header's counts say which
		}
	}
	raw := b.raw[:0]
	for i := range entries {
		raw = append(raw, byte(entries[i].Level))
	}
	b.raw = raw
	return raw
}

func (b *builder) tagsColumn(entries []logs.Entry) []byte {
	raw := b.raw[:0]
	for i := range entries {
		tags := entries[i].Tags
		raw = binary.AppendUvarint(raw, uint64(len(tags)))
		for _, t := range tags {
			j, _ := slices.BinarySearch(b.h.Tags, t)
			raw = binary.AppendUvarint(raw, uint64(j))
		}
	}
	b.raw = raw
	return raw
}

// layout returns the layout number of e: the sequence of its fields' column
// indexes, left in b.cols. Entries of one stream mostly repeat the previous
// entry's field names, which is checked before any map is consulted.
func (b *builder) layout(e, prev *logs.Entry, i int) int {
	if prev != nil && len(prev.Fields) == len(e.Fields) {
		same := true
		for j := range e.Fields {
			if e.Fields[j].Name != prev.Fields[j].Name {
				same = false
				break
			}
		}
		if same {
			return b.entryLayout[i-1]
		}
	}
	b.cols = b.cols[:0]
	b.key = b.key[:0]
	for _, f := range e.Fields {
		c, ok := b.fieldIndex[f.Name]
		if !ok {
			c = len(b.fields)
			b.fieldIndex[f.Name] = c
			b.fields = append(b.fields, newFieldColumn(f.Name))
		}
		b.cols = append(b.cols, c)
		b.key = binary.AppendUvarint(b.key, uint64(c))
	}
	l, ok := b.layoutIndex[string(b.key)]
	if !ok {
		l = len(b.layouts)
		b.layoutIndex[string(b.key)] = l
		b.layouts = append(b.layouts, slices.Clone(b.key))
	}
	return l
}

func (b *builder) layoutsColumn() []byte {
	raw := b.raw[:0]
	raw = binary.AppendUvarint(raw, uint64(len(b.layouts)))
	for _, l := range b.layouts {
		raw = binary.AppendUvarint(raw, uint64(len(l)))
		raw = append(raw, l...)
	}
	if len(b.layouts) > 1 {
		for _, l := range b.entryLayout {
			raw = binary.AppendUvarint(raw, uint64(l))
		}
	}
	b.raw = raw
	return raw
}

func (b *builder) templatesColumn(templates []uint32) ([]byte, int) {
	nonZero := 0
	for _, t := range templates {
		if t != 0 {
			nonZero++
		}
	}
	if nonZero == 0 {
		return nil, 0
	}
	raw := b.raw[:0]
	for _, t := range templates {
		raw = binary.AppendUvarint(raw, uint64(t))
	}
	b.raw = raw
	return raw, nonZero
}

// stringStream gathers the strings of a column and, while they are few,
// their dictionary.
type stringStream struct {
	values []string
	bytes  int
	dict   map[string]int // nil once there are more than maxDict distinct values
	order  []string       // the dictionary in first-seen order
	index  []byte         // dictionary index of each value
	last   int            // dictionary index of the last value
}

func (s *stringStream) init(n int) {
	s.values = make([]string, 0, n)
	s.dict = make(map[string]int)
	s.index = make([]byte, 0, n)
}

func (s *stringStream) add(v string) {
	s.values = append(s.values, v)
	s.bytes += len(v)
	if s.dict == nil {
		return
	}
	// Consecutive values repeat often (one source per stream), and a
	// comparison is cheaper than a map lookup.
	if len(s.index) > 0 && s.order[s.last] == v {
		s.index = append(s.index, byte(s.last))
		return
	}
	i, ok := s.dict[v]
	if !ok {
		if len(s.order) == maxDict {
			s.dict, s.order, s.index = nil, nil, nil
			return
		}
		i = len(s.order)
		s.dict[v] = i
		s.order = append(s.order, v)
	}
	s.last = i
	s.index = append(s.index, byte(i))
}

func (s *stringStream) append(raw []byte) []byte {
	if s.dict != nil {
		raw = append(raw, streamDict)
		raw = binary.AppendUvarint(raw, uint64(len(s.order)))
		for _, v := range s.order {
			raw = appendString(raw, v)
		}
		if len(s.order) > 1 {
			raw = append(raw, s.index...)
		}
		return raw
	}
	return appendPlain(raw, s.values, s.bytes)
}

// appendPlain appends a plain string stream of values, which hold size
// bytes together.
func appendPlain(raw []byte, values []string, size int) []byte {
	raw = append(raw, streamPlain)
	var lengths []byte
	for _, v := range values {
		lengths = binary.AppendUvarint(lengths, uint64(len(v)))
	}
	raw = binary.AppendUvarint(raw, uint64(len(lengths)))
	raw = append(raw, lengths...)
	raw = slices.Grow(raw, size)
	for _, v := range values {
		raw = append(raw, v...)
	}
	return raw
}

// minGroupedGain is the least share of a framed messages column, in
// percent, that grouping it by source must save to be stored so. Grouped,
// the rows of a span of time are spread over every frame, so a read of a
// few recent rows decompresses every frame instead of the last one or two
// (a newest-100 phrase search over a 12M-log day took 10 ms instead of 8
// on messages that gained nothing from it); real logs of several systems
// gain a third, the load generator's, whose messages do not depend on
// their source, nothing. A variable so that tests can make any block's
// messages grouped.
var minGroupedGain = 10

// groupingPays reports whether messages (values, with their rows' source
// index of d sources) compress by minGroupedGain better grouped by source,
// judged on a frame's worth of the first rows in both orders: framing the
// whole column both ways made encoding a merged block a third slower.
func groupingPays(values []string, index []byte, d int) bool {
	n := min(len(values), frameRows)
	inRows, _ := appendFramed(nil, frameRows, framedRaws(values[:n]))
	grouped, _ := appendFramed(nil, frameRows, framedRaws(bySource(values[:n], index[:n], d)))
	return len(grouped) < len(inRows)*(100-minGroupedGain)/100
}

// bySource returns values in the order of CodecFramesBySource: grouped by
// their rows' source index (index, of d sources), in row order within a
// source.
func bySource(values []string, index []byte, d int) []string {
	out := make([]string, len(values))
	for i, row := range sourceOrder(index, d) {
		out[i] = values[row]
	}
	return out
}

// framedRaws returns the raw bytes of the frames of a plain stream of
// values: a plain stream of frameRows values each, the last of fewer.
func framedRaws(values []string) [][]byte {
	var raws [][]byte
	for lo := 0; lo < len(values); lo += frameRows {
		part := values[lo:min(lo+frameRows, len(values))]
		size := 0
		for _, v := range part {
			size += len(v)
		}
		raws = append(raws, appendPlain(nil, part, size))
	}
	return raws
}

// stats adds the string statistics to c from the dictionary, when there is
// one: too many distinct values means no Set and no exact count. The caller
// limits the Set.
func (s *stringStream) stats(c *Column) {
	if len(s.values) == 0 {
		return
	}
	c.Kinds |= kindBit(logs.KindString)
	if s.dict == nil {
		return
	}
	c.Distinct += len(s.order)
	for _, v := range s.order {
		c.Set = append(c.Set, logs.String(v))
	}
}

// fieldColumn gathers the values of one field name.
type fieldColumn struct {
	name      string
	entries   int // entries with at least one value
	lastEntry int
	kinds     []byte // kind of each value
	kindSet   KindSet

	ints   []byte // zig-zag varints
	floats []byte // 8 bytes each
	bools  []byte // one byte each
	strs   stringStream

	minInt, maxInt     int64
	minFloat, maxFloat float64
	nan                bool
	intSet             map[int64]struct{}  // nil once past MaxDistinct
	floatSet           map[uint64]struct{} // by bits; nil once past MaxDistinct
	boolSet            [2]bool
}

func newFieldColumn(name string) *fieldColumn {
	return &fieldColumn{
		name: name, lastEntry: -1,
		minInt: math.MaxInt64, maxInt: math.MinInt64,
		minFloat: math.Inf(1), maxFloat: math.Inf(-1),
		intSet: make(map[int64]struct{}), floatSet: make(map[uint64]struct{}),
		strs: stringStream{dict: make(map[string]int)},
	}
}

func (f *fieldColumn) add(entry int, v logs.Value) {
	if entry != f.lastEntry {
		f.entries++
		f.lastEntry = entry
	}
	f.kinds = append(f.kinds, byte(v.Kind))
	f.kindSet |= kindBit(v.Kind)
	switch v.Kind {
	case logs.KindString:
		f.strs.add(v.Str)
	case logs.KindInt:
		f.ints = binary.AppendVarint(f.ints, v.Int)
		f.minInt, f.maxInt = min(f.minInt, v.Int), max(f.maxInt, v.Int)
		if f.intSet != nil {
			f.intSet[v.Int] = struct{}{}
			if len(f.intSet) > MaxDistinct {
				f.intSet = nil
			}
		}
	case logs.KindFloat:
		f.floats = binary.LittleEndian.AppendUint64(f.floats, math.Float64bits(v.Float))
		f.minFloat, f.maxFloat = floatMinMax(f.minFloat, f.maxFloat, v.Float)
		f.nan = f.nan || math.IsNaN(v.Float)
		if f.floatSet != nil {
			f.floatSet[math.Float64bits(v.Float)] = struct{}{}
			if len(f.floatSet) > MaxDistinct {
				f.floatSet = nil
			}
		}
	case logs.KindBool:
		f.bools = append(f.bools, boolByte(v.Bool))
		f.boolSet[boolByte(v.Bool)] = true
	}
}

// append writes the column: the kinds when they mix, then each kind's
// values apart.
func (f *fieldColumn) append(raw []byte) []byte {
	raw = append(raw, byte(f.kindSet))
	if f.kindSet&(f.kindSet-1) != 0 {
		raw = append(raw, f.kinds...)
	}
	raw = append(raw, f.ints...)
	raw = append(raw, f.floats...)
	raw = append(raw, f.bools...)
	if f.kindSet.Has(logs.KindString) {
		raw = f.strs.append(raw)
	}
	return raw
}

func (f *fieldColumn) stats(c *Column) {
	c.Kinds = f.kindSet
	if f.kindSet.Has(logs.KindInt) {
		c.MinInt, c.MaxInt = f.minInt, f.maxInt
	}
	if f.kindSet.Has(logs.KindFloat) {
		c.MinFloat, c.MaxFloat, c.NaN = f.minFloat, f.maxFloat, f.nan
	}
	if (f.kindSet.Has(logs.KindInt) && f.intSet == nil) ||
		(f.kindSet.Has(logs.KindFloat) && f.floatSet == nil) ||
		(f.kindSet.Has(logs.KindString) && f.strs.dict == nil) {
		return // too many distinct values to count
	}
	f.strs.stats(c)
	ints := make([]int64, 0, len(f.intSet))
	for v := range f.intSet {
		ints = append(ints, v)
	}
	slices.Sort(ints)
	floats := make([]uint64, 0, len(f.floatSet))
	for v := range f.floatSet {
		floats = append(floats, v)
	}
	slices.Sort(floats)
	c.Distinct += len(ints) + len(floats)
	for i, seen := range f.boolSet {
		if seen {
			c.Distinct++
			c.Set = append(c.Set, logs.Bool(i == 1))
		}
	}
	for _, v := range ints {
		c.Set = append(c.Set, logs.Int(v))
	}
	for _, v := range floats {
		c.Set = append(c.Set, logs.Float(math.Float64frombits(v)))
	}
	if c.Distinct > MaxDistinct {
		c.Distinct, c.Set = 0, nil
		return
	}
	limitSet(c)
}

// limitSet sorts a column's Set by kind then value, or drops it when it is
// too large for a header.
func limitSet(c *Column) {
	if len(c.Set) > MaxSetValues {
		c.Set = nil
		return
	}
	for _, v := range c.Set {
		if len(v.Str) > MaxSetValueBytes {
			c.Set = nil
			return
		}
	}
	slices.SortFunc(c.Set, compareValues)
}

func compareValues(a, b logs.Value) int {
	if a.Kind != b.Kind {
		return cmp.Compare(a.Kind, b.Kind)
	}
	switch a.Kind {
	case logs.KindString:
		return strings.Compare(a.Str, b.Str)
	case logs.KindInt:
		return cmp.Compare(a.Int, b.Int)
	case logs.KindFloat:
		return cmp.Compare(math.Float64bits(a.Float), math.Float64bits(b.Float))
	case logs.KindBool:
		return cmp.Compare(boolByte(a.Bool), boolByte(b.Bool))
	}
	return 0
}
