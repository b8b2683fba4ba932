package storage

import (
	"encoding/binary"
	"math"
	"reflect"
	"slices"
	"testing"
)

// idsFrom reads IDs from b, 16 bytes each (the form of ID.Bytes).
func idsFrom(b []byte) []ID {
	var ids []ID
	for ; len(b) >= 16; b = b[16:] {
		ids = append(ids, IDFromBytes(b))
	}
	return ids
}

// inRange returns the IDs of ids in [lo, hi), in order.
func inRange(ids []ID, lo, hi ID) []ID {
	var out []ID
	for _, id := range ids {
		if id.Compare(lo) >= 0 && id.Compare(hi) < 0 {
			out = append(out, id)
		}
	}
	return out
}

// FuzzDecodePostings decodes b as a posting list value, which may be
// anything (a corrupt value must give an error, never a panic, and never
// IDs outside the range asked for), and encodes the IDs read from b as a
// posting list, which must decode to exactly those in the range, sorted.
func FuzzDecodePostings(f *testing.F) {
	ids := []ID{{Nanos: 1764151200123456789, Seq: 12}, {Nanos: 1764151200123456789, Seq: 10}, {Nanos: 1764151201000000000, Seq: 11}}
	var raw []byte
	for _, id := range ids {
		b := id.Bytes()
		raw = append(raw, b[:]...)
	}
	f.Add(encodePostings(slices.Clone(ids), 10), uint64(10), int64(0), uint64(0), int64(math.MaxInt64), uint64(math.MaxUint64))
	f.Add(encodePostingsOffsetForm(ids, 10), uint64(10), int64(0), uint64(0), int64(math.MaxInt64), uint64(math.MaxUint64))
	f.Add(raw, uint64(10), int64(1764151200123456789), uint64(11), int64(1764151201000000000), uint64(11))
	f.Add([]byte{}, uint64(0), int64(0), uint64(0), int64(0), uint64(0))
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01, 0, 0}, uint64(1), int64(0), uint64(0), int64(math.MaxInt64), uint64(0))
	f.Add([]byte{3, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01, 0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f, 1, 1}, uint64(math.MaxUint64), int64(math.MinInt64), uint64(0), int64(math.MaxInt64), uint64(math.MaxUint64))
	f.Fuzz(func(t *testing.T, b []byte, firstSeq uint64, loN int64, loS uint64, hiN int64, hiS uint64) {
		lo, hi := ID{Nanos: loN, Seq: loS}, ID{Nanos: hiN, Seq: hiS}
		sentinel := ID{Nanos: 42, Seq: 42}

		// b as a stored value.
		got, err := decodePostings([]ID{sentinel}, b, firstSeq, lo, hi)
		if len(got) == 0 || got[0] != sentinel {
			t.Fatalf("decodePostings lost what dst held: %v", got)
		}
		for _, id := range got[1:] {
			if id.Compare(lo) < 0 || id.Compare(hi) >= 0 {
				t.Fatalf("decodePostings(%x, %d, %v, %v) = %v (err %v): %v is out of range", b, firstSeq, lo, hi, got[1:], err, id)
			}
		}
		if h, _, herr := postingHeader(b); herr == nil && err == nil && h.count >= 0 && len(got)-1 > h.count {
			t.Fatalf("decodePostings(%x) = %d IDs, but the header counts %d", b, len(got)-1, h.count)
		}

		// b as the IDs of one commit.
		ids := idsFrom(b)
		if len(ids) == 0 {
			return
		}
		want := slices.SortedFunc(slices.Values(ids), ID.Compare)
		v := encodePostings(slices.Clone(ids), firstSeq)
		all := ID{Nanos: math.MinInt64}
		for _, r := range [][2]ID{{all, MaxID}, {lo, hi}} {
			got, err := decodePostings([]ID{sentinel}, v, firstSeq, r[0], r[1])
			if err != nil {
				t.Fatalf("decode the encoding of %v: %v", ids, err)
			}
			if w := append([]ID{sentinel}, inRange(want, r[0], r[1])...); !reflect.DeepEqual(got, w) {
				t.Fatalf("encodePostings(%v, %d) decodes in [%v, %v) to %v, want %v", ids, firstSeq, r[0], r[1], got[1:], w[1:])
			}
		}
	})
}

// encodePostingsOffsetForm writes a list in the form written before the
// delta-sequence form: no leading zero byte, each sequence an offset from
// the commit's first one. Stores keep lists of that form and must read them.
func encodePostingsOffsetForm(ids []ID, firstSeq uint64) []byte {
	ids = slices.SortedFunc(slices.Values(ids), ID.Compare)
	minN, maxN := ids[0].Nanos, ids[len(ids)-1].Nanos
	b := binary.AppendUvarint(nil, uint64(len(ids)))
	b = binary.AppendUvarint(b, uint64(minN))
	b = binary.AppendUvarint(b, uint64(maxN-minN))
	prev := minN
	for _, id := range ids {
		b = binary.AppendUvarint(b, uint64(id.Nanos-prev))
		b = binary.AppendUvarint(b, id.Seq-firstSeq)
		prev = id.Nanos
	}
	return b
}

// TestPostingForms decodes lists of both forms, through decodePostings and
// through PostingList.AppendIDs, in and out of a range.
func TestPostingForms(t *testing.T) {
	const first = 1000
	ids := []ID{
		{Nanos: 1764151200000000000, Seq: first + 300}, // out of sequence order: a negative delta
		{Nanos: 1764151200000000000, Seq: first + 2},
		{Nanos: 1764151201000000000, Seq: first},
		{Nanos: 1764151299000000000, Seq: first + 301},
	}
	sorted := slices.SortedFunc(slices.Values(ids), ID.Compare)
	lo, hi := ID{Nanos: 1764151200000000000, Seq: first + 3}, ID{Nanos: 1764151299000000000}
	for _, tc := range []struct {
		name     string
		v        []byte
		deltaSeq bool
	}{
		{"delta-sequence form", encodePostings(slices.Clone(ids), first), true},
		{"offset form", encodePostingsOffsetForm(ids, first), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h, rest, err := postingHeader(tc.v)
			if err != nil {
				t.Fatal(err)
			}
			if h.deltaSeq != tc.deltaSeq || h.count != len(ids) || h.minN != sorted[0].Nanos || h.maxN != sorted[len(sorted)-1].Nanos {
				t.Fatalf("header %+v", h)
			}
			for _, r := range [][2]ID{{MinID, MaxID}, {lo, hi}} {
				want := inRange(sorted, r[0], r[1])
				got, err := decodePostings(nil, tc.v, first, r[0], r[1])
				if err != nil || !reflect.DeepEqual(got, want) {
					t.Fatalf("decodePostings in [%v, %v) = %v (err %v), want %v", r[0], r[1], got, err, want)
				}
				l := PostingList{Count: h.count, MinNanos: h.minN, MaxNanos: h.maxN, FirstSeq: first, head: h, body: rest}
				got, err = l.AppendIDs(nil, r[0], r[1])
				if err != nil || !reflect.DeepEqual(got, want) {
					t.Fatalf("AppendIDs in [%v, %v) = %v (err %v), want %v", r[0], r[1], got, err, want)
				}
			}
		})
	}
}
