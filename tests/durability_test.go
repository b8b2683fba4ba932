package tests

import (
	"fmt"
	"net/http"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"
)

// TestKillRestartKeepsEveryAcknowledgedEntry ingests JSON, NDJSON and text
// batches, kills the daemon with SIGKILL right after the last 200, restarts
// it and finds every acknowledged entry exactly once with every field
// intact.
func TestKillRestartKeepsEveryAcknowledgedEntry(t *testing.T) {
	dataDir := t.TempDir()
	d := startDaemon(t, dataDir, "--retention", "0")

	want := map[string]entry{} // by message, which is unique per entry
	expect := func(e entry) { want[e.Message] = e }

	// A JSON array with aliases, typed fields and every timestamp form.
	code, a := d.ingest("application/json", `[
	 {"timestamp":"2026-11-26T10:00:00.123456789Z","level":"error","source":"api","message":"json one","tags":["prod","eu"],"host":"web-1","status":504,"latency":0.25,"cached":false},
	 {"ts":1764151200,"lvl":"WARNING","service":"auth","msg":"json two","tags":"a,b","fields":{"user":"u1","attempt":3}},
	 {"@timestamp":1764151200123,"severity":50,"app":"db","log":"json three"},
	 {"time":1764151200123456,"loglevel":3,"logger":"cache","_msg":"json four"},
	 {"_time":"1764151200123456789","level":"notice","message":"json five","nested":{"a":{"b":1}}}
	]`, "")
	if code != http.StatusOK || a.Accepted != 5 || a.Rejected != 0 {
		t.Fatalf("JSON batch: %d %+v", code, a)
	}
	expect(entry{Timestamp: "2026-11-26T10:00:00.123456789Z", Level: "error", Severity: 17, Source: "api", Message: "json one", Tags: []string{"prod", "eu"},
		Fields: map[string]any{"host": "web-1", "status": float64(504), "latency": 0.25, "cached": false}})
	expect(entry{Timestamp: "2025-11-26T10:00:00Z", Level: "warn", Severity: 13, Source: "auth", Message: "json two", Tags: []string{"a", "b"},
		Fields: map[string]any{"user": "u1", "attempt": float64(3)}})
	expect(entry{Timestamp: "2025-11-26T10:00:00.123Z", Level: "error", Severity: 17, Source: "db", Message: "json three", Tags: []string{}, Fields: map[string]any{}})
	expect(entry{Timestamp: "2025-11-26T10:00:00.123456Z", Level: "error", Severity: 17, Source: "cache", Message: "json four", Tags: []string{}, Fields: map[string]any{}})
	expect(entry{Timestamp: "2025-11-26T10:00:00.123456789Z", Level: "info", Severity: 9, Source: "unknown", Message: "json five", Tags: []string{}, Fields: map[string]any{"nested.a.b": float64(1)}})

	// NDJSON with CRLF endings, a blank line, a bad line and no final
	// newline: the good lines are stored, the bad one reported by number.
	var nd strings.Builder
	for i := 0; i < 500; i++ {
		ts := time.Date(2026, 11, 26, 11, i/60%60, i%60, i, time.UTC)
		fmt.Fprintf(&nd, `{"timestamp":"2026-11-26T11:%02d:%02d.%09dZ","level":"info","source":"batch","message":"ndjson %d","seq":%d}`+"\r\n", i/60%60, i%60, i, i, i)
		expect(entry{Timestamp: ts.Format(time.RFC3339Nano), Level: "info", Severity: 9, Source: "batch",
			Message: fmt.Sprintf("ndjson %d", i), Tags: []string{"shipped"}, Fields: map[string]any{"seq": float64(i)}})
		if i == 10 {
			nd.WriteString("\r\n{not json}\r\n")
		}
	}
	nd.WriteString(`{"timestamp":"2026-11-26T12:00:00Z","message":"ndjson last"}`)
	expect(entry{Timestamp: "2026-11-26T12:00:00Z", Level: "info", Severity: 9, Source: "batch", Message: "ndjson last", Tags: []string{"shipped"}, Fields: map[string]any{}})
	code, a = d.ingest("application/x-ndjson", nd.String(), "source=batch&tags=shipped")
	if code != http.StatusOK || a.Accepted != 501 || a.Rejected != 1 || len(a.Errors) != 1 || a.Errors[0].Line != 13 {
		t.Fatalf("NDJSON batch: %d %+v", code, a)
	}

	// Text lines: leading timestamps and levels are recognised.
	code, a = d.ingest("text/plain", "2026-11-26T10:00:00Z ERROR payment failed for order 7\n"+
		"2026-11-26 10:00:01,250 WARN disk almost full\r\n"+
		"\n"+
		"no timestamp here at all", "source=shop")
	if code != http.StatusOK || a.Accepted != 3 {
		t.Fatalf("text batch: %d %+v", code, a)
	}
	expect(entry{Timestamp: "2026-11-26T10:00:00Z", Level: "error", Severity: 17, Source: "shop", Message: "payment failed for order 7", Tags: []string{}, Fields: map[string]any{}})
	expect(entry{Timestamp: "2026-11-26T10:00:01.25Z", Level: "warn", Severity: 13, Source: "shop", Message: "disk almost full", Tags: []string{}, Fields: map[string]any{}})

	// Kill right after the last 200: nothing may be lost.
	d.kill()
	d = startDaemon(t, dataDir, "--retention", "0")

	got := d.all("sort=timestamp")
	seen := map[string]int{}
	for _, e := range got {
		seen[e.Message]++
		if len(e.ID) != 26 {
			t.Errorf("entry %q has id %q, want 26 characters", e.Message, e.ID)
		}
	}
	if len(got) != len(want)+1 { // + the text line without a timestamp
		t.Errorf("after restart %d entries, want %d", len(got), len(want)+1)
	}
	for msg, n := range seen {
		if n != 1 {
			t.Errorf("entry %q present %d times", msg, n)
		}
	}
	// Every entry carries a pattern; the numbered NDJSON lines share one.
	batchPattern := ""
	for _, e := range got {
		w, ok := want[e.Message]
		if !ok {
			continue
		}
		e.ID = ""
		if !strings.HasPrefix(e.Pattern, "p") {
			t.Errorf("entry %q: pattern %q, want p and base-36 digits", e.Message, e.Pattern)
		}
		if strings.HasPrefix(e.Message, "ndjson ") && e.Message != "ndjson last" {
			if batchPattern == "" {
				batchPattern = e.Pattern
			} else if e.Pattern != batchPattern {
				t.Errorf("entry %q: pattern %s, other lines of its template %s", e.Message, e.Pattern, batchPattern)
			}
		}
		e.Pattern = ""
		if !reflect.DeepEqual(e, w) {
			t.Errorf("entry %q:\n got %+v\nwant %+v", e.Message, e, w)
		}
		delete(want, e.Message)
	}
	var missing []string
	for m := range want {
		missing = append(missing, m)
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		t.Errorf("missing after restart: %v", missing)
	}

	// Every entry is also reachable by id.
	one := got[0]
	var byID entry
	d.getJSON("/api/v1/logs/"+one.ID, &byID)
	if !reflect.DeepEqual(byID, one) {
		t.Errorf("GET by id = %+v, want %+v", byID, one)
	}
	d.stop()
}
