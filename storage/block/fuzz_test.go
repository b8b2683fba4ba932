package block

import (
	"math/rand/v2"
	"reflect"
	"testing"
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
