package storage

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/logengine/logengine/storage/block"
	"github.com/logengine/logengine/storage/logs"
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

	// The same blocks shared among workers, down to one block each: every
	// entry in range once, whatever the split.
	for _, tc := range []struct {
		workers, minBlocks int
	}{{1, 1}, {2, 1}, {3, 1}, {7, 1}, {4, 2}, {64, 1}} {
		var mu sync.Mutex
		var got []Entry
		blocks, workers := map[Day]int{}, map[Day]map[int]bool{}
		err := s.EachBlockParallel(context.Background(), lo, hi, nil, tc.workers, tc.minBlocks, func(w int, b *BlockRows) error {
			if w < 0 || w >= tc.workers {
				t.Errorf("EachBlockParallel(%s, %s, %d workers): worker %d", lo, hi, tc.workers, w)
			}
			entries, err := block.Decode(b.Header, b.Body)
			if err != nil {
				return err
			}
			mu.Lock()
			defer mu.Unlock()
			got = append(got, entries[b.From:b.To]...)
			day := DayOf(entries[b.From].ID.Nanos)
			blocks[day]++
			if workers[day] == nil {
				workers[day] = map[int]bool{}
			}
			workers[day][w] = true
			return nil
		})
		if err != nil {
			t.Fatalf("EachBlockParallel(%s, %s, %d workers): %v", lo, hi, tc.workers, err)
		}
		// The work was shared: a day wholly in range, whose every
		// block has rows in it, of k blocks has min(workers,
		// k/minBlocks) workers, so two at least when that is. (A day
		// the range cuts may have blocks that only overlap it, and a
		// worker's whole share may be of those.)
		for day, k := range blocks {
			inside := lo.Nanos <= day.Start() && day.Start()+logs.NanosPerDay <= hi.Nanos
			if inside && min(tc.workers, k/tc.minBlocks) >= 2 && len(workers[day]) < 2 {
				t.Errorf("EachBlockParallel(%s, %s, %d workers of at least %d blocks): the %d blocks of %s went to one worker", lo, hi, tc.workers, tc.minBlocks, k, day)
			}
		}
		slices.SortFunc(got, func(a, b Entry) int { return a.ID.Compare(b.ID) })
		equalEntries(t, fmt.Sprintf("EachBlockParallel with %d workers of at least %d blocks", tc.workers, tc.minBlocks), got, exp)
	}
	// An error of one worker ends the others and is returned.
	stop := errors.New("stop")
	err := s.EachBlockParallel(context.Background(), lo, hi, nil, 3, 1, func(w int, b *BlockRows) error { return stop })
	if len(exp) > 0 && !errors.Is(err, stop) {
		t.Fatalf("EachBlockParallel(%s, %s) whose fn fails: %v", lo, hi, err)
	}
}

func idsOf(entries []Entry) []ID {
	ids := make([]ID, len(entries))
	for i, e := range entries {
		ids[i] = e.ID
	}
	return ids
}
