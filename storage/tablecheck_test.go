package storage

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/logengine/logengine/internal/sparse"
)

// readEverything answers every kind of read the query engine makes over the
// whole store, as text to compare.
func readEverything(ctx context.Context, s *Store) (string, error) {
	var b strings.Builder
	days, err := s.Days(0, math.MaxInt64)
	if err != nil {
		return "", err
	}
	fmt.Fprintln(&b, "days", days)
	var ids []ID
	if err := s.Scan(ctx, MinID, MaxID, false, func(e *Entry) bool { ids = append(ids, e.ID); return true }); err != nil {
		return "", err
	}
	fmt.Fprintln(&b, "scan", len(ids), ids)
	n := 0
	if err := s.ScanColumns(ctx, MinID, MaxID, true, []string{"status"}, func(*Entry) bool { n++; return true }); err != nil {
		return "", err
	}
	fmt.Fprintln(&b, "scan columns", n)
	errs, err := s.Postings(ctx, IndexValue{Kind: IndexLevel, Value: "error"}, MinID, MaxID)
	if err != nil {
		return "", err
	}
	fmt.Fprintln(&b, "errors", errs)
	bySource := map[string]int{}
	if err := s.IndexValues(ctx, IndexSource, "", MinID, MaxID, func(v string, ids []ID) error { bySource[v] += len(ids); return nil }); err != nil {
		return "", err
	}
	fmt.Fprintln(&b, "by source", bySource)
	counts, _, err := s.SourceLevelCounts(ctx, MinID, MaxID)
	if err != nil {
		return "", err
	}
	for _, src := range slices.Sorted(func(yield func(string) bool) {
		for k := range counts {
			if !yield(k) {
				return
			}
		}
	}) {
		fmt.Fprintln(&b, "counts", src, *counts[src])
	}
	byTemplate, none, _, err := s.TemplateCounts(ctx, MinID, MaxID)
	if err != nil {
		return "", err
	}
	fmt.Fprintln(&b, "templates", len(byTemplate), none)
	journal, err := s.ReadJournal(ctx, 0, math.MaxInt)
	if err != nil {
		return "", err
	}
	fmt.Fprintln(&b, "journal", len(journal))
	got := 0
	if err := s.GetMany(ctx, journal, func(*Entry) bool { got++; return true }); err != nil {
		return "", err
	}
	fmt.Fprintln(&b, "get", got)
	return b.String(), nil
}

// TestDamagedTableNeverAnswersShort flips bytes at points spread over a
// stopped store's table and checks that every read then answers exactly
// what it answered before, or fails with ErrDamaged naming the table;
// and that without the reads' own check some flip would have given a
// silently shorter answer (so that the test can fail).
func TestDamagedTableNeverAnswersShort(t *testing.T) {
	ctx := context.Background()
	src := t.TempDir()
	s := openTestStore(t, src)
	for day := range 3 {
		for i := range 6 {
			entries, _ := loggenEntries(1000, t0.Add(time.Duration(day)*24*time.Hour+time.Duration(i)*time.Minute))
			if _, err := s.Append(ctx, entries); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openTestStore(t, src)
	want, err := readEverything(ctx, s)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	tables, _ := filepath.Glob(filepath.Join(src, "*.sst"))
	if len(tables) == 0 {
		t.Fatal("no table written")
	}
	// The largest table; its index is at its end, which Badger checks
	// when it opens, so the flips go into its blocks.
	slices.SortFunc(tables, func(a, b string) int { return int(fileSize(t, b) - fileSize(t, a)) })
	name := filepath.Base(tables[0])
	size := fileSize(t, tables[0])

	run := func(check bool) (damaged, short, refused int) {
		defer func(v bool) { checkTables = v }(checkTables)
		checkTables = check
		const points = 24
		for p := range points {
			at := size * int64(p) / points * 8 / 10
			dir := t.TempDir()
			copyDir(t, src, dir)
			flipBytes(t, filepath.Join(dir, name), at, 8)
			s, err := Open(Options{Dir: dir})
			if err != nil {
				if !strings.Contains(err.Error(), name) {
					t.Fatalf("open with %s damaged at %d: %v, want an error naming the table", name, at, err)
				}
				refused++
				continue
			}
			got, err := readEverything(ctx, s)
			switch {
			case err != nil && !check:
				// Without the check a body read may still fail.
			case err != nil:
				if !errors.Is(err, ErrDamaged) || !strings.Contains(err.Error(), name) || !strings.Contains(err.Error(), "logengine verify") {
					t.Fatalf("read with %s damaged at %d: %v, want ErrDamaged naming the table and what to do", name, at, err)
				}
				if damaged++; damaged == 1 {
					t.Logf("first error: %v", err)
				}
				// Health checks hear of it: the table is listed.
				if d := s.DamagedTables(); len(d) != 1 || filepath.Base(d[0].File) != name {
					t.Fatalf("DamagedTables after the failed read = %+v, want %s", d, name)
				}
			case got != want:
				short++
				if check {
					t.Errorf("read with %s damaged at %d answered differently:\n got %.300s\nwant %.300s", name, at, got, want)
				}
			}
			if err == nil && check {
				if d := s.DamagedTables(); len(d) != 0 {
					t.Fatalf("DamagedTables after reads that did not fail = %+v", d)
				}
			}
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
		}
		return damaged, short, refused
	}
	damaged, short, refused := run(true)
	t.Logf("with checks: %d reads failed with ErrDamaged, %d opens refused, %d answered short", damaged, refused, short)
	if damaged == 0 {
		t.Fatal("no flipped byte was found by a read")
	}
	_, short, _ = run(false)
	t.Logf("without: %d answered short", short)
	if short == 0 {
		t.Fatal("without the reads' own check no flip gave a shorter answer: the test no longer shows the check is needed")
	}
}

func fileSize(tb testing.TB, name string) int64 {
	tb.Helper()
	fi, err := os.Stat(name)
	if err != nil {
		tb.Fatal(err)
	}
	return fi.Size()
}

// copyDir copies the files of a store, keeping holes holes: Badger's logs
// are large files that are mostly holes.
func copyDir(tb testing.TB, from, to string) {
	tb.Helper()
	ents, err := os.ReadDir(from)
	if err != nil {
		tb.Fatal(err)
	}
	for _, e := range ents {
		if e.IsDir() {
			continue
		}
		if err := sparse.Copy(filepath.Join(from, e.Name()), filepath.Join(to, e.Name())); err != nil {
			tb.Fatal(err)
		}
	}
}

// flipBytes inverts n bytes of a file from at on.
func flipBytes(tb testing.TB, name string, at int64, n int) {
	tb.Helper()
	f, err := os.OpenFile(name, os.O_RDWR, 0)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	b := make([]byte, n)
	if _, err := f.ReadAt(b, at); err != nil {
		tb.Fatal(err)
	}
	for i := range b {
		b[i] ^= 0xff
	}
	if _, err := f.WriteAt(b, at); err != nil {
		tb.Fatal(err)
	}
}

func openFile(tb testing.TB, name string) *os.File {
	tb.Helper()
	f, err := os.Open(name)
	if err != nil {
		tb.Fatal(err)
	}
	return f
}

// TestTableRemovedUnderCheckIsNotDamage: Badger removes a table that a
// compaction replaced by truncating its file to nothing and then deleting
// it. A check that lists the table just before and opens it in between
// must not call it damaged (it did, in a 21M-log run, and the merger's
// pass failed on it); a listed table that does not open still is.
func TestTableRemovedUnderCheckIsNotDamage(t *testing.T) {
	dir := t.TempDir()
	s := openTestStore(t, dir)
	rng := rand.New(rand.NewPCG(1, 1))
	for range 20 {
		if _, err := s.Append(context.Background(), makeEntries(rng, 500, t0, time.Hour)); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Close(); err != nil { // flushes the memtable into a table
		t.Fatal(err)
	}
	tables, _ := filepath.Glob(filepath.Join(dir, "*.sst"))
	if len(tables) == 0 {
		t.Fatal("no table after a clean stop")
	}
	for _, tc := range []struct {
		name     string
		listed   bool
		truncate bool // else its last bytes are overwritten
		damaged  bool
	}{
		{"removed by a compaction", false, true, false},
		{"still listed", true, true, true},
		{"off the levels but whole", false, false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), filepath.Base(tables[0]))
			data, err := os.ReadFile(tables[0])
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, data, 0o600); err != nil {
				t.Fatal(err)
			}
			gone := func() bool { return !tc.listed && emptiedFile(path) }
			// Loaded while whole (its index only: an empty range).
			ct := &checkedTable{id: 1, path: path}
			if err := ct.check([]byte{1}, []byte{1}, gone); err != nil {
				t.Fatalf("whole table: %v", err)
			}
			// Then truncated, as Badger does before it deletes it, or
			// damaged where its index is.
			if tc.truncate {
				err = os.Truncate(path, 0)
			} else {
				err = os.WriteFile(path, append(data[:len(data)-64:len(data)-64], make([]byte, 64)...), 0o600)
			}
			if err != nil {
				t.Fatal(err)
			}
			err = ct.check([]byte{0}, nil, gone)
			if tc.damaged != errors.Is(err, ErrDamaged) {
				t.Fatalf("check of a loaded table: %v, want damaged %v", err, tc.damaged)
			}
			// And one not loaded before.
			fresh := &checkedTable{id: 2, path: path}
			err = fresh.check([]byte{0}, nil, gone)
			if tc.damaged != errors.Is(err, ErrDamaged) {
				t.Fatalf("first check of the table: %v, want damaged %v", err, tc.damaged)
			}
			if !tc.damaged && (fresh.err != nil || ct.err != nil || ct.damaged != 0) {
				t.Fatalf("a removed table left damage behind: %v, %v, %d damaged blocks", fresh.err, ct.err, ct.damaged)
			}
		})
	}
}
