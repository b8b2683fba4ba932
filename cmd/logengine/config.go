package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"os"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/logengine/logengine/alerting"
	"github.com/logengine/logengine/gateway"
	"github.com/logengine/logengine/httpapi"
	"github.com/logengine/logengine/ingest"
	"github.com/logengine/logengine/internal/duration"
	"github.com/logengine/logengine/internal/kafkaclient"
	"github.com/logengine/logengine/retention"
	"github.com/logengine/logengine/search"
)

// Config is the daemon's whole configuration: defaults, then the YAML file,
// then LOGENGINE_* environment variables, then flags.
type Config struct {
	DataDir string `yaml:"data_dir"`
	Listen  string `yaml:"listen"`
	// Retention is how long logs are kept; zero keeps them forever.
	Retention Duration `yaml:"retention"`
	// RetentionBySource keeps the named sources for a shorter time than
	// Retention (e.g. a debug-heavy service for 2d).
	RetentionBySource map[string]Duration `yaml:"retention_by_source"`
	// RetentionSchedule is the cron schedule of the retention job.
	RetentionSchedule string `yaml:"retention_schedule"`
	// SyncWrites makes every acknowledged batch durable on disk (fsync).
	SyncWrites bool `yaml:"sync_writes"`
	// IndexedFields are fields that get secondary index keys, making
	// field:value queries on them fast.
	IndexedFields []string `yaml:"indexed_fields"`
	// LogLevel of the daemon's own log: debug, info, warn, error.
	LogLevel string `yaml:"log_level"`
	// LogFormat of the daemon's own log: text or json.
	LogFormat string `yaml:"log_format"`
	// MemoryLimit is the Go runtime's soft memory limit in bytes: the
	// garbage collector works harder near it instead of letting heap slack
	// grow under sustained load. Zero leaves the runtime's default (or
	// GOMEMLIMIT from the environment).
	MemoryLimit int64 `yaml:"memory_limit"`
	// GCPercent is the garbage collector's target (Go's GOGC): the heap
	// grows to this percentage above what is live before a collection.
	// 60 rather than Go's 100: under ingest the live heap is ~300 MB
	// (memtables, the table being flushed, the indexer's batch), and the
	// slack above it was most of the peak RSS; 60 cut the peak by 80–150
	// MiB for 2–8% more CPU (README, Performance). -1 turns collection off
	// (use with memory_limit only); GOGC in the environment wins.
	GCPercent int `yaml:"gc_percent"`
	// DebugListen, when set, serves Go's pprof profiles on this address
	// (keep it on loopback: profiles are not authenticated).
	DebugListen string `yaml:"debug_listen"`
	// TruncateDamagedLogs opens a store whose write-ahead log has a bad
	// entry before whole ones, dropping everything from it on: the way
	// out after a power loss. A flag for one start, never a setting.
	TruncateDamagedLogs bool `yaml:"-"`

	Auth struct {
		Keys []httpapi.Key `yaml:"keys"`
	} `yaml:"auth"`
	TLS struct {
		Cert string `yaml:"cert"`
		Key  string `yaml:"key"`
	} `yaml:"tls"`
	Limits struct {
		// MaxBodyBytes bounds an ingest request body.
		MaxBodyBytes int64 `yaml:"max_body_bytes"`
		// MaxInflightBytes bounds the ingest bodies handled at once;
		// beyond it requests are answered 429, which bounds memory.
		MaxInflightBytes int64 `yaml:"max_inflight_bytes"`
		// QueryTimeout bounds the time one search may take.
		QueryTimeout Duration `yaml:"query_timeout"`
		// MaxQueryRange refuses searches spanning more time; zero keeps
		// all-time searches, which the query timeout bounds anyway.
		MaxQueryRange Duration `yaml:"max_query_range"`
		// MaxGroupBytes bounds the memory of the groups of one
		// aggregation or grouped histogram, in bytes: a group-by over more
		// distinct keys answers 422 instead of running out of memory.
		MaxGroupBytes int64 `yaml:"max_group_bytes"`
		// MaxFuture rejects entries stamped further ahead than this.
		MaxFuture Duration `yaml:"max_future"`
		// RatePerSecond and Burst bound requests per API key (per client
		// address without keys) with a token bucket; zero turns it off.
		RatePerSecond float64       `yaml:"rate_per_second"`
		Burst         int           `yaml:"burst"`
		Ingest        ingest.Limits `yaml:"ingest"`
	} `yaml:"limits"`
	// Pipeline is the enrichment and filter steps run on every entry
	// before it is stored.
	Pipeline ingest.PipelineConfig `yaml:"pipeline"`
	// Elasticsearch configures the Elasticsearch bulk API (POST /_bulk):
	// which document fields give the timestamp, level, source and message.
	Elasticsearch ingest.BulkOptions `yaml:"elasticsearch"`
	// Loki configures the Loki push API (POST /loki/api/v1/push).
	Loki ingest.LokiOptions `yaml:"loki"`
	// Syslog configures the syslog listeners, all off by default.
	Syslog SyslogConfig `yaml:"syslog"`
	// Alerting configures alert evaluation and notifications.
	Alerting AlertingConfig `yaml:"alerting"`
	// Patterns configures the mining of message templates at ingest.
	Patterns PatternsConfig `yaml:"patterns"`
	// Cluster names the peers this node asks when it answers a query.
	Cluster ClusterConfig `yaml:"cluster"`
	// Kafka connects the node to a Kafka cluster; off while no brokers are
	// named.
	Kafka KafkaConfig `yaml:"kafka"`
}

// KafkaConfig is the kafka section: one connection (brokers, TLS, SASL)
// shared by consuming logs from topics and by the gateway mode that
// produces to Kafka what the node receives.
type KafkaConfig struct {
	kafkaclient.Config `yaml:",inline"`

	// Consuming logs from Kafka topics.

	// Topics are consumed when listed; none turns consuming off.
	Topics []string `yaml:"topics"`
	// Group is the consumer group the node joins; empty means "logengine".
	// Nodes of one group share the topics' partitions; a second group
	// stores a second copy.
	Group string `yaml:"group"`
	// InstanceID makes the node a static member of the group, so that a
	// restart within session_timeout keeps its partitions; unique per node.
	InstanceID string `yaml:"instance_id"`
	// SessionTimeout is how long the group waits for a silent node before
	// its partitions move; zero means 45s.
	SessionTimeout Duration `yaml:"session_timeout"`
	// Format of a record's value: auto (a JSON object or array, NDJSON or
	// text lines, told apart per record), json, ndjson or text.
	Format string `yaml:"format"`
	// Source is the source of entries that name none.
	Source string `yaml:"source"`
	// Headers are the record headers that become fields of its entries.
	Headers []string `yaml:"headers"`
	// ParseMessage reads a timestamp and level at the start of JSON
	// records' messages, for shippers that send the lines they tail as
	// {"message": "..."}; text records are always read so.
	ParseMessage bool `yaml:"parse_message"`

	// Producing to Kafka (gateway mode).

	// Produce makes the node a gateway: what it receives over HTTP, the
	// Elasticsearch, Loki and OTLP endpoints and syslog is written to
	// ProduceTopic instead of its own store, and acknowledged once Kafka
	// has acknowledged it.
	Produce bool `yaml:"produce"`
	// ProduceTopic is the topic a gateway writes to; it must exist.
	ProduceTopic string `yaml:"produce_topic"`
	// ProduceTimeout bounds how long a request waits for Kafka's
	// acknowledgement before it is answered 503; zero means 10s.
	ProduceTimeout Duration `yaml:"produce_timeout"`
}

// validate checks the section when it is used.
func (k *KafkaConfig) validate() []error {
	var errs []error
	if k.Produce {
		if len(k.Brokers) == 0 {
			errs = append(errs, errors.New("kafka.produce: needs kafka.brokers, the cluster to write to"))
		}
		if err := gateway.CheckTopic(k.ProduceTopic); err != nil {
			errs = append(errs, fmt.Errorf("kafka.produce_topic: %w", err))
		}
	} else if k.ProduceTopic != "" {
		errs = append(errs, errors.New("kafka.produce_topic: set kafka.produce: true to write to it, or remove it"))
	}
	if k.ProduceTimeout < 0 {
		errs = append(errs, errors.New("kafka.produce_timeout: must not be negative (0 means 10s)"))
	}
	if len(k.Brokers) == 0 {
		return errs
	}
	for _, p := range k.Problems("kafka.") {
		errs = append(errs, errors.New(p))
	}
	if k.Produce && len(k.Topics) > 0 {
		errs = append(errs, errors.New("kafka.topics: a gateway (kafka.produce: true) writes what it receives to Kafka and stores nothing; consume the topics on the storing nodes"))
	}
	if _, ok := kafkaFormats[k.Format]; !ok {
		errs = append(errs, fmt.Errorf("kafka.format: %q is not one of auto, json, ndjson, text", k.Format))
	}
	for i, t := range k.Topics {
		if strings.TrimSpace(t) == "" || strings.ContainsAny(t, " /") {
			errs = append(errs, fmt.Errorf("kafka.topics[%d]: %q is not a topic name (no spaces or slashes)", i, t))
		}
	}
	for i, h := range k.Headers {
		if strings.TrimSpace(h) == "" {
			errs = append(errs, fmt.Errorf("kafka.headers[%d]: empty; name a record header", i))
		}
	}
	if k.SessionTimeout < 0 {
		errs = append(errs, errors.New("kafka.session_timeout: must not be negative (0 means 45s)"))
	}
	return errs
}

// kafkaFormats maps kafka.format onto the decoders.
var kafkaFormats = map[string]ingest.Format{
	"": ingest.FormatAuto, "auto": ingest.FormatAuto, "json": ingest.FormatJSON,
	"ndjson": ingest.FormatNDJSON, "text": ingest.FormatText,
}

// PatternsConfig is the patterns section of the configuration.
type PatternsConfig struct {
	// Enabled gives every entry stored from now on the id of its message
	// template ("pattern"); off, entries are stored without one.
	Enabled bool `yaml:"enabled"`
}

// AlertingConfig is the alerting section of the configuration.
type AlertingConfig struct {
	// RulesFile names a YAML file of alert rules and notifiers (rules as
	// code, see data/alert-rules.example.yaml); empty means none.
	RulesFile string `yaml:"rules_file"`
	// EvalInterval is how often every rule is evaluated on exact counts
	// from storage (this resolves alerts and catches "fewer than N"); the
	// ingest path evaluates as logs arrive regardless.
	EvalInterval Duration `yaml:"eval_interval"`
	// AllowedNotifierHosts limits where notifiers may send: host names,
	// *.domain wildcards, IP addresses and CIDR ranges; empty allows any.
	AllowedNotifierHosts []string `yaml:"allowed_notifier_hosts"`
	// ExternalURL is this daemon's URL as users reach it; when set,
	// Alertmanager alerts link back to their rule.
	ExternalURL string `yaml:"external_url"`
	// Evaluate makes this node evaluate the rules with a window; unset
	// means true. In a cluster, set it on one node only (it counts every
	// node's logs) and false on the others, so that no notification is
	// sent twice; rules with a window of zero fire on every node for the
	// logs it stores regardless.
	Evaluate *bool `yaml:"evaluate"`
}

// evaluates reports whether this node evaluates the rules with a window.
func (c AlertingConfig) evaluates() bool { return c.Evaluate == nil || *c.Evaluate }

// SyslogConfig is the syslog section of the configuration.
type SyslogConfig struct {
	// TCP, UDP and TLS are the addresses to listen on (host:port); empty
	// turns that listener off. Syslog has no authentication.
	TCP string `yaml:"tcp"`
	UDP string `yaml:"udp"`
	TLS string `yaml:"tls"`
	// TLSCert and TLSKey are the TLS listener's certificate and key files;
	// empty takes tls.cert and tls.key.
	TLSCert string `yaml:"tls_cert"`
	TLSKey  string `yaml:"tls_key"`
	// Source is the source of messages without an app-name (default
	// "unknown").
	Source string `yaml:"source"`
	// ParseMessage reads a timestamp and level at the start of each message
	// and prefers them to the syslog header's, for relays forwarding lines
	// they read from files.
	ParseMessage bool `yaml:"parse_message"`
	// MaxMessageBytes bounds one message; zero means limits.ingest.max_line_bytes.
	MaxMessageBytes int `yaml:"max_message_bytes"`
	// MaxConnections bounds concurrent TCP and TLS connections; zero means 1024.
	MaxConnections int `yaml:"max_connections"`
}

// enabled reports whether any syslog listener is configured.
func (c SyslogConfig) enabled() bool { return c.TCP != "" || c.UDP != "" || c.TLS != "" }

// DefaultConfig returns the configuration of a daemon started with no
// flags, environment or file.
func DefaultConfig() Config {
	c := Config{
		DataDir:           "./data",
		Listen:            "127.0.0.1:8080",
		Retention:         Duration(30 * 24 * time.Hour),
		RetentionSchedule: "@every 1h",
		SyncWrites:        true,
		LogLevel:          "info",
		LogFormat:         "text",
		MemoryLimit:       1 << 30,
		GCPercent:         60,
	}
	c.Limits.MaxBodyBytes = 64 << 20
	c.Limits.MaxInflightBytes = 32 << 20
	c.Limits.QueryTimeout = Duration(30 * time.Second)
	c.Limits.MaxFuture = Duration(24 * time.Hour)
	c.Limits.MaxGroupBytes = search.DefaultMaxGroupBytes
	c.Alerting.EvalInterval = Duration(time.Minute)
	c.Patterns.Enabled = true
	c.Cluster.Timeout = Duration(10 * time.Second)
	c.Cluster.DNSRefresh = Duration(30 * time.Second)
	return c
}

// Validate checks the configuration, naming the key at fault.
func (c *Config) Validate() error {
	var errs []error
	errs = append(errs, c.Alerting.validate()...)
	errs = append(errs, c.Cluster.validate(c.Listen)...)
	errs = append(errs, c.Kafka.validate()...)
	if c.DataDir == "" {
		errs = append(errs, errors.New("data_dir: must not be empty"))
	}
	host, _, err := net.SplitHostPort(c.Listen)
	if err != nil {
		errs = append(errs, fmt.Errorf("listen: %q is not host:port (%v)", c.Listen, err))
	} else if len(c.Auth.Keys) == 0 && !isLoopback(host) {
		errs = append(errs, fmt.Errorf("listen: %s is not a loopback address and no API keys are configured; add keys (auth.keys, --api-key name:role:secret or LOGENGINE_API_KEYS) or listen on 127.0.0.1", c.Listen))
	}
	if c.Retention < 0 {
		errs = append(errs, errors.New("retention: must be 0 (keep forever) or positive, e.g. 30d"))
	}
	for src, d := range c.RetentionBySource {
		if d <= 0 || (c.Retention > 0 && d >= c.Retention) {
			errs = append(errs, fmt.Errorf("retention_by_source.%s: %s must be positive and shorter than retention (%s), which already applies to every source", src, d, c.Retention))
		}
	}
	for i, k := range c.Auth.Keys {
		if k.Name == "" {
			errs = append(errs, fmt.Errorf("auth.keys[%d].name: must not be empty", i))
		}
		if _, err := httpapi.ParseRole(string(k.Role)); err != nil {
			errs = append(errs, fmt.Errorf("auth.keys[%d].role: %v", i, err))
		}
		if k.Secret == "" {
			errs = append(errs, fmt.Errorf("auth.keys[%d].key: must not be empty", i))
		}
	}
	if c.DebugListen != "" {
		if h, _, err := net.SplitHostPort(c.DebugListen); err != nil || !isLoopback(h) {
			errs = append(errs, fmt.Errorf("debug_listen: %q must be a loopback host:port (profiles are not authenticated)", c.DebugListen))
		}
	}
	if (c.TLS.Cert == "") != (c.TLS.Key == "") {
		errs = append(errs, errors.New("tls: give both cert and key, or neither"))
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		errs = append(errs, fmt.Errorf("log_level: %q is not one of debug, info, warn, error", c.LogLevel))
	}
	switch c.LogFormat {
	case "text", "json":
	default:
		errs = append(errs, fmt.Errorf("log_format: %q is not one of text, json", c.LogFormat))
	}
	if c.MemoryLimit < 0 || (c.MemoryLimit > 0 && c.MemoryLimit < 256<<20) {
		errs = append(errs, errors.New("memory_limit: must be 0 (no limit) or at least 268435456 (256 MiB): the block cache and memtables alone take ~650 MiB under load"))
	}
	if c.GCPercent < -1 || (c.GCPercent >= 0 && c.GCPercent < 10) {
		errs = append(errs, fmt.Errorf("gc_percent: %d: must be -1 (off) or at least 10 (lower makes the collector run nearly all the time)", c.GCPercent))
	}
	if c.Limits.MaxBodyBytes <= 0 {
		errs = append(errs, errors.New("limits.max_body_bytes: must be positive"))
	}
	if c.Limits.MaxInflightBytes <= 0 {
		errs = append(errs, errors.New("limits.max_inflight_bytes: must be positive, e.g. 33554432 (32 MiB)"))
	}
	if c.Limits.MaxFuture <= 0 {
		errs = append(errs, errors.New("limits.max_future: must be positive, e.g. 1d"))
	}
	if c.Limits.RatePerSecond < 0 || c.Limits.Burst < 0 {
		errs = append(errs, errors.New("limits.rate_per_second and limits.burst: must be 0 (off) or positive"))
	}
	if c.Limits.QueryTimeout <= 0 {
		errs = append(errs, errors.New("limits.query_timeout: must be positive, e.g. 30s"))
	}
	if c.Limits.MaxGroupBytes < 1<<20 {
		errs = append(errs, errors.New("limits.max_group_bytes: must be at least 1048576 (1 MiB), e.g. 268435456 (256 MiB)"))
	}
	if c.Limits.MaxQueryRange < 0 {
		errs = append(errs, errors.New("limits.max_query_range: must be 0 (no limit) or positive, e.g. 31d"))
	}
	if err := c.Elasticsearch.Fields.Validate(); err != nil {
		errs = append(errs, fmt.Errorf("elasticsearch.fields: %w", err))
	}
	for _, l := range []struct{ key, addr string }{{"syslog.tcp", c.Syslog.TCP}, {"syslog.udp", c.Syslog.UDP}, {"syslog.tls", c.Syslog.TLS}} {
		if l.addr == "" {
			continue
		}
		if _, _, err := net.SplitHostPort(l.addr); err != nil {
			errs = append(errs, fmt.Errorf("%s: %q is not host:port (%v)", l.key, l.addr, err))
		}
	}
	if c.Syslog.TLS != "" && (c.Syslog.TLSCert == "") != (c.Syslog.TLSKey == "") {
		errs = append(errs, errors.New("syslog.tls_cert and syslog.tls_key: give both, or neither to use tls.cert and tls.key"))
	} else if c.Syslog.TLS != "" && c.Syslog.TLSCert == "" && c.TLS.Cert == "" {
		errs = append(errs, errors.New("syslog.tls: needs a certificate: set syslog.tls_cert and syslog.tls_key (or tls.cert and tls.key)"))
	}
	if c.Syslog.MaxMessageBytes < 0 || c.Syslog.MaxConnections < 0 {
		errs = append(errs, errors.New("syslog.max_message_bytes and syslog.max_connections: must be 0 (default) or positive"))
	}
	if _, err := ingest.NewPipeline(c.Pipeline); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

func (c AlertingConfig) validate() []error {
	var errs []error
	if c.EvalInterval < Duration(time.Second) {
		errs = append(errs, fmt.Errorf("alerting.eval_interval: %s is shorter than 1s", c.EvalInterval))
	}
	if err := (alerting.HostPolicy{Allowed: c.AllowedNotifierHosts}).Validate(); err != nil {
		errs = append(errs, fmt.Errorf("alerting.allowed_notifier_hosts: %w", err))
	}
	if c.ExternalURL != "" {
		if u, err := url.Parse(c.ExternalURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			errs = append(errs, fmt.Errorf("alerting.external_url: %q is not an http:// or https:// URL", c.ExternalURL))
		}
	}
	return errs
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// loadConfigFile reads a YAML file over c. Unknown keys are errors: a typo
// in a config file must not be silently ignored.
func loadConfigFile(c *Config, path string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("config file: %w", err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(c); err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("config file %s: %w", path, err)
	}
	return nil
}

// Duration is a time.Duration that reads and prints "30d", "12h", "0".
type Duration time.Duration

// UnmarshalYAML accepts durations with d and w units.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	v, err := duration.Parse(n.Value)
	if err != nil {
		return fmt.Errorf("line %d: %v", n.Line, err)
	}
	*d = Duration(v)
	return nil
}

// MarshalYAML prints the duration in its shortest form.
func (d Duration) MarshalYAML() (any, error) { return d.String(), nil }

func (d Duration) String() string { return duration.Format(time.Duration(d)) }

// Set implements flag.Value.
func (d *Duration) Set(s string) error {
	v, err := duration.Parse(s)
	if err != nil {
		return err
	}
	*d = Duration(v)
	return nil
}

// keyList is the repeatable --api-key name:role:secret flag; its
// environment form LOGENGINE_API_KEYS separates triples with commas.
type keyList []httpapi.Key

func (k *keyList) String() string { return fmt.Sprintf("%d keys", len(*k)) }

func (k *keyList) Set(v string) error {
	for _, triple := range strings.Split(v, ",") {
		triple = strings.TrimSpace(triple)
		if triple == "" {
			continue
		}
		parts := strings.SplitN(triple, ":", 3)
		if len(parts) != 3 || parts[0] == "" || parts[2] == "" {
			return errors.New("an API key is name:role:secret, for example shipper:ingest:3f9c0b2e")
		}
		role, err := httpapi.ParseRole(parts[1])
		if err != nil {
			return err
		}
		*k = append(*k, httpapi.Key{Name: parts[0], Role: role, Secret: parts[2]})
	}
	return nil
}

// stringList is a comma-separated list flag.
type stringList []string

func (s *stringList) String() string { return strings.Join(*s, ",") }

func (s *stringList) Set(v string) error {
	*s = nil
	return (*repeatedList)(s).Set(v)
}

// repeatedList is a repeatable flag whose values may also be
// comma-separated (its environment form).
type repeatedList []string

func (s *repeatedList) String() string { return strings.Join(*s, ",") }

func (s *repeatedList) Set(v string) error {
	for _, p := range strings.Split(v, ",") {
		if p = strings.TrimSpace(p); p != "" {
			*s = append(*s, p)
		}
	}
	return nil
}

// envName maps a flag name onto its environment variable. The daemon's
// repeatable --api-key name:role:secret becomes LOGENGINE_API_KEYS (a list);
// the clients' --api-key is the one key they send, LOGENGINE_API_KEY.
func envName(flagSet, flagName string) string {
	if flagName == "api-key" && flagSet == "logengine serve" {
		return "LOGENGINE_API_KEYS"
	}
	if flagName == "kafka-topic" {
		return "LOGENGINE_KAFKA_TOPICS"
	}
	if flagName == "peer" && flagSet == "logengine serve" {
		return "LOGENGINE_PEERS"
	}
	return "LOGENGINE_" + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// serveConfig builds the configuration of serve from flags, environment
// and file.
func serveConfig(args []string, stderr io.Writer) (Config, bool, error) {
	fs := newFlagSet("serve", stderr)
	def := DefaultConfig()
	var (
		configFile  = fs.String("config", "", "YAML configuration file (see data/logengine.example.yaml)")
		dataDir     = fs.String("data-dir", def.DataDir, "data directory")
		listen      = fs.String("listen", def.Listen, "address to listen on")
		retention   = def.Retention
		keys        keyList
		indexed     stringList
		syncWrites  = fs.Bool("sync-writes", def.SyncWrites, "fsync every acknowledged batch (turn off only for throw-away data)")
		tlsCert     = fs.String("tls-cert", "", "TLS certificate file (PEM)")
		tlsKey      = fs.String("tls-key", "", "TLS key file (PEM)")
		maxBody     = fs.Int64("max-body-bytes", def.Limits.MaxBodyBytes, "largest ingest request body")
		maxGroups   = fs.Int64("max-group-bytes", def.Limits.MaxGroupBytes, "memory of the groups of one aggregation or grouped histogram; beyond it 422")
		queryTO     = def.Limits.QueryTimeout
		queryRange  = def.Limits.MaxQueryRange
		logLevel    = fs.String("log-level", def.LogLevel, "debug, info, warn or error")
		logFormat   = fs.String("log-format", def.LogFormat, "text or json")
		printConfig = fs.Bool("print-config", false, "print the effective configuration (secrets masked) and exit")
		debugListen = fs.String("debug-listen", "", "serve pprof profiles on this address (e.g. 127.0.0.1:6060)")
		syslogTCP   = fs.String("syslog-tcp", "", "listen for syslog over TCP on this address (e.g. 127.0.0.1:5514)")
		syslogUDP   = fs.String("syslog-udp", "", "listen for syslog over UDP on this address")
		rulesFile   = fs.String("alerting-rules-file", "", "YAML file of alert rules and notifiers (see data/alert-rules.example.yaml)")
		evalEvery   = def.Alerting.EvalInterval
		patternsOn  = fs.Bool("patterns", def.Patterns.Enabled, "mine message templates at ingest (the pattern of each entry)")
		kafkaGroup  = fs.String("kafka-group", "", "Kafka consumer group this node joins (default logengine)")
		produce     = fs.Bool("kafka-produce", false, "gateway mode: write what this node receives to Kafka (--kafka-produce-topic) instead of storing it")
		produceTo   = fs.String("kafka-produce-topic", "", "the topic a gateway writes to; it must exist")
		truncLogs   = fs.Bool("truncate-damaged-logs", false, "start even when a write-ahead log has a bad entry before whole ones, dropping everything from it on (after a power loss; see README)")
		kafkaBrkrs  stringList
		kafkaTopics repeatedList
		peers       peerList
		peerKey     = fs.String("peer-key", "", "secret shared by the nodes of a cluster (cluster.peer_key)")
		nodeName    = fs.String("node-name", "", "this node's name in a cluster (default: host name and listen port)")
		peerTimeout = def.Cluster.Timeout
		evaluate    = fs.Bool("alerting-evaluate", true, "evaluate the alert rules with a window here (in a cluster: on one node only)")
	)
	fs.Var(&kafkaBrkrs, "kafka-brokers", "comma-separated Kafka seed brokers (host:port)")
	fs.Var(&kafkaTopics, "kafka-topic", "Kafka topic to consume logs from (repeatable)")
	fs.Var(&peers, "peer", "another node of the cluster: http://host:port or dns+http://name:port (repeatable)")
	fs.Var(&peerTimeout, "peer-timeout", "longest wait for a peer's answer; slower peers are missing from it (partial)")
	fs.Var(&evalEvery, "alerting-eval-interval", "how often every alert rule is evaluated on exact counts")
	fs.Var(&retention, "retention", "how long logs are kept (30d, 12h; 0 keeps forever)")
	fs.Var(&keys, "api-key", "API key name:role:secret (repeatable; role ingest, query or admin)")
	fs.Var(&indexed, "indexed-fields", "comma-separated fields to index for fast field:value queries")
	fs.Var(&queryTO, "query-timeout", "longest time one search may take")
	fs.Var(&queryRange, "max-query-range", "widest time range one query may span (0: no limit)")
	set, err := parseFlags(fs, args)
	if err != nil {
		return Config{}, false, err
	}
	cfg := def
	if *configFile != "" {
		if err := loadConfigFile(&cfg, *configFile); err != nil {
			return Config{}, false, err
		}
	}
	for name := range set {
		switch name {
		case "data-dir":
			cfg.DataDir = *dataDir
		case "listen":
			cfg.Listen = *listen
		case "retention":
			cfg.Retention = retention
		case "api-key":
			cfg.Auth.Keys = append(cfg.Auth.Keys, keys...)
		case "indexed-fields":
			cfg.IndexedFields = indexed
		case "sync-writes":
			cfg.SyncWrites = *syncWrites
		case "tls-cert":
			cfg.TLS.Cert = *tlsCert
		case "tls-key":
			cfg.TLS.Key = *tlsKey
		case "max-body-bytes":
			cfg.Limits.MaxBodyBytes = *maxBody
		case "max-group-bytes":
			cfg.Limits.MaxGroupBytes = *maxGroups
		case "query-timeout":
			cfg.Limits.QueryTimeout = queryTO
		case "max-query-range":
			cfg.Limits.MaxQueryRange = queryRange
		case "log-level":
			cfg.LogLevel = *logLevel
		case "log-format":
			cfg.LogFormat = *logFormat
		case "debug-listen":
			cfg.DebugListen = *debugListen
		case "syslog-tcp":
			cfg.Syslog.TCP = *syslogTCP
		case "syslog-udp":
			cfg.Syslog.UDP = *syslogUDP
		case "alerting-rules-file":
			cfg.Alerting.RulesFile = *rulesFile
		case "alerting-eval-interval":
			cfg.Alerting.EvalInterval = evalEvery
		case "patterns":
			cfg.Patterns.Enabled = *patternsOn
		case "kafka-brokers":
			cfg.Kafka.Brokers = kafkaBrkrs
		case "kafka-topic":
			cfg.Kafka.Topics = kafkaTopics
		case "kafka-group":
			cfg.Kafka.Group = *kafkaGroup
		case "kafka-produce":
			cfg.Kafka.Produce = *produce
		case "kafka-produce-topic":
			cfg.Kafka.ProduceTopic = *produceTo
		case "truncate-damaged-logs":
			cfg.TruncateDamagedLogs = *truncLogs
		case "peer":
			cfg.Cluster.Peers = append(cfg.Cluster.Peers, peers...)
		case "peer-key":
			cfg.Cluster.PeerKey = *peerKey
		case "node-name":
			cfg.Cluster.NodeName = *nodeName
		case "peer-timeout":
			cfg.Cluster.Timeout = peerTimeout
		case "alerting-evaluate":
			cfg.Alerting.Evaluate = evaluate
		}
	}
	if err := cfg.Validate(); err != nil {
		return Config{}, false, fmt.Errorf("configuration:\n%w", err)
	}
	return cfg, *printConfig, nil
}

// masked returns the configuration as YAML with secrets replaced.
func (c Config) masked() string {
	m := c
	m.Auth.Keys = append([]httpapi.Key(nil), c.Auth.Keys...)
	for i := range m.Auth.Keys {
		m.Auth.Keys[i].Secret = "***"
	}
	if m.Cluster.PeerKey != "" {
		m.Cluster.PeerKey = "***"
	}
	m.Kafka.Config = c.Kafka.Masked()
	b, err := yaml.Marshal(m)
	if err != nil {
		return fmt.Sprintf("# cannot print the configuration: %v\n", err)
	}
	return string(b)
}

var _ flag.Value = (*Duration)(nil)

// retentionConfig returns the configuration of the retention policy.
func (c Config) retentionConfig(log *slog.Logger) retention.Config {
	rc := retention.Config{Period: time.Duration(c.Retention), Logger: log}
	if len(c.RetentionBySource) > 0 {
		rc.BySource = make(map[string]time.Duration, len(c.RetentionBySource))
		for src, ret := range c.RetentionBySource {
			rc.BySource[src] = time.Duration(ret)
		}
	}
	return rc
}
