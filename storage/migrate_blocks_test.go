package storage

import (
	"context"
	"errors"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/dgraph-io/badger/v4"
)

// unblock turns the store's blocks back into the layout before blocks, one
// key per entry, as a store written by an older build has them.
func unblock(t *testing.T, s *Store) {
	t.Helper()
	days, err := s.Days(0, MaxID.Nanos)
	if err != nil {
		t.Fatal(err)
	}
	for _, day := range days {
		err := s.db.Update(func(txn *badger.Txn) error {
			refs, err := dayHeaders(context.Background(), txn, day, MinID, MaxID, true)
			if err != nil {
				return err
			}
			for i := range refs {
				entries, err := readBlock(txn, &refs[i])
				if err != nil {
					return err
				}
				for j := range entries {
					if err := txn.Set(entryKey(entries[j].ID), AppendEncoded(nil, &entries[j])); err != nil {
						return err
					}
				}
				if err := txn.Delete(blockHeaderKey(day, refs[i].last)); err != nil {
					return err
				}
				if err := txn.Delete(blockBodyKey(day, refs[i].last)); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
}

func TestMigrateToBlocks(t *testing.T) {
	dir := t.TempDir()
	s := openTestStore(t, dir)
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(3, 4))
	var want []Entry
	for i := 0; i < 8; i++ {
		n := 500
		if i == 2 {
			n = 2*maxBlockEntries + 100
		}
		batch := makeEntries(rng, n, t0.Add(time.Duration(i%3)*24*time.Hour), 30*time.Hour)
		if _, err := s.Append(ctx, batch); err != nil {
			t.Fatal(err)
		}
		want = append(want, batch...)
	}
	slices.SortFunc(want, func(a, b Entry) int { return a.ID.Compare(b.ID) })
	unblock(t, s)
	var n int
	if err := s.Scan(ctx, MinID, MaxID, false, func(*Entry) bool { n++; return true }); err != nil || n != 0 {
		t.Fatalf("before the migration a scan saw %d entries (%v), want none: the test did not make old keys", n, err)
	}

	// Interrupted after two blocks, then resumed after a reopen: nothing
	// lost, nothing twice.
	cctx, cancel := context.WithCancel(ctx)
	runs := 0
	s.hookMigratedRun = func() {
		if runs++; runs == 2 {
			cancel()
		}
	}
	moved, err := s.MigrateToBlocks(cctx, nil)
	if !errors.Is(err, context.Canceled) || moved == 0 || moved >= len(want) {
		t.Fatalf("interrupted migration moved %d of %d (%v), want some and context.Canceled", moved, len(want), err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openTestStore(t, dir)
	defer s.Close()
	rest, err := s.MigrateToBlocks(ctx, nil)
	if err != nil || moved+rest != len(want) {
		t.Fatalf("resumed migration moved %d (%v), want %d", rest, err, len(want)-moved)
	}
	if again, err := s.MigrateToBlocks(ctx, nil); err != nil || again != 0 {
		t.Fatalf("a third run moved %d (%v), want 0", again, err)
	}
	checkScan(t, s, want, MinID, MaxID)
	for _, i := range []int{0, len(want) / 3, len(want) - 1} {
		e, err := s.Get(want[i].ID)
		if err != nil {
			t.Fatal(err)
		}
		equalEntries(t, "Get", []Entry{e}, want[i:i+1])
	}

	// Appends after the migration land beside the migrated blocks.
	more := makeEntries(rng, 300, t0, 48*time.Hour)
	if _, err := s.Append(ctx, more); err != nil {
		t.Fatal(err)
	}
	want = append(want, more...)
	slices.SortFunc(want, func(a, b Entry) int { return a.ID.Compare(b.ID) })
	checkScan(t, s, want, MinID, MaxID)
}
