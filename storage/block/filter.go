package block

import (
	"slices"

	"github.com/cespare/xxhash/v2"

	"github.com/logengine/logengine/storage/logs"
)

// A field column with more distinct values than its header lists (Set)
// keeps a bloom filter of its strings, so that a search for one trace id
// or user name among the millions of a day skips the blocks that cannot
// hold it without reading them. 10 bits per value and 7 probes give
// 0.83% false positives (BenchmarkFieldFilter): a needle among 1,500
// blocks of a day decodes about 12 columns besides its own. xor8 and
// binary fuse8 filters halve that at the same size, which is not worth a
// header format of their own; 12 bits per value would do as well.
const (
	filterBitsPerValue = 10
	filterProbes       = 7
	// maxFilterBytes bounds a filter, so that a corrupt header cannot
	// claim more.
	maxFilterBytes = MaxEntries*filterBitsPerValue/8 + 8
)

// stringFilterKey hashes a string with a kind byte first, so that other
// kinds can share a filter later without their keys meeting.
func stringFilterKey(h *xxhash.Digest, s string) uint64 {
	h.Reset()
	_, _ = h.Write([]byte{'s'})
	_, _ = h.WriteString(s)
	return h.Sum64()
}

// buildFilter returns a bloom filter of the hashed keys.
func buildFilter(keys []uint64) []byte {
	return buildFilterBits(keys, filterBitsPerValue)
}

// buildFilterBits is buildFilter at bitsPerValue bits per key (filterHas
// reads any: it takes the number of bits from the filter's length).
func buildFilterBits(keys []uint64, bitsPerValue int) []byte {
	// Capped: a field repeated in entries can have more values than a
	// block has entries, and a header must stay within what reads allow.
	n := min(max(8, (len(keys)*bitsPerValue+7)/8), maxFilterBytes)
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
	return true
}

// filter returns the bloom filter of the column's strings, nil when it has
// none. Integers have none: their range in the header serves ranges and
// the numbers most searched by equality (statuses, codes), and a filter of
// latencies and sizes would cost more disk than it saves reads.
func (f *fieldColumn) filter() []byte {
	if !f.kindSet.Has(logs.KindString) {
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
	// Repeated values (when there are too many to count exactly) would
	// size the filter by values instead of distinct values.
	slices.Sort(keys)
	return buildFilter(slices.Compact(keys))
}
