package search

import (
	"errors"
	"testing"

	"github.com/logengine/logengine/storage"
)

var cursorSorts = []Sort{SortTimeDesc, SortTimeAsc, SortSeverityDesc, SortSeverityAsc}

// FuzzDecodeCursor checks the cursor codec from both ends. Any string,
// with any sort, either decodes or is refused with an InputError; what
// decodes belongs to that sort and to no other, and encodes to the
// canonical form of the same cursor. Every cursor a page can end with
// (a known sort, any level and id) decodes to itself.
func FuzzDecodeCursor(f *testing.F) {
	for _, c := range []cursor{
		{},
		{sort: SortTimeAsc, level: storage.LevelInfo, id: storage.ID{Nanos: 1764151200123456789, Seq: 7}},
		{sort: SortSeverityDesc, level: storage.LevelFatal, id: storage.MaxID},
		{sort: SortSeverityAsc, level: 255, id: storage.ID{Nanos: -1, Seq: 1}},
	} {
		f.Add(c.encode(), int(c.sort), byte(c.sort), byte(c.level), c.id.Nanos, c.id.Seq)
	}
	f.Add("", 0, byte(0), byte(0), int64(0), uint64(0))
	f.Add("AQ", 1, byte(1), byte(2), int64(3), uint64(4))
	f.Add("AQAC____________________\n_w", 2, byte(2), byte(3), int64(1), uint64(1))
	f.Add("AQAC______________________8", -1, byte(9), byte(0), int64(0), uint64(0))
	f.Add("AQAC//////////////////////w", 256, byte(0), byte(0), int64(0), uint64(0))
	f.Fuzz(func(t *testing.T, s string, sort int, sortIdx, level byte, nanos int64, seq uint64) {
		// From the encoder: a cursor of a known sort round-trips exactly.
		want := cursor{sort: cursorSorts[int(sortIdx)%len(cursorSorts)], level: storage.Level(level), id: storage.ID{Nanos: nanos, Seq: seq}}
		enc := want.encode()
		got, err := decodeCursor(enc, want.sort)
		if err != nil || got != want {
			t.Fatalf("decodeCursor(%q, %v) = %+v, %v; want %+v (its encoding)", enc, want.sort, got, err, want)
		}
		// From the decoder: any string, any sort, including unknown ones.
		for _, so := range append([]Sort{Sort(sort)}, cursorSorts...) {
			c, err := decodeCursor(s, so)
			if err != nil {
				var ie *InputError
				if !errors.As(err, &ie) {
					t.Fatalf("decodeCursor(%q, %d): error %T %v, want an *InputError", s, so, err, err)
				}
				continue
			}
			if c.sort != so {
				t.Fatalf("decodeCursor(%q, %d) = cursor of sort %d", s, so, c.sort)
			}
			canon := c.encode()
			again, err := decodeCursor(canon, so)
			if err != nil || again != c {
				t.Fatalf("decodeCursor(%q, %d) = %+v, whose encoding %q decodes to %+v, %v", s, so, c, canon, again, err)
			}
			if again.encode() != canon {
				t.Fatalf("cursor %+v encodes to %q, then to %q", c, canon, again.encode())
			}
			for _, other := range cursorSorts {
				if other != so {
					if _, err := decodeCursor(s, other); err == nil {
						t.Fatalf("cursor %q of sort %d also decodes for sort %d", s, so, other)
					}
				}
			}
		}
	})
}
