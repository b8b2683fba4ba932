package tests

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestClusterLatency measures six standard queries through one of three
// local nodes, each holding a third of the logs, against one node holding
// them all (README.md, "More than one machine"). It runs only with
// LOGENGINE_CLUSTER_BENCH set to the number of logs, and asserts nothing
// about time:
//
//	LOGENGINE_CLUSTER_BENCH=300000 go test ./tests -run TestClusterLatency -v -timeout 30m
func TestClusterLatency(t *testing.T) {
	n := envInt(t, "LOGENGINE_CLUSTER_BENCH", 0)
	if n == 0 {
		t.Skip("set LOGENGINE_CLUSTER_BENCH=<logs> to measure")
	}
	addrs := []string{freePort(t), freePort(t), freePort(t)}
	var peerArgs []string
	for _, a := range addrs {
		peerArgs = append(peerArgs, "--peer", "http://"+a)
	}
	nodes := make([]*daemon, len(addrs))
	for i, a := range addrs {
		nodes[i] = startDaemon(t, t.TempDir(), append([]string{"--listen", a, "--peer-key", clusterPeerKey}, peerArgs...)...)
	}
	single := startDaemon(t, t.TempDir())

	// One day of logs in arrival order, as live shippers send them: 50
	// sources, mostly info, a word in ~1% and a phrase in ~0.5% of
	// messages.
	day := time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC)
	r := rand.New(rand.NewPCG(7, 8))
	levels := []string{"debug", "info", "info", "info", "info", "info", "warn", "error"}
	words := []string{"request", "served", "cache", "lookup", "user", "session", "database", "query", "timeout", "retry"}
	batches := make([][]string, len(nodes))
	var all []string
	for i := range n {
		msg := words[r.IntN(len(words))] + " " + words[r.IntN(len(words))] + fmt.Sprintf(" id=%d", r.IntN(1e6))
		switch k := r.IntN(200); {
		case k < 2:
			msg += " zebracorn"
		case k == 2:
			msg += " connection reset by peer"
		}
		b, _ := json.Marshal(map[string]any{
			"timestamp": day.Add(time.Duration(int64(i) * int64(24*time.Hour) / int64(n))).Format(time.RFC3339Nano),
			"level":     levels[r.IntN(len(levels))], "source": fmt.Sprintf("svc-%d", r.IntN(50)),
			"message": msg, "status": []int{200, 200, 200, 404, 500}[r.IntN(5)], "host": fmt.Sprintf("web-%d", r.IntN(20)),
		})
		batches[i%len(nodes)] = append(batches[i%len(nodes)], string(b))
		all = append(all, string(b))
	}
	ingest := func(d *daemon, lines []string) {
		for len(lines) > 0 {
			k := min(len(lines), 5000)
			if code, a := d.ingest("application/x-ndjson", strings.Join(lines[:k], "\n"), ""); code != 200 || a.Accepted != k {
				t.Fatalf("ingest: %d %+v", code, a)
			}
			lines = lines[k:]
		}
		var pg page
		d.getJSON("/api/v1/logs?limit=1&wait=indexed", &pg)
	}
	for i, d := range nodes {
		ingest(d, batches[i])
	}
	ingest(single, all)

	queries := []struct{ name, path string }{
		{"(a) a word in ~1% of logs, newest 100", "/api/v1/logs?limit=100&q=zebracorn"},
		{"(b) level:error over one hour", "/api/v1/logs?limit=100&q=level:error&from=2026-11-26T12:00:00Z&to=2026-11-26T13:00:00Z"},
		{"(c) count by level over the day", "/api/v1/aggregate?group_by=level&from=2026-11-26T00:00:00Z&to=2026-11-27T00:00:00Z"},
		{"(d) 5-minute histogram over the day", "/api/v1/histogram?interval=5m&from=2026-11-26T00:00:00Z&to=2026-11-27T00:00:00Z"},
		{"(e) top 10 sources among errors", "/api/v1/aggregate?group_by=source&limit=10&q=level:error&from=2026-11-26T00:00:00Z&to=2026-11-27T00:00:00Z"},
		{"(f) a phrase, newest 100", "/api/v1/logs?limit=100&q=" + url.QueryEscape(`"connection reset by peer"`)},
	}
	median := func(d *daemon, path string) time.Duration {
		var ds []time.Duration
		for range 11 {
			start := time.Now()
			if code, b := d.do(http.MethodGet, path, "", nil); code != 200 {
				t.Fatalf("%s: %d %s", path, code, b)
			}
			ds = append(ds, time.Since(start))
		}
		slices.Sort(ds)
		return ds[len(ds)/2]
	}
	t.Logf("%d logs; medians of 11 runs over HTTP", n)
	t.Logf("| query | one node, all logs | three nodes, asked of one |")
	for _, q := range queries {
		t.Logf("| %s | %.1f ms | %.1f ms |", q.name, ms(median(single, q.path)), ms(median(nodes[0], q.path)))
	}
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
