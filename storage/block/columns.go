package block

import (
	"fmt"
	"slices"

	"github.com/logengine/logengine/storage/logs"
)

// The accessors below read single columns of a block for a query that
// evaluates its terms on columns instead of on entries: no entry is built,
// and a string column stored as a dictionary comes with its dictionary and
// the index of each value in it, so a term or a group key is worked out
// once per distinct value rather than once per entry. Each reuses the
// slices of its destination, for a scan that reads block after block.

// FieldColumn is one field column of a block: the values of entry i are
// Values[Offsets[i]:Offsets[i+1]] (as in FieldValues), and when the
// column's strings were stored as a dictionary, Dict holds its distinct
// strings and Codes[v] the index in Dict of value v for each string value
// (Codes is meaningless for values of other kinds).
type FieldColumn struct {
	Offsets []uint32 // Count+1 elements, or none when no entry has the field
	Values  []logs.Value
	Dict    []string
	Codes   []uint8
}

// First returns the index in Values of entry i's first value of the field
// (the one logs.Entry.Field returns), and false when the entry has none.
func (f *FieldColumn) First(i int) (int, bool) {
	if i < 0 || i+1 >= len(f.Offsets) || f.Offsets[i] == f.Offsets[i+1] {
		return 0, false
	}
	return int(f.Offsets[i]), true
}

// setDict records a string stream's dictionary for n values: index holds
// the dictionary index of each string (nil when the dictionary has one
// value), and pos their positions among the values (nil when every value
// is a string).
func (f *FieldColumn) setDict(dict []string, n int, index []byte, pos []int) {
	f.Dict = dict
	codes := slices.Grow(f.Codes[:0], n)[:n]
	if pos == nil {
		if index == nil {
			clear(codes)
		} else {
			copy(codes, index)
		}
	} else {
		for j, p := range pos {
			if index != nil {
				codes[p] = index[j]
			} else {
				codes[p] = 0
			}
		}
	}
	f.Codes = codes
}

// DecodeFieldColumn decodes the named field's column and the small layouts
// column into dst, and nothing else. A block without the field leaves dst
// empty (no Offsets).
func DecodeFieldColumn(h *Header, body []byte, name string, dst *FieldColumn) error {
	if err := checkBody(h, body); err != nil {
		return fmt.Errorf("decode block field %q: %w", name, err)
	}
	if err := decodeFieldColumn(h, body, name, dst, true); err != nil {
		return fmt.Errorf("decode block field %q of %s: %w", name, h.MinID, err)
	}
	return nil
}

// StringColumn is a string column of a block (the sources): Values holds
// each entry's string, and when the column was stored as a dictionary,
// Dict its distinct strings and Codes each entry's index in Dict.
type StringColumn struct {
	Values []string
	Dict   []string
	Codes  []uint8
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
	values := slices.Grow(dst.Values[:0], n)[:n]
	dst.Dict = nil
	r := reader{b: raw}
	readStringsCoded(&r, n, func(i int, s string) { values[i] = s }, func(d []string, index []byte) {
		dst.Dict = d
		codes := slices.Grow(dst.Codes[:0], n)[:n]
		if index == nil {
			clear(codes)
		} else {
			copy(codes, index)
		}
		dst.Codes = codes
	})
	if err := r.done(); err != nil {
		return fmt.Errorf("decode block sources of %s: %w", h.MinID, err)
	}
	dst.Values = values
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
