package tests

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// exploreFixtures ingests 2,500 entries of three sources, a second apart
// (several at the same time, to tie), with messages a spreadsheet would
// take for formulas, and returns them as NDJSON lines.
func exploreFixtures(t *testing.T, d *daemon) []string {
	t.Helper()
	base := time.Date(2026, 11, 20, 8, 0, 0, 0, time.UTC)
	sources := []string{"api", "auth", "db"}
	var lines []string
	for i := range 2500 {
		e := map[string]any{
			"timestamp": base.Add(time.Duration(i/3) * time.Second).Format(time.RFC3339Nano),
			"level":     []string{"info", "warn", "error"}[i%3],
			"source":    sources[i%7%3],
			"message":   fmt.Sprintf("request %d, \"done\"", i),
			"fields":    map[string]any{"status": []int{200, 404, 500, 200}[i%4], "host": fmt.Sprintf("web-%d", i%5)},
		}
		if i%10 == 0 {
			e["tags"] = []string{"prod"}
		}
		switch i {
		case 7:
			e["message"] = "=HYPERLINK(\"http://evil\",\"x\")"
		case 8:
			e["message"] = "line one\nline two"
		}
		b, _ := json.Marshal(e)
		lines = append(lines, string(b))
	}
	code, a := d.ingest("application/x-ndjson", strings.Join(lines, "\n"), "wait=indexed")
	if code != http.StatusOK || a.Accepted != len(lines) {
		t.Fatalf("ingest: %d %+v", code, a)
	}
	return lines
}

// TestExport checks GET /api/v1/export: NDJSON of every match in time
// order past any page limit, that re-imports to the same entries; CSV
// that a reader takes back, with a header row and neutralised formulas;
// and clear errors for bad parameters.
func TestExport(t *testing.T) {
	d := startDaemon(t, t.TempDir())
	exploreFixtures(t, d)

	t.Run("ndjson round trip", func(t *testing.T) {
		code, body := d.do(http.MethodGet, "/api/v1/export?format=ndjson&q="+url.QueryEscape("source:api OR source:db"), "", nil)
		if code != http.StatusOK {
			t.Fatalf("export: %d %s", code, body)
		}
		var got []entry
		sc := bufio.NewScanner(bytes.NewReader(body))
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			var e entry
			if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
				t.Fatalf("line %d: %v", len(got)+1, err)
			}
			got = append(got, e)
		}
		want := d.all("sort=timestamp&q=" + url.QueryEscape("source:api OR source:db"))
		if len(got) != len(want) || len(got) < 1500 {
			t.Fatalf("export has %d entries, search %d", len(got), len(want))
		}
		for i := range got {
			if got[i].ID != want[i].ID {
				t.Fatalf("entry %d: %s, want %s (time order, ties by id)", i, got[i].ID, want[i].ID)
			}
		}
		// Into an empty daemon and out again: the same entries, with new
		// ids.
		d2 := startDaemon(t, t.TempDir())
		if code, a := d2.ingest("application/x-ndjson", string(body), "wait=indexed"); code != http.StatusOK || a.Accepted != len(got) {
			t.Fatalf("re-import: %d %+v", code, a)
		}
		back := d2.all("sort=timestamp")
		strip := func(es []entry) []string {
			var out []string
			for _, e := range es {
				// The importing daemon gives new ids, and mines its
				// own template ids.
				e.ID, e.Pattern = "", ""
				b, _ := json.Marshal(e)
				out = append(out, string(b))
			}
			slices.Sort(out)
			return out
		}
		if a, b := strip(back), strip(got); !slices.Equal(a, b) {
			for i := range min(len(a), len(b)) {
				if a[i] != b[i] {
					t.Fatalf("re-imported entries differ:\n got %s\nwant %s", a[i], b[i])
				}
			}
			t.Fatalf("re-imported %d entries, exported %d", len(a), len(b))
		}
	})

	t.Run("csv", func(t *testing.T) {
		resp, err := http.Get(d.url + "/api/v1/export?format=csv")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/csv") {
			t.Fatalf("Content-Type %q", ct)
		}
		if cd := resp.Header.Get("Content-Disposition"); !strings.HasPrefix(cd, "attachment; filename=") {
			t.Fatalf("Content-Disposition %q", cd)
		}
		rows, err := csv.NewReader(resp.Body).ReadAll()
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(rows[0], []string{"timestamp", "level", "source", "message"}) {
			t.Fatalf("header %q", rows[0])
		}
		msgs := map[string]bool{}
		for _, r := range rows[1:] {
			msgs[r[3]] = true
		}
		for _, m := range []string{"'=HYPERLINK(\"http://evil\",\"x\")", "line one\nline two", "request 17, \"done\""} {
			if !msgs[m] {
				t.Errorf("no row with the message %q in %d rows", m, len(rows))
			}
		}
	})

	t.Run("csv columns", func(t *testing.T) {
		code, body := d.do(http.MethodGet, "/api/v1/export?format=csv&fields=timestamp,status,host&q=source:auth&to=2026-11-20T08:00:10Z", "", nil)
		if code != http.StatusOK {
			t.Fatalf("export: %d %s", code, body)
		}
		rows, err := csv.NewReader(bytes.NewReader(body)).ReadAll()
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(rows[0], []string{"timestamp", "level", "source", "message", "status", "host"}) || len(rows) < 2 {
			t.Fatalf("rows %q", rows)
		}
		if !strings.HasSuffix(string(body), "\r\n") {
			t.Errorf("rows do not end in CRLF (RFC 4180)")
		}
	})

	t.Run("command", func(t *testing.T) {
		out := filepath.Join(t.TempDir(), "errors.csv")
		cmd := exec.Command(binary, "export", "--server", d.url, "--format", "csv", "--out", out, "level:error", "source:api")
		msg, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("logengine export: %v\n%s", err, msg)
		}
		want := len(d.all("q=" + url.QueryEscape("level:error source:api")))
		if !strings.Contains(string(msg), fmt.Sprintf("exported %d logs", want)) {
			t.Errorf("the command says %q, want %d logs exported", msg, want)
		}
		b, err := os.ReadFile(out)
		if err != nil {
			t.Fatal(err)
		}
		rows, err := csv.NewReader(bytes.NewReader(b)).ReadAll()
		if err != nil || len(rows) != want+1 {
			t.Fatalf("the file has %d rows (%v), want a header and %d", len(rows), err, want)
		}
		cmd = exec.Command(binary, "export", "--server", d.url, "--out", filepath.Join(t.TempDir(), "x"), "a )")
		if msg, err := cmd.CombinedOutput(); err == nil || !strings.Contains(string(msg), "position") {
			t.Errorf("a bad query: %v %s, want the daemon's error", err, msg)
		}
	})

	for _, tc := range []struct{ name, params, says string }{
		{"unknown format", "format=xlsx", "use ndjson or csv"},
		{"bad query", "q=" + url.QueryEscape("a )"), ""},
		{"bad range", "from=yesterday", "RFC 3339"},
		{"empty field name", "fields=a,,b", "empty name"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, body := d.do(http.MethodGet, "/api/v1/export?"+tc.params, "", nil)
			if code != http.StatusBadRequest || !strings.Contains(string(body), tc.says) {
				t.Fatalf("%s: %d %s, want 400 saying %q", tc.params, code, body, tc.says)
			}
		})
	}
}

// TestContextAndFacets checks GET /api/v1/logs/{id}/context and GET
// /api/v1/facets against what searches answer.
func TestContextAndFacets(t *testing.T) {
	d := startDaemon(t, t.TempDir())
	exploreFixtures(t, d)
	api := d.all("sort=timestamp&q=source:api")

	t.Run("context", func(t *testing.T) {
		at := 100
		var ctx struct {
			Before     []entry `json:"before"`
			Entry      entry   `json:"entry"`
			After      []entry `json:"after"`
			MoreBefore bool    `json:"more_before"`
			MoreAfter  bool    `json:"more_after"`
		}
		d.getJSON(fmt.Sprintf("/api/v1/logs/%s/context?before=5&after=7", api[at].ID), &ctx)
		ids := func(es []entry) []string {
			var out []string
			for _, e := range es {
				out = append(out, e.ID)
			}
			return out
		}
		if got, want := ids(ctx.Before), ids(api[at-5:at]); !slices.Equal(got, want) {
			t.Errorf("before: %v, want %v", got, want)
		}
		if got, want := ids(ctx.After), ids(api[at+1:at+8]); !slices.Equal(got, want) {
			t.Errorf("after: %v, want %v", got, want)
		}
		if ctx.Entry.ID != api[at].ID || !ctx.MoreBefore || !ctx.MoreAfter {
			t.Errorf("entry %s, more %v %v", ctx.Entry.ID, ctx.MoreBefore, ctx.MoreAfter)
		}
		d.getJSON(fmt.Sprintf("/api/v1/logs/%s/context", api[1].ID), &ctx)
		if len(ctx.Before) != 1 || len(ctx.After) != 20 || ctx.MoreBefore {
			t.Errorf("default context of the second entry: %d before, %d after, more before %v", len(ctx.Before), len(ctx.After), ctx.MoreBefore)
		}
		for _, tc := range []struct {
			path string
			code int
		}{
			{"/api/v1/logs/" + api[0].ID + "/context?before=-1", http.StatusBadRequest},
			{"/api/v1/logs/" + api[0].ID + "/context?after=100000", http.StatusBadRequest},
			{"/api/v1/logs/nonsense/context", http.StatusBadRequest},
			{"/api/v1/logs/0RXECK9TS9N80000000000011Z/context", http.StatusNotFound},
		} {
			if code, body := d.do(http.MethodGet, tc.path, "", nil); code != tc.code {
				t.Errorf("%s: %d %s, want %d", tc.path, code, body, tc.code)
			}
		}
	})

	t.Run("facets", func(t *testing.T) {
		var res struct {
			Total  int64 `json:"total"`
			Fields []struct {
				Field  string `json:"field"`
				Count  int64  `json:"count"`
				Values []struct {
					Value any   `json:"value"`
					Count int64 `json:"count"`
				} `json:"values"`
				Other int64 `json:"other"`
			} `json:"fields"`
		}
		d.getJSON("/api/v1/facets?q=source:api", &res)
		if res.Total != int64(len(api)) {
			t.Fatalf("total %d, want %d", res.Total, len(api))
		}
		var names []string
		for _, f := range res.Fields {
			names = append(names, f.Field)
			var agg struct {
				Buckets []struct {
					Key   any   `json:"key"`
					Count int64 `json:"count"`
				} `json:"buckets"`
				Other int64 `json:"other"`
			}
			d.getJSON("/api/v1/aggregate?q=source:api&group_by="+f.Field, &agg)
			// Facets count the entries that have a field; aggregations
			// also group those without it, under null.
			agg.Buckets = slices.DeleteFunc(agg.Buckets, func(b struct {
				Key   any   `json:"key"`
				Count int64 `json:"count"`
			}) bool {
				return b.Key == nil
			})
			if len(agg.Buckets) != len(f.Values) {
				t.Errorf("%s: %d values, the aggregation %d", f.Field, len(f.Values), len(agg.Buckets))
				continue
			}
			for i, v := range f.Values {
				if fmt.Sprint(v.Value) != fmt.Sprint(agg.Buckets[i].Key) || v.Count != agg.Buckets[i].Count {
					t.Errorf("%s value %d: %v %d, the aggregation %v %d", f.Field, i, v.Value, v.Count, agg.Buckets[i].Key, agg.Buckets[i].Count)
				}
			}
		}
		if !slices.Equal(names, []string{"level", "source", "tag", "host", "status"}) {
			t.Errorf("fields %v", names)
		}
		if code, body := d.do(http.MethodGet, "/api/v1/facets?fields=message", "", nil); code != http.StatusBadRequest {
			t.Errorf("facets of message: %d %s, want 400", code, body)
		}
	})
}

// TestSavedSearches checks /api/v1/saved-searches: an admin key writes, a
// query key reads, names are any text, bad input is refused saying why,
// and searches outlive a restart.
func TestSavedSearches(t *testing.T) {
	const admin, viewer = "saved-admin-key-0123456789", "saved-viewer-key-0123456789"
	dir := t.TempDir()
	args := []string{"--api-key", "ops:admin:" + admin, "--api-key", "viewer:query:" + viewer}
	d := startDaemon(t, dir, args...)
	call := func(key, method, path, body string) (int, string) {
		t.Helper()
		req, err := http.NewRequest(method, d.url+path, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+key)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var b bytes.Buffer
		_, _ = b.ReadFrom(resp.Body)
		return resp.StatusCode, b.String()
	}
	name := url.PathEscape("api errors / last hour")
	steps := []struct {
		name, key, method, path, body string
		code                          int
		says                          string
	}{
		{"a query key cannot write", viewer, "PUT", "/api/v1/saved-searches/x", `{"query":"a","range":"1h"}`, http.StatusForbidden, ""},
		{"relative", admin, "PUT", "/api/v1/saved-searches/" + name, `{"query":"source:api level:error","range":"1h","columns":["host"]}`, http.StatusOK, `"range":"1h"`},
		{"absolute", admin, "PUT", "/api/v1/saved-searches/incident", `{"query":"","from":"2026-11-20T08:00:00Z","to":"2026-11-20T09:00:00Z"}`, http.StatusOK, `"from":"2026-11-20T08:00:00Z"`},
		{"replace", admin, "PUT", "/api/v1/saved-searches/incident", `{"query":"level:warn","from":"2026-11-20T08:00:00Z","to":1795165200000}`, http.StatusOK, `"query":"level:warn"`},
		{"bad query", admin, "PUT", "/api/v1/saved-searches/bad", `{"query":"a )","range":"1h"}`, http.StatusBadRequest, ""},
		{"no range", admin, "PUT", "/api/v1/saved-searches/bad", `{"query":"a"}`, http.StatusBadRequest, "needs a range"},
		{"relative from", admin, "PUT", "/api/v1/saved-searches/bad", `{"query":"a","from":"now-1h"}`, http.StatusBadRequest, "write range"},
		{"unknown key", admin, "PUT", "/api/v1/saved-searches/bad", `{"qeury":"a","range":"1h"}`, http.StatusBadRequest, "qeury"},
		{"read one", viewer, "GET", "/api/v1/saved-searches/" + name, "", http.StatusOK, `"name":"api errors / last hour"`},
		{"missing", viewer, "GET", "/api/v1/saved-searches/nope", "", http.StatusNotFound, "nope"},
		{"a query key cannot delete", viewer, "DELETE", "/api/v1/saved-searches/incident", "", http.StatusForbidden, ""},
	}
	for _, s := range steps {
		if code, body := call(s.key, s.method, s.path, s.body); code != s.code || !strings.Contains(body, s.says) {
			t.Fatalf("%s: %s %s: %d %s, want %d saying %q", s.name, s.method, s.path, code, body, s.code, s.says)
		}
	}
	d.stop()
	d = startDaemon(t, dir, args...)
	var list struct {
		Saved []struct {
			Name    string   `json:"name"`
			Query   string   `json:"query"`
			Range   string   `json:"range"`
			To      string   `json:"to"`
			Columns []string `json:"columns"`
		} `json:"saved_searches"`
	}
	code, body := call(viewer, "GET", "/api/v1/saved-searches", "")
	if code != http.StatusOK {
		t.Fatalf("list: %d %s", code, body)
	}
	if err := json.Unmarshal([]byte(body), &list); err != nil {
		t.Fatal(err)
	}
	if len(list.Saved) != 2 || list.Saved[0].Name != "api errors / last hour" || list.Saved[0].Columns[0] != "host" ||
		list.Saved[1].Query != "level:warn" || list.Saved[1].To != "2026-11-20T09:00:00Z" {
		t.Fatalf("list after a restart: %s", body)
	}
	if code, body := call(admin, "DELETE", "/api/v1/saved-searches/incident", ""); code != http.StatusNoContent {
		t.Fatalf("delete: %d %s", code, body)
	}
	if code, _ := call(admin, "DELETE", "/api/v1/saved-searches/incident", ""); code != http.StatusNotFound {
		t.Fatalf("delete again: %d, want 404", code)
	}
}

// TestExportClientGone checks that exports whose client went away or stopped
// reading end with the daemon: it keeps answering, and stops cleanly.
func TestExportClientGone(t *testing.T) {
	d := startDaemon(t, t.TempDir())
	var lines []string
	base := time.Date(2026, 11, 21, 0, 0, 0, 0, time.UTC)
	for i := range 30000 {
		lines = append(lines, fmt.Sprintf(`{"timestamp":%q,"message":"entry %d with some padding to make the export larger than the socket buffers"}`,
			base.Add(time.Duration(i)*time.Millisecond).Format(time.RFC3339Nano), i))
	}
	if code, a := d.ingest("application/x-ndjson", strings.Join(lines, "\n"), "wait=indexed"); code != http.StatusOK || a.Accepted != len(lines) {
		t.Fatalf("ingest: %d %+v", code, a)
	}
	open := func() *http.Response {
		t.Helper()
		resp, err := http.Get(d.url + "/api/v1/export?format=ndjson")
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("export: %d", resp.StatusCode)
		}
		if _, err := bufio.NewReader(resp.Body).ReadString('\n'); err != nil {
			t.Fatalf("the first line: %v", err)
		}
		return resp
	}
	gone := open()
	if err := gone.Body.Close(); err != nil {
		t.Fatal(err)
	}
	stalled := open() // read no further until the daemon has stopped
	defer stalled.Body.Close()

	var all []entry
	d.getJSON("/api/v1/logs?limit=5", &struct {
		Logs *[]entry `json:"logs"`
	}{&all})
	if len(all) != 5 {
		t.Fatalf("a search beside the exports answered %d logs", len(all))
	}
	d.stop()
}
