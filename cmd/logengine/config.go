package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/logengine/logengine/httpapi"
	"github.com/logengine/logengine/ingest"
	"github.com/logengine/logengine/internal/duration"
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
	// DebugListen, when set, serves Go's pprof profiles on this address
	// (keep it on loopback: profiles are not authenticated).
	DebugListen string `yaml:"debug_listen"`

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
		// QueryTimeout bounds the time one search may take.
		QueryTimeout Duration `yaml:"query_timeout"`
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
}

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
	}
	c.Limits.MaxBodyBytes = 64 << 20
	c.Limits.QueryTimeout = Duration(30 * time.Second)
	c.Limits.MaxFuture = Duration(24 * time.Hour)
	return c
}

// Validate checks the configuration, naming the key at fault.
func (c *Config) Validate() error {
	var errs []error
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
	if c.Limits.MaxBodyBytes <= 0 {
		errs = append(errs, errors.New("limits.max_body_bytes: must be positive"))
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
	if _, err := ingest.NewPipeline(c.Pipeline); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
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
			return errors.New("an API key is name:role:secret, e.g. shipper:ingest:3f9c...")
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
		queryTO     = def.Limits.QueryTimeout
		logLevel    = fs.String("log-level", def.LogLevel, "debug, info, warn or error")
		logFormat   = fs.String("log-format", def.LogFormat, "text or json")
		printConfig = fs.Bool("print-config", false, "print the effective configuration (secrets masked) and exit")
		debugListen = fs.String("debug-listen", "", "serve pprof profiles on this address (e.g. 127.0.0.1:6060)")
	)
	fs.Var(&retention, "retention", "how long logs are kept (30d, 12h; 0 keeps forever)")
	fs.Var(&keys, "api-key", "API key name:role:secret (repeatable; role ingest, query or admin)")
	fs.Var(&indexed, "indexed-fields", "comma-separated fields to index for fast field:value queries")
	fs.Var(&queryTO, "query-timeout", "longest time one search may take")
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
		case "query-timeout":
			cfg.Limits.QueryTimeout = queryTO
		case "log-level":
			cfg.LogLevel = *logLevel
		case "log-format":
			cfg.LogFormat = *logFormat
		case "debug-listen":
			cfg.DebugListen = *debugListen
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
	b, err := yaml.Marshal(m)
	if err != nil {
		return fmt.Sprintf("# cannot print the configuration: %v\n", err)
	}
	return string(b)
}

var _ flag.Value = (*Duration)(nil)
