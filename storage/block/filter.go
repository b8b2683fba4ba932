package block

import (
	"encoding/binary"

	"github.com/cespare/xxhash/v2"

	"github.com/logengine/logengine/storage/logs"
)

// A field column with more distinct values than its header lists (Set)
// keeps a bloom filter of its string and integer values, so that a search
// for one trace id or user id among the millions of a day skips the blocks
// that cannot hold it without reading them. 10 bits per value and 7 probes
// give about 1% false positives: a needle among 3,000 blocks of a day
// decodes about 30 columns besides its own.
const (
	filterBitsPerValue = 10
	filterProbes       = 7
	// maxFilterBytes bounds a filter (a block of 4,096 distinct values
	// needs 5,120 bytes); a corrupt header cannot claim more.
	maxFilterBytes = MaxEntries*filterBitsPerValue/8 + 8
)

// Filter keys: a kind byte, so that the string "42" and the integer 42 are
// different keys, as they are different values.
func stringFilterKey(h *xxhash.Digest, s string) uint64 {
	h.Reset()
	_, _ = h.Write([]byte{'s'})
	_, _ = h.WriteString(s)
	return h.Sum64()
}

func intFilterKey(h *xxhash.Digest, n int64) uint64 {
	var b [9]byte
	b[0] = 'i'
	binary.LittleEndian.PutUint64(b[1:], uint64(n))
	h.Reset()
	_, _ = h.Write(b[:])
	return h.Sum64()
}

// buildFilter returns a bloom filter of the hashed keys.
func buildFilter(keys []uint64) []byte {
	n := max(8, (len(keys)*filterBitsPerValue+7)/8)
	f := make([]byte, n)
	bits := uint64(n) * 8
	for _, k := range keys {
		h1, h2 := k, k>>32|k<<32
		for i := uint64(0); i < filterProbes; i++ {
			bit := (h1 + i*h2) % bits
			f[bit/8] |= 1 << (bit % 8)
		}
	}
	return f
}

func filterHas(f []byte, k uint64) bool {
	bits := uint64(len(f)) * 8
	h1, h2 := k, k>>32|k<<32
	for i := uint64(0); i < filterProbes; i++ {
		bit := (h1 + i*h2) % bits
		if f[bit/8]&(1<<(bit%8)) == 0 {
			return false
		}
	}
	return true
}

// MayHaveString reports whether the column may hold the string s: false
// only when it surely does not.
func (c *Column) MayHaveString(s string) bool {
	if !c.Kinds.Has(logs.KindString) {
		return false
	}
	if c.Set != nil {
		for _, v := range c.Set {
			if v.Kind == logs.KindString && v.Str == s {
				return true
			}
		}
		return false
	}
	if c.Filter == nil {
		return true
	}
	var d xxhash.Digest
	return filterHas(c.Filter, stringFilterKey(&d, s))
}

// MayHaveInt reports whether the column may hold the integer n: false only
// when it surely does not.
func (c *Column) MayHaveInt(n int64) bool {
	if !c.Kinds.Has(logs.KindInt) || n < c.MinInt || n > c.MaxInt {
		return false
	}
	if c.Set != nil {
		for _, v := range c.Set {
			if v.Kind == logs.KindInt && v.Int == n {
				return true
			}
		}
		return false
	}
	if c.Filter == nil {
		return true
	}
	var d xxhash.Digest
	return filterHas(c.Filter, intFilterKey(&d, n))
}

// filter returns the bloom filter of the column's strings and integers, nil
// when it has neither.
func (f *fieldColumn) filter() []byte {
	if !f.kindSet.Has(logs.KindString) && !f.kindSet.Has(logs.KindInt) {
		return nil
	}
	var d xxhash.Digest
	var keys []uint64
	if f.strs.dict != nil {
		for _, s := range f.strs.order {
			keys = append(keys, stringFilterKey(&d, s))
		}
	} else {
		for _, s := range f.strs.values {
			keys = append(keys, stringFilterKey(&d, s))
		}
	}
	if f.intSet != nil {
		for n := range f.intSet {
			keys = append(keys, intFilterKey(&d, n))
		}
	} else {
		for b := f.ints; len(b) > 0; {
			n, k := binary.Varint(b)
			if k <= 0 {
				break // written by add: cannot happen
			}
			keys = append(keys, intFilterKey(&d, n))
			b = b[k:]
		}
	}
	return buildFilter(keys)
}
