package storage

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

type countingObserver struct {
	commits, requests, entries atomic.Int64
}

func (o *countingObserver) ObserveCommit(requests, entries int, _ time.Duration) {
	o.commits.Add(1)
	o.requests.Add(int64(requests))
	o.entries.Add(int64(entries))
}

// TestGroupCommitSharesCommits: appenders that wait together share a
// commit, every one gets its own IDs, and all of them are stored once.
func TestGroupCommitSharesCommits(t *testing.T) {
	s := openTestStore(t, t.TempDir())
	defer s.Close()
	obs := &countingObserver{}
	s.opts.Observer = obs // read by the committer only once appends come
	// The first commit waits until every appender has handed its request
	// over, so the rest must form groups.
	const clients, perClient = 32, 20
	release := make(chan struct{})
	var once sync.Once
	s.hookCommit = func(int) error {
		once.Do(func() { <-release })
		return nil
	}
	ctx := context.Background()
	var wg sync.WaitGroup
	ids := make([][]ID, clients)
	errs := make([]error, clients)
	for c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(c), 1))
			for range perClient {
				e := makeEntries(rng, 1, t0, time.Hour)
				e[0].Message = fmt.Sprintf("client %d", c)
				got, err := s.Append(ctx, e)
				if err != nil {
					errs[c] = err
					return
				}
				if got[0] != e[0].ID {
					errs[c] = fmt.Errorf("Append returned %v but set the entry's ID to %v", got[0], e[0].ID)
					return
				}
				ids[c] = append(ids[c], got...)
			}
		}()
	}
	for len(s.queue) < clients { // every appender admitted, so waiting
		time.Sleep(time.Millisecond)
	}
	close(release)
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	seen := map[ID]string{}
	for c := range clients {
		for _, id := range ids[c] {
			if _, dup := seen[id]; dup {
				t.Fatalf("id %v given twice", id)
			}
			seen[id] = fmt.Sprintf("client %d", c)
		}
	}
	n := 0
	err := s.Scan(ctx, MinID, MaxID, false, func(e *Entry) bool {
		n++
		if want, ok := seen[e.ID]; !ok || want != e.Message {
			t.Fatalf("stored %v %q, want %q", e.ID, e.Message, want)
		}
		return true
	})
	if err != nil || n != clients*perClient {
		t.Fatalf("scan found %d entries (%v), want %d", n, err, clients*perClient)
	}
	if c := obs.commits.Load(); c >= clients*perClient || obs.requests.Load() != clients*perClient {
		t.Fatalf("%d commits for %d requests (observer counted %d): appends did not share commits", c, clients*perClient, obs.requests.Load())
	}
	if s.HighSeq() != uint64(clients*perClient) {
		t.Fatalf("HighSeq = %d", s.HighSeq())
	}
}

// TestGroupCommitFailsWholeGroup: when a group's commit fails, every
// request of the group gets the error and none of its entries is stored;
// the next group is not affected.
func TestGroupCommitFailsWholeGroup(t *testing.T) {
	s := openTestStore(t, t.TempDir())
	defer s.Close()
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(5, 6))
	release := make(chan struct{})
	boom := errors.New("injected commit failure")
	var commits atomic.Int32
	s.hookCommit = func(int) error {
		switch commits.Add(1) {
		case 1:
			<-release
		case 2:
			return boom
		}
		return nil
	}
	first := make(chan error, 1)
	go func() { _, err := s.Append(ctx, makeEntries(rng, 5, t0, time.Hour)); first <- err }()
	for commits.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	const waiting = 10
	errs := make(chan error, waiting)
	for i := range waiting {
		batch := makeEntries(rand.New(rand.NewPCG(uint64(i), 9)), 3, t0, time.Hour)
		go func() { _, err := s.Append(ctx, batch); errs <- err }()
	}
	for len(s.reqs) < waiting {
		time.Sleep(time.Millisecond)
	}
	close(release)
	if err := <-first; err != nil {
		t.Fatal(err)
	}
	for range waiting {
		if err := <-errs; !errors.Is(err, boom) {
			t.Fatalf("a request of the failed group got %v, want the commit's error", err)
		}
	}
	if _, err := s.Append(ctx, makeEntries(rng, 2, t0, time.Hour)); err != nil {
		t.Fatalf("the append after a failed group: %v", err)
	}
	n := 0
	if err := s.Scan(ctx, MinID, MaxID, false, func(*Entry) bool { n++; return true }); err != nil || n != 7 {
		t.Fatalf("stored %d entries (%v), want 7: the failed group's entries must not be stored", n, err)
	}
}

// TestAppendAfterClose: appends racing with Close either succeed or fail
// with ErrClosed, and none hangs.
func TestAppendAfterClose(t *testing.T) {
	s := openTestStore(t, t.TempDir())
	var wg sync.WaitGroup
	for i := range 8 {
		batch := makeEntries(rand.New(rand.NewPCG(uint64(i), 2)), 10, t0, time.Hour)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 50 {
				if _, err := s.Append(context.Background(), batch); err != nil {
					if !errors.Is(err, ErrClosed) && !errors.Is(err, ErrOverloaded) {
						t.Errorf("append: %v", err)
					}
					return
				}
			}
		}()
	}
	time.Sleep(5 * time.Millisecond)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
}

// TestAppendRequestIsAtomic: a request far larger than maxCommitBytes is
// still one commit, so it is stored entirely or not at all; one too large
// for a Badger transaction is stored in parts rather than refused.
func TestAppendRequestIsAtomic(t *testing.T) {
	for _, tc := range []struct {
		name        string
		memtable    int64
		wantCommits func(int) bool
	}{
		{"fits one transaction", 0, func(n int) bool { return n == 1 }},
		{"too big for one transaction", 8 << 20, func(n int) bool { return n > 1 }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			opts := DefaultOptions(t.TempDir())
			opts.SyncWrites = false
			opts.MemTableBytes = tc.memtable
			s, err := Open(opts)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			var commits int
			s.hookCommit = func(int) error { commits++; return nil }
			rng := rand.New(rand.NewPCG(8, 8))
			batch := makeEntries(rng, 20000, t0, 30*time.Hour)
			size := 0
			noise := make([]byte, 150)
			for i := range batch {
				for j := range noise {
					noise[j] = byte(rng.Uint32())
				}
				batch[i].Message += fmt.Sprintf(" %x", noise) // incompressible
				size += batch[i].MemSize()
			}
			if size <= 2*maxCommitBytes {
				t.Fatalf("the request holds %d bytes: too small to test", size)
			}
			ids, err := s.Append(context.Background(), batch)
			if err != nil || len(ids) != len(batch) {
				t.Fatalf("Append = %d ids, %v", len(ids), err)
			}
			n := 0
			if err := s.Scan(context.Background(), MinID, MaxID, false, func(*Entry) bool { n++; return true }); err != nil || n != len(batch) {
				t.Fatalf("stored %d (%v), want %d", n, err, len(batch))
			}
			if !tc.wantCommits(commits) {
				t.Fatalf("%d bytes took %d commits", size, commits)
			}
		})
	}
}

// TestGroupCommitAnswersPerCommit: a group written in several commits
// answers each request with its own commit's outcome. When the second
// commit fails, the first one's request is acknowledged and stored, the
// second's gets the failure, and the third, never written, is told it
// was not stored; a failed fsync after a commit says the request is stored
// but may not survive, and only to the requests of that commit.
func TestGroupCommitAnswersPerCommit(t *testing.T) {
	ioErr := errors.New("input/output error")
	boom := errors.New("injected commit failure")
	for _, tc := range []struct {
		name       string
		syncFails  bool
		wantStored int // requests of the group stored
		wantSecond string
	}{
		{"commit fails", false, 1, "injected commit failure"},
		{"fsync fails after the commit", true, 2, "may not survive a crash"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			opts := DefaultOptions(t.TempDir()) // synced writes
			s, err := Open(opts)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			var syncErr error
			s.vlog.syncFile = func(*os.File) error { return syncErr }
			release := make(chan struct{})
			var commits atomic.Int32
			s.hookCommit = func(int) error {
				switch commits.Add(1) {
				case 1:
					<-release
				case 3:
					if !tc.syncFails {
						return boom
					}
					syncErr = ioErr
				}
				return nil
			}
			ctx := context.Background()
			rng := rand.New(rand.NewPCG(3, 4))
			first := make(chan error, 1)
			go func() { _, err := s.Append(ctx, makeEntries(rng, 1, t0, time.Hour)); first <- err }()
			for commits.Load() == 0 {
				time.Sleep(time.Millisecond)
			}
			// Three requests larger than maxCommitBytes: a commit each.
			const per = 5000
			errs := make([]chan error, 3)
			for i := range errs {
				batch := makeEntries(rand.New(rand.NewPCG(uint64(i), 7)), per, t0, time.Hour)
				noise := make([]byte, 500)
				for j := range batch {
					for k := range noise {
						noise[k] = byte(rng.Uint32())
					}
					batch[j].Message = fmt.Sprintf("request %d %x", i, noise)
				}
				errs[i] = make(chan error, 1)
				go func() { _, err := s.Append(ctx, batch); errs[i] <- err }()
				for len(s.reqs) < i+1 { // in order: the group keeps it
					time.Sleep(time.Millisecond)
				}
			}
			close(release)
			if err := <-first; err != nil {
				t.Fatal(err)
			}
			if err := <-errs[0]; err != nil {
				t.Fatalf("the request of the group's first commit: %v, want it acknowledged", err)
			}
			if err := <-errs[1]; err == nil || !strings.Contains(err.Error(), tc.wantSecond) {
				t.Fatalf("the request of the failed commit: %v, want %q", err, tc.wantSecond)
			}
			err = <-errs[2]
			if err == nil || !strings.Contains(err.Error(), "not stored") || strings.Contains(err.Error(), "may not survive") {
				t.Fatalf("the request never written: %v, want it told it was not stored", err)
			}
			if !errors.Is(err, boom) && !errors.Is(err, ioErr) {
				t.Fatalf("the request never written: %v, want the cause", err)
			}
			if n := storedEntries(t, s); n != 1+tc.wantStored*per {
				t.Fatalf("stored %d entries, want %d", n, 1+tc.wantStored*per)
			}
		})
	}
}
