package alerting

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/logengine/logengine/internal/kafkaclient"
	"github.com/logengine/logengine/internal/kafkatest"
)

// kcatRecord is a record as `kcat -J` prints it.
type kcatRecord struct {
	Partition int32    `json:"partition"`
	Offset    int64    `json:"offset"`
	Headers   []string `json:"headers"` // name, value, name, value, ...
	Key       string   `json:"key"`
	Payload   string   `json:"payload"`
}

func (r kcatRecord) header(name string) string {
	for i := 0; i+1 < len(r.Headers); i += 2 {
		if r.Headers[i] == name {
			return r.Headers[i+1]
		}
	}
	return ""
}

// needKcat returns Debian's kcat (librdkafka), skipping the test when it is
// absent outside CI.
func needKcat(t *testing.T) string {
	t.Helper()
	bin, err := exec.LookPath("kcat")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("kcat is not installed (Debian package kcat); .ci/run installs it")
		}
		t.Skip("kcat is not installed (Debian package kcat)")
	}
	return bin
}

// kcatRead reads every record of topic from the start with kcat.
func kcatRead(t *testing.T, bin string, brokers []string, topic string, extra ...string) []kcatRecord {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	args := append([]string{"-C", "-b", strings.Join(brokers, ","), "-t", topic, "-o", "beginning", "-e", "-J", "-q"}, extra...)
	var stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("kcat %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	var recs []kcatRecord
	for line := range strings.SplitSeq(strings.TrimSpace(string(out)), "\n") {
		if line == "" {
			continue
		}
		var r kcatRecord
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatalf("kcat line %q: %v", line, err)
		}
		recs = append(recs, r)
	}
	return recs
}

func TestKafkaDelivery(t *testing.T) {
	kcat := needKcat(t)
	c := kafkatest.Start(t, kafkatest.Options{Topics: []string{"alerts", "lossy", "forbidden"}})
	brokers := c.ListenAddrs()
	ctx := context.Background()
	notifier := func(e *env, topic string) {
		t.Helper()
		n := Notifier{Name: "ops", Type: TypeKafka, Brokers: brokers, Topic: topic, Timeout: Duration(20 * time.Second)}
		if _, err := e.m.CreateNotifier(ctx, n); err != nil {
			t.Fatal(err)
		}
	}

	t.Run("firing and resolved, keyed by rule, read back with kcat", func(t *testing.T) {
		e := newEnv(t, Options{})
		notifier(e, "alerts")
		id := e.rule(windowed(5*time.Minute, OpGreater, 2, 0))
		logs(3)(e, id)
		wait(6*time.Minute)(e, id)
		if !e.deliver("ops") {
			t.Fatalf("not delivered: %s", e.history(id))
		}
		recs := kcatRead(t, kcat, brokers, "alerts")
		if len(recs) != 2 {
			t.Fatalf("%d records in the topic, want firing and resolved: %+v", len(recs), recs)
		}
		if recs[0].Partition != recs[1].Partition || recs[0].Offset > recs[1].Offset {
			t.Errorf("one rule's notifications are not in order on one partition: %+v", recs)
		}
		for i, want := range []StateName{StateFiring, StateResolved} {
			r := recs[i]
			var body webhookBody
			if err := json.Unmarshal([]byte(r.Payload), &body); err != nil {
				t.Fatalf("record %d body %q: %v", i, r.Payload, err)
			}
			if r.Key != id || body.Rule.ID != id || body.State != want || body.DeliveryID == "" {
				t.Errorf("record %d: key %q, body %+v; want key and rule %s, state %s", i, r.Key, body, id, want)
			}
			if r.header(HeaderDelivery) != body.DeliveryID || r.header(HeaderEvent) != string(want) || r.header("Content-Type") != "application/json" {
				t.Errorf("record %d headers %q", i, r.Headers)
			}
			if want == StateFiring && len(body.Sample) != 3 {
				t.Errorf("firing record has %d sample lines, want 3", len(body.Sample))
			}
		}
		if len(e.outbox()) != 0 {
			t.Error("delivered notifications are still in the outbox")
		}
	})

	t.Run("a batch whose acknowledgement is lost is written once", func(t *testing.T) {
		e := newEnv(t, Options{})
		notifier(e, "lossy")
		// The broker appends the batch but answers REQUEST_TIMED_OUT, as
		// when the acknowledgement is lost; the producer sends it again
		// with the same producer id and sequence number.
		f := c.Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.Produce}, Topic: "lossy", Err: kerr.RequestTimedOut})
		id := e.rule(windowed(5*time.Minute, OpGreater, 2, 0))
		logs(3)(e, id)
		if !e.deliver("ops") {
			t.Fatalf("not delivered: %s", e.history(id))
		}
		if f.Hits() != 1 {
			t.Fatalf("the lost acknowledgement was not simulated (%d hits)", f.Hits())
		}
		recs := kcatRead(t, kcat, brokers, "lossy")
		if len(recs) != 1 || recs[0].Key != id {
			t.Fatalf("%d records after a retried batch, want 1 keyed %s: %+v", len(recs), id, recs)
		}
	})

	permanent := []struct {
		name, topic string
		fault       *kerr.Error
		want        string
	}{
		{"unknown topic is recorded as failed", "no-such-topic", nil, "UNKNOWN_TOPIC_OR_PARTITION"},
		{"authorization failure is recorded as failed", "forbidden", kerr.TopicAuthorizationFailed, "TOPIC_AUTHORIZATION_FAILED"},
	}
	for _, tc := range permanent {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, Options{})
			notifier(e, tc.topic)
			if tc.fault != nil {
				f := c.Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.Produce}, Topic: tc.topic, Err: tc.fault, Count: -1})
				defer f.Remove()
			}
			id := e.rule(windowed(5*time.Minute, OpGreater, 2, 0))
			logs(3)(e, id)
			if !e.deliver("ops") {
				t.Fatal("the lane stopped as for a retry; want the item dropped")
			}
			if n := len(e.outbox()); n != 0 {
				t.Fatalf("%d items left in the outbox", n)
			}
			evs, err := e.m.History(ctx, HistoryQuery{Rule: id})
			if err != nil {
				t.Fatal(err)
			}
			last := evs[len(evs)-1]
			if last.Notifier != "ops" || !strings.Contains(last.Error, "dropped") || !strings.Contains(last.Error, tc.want) {
				t.Errorf("last history event %+v, want a drop naming %s", last, tc.want)
			}
		})
	}

	t.Run("brokers down is retried with the connection error", func(t *testing.T) {
		e := newEnv(t, Options{})
		down := freeLoopbackAddr(t)
		n := Notifier{Name: "ops", Type: TypeKafka, Brokers: []string{down}, Topic: "alerts", Timeout: Duration(2 * time.Second)}
		if _, err := e.m.CreateNotifier(ctx, n); err != nil {
			t.Fatal(err)
		}
		id := e.rule(windowed(5*time.Minute, OpGreater, 2, 0))
		logs(3)(e, id)
		if e.deliver("ops") {
			t.Fatal("delivered to a broker that is not there")
		}
		items := e.outbox()
		if len(items) != 1 || !strings.Contains(items[0].LastError, "connection refused") {
			t.Fatalf("outbox %+v, want the item kept with the connection error", items)
		}
	})
}

// TestKafkaSASL delivers to a cluster that requires SCRAM, reads the
// record back with a franz-go consumer (librdkafka 2.0 does not take the
// test cluster's SASL handshake versions), and retries a wrong password.
func TestKafkaSASL(t *testing.T) {
	const user, pass = "alerts", "s3cret-pw"
	c := kafkatest.Start(t, kafkatest.Options{Topics: []string{"alerts"}, SASLMechanism: "SCRAM-SHA-512", SASLUser: user, SASLPassword: pass})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	create := func(e *env, secret string) {
		t.Helper()
		n := Notifier{Name: "ops", Type: TypeKafka, Brokers: c.ListenAddrs(), Topic: "alerts", SASLMechanism: "scram-sha-512", Username: user, Secret: secret, Timeout: Duration(5 * time.Second)}
		pub, err := e.m.CreateNotifier(ctx, n)
		if err != nil {
			t.Fatal(err)
		}
		if pub.Secret != "" || !pub.SecretSet {
			t.Errorf("CreateNotifier answered secret %q, secret set %v", pub.Secret, pub.SecretSet)
		}
		all, err := e.m.Notifiers(ctx)
		if err != nil || len(all) != 1 || all[0].Secret != "" {
			t.Errorf("Notifiers %+v, %v: want one without its secret", all, err)
		}
	}

	t.Run("delivered", func(t *testing.T) {
		e := newEnv(t, Options{})
		create(e, pass)
		id := e.rule(windowed(5*time.Minute, OpGreater, 2, 0))
		logs(3)(e, id)
		if !e.deliver("ops") {
			t.Fatalf("not delivered: %s", e.history(id))
		}
		cfg := kafkaclient.Config{Brokers: c.ListenAddrs(), SASL: kafkaclient.SASL{Mechanism: "SCRAM-SHA-512", Username: user, Password: pass}}
		opts, err := cfg.Opts()
		if err != nil {
			t.Fatal(err)
		}
		cl, err := kgo.NewClient(append(opts, kgo.ConsumeTopics("alerts"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))...)
		if err != nil {
			t.Fatal(err)
		}
		defer cl.Close()
		fs := cl.PollFetches(ctx)
		if err := fs.Err(); err != nil {
			t.Fatal(err)
		}
		recs := fs.Records()
		if len(recs) != 1 || string(recs[0].Key) != id || !strings.Contains(string(recs[0].Value), `"state":"firing"`) {
			t.Fatalf("records %+v, want the firing notification keyed %s", recs, id)
		}
	})

	t.Run("wrong password is retried", func(t *testing.T) {
		e := newEnv(t, Options{})
		create(e, "wrong-pw")
		id := e.rule(windowed(5*time.Minute, OpGreater, 2, 0))
		logs(3)(e, id)
		if e.deliver("ops") {
			t.Fatal("delivered with a wrong password")
		}
		items := e.outbox()
		if len(items) != 1 || items[0].Attempts != 1 || items[0].LastError == "" {
			t.Fatalf("outbox %+v, want the item kept with its error", items)
		}
		if strings.Contains(items[0].LastError, "wrong-pw") {
			t.Errorf("the error shows the password: %s", items[0].LastError)
		}
		t.Logf("error recorded: %s", items[0].LastError)
	})
}

func TestKafkaNotifierValidation(t *testing.T) {
	ok := Notifier{Name: "q", Type: TypeKafka, Brokers: []string{"kafka-1.example.com:9092", "kafka-2.example.com:9092"}, Topic: "logengine-alerts"}
	tests := []struct {
		name    string
		policy  []string
		edit    func(n *Notifier)
		wantErr string
	}{
		{"valid", nil, func(*Notifier) {}, ""},
		{"sasl", nil, func(n *Notifier) { n.SASLMechanism, n.Username, n.Secret = "scram-sha-512", "u", "p" }, ""},
		{"tls with ca", nil, func(n *Notifier) { n.TLS = true }, ""},
		{"no brokers", nil, func(n *Notifier) { n.Brokers = nil }, "brokers: missing"},
		{"broker without port", nil, func(n *Notifier) { n.Brokers = []string{"kafka-1"} }, `brokers[0]: "kafka-1" must be host:port`},
		{"url", nil, func(n *Notifier) { n.URL = "kafka://kafka-1:9092" }, "takes brokers (host:port each), not a url"},
		{"no topic", nil, func(n *Notifier) { n.Topic = "" }, "topic: missing"},
		{"bad topic", nil, func(n *Notifier) { n.Topic = "alerts/prod" }, `topic: "alerts/prod" must be`},
		{"dot topic", nil, func(n *Notifier) { n.Topic = ".." }, "and not . or .."},
		{"unknown mechanism", nil, func(n *Notifier) { n.SASLMechanism, n.Username, n.Secret = "GSSAPI", "u", "p" }, `sasl_mechanism: "GSSAPI" is not one of PLAIN`},
		{"mechanism without username", nil, func(n *Notifier) { n.SASLMechanism, n.Secret = "PLAIN", "p" }, "username: missing"},
		{"mechanism without password", nil, func(n *Notifier) { n.SASLMechanism, n.Username = "PLAIN", "u" }, "secret: missing; the SASL password"},
		{"password without mechanism", nil, func(n *Notifier) { n.Username, n.Secret = "u", "p" }, "sasl_mechanism: missing"},
		{"ca file without tls", nil, func(n *Notifier) { n.CAFile = "/etc/ca.pem" }, "ca_file: needs tls: true"},
		{"missing ca file", nil, func(n *Notifier) { n.TLS, n.CAFile = true, "/nonexistent/ca.pem" }, "read ca_file"},
		{"host not allowed", []string{"*.internal", "kafka-1.example.com"}, func(*Notifier) {}, `brokers[1]: host "kafka-2.example.com" is not among the allowed notifier hosts`},
		{"hosts allowed", []string{"*.example.com"}, func(*Notifier) {}, ""},
		{"subject is for nats", nil, func(n *Notifier) { n.Subject = "x" }, "subject: only nats notifiers take it"},
		{"topic is for kafka", nil, func(n *Notifier) { n.Type, n.URL = TypeWebhook, "https://hooks.example.com/x" }, "brokers: only kafka notifiers take it"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := ok
			n.Brokers = append([]string(nil), ok.Brokers...)
			tt.edit(&n)
			err := n.normalize(HostPolicy{Allowed: tt.policy})
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("error %v, want one with %q", err, tt.wantErr)
			}
			if strings.Contains(err.Error(), "tls.enabled") || strings.Contains(err.Error(), "sasl.") {
				t.Errorf("the error names fields of the kafka config section, not the notifier's: %v", err)
			}
		})
	}
}

func TestKafkaPermanent(t *testing.T) {
	tests := []struct {
		err  error
		want bool
	}{
		{kerr.UnknownTopicOrPartition, true},
		{kerr.TopicAuthorizationFailed, true},
		{kerr.MessageTooLarge, true},
		{fmt.Errorf("produce: %w", kerr.ClusterAuthorizationFailed), true},
		{kerr.NotLeaderForPartition, false},
		{kerr.RequestTimedOut, false},
		{kerr.SaslAuthenticationFailed, false},
		{context.DeadlineExceeded, false},
		{errors.New("dial tcp 127.0.0.1:9: connect: connection refused"), false},
	}
	for _, tt := range tests {
		if got := kafkaPermanent(tt.err); got != tt.want {
			t.Errorf("kafkaPermanent(%v) = %v, want %v", tt.err, got, tt.want)
		}
	}
}

func TestRulesFileKafkaNotifier(t *testing.T) {
	path := t.TempDir() + "/rules.yaml"
	t.Setenv("KAFKA_PASSWORD", "from-the-environment")
	err := os.WriteFile(path, []byte(`
notifiers:
  - name: alerts-topic
    type: kafka
    brokers: [kafka-1.example.com:9092]
    topic: logengine-alerts
    sasl_mechanism: scram-sha-256
    username: logengine
    secret_env: KAFKA_PASSWORD
    tls: true
rules:
  - {name: errors, query: "level:error", window: 1h, condition: {op: ">", threshold: 2}, notify: [alerts-topic]}
`), 0o600)
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, Options{RulesFile: path})
	ns, err := e.m.Notifiers(context.Background())
	if err != nil || len(ns) != 1 {
		t.Fatalf("notifiers %+v, %v", ns, err)
	}
	n := ns[0]
	if n.Type != TypeKafka || n.Topic != "logengine-alerts" || len(n.Brokers) != 1 || n.SASLMechanism != "SCRAM-SHA-256" ||
		n.Username != "logengine" || !n.TLS || n.Secret != "" || !n.SecretSet {
		t.Errorf("notifier from the rules file %+v", n)
	}
	e.m.mu.Lock()
	secret := e.m.notifiers["alerts-topic"].Secret
	e.m.mu.Unlock()
	if secret != "from-the-environment" {
		t.Errorf("secret_env not read: %q", secret)
	}
}
