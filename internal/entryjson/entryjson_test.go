package entryjson

import (
	"bytes"
	"encoding/json"
	"math"
	"testing"
	"time"

	"github.com/logengine/logengine/storage"
)

// TestParseRoundTrip sends entries through their output form and back, as
// a cluster peer's answer travels: the output form of what Parse returns
// is the same JSON, integers with every digit.
func TestParseRoundTrip(t *testing.T) {
	ts := time.Date(2026, 11, 26, 10, 0, 0, 123456789, time.UTC)
	for _, tc := range []struct {
		name string
		e    storage.Entry
	}{
		{"plain", storage.Entry{ID: storage.ID{Nanos: ts.UnixNano(), Seq: 42}, Time: ts, Level: storage.LevelError, Source: "api", Message: "upstream timeout"}},
		{"fields", storage.Entry{ID: storage.ID{Nanos: ts.UnixNano(), Seq: 1}, Time: ts, Level: storage.LevelInfo, Source: "s", Message: "m",
			Tags: []string{"prod", "eu"}, Pattern: 77,
			Fields: []storage.Field{
				{Name: "big", Value: storage.Int(9007199254740993)},
				{Name: "f", Value: storage.Float(1.5)},
				{Name: "whole", Value: storage.Float(404)},
				{Name: "huge", Value: storage.Float(1e300)},
				{Name: "min", Value: storage.Int(math.MinInt64)},
				{Name: "ok", Value: storage.Bool(true)},
				{Name: "text", Value: storage.String("9007199254740993")},
			}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, err := json.Marshal(From(&tc.e))
			if err != nil {
				t.Fatal(err)
			}
			dec := json.NewDecoder(bytes.NewReader(b))
			dec.UseNumber()
			var j Entry
			if err := dec.Decode(&j); err != nil {
				t.Fatal(err)
			}
			e, err := Parse(j)
			if err != nil {
				t.Fatal(err)
			}
			again, err := json.Marshal(From(&e))
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(again, b) {
				t.Fatalf("round trip:\n got %s\nwant %s", again, b)
			}
		})
	}
}

// TestParseRefuses names what is wrong with an entry that is not one.
func TestParseRefuses(t *testing.T) {
	good := From(&storage.Entry{ID: storage.ID{Nanos: 1, Seq: 1}, Time: time.Unix(0, 1), Level: storage.LevelInfo, Message: "m"})
	for name, mod := range map[string]func(*Entry){
		"id":       func(j *Entry) { j.ID = "nope" },
		"time":     func(j *Entry) { j.Timestamp = "yesterday" },
		"severity": func(j *Entry) { j.Severity = 10 },
		"pattern":  func(j *Entry) { j.Pattern = "x!" },
		"field":    func(j *Entry) { j.Fields = map[string]any{"a": []any{1}} },
	} {
		t.Run(name, func(t *testing.T) {
			j := good
			j.Fields = map[string]any{}
			mod(&j)
			if _, err := Parse(j); err == nil {
				t.Fatalf("Parse accepted a bad %s", name)
			}
		})
	}
}
