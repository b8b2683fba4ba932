package tests

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

const clusterPeerKey = "cluster-test-peer-key-0123456789"

// clusterData is one data set with many equal timestamps (40 distinct
// seconds for 1,500 entries), every level, a few sources and a numeric
// field: paging across nodes must order its ties.
func clusterData() []string {
	levels := []string{"debug", "info", "info", "warn", "error", "fatal"}
	sources := []string{"api", "auth", "web", "db"}
	base := time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)
	var lines []string
	for i := range 1500 {
		e := map[string]any{
			"timestamp": base.Add(time.Duration(i*7%40) * time.Second).Format(time.RFC3339Nano),
			"level":     levels[i*5%len(levels)],
			"source":    sources[i*3%len(sources)],
			"message":   fmt.Sprintf("request %d served in %d ms", i, i%97),
			"status":    []int{200, 200, 404, 500, 503}[i%5],
			"host":      fmt.Sprintf("web-%d", i%6),
		}
		b, _ := json.Marshal(e)
		lines = append(lines, string(b))
	}
	return lines
}

// TestClusterQueries starts three daemons that know each other, gives each
// a third of one data set, and a fourth daemon with all of it: search
// pages (every sort, with ties), aggregations, histograms and stats asked
// of any of the three equal the fourth's. With one peer stopped the
// answers are partial and name it, and partial=deny makes them 503.
func TestClusterQueries(t *testing.T) {
	addrs := []string{freePort(t), freePort(t), freePort(t)}
	var peerArgs []string
	for _, a := range addrs {
		peerArgs = append(peerArgs, "--peer", "http://"+a) // each lists itself too
	}
	nodes := make([]*daemon, len(addrs))
	for i, a := range addrs {
		args := append([]string{"--listen", a, "--peer-key", clusterPeerKey, "--peer-timeout", "5s"}, peerArgs...)
		nodes[i] = startDaemon(t, t.TempDir(), args...)
	}
	single := startDaemon(t, t.TempDir())

	lines := clusterData()
	parts := make([][]string, len(nodes))
	for i, l := range lines {
		parts[i%len(nodes)] = append(parts[i%len(nodes)], l)
	}
	for i, n := range nodes {
		if code, a := n.ingest("application/x-ndjson", strings.Join(parts[i], "\n"), "wait=indexed"); code != 200 || a.Accepted != len(parts[i]) {
			t.Fatalf("ingest into node %d: %d %+v", i, code, a)
		}
	}
	if code, a := single.ingest("application/x-ndjson", strings.Join(lines, "\n"), "wait=indexed"); code != 200 || a.Accepted != len(lines) {
		t.Fatalf("ingest into the single daemon: %d %+v", code, a)
	}

	t.Run("search", func(t *testing.T) {
		for _, q := range []string{"", "level>=warn", "source:api served"} {
			for _, sort := range []string{"-timestamp", "timestamp", "-severity", "severity"} {
				params := "q=" + url.QueryEscape(q) + "&sort=" + sort + "&limit=37"
				want := pages(single, params)
				for i, n := range nodes {
					got := pages(n, params)
					if err := samePages(got, want, strings.Contains(sort, "severity")); err != nil {
						t.Fatalf("node %d, %s: %v", i, params, err)
					}
				}
			}
		}
	})

	t.Run("aggregate", func(t *testing.T) {
		for _, params := range []string{
			"group_by=source&limit=3",
			"group_by=status&limit=2",
			"group_by=level,source&limit=5&q=" + url.QueryEscape("status>=500"),
			"group_by=host&limit=10",
		} {
			want := rawAnswer(t, single, "/api/v1/aggregate?"+params)
			for i, n := range nodes {
				if got := rawAnswer(t, n, "/api/v1/aggregate?"+params); !reflect.DeepEqual(got, want) {
					t.Fatalf("node %d, aggregate %s:\n got %v\nwant %v", i, params, got, want)
				}
			}
		}
	})

	t.Run("histogram", func(t *testing.T) {
		for _, params := range []string{
			"from=2026-11-26T10:00:00Z&to=2026-11-26T10:01:00Z&interval=5s&group_by=level",
			"from=2026-11-26T09:59:00Z&to=2026-11-26T10:02:00Z&q=" + url.QueryEscape("status:404"),
			"group_by=status", // open ends: closed at the cluster's first and last match
		} {
			want := rawAnswer(t, single, "/api/v1/histogram?"+params)
			for i, n := range nodes {
				if got := rawAnswer(t, n, "/api/v1/histogram?"+params); !reflect.DeepEqual(got, want) {
					t.Fatalf("node %d, histogram %s:\n got %v\nwant %v", i, params, got, want)
				}
			}
		}
	})

	t.Run("facets", func(t *testing.T) {
		for _, params := range []string{"", "fields=source,status,host&limit=3", "q=" + url.QueryEscape("level:error") + "&limit=2"} {
			want := rawAnswer(t, single, "/api/v1/facets?"+params)
			for i, n := range nodes {
				if got := rawAnswer(t, n, "/api/v1/facets?"+params); !reflect.DeepEqual(got, want) {
					t.Fatalf("node %d, facets %s:\n got %v\nwant %v", i, params, got, want)
				}
			}
		}
	})

	t.Run("export", func(t *testing.T) {
		export := func(d *daemon) []entry {
			code, b := d.do(http.MethodGet, "/api/v1/export?q=served", "", nil)
			if code != http.StatusOK {
				t.Fatalf("export: %d %s", code, b)
			}
			var out []entry
			for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
				var e entry
				if err := json.Unmarshal([]byte(l), &e); err != nil {
					t.Fatalf("export line %q: %v", l, err)
				}
				out = append(out, e)
			}
			return out
		}
		want := export(single)
		got := export(nodes[2])
		if err := samePages([][]entry{got}, [][]entry{want}, false); err != nil {
			t.Fatalf("export through node 2: %v", err)
		}
	})

	t.Run("context", func(t *testing.T) {
		// An entry of node 2, asked of node 0: its context is what comes
		// just before and after it in the cluster's order of its source.
		var local page
		code, b := nodes[0].do(http.MethodGet, "/api/v1/logs?limit=1000&sort=timestamp&q=source:db", "", nil)
		if code != 200 || json.Unmarshal(b, &local) != nil {
			t.Fatalf("search: %d %s", code, b)
		}
		order := local.Logs
		k := len(order) / 2
		var ctxAnswer struct {
			Before []entry `json:"before"`
			Entry  entry   `json:"entry"`
			After  []entry `json:"after"`
		}
		nodes[0].getJSON("/api/v1/logs/"+order[k].ID+"/context?before=3&after=4", &ctxAnswer)
		messages := func(es []entry) []string {
			var out []string
			for _, e := range es {
				out = append(out, e.Message)
			}
			return out
		}
		if ctxAnswer.Entry.Message != order[k].Message && len(ctxAnswer.Before)+len(ctxAnswer.After) > 0 {
			t.Skipf("entry id %s is held by two nodes; the context is of the other one", order[k].ID)
		}
		if got, want := messages(ctxAnswer.Before), messages(order[k-3:k]); !slices.Equal(got, want) {
			t.Fatalf("context before %v, want %v", got, want)
		}
		if got, want := messages(ctxAnswer.After), messages(order[k+1:k+5]); !slices.Equal(got, want) {
			t.Fatalf("context after %v, want %v", got, want)
		}
	})

	t.Run("stats", func(t *testing.T) {
		var want, got struct {
			EntriesTotal   int64            `json:"entries_total"`
			EntriesByLevel map[string]int64 `json:"entries_by_level"`
			Nodes          int              `json:"nodes"`
		}
		single.getJSON("/api/v1/stats", &want)
		nodes[1].getJSON("/api/v1/stats", &got)
		if got.EntriesTotal != want.EntriesTotal || !reflect.DeepEqual(got.EntriesByLevel, want.EntriesByLevel) || got.Nodes != 3 {
			t.Fatalf("cluster stats %+v, want the single daemon's %+v over 3 nodes", got, want)
		}
	})

	t.Run("peer key", func(t *testing.T) {
		for _, key := range []string{"", "not-the-peer-key-at-all"} {
			req, _ := http.NewRequest(http.MethodGet, nodes[0].url+"/api/v1/logs", nil)
			req.Header.Set("X-Logengine-Peer-Key", key)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusUnauthorized {
				t.Fatalf("peer call with key %q: %d, want 401", key, resp.StatusCode)
			}
		}
	})

	t.Run("tail", func(t *testing.T) {
		resp, err := http.Get(nodes[0].url + "/api/v1/tail?q=tailmark")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		events := make(chan string, 1000)
		go func() {
			sc := bufio.NewScanner(resp.Body)
			for sc.Scan() {
				if l := sc.Text(); strings.HasPrefix(l, "data: ") {
					var e entry
					if json.Unmarshal([]byte(strings.TrimPrefix(l, "data: ")), &e) == nil {
						events <- e.Message
					}
				}
			}
			close(events)
		}()
		// The streams of the peers are opened as the tail starts: send
		// marks to each node until one of its marks comes through.
		seen := map[string]bool{}
		for i, n := range nodes {
			deadline := time.Now().Add(30 * time.Second)
			for k := 0; ; k++ {
				msg := fmt.Sprintf("tailmark node-%d %d", i, k)
				if code, _ := n.ingest("application/json", `{"message":"`+msg+`"}`, ""); code != 200 {
					t.Fatalf("ingest %q: %d", msg, code)
				}
				got := false
				for wait := time.After(300 * time.Millisecond); !got; {
					select {
					case m, ok := <-events:
						if !ok {
							t.Fatal("the tail ended")
						}
						if seen[m] {
							t.Fatalf("the tail gave %q twice", m)
						}
						seen[m] = true
						got = strings.HasPrefix(m, fmt.Sprintf("tailmark node-%d ", i))
					case <-wait:
						got = true // none yet: send another mark
					}
				}
				if seen[msg] {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("the tail of node 0 never showed an entry of node %d", i)
				}
			}
		}
	})

	t.Run("partial", func(t *testing.T) {
		nodes[2].stop()
		stopped := "http://" + addrs[2]
		var pg struct {
			Logs         []entry  `json:"logs"`
			Partial      bool     `json:"partial"`
			MissingPeers []string `json:"missing_peers"`
		}
		nodes[0].getJSON("/api/v1/logs?limit=10000&q=served", &pg)
		if !pg.Partial || !slices.Equal(pg.MissingPeers, []string{stopped}) || len(pg.Logs) != len(parts[0])+len(parts[1]) {
			t.Fatalf("search with a peer stopped: partial %v, missing %v, %d logs; want true, [%s], %d",
				pg.Partial, pg.MissingPeers, len(pg.Logs), stopped, len(parts[0])+len(parts[1]))
		}
		for _, path := range []string{"/api/v1/aggregate?group_by=source", "/api/v1/histogram?group_by=level", "/api/v1/stats", "/api/v1/facets"} {
			a := rawAnswer(t, nodes[1], path)
			if a["partial"] != true || !reflect.DeepEqual(a["missing_peers"], []any{stopped}) {
				t.Fatalf("%s with a peer stopped: partial %v, missing_peers %v", path, a["partial"], a["missing_peers"])
			}
		}
		for _, path := range []string{"/api/v1/logs?partial=deny", "/api/v1/aggregate?group_by=source&partial=deny", "/api/v1/histogram?partial=deny", "/api/v1/stats?partial=deny", "/api/v1/facets?partial=deny", "/api/v1/export"} {
			code, b := nodes[0].do(http.MethodGet, path, "", nil)
			var e struct {
				Error        string   `json:"error"`
				MissingPeers []string `json:"missing_peers"`
			}
			if err := json.Unmarshal(b, &e); err != nil || code != http.StatusServiceUnavailable || !slices.Equal(e.MissingPeers, []string{stopped}) || !strings.Contains(e.Error, stopped) {
				t.Fatalf("%s with a peer stopped: %d %s; want 503 naming %s", path, code, b, stopped)
			}
		}
	})
}

// pages returns every page of a search, following next_cursor.
func pages(d *daemon, params string) [][]entry {
	d.t.Helper()
	var out [][]entry
	cursor := ""
	for {
		p := "/api/v1/logs?" + params
		if cursor != "" {
			p += "&cursor=" + cursor
		}
		var pg page
		d.getJSON(p, &pg)
		out = append(out, pg.Logs)
		if pg.NextCursor == "" {
			return out
		}
		if len(out) > 1000 {
			d.t.Fatalf("%s: more than 1000 pages", params)
		}
		cursor = pg.NextCursor
	}
}

// samePages compares the pages of a cluster with those of one daemon:
// the same number of pages and of entries on each, the same sort keys at
// every place, and the same entries overall, none twice. Entries with one
// sort key may come in another order: each node numbers its own entries,
// and ties are ordered by id. The sort key is the time, or the severity
// and then the time (ids sort by time).
func samePages(got, want [][]entry, bySeverity bool) error {
	if len(got) != len(want) {
		return fmt.Errorf("%d pages, want %d", len(got), len(want))
	}
	seen := map[string]bool{}
	var gotAll, wantAll []string
	for i := range want {
		if len(got[i]) != len(want[i]) {
			return fmt.Errorf("page %d has %d entries, want %d", i, len(got[i]), len(want[i]))
		}
		for j := range want[i] {
			g, w := got[i][j], want[i][j]
			if g.Timestamp != w.Timestamp || bySeverity && g.Severity != w.Severity {
				return fmt.Errorf("page %d entry %d: %s %s, want %s %s", i, j, g.Timestamp, g.Level, w.Timestamp, w.Level)
			}
			if seen[g.Message] {
				return fmt.Errorf("page %d entry %d: %q twice", i, j, g.Message)
			}
			seen[g.Message] = true
			gotAll = append(gotAll, entryText(g))
			wantAll = append(wantAll, entryText(w))
		}
	}
	slices.Sort(gotAll)
	slices.Sort(wantAll)
	for i := range gotAll {
		if gotAll[i] != wantAll[i] {
			return fmt.Errorf("the entries differ: %s, want %s", gotAll[i], wantAll[i])
		}
	}
	return nil
}

// entryText is an entry without its id and its pattern id, which each
// daemon gives its own (template ids are numbered per node).
func entryText(e entry) string {
	e.ID, e.Pattern = "", ""
	b, _ := json.Marshal(e)
	return string(b)
}

// rawAnswer returns a JSON answer as generic values, without took_ms.
func rawAnswer(t testing.TB, d *daemon, path string) map[string]any {
	t.Helper()
	code, b := d.do(http.MethodGet, path, "", nil)
	if code != http.StatusOK {
		t.Fatalf("GET %s: %d %s", path, code, b)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	delete(m, "took_ms")
	return m
}
