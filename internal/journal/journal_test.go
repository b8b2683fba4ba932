package journal

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/logengine/logengine/internal/handoff"
	"github.com/logengine/logengine/storage"
)

func leaks(t *testing.T) {
	t.Helper()
	opts := []goleak.Option{
		goleak.IgnoreCurrent(),
		// Bleve's analysis queue is process-wide and outlives every index
		// (the end-to-end test opens one).
		goleak.IgnoreAnyFunction("github.com/blevesearch/bleve_index_api.AnalysisWorker"),
	}
	t.Cleanup(func() { goleak.VerifyNone(t, opts...) })
}

func openStore(t testing.TB, dir string) *storage.Store {
	t.Helper()
	opts := storage.DefaultOptions(filepath.Join(dir, "db"))
	opts.SyncWrites = false
	opts.BlockCacheBytes = 8 << 20
	opts.MemTableBytes = 16 << 20
	s, err := storage.Open(opts)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func newStore(t testing.TB) *storage.Store {
	t.Helper()
	s := openStore(t, t.TempDir())
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Error(err)
		}
	})
	return s
}

// commit appends one commit of n entries and returns them.
func commit(t testing.TB, s *storage.Store, n int) []storage.Entry {
	t.Helper()
	entries := make([]storage.Entry, n)
	now := time.Now()
	for i := range entries {
		entries[i] = storage.Entry{Time: now.Add(time.Duration(i)), Level: storage.LevelInfo, Source: "app", Message: fmt.Sprintf("entry %d", i)}
	}
	if _, err := s.Append(context.Background(), entries); err != nil {
		t.Fatal(err)
	}
	return entries
}

func TestBackoff(t *testing.T) {
	tests := []struct {
		prev, want time.Duration
	}{
		{0, MinRetry},
		{MinRetry, 2 * MinRetry},
		{time.Second, 2 * time.Second},
		{20 * time.Second, MaxRetry},
		{MaxRetry, MaxRetry},
	}
	for _, tc := range tests {
		if got := Backoff(tc.prev); got != tc.want {
			t.Errorf("Backoff(%v) = %v, want %v", tc.prev, got, tc.want)
		}
	}
}

func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestLoop(t *testing.T) {
	fatal := errors.New("fatal")
	flaky := errors.New("flaky")
	tests := []struct {
		name string
		// results are what the steps return, one per call; after them a
		// step consumes nothing.
		results   []error
		wantErr   error
		wantCalls int
	}{
		{"a failed step is retried", []error{flaky, flaky, nil}, nil, 3},
		{"a fatal error ends it", []error{flaky, fatal, nil}, fatal, 2},
		{"a closed store ends it", []error{fmt.Errorf("read: %w", storage.ErrClosed)}, storage.ErrClosed, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			leaks(t)
			s := newStore(t)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			var calls atomic.Int32
			loop := Loop{Store: s, Name: "test", Fatal: func(err error) bool { return errors.Is(err, fatal) }}
			done := make(chan error, 1)
			go func() {
				done <- loop.Run(ctx, func(context.Context) (int, error) {
					n := int(calls.Add(1))
					if n > len(tc.results) {
						return 0, nil
					}
					return 1, tc.results[n-1]
				}, nil)
			}()
			if tc.wantErr == nil {
				waitFor(t, "the steps", func() bool { return int(calls.Load()) > len(tc.results) })
				cancel()
			}
			err := <-done
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("Run = %v, want %v", err, tc.wantErr)
			}
			if tc.wantErr != nil && int(calls.Load()) != tc.wantCalls {
				t.Errorf("%d steps, want %d", calls.Load(), tc.wantCalls)
			}
		})
	}
}

// TestLoopWaitsForCommits checks that a loop that caught up steps again
// after a commit, and only then.
func TestLoopWaitsForCommits(t *testing.T) {
	leaks(t)
	s := newStore(t)
	ctx, cancel := context.WithCancel(context.Background())
	var seen atomic.Uint64
	var idle atomic.Int32
	done := make(chan error, 1)
	go func() {
		done <- Loop{Store: s}.Run(ctx, func(ctx context.Context) (int, error) {
			ids, err := s.ReadJournal(ctx, seen.Load(), 100)
			if err != nil || len(ids) == 0 {
				idle.Add(1)
				return 0, err
			}
			seen.Store(ids[len(ids)-1].Seq)
			return len(ids), nil
		}, nil)
	}()
	waitFor(t, "the first idle step", func() bool { return idle.Load() == 1 })
	time.Sleep(20 * time.Millisecond)
	if n := idle.Load(); n != 1 {
		t.Errorf("%d idle steps without a commit, want 1", n)
	}
	commit(t, s, 3)
	waitFor(t, "the commit to be consumed", func() bool { return seen.Load() == 3 && idle.Load() == 2 })
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run = %v, want nil when ctx ends", err)
	}
}

func TestFetch(t *testing.T) {
	s := newStore(t)
	entries := commit(t, s, 6)
	ids := make([]storage.ID, len(entries))
	for i, e := range entries {
		ids[i] = e.ID
	}
	// An entry the journal lists that is gone from storage (as after
	// retention) and was not handed over: nothing is read for it.
	ids = append(ids, storage.ID{Nanos: entries[5].ID.Nanos + 1, Seq: 7})
	tests := []struct {
		name     string
		handed   []int // indexes of entries handed over
		wantHeld []int
		wantRead []int
	}{
		{"nothing handed over", nil, nil, []int{0, 1, 2, 3, 4, 5}},
		{"all handed over", []int{0, 1, 2, 3, 4, 5}, []int{0, 1, 2, 3, 4, 5}, nil},
		{"some handed over", []int{4, 1}, []int{1, 4}, []int{0, 2, 3, 5}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var ring handoff.Ring[int]
			var handed []storage.Entry
			for _, i := range tc.handed {
				handed = append(handed, entries[i])
			}
			ring.Put(handed, func(e *storage.Entry) (int, int) { return int(e.ID.Seq) - 1, 8 })
			f := NewFetcher(s, &ring)
			var held, read []int
			err := f.Fetch(context.Background(), slices.Clone(ids), func(i int) { held = append(held, i) }, func(e *storage.Entry) bool {
				read = append(read, int(e.ID.Seq)-1)
				return true
			})
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(held, tc.wantHeld) || !slices.Equal(read, tc.wantRead) {
				t.Errorf("held %v, read %v; want %v, %v", held, read, tc.wantHeld, tc.wantRead)
			}
			if ring.Held() != 0 {
				t.Errorf("the ring still holds %d values", ring.Held())
			}
		})
	}
}
