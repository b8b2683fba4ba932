package block

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"testing"
	"time"

	"github.com/logengine/logengine/storage/logs"
)

// FuzzDecode feeds arbitrary headers and bodies to every decoder: none may
// panic, every error wraps ErrCorrupt (or names an unknown version), and
// whatever decodes is a valid block that encodes and decodes back to the
// same entries.
func FuzzDecode(f *testing.F) {
	rng := rand.New(rand.NewPCG(3, 5))
	for range 8 {
		entries, templates := randomBlock(rng)
		// Small seeds: the fuzzer minimizes every new input it finds,
		// and that takes minutes on inputs of tens of KB.
		if len(entries) > 6 {
			entries = entries[:6]
			if templates != nil {
				templates = templates[:6]
			}
		}
		h, body, err := Encode(entries, templates)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(h.Marshal(), body)
	}
	// Framed messages: a plain stream needs more than 256 distinct
	// messages, in frames of 100 rows here.
	defer func(rows, least int) { frameRows, minFramedRows = rows, least }(frameRows, minFramedRows)
	frameRows, minFramedRows = 100, 200
	framed := make([]logs.Entry, 260)
	for i := range framed {
		framed[i] = logs.Entry{ID: logs.ID{Nanos: int64(i), Seq: uint64(i)}, Time: time.Unix(0, int64(i)).UTC(), Level: logs.Levels[0], Message: fmt.Sprint(i)}
	}
	h, body, err := Encode(framed, nil)
	if err != nil {
		f.Fatal(err)
	}
	if c := h.Column(ColumnMessages).Codec; c != CodecFrames {
		f.Fatalf("a framed seed has messages of codec %v", c)
	}
	f.Add(h.Marshal(), body)
	// And grouped by source, with three sources.
	for i := range framed {
		framed[i].Source = fmt.Sprint("s", i%3)
	}
	gain := minGroupedGain
	minGroupedGain = -1000
	h, body, err = Encode(framed, nil)
	minGroupedGain = gain
	if err != nil {
		f.Fatal(err)
	}
	if c := h.Column(ColumnMessages).Codec; c != CodecFramesBySource {
		f.Fatalf("a seed framed by source has messages of codec %v", c)
	}
	f.Add(h.Marshal(), body)
	f.Add([]byte{}, []byte{})
	f.Add([]byte{headerVersion, 0xff, 0xff, 0xff, 0xff, 0x0f}, []byte{})
	f.Fuzz(func(t *testing.T, hb, body []byte) {
		if err := decodeAll(t, hb, body); err != nil {
			return
		}
		var h Header
		if err := h.Unmarshal(hb); err != nil {
			t.Fatalf("unmarshal twice: %v", err)
		}
		entries, err := Decode(&h, body)
		if err != nil {
			t.Fatalf("decode twice: %v", err)
		}
		templates, err := DecodeTemplates(&h, body)
		if err != nil {
			t.Fatalf("templates after a decode: %v", err)
		}
		checkColumnAccessors(t, &h, body, entries, &FieldColumn{}, &StringColumn{})
		h2, body2, err := Encode(entries, templates)
		if err != nil {
			t.Fatalf("decoded entries do not encode: %v", err)
		}
		again, err := Decode(&h2, body2)
		if err != nil {
			t.Fatalf("re-decode: %v", err)
		}
		if !reflect.DeepEqual(comparableEntries(again), comparableEntries(entries)) {
			t.Fatalf("unstable:\n%+v\n%+v", again, entries)
		}
	})
}
