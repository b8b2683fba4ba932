package tests

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// exerciseMetrics makes every labelled metric have a series: an ingest
// with a rejected line, searches and aggregations.
func exerciseMetrics(t *testing.T, d *daemon) {
	t.Helper()
	code, a := d.ingest("application/x-ndjson", "{\"message\":\"hello metrics\",\"level\":\"error\"}\n{\"level\":\"info\"}\n", "")
	if code != http.StatusOK || a.Accepted != 1 || a.Rejected != 1 {
		t.Fatalf("ingest: %d %+v", code, a)
	}
	for _, p := range []string{"/api/v1/logs?q=hello", "/api/v1/aggregate?group_by=level", "/api/v1/histogram?interval=1m"} {
		var v any
		d.getJSON(p, &v)
	}
}

func scrape(t *testing.T, d *daemon) []byte {
	t.Helper()
	code, body := d.do(http.MethodGet, "/metrics", "", nil)
	if code != http.StatusOK {
		t.Fatalf("/metrics: %d %s", code, body)
	}
	return body
}

// TestDashboardUsesExposedMetrics checks that every metric a PromQL
// expression of the shipped Grafana dashboard names is one /metrics exposes.
func TestDashboardUsesExposedMetrics(t *testing.T) {
	d := startDaemon(t, t.TempDir())
	exerciseMetrics(t, d)
	exposed := map[string]bool{}
	for _, line := range strings.Split(string(scrape(t, d)), "\n") {
		if f := strings.Fields(line); len(f) >= 3 && f[0] == "#" && f[1] == "TYPE" {
			exposed[f[2]] = true
			if f[3] == "histogram" {
				for _, s := range []string{"_bucket", "_sum", "_count"} {
					exposed[f[2]+s] = true
				}
			}
		}
	}
	raw, err := os.ReadFile(filepath.Join("..", "data", "grafana", "logengine.json"))
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		Panels []struct {
			Title   string `json:"title"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	if err := json.Unmarshal(raw, &dash); err != nil {
		t.Fatalf("dashboard JSON: %v", err)
	}
	name := regexp.MustCompile(`\b(logengine_[a-z_]+|go_[a-z_]+|process_[a-z_]+)\b`)
	checked := 0
	for _, p := range dash.Panels {
		if len(p.Targets) == 0 {
			t.Errorf("panel %q has no query", p.Title)
		}
		for _, tg := range p.Targets {
			names := name.FindAllString(tg.Expr, -1)
			if len(names) == 0 {
				t.Errorf("panel %q: expression %q names no metric", p.Title, tg.Expr)
			}
			for _, n := range names {
				checked++
				if !exposed[n] {
					t.Errorf("panel %q uses %s, which /metrics does not expose", p.Title, n)
				}
			}
		}
	}
	t.Logf("%d metric references in %d panels checked", checked, len(dash.Panels))
}

// TestMetricsPassPromtool runs promtool check metrics on a scrape.
func TestMetricsPassPromtool(t *testing.T) {
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		t.Skip("promtool is not installed (Debian package prometheus)")
	}
	d := startDaemon(t, t.TempDir())
	exerciseMetrics(t, d)
	cmd := exec.Command(promtool, "check", "metrics")
	cmd.Stdin = bytes.NewReader(scrape(t, d))
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("promtool check metrics: %v\n%s", err, out)
	}
}

func freePort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// TestPrometheusScrapes has a real Prometheus scrape the daemon and checks
// the ingested count through Prometheus' query API.
func TestPrometheusScrapes(t *testing.T) {
	prom, err := exec.LookPath("prometheus")
	if err != nil {
		t.Skip("prometheus is not installed (Debian package prometheus)")
	}
	d := startDaemon(t, t.TempDir())
	var nd strings.Builder
	for i := 0; i < 250; i++ {
		fmt.Fprintf(&nd, "{\"message\":\"scrape me %d\"}\n", i)
	}
	if code, a := d.ingest("application/x-ndjson", nd.String(), ""); code != http.StatusOK || a.Accepted != 250 {
		t.Fatalf("ingest: %d %+v", code, a)
	}
	dir := t.TempDir()
	target := strings.TrimPrefix(d.url, "http://")
	cfg := fmt.Sprintf("global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: logengine\n    static_configs:\n      - targets: ['%s']\n", target)
	if err := os.WriteFile(filepath.Join(dir, "prometheus.yml"), []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	addr := freePort(t)
	cmd := exec.Command(prom, "--config.file="+filepath.Join(dir, "prometheus.yml"), "--storage.tsdb.path="+filepath.Join(dir, "data"),
		"--web.listen-address="+addr)
	var log bytes.Buffer
	cmd.Stdout, cmd.Stderr = &log, &log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })

	query := "http://" + addr + "/api/v1/query?query=" + url.QueryEscape(`logengine_ingested_entries_total{job="logengine"}`)
	deadline := time.Now().Add(60 * time.Second)
	for {
		var res struct {
			Data struct {
				Result []struct {
					Value []any `json:"value"`
				} `json:"result"`
			} `json:"data"`
		}
		resp, err := http.Get(query)
		if err == nil {
			_ = json.NewDecoder(resp.Body).Decode(&res)
			resp.Body.Close()
			if len(res.Data.Result) == 1 && res.Data.Result[0].Value[1] == "250" {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("Prometheus never reported logengine_ingested_entries_total = 250 (last: %+v, err %v)\n%s", res, err, log.String())
		}
		time.Sleep(500 * time.Millisecond)
	}
}
