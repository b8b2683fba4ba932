package tests

import (
	"bytes"
	"cmp"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"
	"unicode"
)

// srchLog is one log of the search tests, with what the expectations are
// computed from.
type srchLog struct {
	i       int // line number in the batch: the arrival order
	ts      time.Time
	level   string
	source  string
	msg     string
	tags    []string
	host    string
	status  int
	latency float64
}

var srchLevels = []string{"trace", "debug", "info", "warn", "error", "fatal"}

func srchSeverity(level string) int {
	return map[string]int{"trace": 1, "debug": 5, "info": 9, "warn": 13, "error": 17, "fatal": 21}[level]
}

// srchTokens are the words of a message as the query language sees them:
// runs of letters, digits and '_', lower-cased.
func srchTokens(s string) []string {
	return strings.FieldsFunc(strings.ToLower(s), func(r rune) bool {
		return !unicode.IsLetter(r) && !unicode.IsDigit(r) && r != '_'
	})
}

func (l *srchLog) hasWord(w string) bool { return slices.Contains(srchTokens(l.msg), w) }

func (l *srchLog) hasPhrase(p string) bool {
	return strings.Contains(" "+strings.Join(srchTokens(l.msg), " ")+" ", " "+p+" ")
}

// srchLogs returns 90 logs over six minutes: three per timestamp (ties),
// every level, three sources, hosts web-1 and web-10 (field:value matches
// whole values), typed fields.
func srchLogs(base time.Time) []srchLog {
	phrases := []string{"upstream timeout after 30s", "connection reset by peer", "user login ok", "Timer expired; reset connection", "cache miss"}
	var logs []srchLog
	for i := range 90 {
		l := srchLog{
			i:       i,
			ts:      base.Add(time.Duration(i/3) * 12 * time.Second),
			level:   srchLevels[i%6],
			source:  []string{"api", "auth", "db"}[i%3],
			msg:     fmt.Sprintf("req%02d %s", i, phrases[i%5]),
			host:    []string{"web-1", "web-10", "web-2"}[i%7%3],
			status:  []int{200, 404, 500, 503}[i%4],
			latency: float64(i%9) * 7.5,
		}
		if i%4 == 0 {
			l.tags = []string{"prod"}
		}
		if i%10 == 3 {
			l.tags = append(l.tags, "test")
		}
		logs = append(logs, l)
	}
	return logs
}

func srchNDJSON(logs []srchLog) string {
	var b strings.Builder
	for _, l := range logs {
		m := map[string]any{
			"timestamp": l.ts.Format(time.RFC3339Nano), "level": l.level, "source": l.source, "message": l.msg,
			"host": l.host, "status": l.status, "latency_ms": l.latency,
		}
		if l.tags != nil {
			m["tags"] = l.tags
		}
		j, _ := json.Marshal(m)
		b.Write(j)
		b.WriteByte('\n')
	}
	return b.String()
}

// srchOrder sorts logs as the sort parameter asks; ties in the sort key go
// by id, that is by time and then arrival, in the same direction.
func srchOrder(logs []srchLog, sortBy string) []string {
	s := slices.Clone(logs)
	slices.SortFunc(s, func(a, b srchLog) int {
		c := 0
		if strings.HasSuffix(sortBy, "severity") {
			c = srchSeverity(a.level) - srchSeverity(b.level)
		}
		if c == 0 {
			c = a.ts.Compare(b.ts)
		}
		if c == 0 {
			c = a.i - b.i
		}
		if strings.HasPrefix(sortBy, "-") {
			c = -c
		}
		return c
	})
	out := make([]string, len(s))
	for i, l := range s {
		out[i] = l.msg
	}
	return out
}

func srchFilter(logs []srchLog, keep func(l *srchLog) bool) []srchLog {
	var out []srchLog
	for i := range logs {
		if keep(&logs[i]) {
			out = append(out, logs[i])
		}
	}
	return out
}

// srchPages follows the cursor over GET /api/v1/logs (or POST
// /api/v1/search) and returns the messages of every page.
func (d *daemon) srchPages(post bool, params map[string]any) []string {
	d.t.Helper()
	var out []string
	cursor := ""
	limit, _ := params["limit"].(int)
	for pages := 0; ; pages++ {
		if pages > 200 {
			d.t.Fatalf("search %v: no end to the pages", params)
		}
		var code int
		var body []byte
		if post {
			req := map[string]any{}
			for k, v := range params {
				req[k] = v
			}
			if cursor != "" {
				req["cursor"] = cursor
			}
			j, _ := json.Marshal(req)
			code, body = d.do(http.MethodPost, "/api/v1/search", "application/json", j)
		} else {
			v := url.Values{}
			for k, p := range params {
				v.Set(k, fmt.Sprint(p))
			}
			if cursor != "" {
				v.Set("cursor", cursor)
			}
			code, body = d.do(http.MethodGet, "/api/v1/logs?"+v.Encode(), "", nil)
		}
		if code != http.StatusOK {
			d.t.Fatalf("search %v: %d %s", params, code, body)
		}
		var pg struct {
			Logs       []entry `json:"logs"`
			NextCursor *string `json:"next_cursor"`
			TookMS     *int64  `json:"took_ms"`
		}
		if err := json.Unmarshal(body, &pg); err != nil {
			d.t.Fatalf("search %v: %v in %s", params, err, body)
		}
		if pg.TookMS == nil {
			d.t.Fatalf("search %v: no took_ms in %s", params, body)
		}
		if limit > 0 && len(pg.Logs) > limit {
			d.t.Fatalf("search %v: %d entries on a page", params, len(pg.Logs))
		}
		for _, e := range pg.Logs {
			out = append(out, e.Message)
		}
		if pg.NextCursor == nil {
			return out
		}
		if *pg.NextCursor == "" || limit > 0 && len(pg.Logs) != limit {
			d.t.Fatalf("search %v: page of %d with next_cursor %q", params, len(pg.Logs), *pg.NextCursor)
		}
		cursor = *pg.NextCursor
	}
}

// TestSearchAPI ingests logs with wait=indexed and checks searches in the
// query language over GET /api/v1/logs and POST /api/v1/search, paging with
// every sort, malformed queries, and the aggregate and histogram answers
// (README.md, "HTTP API").
func TestSearchAPI(t *testing.T) {
	d := startDaemon(t, t.TempDir(), "--retention", "0", "--indexed-fields", "host")
	base := time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)
	logs := srchLogs(base)
	code, a := d.ingest("application/x-ndjson", srchNDJSON(logs), "wait=indexed")
	if code != http.StatusOK || a.Accepted != len(logs) {
		t.Fatalf("ingest: %d %+v", code, a)
	}

	cases := []struct {
		q    string
		keep func(l *srchLog) bool
	}{
		{"", func(*srchLog) bool { return true }},
		{"timeout", func(l *srchLog) bool { return l.hasWord("timeout") }},
		{"TIMEOUT upstream", func(l *srchLog) bool { return l.hasWord("timeout") && l.hasWord("upstream") }},
		{`"connection reset"`, func(l *srchLog) bool { return l.hasPhrase("connection reset") }},
		{`"reset connection"`, func(l *srchLog) bool { return l.hasPhrase("reset connection") }},
		{"time*", func(l *srchLog) bool { return l.hasWord("timeout") || l.hasWord("timer") }},
		{"message:miss", func(l *srchLog) bool { return l.hasWord("miss") }},
		{"level:error", func(l *srchLog) bool { return l.level == "error" }},
		{"level>=warn", func(l *srchLog) bool { return srchSeverity(l.level) >= 13 }},
		{"severity<9", func(l *srchLog) bool { return srchSeverity(l.level) < 9 }},
		{"source:api", func(l *srchLog) bool { return l.source == "api" }},
		{"source:a*", func(l *srchLog) bool { return strings.HasPrefix(l.source, "a") }},
		{"tag:prod", func(l *srchLog) bool { return slices.Contains(l.tags, "prod") }},
		{"tags:*", func(l *srchLog) bool { return len(l.tags) > 0 }},
		{"host:web-1", func(l *srchLog) bool { return l.host == "web-1" }},
		{"fields.host:web-1", func(l *srchLog) bool { return l.host == "web-1" }},
		{`host:"web-10"`, func(l *srchLog) bool { return l.host == "web-10" }},
		{"status:404", func(l *srchLog) bool { return l.status == 404 }},
		{"status>=500", func(l *srchLog) bool { return l.status >= 500 }},
		{"latency_ms<20", func(l *srchLog) bool { return l.latency < 20 }},
		{"NOT level:info", func(l *srchLog) bool { return l.level != "info" }},
		{"-tag:prod -tag:test", func(l *srchLog) bool { return len(l.tags) == 0 }},
		{"timeout OR miss level:fatal", func(l *srchLog) bool { return l.hasWord("timeout") || l.hasWord("miss") && l.level == "fatal" }},
		{`level>=warn (source:api OR source:auth) "connection reset" -tag:test`, func(l *srchLog) bool {
			return srchSeverity(l.level) >= 13 && (l.source == "api" || l.source == "auth") && l.hasPhrase("connection reset") && !slices.Contains(l.tags, "test")
		}},
		{"timestamp>=2026-11-26T10:03:00Z", func(l *srchLog) bool { return !l.ts.Before(base.Add(3 * time.Minute)) }},
	}
	for i, c := range cases {
		want := srchFilter(logs, c.keep)
		if len(want) == 0 && c.q != "" {
			t.Fatalf("case %q matches nothing: a weak case", c.q)
		}
		for j, sortBy := range []string{"-timestamp", "timestamp", "-severity", "severity"} {
			limit := []int{1, 4, 7, 100}[(i+j)%4]
			post := (i+j)%2 == 1
			params := map[string]any{"q": c.q, "sort": sortBy, "limit": limit}
			got := d.srchPages(post, params)
			if exp := srchOrder(want, sortBy); !slices.Equal(got, exp) {
				t.Errorf("q=%q sort=%s limit=%d post=%v:\n got  %q\n want %q", c.q, sortBy, limit, post, got, exp)
			}
		}
	}

	// A time range: from inclusive, to exclusive, on a tie of three.
	from, to := base.Add(24*time.Second), base.Add(60*time.Second)
	got := d.srchPages(false, map[string]any{"q": "", "from": from.Format(time.RFC3339), "to": to.Format(time.RFC3339), "limit": 2, "sort": "timestamp"})
	want := srchOrder(srchFilter(logs, func(l *srchLog) bool { return !l.ts.Before(from) && l.ts.Before(to) }), "timestamp")
	if !slices.Equal(got, want) || len(want) != 9 {
		t.Errorf("range [%s, %s): got %q, want %q", from, to, got, want)
	}

	// Malformed queries and requests: 400 with what failed and where.
	for _, c := range []struct{ q, sort, cursor, want string }{
		{q: "level:error foo )", want: "unexpected ')' at position 17"},
		{q: "(timeout OR miss", want: "at position 17"},
		{q: "level:loud", want: "unknown level"},
		{q: `"unterminated`, want: "position 1"},
		{q: "status:>=", want: "position"},
		{sort: "newest", want: "sort"},
		{cursor: "not-a-cursor", want: "cursor"},
	} {
		v := url.Values{"q": {c.q}}
		if c.sort != "" {
			v.Set("sort", c.sort)
		}
		if c.cursor != "" {
			v.Set("cursor", c.cursor)
		}
		for _, post := range []bool{false, true} {
			var code int
			var body []byte
			if post {
				j, _ := json.Marshal(map[string]string{"q": c.q, "sort": c.sort, "cursor": c.cursor})
				code, body = d.do(http.MethodPost, "/api/v1/search", "application/json", j)
			} else {
				code, body = d.do(http.MethodGet, "/api/v1/logs?"+v.Encode(), "", nil)
			}
			var e struct {
				Error string `json:"error"`
			}
			if code != http.StatusBadRequest || json.Unmarshal(body, &e) != nil || !strings.Contains(e.Error, c.want) {
				t.Errorf("q=%q sort=%q cursor=%q post=%v: %d %s, want 400 naming %q", c.q, c.sort, c.cursor, post, code, body, c.want)
			}
		}
	}
	// The same query and parameters with the cursor of another sort.
	var pg page
	d.getJSON("/api/v1/logs?limit=5&sort=timestamp", &pg)
	if code, body := d.do(http.MethodGet, "/api/v1/logs?limit=5&sort=-severity&cursor="+pg.NextCursor, "", nil); code != http.StatusBadRequest {
		t.Errorf("cursor of another sort: %d %s", code, body)
	}

	srchCheckAggregates(t, d, logs, base)
}

// srchCheckAggregates checks GET /api/v1/aggregate and /api/v1/histogram
// answers, as raw JSON, against counts computed here.
func srchCheckAggregates(t *testing.T, d *daemon, logs []srchLog, base time.Time) {
	t.Helper()
	getRaw := func(path string) any {
		t.Helper()
		code, body := d.do(http.MethodGet, path, "", nil)
		if code != http.StatusOK {
			t.Fatalf("GET %s: %d %s", path, code, body)
		}
		var v any
		dec := json.NewDecoder(bytes.NewReader(body))
		dec.UseNumber()
		if err := dec.Decode(&v); err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
		return v
	}
	// counts returns the groups of logs by key, largest first, ties by key.
	type group struct {
		key   any
		sort  string
		count int
	}
	counts := func(keep func(l *srchLog) bool, keys func(l *srchLog) []any) []group {
		m := map[string]*group{}
		for i := range logs {
			if !keep(&logs[i]) {
				continue
			}
			for _, k := range keys(&logs[i]) {
				s := fmt.Sprintf("%T:%v", k, k)
				if m[s] == nil {
					m[s] = &group{key: k, sort: s}
				}
				m[s].count++
			}
		}
		var gs []group
		for _, g := range m {
			gs = append(gs, *g)
		}
		sort.Slice(gs, func(i, j int) bool {
			if gs[i].count != gs[j].count {
				return gs[i].count > gs[j].count
			}
			return gs[i].sort < gs[j].sort
		})
		return gs
	}
	all := func(*srchLog) bool { return true }
	num := func(n any) any { return json.Number(fmt.Sprint(n)) }
	aggCases := []struct {
		params string
		keep   func(l *srchLog) bool
		keys   func(l *srchLog) []any
		limit  int
	}{
		{"group_by=level", all, func(l *srchLog) []any { return []any{l.level} }, 10},
		{"group_by=source&limit=2", all, func(l *srchLog) []any { return []any{l.source} }, 2},
		{"q=" + url.QueryEscape("level>=warn") + "&group_by=source", func(l *srchLog) bool { return srchSeverity(l.level) >= 13 },
			func(l *srchLog) []any { return []any{l.source} }, 10},
		{"group_by=tag", all, func(l *srchLog) []any {
			if len(l.tags) == 0 {
				return []any{nil}
			}
			out := []any{}
			for _, t := range l.tags {
				out = append(out, t)
			}
			return out
		}, 10},
		{"group_by=status&limit=3", all, func(l *srchLog) []any { return []any{num(l.status)} }, 3},
		{"group_by=host&q=timeout", func(l *srchLog) bool { return l.hasWord("timeout") }, func(l *srchLog) []any { return []any{l.host} }, 10},
		{"group_by=fields.host&q=" + url.QueryEscape("fields.status>=500"), func(l *srchLog) bool { return l.status >= 500 }, func(l *srchLog) []any { return []any{l.host} }, 10},
		{"group_by=source,level&limit=4", all, func(l *srchLog) []any { return []any{[]any{l.source, l.level}} }, 4},
		{"group_by=latency_ms&q=source:db&limit=100", func(l *srchLog) bool { return l.source == "db" }, func(l *srchLog) []any { return []any{num(l.latency)} }, 100},
	}
	for _, c := range aggCases {
		total := len(srchFilter(logs, c.keep))
		gs := counts(c.keep, c.keys)
		code, body := d.do(http.MethodGet, "/api/v1/aggregate?"+c.params, "", nil)
		var got struct {
			Buckets []struct {
				Key   any             `json:"key"`
				Count json.RawMessage `json:"count"`
			} `json:"buckets"`
			Total *int `json:"total"`
			Other *int `json:"other"`
		}
		if code != http.StatusOK || json.Unmarshal(body, &got) != nil || got.Total == nil || got.Other == nil || got.Buckets == nil {
			t.Errorf("aggregate %s: %d %s", c.params, code, body)
			continue
		}
		// Largest first; groups of equal counts in an order of the
		// daemon's choosing, the same on every call.
		other := 0
		for i, g := range gs {
			if i >= c.limit {
				other += g.count
			}
		}
		ok := *got.Total == total && *got.Other == other && len(got.Buckets) == min(c.limit, len(gs))
		for i := 0; ok && i < len(got.Buckets); i++ {
			b := got.Buckets[i]
			key, _ := json.Marshal(b.Key)
			ok = string(b.Count) == fmt.Sprint(gs[i].count) && slices.ContainsFunc(gs, func(g group) bool {
				k, _ := json.Marshal(g.key)
				return g.count == gs[i].count && string(k) == string(key)
			})
			for j := 0; ok && j < i; j++ {
				ok = !reflect.DeepEqual(got.Buckets[j].Key, b.Key)
			}
		}
		if !ok {
			var want []string
			for _, g := range gs {
				k, _ := json.Marshal(g.key)
				want = append(want, fmt.Sprintf("%s=%d", k, g.count))
			}
			t.Errorf("aggregate %s:\n got  %s\n want total %d other %d, groups %s", c.params, body, total, other, strings.Join(want, " "))
		}
	}

	// A histogram over six minutes by minute, split by level, with an
	// empty bucket at each end.
	from, to := base.Add(-time.Minute), base.Add(7*time.Minute)
	path := "/api/v1/histogram?interval=1m&group_by=level&q=" + url.QueryEscape("-level:trace") +
		"&from=" + from.Format(time.RFC3339) + "&to=" + to.Format(time.RFC3339)
	var buckets []any
	for m := from; m.Before(to); m = m.Add(time.Minute) {
		b := map[string]any{"start": m.Format(time.RFC3339), "count": json.Number("0")}
		groups := map[string]any{}
		n := 0
		for _, l := range logs {
			if l.level != "trace" && !l.ts.Before(m) && l.ts.Before(m.Add(time.Minute)) {
				n++
				c, _ := groups[l.level].(int)
				groups[l.level] = c + 1
			}
		}
		b["count"] = json.Number(fmt.Sprint(n))
		if n > 0 {
			// by_key: the same groups with typed keys, largest first,
			// ties by key.
			keys := make([]string, 0, len(groups))
			for k := range groups {
				keys = append(keys, k)
			}
			slices.SortFunc(keys, func(a, b string) int {
				if c := cmp.Compare(groups[b].(int), groups[a].(int)); c != 0 {
					return c
				}
				return strings.Compare(a, b)
			})
			var byKey []any
			for _, k := range keys {
				byKey = append(byKey, map[string]any{"key": k, "count": json.Number(fmt.Sprint(groups[k]))})
			}
			for k, v := range groups {
				groups[k] = json.Number(fmt.Sprint(v))
			}
			b["groups"] = groups
			b["by_key"] = byKey
		}
		buckets = append(buckets, b)
	}
	want := map[string]any{"interval": "1m", "buckets": buckets}
	if got := getRaw(path); !reflect.DeepEqual(got, want) {
		gj, _ := json.Marshal(got)
		wj, _ := json.Marshal(want)
		t.Errorf("histogram:\n got  %s\n want %s", gj, wj)
	}
	// Without an interval: about 60 buckets over the range.
	var h struct {
		Interval string `json:"interval"`
		Buckets  []struct {
			Start string `json:"start"`
			Count int    `json:"count"`
		} `json:"buckets"`
	}
	d.getJSON("/api/v1/histogram?from="+base.Format(time.RFC3339)+"&to="+base.Add(time.Hour).Format(time.RFC3339), &h)
	n := 0
	for _, b := range h.Buckets {
		n += b.Count
	}
	if h.Interval != "1m" || len(h.Buckets) != 60 || n != len(logs) {
		t.Errorf("automatic histogram: interval %s, %d buckets, %d entries", h.Interval, len(h.Buckets), n)
	}
}

// TestQueryCLI runs logengine query against a daemon: the table, JSON
// lines, and --all following the cursor.
func TestQueryCLI(t *testing.T) {
	d := startDaemon(t, t.TempDir(), "--retention", "0")
	base := time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)
	logs := srchLogs(base)
	if code, a := d.ingest("application/x-ndjson", srchNDJSON(logs), "wait=indexed"); code != http.StatusOK || a.Accepted != len(logs) {
		t.Fatalf("ingest: %d %+v", code, a)
	}
	run := func(args ...string) (string, string) {
		t.Helper()
		cmd := exec.Command(binary, append([]string{"query", "--server", d.url}, args...)...)
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		if err := cmd.Run(); err != nil {
			t.Fatalf("logengine query %q: %v\n%s", args, err, stderr.String())
		}
		return stdout.String(), stderr.String()
	}
	timeouts := srchFilter(logs, func(l *srchLog) bool { return l.hasWord("timeout") })
	want := srchOrder(timeouts, "-timestamp")

	// The table: one line per entry, newest first, with the time, level,
	// source and message; no colour when not on a terminal.
	out, stderr := run("--limit", "5", "timeout")
	lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
	if len(lines) != 5 || !strings.Contains(stderr, "--all") || strings.Contains(out, "\x1b[") {
		t.Fatalf("table of the first page: %d lines, stderr %q:\n%s", len(lines), stderr, out)
	}
	for i, line := range lines {
		l := timeouts[slices.IndexFunc(timeouts, func(l srchLog) bool { return l.msg == want[i] })]
		for _, part := range []string{l.ts.Format(time.RFC3339Nano), strings.ToUpper(l.level), l.source, l.msg} {
			if !strings.Contains(line, part) {
				t.Errorf("table line %d %q lacks %q", i, line, part)
			}
		}
	}

	// JSON lines, every page.
	out, _ = run("--limit", "4", "--all", "--output", "json", "timeout")
	var got []string
	for _, line := range strings.Split(strings.TrimRight(out, "\n"), "\n") {
		var e entry
		if err := json.Unmarshal([]byte(line), &e); err != nil {
			t.Fatalf("JSON line %q: %v", line, err)
		}
		if e.ID == "" || e.Severity != srchSeverity(e.Level) {
			t.Errorf("JSON line %q", line)
		}
		got = append(got, e.Message)
	}
	if !slices.Equal(got, want) {
		t.Errorf("--all --output json: got %q, want %q", got, want)
	}

	// --all with a sort and a range, as a table.
	out, _ = run("--limit", "3", "--all", "--sort", "severity", "--from", base.Add(time.Minute).Format(time.RFC3339), "level>=error")
	want = srchOrder(srchFilter(logs, func(l *srchLog) bool {
		return srchSeverity(l.level) >= 17 && !l.ts.Before(base.Add(time.Minute))
	}), "severity")
	lines = strings.Split(strings.TrimRight(out, "\n"), "\n")
	if len(lines) != len(want) {
		t.Fatalf("--all --sort severity: %d lines, want %d:\n%s", len(lines), len(want), out)
	}
	for i, line := range lines {
		if !strings.Contains(line, want[i]) {
			t.Errorf("line %d %q, want %q", i, line, want[i])
		}
	}

	// A malformed query fails with the daemon's message.
	cmd := exec.Command(binary, "query", "--server", d.url, "level:error )")
	msg, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(msg), "position 13") {
		t.Errorf("malformed query: %v %s", err, msg)
	}
}

// srchLoghubSystems are the Loghub samples whose CSV Level column holds the
// level (Linux has the host name there, OpenSSH no level at all).
var srchLoghubLevels = map[string]bool{"Android": true, "Apache": true, "HDFS": true, "Hadoop": true, "Spark": true, "Zookeeper": true}

// srchLevelOf maps a Loghub level onto logengine's level names, as ingest
// reads them (README.md, "Ingest").
func srchLevelOf(s string) string {
	switch strings.ToLower(s) {
	case "v", "d", "debug":
		return "debug"
	case "i", "info", "notice":
		return "info"
	case "w", "warn", "warning":
		return "warn"
	case "e", "error", "err", "severe":
		return "error"
	case "f", "fatal", "crit", "critical", "alert", "emerg", "panic":
		return "fatal"
	}
	return "?" + s
}

// TestLoghubSearch ingests the real Loghub samples as text and checks
// counts by level and word searches against the authors' parsed CSVs.
func TestLoghubSearch(t *testing.T) {
	dir := filepath.Join(sharedDir(t), "data", "loghub")
	systems, _ := filepath.Glob(filepath.Join(dir, "*", "*_2k.log"))
	if len(systems) == 0 {
		t.Skip("no Loghub samples in ../shared/data/loghub")
	}
	d := startDaemon(t, t.TempDir(), "--retention", "0")
	type sample struct {
		name    string
		lines   int
		levels  map[string]int64 // CSV Level column, mapped
		content []string         // CSV Content column
	}
	var samples []sample
	for _, path := range systems {
		name := filepath.Base(filepath.Dir(path))
		body, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		s := sample{name: name, levels: map[string]int64{}}
		for _, l := range strings.Split(string(body), "\n") {
			if strings.TrimSpace(l) != "" {
				s.lines++
			}
		}
		f, err := os.Open(path + "_structured.csv")
		if err != nil {
			t.Fatal(err)
		}
		records, err := csv.NewReader(f).ReadAll()
		f.Close()
		if err != nil {
			t.Fatalf("%s CSV: %v", name, err)
		}
		level, content := slices.Index(records[0], "Level"), slices.Index(records[0], "Content")
		for _, r := range records[1:] {
			s.content = append(s.content, r[content])
			if level >= 0 {
				s.levels[srchLevelOf(r[level])]++
			}
		}
		if len(s.content) != s.lines {
			t.Fatalf("%s: %d lines, %d CSV records", name, s.lines, len(s.content))
		}
		code, a := d.ingest("text/plain", string(body), "wait=indexed&source="+strings.ToLower(name))
		if code != http.StatusOK || a.Accepted != s.lines {
			t.Fatalf("%s: ingest %d %+v", name, code, a)
		}
		samples = append(samples, s)
	}

	for _, s := range samples {
		t.Run(s.name, func(t *testing.T) {
			src := "source:" + strings.ToLower(s.name)
			levels, total := d.countsBy(src, "level")
			if total != int64(s.lines) {
				t.Errorf("%s: %d entries, want %d", src, total, s.lines)
			}
			t.Logf("%s: %d entries, by level %v", s.name, total, levels)
			if srchLoghubLevels[s.name] && !reflect.DeepEqual(levels, s.levels) {
				t.Errorf("%s by level: got %v, the CSV says %v", src, levels, s.levels)
			}
			// Words of the content that occur in some but not most lines.
			lines := map[string]int64{}
			for _, c := range s.content {
				seen := map[string]bool{}
				for _, w := range srchTokens(c) {
					if !seen[w] {
						seen[w] = true
						lines[w]++
					}
				}
			}
			var words []string
			for w, n := range lines {
				if n >= 5 && n <= int64(s.lines)/2 && len(w) >= 4 && !strings.ContainsAny(w, "0123456789") {
					words = append(words, w)
				}
			}
			sort.Slice(words, func(i, j int) bool {
				if lines[words[i]] != lines[words[j]] {
					return lines[words[i]] > lines[words[j]]
				}
				return words[i] < words[j]
			})
			checked := 0
			for _, w := range words {
				if checked == 3 {
					break
				}
				// The message is the line after its timestamp and level,
				// which can hold more than the CSV's content (a component,
				// a pid): only words that occur there as often as in the
				// content are checked.
				if !srchSameInRawLines(t, filepath.Join(dir, s.name, s.name+"_2k.log"), w, lines[w]) {
					continue
				}
				checked++
				t.Logf("%s: %q in %d lines", s.name, w, lines[w])
				_, n := d.countsBy(src+" "+w, "source")
				if n != lines[w] {
					t.Errorf("%s %s: %d entries, the CSV content has the word in %d lines", src, w, n, lines[w])
				}
				got := d.all(url.Values{"q": {src + " " + w}}.Encode())
				if int64(len(got)) != lines[w] {
					t.Errorf("search %s %s: %d entries, want %d", src, w, len(got), lines[w])
				}
			}
			if checked == 0 {
				t.Errorf("%s: no word to check", s.name)
			}
		})
	}
}

// srchSameInRawLines reports whether word occurs in exactly n lines of the
// raw file.
func srchSameInRawLines(t *testing.T, path, word string, n int64) bool {
	t.Helper()
	body, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var c int64
	for _, l := range strings.Split(string(body), "\n") {
		if slices.Contains(srchTokens(l), word) {
			c++
		}
	}
	return c == n
}
