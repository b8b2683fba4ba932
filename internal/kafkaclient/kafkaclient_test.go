package kafkaclient_test

import (
	"context"
	"errors"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/logengine/logengine/internal/kafkaclient"
	"github.com/logengine/logengine/internal/kafkatest"
)

func TestProblems(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  kafkaclient.Config
		want string // a part of the one problem expected; empty means none
	}{
		{"ok", kafkaclient.Config{Brokers: []string{"k1:9092", " k2:9092 "}}, ""},
		{"no brokers", kafkaclient.Config{}, "brokers: missing"},
		{"no port", kafkaclient.Config{Brokers: []string{"k1"}}, `brokers[0]: "k1" must be host:port`},
		{"tls field without tls", kafkaclient.Config{Brokers: []string{"k:1"}, TLS: kafkaclient.TLS{CAFile: "x"}}, "need tls.enabled"},
		{"missing ca", kafkaclient.Config{Brokers: []string{"k:1"}, TLS: kafkaclient.TLS{Enabled: true, CAFile: "/nonexistent/ca.pem"}}, "read ca_file"},
		{"cert without key", kafkaclient.Config{Brokers: []string{"k:1"}, TLS: kafkaclient.TLS{Enabled: true, CertFile: "c"}}, "cert_file and key_file go together"},
		{"unknown mechanism", kafkaclient.Config{Brokers: []string{"k:1"}, SASL: kafkaclient.SASL{Mechanism: "GSSAPI", Username: "u", Password: "p"}}, `"GSSAPI" is not one of`},
		{"mechanism without password", kafkaclient.Config{Brokers: []string{"k:1"}, SASL: kafkaclient.SASL{Mechanism: "plain", Username: "u"}}, "needs username and password"},
		{"user without mechanism", kafkaclient.Config{Brokers: []string{"k:1"}, SASL: kafkaclient.SASL{Username: "u", Password: "p"}}, "sasl.mechanism: missing"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := tc.cfg.Problems("kafka.")
			switch {
			case tc.want == "" && len(p) > 0:
				t.Fatalf("problems %q, want none", p)
			case tc.want != "" && (len(p) != 1 || !strings.Contains(p[0], tc.want) || !strings.HasPrefix(p[0], "kafka.")):
				t.Fatalf("problems %q, want one with kafka. and %q", p, tc.want)
			}
		})
	}
}

// TestSASLRoundTrip produces and consumes through the options of a SCRAM
// configuration, against a cluster that requires it, and shows that a
// wrong password is refused.
func TestSASLRoundTrip(t *testing.T) {
	c := kafkatest.Start(t, kafkatest.Options{Topics: []string{"logs"}, SASLMechanism: "SCRAM-SHA-256", SASLUser: "le", SASLPassword: "s3cret"})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	client := func(password string, extra ...kgo.Opt) *kgo.Client {
		cfg := kafkaclient.Config{Brokers: c.ListenAddrs(), SASL: kafkaclient.SASL{Mechanism: "scram-sha-256", Username: "le", Password: password}}
		opts, err := cfg.Opts()
		if err != nil {
			t.Fatal(err)
		}
		cl, err := kgo.NewClient(append(opts, extra...)...)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(cl.Close)
		return cl
	}
	p := client("s3cret")
	if err := p.ProduceSync(ctx, &kgo.Record{Topic: "logs", Value: []byte("hello")}).FirstErr(); err != nil {
		t.Fatalf("produce: %v", err)
	}
	cons := client("s3cret", kgo.ConsumeTopics("logs"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	fs := cons.PollFetches(ctx)
	if err := fs.Err(); err != nil {
		t.Fatalf("fetch: %v", err)
	}
	if recs := fs.Records(); len(recs) != 1 || string(recs[0].Value) != "hello" {
		t.Fatalf("fetched %d records, want the one produced", len(recs))
	}
	wrong := client("wrong")
	short, cancel2 := context.WithTimeout(ctx, 5*time.Second)
	defer cancel2()
	if err := wrong.ProduceSync(short, &kgo.Record{Topic: "logs", Value: []byte("x")}).FirstErr(); err == nil {
		t.Fatal("produce with a wrong password succeeded")
	}
}

// TestOptsWith shows that every broker connection, to the seed and to the
// brokers the cluster's metadata names, goes through the wrapped dialer,
// so a caller can refuse hosts.
func TestOptsWith(t *testing.T) {
	c := kafkatest.Start(t, kafkatest.Options{Topics: []string{"logs"}, Partitions: 6})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	seed := c.ListenAddrs()[0]
	var mu sync.Mutex
	dialed := map[string]bool{}
	cfg := kafkaclient.Config{Brokers: []string{seed}}
	opts, err := cfg.OptsWith(func(dial kafkaclient.DialFunc) kafkaclient.DialFunc {
		return func(ctx context.Context, network, addr string) (net.Conn, error) {
			mu.Lock()
			dialed[addr] = true
			mu.Unlock()
			return dial(ctx, network, addr)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	cl, err := kgo.NewClient(append(opts, kgo.RecordPartitioner(kgo.ManualPartitioner()))...)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	// A record to every partition: the client connects to each leader,
	// which it learns from the metadata.
	for p := range int32(6) {
		if err := cl.ProduceSync(ctx, &kgo.Record{Topic: "logs", Partition: p, Value: []byte("x")}).FirstErr(); err != nil {
			t.Fatalf("produce: %v", err)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	leaders := 0
	for i, a := range c.ListenAddrs() {
		leads := false
		for p := range int32(6) {
			leads = leads || c.LeaderFor("logs", p) == int32(i)
		}
		if leads {
			leaders++
		}
		if leads && !dialed[a] {
			t.Errorf("broker %s leads a partition but was not dialled through the wrapper (dialled: %v)", a, dialed)
		}
	}
	if leaders < 2 || !dialed[seed] || len(dialed) > len(c.ListenAddrs()) {
		t.Errorf("dialled %v; want the seed and the %d leaders", dialed, leaders)
	}

	refusing := kafkaclient.Config{Brokers: []string{seed}}
	opts, err = refusing.OptsWith(func(kafkaclient.DialFunc) kafkaclient.DialFunc {
		return func(context.Context, string, string) (net.Conn, error) { return nil, errors.New("refused by policy") }
	})
	if err != nil {
		t.Fatal(err)
	}
	rc, err := kgo.NewClient(opts...)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	short, cancel2 := context.WithTimeout(ctx, 3*time.Second)
	defer cancel2()
	if err := rc.ProduceSync(short, &kgo.Record{Topic: "logs", Value: []byte("x")}).FirstErr(); err == nil {
		t.Fatal("produced through a dialer that refuses every broker")
	}
}
