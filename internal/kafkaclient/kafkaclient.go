// Package kafkaclient owns how logengine connects to Kafka: the brokers,
// TLS and SASL settings shared by Kafka ingest, the producer (gateway) mode
// and the Kafka alert notifier, checked once and turned into client options.
package kafkaclient

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"
)

// Config is where and how to connect to a Kafka cluster.
type Config struct {
	// Brokers are the seed brokers, host:port each.
	Brokers []string `yaml:"brokers" json:"brokers"`
	// ClientID names this client in the brokers' logs and quotas; empty
	// uses "logengine".
	ClientID string `yaml:"client_id" json:"client_id,omitempty"`
	TLS      TLS    `yaml:"tls" json:"tls"`
	SASL     SASL   `yaml:"sasl" json:"sasl"`
}

// TLS configures encrypted connections to the brokers.
type TLS struct {
	Enabled bool `yaml:"enabled" json:"enabled,omitempty"`
	// CAFile is a PEM bundle of the authorities that sign the brokers'
	// certificates, when the system's do not.
	CAFile string `yaml:"ca_file" json:"ca_file,omitempty"`
	// CertFile and KeyFile are a client certificate and key, for brokers
	// that authenticate clients by certificate (mutual TLS).
	CertFile string `yaml:"cert_file" json:"cert_file,omitempty"`
	KeyFile  string `yaml:"key_file" json:"key_file,omitempty"`
	// ServerName overrides the name checked in the brokers' certificates.
	ServerName string `yaml:"server_name" json:"server_name,omitempty"`
	// InsecureSkipVerify accepts any broker certificate: for tests only.
	InsecureSkipVerify bool `yaml:"insecure_skip_verify" json:"insecure_skip_verify,omitempty"`
}

// SASL configures authentication to the brokers.
type SASL struct {
	// Mechanism is PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512; empty turns SASL
	// off.
	Mechanism string `yaml:"mechanism" json:"mechanism,omitempty"`
	Username  string `yaml:"username" json:"username,omitempty"`
	Password  string `yaml:"password" json:"password,omitempty"`
}

// Mechanisms lists the SASL mechanisms Config accepts.
var Mechanisms = []string{"PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"}

// Problems lists what is wrong with c, each naming the field (under prefix,
// e.g. "kafka.") and what to write instead; none means c can be used.
func (c *Config) Problems(prefix string) []string {
	var out []string
	bad := func(format string, args ...any) {
		out = append(out, prefix+fmt.Sprintf(format, args...))
	}
	if len(c.Brokers) == 0 {
		bad("brokers: missing; list the seed brokers as host:port, e.g. [\"kafka-1:9092\"]")
	}
	for i, b := range c.Brokers {
		b = strings.TrimSpace(b)
		c.Brokers[i] = b
		host, port, err := net.SplitHostPort(b)
		if err != nil || host == "" || port == "" {
			bad("brokers[%d]: %q must be host:port, e.g. kafka-1:9092", i, b)
		}
	}
	if !c.TLS.Enabled && (c.TLS.CAFile != "" || c.TLS.CertFile != "" || c.TLS.ServerName != "" || c.TLS.InsecureSkipVerify) {
		bad("tls: ca_file, cert_file, server_name and insecure_skip_verify need tls.enabled: true")
	}
	if (c.TLS.CertFile == "") != (c.TLS.KeyFile == "") {
		bad("tls: cert_file and key_file go together (a client certificate and its key)")
	}
	if c.TLS.Enabled {
		if _, err := c.tlsConfig(); err != nil {
			bad("tls: %v", err)
		}
	}
	switch m := strings.ToUpper(strings.TrimSpace(c.SASL.Mechanism)); m {
	case "":
		if c.SASL.Username != "" || c.SASL.Password != "" {
			bad("sasl.mechanism: missing; one of %s (username and password need it)", strings.Join(Mechanisms, ", "))
		}
	case "PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512":
		c.SASL.Mechanism = m
		if c.SASL.Username == "" || c.SASL.Password == "" {
			bad("sasl: mechanism %s needs username and password", m)
		}
	default:
		bad("sasl.mechanism: %q is not one of %s", c.SASL.Mechanism, strings.Join(Mechanisms, ", "))
	}
	return out
}

// Check returns Problems as one error, or nil.
func (c *Config) Check(prefix string) error {
	if p := c.Problems(prefix); len(p) > 0 {
		return errors.New(strings.Join(p, "; "))
	}
	return nil
}

// Opts turns c into client options: seed brokers, client id, dialer with
// TLS, and SASL. Callers add the options of their role (consumer group,
// producer acks, timeouts, ...).
func (c *Config) Opts() ([]kgo.Opt, error) { return c.OptsWith(nil) }

// DialFunc connects to one broker (host:port), as kgo.Dialer takes it.
type DialFunc func(ctx context.Context, network, addr string) (net.Conn, error)

// DialTimeout bounds the connection to one broker, TLS handshake included.
const DialTimeout = 10 * time.Second

// OptsWith is Opts with every broker connection, to the seed brokers and to
// those the cluster's metadata names, made through wrap(dial), where dial
// connects with TLS when c asks for it. A caller uses it to refuse hosts
// before connecting or to keep the last connection error; a nil wrap is
// Opts.
func (c *Config) OptsWith(wrap func(DialFunc) DialFunc) ([]kgo.Opt, error) {
	if err := c.Check(""); err != nil {
		return nil, err
	}
	id := c.ClientID
	if id == "" {
		id = "logengine"
	}
	opts := []kgo.Opt{
		kgo.SeedBrokers(c.Brokers...),
		kgo.ClientID(id),
	}
	var tc *tls.Config
	if c.TLS.Enabled {
		var err error
		if tc, err = c.tlsConfig(); err != nil {
			return nil, err
		}
	}
	switch {
	case wrap != nil:
		opts = append(opts, kgo.Dialer(wrap(dialer(tc))))
	case tc != nil:
		opts = append(opts, kgo.DialTLSConfig(tc))
	}
	switch c.SASL.Mechanism {
	case "PLAIN":
		opts = append(opts, kgo.SASL(plain.Auth{User: c.SASL.Username, Pass: c.SASL.Password}.AsMechanism()))
	case "SCRAM-SHA-256":
		opts = append(opts, kgo.SASL(scram.Auth{User: c.SASL.Username, Pass: c.SASL.Password}.AsSha256Mechanism()))
	case "SCRAM-SHA-512":
		opts = append(opts, kgo.SASL(scram.Auth{User: c.SASL.Username, Pass: c.SASL.Password}.AsSha512Mechanism()))
	}
	return opts, nil
}

// Masked is c with its password replaced, for printing a configuration.
func (c Config) Masked() Config {
	if c.SASL.Password != "" {
		c.SASL.Password = "********"
	}
	return c
}

// dialer connects over TCP, with TLS when tc is set; the server name
// checked is tc's, else the broker's host, as kgo.DialTLSConfig does.
func dialer(tc *tls.Config) DialFunc {
	nd := &net.Dialer{Timeout: DialTimeout}
	if tc == nil {
		return nd.DialContext
	}
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		cfg := tc.Clone()
		if cfg.ServerName == "" {
			host, _, err := net.SplitHostPort(addr)
			if err != nil {
				return nil, fmt.Errorf("broker address %q: %w", addr, err)
			}
			cfg.ServerName = host
		}
		return (&tls.Dialer{NetDialer: nd, Config: cfg}).DialContext(ctx, network, addr)
	}
}

func (c *Config) tlsConfig() (*tls.Config, error) {
	tc := &tls.Config{
		MinVersion:         tls.VersionTLS12,
		ServerName:         c.TLS.ServerName,
		InsecureSkipVerify: c.TLS.InsecureSkipVerify, //nolint:gosec // opt-in, documented as for tests
	}
	if c.TLS.CAFile != "" {
		pem, err := os.ReadFile(c.TLS.CAFile)
		if err != nil {
			return nil, fmt.Errorf("read ca_file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("ca_file %s holds no PEM certificate", c.TLS.CAFile)
		}
		tc.RootCAs = pool
	}
	if c.TLS.CertFile != "" && c.TLS.KeyFile != "" {
		cert, err := tls.LoadX509KeyPair(c.TLS.CertFile, c.TLS.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("load cert_file and key_file: %w", err)
		}
		tc.Certificates = []tls.Certificate{cert}
	}
	return tc, nil
}
