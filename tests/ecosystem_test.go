package tests

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

// End-to-end tests with real shippers: syslog-ng, rsyslog, logger, the
// Elasticsearch JS client and winston-loki, each run against a daemon with
// all of its ingest protocols on. Each sends the lines of a Loghub sample
// (read from ../../shared at run time) and the test checks that every line
// is stored under the expected source with the timestamp and level that
// logengine's own text ingest gives the same line: the daemon is configured
// with parse_message, so the time and level written in the line win over
// the shipper's time of reading and its configured severity. A test skips
// only when its client is not installed.

const (
	shipperKey = "shipper-key-0123456789abcdef"
	testerKey  = "tester-key-0123456789abcdef"
)

// ecoDaemon is a daemon with every protocol on, API keys, and syslog
// listeners on free ports.
type ecoDaemon struct {
	*daemon
	syslogTCP, syslogUDP string
}

var syslogListenRe = regexp.MustCompile(`syslog listening"? proto=(\w+) addr=(\S+)`)

func startEcoDaemon(t *testing.T) *ecoDaemon {
	t.Helper()
	dir := t.TempDir()
	cfg := filepath.Join(dir, "logengine.yaml")
	writeFile(t, cfg, `retention: 0
auth:
  keys:
    - {name: shipper, key: `+shipperKey+`, role: ingest}
    - {name: tester, key: `+testerKey+`, role: admin}
elasticsearch:
  parse_message: true
loki:
  parse_message: true
syslog:
  tcp: 127.0.0.1:0
  udp: 127.0.0.1:0
  parse_message: true
`)
	d := &ecoDaemon{daemon: startDaemon(t, filepath.Join(dir, "data"), "--config", cfg)}
	for _, m := range syslogListenRe.FindAllStringSubmatch(d.logs(), -1) {
		switch m[1] {
		case "tcp":
			d.syslogTCP = m[2]
		case "udp":
			d.syslogUDP = m[2]
		}
	}
	if d.syslogTCP == "" || d.syslogUDP == "" {
		t.Fatalf("no syslog listeners in the log:\n%s", d.logs())
	}
	return d
}

// request sends an authenticated request.
func (d *ecoDaemon) request(method, path, contentType string, body []byte) (int, []byte) {
	d.t.Helper()
	req, err := http.NewRequest(method, d.url+path, bytes.NewReader(body))
	if err != nil {
		d.t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	req.Header.Set("Authorization", "Bearer "+testerKey)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		d.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		d.t.Fatal(err)
	}
	return resp.StatusCode, b
}

// search returns every entry matching q, following the cursor.
func (d *ecoDaemon) search(q string) []entry {
	d.t.Helper()
	var out []entry
	cursor := ""
	for {
		p := "/api/v1/logs?limit=1000&q=" + url.QueryEscape(q)
		if cursor != "" {
			p += "&cursor=" + url.QueryEscape(cursor)
		}
		code, b := d.request(http.MethodGet, p, "", nil)
		if code != http.StatusOK {
			d.t.Fatalf("search %q: %d %s", q, code, b)
		}
		var pg page
		if err := json.Unmarshal(b, &pg); err != nil {
			d.t.Fatalf("search %q: %v", q, err)
		}
		out = append(out, pg.Logs...)
		if pg.NextCursor == "" {
			return out
		}
		cursor = pg.NextCursor
	}
}

// waitCount polls until q matches n entries (shippers give no
// acknowledgement to wait for) and returns them.
func (d *ecoDaemon) waitCount(q string, n int, timeout time.Duration) []entry {
	d.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		got := d.search(q)
		if len(got) == n {
			return got
		}
		if len(got) > n || time.Now().After(deadline) {
			d.t.Fatalf("%q matches %d entries, want %d", q, len(got), n)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// loghub returns a copy of a Loghub sample in dir, ending in a newline
// (tailing shippers hold back a last line without one; the samples' CRLF
// line ends are kept), and its number of lines.
func loghub(t *testing.T, dir, system string) (string, []byte, int) {
	t.Helper()
	src := filepath.Join("..", "..", "shared", "data", "loghub", system, system+"_2k.log")
	b, err := os.ReadFile(src)
	if err != nil {
		t.Skipf("Loghub sample absent: %v", err)
	}
	if len(b) > 0 && b[len(b)-1] != '\n' {
		b = append(b, '\n')
	}
	n := 0
	for _, l := range strings.Split(string(b), "\n") {
		if strings.TrimSpace(l) != "" {
			n++
		}
	}
	path := filepath.Join(dir, strings.ToLower(system)+".log")
	writeFile(t, path, string(b))
	return path, b, n
}

// reference stores the same lines through POST /api/v1/logs as text/plain
// under source ref-<name>: what the shipper's path must reproduce.
func (d *ecoDaemon) reference(name string, body []byte, n int) []entry {
	d.t.Helper()
	code, b := d.request(http.MethodPost, "/api/v1/logs?source=ref-"+name, "text/plain", body)
	if code != http.StatusOK {
		d.t.Fatalf("reference ingest: %d %s", code, b)
	}
	return d.waitCount("source:ref-"+name, n, 10*time.Second)
}

// sameEntries checks that got holds the reference's entries: every message
// with its timestamp and level, as a multiset.
func sameEntries(t *testing.T, what string, got, ref []entry) {
	t.Helper()
	key := func(e entry) string {
		return strings.TrimSpace(e.Message) + "\x00" + e.Timestamp + "\x00" + e.Level
	}
	count := map[string]int{}
	for _, e := range ref {
		count[key(e)]++
	}
	var missing []string
	for _, e := range got {
		k := key(e)
		if count[k] == 0 {
			missing = append(missing, fmt.Sprintf("%s %s %q", e.Timestamp, e.Level, e.Message))
			continue
		}
		count[k]--
	}
	if len(missing) > 0 {
		t.Errorf("%s: %d of %d entries differ from the text ingest of the same lines, e.g.:\n%s", what, len(missing), len(got),
			strings.Join(missing[:min(len(missing), 5)], "\n"))
	}
	levels := map[string]int{}
	for _, e := range got {
		levels[e.Level]++
	}
	t.Logf("%s: %d entries, levels %v", what, len(got), levels)
}

// checkWords checks that a few messages are found by their words through
// the keyword index, not only by source.
func (d *ecoDaemon) checkWords(source string, got []entry) {
	d.t.Helper()
	checked := 0
	for i := 0; i < len(got) && checked < 3; i += len(got)/3 + 1 {
		words := strings.Fields(got[i].Message)
		var plain []string
		for _, w := range words {
			if regexp.MustCompile(`^[A-Za-z]{4,}$`).MatchString(w) {
				plain = append(plain, w)
			}
		}
		if len(plain) == 0 {
			continue
		}
		checked++
		q := "source:" + source + " " + strings.Join(plain[:min(len(plain), 3)], " ")
		code, b := d.request(http.MethodGet, "/api/v1/logs?wait=indexed&limit=1000&q="+url.QueryEscape(q), "", nil)
		if code != http.StatusOK || !bytes.Contains(b, []byte(got[i].ID)) {
			d.t.Errorf("%q does not find entry %s (%q): %d %.300s", q, got[i].ID, got[i].Message, code, b)
		}
	}
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// startProcess runs a client in the background, stopped (SIGTERM, then
// SIGKILL) at the end of the test, its output kept for failures.
func startProcess(t *testing.T, name string, args ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(name, args...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	done := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(done)
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
		if t.Failed() {
			t.Logf("%s output:\n%s", name, out.String())
		}
	})
	return cmd
}

func hostPort(t *testing.T, addr string) (string, string) {
	t.Helper()
	i := strings.LastIndexByte(addr, ':')
	if i < 0 {
		t.Fatalf("address %q", addr)
	}
	return addr[:i], addr[i+1:]
}

// TestSyslogNG runs syslog-ng reading two Loghub files: one through its
// elasticsearch-http() destination (basic auth), one through http() as
// text/plain to the native API (bearer token).
func TestSyslogNG(t *testing.T) {
	bin, err := exec.LookPath("syslog-ng")
	if err != nil {
		t.Skip("syslog-ng is not installed (apt-get install syslog-ng-core syslog-ng-mod-http syslog-ng-scl)")
	}
	d := startEcoDaemon(t)
	dir := t.TempDir()
	hdfs, hdfsBody, nHDFS := loghub(t, dir, "HDFS")
	apache, apacheBody, nApache := loghub(t, dir, "Apache")
	refHDFS := d.reference("hdfs", hdfsBody, nHDFS)
	refApache := d.reference("apache", apacheBody, nApache)

	conf := filepath.Join(dir, "syslog-ng.conf")
	writeFile(t, conf, fmt.Sprintf(`@version: 3.38
@include "scl.conf"
options { chain-hostnames(no); stats-freq(0); time-reopen(2); };
source s_hdfs { file("%s" flags(no-parse) follow-freq(1)); };
source s_apache { file("%s" flags(no-parse) follow-freq(1)); };
destination d_es {
  elasticsearch-http(url("%s/_bulk") index("logs-hdfs") type("")
                     user("shipper") password("%s")
                     batch-lines(200) batch-timeout(500) workers(1));
};
destination d_text {
  http(url("%s/api/v1/logs?source=sng-apache") method("POST")
       headers("Content-Type: text/plain", "Authorization: Bearer %s")
       body("${MESSAGE}") delimiter("\n") body-suffix("\n")
       batch-lines(200) batch-timeout(500));
};
log { source(s_hdfs); destination(d_es); };
log { source(s_apache); destination(d_text); };
`, hdfs, apache, d.url, shipperKey, d.url, shipperKey))
	if out, err := exec.Command(bin, "--syntax-only", "-f", conf).CombinedOutput(); err != nil {
		t.Fatalf("syslog-ng --syntax-only: %v\n%s", err, out)
	}
	startProcess(t, bin, "-F", "--stderr", "-f", conf,
		"-R", filepath.Join(dir, "persist"), "-p", filepath.Join(dir, "pid"), "-c", filepath.Join(dir, "ctl"))

	t.Run("elasticsearch-http", func(t *testing.T) {
		got := d.waitCount("source:logs-hdfs", nHDFS, 90*time.Second)
		sameEntries(t, "syslog-ng elasticsearch-http()", got, refHDFS)
		for _, e := range got[:3] {
			if e.Fields["index"] != "logs-hdfs" || e.Fields["HOST"] == nil {
				t.Errorf("fields of %s: %v", e.ID, e.Fields)
			}
		}
		d.checkWords("logs-hdfs", got)
	})
	t.Run("http text", func(t *testing.T) {
		got := d.waitCount("source:sng-apache", nApache, 90*time.Second)
		sameEntries(t, "syslog-ng http()", got, refApache)
		d.checkWords("sng-apache", got)
	})
}

// rsyslogd finds rsyslogd: installed, or unpacked beside syslog-ng as
// .ci/run does (the two packages conflict).
func rsyslogd(t *testing.T) (bin string, modules []string) {
	t.Helper()
	root := os.Getenv("LOGENGINE_RSYSLOG_ROOT")
	if root == "" {
		root = "/opt/rsyslog"
	}
	if _, err := os.Stat(filepath.Join(root, "usr/sbin/rsyslogd")); err == nil {
		return filepath.Join(root, "usr/sbin/rsyslogd"), []string{"-M", filepath.Join(root, "usr/lib/x86_64-linux-gnu/rsyslog")}
	}
	if p, err := exec.LookPath("rsyslogd"); err == nil {
		return p, nil
	}
	if _, err := os.Stat("/usr/sbin/rsyslogd"); err == nil {
		return "/usr/sbin/rsyslogd", nil
	}
	t.Skip("rsyslogd is not installed (see .ci/run: rsyslog and rsyslog-elasticsearch unpacked under /opt/rsyslog)")
	return "", nil
}

// TestRsyslog runs rsyslog tailing a Loghub file (imfile keeps the CR of
// its CRLF lines) and forwarding it twice: omfwd over TCP with
// octet-counted framing, and omelasticsearch in bulk mode with basic auth.
func TestRsyslog(t *testing.T) {
	bin, modArgs := rsyslogd(t)
	d := startEcoDaemon(t)
	dir := t.TempDir()
	file, body, n := loghub(t, dir, "Hadoop")
	ref := d.reference("hadoop", body, n)
	host, port := hostPort(t, d.syslogTCP)
	hhost, hport := hostPort(t, strings.TrimPrefix(d.url, "http://"))
	if err := os.Mkdir(filepath.Join(dir, "work"), 0o755); err != nil {
		t.Fatal(err)
	}
	hasES := false
	for i, a := range modArgs {
		if a == "-M" {
			_, err := os.Stat(filepath.Join(modArgs[i+1], "omelasticsearch.so"))
			hasES = err == nil
		}
	}
	if len(modArgs) == 0 {
		_, err := os.Stat("/usr/lib/x86_64-linux-gnu/rsyslog/omelasticsearch.so")
		hasES = err == nil
	}
	es := ""
	if hasES {
		es = fmt.Sprintf(`
  action(type="omelasticsearch" server="%s" serverport="%s" uid="shipper" pwd="%s"
         searchIndex="logs-rsyslog" template="esdoc" bulkmode="on" esVersion.major="8"
         queue.type="linkedlist" queue.dequeueBatchSize="500")`, hhost, hport, shipperKey)
	}
	conf := filepath.Join(dir, "rsyslog.conf")
	writeFile(t, conf, fmt.Sprintf(`global(workDirectory="%s")
module(load="imfile")
%s
input(type="imfile" File="%s" Tag="hadoop" Facility="local0" Severity="info" ruleset="fwd")
template(name="esdoc" type="list" option.jsonf="on") {
  property(outname="@timestamp" name="timereported" dateFormat="rfc3339" format="jsonf")
  property(outname="host" name="hostname" format="jsonf")
  property(outname="source" name="programname" format="jsonf")
  property(outname="severity" name="syslogseverity-text" format="jsonf")
  property(outname="message" name="msg" format="jsonf")
}
template(name="tagged" type="string" string="<%%PRI%%>1 %%TIMESTAMP:::date-rfc3339%% %%HOSTNAME%% rsyslog-%%APP-NAME%% - - - %%MSG%%\n")
ruleset(name="fwd") {
  action(type="omfwd" target="%s" port="%s" protocol="tcp" template="tagged" TCP_Framing="octet-counted")%s
}
`, filepath.Join(dir, "work"), map[bool]string{true: `module(load="omelasticsearch")`}[hasES], file, host, port, es))
	if out, err := exec.Command(bin, append([]string{"-N1", "-f", conf}, modArgs...)...).CombinedOutput(); err != nil {
		t.Fatalf("rsyslogd -N1: %v\n%s", err, out)
	}
	startProcess(t, bin, append([]string{"-n", "-f", conf, "-i", filepath.Join(dir, "rsyslogd.pid")}, modArgs...)...)

	t.Run("omfwd tcp octet-counted", func(t *testing.T) {
		got := d.waitCount("source:rsyslog-hadoop", n, 90*time.Second)
		sameEntries(t, "rsyslog omfwd", got, ref)
		if got[0].Fields["facility"] != "local0" {
			t.Errorf("fields %v", got[0].Fields)
		}
		d.checkWords("rsyslog-hadoop", got)
	})
	t.Run("omelasticsearch", func(t *testing.T) {
		if !hasES {
			t.Skip("omelasticsearch.so is absent (rsyslog-elasticsearch)")
		}
		got := d.waitCount("source:hadoop", n, 90*time.Second)
		sameEntries(t, "rsyslog omelasticsearch", got, ref)
		if got[0].Fields["index"] != "logs-rsyslog" {
			t.Errorf("fields %v", got[0].Fields)
		}
	})
}

// TestLogger sends Loghub files with util-linux logger: RFC 5424 over TCP
// and over UDP (one datagram per line, no line end).
func TestLogger(t *testing.T) {
	bin, err := exec.LookPath("logger")
	if err != nil {
		t.Skip("logger is not installed (bsdutils)")
	}
	d := startEcoDaemon(t)
	dir := t.TempDir()
	for _, tc := range []struct {
		name, system, flag, addr string
	}{
		{"tcp", "OpenSSH", "-T", d.syslogTCP},
		{"udp", "Linux", "-d", d.syslogUDP},
	} {
		t.Run(tc.name, func(t *testing.T) {
			file, body, n := loghub(t, dir, tc.system)
			ref := d.reference(tc.name, body, n)
			host, port := hostPort(t, tc.addr)
			tag := "logger-" + tc.name
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			if out, err := exec.CommandContext(ctx, bin, "-n", host, "-P", port, tc.flag, "-t", tag, "-p", "auth.notice", "-f", file).CombinedOutput(); err != nil {
				t.Fatalf("logger: %v\n%s", err, out)
			}
			got := d.waitCount("source:"+tag, n, 30*time.Second)
			sameEntries(t, "logger "+tc.name, got, ref)
			if got[0].Fields["facility"] != "auth" || got[0].Fields["hostname"] == nil {
				t.Errorf("fields %v", got[0].Fields)
			}
		})
	}
}

// nodeClients returns the directory of the npm clients, skipping when
// node or the installed packages are absent.
func nodeClients(t *testing.T, pkg string) string {
	t.Helper()
	if _, err := exec.LookPath("node"); err != nil {
		t.Skip("node is not installed")
	}
	dir, err := filepath.Abs("node")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "node_modules", pkg)); err != nil {
		t.Skipf("%s is not installed: run npm ci in tests/node", pkg)
	}
	return dir
}

func runNode(t *testing.T, dir string, args ...string) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", args...)
	cmd.Dir = dir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("node %v: %v\n%s\n%s", args, err, out, stderr.Bytes())
	}
	return out
}

// checkGenerated checks entries sent with their own timestamp and level.
func checkGenerated(t *testing.T, got []entry, want map[string][2]string) {
	t.Helper()
	for _, e := range got {
		w, ok := want[e.Message]
		if !ok {
			t.Errorf("unexpected entry %q", e.Message)
			continue
		}
		if e.Timestamp != w[0] || e.Level != w[1] {
			t.Errorf("%q: %s %s, want %s %s", e.Message, e.Timestamp, e.Level, w[0], w[1])
		}
	}
}

// TestElasticsearchJSClient runs the official Elasticsearch client:
// client.info(), client.bulk with create actions and refresh=wait_for, and
// helpers.bulk with a Loghub file; the client checks the
// X-Elastic-Product header and the answer's shape itself.
func TestElasticsearchJSClient(t *testing.T) {
	dir := nodeClients(t, "@elastic/elasticsearch")
	d := startEcoDaemon(t)
	file, body, n := loghub(t, t.TempDir(), "Zookeeper")
	ref := d.reference("zookeeper", body, n)
	out := runNode(t, dir, "es-bulk.mjs", d.url, shipperKey, file, "logs-zookeeper")
	var res struct {
		Version string
		Bulk    struct {
			Errors bool
			Items  int
			Status []int
		}
		Helpers struct{ Total, Failed, Successful int }
		Dropped []any
	}
	if err := json.Unmarshal(bytes.TrimSpace(out), &res); err != nil {
		t.Fatalf("client output %q: %v", out, err)
	}
	if res.Bulk.Errors || res.Bulk.Items != 3 || !slices.Equal(res.Bulk.Status, []int{201, 201, 201}) {
		t.Errorf("client.bulk: %+v", res.Bulk)
	}
	if res.Helpers.Total != n || res.Helpers.Successful != n || res.Helpers.Failed != 0 {
		t.Errorf("helpers.bulk: %+v, dropped %v", res.Helpers, res.Dropped)
	}
	// refresh=wait_for: searchable as soon as the client had its answer.
	gen := d.waitCount("source:es-generated", 3, time.Second)
	checkGenerated(t, gen, map[string][2]string{
		"generated event one from the elasticsearch client":   {"2026-11-20T10:00:00.123Z", "warn"},
		"generated event two from the elasticsearch client":   {"2026-11-20T10:00:01.456Z", "error"},
		"generated event three from the elasticsearch client": {"2026-11-20T10:00:02.789Z", "debug"},
	})
	got := d.waitCount("source:logs-zookeeper", n, 10*time.Second)
	sameEntries(t, "helpers.bulk", got, ref)
	d.checkWords("logs-zookeeper", got)
}

// TestWinstonLoki runs winston-loki in both of its modes: JSON, and
// snappy-compressed protobuf (its default), with basic auth.
func TestWinstonLoki(t *testing.T) {
	dir := nodeClients(t, "winston-loki")
	d := startEcoDaemon(t)
	for _, tc := range []struct{ mode, system string }{{"json", "Spark"}, {"protobuf", "Android"}} {
		t.Run(tc.mode, func(t *testing.T) {
			file, body, n := loghub(t, t.TempDir(), tc.system)
			ref := d.reference(tc.mode, body, n)
			source := "winston-" + tc.mode
			runNode(t, dir, "winston-loki.js", d.url, shipperKey, file, source, tc.mode)
			got := d.waitCount("source:"+source, n, 30*time.Second)
			sameEntries(t, "winston-loki "+tc.mode, got, ref)
			if got[0].Fields["job"] != "e2e" {
				t.Errorf("fields %v", got[0].Fields)
			}
			gen := d.waitCount("source:"+source+"-gen", 3, 10*time.Second)
			checkGenerated(t, gen, map[string][2]string{
				"synthetic event one from winston " + tc.mode:   {"2026-11-20T10:00:00.123Z", "warn"},
				"synthetic event two from winston " + tc.mode:   {"2026-11-20T10:00:01.456Z", "error"},
				"synthetic event three from winston " + tc.mode: {"2026-11-20T10:00:02.789Z", "debug"},
			})
		})
	}
}
