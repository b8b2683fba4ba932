package storage

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/dgraph-io/badger/v4"
)

func openTestStore(tb testing.TB, dir string, indexed ...string) *Store {
	tb.Helper()
	opts := DefaultOptions(dir)
	opts.SyncWrites = false
	opts.IndexedFields = indexed
	s, err := Open(opts)
	if err != nil {
		tb.Fatal(err)
	}
	return s
}

var t0 = time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)

func makeEntries(rng *rand.Rand, n int, base time.Time, spread time.Duration) []Entry {
	sources := []string{"api", "auth", "db", "web"}
	tags := []string{"prod", "test", "eu", "us"}
	out := make([]Entry, n)
	for i := range out {
		e := Entry{
			Time:    base.Add(time.Duration(rng.Int64N(int64(spread)))),
			Level:   Levels[rng.IntN(len(Levels))],
			Source:  sources[rng.IntN(len(sources))],
			Message: fmt.Sprintf("request %d took %dms", i, rng.IntN(1000)),
			Pattern: uint32(rng.IntN(3)), // 0: none
			Fields: []Field{
				{Name: "host", Value: String(fmt.Sprintf("web-%d", rng.IntN(5)))},
				{Name: "status", Value: Int(int64(200 + 100*rng.IntN(4)))},
				{Name: "ratio", Value: Float(rng.Float64())},
				{Name: "ok", Value: Bool(rng.IntN(2) == 0)},
			},
		}
		for _, t := range tags {
			if rng.IntN(3) == 0 {
				e.Tags = append(e.Tags, t)
			}
		}
		out[i] = e
	}
	return out
}

func TestAppendGetScanPostings(t *testing.T) {
	dir := t.TempDir()
	s := openTestStore(t, dir, "host")
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(1, 2))
	// Three days, appended in several commits, some of them late.
	var all []Entry
	for i := 0; i < 6; i++ {
		batch := makeEntries(rng, 300, t0.Add(time.Duration(2-i%3)*24*time.Hour), 20*time.Hour)
		if _, err := s.Append(ctx, batch); err != nil {
			t.Fatal(err)
		}
		all = append(all, batch...)
	}
	if got, want := s.HighSeq(), uint64(len(all)); got != want {
		t.Fatalf("HighSeq = %d, want %d", got, want)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openTestStore(t, dir, "host")
	defer s.Close()
	if got, want := s.HighSeq(), uint64(len(all)); got != want {
		t.Fatalf("HighSeq after reopen = %d, want %d", got, want)
	}

	for _, want := range all[:50] {
		got, err := s.Get(want.ID)
		if err != nil {
			t.Fatal(err)
		}
		want.Time = want.Time.UTC()
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("Get(%s) = %+v, want %+v", want.ID, got, want)
		}
	}

	sorted := slices.Clone(all)
	slices.SortFunc(sorted, func(a, b Entry) int { return a.ID.Compare(b.ID) })
	lo := ID{Nanos: t0.Add(5 * time.Hour).UnixNano()}
	hi := ID{Nanos: t0.Add(50 * time.Hour).UnixNano()}
	var want []ID
	for _, e := range sorted {
		if e.ID.Compare(lo) >= 0 && e.ID.Compare(hi) < 0 {
			want = append(want, e.ID)
		}
	}
	for _, reverse := range []bool{false, true} {
		var got []ID
		err := s.Scan(ctx, lo, hi, reverse, func(e *Entry) bool { got = append(got, e.ID); return true })
		if err != nil {
			t.Fatal(err)
		}
		w := slices.Clone(want)
		if reverse {
			slices.Reverse(w)
		}
		if !slices.Equal(got, w) {
			t.Fatalf("Scan(reverse=%v): got %d ids, want %d", reverse, len(got), len(w))
		}
	}

	cases := []struct {
		iv    IndexValue
		match func(e Entry) bool
	}{
		{IndexValue{Kind: IndexLevel, Value: "error"}, func(e Entry) bool { return e.Level == LevelError }},
		{IndexValue{Kind: IndexSource, Value: "api"}, func(e Entry) bool { return e.Source == "api" }},
		{IndexValue{Kind: IndexTag, Value: "prod"}, func(e Entry) bool { return slices.Contains(e.Tags, "prod") }},
		{IndexValue{Kind: IndexField, Name: "host", Value: "web-3"}, func(e Entry) bool { v, _ := e.Field("host"); return v.Str == "web-3" }},
	}
	for _, c := range cases {
		got, err := s.Postings(ctx, c.iv, lo, hi)
		if err != nil {
			t.Fatal(err)
		}
		var w []ID
		for _, e := range sorted {
			if e.ID.Compare(lo) >= 0 && e.ID.Compare(hi) < 0 && c.match(e) {
				w = append(w, e.ID)
			}
		}
		if !slices.Equal(got, w) {
			t.Errorf("Postings(%+v): got %d ids, want %d", c.iv, len(got), len(w))
		}
	}
	if _, err := s.Postings(ctx, IndexValue{Kind: IndexField, Name: "status", Value: "200"}, lo, hi); err == nil {
		t.Error("Postings on a field that is not indexed: want an error")
	}

	counts := levelCounts(t, s)
	wantCounts := map[string]int{}
	for _, e := range all {
		wantCounts[e.Level.String()]++
	}
	if !reflect.DeepEqual(counts, wantCounts) {
		t.Errorf("IndexValues(level) = %v, want %v", counts, wantCounts)
	}

	// The journal hands out every id once, in sequence order.
	var seen []ID
	var after uint64
	for {
		ids, err := s.ReadJournal(ctx, after, 250)
		if err != nil {
			t.Fatal(err)
		}
		if len(ids) == 0 {
			break
		}
		seen = append(seen, ids...)
		after = ids[len(ids)-1].Seq
	}
	if len(seen) != len(all) {
		t.Fatalf("journal gave %d ids, want %d", len(seen), len(all))
	}
	// Entries of one request get consecutive sequences per day, so the
	// journal's order is the order of the sequences, not of the request.
	bySeq := make([]ID, len(all))
	for i := range all {
		bySeq[i] = all[i].ID
	}
	slices.SortFunc(bySeq, func(a, b ID) int { return cmp.Compare(a.Seq, b.Seq) })
	for i, id := range seen {
		if id != bySeq[i] {
			t.Fatalf("journal[%d] = %v, want %v", i, id, bySeq[i])
		}
	}
	if err := s.SetCheckpoint("indexer", 600); err != nil {
		t.Fatal(err)
	}
	if cp, err := s.Checkpoint("indexer"); err != nil || cp != 600 {
		t.Fatalf("Checkpoint = %d, %v", cp, err)
	}
	if n, err := s.TrimJournal(ctx, 600); err != nil || n != 2 {
		t.Fatalf("TrimJournal = %d, %v; want 2 records", n, err)
	}
	ids, _ := s.ReadJournal(ctx, 0, 1)
	if len(ids) == 0 || ids[0].Seq != 601 {
		t.Fatalf("after trim the journal starts at %v", ids)
	}

	days, _ := s.Days(0, MaxID.Nanos)
	if len(days) < 3 {
		t.Fatalf("Days = %v", days)
	}
	if err := s.DropDay(days[0]); err != nil {
		t.Fatal(err)
	}
	n := 0
	_ = s.Scan(ctx, MinID, MaxID, false, func(e *Entry) bool {
		if DayOf(e.ID.Nanos) == days[0] {
			t.Fatalf("entry %s of a dropped day survived", e.ID)
		}
		n++
		return true
	})
	if n == 0 || n >= len(all) {
		t.Fatalf("after DropDay %d entries remain of %d", n, len(all))
	}
}

func TestIDText(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	prev := ""
	ids := []ID{MinID, {Nanos: 1}, {Nanos: 1, Seq: 1}, {Nanos: t0.UnixNano(), Seq: 42}, MaxID}
	for i := 0; i < 1000; i++ {
		ids = append(ids, ID{Nanos: rng.Int64(), Seq: rng.Uint64()})
	}
	slices.SortFunc(ids, ID.Compare)
	for _, id := range ids {
		s := id.String()
		if len(s) != IDLen {
			t.Fatalf("%v → %q: length %d", id, s, len(s))
		}
		back, err := ParseID(s)
		if err != nil || back != id {
			t.Fatalf("ParseID(%q) = %v, %v; want %v", s, back, err, id)
		}
		if s < prev {
			t.Fatalf("text order differs from ID order: %q < %q", s, prev)
		}
		prev = s
	}
	for _, bad := range []string{"", "01JDX4K5R3ZC8Y6W000000004", "01JDX4K5R3ZC8Y6W000000004U", "Z1JDX4K5R3ZC8Y6W0000000042"} {
		if _, err := ParseID(bad); err == nil {
			t.Errorf("ParseID(%q): want an error", bad)
		}
	}
}

func TestAppendRejectsInvalid(t *testing.T) {
	s := openTestStore(t, t.TempDir())
	defer s.Close()
	_, err := s.Append(context.Background(), []Entry{{Time: t0, Level: LevelInfo, Source: "x"}})
	if err == nil {
		t.Fatal("want an error for an empty message")
	}
	if s.HighSeq() != 0 {
		t.Fatal("nothing should have been committed")
	}
}

func TestBucketsAndMeta(t *testing.T) {
	s := openTestStore(t, t.TempDir())
	defer s.Close()
	b := s.Bucket("rules")
	other := s.Bucket("rules2")
	if _, err := b.Get("x"); err == nil {
		t.Fatal("want ErrNotFound")
	}
	err := s.Update(func(w *Writer) error {
		if err := w.Put(b, "r/1", []byte("one")); err != nil {
			return err
		}
		if err := w.Put(b, "r/2", []byte("two")); err != nil {
			return err
		}
		return w.Put(other, "r/3", []byte("three"))
	})
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	if err := b.Scan(context.Background(), "r/", func(k string, v []byte) error { keys = append(keys, k+"="+string(v)); return nil }); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(keys, []string{"r/1=one", "r/2=two"}) {
		t.Fatalf("Scan = %v", keys)
	}
	if err := b.Delete("r/1"); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Get("r/1"); err == nil {
		t.Fatal("deleted key still there")
	}
	if err := s.SetMeta("schema", []byte{2}); err != nil {
		t.Fatal(err)
	}
	if v, err := s.Meta("schema"); err != nil || v[0] != 2 {
		t.Fatalf("Meta = %v, %v", v, err)
	}
}

func TestSortIDs(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 9))
	for _, n := range []int{0, 1, 10, 300, 5000} {
		ids := make([]ID, n)
		for i := range ids {
			ids[i] = ID{Nanos: t0.UnixNano() + rng.Int64N(int64(time.Hour)), Seq: rng.Uint64N(1 << 20)}
			if i > 0 && rng.IntN(5) == 0 {
				ids[i].Nanos = ids[i-1].Nanos // ties on time
			}
		}
		want := slices.Clone(ids)
		slices.SortFunc(want, ID.Compare)
		SortIDs(ids)
		if !slices.Equal(ids, want) {
			t.Fatalf("n=%d: SortIDs differs from a comparison sort", n)
		}
	}
}

func TestSyncIndexedFields(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	s := openTestStore(t, dir)
	rng := rand.New(rand.NewPCG(5, 6))
	old := makeEntries(rng, 500, t0, 48*time.Hour)
	if _, err := s.Append(ctx, old); err != nil {
		t.Fatal(err)
	}
	if err := s.SyncIndexedFields(ctx, nil); err != nil {
		t.Fatal(err)
	}
	s.Close()

	count := func(s *Store, value string) int {
		ids, err := s.Postings(ctx, IndexValue{Kind: IndexField, Name: "host", Value: value}, MinID, MaxID)
		if err != nil {
			t.Fatal(err)
		}
		return len(ids)
	}
	want := func(entries []Entry, value string) int {
		n := 0
		for _, e := range entries {
			if v, _ := e.Field("host"); v.Str == value {
				n++
			}
		}
		return n
	}
	// host becomes indexed: the old entries are backfilled, new ones added.
	s = openTestStore(t, dir, "host")
	if err := s.SyncIndexedFields(ctx, nil); err != nil {
		t.Fatal(err)
	}
	late := makeEntries(rng, 200, t0, 48*time.Hour)
	if _, err := s.Append(ctx, late); err != nil {
		t.Fatal(err)
	}
	all := append(slices.Clone(old), late...)
	if got, w := count(s, "web-2"), want(all, "web-2"); got != w {
		t.Fatalf("host:web-2 = %d ids, want %d", got, w)
	}
	s.Close()
	// host is dropped, then indexed again: rebuilt without duplicates.
	s = openTestStore(t, dir)
	if err := s.SyncIndexedFields(ctx, nil); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s = openTestStore(t, dir, "host")
	defer s.Close()
	if err := s.SyncIndexedFields(ctx, nil); err != nil {
		t.Fatal(err)
	}
	if got, w := count(s, "web-2"), want(all, "web-2"); got != w {
		t.Fatalf("after drop and re-add host:web-2 = %d ids, want %d", got, w)
	}
}

func TestDeleteSource(t *testing.T) {
	s := openTestStore(t, t.TempDir(), "host")
	defer s.Close()
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(11, 12))
	entries := makeEntries(rng, 1000, t0, 30*time.Hour)
	// Five commits, each spread over the whole time range: posting lists
	// that overlap in time, as late logs make them.
	for i := 0; i < len(entries); i += 200 {
		if _, err := s.Append(ctx, entries[i:i+200]); err != nil {
			t.Fatal(err)
		}
	}
	cut := ID{Nanos: t0.Add(20 * time.Hour).UnixNano()}
	s.deleteStep = 7 // many steps, some spanning commits, one at each day's end
	deleted := deleteSource(t, s, "api", cut)
	checkSourceDeleted(t, s, entries, "api", cut, deleted)
	s.deleteStep = 0

	// The deleted ids are handed over as tombstones, once.
	collect := func() []ID {
		t.Helper()
		var got []ID
		if err := s.Tombstones(ctx, func(ids []ID) error {
			if !slices.IsSortedFunc(ids, ID.Compare) {
				t.Errorf("a tombstone record of %d ids is not sorted", len(ids))
			}
			got = append(got, ids...)
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		slices.SortFunc(got, ID.Compare) // records come in deletion order
		return got
	}
	if got := collect(); !slices.Equal(got, deleted) {
		t.Fatalf("tombstones = %d ids, want the %d deleted", len(got), len(deleted))
	}
	if got := collect(); len(got) != 0 {
		t.Fatalf("tombstones after they were handed over = %d ids", len(got))
	}
	// A record whose copies could not be removed is kept.
	more := deleteSource(t, s, "db", cut)
	errIndex := errors.New("index unavailable")
	if err := s.Tombstones(ctx, func([]ID) error { return errIndex }); !errors.Is(err, errIndex) {
		t.Fatalf("Tombstones with a failing fn = %v, want its error", err)
	}
	if got := collect(); !slices.Equal(got, more) {
		t.Fatalf("tombstones after a failed hand-over = %d ids, want the %d deleted", len(got), len(more))
	}
}

// deleteSource deletes the entries of source below cut and returns their
// ids, as the posting lists had them.
func deleteSource(t *testing.T, s *Store, source string, cut ID) []ID {
	t.Helper()
	ctx := context.Background()
	ids, err := s.Postings(ctx, IndexValue{Kind: IndexSource, Value: source}, MinID, cut)
	if err != nil || len(ids) == 0 {
		t.Fatalf("postings of %s: %d, %v", source, len(ids), err)
	}
	n, err := s.DeleteSource(ctx, source, MinID, cut)
	if err != nil || n != len(ids) {
		t.Fatalf("delete source %s: %d deleted, %v; want %d", source, n, err, len(ids))
	}
	return ids
}

// TestDeleteSourceInterrupted checks that a deletion that failed, or that
// a crash interrupted, after its tombstones were written is not handed over
// until FinishDeletes has finished it.
func TestDeleteSourceInterrupted(t *testing.T) {
	dir := t.TempDir()
	s := openTestStore(t, dir, "host")
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(13, 14))
	entries := makeEntries(rng, 1000, t0, 30*time.Hour)
	if _, err := s.Append(ctx, entries); err != nil {
		t.Fatal(err)
	}
	cut := ID{Nanos: t0.Add(20 * time.Hour).UnixNano()}
	pending := func(source string) []ID {
		t.Helper()
		ids, err := s.Postings(ctx, IndexValue{Kind: IndexSource, Value: source}, MinID, cut)
		if err != nil || len(ids) == 0 {
			t.Fatalf("postings of %s: %d, %v", source, len(ids), err)
		}
		// What DeleteSource does first, then the crash or the failure.
		if _, err := s.writeTombstones(ids); err != nil {
			t.Fatal(err)
		}
		return ids
	}
	ids := pending("api")
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openTestStore(t, dir, "host")
	defer s.Close()
	// Unfinished, it is not handed over; FinishDeletes finishes it (the
	// daemon calls it when it starts).
	if err := s.Tombstones(ctx, func(part []ID) error {
		t.Errorf("%d ids of an unfinished deletion handed over", len(part))
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if err := s.FinishDeletes(ctx); err != nil {
		t.Fatal(err)
	}
	var got []ID
	if err := s.Tombstones(ctx, func(part []ID) error {
		// By now the entries are gone from storage.
		if _, err := s.Get(part[0]); !errors.Is(err, ErrNotFound) {
			t.Errorf("entry %s handed over as a tombstone is still stored (%v)", part[0], err)
		}
		got = append(got, part...)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	checkSourceDeleted(t, s, entries, "api", cut, ids)
	if !slices.Equal(got, ids) {
		t.Fatalf("tombstones after reopening = %d ids, want %d", len(got), len(ids))
	}

	// Without a restart too.
	dbIDs := pending("db")
	if err := s.FinishDeletes(ctx); err != nil {
		t.Fatal(err)
	}
	for _, id := range dbIDs {
		if _, err := s.Get(id); !errors.Is(err, ErrNotFound) {
			t.Fatalf("entry %s of an unfinished deletion is still stored after FinishDeletes (%v)", id, err)
		}
	}
}

// TestDeleteSourceUnfinishable checks that a deletion that cannot be
// finished (a damaged posting list in its day) holds back neither the
// others nor deletions in other days, and that its day is not recorded
// again at every run.
func TestDeleteSourceUnfinishable(t *testing.T) {
	s := openTestStore(t, t.TempDir(), "host")
	defer s.Close()
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(17, 18))
	day0 := DayOf(t0.UnixNano())
	day1 := day0 + 1
	entries := makeEntries(rng, 1000, time.Unix(0, day0.Start()), 48*time.Hour)
	if _, err := s.Append(ctx, entries); err != nil {
		t.Fatal(err)
	}
	ids := func(source string, d Day) []ID {
		t.Helper()
		out, err := s.Postings(ctx, IndexValue{Kind: IndexSource, Value: source}, ID{Nanos: d.Start()}, ID{Nanos: (d + 1).Start()})
		if err != nil || len(out) == 0 {
			t.Fatalf("postings of %s on %s: %d, %v", source, d, len(out), err)
		}
		return out
	}
	s.delMu.Lock()
	_, err := s.writeTombstones(ids("api", day0)) // older, and damaged below
	if err == nil {
		_, err = s.writeTombstones(ids("db", day1)) // newer, fine
	}
	s.delMu.Unlock()
	if err != nil {
		t.Fatal(err)
	}
	bad := append(postingPrefix(day0, kindLevel, "", "zz"), make([]byte, 8)...)
	if err := s.db.Update(func(txn *badger.Txn) error { return txn.Set(bad, []byte{0xff}) }); err != nil {
		t.Fatal(err)
	}
	if err := s.FinishDeletes(ctx); err == nil {
		t.Fatal("FinishDeletes with a damaged posting list: no error")
	}
	if left, err := s.Postings(ctx, IndexValue{Kind: IndexSource, Value: "db"}, ID{Nanos: day1.Start()}, ID{Nanos: (day1 + 1).Start()}); err != nil || len(left) != 0 {
		t.Fatalf("after FinishDeletes %d entries of the newer deletion are still listed (%v)", len(left), err)
	}
	records := func() int {
		t.Helper()
		stamps, _, _, err := s.tombstoneRecords(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return len(stamps)
	}
	before := records()
	for range 3 {
		if _, err := s.DeleteSource(ctx, "api", MinID, ID{Nanos: (day0 + 1).Start()}); err != nil {
			t.Fatal(err)
		}
	}
	if after := records(); after != before {
		t.Fatalf("tombstone deletions %d after three runs over the unfinishable day, want %d", after, before)
	}
}

// TestDeleteSourceConcurrent runs deletions of two sources and the drop of
// a day at once: all rewrite or drop the same posting lists, and none may
// undo another's work. The first deletion pauses between reading the lists
// and writing them back, where the others would overlap it if they could.
func TestDeleteSourceConcurrent(t *testing.T) {
	s := openTestStore(t, t.TempDir(), "host")
	defer s.Close()
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(15, 16))
	entries := makeEntries(rng, 2000, t0, 30*time.Hour)
	if _, err := s.Append(ctx, entries); err != nil {
		t.Fatal(err)
	}
	dropped := DayOf(t0.Add(30 * time.Hour).UnixNano())
	scanned := make(chan struct{})
	var once sync.Once
	s.hookDeleteScanned = func() {
		once.Do(func() {
			close(scanned)
			time.Sleep(100 * time.Millisecond)
		})
	}
	var wg sync.WaitGroup
	for _, src := range []string{"api", "db"} {
		wg.Go(func() {
			if _, err := s.DeleteSource(ctx, src, MinID, MaxID); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Go(func() {
		<-scanned
		if err := s.DropDay(dropped); err != nil {
			t.Error(err)
		}
	})
	wg.Wait()
	want := map[string]int{}
	for _, e := range entries {
		if e.Source != "api" && e.Source != "db" && DayOf(e.ID.Nanos) != dropped {
			want[e.Level.String()]++
		}
	}
	levels := levelCounts(t, s)
	if !reflect.DeepEqual(levels, want) {
		t.Fatalf("level counts after two concurrent deletions and a day dropped = %v, want %v", levels, want)
	}
}

// checkSourceDeleted checks that exactly the entries of source below cut
// are gone, from the entries and from every posting list.
func checkSourceDeleted(t *testing.T, s *Store, entries []Entry, source string, cut ID, deleted []ID) {
	t.Helper()
	ctx := context.Background()
	gone := map[ID]bool{}
	for _, id := range deleted {
		gone[id] = true
	}
	var kept []Entry
	for _, e := range entries {
		isGone := e.Source == source && e.ID.Compare(cut) < 0
		if isGone != gone[e.ID] {
			t.Fatalf("entry %s (source %s): deleted=%v, want %v", e.ID, e.Source, gone[e.ID], isGone)
		}
		if !isGone {
			kept = append(kept, e)
		}
	}
	if _, err := s.Get(deleted[0]); err == nil {
		t.Fatal("a deleted entry is still readable")
	}
	levels := levelCounts(t, s)
	want := map[string]int{}
	for _, e := range kept {
		want[e.Level.String()]++
	}
	if !reflect.DeepEqual(levels, want) {
		t.Fatalf("level counts after delete = %v, want %v", levels, want)
	}
	hosts, _ := s.Postings(ctx, IndexValue{Kind: IndexField, Name: "host", Value: "web-1"}, MinID, MaxID)
	for _, id := range hosts {
		if gone[id] {
			t.Fatalf("host index still lists deleted %s", id)
		}
	}
}

// TestGetSorted checks GetSorted against Get for id sets of every shape it
// walks differently: dense runs (steps), sparse picks (seeks), several days,
// ids that were deleted or never existed, and input out of order.
func TestGetSorted(t *testing.T) {
	s := openTestStore(t, t.TempDir())
	defer s.Close()
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(21, 22))
	entries := makeEntries(rng, 3000, t0, 40*time.Hour) // two days
	if _, err := s.Append(ctx, entries); err != nil {
		t.Fatal(err)
	}
	deleted := deleteSource(t, s, "db", MaxID)
	all := make([]ID, len(entries))
	for i, e := range entries {
		all[i] = e.ID
	}
	sorted := slices.Clone(all)
	slices.SortFunc(sorted, ID.Compare)
	every := func(ids []ID, k int) []ID {
		var out []ID
		for i := 0; i < len(ids); i += k {
			out = append(out, ids[i])
		}
		return out
	}
	reversed := slices.Clone(sorted[:50])
	slices.Reverse(reversed)
	tests := []struct {
		name string
		ids  []ID
	}{
		{"none", nil},
		{"dense run", sorted[100:900]},
		{"sparse", every(sorted, 37)},
		{"gaps at the step limit", every(sorted, 17)},
		{"all, in commit order", all},
		{"deleted only", deleted},
		{"ids that never existed", []ID{{Nanos: t0.UnixNano() - 1, Seq: 1}, sorted[5], {Nanos: sorted[5].Nanos, Seq: sorted[5].Seq + 1e6}, {Nanos: t0.Add(100 * time.Hour).UnixNano(), Seq: 9}}},
		{"reversed", reversed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var want []Entry
			for _, id := range tt.ids {
				e, err := s.Get(id)
				if errors.Is(err, ErrNotFound) {
					continue
				}
				if err != nil {
					t.Fatal(err)
				}
				want = append(want, e)
			}
			slices.SortFunc(want, func(a, b Entry) int { return a.ID.Compare(b.ID) })
			var got []Entry
			err := s.GetSorted(ctx, slices.Clone(tt.ids), func(e *Entry) bool { got = append(got, *e); return true })
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(want) {
				t.Fatalf("GetSorted found %d entries, Get %d", len(got), len(want))
			}
			for i := range want {
				if !reflect.DeepEqual(got[i], want[i]) {
					t.Fatalf("entry %d: GetSorted %+v, Get %+v", i, got[i], want[i])
				}
			}
		})
	}
}

// levelCounts counts the entries of every level from the level posting
// lists, as aggregations do.
func levelCounts(t *testing.T, s *Store) map[string]int {
	t.Helper()
	counts := map[string]int{}
	err := s.IndexValues(context.Background(), IndexLevel, "", MinID, MaxID, func(v string, ids []ID) error {
		counts[v] += len(ids)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return counts
}
