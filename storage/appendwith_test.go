package storage

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
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

// TestAppendWithPutsSplit: a request too large for one transaction is
// stored in parts, its puts with the last part: a failure of that part
// leaves the puts unwritten.
func TestAppendWithPutsSplit(t *testing.T) {
	run := func(failAt int) (commits int, put bool, err error) {
		opts := DefaultOptions(t.TempDir())
		opts.SyncWrites = false
		opts.MemTableBytes = 8 << 20
		s, err := Open(opts)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		s.hookCommit = func(int) error {
			commits++
			if commits == failAt {
				return errors.New("injected failure of the last part")
			}
			return nil
		}
		rng := rand.New(rand.NewPCG(8, 8))
		batch := makeEntries(rng, 20000, t0, 30*time.Hour)
		noise := make([]byte, 150)
		for i := range batch {
			for j := range noise {
				noise[j] = byte(rng.Uint32())
			}
			batch[i].Message += fmt.Sprintf(" %x", noise)
		}
		b := s.Bucket("offsets")
		_, err = s.AppendWith(context.Background(), batch, []Put{{b, "p", []byte("1")}})
		_, gerr := b.Get("p")
		return commits, gerr == nil, err
	}
	commits, put, err := run(0)
	if err != nil || !put || commits < 3 {
		t.Fatalf("split request: %d commits, put stored %v, %v", commits, put, err)
	}
	if _, put, err := run(commits); err == nil || put {
		t.Fatalf("the last part failed: put stored %v, err %v; want no put and an error", put, err)
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
