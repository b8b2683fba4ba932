package alerting

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"regexp"
	"slices"
	"strings"
	"sync"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/logengine/logengine/internal/kafkaclient"
)

// kafkaTopic is what Kafka accepts as a topic name.
var kafkaTopic = regexp.MustCompile(`^[A-Za-z0-9._-]{1,249}$`)

// kafkaClientID names the notifiers' producers in the brokers' logs.
const kafkaClientID = "logengine-alerting"

// checkKafka checks the Kafka fields of a notifier: the connection through
// kafkaclient's checks, with the password in Secret as for the other
// notifiers, and every seed broker against the host policy.
func (n *Notifier) checkKafka(policy HostPolicy, bad func(string, ...any)) {
	if n.URL != "" {
		bad("url: a kafka notifier takes brokers (host:port each), not a url; remove it")
	}
	for i, b := range n.Brokers {
		n.Brokers[i] = strings.TrimSpace(b)
	}
	n.SASLMechanism = strings.ToUpper(strings.TrimSpace(n.SASLMechanism))
	switch {
	case n.SASLMechanism == "":
		if n.Username != "" || n.Secret != "" {
			bad("sasl_mechanism: missing; one of %s (username and secret need it)", strings.Join(kafkaclient.Mechanisms, ", "))
		}
	case !slices.Contains(kafkaclient.Mechanisms, n.SASLMechanism):
		bad("sasl_mechanism: %q is not one of %s", n.SASLMechanism, strings.Join(kafkaclient.Mechanisms, ", "))
	case n.Username == "":
		bad("username: missing; SASL %s needs a username and its password in secret", n.SASLMechanism)
	case n.Secret == "":
		bad("secret: missing; the SASL password of username %q", n.Username)
	}
	if n.CAFile != "" && !n.TLS {
		bad("ca_file: needs tls: true (the CA signs the brokers' TLS certificates)")
	}
	// kafkaclient checks the brokers and the CA file; the SASL and TLS
	// switches were checked above in the notifier's own terms.
	cfg := n.kafkaConfig()
	cfg.SASL = kafkaclient.SASL{}
	if !n.TLS {
		cfg.TLS = kafkaclient.TLS{}
	}
	for _, p := range cfg.Problems("") {
		bad("%s", p)
	}
	for i, b := range n.Brokers {
		if host, _, err := net.SplitHostPort(b); err == nil && host != "" && !policy.allows(host) {
			bad("brokers[%d]: host %q is not among the allowed notifier hosts (alerting.allowed_notifier_hosts: %s)", i, host, strings.Join(policy.Allowed, ", "))
		}
	}
	switch {
	case n.Topic == "":
		bad("topic: missing; the Kafka topic to produce notifications to, e.g. logengine-alerts")
	case !kafkaTopic.MatchString(n.Topic) || n.Topic == "." || n.Topic == "..":
		bad("topic: %q must be 1-249 letters, digits, '.', '_' or '-' (and not . or ..)", n.Topic)
	}
}

// kafkaConfig is the notifier's connection.
func (n *Notifier) kafkaConfig() kafkaclient.Config {
	cfg := kafkaclient.Config{
		Brokers:  slices.Clone(n.Brokers),
		ClientID: kafkaClientID,
		TLS:      kafkaclient.TLS{Enabled: n.TLS, CAFile: n.CAFile},
	}
	if n.SASLMechanism != "" {
		cfg.SASL = kafkaclient.SASL{Mechanism: n.SASLMechanism, Username: n.Username, Password: n.Secret}
	}
	return cfg
}

// sendKafka produces the webhook's JSON body to the notifier's topic,
// keyed by the rule id (so that one rule's notifications stay in order on
// one partition), with the delivery id and state as headers. The producer
// is idempotent and waits for all in-sync replicas, so the client's own
// retries of a batch (after a lost acknowledgement) are written once; an
// attempt that times out while its batch is in flight may still land, and
// the outbox's next attempt is then a second record with the same
// X-Logengine-Delivery header, which receivers use to drop it.
func (m *Manager) sendKafka(ctx context.Context, n *Notifier, it *outboxItem) error {
	for _, b := range n.Brokers {
		host, _, err := net.SplitHostPort(b)
		if err != nil || !m.opts.Hosts.allows(host) {
			return &permanentError{fmt.Errorf("kafka %q: broker %q is not allowed", n.Name, b)}
		}
	}
	body, err := webhookPayload(it)
	if err != nil {
		return &permanentError{fmt.Errorf("render notification: %w", err)}
	}
	p, err := m.kafka.get(n, m.opts.Hosts)
	if err != nil {
		// A CA file that went missing can be put back: retried.
		return fmt.Errorf("kafka %q: %w", n.Name, err)
	}
	rec := &kgo.Record{
		Topic: n.Topic,
		Key:   []byte(it.Note.Rule.ID),
		Value: body,
		Headers: []kgo.RecordHeader{
			{Key: "Content-Type", Value: []byte("application/json")},
			{Key: HeaderDelivery, Value: []byte(it.ID)},
			{Key: HeaderEvent, Value: []byte(it.Note.State)},
		},
	}
	ctx, cancel := context.WithTimeout(ctx, n.Timeout.Std())
	defer cancel()
	p.noted(nil, nil)
	err = p.client.ProduceSync(ctx, rec).FirstErr()
	if err == nil {
		return nil
	}
	last, refused := p.problems()
	if refused != nil {
		return &permanentError{fmt.Errorf("kafka %q: %w", n.Name, refused)}
	}
	if last != nil && !errors.Is(err, last) {
		// A produce that runs out of time says only that; what the
		// client met on the way (a refused connection, a failed SASL
		// authentication) is what the operator needs.
		err = fmt.Errorf("%w (last client error: %v)", err, last)
	}
	err = fmt.Errorf("kafka %q: produce to topic %s: %w", n.Name, n.Topic, err)
	if kafkaPermanent(err) {
		return &permanentError{err}
	}
	return err
}

// kafkaPermanent tells the errors of a produce that another attempt cannot
// fix: the topic does not exist (the client has already looked it up again
// several times; brokers that create topics on first use never answer
// so), the credentials may not write to it, or the broker refuses the
// record itself. Refused authentication is retried, as for e-mail and
// NATS: the broker's configuration may be what is being fixed.
func kafkaPermanent(err error) bool {
	for _, ke := range []*kerr.Error{
		kerr.UnknownTopicOrPartition, kerr.UnknownTopicID, kerr.InvalidTopicException,
		kerr.TopicAuthorizationFailed, kerr.ClusterAuthorizationFailed,
		kerr.MessageTooLarge, kerr.RecordListTooLarge, kerr.InvalidRecord, kerr.PolicyViolation,
	} {
		if errors.Is(err, ke) {
			return true
		}
	}
	return false
}

// kafkaProducers keeps one producer per Kafka notifier. One long-lived
// producer is what makes Kafka's idempotence work: the broker drops a
// retried batch by its producer id and sequence numbers, which a new
// client per notification would not share; it also saves a connection
// and metadata round trip per notification.
type kafkaProducers struct {
	mu     sync.Mutex
	byName map[string]*kafkaProducer // guarded by mu
	closed bool                      // guarded by mu
}

type kafkaProducer struct {
	// config identifies the settings the client was made with; a notifier
	// replaced under the same name with other settings gets a new client.
	config string
	client *kgo.Client

	mu      sync.Mutex
	last    error // the last error the client logged or dialled; guarded by mu
	refused error // a broker the host policy refused; guarded by mu
}

// noted sets what problems reports; send clears both before each attempt.
func (p *kafkaProducer) noted(last, refused error) {
	p.mu.Lock()
	p.last, p.refused = last, refused
	p.mu.Unlock()
}

func (p *kafkaProducer) problems() (last, refused error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.last, p.refused
}

// Level and Log make the producer the client's logger: it keeps the last
// error the client met, which a produce that times out does not carry.
func (p *kafkaProducer) Level() kgo.LogLevel { return kgo.LogLevelWarn }

func (p *kafkaProducer) Log(_ kgo.LogLevel, _ string, keyvals ...any) {
	for i := 0; i+1 < len(keyvals); i += 2 {
		if err, ok := keyvals[i+1].(error); ok && keyvals[i] == "err" && err != nil {
			p.mu.Lock()
			p.last = err
			p.mu.Unlock()
		}
	}
}

// fingerprint identifies what a producer is made of; the password enters
// only as a hash.
func (n *Notifier) kafkaFingerprint(policy HostPolicy) string {
	h := sha256.Sum256([]byte(n.Secret))
	return strings.Join([]string{
		strings.Join(n.Brokers, ","), fmt.Sprint(n.TLS), n.CAFile, n.SASLMechanism, n.Username,
		hex.EncodeToString(h[:8]), strings.Join(policy.Allowed, ","), n.Timeout.Std().String(),
	}, "\x00")
}

// get returns the notifier's producer, making it on first use or when the
// notifier's settings changed.
func (ps *kafkaProducers) get(n *Notifier, policy HostPolicy) (*kafkaProducer, error) {
	fp := n.kafkaFingerprint(policy)
	ps.mu.Lock()
	defer ps.mu.Unlock()
	if ps.closed {
		return nil, errors.New("alerting is closed")
	}
	if p := ps.byName[n.Name]; p != nil {
		if p.config == fp {
			return p, nil
		}
		p.client.Close()
		delete(ps.byName, n.Name)
	}
	p := &kafkaProducer{config: fp}
	cfg := n.kafkaConfig()
	opts, err := cfg.OptsWith(func(dial kafkaclient.DialFunc) kafkaclient.DialFunc {
		return func(ctx context.Context, network, addr string) (net.Conn, error) {
			// The brokers the cluster's metadata names are checked too:
			// a seed broker must not lead the client elsewhere.
			host, _, err := net.SplitHostPort(addr)
			if err != nil || !policy.allows(host) {
				err := fmt.Errorf("broker %s is not among the allowed notifier hosts (alerting.allowed_notifier_hosts: %s)", addr, strings.Join(policy.Allowed, ", "))
				p.noted(err, err)
				return nil, err
			}
			conn, err := dial(ctx, network, addr)
			if err != nil {
				p.noted(err, nil)
			}
			return conn, err
		}
	})
	if err != nil {
		return nil, err
	}
	timeout := n.Timeout.Std()
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	opts = append(opts,
		// Idempotent writes are franz-go's default; they need acks from
		// all in-sync replicas, which is also what makes a notification
		// survive the loss of the partition leader.
		kgo.RequiredAcks(kgo.AllISRAcks()),
		// One notification at a time: nothing to batch, so no linger.
		kgo.ProducerLinger(0),
		// A record the attempt gave up on must not be written later
		// when it is safe to fail it.
		kgo.RecordDeliveryTimeout(timeout),
		kgo.WithLogger(p),
	)
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return nil, fmt.Errorf("make the producer: %w", err)
	}
	p.client = cl
	if ps.byName == nil {
		ps.byName = map[string]*kafkaProducer{}
	}
	ps.byName[n.Name] = p
	return p, nil
}

// forget closes the producer of a deleted notifier.
func (ps *kafkaProducers) forget(name string) {
	ps.mu.Lock()
	p := ps.byName[name]
	delete(ps.byName, name)
	ps.mu.Unlock()
	if p != nil {
		p.client.Close()
	}
}

// close closes every producer; get fails afterwards.
func (ps *kafkaProducers) close() {
	ps.mu.Lock()
	ps.closed = true
	all := ps.byName
	ps.byName = nil
	ps.mu.Unlock()
	for _, p := range all {
		p.client.Close()
	}
}
