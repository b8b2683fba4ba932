package storage

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync/atomic"
	"testing"
	"time"
)

// TestAppendWithPuts: the puts of a request are stored in the transaction
// of its last entries, so that they are never seen without them, and
// alone when the request has no entries.
func TestAppendWithPuts(t *testing.T) {
	boom := errors.New("injected commit failure")
	for _, tc := range []struct {
		name      string
		entries   int
		fail      bool
		wantPut   bool
		wantCount int
	}{
		{"with entries", 5, false, true, 5},
		{"alone", 0, false, true, 0},
		{"failed commit stores neither", 5, true, false, 0},
		{"failed commit of puts alone", 0, true, false, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := openTestStore(t, t.TempDir())
			defer s.Close()
			if tc.fail {
				s.hookCommit = func(int) error { return boom }
			}
			b := s.Bucket("offsets")
			rng := rand.New(rand.NewPCG(1, 2))
			puts := []Put{{b, "t/0", []byte("first")}, {b, "t/1", []byte("x")}, {b, "t/0", []byte("last")}}
			_, err := s.AppendWith(context.Background(), makeEntries(rng, tc.entries, t0, time.Hour), puts)
			if tc.fail != (err != nil) {
				t.Fatalf("AppendWith: %v", err)
			}
			got, err := b.Get("t/0")
			switch {
			case tc.wantPut && (err != nil || string(got) != "last"):
				t.Fatalf("t/0 = %q, %v; want the request's last put", got, err)
			case !tc.wantPut && !errors.Is(err, ErrNotFound):
				t.Fatalf("t/0 = %q, %v; want nothing stored", got, err)
			}
			if n := storedEntries(t, s); n != tc.wantCount {
				t.Fatalf("stored %d entries, want %d", n, tc.wantCount)
			}
		})
	}
}

// TestAppendWithPutsTooLarge: a request with puts too large for one
// transaction is refused with ErrTooLarge and nothing of it is stored,
// neither entries nor puts, while the requests of its group are stored;
// the same entries without puts are stored in parts.
func TestAppendWithPutsTooLarge(t *testing.T) {
	opts := DefaultOptions(t.TempDir())
	opts.SyncWrites = false
	opts.MemTableBytes = 8 << 20
	s, err := Open(opts)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	release := make(chan struct{})
	var commits atomic.Int32
	s.hookCommit = func(int) error {
		if commits.Add(1) == 1 {
			<-release
		}
		return nil
	}
	rng := rand.New(rand.NewPCG(8, 8))
	big := makeEntries(rng, 20000, t0, 30*time.Hour)
	noise := make([]byte, 150)
	for i := range big {
		for j := range noise {
			noise[j] = byte(rng.Uint32())
		}
		big[i].Message += fmt.Sprintf(" %x", noise)
	}
	ctx := context.Background()
	b := s.Bucket("offsets")
	first := make(chan error, 1)
	go func() { _, err := s.Append(ctx, makeEntries(rng, 1, t0, time.Hour)); first <- err }()
	for commits.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	bigErr, smallErr := make(chan error, 1), make(chan error, 1)
	go func() { _, err := s.AppendWith(ctx, big, []Put{{b, "p", []byte("1")}}); bigErr <- err }()
	for len(s.reqs) < 1 {
		time.Sleep(time.Millisecond)
	}
	small := makeEntries(rng, 3, t0, time.Hour)
	go func() { _, err := s.AppendWith(ctx, small, []Put{{b, "q", []byte("2")}}); smallErr <- err }()
	for len(s.reqs) < 2 {
		time.Sleep(time.Millisecond)
	}
	close(release)
	if err := <-first; err != nil {
		t.Fatal(err)
	}
	if err := <-bigErr; !errors.Is(err, ErrTooLarge) {
		t.Fatalf("AppendWith of a request too large for a transaction: %v, want ErrTooLarge", err)
	}
	if err := <-smallErr; err != nil {
		t.Fatalf("the request grouped with the refused one: %v", err)
	}
	if _, err := b.Get("p"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("the refused request's put: %v, want it not stored", err)
	}
	if v, err := b.Get("q"); err != nil || string(v) != "2" {
		t.Fatalf("the stored request's put: %q, %v", v, err)
	}
	if n := storedEntries(t, s); n != 4 {
		t.Fatalf("stored %d entries, want the 4 of the other requests", n)
	}
	// Without puts the same request is stored, in parts.
	before := commits.Load()
	if _, err := s.Append(ctx, big); err != nil {
		t.Fatal(err)
	}
	if n := storedEntries(t, s); n != 4+len(big) || commits.Load()-before < 3 {
		t.Fatalf("stored %d entries in %d commits, want %d in parts", n, commits.Load()-before, 4+len(big))
	}
}

func storedEntries(t *testing.T, s *Store) int {
	t.Helper()
	n := 0
	if err := s.Scan(context.Background(), MinID, MaxID, false, func(*Entry) bool { n++; return true }); err != nil {
		t.Fatal(err)
	}
	return n
}
