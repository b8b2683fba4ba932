package block

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/logengine/logengine/storage/logs"
)

// headerVersion is the first byte of a marshalled header, so that a later
// format can be told apart and migrated. Version 2 added the per-source
// level counts; version 1 headers still read, without them. Version 3
// writes the template counts denser (see templates.go); version 2 headers
// still read, with theirs.
const (
	headerVersion   = 3
	headerVersionV2 = 2
	headerVersionV1 = 1
)

// knownVersion reports whether a header of version v can be read.
func knownVersion(v byte) bool {
	return v == headerVersion || v == headerVersionV2 || v == headerVersionV1
}

// ColumnKind says what a column holds.
type ColumnKind uint8

// Column kinds. Their numbers are part of the format; the first six are in
// every block, in this order, then templates if any, then the fields.
const (
	ColumnIDs       ColumnKind = 1
	ColumnLevels    ColumnKind = 2
	ColumnSources   ColumnKind = 3
	ColumnMessages  ColumnKind = 4
	ColumnTags      ColumnKind = 5
	ColumnLayouts   ColumnKind = 6
	ColumnTemplates ColumnKind = 7
	ColumnField     ColumnKind = 8
)

// String names the column kind in errors.
func (k ColumnKind) String() string {
	switch k {
	case ColumnIDs:
		return "ids"
	case ColumnLevels:
		return "levels"
	case ColumnSources:
		return "sources"
	case ColumnMessages:
		return "messages"
	case ColumnTags:
		return "tags"
	case ColumnLayouts:
		return "layouts"
	case ColumnTemplates:
		return "templates"
	case ColumnField:
		return "field"
	}
	return fmt.Sprintf("column(%d)", uint8(k))
}

// Codec says how a column's bytes are stored in the body.
type Codec uint8

// Codecs. Their numbers are part of the format.
const (
	CodecRaw  Codec = 0
	CodecZstd Codec = 1
	// CodecFrames: the column is frames of rows, each stored raw or
	// compressed on its own (framesOf), so that a few rows decompress
	// without the rest. Only a plain messages column is framed.
	CodecFrames Codec = 2
	// CodecFramesBySource: CodecFrames over the rows grouped by source
	// (see sourceOrder): a block's rows in the order of their index in
	// the sources column's dictionary, in row order within one source.
	CodecFramesBySource Codec = 3
)

// Header describes a block without its body: what planning, counting and
// histograms read, and where each column lies in the body.
type Header struct {
	// Count is the number of entries.
	Count int
	// MinID and MaxID are the first and last entries' IDs; their Nanos are
	// the block's time range, both ends included.
	MinID, MaxID logs.ID
	// Levels counts the entries of each level, in the order of
	// logs.Levels.
	Levels [6]int
	// Tags lists the distinct tags of the block, sorted.
	Tags []string
	// Columns lists the columns in body order.
	Columns []Column

	// sourceLevels is the marshalled per-source level counts (see
	// EachSourceLevels), nil when the block has more than maxDict sources
	// or was written before they were kept. It stays marshalled because
	// only counting reads it, and most headers are unmarshalled for a scan.
	sourceLevels []byte
	// templateLevels is the marshalled per-template counts (see
	// EachTemplateLevel), nil when not kept or kept apart; denseTemplates
	// says the block's template counts, here or apart, are in the form of
	// version 3, not of version 2.
	templateLevels []byte
	denseTemplates bool
}

// EachSourceLevels calls fn with each source of the block and the number of
// its entries of each level (in the order of logs.Levels), and reports
// whether the header has those counts: they let a count by source and level
// over whole blocks read no body. source is valid only during the call.
func (h *Header) EachSourceLevels(fn func(source []byte, levels *[6]int)) bool {
	// Checked here, when used, not when the header is read: most headers
	// are read for a scan that needs none of it.
	if h.sourceLevels == nil || readSourceLevels(&reader{b: h.sourceLevels}, h.Levels) == nil {
		return false
	}
	r := reader{b: h.sourceLevels}
	var levels [6]int
	for n := r.count(maxDict); n > 0 && r.err == nil; n-- {
		src := r.bytes(r.count(r.len()))
		for i := range levels {
			levels[i] = int(r.uvarint())
		}
		if r.err == nil {
			fn(src, &levels)
		}
	}
	return true
}

// setSourceLevels keeps the per-source level counts of a block, with
// levelsBySource[i] the counts of sources[i]. They are kept sorted by
// source, so that reading them checks for duplicates without a map.
func (h *Header) setSourceLevels(sources []string, levelsBySource [][6]int) {
	order := make([]int, len(sources))
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(a, b int) int { return strings.Compare(sources[a], sources[b]) })
	b := binary.AppendUvarint(nil, uint64(len(sources)))
	for _, i := range order {
		b = appendString(b, sources[i])
		for _, n := range levelsBySource[i] {
			b = binary.AppendUvarint(b, uint64(n))
		}
	}
	h.sourceLevels = b
}

// readSourceLevels reads and checks the per-source level counts (sources
// sorted and distinct, counts adding up to levels) and returns them
// marshalled, nil when there are none. The result aliases r's input.
func readSourceLevels(r *reader, levels [6]int) []byte {
	start := r.b
	n := r.count(maxDict)
	if n == 0 || r.err != nil {
		return nil
	}
	var sum [6]int
	var prev []byte
	for i := 0; i < n && r.err == nil; i++ {
		src := r.bytes(r.count(r.len()))
		if i > 0 && bytes.Compare(prev, src) >= 0 {
			r.fail("source level counts: sources not sorted and distinct")
		}
		prev = src
		for j := range sum {
			sum[j] += r.count(MaxEntries)
		}
	}
	if r.err == nil && sum != levels {
		r.fail("source level counts do not add up to the level counts")
	}
	if r.err != nil {
		return nil
	}
	return start[:len(start)-r.len()]
}

// EachSourceLevelsOf is EachSourceLevels on a marshalled header, reading
// only what precedes the columns: counting whole blocks by source reads
// hundreds of headers and needs nothing else of them. The counts are
// checked before fn sees any. ok is false when the header has none.
func EachSourceLevelsOf(b []byte, fn func(source []byte, levels *[6]int)) (ok bool, err error) {
	r := reader{b: b}
	version := r.byte()
	if r.err == nil && !knownVersion(version) {
		return false, fmt.Errorf("block header: unknown version %d", version)
	}
	r.count(MaxEntries)
	for range 4 { // the ID range
		r.uvarint()
	}
	var levels [6]int
	for i := range levels {
		levels[i] = r.count(MaxEntries)
	}
	for n := r.count(r.len()); n > 0 && r.err == nil; n-- {
		r.bytes(r.count(r.len())) // a tag
	}
	var section []byte
	if version >= 2 {
		section, _ = readSections(&r)
		if section != nil {
			if readSourceLevels(&reader{b: section}, levels) == nil {
				return false, fmt.Errorf("block header: %w: source level counts", ErrCorrupt)
			}
		}
	}
	if r.err != nil {
		return false, fmt.Errorf("block header: %w", r.err)
	}
	h := Header{Levels: levels, sourceLevels: section}
	return h.EachSourceLevels(fn), nil
}

// readSections reads the per-source and per-template count sections of a
// version 2 header, unchecked (nil when absent). They alias r's input.
func readSections(r *reader) (sources, templates []byte) {
	if n := r.count(r.len()); n > 0 {
		sources = r.bytes(n)
	}
	if n := r.count(r.len()); n > 0 {
		templates = r.bytes(n)
	}
	return sources, templates
}

// Column describes one column of a block. Statistics (Kinds and below) are
// kept for the sources, messages and field columns.
type Column struct {
	Kind ColumnKind
	// Name is the field name of a ColumnField, empty for the others.
	Name string
	// Codec, Offset and Length locate the column's stored bytes in the
	// body; RawLength is their size once decompressed.
	Codec     Codec
	Offset    int
	Length    int
	RawLength int
	// Entries counts the entries with at least one value in the column
	// (for tags: with at least one tag; templates: a non-zero id); Values
	// counts the values (a name repeated in an entry counts each time;
	// tags: all tags of all entries). For ids, levels, sources and
	// messages both are the block's Count.
	Entries int
	Values  int
	// Kinds is the set of kinds of the column's values.
	Kinds KindSet
	// MinInt and MaxInt bound the column's int values, when Kinds has
	// logs.KindInt.
	MinInt, MaxInt int64
	// MinFloat and MaxFloat bound the column's float values other than
	// NaN, when Kinds has logs.KindFloat; MinFloat > MaxFloat when every
	// float is NaN.
	MinFloat, MaxFloat float64
	// NaN reports a NaN among the float values.
	NaN bool
	// Distinct is the number of distinct values (floats by their bits)
	// when it is at most MaxDistinct, 0 when there are more.
	Distinct int
	// Set lists the distinct values, ordered by kind then value, when they
	// are at most MaxSetValues and no string among them is longer than
	// MaxSetValueBytes; it is nil otherwise.
	Set []logs.Value
	// Filter is a bloom filter of a field column's strings when Set does
	// not list them (see MayHaveString); nil for other columns and in
	// headers written before filters were kept.
	Filter []byte
}

// Column returns the column of a built-in kind, or nil when the block has
// none (only templates may be absent).
func (h *Header) Column(k ColumnKind) *Column {
	for i := range h.Columns {
		if h.Columns[i].Kind == k && k != ColumnField {
			return &h.Columns[i]
		}
	}
	return nil
}

// Field returns the column of the named field, or nil when no entry of the
// block has it.
func (h *Header) Field(name string) *Column {
	for i := range h.Columns {
		if c := &h.Columns[i]; c.Kind == ColumnField && c.Name == name {
			return c
		}
	}
	return nil
}

// LevelCount returns the number of entries of level l.
func (h *Header) LevelCount(l logs.Level) int {
	if !l.Valid() {
		return 0
	}
	return h.Levels[levelIndex(l)]
}

// MinTime and MaxTime return the block's time range, both ends included, in
// UTC like storage's entries.
func (h *Header) MinTime() time.Time { return time.Unix(0, h.MinID.Nanos).UTC() }

// MaxTime returns the time of the block's last entry.
func (h *Header) MaxTime() time.Time { return time.Unix(0, h.MaxID.Nanos).UTC() }

// BodyLength returns the length of the body the header describes.
func (h *Header) BodyLength() int {
	if len(h.Columns) == 0 {
		return 0
	}
	c := h.Columns[len(h.Columns)-1]
	return c.Offset + c.Length
}

// Marshal returns the binary form of the header. Offsets are not stored:
// columns follow each other in the body.
func (h *Header) Marshal() []byte {
	// A header read from version 2 (or 1) stays version 2: its template
	// counts, in the header or kept apart, are in that version's form.
	// Encode's headers are always version 3.
	if !h.denseTemplates {
		return h.marshal(headerVersionV2)
	}
	return h.marshal(headerVersion)
}

// marshal writes the header in a format version: 1 (only for tests of
// reading old headers) has no per-source level counts.
func (h *Header) marshal(version byte) []byte {
	b := make([]byte, 0, 64+32*len(h.Columns))
	b = append(b, version)
	b = binary.AppendUvarint(b, uint64(h.Count))
	b = binary.AppendUvarint(b, uint64(h.MinID.Nanos))
	b = binary.AppendUvarint(b, h.MinID.Seq)
	b = binary.AppendUvarint(b, uint64(h.MaxID.Nanos-h.MinID.Nanos))
	b = binary.AppendUvarint(b, h.MaxID.Seq)
	for _, n := range h.Levels {
		b = binary.AppendUvarint(b, uint64(n))
	}
	b = binary.AppendUvarint(b, uint64(len(h.Tags)))
	for _, t := range h.Tags {
		b = appendString(b, t)
	}
	// The per-source level counts precede the columns, so that counting
	// reads them without the rest (EachSourceLevelsOf).
	// Each behind its length, so that reading a header skips them
	// without parsing them.
	if version >= 2 {
		b = binary.AppendUvarint(b, uint64(len(h.sourceLevels)))
		b = append(b, h.sourceLevels...)
		b = binary.AppendUvarint(b, uint64(len(h.templateLevels)))
		b = append(b, h.templateLevels...)
	}
	b = binary.AppendUvarint(b, uint64(len(h.Columns)))
	for i := range h.Columns {
		b = h.Columns[i].marshal(b, version)
	}
	return b
}

const (
	statNaN = 1 << iota
)

func (c *Column) marshal(b []byte, version byte) []byte {
	b = append(b, byte(c.Kind))
	if c.Kind == ColumnField {
		b = appendString(b, c.Name)
	}
	b = append(b, byte(c.Codec))
	b = binary.AppendUvarint(b, uint64(c.Length))
	b = binary.AppendUvarint(b, uint64(c.RawLength))
	b = binary.AppendUvarint(b, uint64(c.Entries))
	b = binary.AppendUvarint(b, uint64(c.Values))
	b = append(b, byte(c.Kinds))
	if c.Kinds == 0 {
		return b
	}
	var flags byte
	if c.NaN {
		flags |= statNaN
	}
	b = append(b, flags)
	if c.Kinds.Has(logs.KindInt) {
		b = binary.AppendVarint(b, c.MinInt)
		b = binary.AppendVarint(b, c.MaxInt)
	}
	if c.Kinds.Has(logs.KindFloat) {
		b = binary.LittleEndian.AppendUint64(b, math.Float64bits(c.MinFloat))
		b = binary.LittleEndian.AppendUint64(b, math.Float64bits(c.MaxFloat))
	}
	b = binary.AppendUvarint(b, uint64(c.Distinct))
	b = binary.AppendUvarint(b, uint64(len(c.Set)))
	for _, v := range c.Set {
		b = appendValue(b, v)
	}
	if version >= 2 {
		b = binary.AppendUvarint(b, uint64(len(c.Filter)))
		b = append(b, c.Filter...)
	}
	return b
}

func appendValue(b []byte, v logs.Value) []byte {
	b = append(b, byte(v.Kind))
	switch v.Kind {
	case logs.KindString:
		b = appendString(b, v.Str)
	case logs.KindInt:
		b = binary.AppendVarint(b, v.Int)
	case logs.KindFloat:
		b = binary.LittleEndian.AppendUint64(b, math.Float64bits(v.Float))
	case logs.KindBool:
		b = append(b, boolByte(v.Bool))
	}
	return b
}

// PeekRange reads a marshalled header's entry count and ID range without
// unmarshalling the rest: what deciding whether a block meets a range
// needs. Unmarshal checks the whole header.
func PeekRange(b []byte) (count int, minID, maxID logs.ID, err error) {
	r := reader{b: b}
	if v := r.byte(); r.err == nil && !knownVersion(v) {
		return 0, logs.ID{}, logs.ID{}, fmt.Errorf("peek block header: unknown version %d", v)
	}
	count = r.count(MaxEntries)
	minID.Nanos = int64(r.uvarint())
	minID.Seq = r.uvarint()
	span := r.uvarint()
	maxID.Seq = r.uvarint()
	if minID.Nanos < 0 || span > math.MaxInt64-uint64(minID.Nanos) {
		r.fail("time out of range")
	}
	if r.err != nil {
		return 0, logs.ID{}, logs.ID{}, fmt.Errorf("peek block header: %w", r.err)
	}
	maxID.Nanos = minID.Nanos + int64(span)
	return count, minID, maxID, nil
}

// Unmarshal decodes a header from b and checks that it describes a possible
// block; it does not see the body. h keeps parts of b (the count sections,
// the value filters): b must not change while h is in use.
func (h *Header) Unmarshal(b []byte) error {
	*h = Header{}
	return h.unmarshal(b)
}

// UnmarshalReusing is Unmarshal into the arrays of h's slices (its tags,
// columns and their value sets) when they are large enough: a reader that
// goes through thousands of headers one at a time (storage's block scan)
// spent a tenth of a field query allocating them. Whatever h held before
// is overwritten, so nothing may still refer to it.
func (h *Header) UnmarshalReusing(b []byte) error {
	tags, cols := h.Tags[:0], h.Columns[:0]
	*h = Header{Tags: tags, Columns: cols}
	return h.unmarshal(b)
}

// unmarshal is Unmarshal into h, zero but for the arrays of its Tags and
// Columns, which it reuses.
func (h *Header) unmarshal(b []byte) error {
	tags, cols := h.Tags, h.Columns
	h.Tags, h.Columns = nil, nil
	r := reader{b: b}
	version := r.byte()
	if r.err == nil && !knownVersion(version) {
		return fmt.Errorf("unmarshal block header: unknown version %d", version)
	}
	h.Count = r.count(MaxEntries)
	h.MinID.Nanos = int64(r.uvarint())
	h.MinID.Seq = r.uvarint()
	span := r.uvarint()
	h.MaxID.Seq = r.uvarint()
	if h.MinID.Nanos < 0 || span > math.MaxInt64-uint64(h.MinID.Nanos) {
		r.fail("time out of range")
	}
	h.MaxID.Nanos = h.MinID.Nanos + int64(span)
	for i := range h.Levels {
		h.Levels[i] = r.count(MaxEntries)
	}
	// Every tag and column takes at least one byte, which bounds these
	// counts by what is left.
	if n := r.count(r.len()); n > 0 {
		h.Tags = slices.Grow(tags[:0], n)[:n]
		for i := range h.Tags {
			h.Tags[i] = r.string()
		}
	}
	if version >= 2 {
		h.sourceLevels, h.templateLevels = readSections(&r)
	}
	h.denseTemplates = version >= 3
	if n := r.count(r.len()); n > 0 {
		h.Columns = slices.Grow(cols[:0], n)[:n]
		off := 0
		for i := range h.Columns {
			c := &h.Columns[i]
			set := c.Set[:0]
			*c = Column{}
			c.unmarshal(&r, version, set)
			c.Offset = off
			off += c.Length
		}
	}
	if r.err == nil && r.len() != 0 {
		r.fail("trailing bytes")
	}
	if r.err != nil {
		return fmt.Errorf("unmarshal block header: %w", r.err)
	}
	if err := h.check(); err != nil {
		return fmt.Errorf("unmarshal block header: %w", err)
	}
	return nil
}

// unmarshal reads a column into c, zero, and its value set into set's
// array when it is large enough.
func (c *Column) unmarshal(r *reader, version byte, set []logs.Value) {
	c.Kind = ColumnKind(r.byte())
	if c.Kind == ColumnField {
		c.Name = r.string()
	}
	c.Codec = Codec(r.byte())
	c.Length = r.count(MaxRawBytes)
	c.RawLength = r.count(MaxRawBytes)
	c.Entries = r.count(MaxEntries)
	c.Values = r.count(MaxValues)
	c.Kinds = KindSet(r.byte())
	if c.Kinds == 0 || r.err != nil {
		return
	}
	flags := r.byte()
	c.NaN = flags&statNaN != 0
	if c.Kinds.Has(logs.KindInt) {
		c.MinInt = r.varint()
		c.MaxInt = r.varint()
	}
	if c.Kinds.Has(logs.KindFloat) {
		c.MinFloat = math.Float64frombits(r.uint64())
		c.MaxFloat = math.Float64frombits(r.uint64())
	}
	c.Distinct = r.count(MaxDistinct)
	if n := r.count(MaxSetValues); n > 0 && r.err == nil {
		c.Set = slices.Grow(set, n)[:n]
		for i := range c.Set {
			c.Set[i] = r.value()
		}
	}
	if version >= 2 {
		if n := r.count(maxFilterBytes); n > 0 {
			c.Filter = r.bytes(n) // aliases b, as Unmarshal says
		}
	}
}

// check verifies what Decode relies on, for headers that were unmarshalled
// as well as for ones built by hand: counts within the limits and agreeing
// with each other, the built-in columns present once and in order, field
// names unique, columns contiguous.
func (h *Header) check() error {
	if h.Count < 1 || h.Count > MaxEntries {
		return fmt.Errorf("%w: %d entries", ErrCorrupt, h.Count)
	}
	if h.MinID.Nanos < 0 || h.MinID.Compare(h.MaxID) > 0 || (h.Count == 1) != (h.MinID == h.MaxID) {
		return fmt.Errorf("%w: ids %s..%s for %d entries", ErrCorrupt, h.MinID, h.MaxID, h.Count)
	}
	if logs.DayOf(h.MinID.Nanos) != logs.DayOf(h.MaxID.Nanos) {
		return fmt.Errorf("%w: ids %s..%s on two days", ErrCorrupt, h.MinID, h.MaxID)
	}
	sum := 0
	for _, n := range h.Levels {
		if n < 0 || n > h.Count {
			return fmt.Errorf("%w: level counts %v for %d entries", ErrCorrupt, h.Levels, h.Count)
		}
		sum += n
	}
	if sum != h.Count {
		return fmt.Errorf("%w: level counts %v for %d entries", ErrCorrupt, h.Levels, h.Count)
	}
	for i := 1; i < len(h.Tags); i++ {
		if h.Tags[i-1] >= h.Tags[i] {
			return fmt.Errorf("%w: tags not sorted and distinct", ErrCorrupt)
		}
	}
	builtins := []ColumnKind{ColumnIDs, ColumnLevels, ColumnSources, ColumnMessages, ColumnTags, ColumnLayouts}
	if len(h.Columns) < len(builtins) {
		return fmt.Errorf("%w: %d columns", ErrCorrupt, len(h.Columns))
	}
	off, raw, values := 0, 0, 0
	names := make(map[string]struct{}, len(h.Columns)-len(builtins))
	for i := range h.Columns {
		c := &h.Columns[i]
		switch {
		case i < len(builtins):
			if c.Kind != builtins[i] {
				return fmt.Errorf("%w: column %d is %s, want %s", ErrCorrupt, i, c.Kind, builtins[i])
			}
		case i == len(builtins) && c.Kind == ColumnTemplates:
		case c.Kind == ColumnField:
			if _, dup := names[c.Name]; dup {
				return fmt.Errorf("%w: field column %q twice", ErrCorrupt, c.Name)
			}
			names[c.Name] = struct{}{}
		default:
			return fmt.Errorf("%w: column %d is %s", ErrCorrupt, i, c.Kind)
		}
		if c.Kind != ColumnField && c.Name != "" {
			return fmt.Errorf("%w: %s column named %q", ErrCorrupt, c.Kind, c.Name)
		}
		if c.Offset != off || c.Length < 0 || c.RawLength < 0 || c.Length > MaxRawBytes {
			return fmt.Errorf("%w: %s column %q at %d+%d, want offset %d", ErrCorrupt, c.Kind, c.Name, c.Offset, c.Length, off)
		}
		switch c.Codec {
		case CodecRaw:
			if c.RawLength != c.Length {
				return fmt.Errorf("%w: raw %s column %q of %d bytes claims %d", ErrCorrupt, c.Kind, c.Name, c.Length, c.RawLength)
			}
		case CodecZstd:
			// zstd expands at most a 4-byte RLE block into 128 KiB:
			// a larger claim is corrupt, and refusing it here keeps a
			// corrupt length from being allocated.
			if c.RawLength > c.Length<<15 {
				return fmt.Errorf("%w: %s column %q of %d bytes claims %d once decompressed", ErrCorrupt, c.Kind, c.Name, c.Length, c.RawLength)
			}
		case CodecFrames, CodecFramesBySource:
			if c.Kind != ColumnMessages || c.RawLength > c.Length<<15 {
				return fmt.Errorf("%w: %s column %q of %d bytes in frames claims %d once decompressed", ErrCorrupt, c.Kind, c.Name, c.Length, c.RawLength)
			}
		default:
			return fmt.Errorf("%w: %s column %q has codec %d", ErrCorrupt, c.Kind, c.Name, c.Codec)
		}
		off += c.Length
		raw += c.RawLength
		if raw > MaxRawBytes {
			return fmt.Errorf("%w: columns of more than %d bytes", ErrCorrupt, MaxRawBytes)
		}
		if c.Entries < 0 || c.Entries > h.Count || c.Values < c.Entries || c.Values > MaxValues {
			return fmt.Errorf("%w: %s column %q: %d values in %d of %d entries", ErrCorrupt, c.Kind, c.Name, c.Values, c.Entries, h.Count)
		}
		switch c.Kind {
		case ColumnIDs, ColumnLevels, ColumnSources, ColumnMessages:
			if c.Entries != h.Count || c.Values != h.Count {
				return fmt.Errorf("%w: %s column: %d values in %d of %d entries", ErrCorrupt, c.Kind, c.Values, c.Entries, h.Count)
			}
		case ColumnTags, ColumnField:
			values += c.Values
			if values > MaxValues {
				return fmt.Errorf("%w: more than %d values", ErrCorrupt, MaxValues)
			}
		case ColumnTemplates:
			if c.Values != c.Entries {
				return fmt.Errorf("%w: templates column: %d values in %d entries", ErrCorrupt, c.Values, c.Entries)
			}
		}
		if c.Kind == ColumnField && (c.Entries == 0 || c.Kinds == 0) {
			return fmt.Errorf("%w: field column %q without values", ErrCorrupt, c.Name)
		}
		if c.Kinds&^allKinds != 0 {
			return fmt.Errorf("%w: %s column %q: kinds %#x", ErrCorrupt, c.Kind, c.Name, uint8(c.Kinds))
		}
	}
	return nil
}

func boolByte(b bool) byte {
	if b {
		return 1
	}
	return 0
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// Size returns the block's size before compression (all columns) and its
// tags plus field values: what a merger checks against MaxRawBytes and
// MaxValues before it joins blocks.
func (h *Header) Size() (raw, values int) {
	for i := range h.Columns {
		c := &h.Columns[i]
		raw += c.RawLength
		if c.Kind == ColumnField || c.Kind == ColumnTags {
			values += c.Values
		}
	}
	return raw, values
}
