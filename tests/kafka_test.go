package tests

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/logengine/logengine/internal/kafkatest"
)

// kafkaLines returns n JSON records, numbered from first by the field n,
// with messages from a Loghub sample when there is one.
func kafkaLines(t *testing.T, first, n int) []string {
	t.Helper()
	var msgs []string
	if f, err := os.Open(filepath.Join(sharedDir(t), "data", "loghub", "HDFS", "HDFS_2k.log")); err == nil {
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if l := strings.TrimSpace(sc.Text()); l != "" {
				msgs = append(msgs, l)
			}
		}
		f.Close()
	}
	if len(msgs) == 0 {
		msgs = []string{"Receiving block blk_1 src: /10.0.0.1:5000 dest: /10.0.0.2:50010", "PacketResponder 1 for block blk_2 terminating"}
	}
	out := make([]string, n)
	sources := []string{"hdfs", "api", "db"}
	for i := range n {
		k := first + i
		b, _ := json.Marshal(map[string]any{"message": msgs[k%len(msgs)], "source": sources[k%len(sources)], "n": k})
		out[i] = string(b)
	}
	return out
}

// kcatProduce sends lines to topic with librdkafka's kcat, one record per
// line, and returns once they are acknowledged.
func kcatProduce(t *testing.T, brokers []string, topic string, lines []string) {
	t.Helper()
	f := filepath.Join(t.TempDir(), "records")
	if err := os.WriteFile(f, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("kcat", "-P", "-b", strings.Join(brokers, ","), "-t", topic, "-X", "acks=all", "-l", f).CombinedOutput()
	if err != nil {
		t.Fatalf("kcat: %v\n%s", err, out)
	}
}

// waitStableGroup waits until the group is stable with members members
// holding partitions partitions between them: a rebalance is over.
func waitStableGroup(t *testing.T, brokers []string, group string, members, partitions int) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	var last string
	if !poll(2*time.Minute, 100*time.Millisecond, func() bool {
		req := kmsg.NewPtrDescribeGroupsRequest()
		req.Groups = []string{group}
		resp, err := req.RequestWith(context.Background(), cl)
		if err != nil || len(resp.Groups) != 1 {
			last = fmt.Sprint(err)
			return false
		}
		g := resp.Groups[0]
		held := 0
		for _, m := range g.Members {
			var a kmsg.ConsumerMemberAssignment
			if err := a.ReadFrom(m.MemberAssignment); err != nil {
				return false
			}
			for _, tp := range a.Topics {
				held += len(tp.Partitions)
			}
		}
		last = fmt.Sprintf("state %s, %d members, %d partitions held", g.State, len(g.Members), held)
		return g.State == "Stable" && len(g.Members) == members && held == partitions
	}) {
		t.Fatalf("group %s not stable with %d members holding %d partitions: %s", group, members, partitions, last)
	}
}

func kafkaNodeConfig(t *testing.T, dir string, brokers []string, node string) string {
	t.Helper()
	cfg := fmt.Sprintf(`kafka:
  brokers: [%s]
  topics: [logs]
  group: e2e
  instance_id: %s
  session_timeout: 6s
  format: auto
`, strings.Join(brokers, ", "), node)
	p := filepath.Join(dir, node+".yaml")
	if err := os.WriteFile(p, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestKafkaClusterExactlyOnce: three daemons in one consumer group store
// what a librdkafka producer sends exactly once between them, also when
// one is killed with SIGKILL mid-stream and restarted, and when one stops
// and joins again (its partitions move and come back).
func TestKafkaClusterExactlyOnce(t *testing.T) {
	if _, err := exec.LookPath("kcat"); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("kcat is not installed (.ci/run installs it)")
		}
		t.Skip("kcat is not installed")
	}
	c := kafkatest.Start(t, kafkatest.Options{Topics: []string{"logs"}, Partitions: 6})
	brokers := c.ListenAddrs()
	cfgDir := t.TempDir()
	var (
		nodes [3]*daemon
		dirs  [3]string
		cfgs  [3]string
	)
	for i := range nodes {
		dirs[i] = t.TempDir()
		cfgs[i] = kafkaNodeConfig(t, cfgDir, brokers, fmt.Sprintf("node%d", i+1))
		nodes[i] = startDaemon(t, dirs[i], "--config", cfgs[i])
	}
	// stored returns how many times each n is stored across the running
	// nodes, and per source; total alone (cheap) when all is false.
	stored := func(up []*daemon, all bool) (map[string]int64, map[string]int64, int64) {
		byN, bySource := map[string]int64{}, map[string]int64{}
		var total int64
		for _, d := range up {
			src, n := d.countsBy("", "source")
			for k, v := range src {
				bySource[k] += v
			}
			total += n
			if !all {
				continue
			}
			for _, e := range d.scan("") {
				byN[fmt.Sprint(e.Fields["n"])]++
			}
		}
		return byN, bySource, total
	}
	// check waits until every n in [0, want) is stored once on up.
	check := func(phase string, up []*daemon, want int) {
		t.Helper()
		var total int64
		ok := poll(3*time.Minute, 200*time.Millisecond, func() bool {
			_, _, total = stored(up, false)
			return total >= int64(want)
		})
		byN, bySource, total := stored(up, true)
		if !ok || total != int64(want) {
			t.Fatalf("%s: %d entries stored across the nodes, want %d", phase, total, want)
		}
		for k := range want {
			if got := byN[fmt.Sprint(k)]; got != 1 {
				t.Fatalf("%s: record n=%d stored %d times", phase, k, got)
			}
		}
		for i, src := range []string{"hdfs", "api", "db"} {
			if wantSrc := int64((want - i + 2) / 3); bySource[src] != wantSrc {
				t.Fatalf("%s: source %s has %d entries, want %d", phase, src, bySource[src], wantSrc)
			}
		}
	}

	const step = 3000
	kcatProduce(t, brokers, "logs", kafkaLines(t, 0, step))
	check("first records", nodes[:], step)

	// SIGKILL mid-stream, three times, each node once: the producer is
	// still sending when the node dies, and the node is restarted at once.
	sent := step
	for round := range 3 {
		from := sent
		done := make(chan struct{})
		go func() {
			defer close(done)
			for k := from; k < from+step; k += step / 10 {
				kcatProduce(t, brokers, "logs", kafkaLines(t, k, step/10))
			}
		}()
		// Killed while the group is stable, a node restarted with its
		// instance_id gets its partitions back and resumes from its own
		// offsets. (Killed during a rebalance, its partitions may move,
		// and their next owner starts from the group's offsets: the window
		// README describes.)
		waitStableGroup(t, brokers, "e2e", 3, 6)
		victim := nodes[round]
		_, _, before := stored([]*daemon{victim}, false)
		poll(time.Minute, 5*time.Millisecond, func() bool { _, _, n := stored([]*daemon{victim}, false); return n > before+50 })
		victim.kill()
		nodes[round] = startDaemon(t, dirs[round], "--config", cfgs[round])
		<-done
		sent += step
		// Whether the kill fell between a Badger commit and the group's:
		// then the restarted node starts after its own stored offsets.
		check(fmt.Sprintf("after kill -9 of node %d", round+1), nodes[:], sent)
		t.Logf("node %d restarted after kill -9; partitions resumed from its own offsets, ahead of the group's: %d",
			round+1, strings.Count(nodes[round].logs(), "resumes from this node's stored offset"))
	}

	// Node 3 stops: its partitions move to the others; then it joins again.
	nodes[2].stop()
	kcatProduce(t, brokers, "logs", kafkaLines(t, sent, step))
	// Only once the group has moved node 3's partitions (its session
	// timed out) can the two others store all of these.
	moved := poll(3*time.Minute, 200*time.Millisecond, func() bool {
		byN, _, _ := stored(nodes[:2], true)
		for k := sent; k < sent+step; k++ {
			if byN[fmt.Sprint(k)] != 1 {
				return false
			}
		}
		return true
	})
	if !moved {
		t.Fatalf("the records sent while node 3 was away were not all stored once by nodes 1 and 2")
	}
	// Node 3's own entries are back once it runs again.
	nodes[2] = startDaemon(t, dirs[2], "--config", cfgs[2])
	kcatProduce(t, brokers, "logs", kafkaLines(t, sent+step, step))
	check("after a node left and joined", nodes[:], sent+2*step)

	// The nodes count in their metrics what they consumed since they
	// started, and the group's changes.
	var consumed, rebalances float64
	for _, d := range nodes {
		_, body := d.do("GET", "/metrics", "", nil)
		for _, line := range strings.Split(string(body), "\n") {
			var v float64
			if _, err := fmt.Sscanf(line, `logengine_kafka_records_total{topic="logs"} %g`, &v); err == nil {
				consumed += v
			}
			if strings.HasPrefix(line, "logengine_kafka_rebalances_total{") {
				f := strings.Fields(line)
				_, _ = fmt.Sscanf(f[len(f)-1], "%g", &v)
				rebalances += v
			}
		}
	}
	if consumed == 0 || rebalances == 0 {
		t.Errorf("the nodes' metrics count %g records consumed and %g rebalances", consumed, rebalances)
	}
}

// TestSyslogNGKafka: syslog-ng's kafka-c() destination (librdkafka) sends
// a Loghub file's lines to a topic, and the daemon stores the same entries
// as the text ingest of the same lines.
func TestSyslogNGKafka(t *testing.T) {
	bin, err := exec.LookPath("syslog-ng")
	if err == nil {
		_, err = os.Stat("/usr/lib/syslog-ng/3.38/libkafka.so")
	}
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("syslog-ng's kafka-c() is not installed (.ci/run installs syslog-ng-mod-rdkafka)")
		}
		t.Skip("syslog-ng's kafka-c() is not installed (apt-get install syslog-ng-core syslog-ng-mod-rdkafka)")
	}
	dir := t.TempDir()
	hdfs, body, n := loghub(t, dir, "HDFS")
	c := kafkatest.Start(t, kafkatest.Options{Topics: []string{"sng"}})
	brokers := strings.Join(c.ListenAddrs(), ",")
	cfg := filepath.Join(dir, "logengine.yaml")
	writeFile(t, cfg, fmt.Sprintf("retention: 0\nkafka:\n  brokers: [%s]\n  topics: [sng]\n  group: sng\n  format: text\n  source: sng-hdfs\n", brokers))
	d := startDaemon(t, filepath.Join(dir, "data"), "--config", cfg)
	if code, ans := d.ingest("text/plain", string(body), "source=ref-hdfs"); code != 200 || ans.Accepted != n {
		t.Fatalf("reference ingest: %d %+v", code, ans)
	}
	ref := d.all("q=" + url.QueryEscape("source:ref-hdfs"))

	conf := filepath.Join(dir, "syslog-ng.conf")
	writeFile(t, conf, fmt.Sprintf(`@version: 3.38
options { chain-hostnames(no); stats-freq(0); time-reopen(2); };
source s_hdfs { file("%s" flags(no-parse) follow-freq(1)); };
destination d_kafka {
  kafka-c(bootstrap-servers("%s") topic("sng") message("${MESSAGE}")
          config("acks" => "all"));
};
log { source(s_hdfs); destination(d_kafka); };
`, hdfs, brokers))
	if out, err := exec.Command(bin, "--syntax-only", "-f", conf).CombinedOutput(); err != nil {
		t.Fatalf("syslog-ng --syntax-only: %v\n%s", err, out)
	}
	startProcess(t, bin, "-F", "--stderr", "-f", conf,
		"-R", filepath.Join(dir, "persist"), "-p", filepath.Join(dir, "pid"), "-c", filepath.Join(dir, "ctl"))
	var got []entry
	if !poll(3*time.Minute, 250*time.Millisecond, func() bool {
		got = d.all("q=" + url.QueryEscape("source:sng-hdfs"))
		return len(got) >= n
	}) || len(got) != n {
		t.Fatalf("syslog-ng kafka-c(): %d entries stored, want %d", len(got), n)
	}
	sameEntries(t, "syslog-ng kafka-c()", got, ref)
}

// TestGatewayToConsumers: a gateway node (kafka.produce) writes what it
// receives to a topic that two storing nodes consume; between them they
// hold the entries a single daemon stores from the same request, with
// their timestamps, levels, sources, tags and typed fields.
func TestGatewayToConsumers(t *testing.T) {
	c := kafkatest.Start(t, kafkatest.Options{Topics: []string{"logs"}, Partitions: 4})
	brokers := strings.Join(c.ListenAddrs(), ", ")
	dir := t.TempDir()
	gwCfg := filepath.Join(dir, "gateway.yaml")
	writeFile(t, gwCfg, fmt.Sprintf("retention: 0\nkafka:\n  brokers: [%s]\n  produce: true\n  produce_topic: logs\n", brokers))
	gw := startDaemon(t, filepath.Join(dir, "gw"), "--config", gwCfg)
	var nodes []*daemon
	for i := range 2 {
		cfg := filepath.Join(dir, fmt.Sprintf("node%d.yaml", i))
		writeFile(t, cfg, fmt.Sprintf("retention: 0\nkafka:\n  brokers: [%s]\n  topics: [logs]\n  group: store\n  instance_id: node%d\n", brokers, i))
		nodes = append(nodes, startDaemon(t, filepath.Join(dir, fmt.Sprintf("node%d", i)), "--config", cfg))
	}
	single := startDaemon(t, filepath.Join(dir, "single"))

	var body strings.Builder
	const n = 300
	for i := range n {
		fmt.Fprintf(&body, `{"timestamp":"2026-12-04T06:00:%02d.%09dZ","level":"%s","source":"%s","message":"request %d done","tags":["prod","t%d"],"status":%d,"latency_ms":%d.5,"cached":%v,"user":{"id":"u%d"}}`+"\n",
			i%60, i, []string{"info", "error", "warn"}[i%3], []string{"api", "auth", "db"}[i%3], i, i%2, 200+i%5, i, i%3 == 0, i%7)
	}
	for _, d := range []*daemon{gw, single} {
		if code, ans := d.ingest("application/x-ndjson", body.String(), ""); code != 200 || ans.Accepted != n {
			t.Fatalf("POST to %s: %d %+v", d.url, code, ans)
		}
	}
	var got []entry
	if !poll(2*time.Minute, 200*time.Millisecond, func() bool {
		got = got[:0]
		for _, d := range nodes {
			got = append(got, d.all("")...)
		}
		return len(got) >= n
	}) || len(got) != n {
		t.Fatalf("the consuming nodes store %d entries, want %d", len(got), n)
	}
	key := func(e entry) string {
		f, _ := json.Marshal(e.Fields)
		return strings.Join([]string{e.Timestamp, e.Level, e.Source, e.Message, strings.Join(e.Tags, ","), string(f)}, "|")
	}
	want := map[string]int{}
	for _, e := range single.all("") {
		want[key(e)]++
	}
	for _, e := range got {
		k := key(e)
		if want[k] == 0 {
			t.Fatalf("stored through the gateway and Kafka: %s\nnot stored so by a single daemon, e.g. %v", k, want)
		}
		want[k]--
	}
}
