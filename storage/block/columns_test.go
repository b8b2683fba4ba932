package block

import (
	"math/rand/v2"
	"reflect"
	"testing"

	"github.com/logengine/logengine/storage/logs"
)

// checkColumnAccessors checks the column accessors against the entries of
// a full decode: each field column's values and dictionary codes, the
// sources with their codes, the levels. The destinations are reused across
// columns and blocks, as a scan reuses them.
func checkColumnAccessors(t testing.TB, h *Header, body []byte, entries []logs.Entry, fc *FieldColumn, sc *StringColumn) {
	t.Helper()
	names := []string{"absent field"}
	for _, c := range h.Columns {
		if c.Kind == ColumnField {
			names = append(names, c.Name)
		}
	}
	for _, name := range names {
		if err := DecodeFieldColumn(h, body, name, fc); err != nil {
			t.Fatalf("DecodeFieldColumn(%q): %v", name, err)
		}
		if h.Field(name) == nil {
			if fc.Len() != 0 {
				t.Fatalf("DecodeFieldColumn(%q) of a block without it: %d values", name, fc.Len())
			}
			continue
		}
		if len(fc.Offsets) != len(entries)+1 {
			t.Fatalf("field %q: %d offsets for %d entries", name, len(fc.Offsets), len(entries))
		}
		dense := true // every entry has the field once
		for i := range entries {
			if fc.Offsets[i+1]-fc.Offsets[i] != 1 {
				dense = false
			}
		}
		if fc.Dense != dense {
			t.Fatalf("field %q: Dense %v, offsets say %v", name, fc.Dense, dense)
		}
		for i, e := range entries {
			var want []logs.Value
			for _, f := range e.Fields {
				if f.Name == name {
					want = append(want, comparableValue(f.Value))
				}
			}
			var got []logs.Value
			for v := int(fc.Offsets[i]); v < int(fc.Offsets[i+1]); v++ {
				got = append(got, comparableValue(fc.Value(v)))
			}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("entry %d field %q: column gives %v, full decode %v", i, name, got, want)
			}
			first, ok := fc.First(i)
			w, wok := e.Field(name)
			if ok != wok || ok && comparableValue(fc.Value(first)) != comparableValue(w) {
				t.Fatalf("entry %d field %q: First gives %d %v, Entry.Field %v %v", i, name, first, ok, w, wok)
			}
		}
		if fc.Len() != h.Field(name).Values {
			t.Fatalf("field %q: Len %d, header says %d values", name, fc.Len(), h.Field(name).Values)
		}
	}
	if err := DecodeSourceColumn(h, body, sc); err != nil {
		t.Fatalf("DecodeSourceColumn: %v", err)
	}
	levels, err := DecodeLevelsInto(make([]logs.Level, 3), h, body)
	if err != nil {
		t.Fatalf("DecodeLevelsInto: %v", err)
	}
	if len(levels) != len(entries) {
		t.Fatalf("%d levels for %d entries", len(levels), len(entries))
	}
	for i, e := range entries {
		if sc.At(i) != e.Source || levels[i] != e.Level {
			t.Fatalf("entry %d: source %q level %s, full decode %q %s", i, sc.At(i), levels[i], e.Source, e.Level)
		}
	}
}

// decodeColumnAccessors runs every column accessor on a block that may be
// corrupt, for the fuzz test: each error must wrap ErrCorrupt.
func decodeColumnAccessors(h *Header, body []byte, check func(error)) {
	var fc FieldColumn
	for _, c := range h.Columns {
		if c.Kind == ColumnField {
			check(DecodeFieldColumn(h, body, c.Name, &fc))
		}
	}
	var sc StringColumn
	check(DecodeSourceColumn(h, body, &sc))
	_, err := DecodeLevelsInto(nil, h, body)
	check(err)
}

// TestColumnAccessorsReuse decodes random blocks one after another into
// the same destinations: what one block left behind never shows in the
// next.
func TestColumnAccessorsReuse(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 13))
	var fc FieldColumn
	var sc StringColumn
	for range 200 {
		entries, templates := randomBlock(rng)
		h, body, err := Encode(entries, templates)
		if err != nil {
			t.Fatal(err)
		}
		got, err := Decode(&h, body)
		if err != nil {
			t.Fatal(err)
		}
		checkColumnAccessors(t, &h, body, got, &fc, &sc)
	}
}

// TestHeaderUnmarshalReusing unmarshals headers of random blocks one after
// the other into one Header, as storage's block scan does, each time into
// slices left by a header of more or fewer tags, columns and set values:
// the result must be what Unmarshal into a zero Header gives.
func TestHeaderUnmarshalReusing(t *testing.T) {
	rng := rand.New(rand.NewPCG(17, 19))
	var reused Header
	for i := range 300 {
		entries, templates := randomBlock(rng)
		h, _, err := Encode(entries, templates)
		if err != nil {
			t.Fatal(err)
		}
		raw := h.Marshal()
		var fresh Header
		if err := fresh.Unmarshal(raw); err != nil {
			t.Fatal(err)
		}
		if err := reused.UnmarshalReusing(raw); err != nil {
			t.Fatalf("block %d: UnmarshalReusing: %v", i, err)
		}
		if !reflect.DeepEqual(comparableHeader(reused), comparableHeader(fresh)) {
			t.Fatalf("block %d: UnmarshalReusing gives\n%+v\nUnmarshal\n%+v", i, reused, fresh)
		}
	}
	// A corrupt header fails as with Unmarshal, and a good one after it
	// comes back whole.
	entries, _ := randomBlock(rng)
	h, _, err := Encode(entries, nil)
	if err != nil {
		t.Fatal(err)
	}
	raw := h.Marshal()
	if err := reused.UnmarshalReusing(raw[:len(raw)/2]); err == nil {
		t.Fatal("UnmarshalReusing of half a header: no error")
	}
	var fresh Header
	if err := fresh.Unmarshal(raw); err != nil {
		t.Fatal(err)
	}
	if err := reused.UnmarshalReusing(raw); err != nil || !reflect.DeepEqual(comparableHeader(reused), comparableHeader(fresh)) {
		t.Fatalf("UnmarshalReusing after a corrupt header: %v\n%+v\nwant\n%+v", err, reused, fresh)
	}
}
