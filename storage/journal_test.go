package storage

import (
	"context"
	"encoding/binary"
	"math"
	"reflect"
	"testing"
	"time"
)

// FuzzDecodeJournal decodes b as a journal record, which may be anything
// (a corrupt record must give an error, never a panic, and only
// sequences after the one asked for, one per entry), and encodes the times
// read from b as a record, which must decode to exactly those entries and
// sequences.
func FuzzDecodeJournal(f *testing.F) {
	var raw []byte
	for _, n := range []int64{1764151200123456789, 1764151100000000000, 0, math.MaxInt64, math.MinInt64} {
		raw = binary.BigEndian.AppendUint64(raw, uint64(n))
	}
	f.Add(encodeJournal(100, []ID{{Nanos: 1764151200123456789}, {Nanos: 1764151100000000000}}), uint64(100), uint64(99))
	f.Add(raw, uint64(1), uint64(3))
	f.Add([]byte{}, uint64(0), uint64(0))
	f.Add([]byte{1, 0xff, 0xff, 0xff, 0xff, 0x0f, 2, 2}, uint64(0), uint64(0))
	f.Add([]byte{0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01, 3, 1, 1, 1}, uint64(math.MaxUint64), uint64(1))
	f.Fuzz(func(t *testing.T, b []byte, first, after uint64) {
		sentinel := ID{Nanos: 42, Seq: 42}

		// b as a stored record.
		got, err := decodeJournal(b, after, []ID{sentinel})
		if len(got) == 0 || got[0] != sentinel {
			t.Fatalf("decodeJournal lost what dst held: %v", got)
		}
		if len(got)-1 > len(b) {
			t.Fatalf("decodeJournal(%x) = %d IDs from %d bytes", b, len(got)-1, len(b))
		}
		for i, id := range got[1:] {
			if id.Seq <= after {
				t.Fatalf("decodeJournal(%x, %d) = %v (err %v): sequence %d is not after %d", b, after, got[1:], err, id.Seq, after)
			}
			if i > 0 && got[i].Seq != math.MaxUint64 && id.Seq != got[i].Seq+1 {
				t.Fatalf("decodeJournal(%x, %d) = %v (err %v): sequences are not consecutive", b, after, got[1:], err)
			}
		}

		// b as the times of one commit's entries.
		var ids, want []ID
		for r := b; len(r) >= 8; r = r[8:] {
			n := int64(binary.BigEndian.Uint64(r))
			seq := first + uint64(len(ids))
			ids = append(ids, ID{Nanos: n, Seq: 7}) // the encoder ignores Seq
			if seq > after {
				want = append(want, ID{Nanos: n, Seq: seq})
			}
		}
		v := encodeJournal(first, ids)
		got, err = decodeJournal(v, after, []ID{sentinel})
		if err != nil {
			t.Fatalf("decode the encoding of %d, %v: %v", first, ids, err)
		}
		if !reflect.DeepEqual(got, append([]ID{sentinel}, want...)) {
			t.Fatalf("encodeJournal(%d, %v) decodes after %d to %v, want %v", first, ids, after, got[1:], want)
		}
	})
}

// TestTrimJournal trims a journal of more records than one write batch
// deletes, up to points inside and between commits, and checks what is
// left and where JournalStart says it starts.
func TestTrimJournal(t *testing.T) {
	ctx := context.Background()
	s := openTestStore(t, t.TempDir())
	defer s.Close()
	if start, err := s.JournalStart(ctx); err != nil || start != 1 {
		t.Fatalf("JournalStart of an empty journal = %d, %v; want 1", start, err)
	}
	// Commits of 1 entry, then one of 3: records end at 1, 2, ...,
	// trimChunk+10, then trimChunk+13.
	singles := trimChunk + 10
	for i := range singles {
		e := Entry{Time: time.Unix(1764151200, int64(i)), Level: LevelInfo, Source: "app", Message: "m"}
		if _, err := s.Append(ctx, []Entry{e}); err != nil {
			t.Fatal(err)
		}
	}
	three := make([]Entry, 3)
	for i := range three {
		three[i] = Entry{Time: time.Unix(1764151300, int64(i)), Level: LevelInfo, Source: "app", Message: "m"}
	}
	if _, err := s.Append(ctx, three); err != nil {
		t.Fatal(err)
	}
	high := uint64(singles + 3)
	tests := []struct {
		upTo        uint64
		wantRecords int
		wantStart   uint64
	}{
		{0, 0, 1},
		{5, 5, 6},
		{5, 0, 6},
		{uint64(singles), singles - 5, uint64(singles) + 1},
		// Inside the last commit: its record stays whole.
		{high - 1, 0, uint64(singles) + 1},
		{high, 1, high + 1},
	}
	for _, tc := range tests {
		n, err := s.TrimJournal(ctx, tc.upTo)
		if err != nil || n != tc.wantRecords {
			t.Fatalf("TrimJournal(%d) = %d, %v; want %d records", tc.upTo, n, err, tc.wantRecords)
		}
		start, err := s.JournalStart(ctx)
		if err != nil || start != tc.wantStart {
			t.Fatalf("after TrimJournal(%d): JournalStart = %d, %v; want %d", tc.upTo, start, err, tc.wantStart)
		}
		ids, err := s.ReadJournal(ctx, 0, math.MaxInt)
		if err != nil {
			t.Fatal(err)
		}
		if want := int(high - tc.wantStart + 1); len(ids) != want || (want > 0 && ids[0].Seq != tc.wantStart) {
			t.Fatalf("after TrimJournal(%d) the journal lists %d entries from %v; want %d from %d", tc.upTo, len(ids), ids[:min(len(ids), 1)], want, tc.wantStart)
		}
	}
}
