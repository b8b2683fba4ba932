package storage

import (
	"context"
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/logengine/logengine/storage/block"
)

// TestBlocksAgainstReference appends commits of random sizes (some larger
// than a block, some spanning days, some late) and deletes entries, then
// compares every way of reading entries with a sorted slice of what should
// be there, before and after a reopen.
func TestBlocksAgainstReference(t *testing.T) {
	dir := t.TempDir()
	s := openTestStore(t, dir)
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(7, 11))
	var want []Entry
	for i := 0; i < 25; i++ {
		n := 1 + rng.IntN(300)
		if i%7 == 3 {
			n = maxBlockEntries + 1 + rng.IntN(2000) // split into blocks
		}
		// Days 0..2, sometimes a commit over two days, sometimes late.
		base := t0.Add(time.Duration(rng.IntN(3)) * 24 * time.Hour)
		spread := time.Hour
		if rng.IntN(4) == 0 {
			spread = 40 * time.Hour
		}
		batch := makeEntries(rng, n, base, spread)
		if i%5 == 1 { // many sources
			for j := range batch {
				if rng.IntN(2) == 0 {
					batch[j].Source = fmt.Sprint("s-", rng.IntN(200))
				}
			}
		}
		if _, err := s.Append(ctx, batch); err != nil {
			t.Fatal(err)
		}
		want = append(want, batch...)
	}
	slices.SortFunc(want, func(a, b Entry) int { return a.ID.Compare(b.ID) })

	// Delete a source's entries in part of the range, through the
	// deletion path retention uses.
	cut := want[len(want)/2].ID
	if _, err := s.DeleteSource(ctx, "auth", MinID, cut); err != nil {
		t.Fatal(err)
	}
	want = slices.DeleteFunc(want, func(e Entry) bool { return e.Source == "auth" && e.ID.Compare(cut) < 0 })

	check := func(t *testing.T, s *Store) {
		t.Helper()
		checkScan(t, s, want, MinID, MaxID)
		// Without messages, with only the fields asked for.
		var cols []Entry
		err := s.ScanColumns(ctx, MinID, MaxID, true, []string{"status", "ok"}, func(e *Entry) bool {
			cols = append(cols, cloneEntry(e)) // its fields are reused
			return true
		})
		if err != nil {
			t.Fatal(err)
		}
		slices.Reverse(cols)
		stripped := make([]Entry, len(want))
		for i, e := range want {
			e.Message = ""
			e.Fields = slices.DeleteFunc(slices.Clone(e.Fields), func(f Field) bool { return f.Name != "status" && f.Name != "ok" })
			stripped[i] = e
		}
		equalEntries(t, "ScanColumns", cols, stripped)
		for range 30 {
			a, b := rng.IntN(len(want)+1), rng.IntN(len(want)+1)
			lo, hi := idAt(want, min(a, b)), idAt(want, max(a, b))
			if rng.IntN(3) == 0 { // bounds that are not ids of entries
				lo.Seq, hi.Seq = lo.Seq+1, hi.Seq+1
			}
			checkScan(t, s, want, lo, hi)
			checkSourceLevels(t, s, want, lo, hi)
			checkTemplateCounts(t, s, want, lo, hi)
			checkScanWhere(t, s, want, lo, hi, rng.IntN(2) == 0)
			checkEachBlock(t, s, want, lo, hi)
		}
		checkSourceLevels(t, s, want, MinID, MaxID)
		checkEachBlock(t, s, want, MinID, MaxID)
		// Point reads: present ids, deleted ids, ids that never were.
		var ids []ID
		for range 500 {
			ids = append(ids, want[rng.IntN(len(want))].ID)
		}
		ids = append(ids, ID{Nanos: t0.UnixNano(), Seq: 1 << 40}, cut)
		// With the messages and one field at least (whole entries of
		// blocks in the point reads' cache): first, while that cache is
		// empty after a reopen. The fields are the call's.
		var got []Entry
		err = s.GetSortedWith(ctx, slices.Clone(ids), []string{"status"}, func(e *Entry) bool {
			c := cloneEntry(e)
			c.Fields = onlyField(c.Fields, "status")
			got = append(got, c)
			return true
		})
		if err != nil {
			t.Fatal(err)
		}
		var onlyStatus []Entry
		for _, id := range sortedIDs(ids) {
			j, ok := slices.BinarySearchFunc(want, id, func(e Entry, id ID) int { return e.ID.Compare(id) })
			if !ok {
				continue
			}
			e := want[j]
			e.Fields = onlyField(slices.Clone(e.Fields), "status")
			onlyStatus = append(onlyStatus, e)
		}
		equalEntries(t, "GetSortedWith", got, onlyStatus)
		got = got[:0]
		err = s.GetSortedMessages(ctx, slices.Clone(ids), func(e *Entry) bool {
			got = append(got, *e)
			return true
		})
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != len(onlyStatus) {
			t.Fatalf("GetSortedMessages read %d entries, want %d", len(got), len(onlyStatus))
		}
		for i, e := range got {
			if w := onlyStatus[i]; e.ID != w.ID || e.Message != w.Message || !e.Time.Equal(w.Time) {
				t.Fatalf("GetSortedMessages: entry %d is %v %q, want %v %q", i, e.ID, e.Message, w.ID, w.Message)
			}
		}
		got = got[:0]
		if err := s.GetMany(ctx, ids, func(e *Entry) bool { got = append(got, *e); return true }); err != nil {
			t.Fatal(err)
		}
		var exp []Entry
		for _, id := range ids {
			if i, ok := slices.BinarySearchFunc(want, id, func(e Entry, id ID) int { return e.ID.Compare(id) }); ok {
				exp = append(exp, want[i])
			}
		}
		equalEntries(t, "GetMany", got, exp)
		got = got[:0]
		if err := s.GetSorted(ctx, ids, func(e *Entry) bool { got = append(got, *e); return true }); err != nil {
			t.Fatal(err)
		}
		slices.SortFunc(exp, func(a, b Entry) int { return a.ID.Compare(b.ID) })
		equalEntries(t, "GetSorted", got, exp)
		e, err := s.Get(want[0].ID)
		if err != nil {
			t.Fatal(err)
		}
		equalEntries(t, "Get", []Entry{e}, want[:1])
	}
	check(t, s)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openTestStore(t, dir)
	defer s.Close()
	check(t, s)
}

func checkSourceLevels(t *testing.T, s *Store, want []Entry, lo, hi ID) {
	t.Helper()
	exp := map[string]SourceLevels{}
	for _, e := range want {
		if lo.Compare(e.ID) <= 0 && e.ID.Compare(hi) < 0 {
			c := exp[e.Source]
			c[slices.Index(Levels, e.Level)]++
			exp[e.Source] = c
		}
	}
	counts, ok, err := s.SourceLevelCounts(context.Background(), lo, hi)
	if err != nil {
		t.Fatal(err)
	}
	if !ok {
		t.Fatalf("SourceLevelCounts(%s, %s): no counts", lo, hi)
	}
	got := map[string]SourceLevels{}
	for src, c := range counts {
		got[src] = *c
	}
	if !reflect.DeepEqual(got, exp) {
		t.Fatalf("SourceLevelCounts(%s, %s):\n got %v\nwant %v", lo, hi, got, exp)
	}
}

// TestSourceLevelCountsOfManySources checks that a block of more sources
// than its header counts is counted when it lies at the range's edge, and
// reported otherwise.
func TestSourceLevelCountsOfManySources(t *testing.T) {
	s := openTestStore(t, t.TempDir())
	defer s.Close()
	rng := rand.New(rand.NewPCG(3, 4))
	batch := makeEntries(rng, 2000, t0, time.Hour)
	for i := range batch {
		batch[i].Source = fmt.Sprint("s-", i%300)
	}
	if _, err := s.Append(context.Background(), batch); err != nil {
		t.Fatal(err)
	}
	want := slices.Clone(batch)
	slices.SortFunc(want, func(a, b Entry) int { return a.ID.Compare(b.ID) })
	if _, ok, err := s.SourceLevelCounts(context.Background(), MinID, MaxID); err != nil || ok {
		t.Fatalf("SourceLevelCounts over a block of 300 sources: ok %v, %v", ok, err)
	}
	checkSourceLevels(t, s, want, want[1].ID, want[len(want)-1].ID)
	checkSourceLevels(t, s, want, MinID, want[len(want)-1].ID)
}

func idAt(entries []Entry, i int) ID {
	if i == len(entries) {
		return MaxID
	}
	return entries[i].ID
}

func checkScan(t *testing.T, s *Store, want []Entry, lo, hi ID) {
	t.Helper()
	var exp []Entry
	for _, e := range want {
		if e.ID.Compare(lo) >= 0 && e.ID.Compare(hi) < 0 {
			exp = append(exp, e)
		}
	}
	for _, reverse := range []bool{false, true} {
		var got []Entry
		err := s.Scan(context.Background(), lo, hi, reverse, func(e *Entry) bool {
			got = append(got, *e)
			return true
		})
		if err != nil {
			t.Fatal(err)
		}
		if reverse {
			slices.Reverse(got)
		}
		equalEntries(t, "Scan", got, exp)
	}
	// A scan stopped early stops at the right entry.
	if len(exp) > 3 {
		var got []ID
		_ = s.Scan(context.Background(), lo, hi, true, func(e *Entry) bool {
			got = append(got, e.ID)
			return len(got) < 3
		})
		if len(got) != 3 || got[2] != exp[len(exp)-3].ID {
			t.Fatalf("reverse scan stopped after 3 gave %v, want the last 3 of %d", got, len(exp))
		}
	}
}

func equalEntries(t *testing.T, what string, got, want []Entry) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d entries, want %d", what, len(got), len(want))
	}
	for i := range got {
		g, w := got[i], want[i]
		if g.ID != w.ID || !g.Time.Equal(w.Time) || g.Level != w.Level || g.Source != w.Source ||
			g.Message != w.Message || !reflect.DeepEqual(g.Tags, w.Tags) || !reflect.DeepEqual(g.Fields, w.Fields) {
			t.Fatalf("%s: entry %d = %+v, want %+v", what, i, g, w)
		}
	}
}

func TestAssignIDsContiguousPerDay(t *testing.T) {
	day := 24 * time.Hour
	times := []time.Duration{0, day, 2 * time.Hour, day + time.Hour, 3 * time.Hour, 2 * day}
	entries := make([]Entry, len(times))
	for i, d := range times {
		entries[i] = Entry{Time: t0.Add(d), Level: LevelInfo, Message: "m"}
	}
	ids := make([]ID, len(entries))
	runs := assignIDs(entries, ids, 100)
	wantSeqs := []uint64{100, 103, 101, 104, 102, 105}
	for i, id := range ids {
		if id.Seq != wantSeqs[i] || entries[i].ID != id || id.Nanos != entries[i].Time.UnixNano() {
			t.Fatalf("entry %d got id %v, want sequence %d", i, id, wantSeqs[i])
		}
	}
	if len(runs) != 3 || !reflect.DeepEqual(runs[0].idx, []int{0, 2, 4}) || !reflect.DeepEqual(runs[1].idx, []int{1, 3}) {
		t.Fatalf("runs = %+v", runs)
	}
}

// TestScanManyOverlappingBlocks: when more blocks overlap than a scan holds
// decoded, it goes window by window and still gives every entry once, in
// order, for any range and either direction.
func TestScanManyOverlappingBlocks(t *testing.T) {
	defer func(o, w int) { maxOpenEntries, windowEntries = o, w }(maxOpenEntries, windowEntries)
	maxOpenEntries, windowEntries = 600, 300 // several windows
	s := openTestStore(t, t.TempDir())
	defer s.Close()
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(21, 22))
	var want []Entry
	for i := 0; i < 60; i++ {
		// Each commit spreads over most of the day: every block overlaps
		// every other; a few are narrow, and a few entries share a
		// nanosecond.
		spread := 20 * time.Hour
		if i%5 == 0 {
			spread = time.Minute
		}
		batch := makeEntries(rng, 40+rng.IntN(60), t0.Add(-9*time.Hour), spread)
		if i%7 == 0 {
			for j := range batch {
				batch[j].Time = t0
			}
		}
		if _, err := s.Append(ctx, batch); err != nil {
			t.Fatal(err)
		}
		want = append(want, batch...)
	}
	slices.SortFunc(want, func(a, b Entry) int { return a.ID.Compare(b.ID) })
	checkScan(t, s, want, MinID, MaxID)
	for range 40 {
		a, b := rng.IntN(len(want)+1), rng.IntN(len(want)+1)
		lo, hi := idAt(want, min(a, b)), idAt(want, max(a, b))
		if rng.IntN(3) == 0 {
			lo.Seq, hi.Seq = lo.Seq+1, hi.Seq+1
		}
		checkScan(t, s, want, lo, hi)
		checkScanWhere(t, s, want, lo, hi, rng.IntN(2) == 0)
	}
}

// checkScanWhere scans with a block filter that accepts the blocks holding
// some "db" entry (or, from headers without those counts, every block):
// the "db" entries in range must all come, in order; others may.
func checkScanWhere(t *testing.T, s *Store, want []Entry, lo, hi ID, reverse bool) {
	t.Helper()
	var exp, got []ID
	for _, e := range want {
		if e.Source == "db" && lo.Compare(e.ID) <= 0 && e.ID.Compare(hi) < 0 {
			exp = append(exp, e.ID)
		}
	}
	if reverse {
		slices.Reverse(exp)
	}
	refused := 0
	spec := ScanSpec{Lo: lo, Hi: hi, Reverse: reverse, Columns: true, MayMatch: func(h *block.Header) bool {
		found := false
		known := h.EachSourceLevels(func(src []byte, _ *[6]int) { found = found || string(src) == "db" })
		if known && !found {
			refused++
		}
		return !known || found
	}}
	err := s.ScanWhere(context.Background(), spec, func(e *Entry) bool {
		if e.Source == "db" {
			got = append(got, e.ID)
		}
		return true
	})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, exp) {
		t.Fatalf("ScanWhere(%s, %s, reverse %v): %d db entries, want %d", lo, hi, reverse, len(got), len(exp))
	}
}

func checkTemplateCounts(t *testing.T, s *Store, want []Entry, lo, hi ID) {
	t.Helper()
	exp := map[uint32]TemplateStats{}
	var none SourceLevels
	for _, e := range want {
		if lo.Compare(e.ID) > 0 || e.ID.Compare(hi) >= 0 {
			continue
		}
		l := slices.Index(Levels, e.Level)
		if e.Pattern == 0 {
			none[l]++
			continue
		}
		st := exp[e.Pattern]
		if st.Count[l] == 0 || e.ID.Nanos < st.First[l] {
			st.First[l] = e.ID.Nanos
		}
		if st.Count[l] == 0 || e.ID.Nanos > st.Last[l] {
			st.Last[l] = e.ID.Nanos
		}
		st.Count[l]++
		exp[e.Pattern] = st
	}
	byID, gotNone, ok, err := s.TemplateCounts(context.Background(), lo, hi)
	if err != nil || !ok {
		t.Fatalf("TemplateCounts(%s, %s): ok %v, %v", lo, hi, ok, err)
	}
	got := map[uint32]TemplateStats{}
	for id, st := range byID {
		got[id] = *st
	}
	if !reflect.DeepEqual(got, exp) || gotNone != none {
		t.Fatalf("TemplateCounts(%s, %s):\n got %v none %v\nwant %v none %v", lo, hi, got, gotNone, exp, none)
	}
}

// TestTemplateCountsAfterRewrite deletes the only entries of a block that
// have template ids: the rewritten block has none, and the template counts
// kept apart from the old header must go with it.
func TestTemplateCountsAfterRewrite(t *testing.T) {
	s := openTestStore(t, t.TempDir())
	defer s.Close()
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(3, 5))
	batch := makeEntries(rng, 1000, t0, time.Hour)
	for i := range batch {
		batch[i].Pattern = 0
		if batch[i].Source == "api" {
			batch[i].Pattern = uint32(1 + rng.IntN(60)) // enough to be kept apart
		}
	}
	if _, err := s.Append(ctx, batch); err != nil {
		t.Fatal(err)
	}
	want := slices.Clone(batch)
	slices.SortFunc(want, func(a, b Entry) int { return a.ID.Compare(b.ID) })
	checkTemplateCounts(t, s, want, MinID, MaxID)
	if _, err := s.DeleteSource(ctx, "api", MinID, MaxID); err != nil {
		t.Fatal(err)
	}
	want = slices.DeleteFunc(want, func(e Entry) bool { return e.Source == "api" })
	checkTemplateCounts(t, s, want, MinID, MaxID)
	checkScan(t, s, want, MinID, MaxID)
}

// sortedIDs returns a sorted copy of ids.
func sortedIDs(ids []ID) []ID {
	out := slices.Clone(ids)
	slices.SortFunc(out, ID.Compare)
	return out
}

// onlyField returns the fields named name of fs (in fs's array), nil when
// there are none.
func onlyField(fs []Field, name string) []Field {
	fs = slices.DeleteFunc(fs, func(f Field) bool { return f.Name != name })
	if len(fs) == 0 {
		return nil
	}
	return fs
}

// TestGetSortedWithPartialDecode: point reads that decode a block for
// some of its entries answer every id of it, when ids that are in no block
// come between the block's own (a decode stops at them).
func TestGetSortedWithPartialDecode(t *testing.T) {
	dir := t.TempDir()
	s := openTestStore(t, dir)
	ctx := context.Background()
	// Two commits whose times interleave: two blocks of one day whose
	// time ranges overlap.
	var a, b []Entry
	for i := range 20 {
		e := Entry{Time: t0.Add(time.Duration(i) * time.Second), Level: LevelInfo, Source: "api", Message: fmt.Sprintf("m%d", i),
			Fields: []Field{{Name: "status", Value: Int(int64(i))}}}
		if i%2 == 0 {
			a = append(a, e)
		} else {
			b = append(b, e)
		}
	}
	for _, batch := range [][]Entry{a, b} {
		if _, err := s.Append(ctx, batch); err != nil {
			t.Fatal(err)
		}
	}
	// Reopened: the point reads' cache is empty, so blocks are decoded.
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openTestStore(t, dir)
	defer s.Close()
	var ids []ID
	for _, e := range a {
		ids = append(ids, e.ID)
		// An id in no block, between this one and the next of its block.
		ids = append(ids, ID{Nanos: e.ID.Nanos + 1, Seq: 1 << 40})
	}
	var got []string
	err := s.GetSortedWith(ctx, ids, []string{"status"}, func(e *Entry) bool {
		if len(e.Fields) != 1 || e.Fields[0].Value.Int != int64(e.Time.Sub(t0)/time.Second) {
			t.Errorf("%s has fields %+v", e.Message, e.Fields)
		}
		got = append(got, e.Message)
		return true
	})
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for i := 0; i < 20; i += 2 {
		want = append(want, fmt.Sprintf("m%d", i))
	}
	if !slices.Equal(got, want) {
		t.Fatalf("GetSortedWith read %q, want %q", got, want)
	}
}
