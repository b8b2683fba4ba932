package tests

import (
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"testing"
)

var patternIDRe = regexp.MustCompile(`^p[0-9a-z]+$`)

// patternLines writes n NDJSON lines of each kind, with values that differ
// from round to round, so that only the templates are the same.
func patternLines(round, n int) (string, map[string]string) {
	kinds := map[string]string{} // message → kind
	var b strings.Builder
	add := func(kind, source, msg string) {
		kinds[msg] = kind
		fmt.Fprintf(&b, `{"source":%q,"message":%q}`+"\n", source, msg)
	}
	for i := range n {
		v := round*1000 + i
		add("login", "auth", fmt.Sprintf("user u%d logged in from 10.0.%d.%d", v, i, v%250))
		add("denied", "auth", fmt.Sprintf("permission denied for uid %d on /srv/data/%d", v, v))
		add("request", "api", fmt.Sprintf("GET /api/v1/items/%d 200 %dms", v, v%97))
		add("timeout", "api", fmt.Sprintf("upstream timeout after %d ms to 10.1.%d.%d:8080", v, i, v%250))
	}
	return b.String(), kinds
}

// patternsByKind ingests a round and returns the pattern of each kind,
// checking that every line of a kind got the same one.
func patternsByKind(t *testing.T, d *daemon, round int) map[string]string {
	t.Helper()
	body, kinds := patternLines(round, 20)
	if code, a := d.ingest("application/x-ndjson", body, ""); code != http.StatusOK || a.Accepted != len(kinds) {
		t.Fatalf("round %d: ingest %d %+v", round, code, a)
	}
	got := map[string]string{}
	n := 0
	for _, e := range d.all("") {
		kind, ok := kinds[e.Message]
		if !ok {
			continue
		}
		n++
		if !patternIDRe.MatchString(e.Pattern) {
			t.Fatalf("round %d: %q has pattern %q", round, e.Message, e.Pattern)
		}
		if p, seen := got[kind]; seen && p != e.Pattern {
			t.Fatalf("round %d: %q has pattern %s, other lines of its kind %s", round, e.Message, e.Pattern, p)
		}
		got[kind] = e.Pattern
	}
	if n != len(kinds) {
		t.Fatalf("round %d: found %d of %d lines", round, n, len(kinds))
	}
	return got
}

// TestPatternIDsSurviveKill gives lines of a few templates their pattern
// ids, kills the daemon with SIGKILL right after the acknowledgement (no
// periodic or shutdown save runs), restarts it and ingests the same kinds
// of lines again: they get the same ids, and a new template a new one.
func TestPatternIDsSurviveKill(t *testing.T) {
	dataDir := t.TempDir()
	d := startDaemon(t, dataDir)
	first := patternsByKind(t, d, 1)
	if len(first) != 4 {
		t.Fatalf("kinds with a pattern: %v", first)
	}
	ids := map[string]bool{}
	for _, p := range first {
		ids[p] = true
	}
	if len(ids) != 4 {
		t.Fatalf("different templates share a pattern: %v", first)
	}
	d.kill()

	d = startDaemon(t, dataDir)
	second := patternsByKind(t, d, 2)
	for kind, p := range first {
		if second[kind] != p {
			t.Errorf("%s: pattern %s after kill -9 and restart, want %s", kind, second[kind], p)
		}
	}
	// A new template gets an id no acknowledged entry carried.
	if code, a := d.ingest("application/x-ndjson", `{"source":"auth","message":"certificate rotation finished"}`, ""); code != http.StatusOK || a.Accepted != 1 {
		t.Fatalf("ingest: %d %+v", code, a)
	}
	found := 0
	for _, e := range d.all("") {
		if e.Message != "certificate rotation finished" {
			continue
		}
		found++
		if ids[e.Pattern] || !patternIDRe.MatchString(e.Pattern) {
			t.Errorf("new template got pattern %q (known: %v)", e.Pattern, first)
		}
	}
	if found != 1 {
		t.Errorf("new template's line found %d times", found)
	}

	// The miner's counters are exported.
	code, metrics := d.do(http.MethodGet, "/metrics", "", nil)
	if code != http.StatusOK {
		t.Fatalf("/metrics: %d", code)
	}
	for _, name := range []string{"logengine_patterns_templates", "logengine_patterns_created_total", "logengine_patterns_evicted_total"} {
		if !strings.Contains(string(metrics), name) {
			t.Errorf("/metrics lacks %s", name)
		}
	}
	d.stop()

	// After a clean stop, the same again.
	d = startDaemon(t, dataDir)
	third := patternsByKind(t, d, 3)
	for kind, p := range first {
		if third[kind] != p {
			t.Errorf("%s: pattern %s after a clean restart, want %s", kind, third[kind], p)
		}
	}
}

// TestPatternsDisabled stores entries without a pattern: the key is left
// out of their JSON.
func TestPatternsDisabled(t *testing.T) {
	d := startDaemon(t, t.TempDir(), "--patterns=false")
	if code, a := d.ingest("application/x-ndjson", `{"source":"auth","message":"session 1 opened"}`, ""); code != http.StatusOK || a.Accepted != 1 {
		t.Fatalf("ingest: %d %+v", code, a)
	}
	code, body := d.do(http.MethodGet, "/api/v1/logs", "", nil)
	if code != http.StatusOK {
		t.Fatalf("search: %d %s", code, body)
	}
	var pg struct {
		Logs []map[string]any `json:"logs"`
	}
	if err := json.Unmarshal(body, &pg); err != nil || len(pg.Logs) != 1 {
		t.Fatalf("search answer %s: %v", body, err)
	}
	if p, ok := pg.Logs[0]["pattern"]; ok {
		t.Errorf("entry has pattern %v with patterns disabled", p)
	}
}

// TestPatternsAPI: the patterns of a query with their exact counts and
// texts, pattern:<id> finding exactly a template's lines, group_by=pattern,
// and clear errors for a malformed id.
func TestPatternsAPI(t *testing.T) {
	d := startDaemon(t, t.TempDir())
	ids := patternsByKind(t, d, 1) // 20 lines of each of four kinds
	var res struct {
		Patterns []struct {
			ID       string  `json:"id"`
			Template *string `json:"template"`
			Parts    []struct {
				Text     string `json:"text"`
				Variable bool   `json:"variable"`
			} `json:"parts"`
			Source    string `json:"source"`
			Count     int    `json:"count"`
			FirstSeen string `json:"first_seen"`
			LastSeen  string `json:"last_seen"`
		} `json:"patterns"`
		Total int `json:"total"`
		Other int `json:"other"`
	}
	d.getJSON("/api/v1/patterns?q=source:auth", &res)
	if res.Total != 40 || res.Other != 0 || len(res.Patterns) != 2 {
		t.Fatalf("patterns of source:auth: %+v", res)
	}
	for _, p := range res.Patterns {
		if p.Count != 20 || p.Source != "auth" || p.Template == nil || p.FirstSeen == "" || p.LastSeen == "" {
			t.Fatalf("pattern %+v", p)
		}
		if p.ID != ids["login"] && p.ID != ids["denied"] {
			t.Fatalf("pattern %s is neither of auth's templates %v", p.ID, ids)
		}
		variable := false
		for _, part := range p.Parts {
			variable = variable || part.Variable
		}
		if !strings.Contains(*p.Template, "<*>") || !variable {
			t.Fatalf("template %q (parts %+v) marks no variable part", *p.Template, p.Parts)
		}
	}
	if got := d.all("q=pattern:" + ids["timeout"]); len(got) != 20 {
		t.Fatalf("pattern:%s found %d lines, want 20", ids["timeout"], len(got))
	}
	var agg struct {
		Buckets []struct {
			Key   any `json:"key"`
			Count int `json:"count"`
		} `json:"buckets"`
	}
	d.getJSON("/api/v1/aggregate?group_by=pattern&q=source:api", &agg)
	if len(agg.Buckets) != 2 || agg.Buckets[0].Count != 20 || agg.Buckets[1].Count != 20 {
		t.Fatalf("group_by=pattern: %+v", agg)
	}
	for _, q := range []string{"pattern:3f9", "pattern>p1", "pattern:p1*"} {
		code, body := d.do(http.MethodGet, "/api/v1/logs?q="+strings.ReplaceAll(q, ">", "%3E"), "", nil)
		var e struct {
			Error string `json:"error"`
		}
		if code != http.StatusBadRequest || json.Unmarshal(body, &e) != nil || !strings.Contains(e.Error, "pattern") {
			t.Errorf("q=%s: %d %s, want 400 naming the pattern", q, code, body)
		}
	}
}
