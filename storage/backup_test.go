package storage

import (
	"bytes"
	"context"
	"io"
	"math/rand/v2"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestIncrementalBackupUnderLoad: a full backup taken while appends go on,
// then an incremental one from the version the full one announced, restore
// every entry acknowledged before the incremental began.
func TestIncrementalBackupUnderLoad(t *testing.T) {
	s := openTestStore(t, t.TempDir())
	ctx := context.Background()
	var stop atomic.Bool
	var wg sync.WaitGroup
	var mu sync.Mutex
	var acked int
	for c := 0; c < 2; c++ {
		wg.Add(1)
		go func(c int) {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(c), 1))
			for !stop.Load() {
				batch := makeEntries(rng, 100, t0, time.Hour)
				if _, err := s.Append(ctx, batch); err != nil {
					t.Error(err)
					return
				}
				// A checkpoint write races with appends, as the indexer's does.
				_ = s.SetCheckpoint("x", uint64(rng.IntN(100)))
				mu.Lock()
				acked += len(batch)
				mu.Unlock()
			}
		}(c)
	}
	time.Sleep(100 * time.Millisecond)
	var full, incr bytes.Buffer
	announced, err := s.Backup(ctx, &full, 0)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond)
	stop.Store(true)
	wg.Wait()
	next, err := s.Backup(ctx, &incr, announced)
	if err != nil {
		t.Fatal(err)
	}
	// Nothing changed since: an empty backup whose version keeps the
	// chain where it was, rather than 0 (which would make the next
	// "incremental" backup a full one).
	var empty bytes.Buffer
	if again, err := s.Backup(ctx, &empty, next); err != nil || again != next {
		t.Fatalf("backup with nothing new since %d: next version %d, %v; want %d", next, again, err, next)
	}
	want := s.HighSeq()
	s.Close()
	dir := filepath.Join(t.TempDir(), "r")
	if _, err := Restore(dir, io.MultiReader(&full, &incr)); err != nil {
		t.Fatal(err)
	}
	r := openTestStore(t, dir)
	defer r.Close()
	n := 0
	_ = r.Scan(ctx, MinID, MaxID, false, func(*Entry) bool { n++; return true })
	if uint64(n) != want || n != acked {
		t.Fatalf("restored %d entries, want %d (acked %d)", n, want, acked)
	}
}
