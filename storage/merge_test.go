package storage

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/dgraph-io/badger/v4"
	"github.com/logengine/logengine/storage/block"
)

// smallMerges makes the merger's sizes small for the test, so that a few
// thousand entries go through every case of the policy.
func smallMerges(t *testing.T, full, target, fanIn int) {
	t.Helper()
	f, tg, fi, raw, now := mergeFull, mergeTarget, mergeFanIn, mergeMaxRaw, mergeNow
	mergeFull, mergeTarget, mergeFanIn = full, target, fanIn
	t.Cleanup(func() { mergeFull, mergeTarget, mergeFanIn, mergeMaxRaw, mergeNow = f, tg, fi, raw, now })
}

// blockLayout returns the block references of every day, in key order.
func blockLayout(t *testing.T, s *Store) map[Day][]blockRef {
	t.Helper()
	days, err := s.Days(0, MaxID.Nanos)
	if err != nil {
		t.Fatal(err)
	}
	out := map[Day][]blockRef{}
	err = s.view(func(txn *badger.Txn) error {
		for _, d := range days {
			refs, err := dayHeaders(context.Background(), txn, d, MinID, MaxID, false)
			if err != nil {
				return err
			}
			out[d] = refs
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// checkLayout checks what every lookup by ID relies on: the blocks of a day
// cover disjoint sequence ranges, in key order, and hold the entries want
// says the day has.
func checkLayout(t *testing.T, s *Store, want []Entry) map[Day][]blockRef {
	t.Helper()
	layout := blockLayout(t, s)
	perDay := map[Day]int{}
	for _, e := range want {
		perDay[DayOf(e.ID.Nanos)]++
	}
	for d, refs := range layout {
		n := 0
		for i, r := range refs {
			if r.first > r.last || i > 0 && refs[i-1].last >= r.first {
				t.Fatalf("day %s: block %d covers %d..%d after one ending at %d", d, i, r.first, r.last, refs[max(i-1, 0)].last)
			}
			n += r.count
		}
		if n != perDay[d] {
			t.Fatalf("day %s: blocks hold %d entries, want %d", d, n, perDay[d])
		}
	}
	return layout
}

// TestMergeAgainstReference appends commits of random sizes over three
// days (some spread over two days, some of many sources), deletes a
// source's entries now and then, and merges after each round, some merges
// failing before they commit (a crash before the commit leaves the parts,
// one after it the whole; both must read the same). After every round,
// every way of reading entries is compared with a sorted slice of what
// should be there; the store is reopened now and then.
func TestMergeAgainstReference(t *testing.T) {
	smallMerges(t, 64, 128, 4)
	mergeNow = func() time.Time { return t0 } // no day settled
	dir := t.TempDir()
	s := openTestStore(t, dir)
	defer func() { s.Close() }()
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(5, 8))
	var want []Entry
	total := MergeStats{}
	check := func(round int) {
		t.Helper()
		slices.SortFunc(want, func(a, b Entry) int { return a.ID.Compare(b.ID) })
		checkLayout(t, s, want)
		checkScan(t, s, want, MinID, MaxID)
		for range 8 {
			a, b := rng.IntN(len(want)+1), rng.IntN(len(want)+1)
			lo, hi := idAt(want, min(a, b)), idAt(want, max(a, b))
			checkScan(t, s, want, lo, hi)
			checkSourceLevels(t, s, want, lo, hi)
			checkTemplateCounts(t, s, want, lo, hi)
			checkScanWhere(t, s, want, lo, hi, rng.IntN(2) == 0)
			checkEachBlock(t, s, want, lo, hi)
		}
		// Point reads of every entry, and of IDs that are not there.
		ids := idsOf(want)
		ids = append(ids, ID{Nanos: t0.UnixNano(), Seq: 1 << 40})
		var got []Entry
		if err := s.GetMany(ctx, ids, func(e *Entry) bool { got = append(got, *e); return true }); err != nil {
			t.Fatal(err)
		}
		equalEntries(t, fmt.Sprintf("GetMany after round %d", round), got, want)
	}
	for round := range 14 {
		for range 1 + rng.IntN(12) {
			n := 1 + rng.IntN(40)
			switch rng.IntN(6) {
			case 0:
				n = 1
			case 1:
				n = 100 + rng.IntN(200) // a full block, or more than a merged one
			}
			base := t0.Add(time.Duration(rng.IntN(3)) * 24 * time.Hour)
			spread := time.Hour
			if rng.IntN(5) == 0 {
				spread = 40 * time.Hour
			}
			batch := makeEntries(rng, n, base, spread)
			if rng.IntN(4) == 0 {
				for j := range batch {
					batch[j].Source = fmt.Sprint("s-", rng.IntN(300))
				}
			}
			if _, err := s.Append(ctx, batch); err != nil {
				t.Fatal(err)
			}
			want = append(want, batch...)
		}
		if round%4 == 2 {
			slices.SortFunc(want, func(a, b Entry) int { return a.ID.Compare(b.ID) })
			cut := want[rng.IntN(len(want))].ID
			if _, err := s.DeleteSource(ctx, "db", MinID, cut); err != nil {
				t.Fatal(err)
			}
			want = slices.DeleteFunc(want, func(e Entry) bool { return e.Source == "db" && e.ID.Compare(cut) < 0 })
		}
		failAt := rng.IntN(4) // fail the merge after that many, sometimes never
		s.hookMerge = func(parts int) error {
			if failAt--; failAt == 0 {
				return errTestCrash
			}
			return nil
		}
		st, err := s.MergeBlocks(ctx)
		if err != nil && !errors.Is(err, errTestCrash) {
			t.Fatalf("round %d: %v", round, err)
		}
		s.hookMerge = nil
		total.Merges += st.Merges
		total.Blocks += st.Blocks
		check(round)
		if round%5 == 4 {
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			s = openTestStore(t, dir)
			check(round)
		}
	}
	if total.Merges < 10 || total.Blocks < 2*total.Merges {
		t.Fatalf("merges: %+v, want some", total)
	}

	// Passes until nothing is left to merge: then no run of small blocks
	// committed before the last pass holds mergeFanIn blocks or mergeFull
	// entries, and merged blocks stay within mergeTarget.
	for range 3 {
		if _, err := s.MergeBlocks(ctx); err != nil {
			t.Fatal(err)
		}
	}
	for d, refs := range checkLayout(t, s, want) {
		run, sum := 0, 0
		for _, r := range refs {
			if r.count >= mergeFull {
				run, sum = 0, 0
				continue
			}
			run, sum = run+1, sum+r.count
			if run >= mergeFanIn || sum >= mergeFull && run > 1 && sum <= mergeTarget {
				t.Fatalf("day %s: a run of %d small blocks of %d entries is left unmerged", d, run, sum)
			}
		}
	}
	// Settled days merge what is left.
	mergeNow = func() time.Time { return t0.Add(10 * 24 * time.Hour) }
	if _, err := s.MergeBlocks(ctx); err != nil {
		t.Fatal(err)
	}
	for d, refs := range checkLayout(t, s, want) {
		for i := 1; i < len(refs); i++ {
			a, b := refs[i-1], refs[i]
			if a.count < mergeFull && b.count < mergeFull && a.count+b.count <= mergeTarget {
				t.Fatalf("day %s: small blocks of %d and %d entries left side by side on a settled day", d, a.count, b.count)
			}
		}
	}
	check(99)
}

// errTestCrash is what a failing hookMerge returns: a crash before the
// merge's commit.
var errTestCrash = errors.New("crash before commit")

// mergeTestStore opens a store of its own for a merge test, with small
// merge sizes and no day settled.
func mergeTestStore(t *testing.T) *Store {
	t.Helper()
	smallMerges(t, 64, 128, 4)
	mergeNow = func() time.Time { return t0 }
	s := openTestStore(t, t.TempDir())
	t.Cleanup(func() { s.Close() })
	return s
}

// TestMergeWaitsForNewBlocks checks the tiers: a run of fewer than
// mergeFanIn blocks and mergeFull entries stays until more come, and
// blocks committed since the last pass wait for the next one.
func TestMergeWaitsForNewBlocks(t *testing.T) {
	s := mergeTestStore(t)
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(1, 2))
	appendN := func(n int) {
		t.Helper()
		if _, err := s.Append(ctx, makeEntries(rng, n, t0, time.Minute)); err != nil {
			t.Fatal(err)
		}
	}
	blocks := func() int {
		t.Helper()
		n := 0
		for _, refs := range blockLayout(t, s) {
			n += len(refs)
		}
		return n
	}
	for range 3 {
		appendN(5)
	}
	// Committed after the store opened: not merged by the first pass.
	if st, err := s.MergeBlocks(ctx); err != nil || st.Merges != 0 {
		t.Fatalf("first pass: %+v, %v; want no merge", st, err)
	}
	// Three blocks of 15 entries: too few to merge.
	if st, err := s.MergeBlocks(ctx); err != nil || st.Merges != 0 {
		t.Fatalf("three small blocks: %+v, %v; want no merge", st, err)
	}
	appendN(5)
	if _, err := s.MergeBlocks(ctx); err != nil {
		t.Fatal(err)
	}
	if st, err := s.MergeBlocks(ctx); err != nil || st.Merges != 1 || st.Blocks != 4 || blocks() != 1 {
		t.Fatalf("four small blocks: %+v, %v, %d blocks; want one merge of 4", st, err, blocks())
	}
	// A run of 70 entries in two blocks is merged though it has two only.
	appendN(30)
	appendN(40)
	_, _ = s.MergeBlocks(ctx)
	if st, err := s.MergeBlocks(ctx); err != nil || st.Merges != 1 || st.Entries != 90 {
		t.Fatalf("blocks of 20, 30 and 40 entries: %+v, %v; want one merge of 90 entries", st, err)
	}
}

// TestMergeThenIncrementalBackup restores a full backup taken before a merge
// and an incremental one taken after it: the merge's deletions of its parts
// must reach the restored store, or their entries would be there twice.
func TestMergeThenIncrementalBackup(t *testing.T) {
	s := mergeTestStore(t)
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(9, 9))
	var want []Entry
	for range 20 {
		batch := makeEntries(rng, 1+rng.IntN(30), t0, time.Hour)
		if _, err := s.Append(ctx, batch); err != nil {
			t.Fatal(err)
		}
		want = append(want, batch...)
	}
	slices.SortFunc(want, func(a, b Entry) int { return a.ID.Compare(b.ID) })
	var full, incr bytes.Buffer
	since, err := s.Backup(ctx, &full, 0)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = s.MergeBlocks(ctx)
	st, err := s.MergeBlocks(ctx)
	if err != nil || st.Merges == 0 {
		t.Fatalf("merge: %+v, %v", st, err)
	}
	if _, err := s.Backup(ctx, &incr, since); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "restored")
	if _, err := Restore(dir, io.MultiReader(&full, &incr)); err != nil {
		t.Fatal(err)
	}
	r := openTestStore(t, dir)
	defer r.Close()
	checkLayout(t, r, want)
	checkScan(t, r, want, MinID, MaxID)
}

// TestMergedBlockMessagesBySource: commits of several sources merged into
// a block large enough to store its messages in frames grouped by source
// (block.CodecFramesBySource); every way of reading it, after a reopen
// (the point reads' cache empty), gives each entry its own message.
func TestMergedBlockMessagesBySource(t *testing.T) {
	smallMerges(t, 2500, 4000, 16)
	mergeNow = func() time.Time { return t0 }
	dir := t.TempDir()
	s := openTestStore(t, dir)
	defer func() { s.Close() }()
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(7, 7))
	var want []Entry
	for c := range 6 {
		batch := makeEntries(rng, 500, t0.Add(time.Duration(c)*time.Minute), time.Minute)
		// Lines alike within a source and unlike across them, as real
		// services write them: what grouping by source pays for.
		for i := range batch {
			n := rng.IntN(1 << 20)
			switch batch[i].Source {
			case "api":
				batch[i].Message = fmt.Sprintf("GET /api/v1/orders/%d returned 200 in %dms for client 10.%d.%d.%d", n, n%997, n%251, n%241, n%239)
			case "auth":
				batch[i].Message = fmt.Sprintf("user %d authenticated with method password from session %08x, token expires in %ds", n, n*2654435761, n%3600)
			case "db":
				batch[i].Message = fmt.Sprintf("SELECT * FROM orders WHERE customer_id = %d LIMIT 50 took %dms (%d rows)", n, n%1000, n%50)
			default:
				batch[i].Message = fmt.Sprintf("served static asset /assets/app-%x.js to 192.168.%d.%d with status 304 (%s)", n, n%256, n%253, batch[i].Source)
			}
		}
		if _, err := s.Append(ctx, batch); err != nil {
			t.Fatal(err)
		}
		want = append(want, batch...)
	}
	// The first pass leaves the blocks committed since the last one.
	if _, err := s.MergeBlocks(ctx); err != nil {
		t.Fatal(err)
	}
	if st, err := s.MergeBlocks(ctx); err != nil || st.Merges != 1 || st.Entries != len(want) {
		t.Fatalf("merge: %+v, %v; want one merge of %d entries", st, err, len(want))
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openTestStore(t, dir)
	slices.SortFunc(want, func(a, b Entry) int { return a.ID.Compare(b.ID) })
	checkLayout(t, s, want)
	err := s.view(func(txn *badger.Txn) error {
		refs, err := dayHeaders(ctx, txn, DayOf(want[0].ID.Nanos), MinID, MaxID, true)
		if err != nil {
			return err
		}
		if len(refs) != 1 {
			t.Errorf("%d blocks after the merge, want one", len(refs))
			return nil
		}
		h, err := refs[0].header()
		if err != nil {
			return err
		}
		if c := h.Column(block.ColumnMessages).Codec; c != block.CodecFramesBySource {
			t.Errorf("the merged block of %d entries has messages of codec %d", h.Count, c)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	checkScan(t, s, want, MinID, MaxID)
	for range 4 {
		a, b := rng.IntN(len(want)+1), rng.IntN(len(want)+1)
		lo, hi := idAt(want, min(a, b)), idAt(want, max(a, b))
		checkScan(t, s, want, lo, hi)
		checkScanWhere(t, s, want, lo, hi, rng.IntN(2) == 0)
	}
	// Point reads of some entries: whole, and their messages alone.
	var ids []ID
	var some []Entry
	for _, e := range want {
		if rng.IntN(40) == 0 {
			ids = append(ids, e.ID)
			some = append(some, e)
		}
	}
	var got []Entry
	if err := s.GetMany(ctx, ids, func(e *Entry) bool { got = append(got, *e); return true }); err != nil {
		t.Fatal(err)
	}
	equalEntries(t, "GetMany", got, some)
	got = got[:0]
	if err := s.GetSortedMessages(ctx, slices.Clone(ids), func(e *Entry) bool { got = append(got, *e); return true }); err != nil {
		t.Fatal(err)
	}
	if len(got) != len(some) {
		t.Fatalf("GetSortedMessages: %d entries, want %d", len(got), len(some))
	}
	for i, e := range got {
		if e.ID != some[i].ID || e.Message != some[i].Message {
			t.Fatalf("GetSortedMessages: %v %q, want %v %q", e.ID, e.Message, some[i].ID, some[i].Message)
		}
	}
}
