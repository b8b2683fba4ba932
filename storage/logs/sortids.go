package logs

import "slices"

// SortIDs sorts ids ascending. It is a least-significant-digit radix sort
// over the 16 bytes of an ID that skips every byte position on which all
// ids agree (the high bytes of timestamps within days, of sequences), so
// sorting the IDs of a million entries takes a few passes instead of the
// n log n comparisons that dominated aggregations.
func SortIDs(ids []ID) {
	if len(ids) < 256 {
		if !slices.IsSortedFunc(ids, ID.Compare) {
			slices.SortFunc(ids, ID.Compare)
		}
		return
	}
	if slices.IsSortedFunc(ids, ID.Compare) {
		return
	}
	buf := make([]ID, len(ids))
	src, dst := ids, buf
	// Byte positions from least to most significant: Seq's 8 bytes, then
	// Nanos' 8 bytes. Nanos is never negative, so unsigned order is right.
	for pass := 0; pass < 16; pass++ {
		key := func(id ID) byte {
			if pass < 8 {
				return byte(id.Seq >> (8 * pass))
			}
			return byte(uint64(id.Nanos) >> (8 * (pass - 8)))
		}
		var count [256]int
		for _, id := range src {
			count[key(id)]++
		}
		if count[key(src[0])] == len(src) {
			continue // every id has the same byte here
		}
		pos := 0
		for i, c := range count {
			count[i] = pos
			pos += c
		}
		for _, id := range src {
			k := key(id)
			dst[count[k]] = id
			count[k]++
		}
		src, dst = dst, src
	}
	if &src[0] != &ids[0] {
		copy(ids, src)
	}
}
