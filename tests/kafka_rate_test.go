package tests

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/logengine/logengine/internal/kafkatest"
)

// TestKafkaIngestRate stores the same JSON lines in two fresh daemons, one
// over HTTP (NDJSON bodies of 1,000 lines from 2 clients, as the
// side-by-side run sends them) and one from a Kafka topic (one record per
// line, produced before the daemon starts), and prints each path's rate
// and daemon CPU per million lines (README, "Reading logs from Kafka"). It
// runs only with LOGENGINE_KAFKA_BENCH set to the number of lines, and
// asserts nothing about time:
//
//	LOGENGINE_KAFKA_BENCH=1000000 go test ./tests -run TestKafkaIngestRate -v -timeout 30m
func TestKafkaIngestRate(t *testing.T) {
	n := envInt(t, "LOGENGINE_KAFKA_BENCH", 0)
	if n == 0 {
		t.Skip("set LOGENGINE_KAFKA_BENCH=<lines> to measure")
	}
	lines := rateLines(n)

	// HTTP.
	httpD := startDaemon(t, t.TempDir())
	cpu0 := daemonCPU(t, httpD)
	start := time.Now()
	client := newLoadClient(2)
	var wg sync.WaitGroup
	next := make(chan []string)
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for batch := range next {
				body := []byte(strings.Join(batch, "\n") + "\n")
				if r := postLogs(context.Background(), client, httpD.url, "application/x-ndjson", body); r.code != 200 || r.answer.Accepted != len(batch) {
					t.Errorf("post: %d %s %v", r.code, r.body, r.err)
				}
			}
		}()
	}
	for i := 0; i < n; i += 1000 {
		next <- lines[i:min(i+1000, n)]
	}
	close(next)
	wg.Wait()
	httpTook := time.Since(start)
	httpCPU := daemonCPU(t, httpD) - cpu0
	rss, _ := peakRSS(httpD.cmd.Process.Pid)
	t.Logf("HTTP:  %d lines acknowledged in %s: %.0f lines/s, daemon CPU %.2f s per 1M lines, peak RSS %s",
		n, httpTook.Round(time.Millisecond), float64(n)/httpTook.Seconds(), httpCPU/float64(n)*1e6, mib(rss))
	httpD.stop()

	// Kafka: the records wait in the topic; the daemon is timed from the
	// moment it listens until it has stored them all.
	c := kafkatest.Start(t, kafkatest.Options{Topics: []string{"logs"}, Partitions: 6})
	produce(t, c.ListenAddrs(), "logs", lines)
	dir := t.TempDir()
	kafkaD := startDaemon(t, dir, "--config", kafkaNodeConfig(t, dir, c.ListenAddrs(), "rate"))
	cpu0 = daemonCPU(t, kafkaD)
	start = time.Now()
	var first time.Duration
	var stats struct {
		Committed uint64 `json:"entries_committed"`
	}
	if !poll(20*time.Minute, 20*time.Millisecond, func() bool {
		kafkaD.getJSON("/api/v1/stats", &stats)
		if first == 0 && stats.Committed > 0 {
			first = time.Since(start)
		}
		return stats.Committed >= uint64(n)
	}) {
		t.Fatalf("the Kafka daemon stored %d of %d lines", stats.Committed, n)
	}
	kafkaTook := time.Since(start)
	kafkaCPU := daemonCPU(t, kafkaD) - cpu0
	rss, _ = peakRSS(kafkaD.cmd.Process.Pid)
	t.Logf("Kafka: %d lines stored in %s: %.0f lines/s (%.0f lines/s from the first stored, %s after it listened), daemon CPU %.2f s per 1M lines, peak RSS %s",
		n, kafkaTook.Round(time.Millisecond), float64(n)/kafkaTook.Seconds(),
		float64(n)/(kafkaTook-first).Seconds(), first.Round(time.Millisecond), kafkaCPU/float64(n)*1e6, mib(rss))
	if stats.Committed != uint64(n) {
		t.Errorf("the Kafka daemon stored %d lines, want %d", stats.Committed, n)
	}
}

// rateLines returns n distinct JSON lines of one day, like the load
// generator's: 50 sources, host, status and latency fields.
func rateLines(n int) []string {
	r := rand.New(rand.NewPCG(1, 2))
	day := time.Now().UTC().Add(-24 * time.Hour)
	levels := []string{"debug", "info", "info", "info", "info", "warn", "error"}
	words := []string{"request", "served", "cache", "lookup", "user", "session", "database", "query", "timeout", "retry"}
	out := make([]string, n)
	for i := range out {
		b, _ := json.Marshal(map[string]any{
			"timestamp": day.Add(time.Duration(int64(i) * int64(24*time.Hour) / int64(n))).Format(time.RFC3339Nano),
			"level":     levels[r.IntN(len(levels))], "source": fmt.Sprintf("svc-%d", r.IntN(50)),
			"message":    fmt.Sprintf("%s %s id=%d in %dms", words[r.IntN(len(words))], words[r.IntN(len(words))], r.IntN(1e6), r.IntN(900)),
			"host":       fmt.Sprintf("web-%d", r.IntN(200)),
			"status":     []int{200, 200, 200, 404, 500}[r.IntN(5)],
			"latency_ms": r.IntN(2000),
			"trace_id":   fmt.Sprintf("%016x", r.Uint64()),
		})
		out[i] = string(b)
	}
	return out
}

// produce writes lines to topic, one record each, and returns once Kafka
// has them all.
func produce(t *testing.T, brokers []string, topic string, lines []string) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.DefaultProduceTopic(topic), kgo.ProducerLinger(5*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	for i := 0; i < len(lines); i += 10000 {
		var recs []*kgo.Record
		for _, l := range lines[i:min(i+10000, len(lines))] {
			recs = append(recs, &kgo.Record{Value: []byte(l)})
		}
		if err := cl.ProduceSync(context.Background(), recs...).FirstErr(); err != nil {
			t.Fatalf("produce: %v", err)
		}
	}
}

// daemonCPU is the daemon's user and system CPU time so far, in seconds.
func daemonCPU(t *testing.T, d *daemon) float64 {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", d.cmd.Process.Pid))
	if err != nil {
		t.Fatal(err)
	}
	// The fields after the command name (which may hold spaces) ends
	// with ")": utime and stime are the 14th and 15th of the line.
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+2:]))
	utime, _ := strconv.ParseFloat(f[11], 64)
	stime, _ := strconv.ParseFloat(f[12], 64)
	return (utime + stime) / 100 // clock ticks; 100 per second on Linux
}
