package httpapi

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/logengine/logengine/search"
	"github.com/logengine/logengine/storage"
)

// groupsServer is a server over a real store and engine holding entries
// whose trace_id is sent as strings that look like a number and a bool,
// and as numbers, plus n distinct ids.
func groupsServer(t *testing.T, maxGroupBytes int64, n int) *Server {
	t.Helper()
	dir := t.TempDir()
	opts := storage.DefaultOptions(filepath.Join(dir, "db"))
	opts.SyncWrites = false
	st, err := storage.Open(opts)
	if err != nil {
		t.Fatal(err)
	}
	idx, err := search.OpenIndex(filepath.Join(dir, "index"), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := idx.Close(); err != nil {
			t.Error(err)
		}
		if err := st.Close(); err != nil {
			t.Error(err)
		}
	})
	base := time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)
	var entries []storage.Entry
	add := func(v storage.Value) {
		entries = append(entries, storage.Entry{Time: base.Add(time.Duration(len(entries)) * time.Millisecond), Level: storage.LevelInfo, Source: "api", Message: "m",
			Fields: []storage.Field{{Name: "trace_id", Value: v}}})
	}
	for range 3 {
		add(storage.String("9007199254740993"))
	}
	add(storage.String("true"))
	add(storage.String("200"))
	add(storage.Int(200))
	for i := range n {
		add(storage.String(fmt.Sprintf("%032x", i)))
	}
	if _, err := st.Append(context.Background(), entries); err != nil {
		t.Fatal(err)
	}
	eng := search.NewEngine(st, idx, search.NewIndexer(st, idx, search.IndexerOptions{}), search.EngineOptions{MaxGroupBytes: maxGroupBytes})
	f := &fakeDeps{}
	s, err := New(Options{}, Deps{Ingester: f, Searcher: eng, Health: f, Admin: f, Explorer: eng})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

const groupsRange = "from=2026-11-26T10:00:00Z&to=2026-11-26T11:00:00Z"

// TestAggregateTypedKeys checks the JSON of keys: a string stays a JSON
// string however it looks, a number a JSON number, and the histogram's
// by_key keeps them apart where groups, by text, adds them up.
func TestAggregateTypedKeys(t *testing.T) {
	s := groupsServer(t, 0, 0)
	rec := request(t, s, "GET", "/api/v1/aggregate?group_by=trace_id&"+groupsRange, nil)
	want := `{"buckets":[{"key":"9007199254740993","count":3},{"key":200,"count":1},{"key":"200","count":1},{"key":"true","count":1}],"total":6,"other":0}`
	if rec.Code != 200 || strings.TrimSpace(rec.Body.String()) != want {
		t.Fatalf("aggregate = %d %s\nwant %s", rec.Code, rec.Body, want)
	}
	rec = request(t, s, "GET", "/api/v1/aggregate?group_by=source,trace_id&limit=1&"+groupsRange, nil)
	want = `{"buckets":[{"key":["api","9007199254740993"],"count":3}],"total":6,"other":3}`
	if rec.Code != 200 || strings.TrimSpace(rec.Body.String()) != want {
		t.Fatalf("composite aggregate = %d %s\nwant %s", rec.Code, rec.Body, want)
	}
	rec = request(t, s, "GET", "/api/v1/histogram?group_by=trace_id&interval=1h&"+groupsRange, nil)
	want = `{"interval":"1h","buckets":[{"start":"2026-11-26T10:00:00Z","count":6,` +
		`"groups":{"200":2,"9007199254740993":3,"true":1},` +
		`"by_key":[{"key":"9007199254740993","count":3},{"key":200,"count":1},{"key":"200","count":1},{"key":"true","count":1}]}]}`
	if rec.Code != 200 || strings.TrimSpace(rec.Body.String()) != want {
		t.Fatalf("histogram = %d %s\nwant %s", rec.Code, rec.Body, want)
	}
	rec = request(t, s, "GET", "/api/v1/facets?fields=trace_id&"+groupsRange, nil)
	if rec.Code != 200 || !strings.Contains(rec.Body.String(), `"values":[{"value":"9007199254740993","count":3},{"value":200,"count":1},{"value":"200","count":1},{"value":"true","count":1}]`) {
		t.Fatalf("facets = %d %s", rec.Code, rec.Body)
	}
}

// TestAggregateGroupLimit checks that a group-by over more distinct keys
// than the configured memory allows answers 422 naming the limit and how to
// narrow the query.
func TestAggregateGroupLimit(t *testing.T) {
	s := groupsServer(t, 16<<10, 2000) // 16 KiB: some 110 groups
	for _, path := range []string{
		"/api/v1/aggregate?group_by=trace_id&" + groupsRange,
		"/api/v1/histogram?group_by=trace_id&interval=1m&" + groupsRange,
	} {
		rec := request(t, s, "GET", path, nil)
		var body struct{ Error string }
		if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil || rec.Code != 422 {
			t.Fatalf("GET %s = %d %s, want 422", path, rec.Code, rec.Body)
		}
		for _, want := range []string{"group_by=trace_id", "limits.max_group_bytes (16384 bytes)", "shorter from..to", "a filter in q"} {
			if !strings.Contains(body.Error, want) {
				t.Errorf("GET %s: error %q does not mention %q", path, body.Error, want)
			}
		}
	}
	rec := request(t, s, "GET", "/api/v1/aggregate?group_by=source&"+groupsRange, nil)
	if rec.Code != 200 {
		t.Fatalf("a group-by within the limit = %d %s", rec.Code, rec.Body)
	}
}
