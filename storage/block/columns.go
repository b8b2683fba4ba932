package block

import (
	"fmt"
	"math"
	"slices"

	"github.com/logengine/logengine/storage/logs"
)

// The accessors below read single columns of a block for a query that
// evaluates its terms on columns instead of on entries: no entry is built,
// and a string column stored as a dictionary comes with its dictionary and
// the index of each value in it, so a term or a group key is worked out
// once per distinct value rather than once per entry. Each reuses the
// slices of its destination, for a scan that reads block after block.

// FieldColumn is one field column of a block, typed: the values of entry i
// are the values Offsets[i] to Offsets[i+1]-1 (one or none unless the entry
// repeats the name). Value v is of kind Kind, or Kinds[v] when the column
// mixes kinds, and is held at index v of the slice of its kind: Ints,
// Floats, Bools, or for a string Strings[v], or Dict[Codes[v]] when the
// column's strings were stored as a dictionary (Dict not nil; Strings is
// then not filled). The other indexes of each slice are meaningless.
type FieldColumn struct {
	Offsets []uint32 // Count+1 elements, or none when no entry has the field
	// Dense reports that every entry has exactly one value: value i is
	// entry i's, and a reader may skip Offsets.
	Dense   bool
	Kind    logs.Kind
	Kinds   []logs.Kind // nil when every value is of Kind
	Ints    []int64
	Floats  []float64
	Bools   []bool
	Strings []string
	Dict    []string
	Codes   []uint8

	raw     []byte      // the decompressed column, reused
	dictBuf []string    // Dict's array, reused
	arena   stringArena // holds the dictionaries' strings
}

// Len returns the number of values.
func (f *FieldColumn) Len() int {
	if len(f.Offsets) == 0 {
		return 0
	}
	return int(f.Offsets[len(f.Offsets)-1])
}

// KindOf returns the kind of value v.
func (f *FieldColumn) KindOf(v int) logs.Kind {
	if f.Kinds != nil {
		return f.Kinds[v]
	}
	return f.Kind
}

// Value returns value v.
func (f *FieldColumn) Value(v int) logs.Value {
	switch f.KindOf(v) {
	case logs.KindInt:
		return logs.Int(f.Ints[v])
	case logs.KindFloat:
		return logs.Float(f.Floats[v])
	case logs.KindBool:
		return logs.Bool(f.Bools[v])
	}
	if f.Dict != nil {
		return logs.String(f.Dict[f.Codes[v]])
	}
	return logs.String(f.Strings[v])
}

// First returns the index of entry i's first value of the field (the one
// logs.Entry.Field returns), and false when the entry has none.
func (f *FieldColumn) First(i int) (int, bool) {
	if i < 0 || i+1 >= len(f.Offsets) || f.Offsets[i] == f.Offsets[i+1] {
		return 0, false
	}
	return int(f.Offsets[i]), true
}

// DecodeFieldColumn decodes the named field's column and the small layouts
// column into dst, and nothing else. A block without the field leaves dst
// empty (no Offsets).
func DecodeFieldColumn(h *Header, body []byte, name string, dst *FieldColumn) error {
	if err := checkBody(h, body); err != nil {
		return fmt.Errorf("decode block field %q: %w", name, err)
	}
	dst.Offsets, dst.Kinds, dst.Dict, dst.Dense = dst.Offsets[:0], nil, nil, false
	col := h.Field(name)
	if col == nil {
		return nil
	}
	if err := decodeFieldColumn(h, body, col, dst); err != nil {
		return fmt.Errorf("decode block field %q of %s: %w", name, h.MinID, err)
	}
	return nil
}

func decodeFieldColumn(h *Header, body []byte, c *Column, f *FieldColumn) error {
	offsets, err := fieldOffsets(h, body, c, f.Offsets)
	if err != nil {
		return err
	}
	// f.raw keeps its whole capacity: columnBytesInto returns a slice
	// capped at this column's size, and keeping that one instead made
	// every larger column of a later block allocate again.
	if c.Codec == CodecZstd && cap(f.raw) < c.RawLength {
		f.raw = make([]byte, 0, c.RawLength)
	}
	raw, err := columnBytesInto(c, body, f.raw)
	if err != nil {
		return err
	}
	r := reader{b: raw}
	kinds := KindSet(r.byte())
	if r.err == nil && (kinds != c.Kinds || kinds == 0 || kinds&^allKinds != 0) {
		r.fail(fmt.Sprintf("kinds %#x, header says %#x", uint8(kinds), uint8(c.Kinds)))
	}
	n := c.Values
	var counts [logs.KindBool + 1]int
	if kinds&(kinds-1) != 0 {
		perKind := r.bytes(n)
		f.Kinds = slices.Grow(f.Kinds[:0], n)[:n]
		for i, k := range perKind {
			if k > byte(logs.KindBool) || !kinds.Has(logs.Kind(k)) {
				r.fail(fmt.Sprintf("value kind %d outside %#x", k, uint8(kinds)))
				break
			}
			counts[k]++
			f.Kinds[i] = logs.Kind(k)
		}
	} else {
		for k := logs.KindString; k <= logs.KindBool; k++ {
			if kinds.Has(k) {
				f.Kind, counts[k] = k, n
			}
		}
	}
	if r.err != nil {
		return fmt.Errorf("field column %q: %w", c.Name, r.err)
	}
	// Each kind's values come apart, in the order of their positions.
	each := func(k logs.Kind, fn func(i int)) {
		if f.Kinds == nil {
			for i := 0; i < n; i++ {
				fn(i)
			}
			return
		}
		for i, x := range f.Kinds {
			if x == k {
				fn(i)
			}
		}
	}
	if counts[logs.KindInt] > 0 {
		f.Ints = slices.Grow(f.Ints[:0], n)[:n]
		if f.Kinds == nil {
			// A column of ints only (status, latency): a plain loop,
			// without a call per value through each.
			ints := f.Ints
			for i := range ints {
				ints[i] = r.varint()
			}
		} else {
			each(logs.KindInt, func(i int) { f.Ints[i] = r.varint() })
		}
	}
	if counts[logs.KindFloat] > 0 {
		f.Floats = slices.Grow(f.Floats[:0], n)[:n]
		each(logs.KindFloat, func(i int) { f.Floats[i] = math.Float64frombits(r.uint64()) })
	}
	if counts[logs.KindBool] > 0 {
		f.Bools = slices.Grow(f.Bools[:0], n)[:n]
		each(logs.KindBool, func(i int) {
			switch b := r.byte(); b {
			case 0, 1:
				f.Bools[i] = b == 1
			default:
				r.fail("bad bool")
			}
		})
	}
	if counts[logs.KindString] > 0 && r.err == nil {
		var pos []int // positions of the strings among the values, when kinds mix
		if f.Kinds != nil {
			pos = make([]int, 0, counts[logs.KindString])
			each(logs.KindString, func(i int) { pos = append(pos, i) })
		}
		at := func(j int) int {
			if pos != nil {
				return pos[j]
			}
			return j
		}
		readStringsCoded(&r, counts[logs.KindString], func(j int, s string) {
			if j == 0 {
				f.Strings = slices.Grow(f.Strings[:0], n)[:n]
			}
			f.Strings[at(j)] = s
		}, func(dict []string, index []byte) {
			f.Dict, f.dictBuf = dict, dict
			f.Codes = slices.Grow(f.Codes[:0], n)[:n]
			for j := range counts[logs.KindString] {
				if index != nil {
					f.Codes[at(j)] = index[j]
				} else {
					f.Codes[at(j)] = 0
				}
			}
		}, f.dictBuf, &f.arena)
	}
	if err := r.done(); err != nil {
		return fmt.Errorf("field column %q: %w", c.Name, err)
	}
	f.Offsets = offsets
	// fieldOffsets checked the header's counts against the layouts.
	f.Dense = c.Entries == h.Count && c.Values == h.Count
	return nil
}

// StringColumn is a string column of a block (the sources): when the
// column was stored as a dictionary, Dict holds its distinct strings and
// Codes each entry's index in Dict; otherwise Values holds each entry's
// string.
type StringColumn struct {
	Values []string
	Dict   []string
	Codes  []uint8

	dictBuf []string    // Dict's array, reused
	arena   stringArena // holds the dictionaries' strings
}

// At returns entry i's string.
func (s *StringColumn) At(i int) string {
	if s.Dict != nil {
		return s.Dict[s.Codes[i]]
	}
	return s.Values[i]
}

// DecodeSourceColumn decodes the sources column into dst.
func DecodeSourceColumn(h *Header, body []byte, dst *StringColumn) error {
	if err := checkBody(h, body); err != nil {
		return fmt.Errorf("decode block sources: %w", err)
	}
	raw, err := columnBytes(h.Column(ColumnSources), body)
	if err != nil {
		return fmt.Errorf("decode block sources of %s: %w", h.MinID, err)
	}
	n := h.Count
	dst.Dict = nil
	r := reader{b: raw}
	readStringsCoded(&r, n, func(i int, s string) {
		if i == 0 {
			dst.Values = slices.Grow(dst.Values[:0], n)[:n]
		}
		dst.Values[i] = s
	}, func(d []string, index []byte) {
		dst.Dict, dst.dictBuf = d, d
		codes := slices.Grow(dst.Codes[:0], n)[:n]
		if index == nil {
			clear(codes)
		} else {
			copy(codes, index)
		}
		dst.Codes = codes
	}, dst.dictBuf, &dst.arena)
	if err := r.done(); err != nil {
		return fmt.Errorf("decode block sources of %s: %w", h.MinID, err)
	}
	return nil
}

// DecodeLevelsInto is DecodeLevels into dst's array when it is large
// enough.
func DecodeLevelsInto(dst []logs.Level, h *Header, body []byte) ([]logs.Level, error) {
	if err := checkBody(h, body); err != nil {
		return nil, fmt.Errorf("decode block levels: %w", err)
	}
	levels := slices.Grow(dst[:0], h.Count)[:h.Count]
	if err := decodeLevels(h, body, func(i int, l logs.Level) { levels[i] = l }); err != nil {
		return nil, fmt.Errorf("decode block levels of %s: %w", h.MinID, err)
	}
	return levels, nil
}
