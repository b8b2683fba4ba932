package tests

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/logengine/logengine/internal/kafkatest"
)

// TestGateway runs a daemon in gateway mode (kafka.produce) against a
// three-broker Kafka-protocol cluster in the test process: logs posted
// over HTTP, sent over syslog and pushed the Loki way are read back from
// the topic, each exactly once with its fields, keyed by source; the
// daemon stores none itself; with the cluster stopped a request is
// answered 503 and nothing is acknowledged.
func TestGateway(t *testing.T) {
	const topic = "logs"
	c := kafkatest.Start(t, kafkatest.Options{Topics: []string{topic}, Partitions: 3})
	brokers := c.ListenAddrs()
	dir := t.TempDir()
	cfg := filepath.Join(dir, "logengine.yaml")
	writeFile(t, cfg, fmt.Sprintf(`retention: 0
patterns:
  enabled: true
kafka:
  brokers: [%s]
  produce: true
  produce_topic: %s
  produce_timeout: 3s
syslog:
  tcp: 127.0.0.1:0
`, strings.Join(brokers, ", "), topic))
	d := startDaemon(t, filepath.Join(dir, "data"), "--config", cfg)
	m := syslogListenRe.FindStringSubmatch(d.logs())
	if m == nil || m[1] != "tcp" {
		t.Fatalf("no syslog listener in the log:\n%s", d.logs())
	}
	syslogAddr := m[2]

	// 1. POST /api/v1/logs: two sources, typed fields and tags.
	const posted = 200
	var body strings.Builder
	for i := range posted {
		src := []string{"api", "auth"}[i%2]
		fmt.Fprintf(&body, `{"timestamp":"2026-12-04T06:00:%02d.%09dZ","level":"%s","source":"%s","message":"http request %d done","tags":["prod"],"status":%d,"latency_ms":%d.5,"cached":%v}`+"\n",
			i%60, i, []string{"info", "error"}[i%2], src, i, 200+i%5, i, i%3 == 0)
	}
	code, ans := d.ingest("application/x-ndjson", body.String(), "")
	if code != http.StatusOK || ans.Accepted != posted || ans.Rejected != 0 {
		t.Fatalf("POST /api/v1/logs: %d %+v", code, ans)
	}

	// 2. Syslog over TCP.
	const syslogLines = 50
	conn, err := net.Dial("tcp", syslogAddr)
	if err != nil {
		t.Fatal(err)
	}
	for i := range syslogLines {
		fmt.Fprintf(conn, "<134>1 2026-12-04T06:01:%02dZ web-1 nginx 42 - - syslog line %d\n", i%60, i)
	}
	if err := conn.Close(); err != nil {
		t.Fatal(err)
	}

	// 3. A Loki push.
	const lokiLines = 30
	var values []string
	base := time.Date(2026, 12, 4, 6, 2, 0, 0, time.UTC).UnixNano()
	for i := range lokiLines {
		values = append(values, fmt.Sprintf(`["%d", "loki line %d"]`, base+int64(i)*1e6, i))
	}
	push := `{"streams":[{"stream":{"service":"billing","env":"prod"},"values":[` + strings.Join(values, ",") + `]}]}`
	if code, b := d.do(http.MethodPost, "/loki/api/v1/push", "application/json", []byte(push)); code != http.StatusNoContent && code != http.StatusOK {
		t.Fatalf("loki push: %d %s", code, b)
	}

	// 4. An Elasticsearch bulk request: created, with no id to give.
	const bulkDocs = 2
	bulk := `{"index":{"_index":"logs-app"}}
{"@timestamp":"2026-12-04T06:04:00Z","message":"bulk doc 0","service":"shop"}
{"create":{"_index":"logs-app","_id":"mine-1"}}
{"@timestamp":"2026-12-04T06:04:01Z","message":"bulk doc 1","service":"shop"}
`
	code, b := d.do(http.MethodPost, "/_bulk", "application/x-ndjson", []byte(bulk))
	var bulkAns struct {
		Errors bool `json:"errors"`
		Items  []map[string]map[string]any
	}
	if err := json.Unmarshal(b, &bulkAns); code != http.StatusOK || err != nil || bulkAns.Errors || len(bulkAns.Items) != bulkDocs {
		t.Fatalf("bulk: %d %s", code, b)
	}
	first, second := bulkAns.Items[0]["index"], bulkAns.Items[1]["create"]
	if first["status"] != 201.0 || first["_id"] != nil || first["_seq_no"] != nil || second["status"] != 201.0 || second["_id"] != "mine-1" {
		t.Errorf("bulk items %s: want 201 without a made-up _id or _seq_no", b)
	}

	// Read the topic back: every entry once.
	want := posted + syslogLines + lokiLines + bulkDocs
	recs := consumeAll(t, brokers, topic, want)
	type rec struct {
		key string
		e   entry
		raw map[string]any
	}
	byMessage := map[string]rec{}
	for _, r := range recs {
		var e entry
		var raw map[string]any
		if err := json.Unmarshal(r.Value, &e); err != nil {
			t.Fatalf("record value %s: %v", r.Value, err)
		}
		if err := json.Unmarshal(r.Value, &raw); err != nil {
			t.Fatal(err)
		}
		if _, dup := byMessage[e.Message]; dup {
			t.Errorf("entry %q arrived twice", e.Message)
		}
		byMessage[e.Message] = rec{string(r.Key), e, raw}
	}
	if len(byMessage) != want {
		t.Fatalf("%d distinct entries in the topic, want %d", len(byMessage), want)
	}
	for i := range posted {
		r, ok := byMessage[fmt.Sprintf("http request %d done", i)]
		if !ok {
			t.Fatalf("posted entry %d is not in the topic", i)
		}
		src := []string{"api", "auth"}[i%2]
		wantTime := time.Date(2026, 12, 4, 6, 0, i%60, i, time.UTC).Format(time.RFC3339Nano)
		f := r.e.Fields
		if r.key != src || r.e.Source != src || r.e.Level != []string{"info", "error"}[i%2] || r.e.Timestamp != wantTime ||
			len(r.e.Tags) != 1 || r.e.Tags[0] != "prod" || f["status"] != float64(200+i%5) || f["latency_ms"] != float64(i)+0.5 || f["cached"] != (i%3 == 0) {
			t.Errorf("posted entry %d arrived as key %q %+v", i, r.key, r.e)
		}
		if _, ok := r.raw["id"]; ok {
			t.Errorf("record carries an id; the storing node gives it: %v", r.raw)
		}
		if _, ok := r.raw["pattern"]; ok {
			t.Errorf("record carries a pattern; the consuming node mines: %v", r.raw)
		}
	}
	for i := range syslogLines {
		r, ok := byMessage[fmt.Sprintf("syslog line %d", i)]
		if !ok || r.key != "nginx" || r.e.Source != "nginx" || r.e.Fields["hostname"] != "web-1" || r.e.Level != "info" {
			t.Errorf("syslog line %d arrived as %+v (key %q, found %v)", i, r.e, r.key, ok)
		}
	}
	for i := range lokiLines {
		r, ok := byMessage[fmt.Sprintf("loki line %d", i)]
		if !ok || r.key != "billing" || r.e.Source != "billing" || r.e.Timestamp != time.Unix(0, base+int64(i)*1e6).UTC().Format(time.RFC3339Nano) {
			t.Errorf("loki line %d arrived as %+v (key %q, found %v)", i, r.e, r.key, ok)
		}
	}
	// One source's entries keep their order within its partition.
	last := map[string]int{}
	for _, r := range recs {
		var e entry
		_ = json.Unmarshal(r.Value, &e)
		var n int
		if _, err := fmt.Sscanf(e.Message, "loki line %d", &n); err == nil {
			if prev, ok := last[e.Source]; ok && n < prev {
				t.Errorf("loki line %d after line %d in the topic", n, prev)
			}
			last[e.Source] = n
		}
	}
	if kcat, err := exec.LookPath("kcat"); err == nil {
		out, err := exec.Command(kcat, "-C", "-b", strings.Join(brokers, ","), "-t", topic, "-o", "beginning", "-e", "-q", "-f", "%k\n").Output()
		if err != nil {
			t.Fatalf("kcat: %v", err)
		}
		if n := strings.Count(string(out), "\n"); n != want {
			t.Errorf("kcat read %d records, want %d", n, want)
		}
	} else if os.Getenv("CI") != "" {
		t.Error("kcat is not installed (Debian package kcat); .ci/run installs it")
	}

	// The gateway stores nothing itself.
	if got := d.all(""); len(got) != 0 {
		t.Errorf("the gateway stored %d entries itself", len(got))
	}

	// A storing node that reads the records as NDJSON (what a consumer
	// with format auto does) stores the same entries: the record's
	// severity is the entry's own, not a field.
	var ndjson bytes.Buffer
	for _, r := range recs {
		ndjson.Write(r.Value)
		ndjson.WriteByte('\n')
	}
	store := startDaemon(t, t.TempDir(), "--retention", "0")
	if code, ans := store.ingest("", ndjson.String(), ""); code != http.StatusOK || ans.Accepted != want {
		t.Fatalf("storing the records: %d %+v", code, ans)
	}
	for _, got := range store.all("") {
		r := byMessage[got.Message].e
		if got.Timestamp != r.Timestamp || got.Level != r.Level || got.Source != r.Source ||
			fmt.Sprint(got.Tags) != fmt.Sprint(r.Tags) || fmt.Sprint(got.Fields) != fmt.Sprint(r.Fields) {
			t.Errorf("stored from the record as %+v, the gateway sent %+v", got, r)
		}
	}

	// With Kafka gone, a request fails with a 503 that says why, and no
	// entry is acknowledged.
	c.Close()
	code, b = d.do(http.MethodPost, "/api/v1/logs", "application/x-ndjson", []byte(`{"message":"while kafka is down","source":"api"}`+"\n"))
	var e struct {
		Error    string `json:"error"`
		Accepted *int   `json:"accepted"`
	}
	if err := json.Unmarshal(b, &e); code != http.StatusServiceUnavailable || err != nil || !strings.Contains(e.Error, "kafka") || e.Accepted != nil {
		t.Fatalf("POST with kafka down: %d %s, want 503 with an error naming kafka", code, b)
	}
	code, b = d.do(http.MethodPost, "/loki/api/v1/push", "application/json", []byte(`{"streams":[{"stream":{"service":"billing"},"values":[["`+fmt.Sprint(time.Now().UnixNano())+`","down"]]}]}`))
	if code != http.StatusServiceUnavailable {
		t.Fatalf("loki push with kafka down: %d %s, want 503", code, b)
	}
	// A syslog sender gets no answer to fail: its batch is held and
	// retried (and the connection not read meanwhile), not lost.
	conn, err = net.Dial("tcp", syslogAddr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "<134>1 2026-12-04T06:03:00Z web-1 nginx 42 - - while kafka is down\n")
	for deadline := time.Now().Add(time.Minute); !strings.Contains(d.logs(), "syslog batch not stored, retrying"); {
		if time.Now().After(deadline) {
			t.Fatalf("the syslog batch is not retried while kafka is down:\n%s", d.logs())
		}
		time.Sleep(100 * time.Millisecond)
	}
	if strings.Contains(d.logs(), "syslog batch lost") {
		t.Errorf("a syslog batch was lost while kafka was down:\n%s", d.logs())
	}
	_, metrics := d.do(http.MethodGet, "/metrics", "", nil)
	// The POST, the Loki push and the syslog batch's attempts failed.
	if metricValue(metrics, "logengine_kafka_produce_errors_total") < 3 ||
		metricValue(metrics, "logengine_kafka_produced_records_total") != float64(want) {
		t.Errorf("metrics do not count the produced records and the failed batches:\n%s", grepLines(metrics, "logengine_kafka_"))
	}
}

// consumeAll reads topic from the start with a franz-go consumer until it
// holds want records (or a minute passes), then a little longer to see
// any extra record.
func consumeAll(t *testing.T, brokers []string, topic string, want int) []*kgo.Record {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var out []*kgo.Record
	for len(out) < want && ctx.Err() == nil {
		fs := cl.PollFetches(ctx)
		if err := fs.Err0(); err != nil && ctx.Err() == nil {
			t.Fatalf("consume %s: %v", topic, err)
		}
		out = append(out, fs.Records()...)
	}
	if len(out) < want {
		t.Fatalf("read %d records from %s, want %d", len(out), topic, want)
	}
	// Anything beyond want would be a duplicate: look once more.
	short, cancel2 := context.WithTimeout(ctx, 2*time.Second)
	defer cancel2()
	out = append(out, cl.PollFetches(short).Records()...)
	return out
}

// metricValue is the value of an unlabelled metric in a /metrics answer,
// -1 when it is absent.
func metricValue(b []byte, name string) float64 {
	for line := range strings.SplitSeq(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, name+" "); ok {
			var f float64
			if _, err := fmt.Sscan(v, &f); err == nil {
				return f
			}
		}
	}
	return -1
}

func grepLines(b []byte, prefix string) string {
	var out []string
	for line := range strings.SplitSeq(string(b), "\n") {
		if strings.HasPrefix(line, prefix) {
			out = append(out, line)
		}
	}
	return strings.Join(out, "\n")
}
