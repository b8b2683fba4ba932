package journal

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/logengine/logengine/storage"
)

// listed returns the sequences the journal lists.
func listed(t testing.TB, s *storage.Store) []uint64 {
	t.Helper()
	ids, err := s.ReadJournal(context.Background(), 0, 1<<30)
	if err != nil {
		t.Fatal(err)
	}
	seqs := make([]uint64, len(ids))
	for i, id := range ids {
		seqs[i] = id.Seq
	}
	return seqs
}

func seqRange(from, to uint64) []uint64 {
	var out []uint64
	for s := from; s <= to; s++ {
		out = append(out, s)
	}
	return out
}

// fixed is a consumer whose checkpoint a test sets.
type fixed struct {
	seq uint64
	err error
}

func (f *fixed) Checkpoint() (uint64, error) { return f.seq, f.err }

func TestTrim(t *testing.T) {
	// Commits of 3, 2, 5, 1 and 4 entries: records end at sequences 3, 5,
	// 10, 11 and 15.
	sizes := []int{3, 2, 5, 1, 4}
	boom := errors.New("boom")
	tests := []struct {
		name        string
		consumers   []Checkpointer
		wantRecords int    // deleted
		wantStart   uint64 // first sequence still listed
		wantErr     error
	}{
		{"no consumers", nil, 0, 1, nil},
		{"nothing consumed", []Checkpointer{&fixed{seq: 0}, &fixed{seq: 15}}, 0, 1, nil},
		{"up to a commit", []Checkpointer{&fixed{seq: 10}, &fixed{seq: 12}}, 3, 11, nil},
		// The record of 6..10 lists 8, which the slowest still needs.
		{"inside a commit keeps it whole", []Checkpointer{&fixed{seq: 15}, &fixed{seq: 7}}, 2, 6, nil},
		{"the slowest holds it back", []Checkpointer{&fixed{seq: 15}, &fixed{seq: 15}, &fixed{seq: 4}}, 1, 4, nil},
		{"everything consumed", []Checkpointer{&fixed{seq: 15}, &fixed{seq: 15}}, 5, 16, nil},
		{"a checkpoint that cannot be read", []Checkpointer{&fixed{seq: 15}, &fixed{err: boom}}, 0, 1, boom},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := newStore(t)
			for _, n := range sizes {
				commit(t, s, n)
			}
			tr := NewTrimmer(s, tc.consumers, TrimmerOptions{})
			if got := tr.Entries(); got != 15 {
				t.Errorf("Entries before a trim = %d, want 15", got)
			}
			n, err := tr.Trim(context.Background())
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("Trim: err = %v, want %v", err, tc.wantErr)
			}
			if n != tc.wantRecords {
				t.Errorf("Trim deleted %d records, want %d", n, tc.wantRecords)
			}
			if got, want := listed(t, s), seqRange(tc.wantStart, 15); !slices.Equal(got, want) {
				t.Errorf("journal lists %v, want %v", got, want)
			}
			if tc.wantErr != nil {
				return
			}
			if got, want := tr.Entries(), 16-tc.wantStart; got != want {
				t.Errorf("Entries = %d, want %d", got, want)
			}
			// New commits are listed after what is left, and counted.
			commit(t, s, 2)
			if got, want := listed(t, s), seqRange(tc.wantStart, 17); !slices.Equal(got, want) {
				t.Errorf("after a commit the journal lists %v, want %v", got, want)
			}
			if got, want := tr.Entries(), 18-tc.wantStart; got != want {
				t.Errorf("Entries after a commit = %d, want %d", got, want)
			}
		})
	}
}

func TestTrimmerRun(t *testing.T) {
	leaks(t)
	s := newStore(t)
	for range 4 {
		commit(t, s, 5)
	}
	cp := &fixed{seq: 10}
	tr := NewTrimmer(s, []Checkpointer{cp}, TrimmerOptions{Interval: 10 * time.Millisecond})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- tr.Run(ctx) }()
	waitFor(t, "the first trim", func() bool { return tr.Entries() == 10 })
	if got := listed(t, s); !slices.Equal(got, seqRange(11, 20)) {
		t.Errorf("journal lists %v after the first trim, want 11..20", got)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run = %v, want nil when ctx ends", err)
	}
}
