package storage

import (
	"context"
	"slices"
	"testing"

	"github.com/logengine/logengine/storage/block"
)

// checkEachBlock reads [lo, hi) with EachBlock, decoding each block's rows
// whole, and compares the entries with want's in range; then again asking
// only for blocks with errors, whose error entries must all be there.
func checkEachBlock(t *testing.T, s *Store, want []Entry, lo, hi ID) {
	t.Helper()
	read := func(mayMatch func(*block.Header) bool) []Entry {
		var got []Entry
		err := s.EachBlock(context.Background(), lo, hi, mayMatch, func(b *BlockRows) error {
			entries, err := block.Decode(b.Header, b.Body)
			if err != nil {
				return err
			}
			if b.IDs != nil && !slices.Equal(b.IDs, idsOf(entries)) {
				t.Errorf("EachBlock(%s, %s): the ids handed out are not the block's", lo, hi)
			}
			if b.From < 0 || b.To > len(entries) || b.From >= b.To {
				t.Errorf("EachBlock(%s, %s): rows [%d, %d) of a block of %d", lo, hi, b.From, b.To, len(entries))
				return nil
			}
			got = append(got, entries[b.From:b.To]...)
			return nil
		})
		if err != nil {
			t.Fatalf("EachBlock(%s, %s): %v", lo, hi, err)
		}
		slices.SortFunc(got, func(a, b Entry) int { return a.ID.Compare(b.ID) })
		return got
	}
	var exp []Entry
	for _, e := range want {
		if lo.Compare(e.ID) <= 0 && e.ID.Compare(hi) < 0 {
			exp = append(exp, e)
		}
	}
	equalEntries(t, "EachBlock", read(nil), exp)
	isError := func(e Entry) bool { return e.Level != LevelError }
	got := slices.DeleteFunc(read(func(h *block.Header) bool { return h.LevelCount(LevelError) > 0 }), isError)
	equalEntries(t, "EachBlock of blocks with errors", got, slices.DeleteFunc(slices.Clone(exp), isError))
}

func idsOf(entries []Entry) []ID {
	ids := make([]ID, len(entries))
	for i, e := range entries {
		ids[i] = e.ID
	}
	return ids
}
