package block

import (
	"fmt"
	"math"
	"slices"
	"time"
	"unsafe"

	"github.com/logengine/logengine/storage/logs"
)

// Decode returns the entries of a block exactly as they were encoded, the
// way storage returns entries: Time in UTC from the ID's nanoseconds, Tags
// and Fields nil when there are none, fields in their order with their
// kinds. Entries' slices share backing arrays with capacity clipped, so
// appending to one never writes into another; equal strings of a
// dictionary-encoded column share memory.
func Decode(h *Header, body []byte) ([]logs.Entry, error) {
	if err := checkBody(h, body); err != nil {
		return nil, fmt.Errorf("decode block: %w", err)
	}
	entries, err := decode(h, body)
	if err != nil {
		return nil, fmt.Errorf("decode block of %d entries from %s: %w", h.Count, h.MinID, err)
	}
	return entries, nil
}

// DecodeColumns returns the entries of a block without their messages and
// with only the named fields (each with all its values, in order; the other
// fields left out): what a query on fields, levels, sources and tags reads,
// without decompressing the message column or the other fields.
func DecodeColumns(h *Header, body []byte, fields []string) ([]logs.Entry, error) {
	return DecodeColumnsInto(nil, h, body, fields)
}

// DecodeColumnsInto is DecodeColumns into dst's array when it is large
// enough, so that a scan reuses the entries of the blocks it is done with
// instead of allocating (and clearing) new ones for every block.
func DecodeColumnsInto(dst []logs.Entry, h *Header, body []byte, fields []string) ([]logs.Entry, error) {
	return decodeNamed(dst, nil, h, body, false, fields)
}

// decodeNamed decodes the block with only the named fields, and with the
// messages when message is set.
func decodeNamed(dst []logs.Entry, bufs *Buffers, h *Header, body []byte, message bool, fields []string) ([]logs.Entry, error) {
	if err := checkBody(h, body); err != nil {
		return nil, fmt.Errorf("decode block: %w", err)
	}
	keep := func(name string) bool { return slices.Contains(fields, name) }
	entries, err := decodeSome(dst, bufs, h, body, message, keep, nil)
	if err != nil {
		return nil, fmt.Errorf("decode block of %d entries from %s: %w", h.Count, h.MinID, err)
	}
	return entries, nil
}

func decode(h *Header, body []byte) ([]logs.Entry, error) {
	return decodeSome(nil, nil, h, body, true, nil, nil)
}

// DecodeInto is Decode into dst's array when it is large enough (see
// DecodeColumnsInto).
func DecodeInto(dst []logs.Entry, h *Header, body []byte) ([]logs.Entry, error) {
	if err := checkBody(h, body); err != nil {
		return nil, fmt.Errorf("decode block: %w", err)
	}
	entries, err := decodeSome(dst, nil, h, body, true, nil, nil)
	if err != nil {
		return nil, fmt.Errorf("decode block of %d entries from %s: %w", h.Count, h.MinID, err)
	}
	return entries, nil
}

// Buffers keeps what decoding a block allocates besides its entries (their
// fields and the field columns' values) for the next block, for a caller
// that decodes block after block and is done with one block's entries
// before it decodes another with the same Buffers: a scan of a day's
// columns allocated ~200 bytes per entry otherwise, and spent a third of
// its time allocating and clearing them.
type Buffers struct {
	fields []logs.Field
	values [][]logs.Value
}

func (b *Buffers) fieldSlice(n int) []logs.Field {
	if b == nil {
		return make([]logs.Field, n)
	}
	if cap(b.fields) < n {
		b.fields = make([]logs.Field, n)
	}
	return b.fields[:n]
}

// valueSlice returns room for the values of field column c of a block.
func (b *Buffers) valueSlice(c, n int) []logs.Value {
	if b == nil {
		return make([]logs.Value, n)
	}
	for len(b.values) <= c {
		b.values = append(b.values, nil)
	}
	if cap(b.values[c]) < n {
		b.values[c] = make([]logs.Value, n)
	}
	return b.values[c][:n]
}

// DecodeMessagesWith is DecodeColumnsWith with the messages: entries whole
// but for the fields not named, for a reader that checks message words and
// a few fields (a field column of distinct ids costs as much to decode as
// the messages).
func DecodeMessagesWith(dst []logs.Entry, bufs *Buffers, h *Header, body []byte, fields []string) ([]logs.Entry, error) {
	return decodeNamed(dst, bufs, h, body, true, fields)
}

// DecodeRowsWith is DecodeMessagesWith for the entries whose IDs want
// holds (ascending) only: the block's columns are still decompressed, but
// only those entries are made, their strings copied and their fields
// gathered. It returns them in ID order.
func DecodeRowsWith(dst []logs.Entry, bufs *Buffers, h *Header, body []byte, fields []string, want []logs.ID) ([]logs.Entry, error) {
	if err := checkBody(h, body); err != nil {
		return nil, fmt.Errorf("decode block: %w", err)
	}
	if want == nil {
		want = []logs.ID{}
	}
	keep := func(name string) bool { return slices.Contains(fields, name) }
	entries, err := decodeSome(dst, bufs, h, body, true, keep, want)
	if err != nil {
		return nil, fmt.Errorf("decode block of %d entries from %s: %w", h.Count, h.MinID, err)
	}
	return entries, nil
}

// DecodeRowMessages returns the entries whose IDs want holds (ascending)
// with their IDs, times and messages only: what checking message words
// needs. Only the ids column and the message frames of those rows are
// decompressed, and the sources column when the messages are grouped by
// source (it gives their order).
func DecodeRowMessages(dst []logs.Entry, h *Header, body []byte, want []logs.ID) ([]logs.Entry, error) {
	if err := checkBody(h, body); err != nil {
		return nil, fmt.Errorf("decode block: %w", err)
	}
	ids, err := decodeIDs(h, body)
	if err != nil {
		return nil, fmt.Errorf("decode block of %d entries from %s: %w", h.Count, h.MinID, err)
	}
	rows, n := selectRows(ids, want)
	entries := rowEntries(dst, ids, rows, n)
	if n == 0 {
		return entries, nil
	}
	err = decodeStringColumnRows(h, body, ColumnMessages, rows, func(i int, s string) {
		if e := entryOf(entries, rows, i); e != nil {
			e.Message = s
		}
	})
	if err != nil {
		return nil, fmt.Errorf("decode block of %d entries from %s: %w", h.Count, h.MinID, err)
	}
	return entries, nil
}

// DecodeColumnsWith is DecodeColumnsInto reusing bufs (see Buffers).
func DecodeColumnsWith(dst []logs.Entry, bufs *Buffers, h *Header, body []byte, fields []string) ([]logs.Entry, error) {
	return decodeNamed(dst, bufs, h, body, false, fields)
}

// decodeSome decodes the block, the messages only when message is set and
// the fields keep keeps (every field when keep is nil). With want (IDs in
// ascending order) it returns only the entries whose IDs it holds.
func decodeSome(dst []logs.Entry, bufs *Buffers, h *Header, body []byte, message bool, keep func(string) bool, want []logs.ID) ([]logs.Entry, error) {
	ids, err := decodeIDs(h, body)
	if err != nil {
		return nil, err
	}
	// rows maps a row of the block to its entry, -1 for a row left out;
	// nil when every row is decoded.
	var rows []int32
	n := len(ids)
	if want != nil {
		rows, n = selectRows(ids, want)
	}
	entries := rowEntries(dst, ids, rows, n)
	if n == 0 {
		return entries, nil
	}
	if err := decodeLevels(h, body, func(i int, l logs.Level) {
		if e := entryOf(entries, rows, i); e != nil {
			e.Level = l
		}
	}); err != nil {
		return nil, err
	}
	if err := decodeStringColumnRows(h, body, ColumnSources, rows, func(i int, s string) {
		if e := entryOf(entries, rows, i); e != nil {
			e.Source = s
		}
	}); err != nil {
		return nil, err
	}
	if message {
		if err := decodeStringColumnRows(h, body, ColumnMessages, rows, func(i int, s string) {
			if e := entryOf(entries, rows, i); e != nil {
				e.Message = s
			}
		}); err != nil {
			return nil, err
		}
	}
	if err := decodeTagsRows(h, body, rows, func(i int, tags []string) {
		if e := entryOf(entries, rows, i); e != nil {
			e.Tags = tags
		}
	}); err != nil {
		return nil, err
	}
	if err := decodeTemplates(h, body, func(i int, t uint32) {
		if e := entryOf(entries, rows, i); e != nil {
			e.Pattern = t
		}
	}); err != nil {
		return nil, err
	}
	lay, err := decodeLayouts(h, body)
	if err != nil {
		return nil, err
	}
	if err := lay.check(h); err != nil {
		return nil, err
	}
	// Every field column is decoded in full, then the entries take their
	// values in layout order: a column's values are stored in entry order,
	// and in order of appearance within an entry.
	fields := h.Columns[lay.first:]
	values := make([][]logs.Value, len(fields))
	kept := make([]bool, len(fields))
	total := 0
	for c := range fields {
		if keep != nil && !keep(fields[c].Name) {
			continue
		}
		kept[c] = true
		if values[c], err = decodeFieldValues(&fields[c], body, bufs.valueSlice(c, fields[c].Values)); err != nil {
			return nil, err
		}
		total += fields[c].Values
	}
	if rows != nil {
		total = 0 // the fields of the rows kept, counted below
		for i := range ids {
			if rows[i] < 0 {
				continue
			}
			for _, c := range lay.layouts[lay.entry(i)] {
				if kept[c] {
					total++
				}
			}
		}
	}
	backing := bufs.fieldSlice(total)
	next := make([]int, len(fields))
	for i := range ids {
		l := lay.layouts[lay.entry(i)]
		if len(l) == 0 {
			continue
		}
		e := entryOf(entries, rows, i)
		if e == nil {
			// Left out: its values are passed over.
			for _, c := range l {
				next[c]++
			}
			continue
		}
		n := len(l)
		if keep != nil {
			n = 0
			for _, c := range l {
				if kept[c] {
					n++
				}
			}
			if n == 0 {
				continue
			}
		}
		fs := backing[:n:n]
		backing = backing[n:]
		j := 0
		for _, c := range l {
			if !kept[c] {
				continue // left out
			}
			fs[j] = logs.Field{Name: fields[c].Name, Value: values[c][next[c]]}
			next[c]++
			j++
		}
		e.Fields = fs
	}
	return entries, nil
}

// selectRows returns, for each of a block's ids, its index among the ids
// that want holds (-1 when it holds it not), and how many it holds. Both
// lists ascend.
func selectRows(ids, want []logs.ID) ([]int32, int) {
	rows := make([]int32, len(ids))
	n, j := 0, 0
	for i, id := range ids {
		for j < len(want) && want[j].Compare(id) < 0 {
			j++
		}
		if j < len(want) && want[j] == id {
			rows[i] = int32(n)
			n++
			j++
			continue
		}
		rows[i] = -1
	}
	return rows, n
}

// rowEntries returns the n entries of the rows that rows keeps (every row
// when rows is nil), in dst's array when it is large enough, with their
// IDs and times set.
func rowEntries(dst []logs.Entry, ids []logs.ID, rows []int32, n int) []logs.Entry {
	var entries []logs.Entry
	if cap(dst) >= n {
		entries = dst[:n]
		clear(entries)
	} else {
		entries = make([]logs.Entry, n)
	}
	for i, id := range ids {
		if e := entryOf(entries, rows, i); e != nil {
			e.ID, e.Time = id, time.Unix(0, id.Nanos).UTC()
		}
	}
	return entries
}

// entryOf returns the entry of row i: entries[i] when rows is nil, else
// the entry rows maps it to, or nil for a row left out.
func entryOf(entries []logs.Entry, rows []int32, i int) *logs.Entry {
	if rows == nil {
		return &entries[i]
	}
	if p := rows[i]; p >= 0 {
		return &entries[p]
	}
	return nil
}

// checkBody checks the header and that body is the whole body it describes.
func checkBody(h *Header, body []byte) error {
	if err := h.check(); err != nil {
		return err
	}
	if len(body) != h.BodyLength() {
		return fmt.Errorf("%w: body of %d bytes, header says %d", ErrCorrupt, len(body), h.BodyLength())
	}
	return nil
}

// DecodeIDs returns the IDs of the block's entries, in order.
func DecodeIDs(h *Header, body []byte) ([]logs.ID, error) {
	if err := checkBody(h, body); err != nil {
		return nil, fmt.Errorf("decode block ids: %w", err)
	}
	ids, err := decodeIDs(h, body)
	if err != nil {
		return nil, fmt.Errorf("decode block ids of %s: %w", h.MinID, err)
	}
	return ids, nil
}

// DecodeLevels returns the level of each entry.
func DecodeLevels(h *Header, body []byte) ([]logs.Level, error) {
	if err := checkBody(h, body); err != nil {
		return nil, fmt.Errorf("decode block levels: %w", err)
	}
	levels := make([]logs.Level, h.Count)
	if err := decodeLevels(h, body, func(i int, l logs.Level) { levels[i] = l }); err != nil {
		return nil, fmt.Errorf("decode block levels of %s: %w", h.MinID, err)
	}
	return levels, nil
}

// DecodeSources returns the source of each entry.
func DecodeSources(h *Header, body []byte) ([]string, error) {
	return decodeStrings(h, body, ColumnSources)
}

// DecodeMessages returns the message of each entry.
func DecodeMessages(h *Header, body []byte) ([]string, error) {
	return decodeStrings(h, body, ColumnMessages)
}

func decodeStrings(h *Header, body []byte, k ColumnKind) ([]string, error) {
	if err := checkBody(h, body); err != nil {
		return nil, fmt.Errorf("decode block %s: %w", k, err)
	}
	out := make([]string, h.Count)
	if err := decodeStringColumn(h, body, k, func(i int, s string) { out[i] = s }); err != nil {
		return nil, fmt.Errorf("decode block %s of %s: %w", k, h.MinID, err)
	}
	return out, nil
}

// DecodeTags returns the tags of each entry, nil for none.
func DecodeTags(h *Header, body []byte) ([][]string, error) {
	if err := checkBody(h, body); err != nil {
		return nil, fmt.Errorf("decode block tags: %w", err)
	}
	out := make([][]string, h.Count)
	if err := decodeTags(h, body, func(i int, tags []string) { out[i] = tags }); err != nil {
		return nil, fmt.Errorf("decode block tags of %s: %w", h.MinID, err)
	}
	return out, nil
}

// DecodeTemplates returns the template id of each entry, 0 for none.
func DecodeTemplates(h *Header, body []byte) ([]uint32, error) {
	if err := checkBody(h, body); err != nil {
		return nil, fmt.Errorf("decode block templates: %w", err)
	}
	out := make([]uint32, h.Count)
	if err := decodeTemplates(h, body, func(i int, t uint32) { out[i] = t }); err != nil {
		return nil, err
	}
	return out, nil
}

// decodeTemplates calls set with each entry's non-zero template id.
func decodeTemplates(h *Header, body []byte, set func(i int, t uint32)) error {
	c := h.Column(ColumnTemplates)
	if c == nil {
		return nil
	}
	raw, err := columnBytes(c, body)
	if err != nil {
		return fmt.Errorf("decode block templates of %s: %w", h.MinID, err)
	}
	r := reader{b: raw}
	nonZero := 0
	for i := 0; i < h.Count && r.err == nil; i++ {
		v := r.uvarint()
		if v > math.MaxUint32 {
			r.fail("template id over 32 bits")
		}
		if v != 0 && r.err == nil {
			nonZero++
			set(i, uint32(v))
		}
	}
	if err := r.done(); err != nil {
		return fmt.Errorf("decode block templates of %s: %w", h.MinID, err)
	}
	if nonZero != c.Entries {
		return fmt.Errorf("decode block templates of %s: %w: %d non-zero ids, header says %d", h.MinID, ErrCorrupt, nonZero, c.Entries)
	}
	return nil
}

// FieldValues holds one field column of a block: the values of entry i are
// Values[Offsets[i]:Offsets[i+1]], one or none unless the entry repeats the
// name.
type FieldValues struct {
	// Offsets has Count+1 elements, or none when no entry has the field.
	Offsets []uint32
	Values  []logs.Value
}

// Get returns entry i's first value of the field, as logs.Entry.Field
// does.
func (f *FieldValues) Get(i int) (logs.Value, bool) {
	if i < 0 || i+1 >= len(f.Offsets) || f.Offsets[i] == f.Offsets[i+1] {
		return logs.Value{}, false
	}
	return f.Values[f.Offsets[i]], true
}

// All returns entry i's values of the field, in order.
func (f *FieldValues) All(i int) []logs.Value {
	if i < 0 || i+1 >= len(f.Offsets) {
		return nil
	}
	return f.Values[f.Offsets[i]:f.Offsets[i+1]]
}

// DecodeField decodes the named field's column, and the small layouts
// column that says which entries have it, and nothing else. A block
// without the field gives empty FieldValues.
func DecodeField(h *Header, body []byte, name string) (FieldValues, error) {
	if err := checkBody(h, body); err != nil {
		return FieldValues{}, fmt.Errorf("decode block field %q: %w", name, err)
	}
	fv, err := decodeField(h, body, name)
	if err != nil {
		return FieldValues{}, fmt.Errorf("decode block field %q of %s: %w", name, h.MinID, err)
	}
	return fv, nil
}

func decodeField(h *Header, body []byte, name string) (FieldValues, error) {
	col := h.Field(name)
	if col == nil {
		return FieldValues{}, nil
	}
	offsets, err := fieldOffsets(h, body, col, nil)
	if err != nil {
		return FieldValues{}, err
	}
	values, err := decodeFieldValues(col, body, nil)
	if err != nil {
		return FieldValues{}, err
	}
	return FieldValues{Offsets: offsets, Values: values}, nil
}

// fieldOffsets returns, from the layouts, where each entry's values of field
// column col begin and end among the column's values (Count+1 offsets),
// into dst's array when it is large enough.
func fieldOffsets(h *Header, body []byte, col *Column, dst []uint32) ([]uint32, error) {
	lay, err := decodeLayouts(h, body)
	if err != nil {
		return nil, err
	}
	ci := -1 // index among the field columns
	for i := lay.first; i < len(h.Columns); i++ {
		if &h.Columns[i] == col {
			ci = i - lay.first
		}
	}
	// occ counts the column in each layout: an entry has as many values as
	// its layout names the column.
	occ := make([]uint32, len(lay.layouts))
	for l, cols := range lay.layouts {
		for _, x := range cols {
			if int(x) == ci {
				occ[l]++
			}
		}
	}
	offsets := slices.Grow(dst[:0], h.Count+1)[:h.Count+1]
	offsets[0] = 0
	var sum, entries uint64
	for i := 0; i < h.Count; i++ {
		k := occ[lay.entry(i)]
		sum += uint64(k)
		if k > 0 {
			entries++
		}
		if sum > uint64(col.Values) {
			return nil, fmt.Errorf("%w: layouts give field %q more than its %d values", ErrCorrupt, col.Name, col.Values)
		}
		offsets[i+1] = uint32(sum)
	}
	if sum != uint64(col.Values) || entries != uint64(col.Entries) {
		return nil, fmt.Errorf("%w: layouts give field %q %d values in %d entries, header says %d in %d", ErrCorrupt, col.Name, sum, entries, col.Values, col.Entries)
	}
	return offsets, nil
}

func decodeIDs(h *Header, body []byte) ([]logs.ID, error) {
	raw, err := columnBytes(&h.Columns[0], body)
	if err != nil {
		return nil, err
	}
	n := h.Count
	// An entry takes at least a byte of time and a byte of sequence: a
	// count the bytes cannot hold is refused before it is allocated.
	if len(raw) < 2*n {
		return nil, fmt.Errorf("%w: ids column of %d bytes for %d entries", ErrCorrupt, len(raw), n)
	}
	ids := make([]logs.ID, n)
	r := reader{b: raw}
	ids[0].Nanos = int64(r.uvarint())
	ids[0].Seq = r.uvarint()
	if r.err == nil && ids[0] != h.MinID {
		r.fail(fmt.Sprintf("first id %s, header says %s", ids[0], h.MinID))
	}
	for i := 1; i < n && r.err == nil; i++ {
		d := r.uvarint()
		if d > uint64(h.MaxID.Nanos-ids[i-1].Nanos) {
			r.fail("time past the header's last")
		}
		ids[i].Nanos = ids[i-1].Nanos + int64(d)
	}
	for i := 1; i < n && r.err == nil; i++ {
		ids[i].Seq = ids[i-1].Seq + uint64(r.varint())
		if ids[i].Compare(ids[i-1]) <= 0 {
			r.fail(fmt.Sprintf("id %s after %s", ids[i], ids[i-1]))
		}
	}
	if r.err == nil && ids[n-1] != h.MaxID {
		r.fail(fmt.Sprintf("last id %s, header says %s", ids[n-1], h.MaxID))
	}
	if err := r.done(); err != nil {
		return nil, fmt.Errorf("ids column: %w", err)
	}
	return ids, nil
}

func decodeLevels(h *Header, body []byte, set func(int, logs.Level)) error {
	raw, err := columnBytes(&h.Columns[1], body)
	if err != nil {
		return err
	}
	if len(raw) == 0 {
		for i, n := range h.Levels {
			if n == h.Count {
				for j := 0; j < h.Count; j++ {
					set(j, logs.Levels[i])
				}
				return nil
			}
		}
		return fmt.Errorf("%w: empty levels column for %v", ErrCorrupt, h.Levels)
	}
	if len(raw) != h.Count {
		return fmt.Errorf("%w: levels column of %d bytes for %d entries", ErrCorrupt, len(raw), h.Count)
	}
	var counts [6]int
	for i, b := range raw {
		l := logs.Level(b)
		if !l.Valid() {
			return fmt.Errorf("%w: level %d", ErrCorrupt, b)
		}
		counts[levelIndex(l)]++
		set(i, l)
	}
	if counts != h.Levels {
		return fmt.Errorf("%w: levels column counts %v, header says %v", ErrCorrupt, counts, h.Levels)
	}
	return nil
}

func decodeStringColumn(h *Header, body []byte, k ColumnKind, set func(int, string)) error {
	return decodeStringColumnRows(h, body, k, nil, set)
}

// decodeStringColumnRows is decodeStringColumn that copies out only the
// strings of the rows that rows keeps (see decodeSome), every row's when
// rows is nil; set is still called for every row of a dictionary stream.
func decodeStringColumnRows(h *Header, body []byte, k ColumnKind, rows []int32, set func(int, string)) error {
	c := h.Column(k)
	if c.Codec == CodecFrames || c.Codec == CodecFramesBySource {
		return decodeFramedStrings(h, c, body, rows, set)
	}
	raw, err := columnBytes(c, body)
	if err != nil {
		return err
	}
	r := reader{b: raw}
	readStringsRows(&r, h.Count, rows, set, nil, nil, nil)
	if err := r.done(); err != nil {
		return fmt.Errorf("%s column: %w", k, err)
	}
	return nil
}

// decodeFramedStrings is decodeStringColumnRows for a framed column: a
// frame without a row that rows keeps is not decompressed.
func decodeFramedStrings(h *Header, c *Column, body []byte, rows []int32, set func(int, string)) error {
	per, frames, err := framesOf(c, body, h.Count)
	if err != nil {
		return err
	}
	// order maps a stored position to its row: nil when they are the
	// same, and for CodecFramesBySource the rows grouped by source.
	var order []int32
	if c.Codec == CodecFramesBySource {
		if order, err = blockSourceOrder(h, body); err != nil {
			return fmt.Errorf("%s column in source order: %w", c.Kind, err)
		}
	}
	var buf []byte
	var scratch []int32
	// One arena for the frames' strings: they are copies, so they outlive
	// buf, which each frame reuses.
	arena := new(stringArena)
	for f := range frames {
		lo := f * per
		hi := min(lo+per, h.Count)
		var sub []int32
		if rows != nil {
			if order == nil {
				sub = rows[lo:hi]
			} else {
				sub = scratch[:0]
				for _, row := range order[lo:hi] {
					sub = append(sub, rows[row])
				}
				scratch = sub
			}
			if !slices.ContainsFunc(sub, func(p int32) bool { return p >= 0 }) {
				continue
			}
		}
		at := func(i int) int { return lo + i }
		if order != nil {
			at = func(i int) int { return int(order[lo+i]) }
		}
		raw, err := frameBytes(c, &frames[f], buf)
		if err != nil {
			return fmt.Errorf("%s column, frame %d: %w", c.Kind, f, err)
		}
		if frames[f].codec == CodecZstd {
			buf = raw
		}
		r := reader{b: raw}
		readStringsRows(&r, hi-lo, sub, func(i int, s string) { set(at(i), s) }, nil, nil, arena)
		if err := r.done(); err != nil {
			return fmt.Errorf("%s column, frame %d: %w", c.Kind, f, err)
		}
	}
	return nil
}

// blockSourceOrder returns the rows of the block in source order (see
// sourceOrder), from its sources column, which must be a dictionary.
func blockSourceOrder(h *Header, body []byte) ([]int32, error) {
	raw, err := columnBytes(h.Column(ColumnSources), body)
	if err != nil {
		return nil, err
	}
	r := reader{b: raw}
	var order []int32
	plain := false
	readStringsRows(&r, h.Count, nil, func(int, string) { plain = true }, func(values []string, index []byte) {
		if index == nil { // one source: row order
			index = make([]byte, h.Count)
		}
		order = sourceOrder(index, len(values))
	}, nil, nil)
	if err := r.done(); err != nil {
		return nil, fmt.Errorf("sources column: %w", err)
	}
	if plain || order == nil {
		return nil, fmt.Errorf("%w: sources column is not a dictionary", ErrCorrupt)
	}
	return order, nil
}

// readStrings reads a string stream of n values.
func readStrings(r *reader, n int, set func(int, string)) {
	readStringsCoded(r, n, set, nil, nil, nil)
}

// readStringsCoded reads a string stream of n values, every row's (see
// readStringsRows).
func readStringsCoded(r *reader, n int, set func(int, string), dict func(values []string, index []byte), dictBuf []string, arena *stringArena) {
	readStringsRows(r, n, nil, set, dict, dictBuf, arena)
}

// stringArena copies byte strings into shared chunks and returns strings
// over the copies. A field query decodes a dictionary column per block,
// and a new string for each dictionary's bytes (1.4 KB for 200 hosts) cost
// more than a tenth of a top-10 hosts query, mostly in the allocator and
// in touching fresh memory; copying into a chunk that is already in cache
// costs a plain copy, and one allocation per arenaChunk bytes. The bytes
// of a chunk are never written again once a string covers them, so the
// strings are immutable as Go requires; a chunk lives as long as any of
// its strings.
type stringArena struct {
	buf []byte
}

// arenaChunk is the size of a stringArena's chunks.
const arenaChunk = 64 << 10

// string returns a string holding a copy of b.
func (a *stringArena) string(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	if len(b) > cap(a.buf)-len(a.buf) {
		a.buf = make([]byte, 0, max(arenaChunk, len(b)))
	}
	off := len(a.buf)
	a.buf = append(a.buf, b...)
	return unsafe.String(&a.buf[off], len(b))
}

// readStringsRows is readStrings that hands a dictionary stream's
// dictionary and per-value indexes to dict instead, when dict is not nil
// (set is then called only for a plain stream); index is nil when the
// dictionary has one value. The strings of a dictionary handed to dict
// share one allocation: a reader of columns decodes a dictionary per block
// and column, and allocating each of its strings cost more than the rest
// of decoding it. With dict, dictBuf's array holds the dictionary when it
// is large enough, for a reader that decodes block after block: a new
// slice per block cost a fifth of decoding a dictionary column. The
// dictionary's bytes are copied into arena when it is not nil (see
// stringArena), else into a new string. With rows, a plain stream copies
// out only the strings of the rows it keeps (rows[i] >= 0): a point read
// of a few entries of a block of 8,000 needs a few of its messages.
func readStringsRows(r *reader, n int, rows []int32, set func(int, string), dict func(values []string, index []byte), dictBuf []string, arena *stringArena) {
	switch mode := r.byte(); mode {
	case streamDict:
		d := r.count(maxDict)
		if d == 0 && r.err == nil {
			r.fail("empty dictionary")
		}
		if r.err != nil {
			return
		}
		var values []string
		if dict == nil {
			values = make([]string, d)
		} else {
			values = slices.Grow(dictBuf[:0], d)[:d]
		}
		if dict == nil {
			for i := range values {
				values[i] = r.string()
			}
		} else {
			// One string holding the dictionary's bytes (lengths
			// included), and each value a part of it.
			var spans [maxDict][2]int
			base, size := r.b, len(r.b)
			for i := range values {
				b := r.bytes(r.count(len(r.b)))
				end := size - len(r.b)
				spans[i] = [2]int{end - len(b), end}
			}
			if r.err != nil {
				return
			}
			var all string
			if arena != nil {
				all = arena.string(base[:size-len(r.b)])
			} else {
				all = string(base[:size-len(r.b)])
			}
			for i := range values {
				values[i] = all[spans[i][0]:spans[i][1]]
			}
		}
		if d == 1 {
			if dict != nil {
				dict(values, nil)
				return
			}
			for i := 0; i < n; i++ {
				set(i, values[0])
			}
			return
		}
		index := r.bytes(n)
		if r.err != nil {
			return
		}
		for i, x := range index {
			if int(x) >= d {
				r.fail("dictionary index out of range")
				return
			}
			if dict == nil {
				set(i, values[x])
			}
		}
		if dict != nil {
			dict(values, index)
		}
	case streamPlain:
		lengths := reader{b: r.bytes(r.count(r.len()))}
		if r.err == nil && lengths.len() < n {
			r.fail("fewer lengths than strings")
		}
		// The strings share chunks of an arena, not an allocation each:
		// a block's messages are thousands of small strings, and
		// allocating them was a third of decoding a block of 8,000. A
		// string kept past the block keeps its chunk (64 KB) alive. The
		// strings are what is left of the stream, so a column smaller
		// than a chunk gets a first chunk of its own size.
		if arena == nil {
			arena = &stringArena{buf: make([]byte, 0, min(arenaChunk, len(r.b)))}
		}
		for i := 0; i < n && r.err == nil && lengths.err == nil; i++ {
			b := r.bytes(lengths.count(r.len()))
			if rows == nil || rows[i] >= 0 {
				set(i, arena.string(b))
			}
		}
		if err := lengths.done(); err != nil && r.err == nil {
			r.err = err
		}
	default:
		r.fail(fmt.Sprintf("string stream mode %d", mode))
	}
}

func decodeTags(h *Header, body []byte, set func(int, []string)) error {
	return decodeTagsRows(h, body, nil, set)
}

// decodeTagsRows is decodeTags that hands out only the tags of the rows
// that rows keeps (see decodeSome), every row's when rows is nil.
func decodeTagsRows(h *Header, body []byte, rows []int32, set func(int, []string)) error {
	c := h.Column(ColumnTags)
	raw, err := columnBytes(c, body)
	if err != nil {
		return err
	}
	// Each tag takes at least a byte: refuse a count the bytes cannot hold
	// before allocating it.
	if c.Values > len(raw) {
		return fmt.Errorf("%w: tags column of %d bytes for %d tags", ErrCorrupt, len(raw), c.Values)
	}
	var backing []string
	if rows == nil {
		backing = make([]string, c.Values)
	}
	r := reader{b: raw}
	entries, values := 0, 0
	for i := 0; i < h.Count && r.err == nil; i++ {
		k := r.count(c.Values - values)
		if k == 0 {
			continue
		}
		entries++
		values += k
		if rows != nil && rows[i] < 0 {
			for range k {
				r.count(len(h.Tags) - 1)
			}
			continue
		}
		var tags []string
		if rows == nil {
			tags = backing[:k:k]
			backing = backing[k:]
		} else {
			tags = make([]string, k)
		}
		for j := range tags {
			x := r.count(len(h.Tags) - 1)
			if r.err == nil {
				tags[j] = h.Tags[x]
			}
		}
		set(i, tags)
	}
	if err := r.done(); err != nil {
		return fmt.Errorf("tags column: %w", err)
	}
	if values != c.Values || entries != c.Entries {
		return fmt.Errorf("%w: tags column holds %d tags in %d entries, header says %d in %d", ErrCorrupt, values, entries, c.Values, c.Entries)
	}
	return nil
}

// layouts is the decoded layouts column.
type layouts struct {
	first   int        // index in the header's columns of the first field column
	layouts [][]uint32 // field column indexes (from first) of each layout
	entries []uint32   // layout of each entry; nil when there is one layout
}

func (l *layouts) entry(i int) uint32 {
	if l.entries == nil {
		return 0
	}
	return l.entries[i]
}

func decodeLayouts(h *Header, body []byte) (*layouts, error) {
	first := 6
	if len(h.Columns) > first && h.Columns[first].Kind == ColumnTemplates {
		first++
	}
	nfields := len(h.Columns) - first
	raw, err := columnBytes(&h.Columns[5], body)
	if err != nil {
		return nil, err
	}
	r := reader{b: raw}
	lay := &layouts{first: first}
	// A layout is used by at least one entry, so there are at most Count
	// of them and their lengths add up to at most MaxValues.
	n := r.count(min(h.Count, r.len()))
	if n == 0 && r.err == nil {
		r.fail("no layouts")
	}
	if r.err == nil {
		lay.layouts = make([][]uint32, n)
	}
	total := 0
	for i := range lay.layouts {
		k := r.count(min(MaxValues-total, r.len()))
		total += k
		if r.err != nil {
			break
		}
		cols := make([]uint32, k)
		for j := range cols {
			x := r.uvarint()
			if x >= uint64(nfields) {
				r.fail(fmt.Sprintf("field column %d of %d", x, nfields))
				break
			}
			cols[j] = uint32(x)
		}
		lay.layouts[i] = cols
	}
	if n > 1 && r.err == nil {
		if r.len() < h.Count {
			r.fail("fewer layout numbers than entries")
		} else {
			lay.entries = make([]uint32, h.Count)
			for i := range lay.entries {
				x := r.uvarint()
				if x >= uint64(n) {
					r.fail(fmt.Sprintf("layout %d of %d", x, n))
					break
				}
				lay.entries[i] = uint32(x)
			}
		}
	}
	if err := r.done(); err != nil {
		return nil, fmt.Errorf("layouts column: %w", err)
	}
	return lay, nil
}

// check verifies that the layouts give every field column the values and
// entries its header says, in time linear in the layouts and entries
// (never entries times layout lengths).
func (l *layouts) check(h *Header) error {
	used := make([]int, len(l.layouts))
	for i := 0; i < h.Count; i++ {
		used[l.entry(i)]++
	}
	fields := h.Columns[l.first:]
	values := make([]int, len(fields))
	entries := make([]int, len(fields))
	seen := make([]int, len(fields)) // last layout+1 that counted the column's entries
	for li, cols := range l.layouts {
		for _, c := range cols {
			values[c] += used[li]
			if seen[c] != li+1 {
				seen[c] = li + 1
				entries[c] += used[li]
			}
		}
	}
	for c := range fields {
		if values[c] != fields[c].Values || entries[c] != fields[c].Entries {
			return fmt.Errorf("%w: layouts give field %q %d values in %d entries, header says %d in %d", ErrCorrupt, fields[c].Name, values[c], entries[c], fields[c].Values, fields[c].Entries)
		}
	}
	return nil
}

// decodeFieldValues decodes a field column's values, whose number the
// header gives (and the layouts were checked to agree with).
// values is room for them, or nil.
func decodeFieldValues(c *Column, body []byte, values []logs.Value) ([]logs.Value, error) {
	raw, err := columnBytes(c, body)
	if err != nil {
		return nil, err
	}
	r := reader{b: raw}
	kinds := KindSet(r.byte())
	if r.err == nil && (kinds != c.Kinds || kinds == 0 || kinds&^allKinds != 0) {
		r.fail(fmt.Sprintf("kinds %#x, header says %#x", uint8(kinds), uint8(c.Kinds)))
	}
	n := c.Values
	var perKind []byte // kind of each value, when kinds mix
	var counts [logs.KindBool + 1]int
	if kinds&(kinds-1) != 0 {
		perKind = r.bytes(n)
		for _, k := range perKind {
			if k > byte(logs.KindBool) || !kinds.Has(logs.Kind(k)) {
				r.fail(fmt.Sprintf("value kind %d outside %#x", k, uint8(kinds)))
				break
			}
			counts[k]++
		}
	} else {
		for k := logs.KindString; k <= logs.KindBool; k++ {
			if kinds.Has(k) {
				counts[k] = n
			}
		}
	}
	if r.err != nil {
		return nil, fmt.Errorf("field column %q: %w", c.Name, r.err)
	}
	// Each kind's values come apart; they are dealt back to their
	// positions by walking the kinds.
	if len(values) != n {
		values = make([]logs.Value, n)
	}
	if perKind == nil {
		// One kind, the usual case: no positions to walk.
		switch {
		case kinds.Has(logs.KindInt):
			for i := range values {
				values[i] = logs.Int(r.varint())
			}
		case kinds.Has(logs.KindFloat):
			for i := range values {
				values[i] = logs.Float(math.Float64frombits(r.uint64()))
			}
		case kinds.Has(logs.KindBool):
			for i := range values {
				switch b := r.byte(); b {
				case 0, 1:
					values[i] = logs.Bool(b == 1)
				default:
					r.fail("bad bool")
				}
			}
		default:
			readStrings(&r, n, func(i int, s string) { values[i] = logs.String(s) })
		}
		if err := r.done(); err != nil {
			return nil, fmt.Errorf("field column %q: %w", c.Name, err)
		}
		return values, nil
	}
	pos := func(k logs.Kind) func(yield func(int) bool) {
		return func(yield func(int) bool) {
			for i := 0; i < n; i++ {
				if logs.Kind(perKind[i]) == k && !yield(i) {
					return
				}
			}
		}
	}
	if counts[logs.KindInt] > 0 {
		for i := range pos(logs.KindInt) {
			values[i] = logs.Int(r.varint())
		}
	}
	if counts[logs.KindFloat] > 0 {
		for i := range pos(logs.KindFloat) {
			values[i] = logs.Float(math.Float64frombits(r.uint64()))
		}
	}
	if counts[logs.KindBool] > 0 {
		for i := range pos(logs.KindBool) {
			switch b := r.byte(); b {
			case 0, 1:
				values[i] = logs.Bool(b == 1)
			default:
				r.fail("bad bool")
			}
		}
	}
	if counts[logs.KindString] > 0 && r.err == nil {
		idx := make([]int, 0, counts[logs.KindString])
		for i := range pos(logs.KindString) {
			idx = append(idx, i)
		}
		readStrings(&r, len(idx), func(j int, s string) { values[idx[j]] = logs.String(s) })
	}
	if err := r.done(); err != nil {
		return nil, fmt.Errorf("field column %q: %w", c.Name, err)
	}
	return values, nil
}
