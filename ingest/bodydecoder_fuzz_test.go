package ingest

import (
	"reflect"
	"testing"
	"time"
)

// FuzzBodyDecoder: bodies decoded one after another by one BodyDecoder
// give the results each gets from a decoder of its own (the shared
// scratch space and chunks leak nothing from one body into the next), and
// every entry keeps the invariants; with parseMessage too.
func FuzzBodyDecoder(f *testing.F) {
	for _, s := range [][2]string{
		{`{"message":"a","tags":["x"],"f":1}`, "{\"msg\":\"b\"}\nplain"},
		{"2026-12-04T07:00:00Z ERROR text\nmore", `[{"message":"c","level":"warn"},{"log":"d"}]`},
		{`{"message":"2026-12-04T05:00:00Z WARN disk","source":"s"}`, `{"message": broken`},
		{`{"id":"01KBMR3FN80000000000000001","timestamp":"2026-12-04T07:00:00Z","severity":9,"level":"info","source":"api","message":"m","tags":[],"fields":{"a":1}}`, ""},
	} {
		f.Add(s[0], s[1], uint8(0), false)
		f.Add(s[0], s[1], uint8(1), true)
	}
	now := time.Date(2026, 12, 4, 7, 0, 0, 0, time.UTC)
	formats := []Format{FormatAuto, FormatJSON, FormatNDJSON, FormatText}
	f.Fuzz(func(t *testing.T, a, b string, format uint8, parse bool) {
		fm := formats[int(format)%len(formats)]
		svc := &Service{limits: fuzzLimits}
		shared := svc.NewBodyDecoder(Defaults{Source: "src"}, parse)
		for i, body := range []string{a, b, a} {
			at := now.Add(time.Duration(i) * time.Second)
			got, gerr := shared.Append(nil, fm, []byte(body), at)
			own := svc.NewBodyDecoder(Defaults{Source: "src"}, parse)
			want, werr := own.Append(nil, fm, []byte(body), at)
			if (gerr == nil) != (werr == nil) || !reflect.DeepEqual(got, want) {
				t.Fatalf("body %d (%q) decoded after others: %+v, %v; alone: %+v, %v", i, body, got, gerr, want, werr)
			}
			for _, r := range got {
				if r.Err == nil {
					checkEntry(t, r.Entry, fuzzLimits, "\n\t")
				}
			}
		}
	})
}
