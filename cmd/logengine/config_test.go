package main

import (
	"context"
	"encoding/pem"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/logengine/logengine/cluster"
)

func writeFile(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "logengine.yaml")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestConfigPrecedence(t *testing.T) {
	file := writeFile(t, "listen: 127.0.0.1:9000\nretention: 7d\ndata_dir: /from/file\nlog_level: warn\n")
	t.Setenv("LOGENGINE_RETENTION", "14d")
	t.Setenv("LOGENGINE_DATA_DIR", "/from/env")
	cfg, _, err := serveConfig([]string{"--config", file, "--data-dir", "/from/flag"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.DataDir != "/from/flag" {
		t.Errorf("data_dir = %q: a flag must win over env and file", cfg.DataDir)
	}
	if time.Duration(cfg.Retention) != 14*24*time.Hour {
		t.Errorf("retention = %v: env must win over the file", cfg.Retention)
	}
	if cfg.Listen != "127.0.0.1:9000" || cfg.LogLevel != "warn" {
		t.Errorf("file values lost: %+v", cfg)
	}
	if !cfg.SyncWrites {
		t.Error("sync_writes default must be true")
	}
}

func TestConfigValidate(t *testing.T) {
	cases := []struct {
		name string
		args []string
		file string
		env  map[string]string
		want string // substring of the error; empty: valid
	}{
		{name: "defaults"},
		{name: "public without keys", args: []string{"--listen", "0.0.0.0:8080"}, want: "not a loopback address and no API keys"},
		{name: "public with keys", args: []string{"--listen", "0.0.0.0:8080", "--api-key", "ops:admin:0123456789abcdef0123"}},
		{name: "keys from env", args: []string{"--listen", "0.0.0.0:8080"}, env: map[string]string{"LOGENGINE_API_KEYS": "a:ingest:0123456789abcdef,b:query:fedcba9876543210"}},
		{name: "bad role", args: []string{"--api-key", "ops:root:0123456789abcdef0123"}, want: "role"},
		{name: "bad retention", args: []string{"--retention", "forever"}, want: "not a duration"},
		{name: "unknown key in file", file: "listn: 127.0.0.1:1\n", want: "listn"},
		{name: "bad log level", file: "log_level: loud\n", want: "log_level"},
		{name: "tls half", file: "tls: {cert: a.pem}\n", want: "tls"},
		{name: "bad pipeline", file: "pipeline:\n  - type: nonsense\n", want: "pipeline[0]"},
		{name: "missing geoip database", file: "pipeline:\n  - {type: useragent}\n  - {type: geoip, database: /nonexistent/GeoLite2-City.mmdb}\n",
			want: "pipeline[1].database: /nonexistent/GeoLite2-City.mmdb does not exist"},
		{name: "cluster", args: []string{"--peer", "http://10.0.0.2:8080", "--peer", "dns+http://logengine:8080", "--peer-key", "0123456789abcdef"}},
		{name: "peers from env", env: map[string]string{"LOGENGINE_PEERS": "http://10.0.0.2:8080, https://10.0.0.3:8443", "LOGENGINE_PEER_KEY": "0123456789abcdef"}},
		{name: "cluster on a free port", args: []string{"--listen", "127.0.0.1:0", "--peer-key", "0123456789abcdef"}, want: "cluster.node_name: required"},
		{name: "named node on a free port", args: []string{"--listen", "127.0.0.1:0", "--peer-key", "0123456789abcdef", "--node-name", "a"}},
		{name: "peers without key", args: []string{"--peer", "http://10.0.0.2:8080"}, want: "cluster.peer_key: required"},
		{name: "short peer key", file: "cluster: {peer_key: short}\n", want: "cluster.peer_key: shorter than 16"},
		{name: "peer without port", file: "cluster: {peer_key: 0123456789abcdef, peers: [http://node-2]}\n", want: "cluster.peers[0]: peer \"http://node-2\": give a host and a port"},
		{name: "peer with path", args: []string{"--peer", "http://node-2:8080/api"}, want: "no path"},
		{name: "peer scheme", file: "cluster: {peer_key: 0123456789abcdef, peers: [\"node-2:8080\"]}\n", want: "write http://host:port"},
		{name: "dns peer with an address", file: "cluster: {peer_key: 0123456789abcdef, peers: [\"dns+http://10.0.0.1:80\"]}\n", want: "dns+ takes a DNS name"},
		{name: "negative peer timeout", file: "cluster: {peer_key: 0123456789abcdef, timeout: -1s}\n", want: "cluster.timeout"},
		{name: "missing peer CA file", file: "cluster: {peer_key: 0123456789abcdef, ca_file: /nonexistent/ca.pem}\n", want: "cluster.ca_file: open /nonexistent/ca.pem"},
		{name: "peer CA file without a certificate", file: "cluster: {peer_key: 0123456789abcdef, ca_file: config_test.go}\n", want: "holds no PEM certificate"},
		{name: "geoip without database", file: "pipeline:\n  - {type: geoip, field: client_ip}\n", want: "pipeline[0].database: is required"},
		{name: "kafka", file: "kafka:\n  brokers: [k1:9092, k2:9092]\n  sasl: {mechanism: scram-sha-512, username: u, password: p}\n"},
		{name: "kafka broker without port", file: "kafka:\n  brokers: [k1]\n", want: `kafka.brokers[0]: "k1" must be host:port`},
		{name: "gc_percent too low", file: "gc_percent: 5\n", want: `gc_percent: 5: must be -1 (off) or at least 10`},
		{name: "kafka consumer", file: "kafka:\n  brokers: [k1:9092]\n  topics: [logs, audit]\n  group: g\n  format: ndjson\n  headers: [host]\n  parse_message: true\n"},
		{name: "kafka gateway consuming", file: "kafka:\n  brokers: [k1:9092]\n  topics: [logs]\n  produce: true\n  produce_topic: logs\n", want: "kafka.topics: a gateway"},
		{name: "kafka bad format", file: "kafka:\n  brokers: [k1:9092]\n  topics: [logs]\n  format: xml\n", want: `kafka.format: "xml" is not one of auto, json, ndjson, text`},
		{name: "kafka bad topic", file: "kafka:\n  brokers: [k1:9092]\n  topics: [\"a b\"]\n", want: "kafka.topics[0]"},
		{name: "kafka empty header", file: "kafka:\n  brokers: [k1:9092]\n  topics: [logs]\n  headers: [\"\"]\n", want: "kafka.headers[0]"},
		{name: "kafka flags", args: []string{"--kafka-brokers", "k1:9092,k2:9092", "--kafka-topic", "a", "--kafka-topic", "b", "--kafka-group", "g"}},
		{name: "kafka env", env: map[string]string{"LOGENGINE_KAFKA_BROKERS": "k1:9092", "LOGENGINE_KAFKA_TOPICS": "a,b", "LOGENGINE_KAFKA_GROUP": "g"}},
		{name: "kafka flag broker without port", args: []string{"--kafka-brokers", "k1", "--kafka-topic", "a"}, want: "kafka.brokers[0]"},
		{name: "kafka bad mechanism", file: "kafka:\n  brokers: [k1:9092]\n  sasl: {mechanism: kerberos, username: u, password: p}\n", want: "kafka.sasl.mechanism"},
		{name: "gateway", file: "kafka:\n  brokers: [k1:9092]\n  produce: true\n  produce_topic: logs\n  produce_timeout: 5s\n"},
		{name: "gateway flags", args: []string{"--kafka-brokers", "k1:9092", "--kafka-produce", "--kafka-produce-topic", "logs"}},
		{name: "gateway env", env: map[string]string{"LOGENGINE_KAFKA_BROKERS": "k1:9092", "LOGENGINE_KAFKA_PRODUCE": "true", "LOGENGINE_KAFKA_PRODUCE_TOPIC": "logs"}},
		{name: "gateway flag without topic", args: []string{"--kafka-brokers", "k1:9092", "--kafka-produce"}, want: "kafka.produce_topic: missing"},
		{name: "gateway without brokers", file: "kafka:\n  produce: true\n  produce_topic: logs\n", want: "kafka.produce: needs kafka.brokers"},
		{name: "gateway without topic", file: "kafka:\n  brokers: [k1:9092]\n  produce: true\n", want: "kafka.produce_topic: missing"},
		{name: "gateway bad topic", file: "kafka:\n  brokers: [k1:9092]\n  produce: true\n  produce_topic: a/b\n", want: `kafka.produce_topic: "a/b" must be`},
		{name: "topic without produce", file: "kafka:\n  brokers: [k1:9092]\n  produce_topic: logs\n", want: "set kafka.produce: true"},
		{name: "gateway negative timeout", file: "kafka:\n  brokers: [k1:9092]\n  produce: true\n  produce_topic: logs\n  produce_timeout: -1s\n", want: "kafka.produce_timeout"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			for k, v := range c.env {
				t.Setenv(k, v)
			}
			args := c.args
			if c.file != "" {
				args = append([]string{"--config", writeFile(t, c.file)}, args...)
			}
			var stderr strings.Builder // flag errors are printed there
			_, _, err := serveConfig(args, &stderr)
			switch {
			case c.want == "" && err != nil:
				t.Fatalf("unexpected error: %v", err)
			case c.want != "" && (err == nil || !strings.Contains(err.Error()+stderr.String(), c.want)):
				t.Fatalf("error %v (%s), want one mentioning %q", err, stderr.String(), c.want)
			}
		})
	}
}

func TestPrintConfigMasksSecrets(t *testing.T) {
	file := writeFile(t, "kafka:\n  brokers: [k1:9092]\n  sasl: {mechanism: PLAIN, username: u, password: kafka-secret-456}\n")
	cfg, printOnly, err := serveConfig([]string{"--config", file, "--api-key", "ops:admin:super-secret-value-123", "--peer-key", "peer-secret-value-789", "--print-config"}, io.Discard)
	if err != nil || !printOnly {
		t.Fatalf("serveConfig: %v, print=%v", err, printOnly)
	}
	out := cfg.masked()
	if strings.Contains(out, "super-secret-value-123") || strings.Contains(out, "kafka-secret-456") || strings.Contains(out, "peer-secret-value-789") || !strings.Contains(out, "***") {
		t.Fatalf("masked config shows the secret:\n%s", out)
	}
}

// TestExampleConfigIsValid keeps the shipped example loadable, and its
// commented pipeline example valid once uncommented.
func TestExampleConfigIsValid(t *testing.T) {
	path := filepath.Join("..", "..", "data", "logengine.example.yaml")
	if _, _, err := serveConfig([]string{"--config", path}, io.Discard); err != nil {
		t.Fatalf("example config: %v", err)
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var pipeline []string
	in := false
	for _, line := range strings.Split(string(raw), "\n") {
		if strings.HasPrefix(line, "# pipeline:") {
			in = true
		}
		if in && strings.HasPrefix(line, "#") {
			pipeline = append(pipeline, strings.TrimPrefix(strings.TrimPrefix(line, "#"), " "))
		}
	}
	if len(pipeline) < 5 {
		t.Fatalf("no pipeline example found")
	}
	if _, _, err := serveConfig([]string{"--config", writeFile(t, strings.Join(pipeline, "\n"))}, io.Discard); err != nil {
		t.Fatalf("the example pipeline does not validate: %v\n%s", err, strings.Join(pipeline, "\n"))
	}
}

func TestKafkaFlagsAndEnv(t *testing.T) {
	t.Setenv("LOGENGINE_KAFKA_TOPICS", "a, b")
	t.Setenv("LOGENGINE_KAFKA_GROUP", "from-env")
	cfg, _, err := serveConfig([]string{"--kafka-brokers", "k1:9092,k2:9092", "--kafka-group", "from-flag"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(cfg.Kafka.Brokers, " ") != "k1:9092 k2:9092" || strings.Join(cfg.Kafka.Topics, " ") != "a b" || cfg.Kafka.Group != "from-flag" {
		t.Errorf("kafka = brokers %q topics %q group %q", cfg.Kafka.Brokers, cfg.Kafka.Topics, cfg.Kafka.Group)
	}
	cfg, _, err = serveConfig([]string{"--kafka-brokers", "k1:9092", "--kafka-topic", "x", "--kafka-topic", "y,z"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(cfg.Kafka.Topics, " ") != "x y z" {
		t.Errorf("repeated --kafka-topic gave %q", cfg.Kafka.Topics)
	}
}

// TestClusterCAFile: with cluster.ca_file naming the authority of a peer's
// certificate, peer calls over https reach it; without, they fail its
// verification.
func TestClusterCAFile(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set(cluster.NodeHeader, "n2")
		io.WriteString(w, "ok")
	}))
	defer srv.Close()
	ca := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	// get returns what the peer answered, or "" when it is missing.
	get := func(c ClusterConfig) string {
		opts, err := c.options("n1")
		if err != nil {
			t.Fatal(err)
		}
		cl, err := cluster.New(opts)
		if err != nil {
			t.Fatal(err)
		}
		defer cl.Close()
		got := ""
		missing, err := cl.Gather(context.Background(), "stats", "/api/v1/stats", nil, func(node string, body []byte) error {
			got = node + " " + string(body)
			return nil
		})
		if err != nil || (len(missing) == 0) == (got == "") {
			t.Fatalf("gather: %v, missing %v, answer %q", err, missing, got)
		}
		return got
	}
	c := ClusterConfig{Peers: []string{srv.URL}, PeerKey: "0123456789abcdef"}
	if got := get(c); got != "" {
		t.Fatalf("without the CA file the peer answered %q", got)
	}
	c.CAFile = ca
	if got := get(c); got != "n2 ok" {
		t.Fatalf("with the CA file the peer answered %q, want n2 ok", got)
	}
}

// TestTruncateDamagedLogsFlag: the flag reaches the configuration, and no
// configuration file can set it for good.
func TestTruncateDamagedLogsFlag(t *testing.T) {
	cfg, _, err := serveConfig([]string{"--truncate-damaged-logs"}, io.Discard)
	if err != nil || !cfg.TruncateDamagedLogs {
		t.Fatalf("--truncate-damaged-logs: %v, set %v", err, cfg.TruncateDamagedLogs)
	}
	file := writeFile(t, "truncate_damaged_logs: true\n")
	if _, _, err := serveConfig([]string{"--config", file}, io.Discard); err == nil {
		t.Fatal("a configuration file set truncate_damaged_logs")
	}
}

// TestGatewayFlags: the gateway flags set the kafka section's keys.
func TestGatewayFlags(t *testing.T) {
	cfg, _, err := serveConfig([]string{"--kafka-brokers", "k1:9092", "--kafka-produce", "--kafka-produce-topic", "logs-in"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if !cfg.Kafka.Produce || cfg.Kafka.ProduceTopic != "logs-in" {
		t.Fatalf("kafka.produce %v, produce_topic %q", cfg.Kafka.Produce, cfg.Kafka.ProduceTopic)
	}
}
