package storage

import (
	"math"
	"reflect"
	"testing"
	"time"
)

func TestCodecRoundTrip(t *testing.T) {
	cases := map[string]Entry{
		"minimal": {Level: LevelInfo, Message: "m"},
		"full": {Level: LevelError, Source: "api", Message: "upstream timeout after 30s", Tags: []string{"prod", "eu"},
			Fields: []Field{{Name: "host", Value: String("web-1")}, {Name: "status", Value: Int(504)}, {Name: "neg", Value: Int(math.MinInt64)},
				{Name: "lat", Value: Float(0.25)}, {Name: "inf", Value: Float(math.Inf(1))}, {Name: "ok", Value: Bool(true)}, {Name: "no", Value: Bool(false)}, {Name: "empty", Value: String("")}}},
		"unicode": {Level: LevelWarn, Source: "ünï", Message: "日本語 ✓", Tags: []string{""}},
	}
	for name, e := range cases {
		t.Run(name, func(t *testing.T) {
			id := ID{Nanos: 1764151200123456789, Seq: 7}
			e.ID, e.Time = id, time.Unix(0, id.Nanos).UTC()
			var got Entry
			if err := Decode(id, AppendEncoded(nil, &e), &got); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, e) {
				t.Fatalf("round trip:\n got %+v\nwant %+v", got, e)
			}
		})
	}
}

func FuzzDecodeEntry(f *testing.F) {
	e := Entry{Level: LevelError, Source: "api", Message: "boom", Tags: []string{"a"}, Fields: []Field{{Name: "n", Value: Int(1)}, {Name: "f", Value: Float(1.5)}, {Name: "b", Value: Bool(true)}, {Name: "s", Value: String("x")}}}
	f.Add(AppendEncoded(nil, &e))
	f.Add([]byte{1, 9, 0, 1, 'x', 0, 0})
	f.Add([]byte{1, 9, 0xff, 0xff, 0xff, 0xff, 0x0f})
	f.Fuzz(func(t *testing.T, b []byte) {
		var e Entry
		id := ID{Nanos: 5, Seq: 1}
		if err := Decode(id, b, &e); err != nil {
			return
		}
		// Whatever decodes must encode back to the same bytes.
		var again Entry
		enc := AppendEncoded(nil, &e)
		if err := Decode(id, enc, &again); err != nil {
			t.Fatalf("re-decode: %v", err)
		}
		if !reflect.DeepEqual(e, again) && !hasNaN(e) {
			t.Fatalf("unstable: %+v vs %+v", e, again)
		}
	})
}

func hasNaN(e Entry) bool {
	for _, f := range e.Fields {
		if f.Value.Kind == KindFloat && math.IsNaN(f.Value.Float) {
			return true
		}
	}
	return false
}
