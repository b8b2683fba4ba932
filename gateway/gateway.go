// Package gateway is the producer mode of a node: the entries it receives,
// over every protocol, are written to a Kafka topic instead of its own
// store, for the nodes that consume the topic to store. A request is
// acknowledged only once Kafka has acknowledged all of its entries.
//
// Producer is an ingest.Appender, so entries arrive decoded, checked and
// through the pipeline, whatever protocol brought them. Each record's value
// is one entry in the JSON form of a search answer and of an NDJSON export
// (internal/entryjson) without an id, which consuming nodes decode as an
// entry (format auto or ndjson) and give ids of their own; its key is the
// entry's source, so that one source's entries keep their order within a
// partition.
package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/logengine/logengine/internal/entryjson"
	"github.com/logengine/logengine/internal/kafkaclient"
	"github.com/logengine/logengine/storage"
)

// DefaultTimeout bounds the wait for Kafka's acknowledgement of one
// request's entries when Options names none.
const DefaultTimeout = 10 * time.Second

// Observer sees the outcome of each batch produced (metrics).
type Observer interface {
	ObserveProduce(records int, err error, d time.Duration)
}

// Options configures a Producer.
type Options struct {
	// Kafka is the connection; its brokers are required.
	Kafka kafkaclient.Config
	// Topic receives the entries.
	Topic string
	// Timeout bounds how long a batch waits for Kafka's acknowledgement
	// before Append fails with an Unavailable error (503); zero means
	// DefaultTimeout.
	Timeout time.Duration
	// Observer, when set, sees every batch.
	Observer Observer
}

var topicName = regexp.MustCompile(`^[A-Za-z0-9._-]{1,249}$`)

// CheckTopic says what is wrong with a topic name, or nil.
func CheckTopic(topic string) error {
	switch {
	case topic == "":
		return errors.New("missing; name the topic the gateway writes to, e.g. logs")
	case !topicName.MatchString(topic) || topic == "." || topic == "..":
		return fmt.Errorf("%q must be 1-249 letters, digits, '.', '_' or '-' (and not . or ..)", topic)
	}
	return nil
}

// Producer writes entries to Kafka with an idempotent producer that waits
// for all in-sync replicas. It is safe for concurrent use.
type Producer struct {
	client  *kgo.Client
	topic   string
	timeout time.Duration
	obs     Observer

	mu      sync.Mutex
	lastErr error // the last error the client logged; guarded by mu
}

// New returns a producer; it connects on first use.
func New(opts Options) (*Producer, error) {
	if err := CheckTopic(opts.Topic); err != nil {
		return nil, fmt.Errorf("topic: %w", err)
	}
	if opts.Timeout <= 0 {
		opts.Timeout = DefaultTimeout
	}
	p := &Producer{topic: opts.Topic, timeout: opts.Timeout, obs: opts.Observer}
	kopts, err := opts.Kafka.Opts()
	if err != nil {
		return nil, err
	}
	kopts = append(kopts,
		kgo.DefaultProduceTopic(opts.Topic),
		// Idempotent writes are franz-go's default and need acks from
		// every in-sync replica: an acknowledged entry survives the loss
		// of a partition leader, and a batch re-sent after a lost
		// acknowledgement is written once.
		kgo.RequiredAcks(kgo.AllISRAcks()),
		// Requests wait for their acknowledgement: a short linger still
		// lets concurrent requests share a batch.
		kgo.ProducerLinger(5*time.Millisecond),
		// A topic that does not exist fails a request after a few
		// metadata loads (UnknownTopicRetries); one a second, not
		// franz-go's one in 5s, tells the shipper in seconds, well
		// within the request's timeout.
		kgo.MetadataMinAge(time.Second),
		kgo.WithLogger(p),
	)
	if p.client, err = kgo.NewClient(kopts...); err != nil {
		return nil, fmt.Errorf("kafka producer: %w", err)
	}
	return p, nil
}

// Close flushes nothing (every Append has waited for its records) and
// closes the connections. Call it after the listeners have stopped.
func (p *Producer) Close() { p.client.Close() }

// UnavailableError is a batch that Kafka did not acknowledge in time or
// refused; the request that brought it is answered 503 and may be retried.
// Some of its entries may have been written: a retry can store them twice
// (at least once), never none.
type UnavailableError struct{ Err error }

func (e *UnavailableError) Error() string { return e.Err.Error() }
func (e *UnavailableError) Unwrap() error { return e.Err }

// Unavailable makes the HTTP API answer 503.
func (e *UnavailableError) Unavailable() bool { return true }

// Append produces the entries and returns once Kafka has acknowledged all
// of them. The ids are zero: the consuming nodes give the entries theirs.
func (p *Producer) Append(ctx context.Context, entries []storage.Entry) ([]storage.ID, error) {
	start := time.Now()
	recs := make([]*kgo.Record, len(entries))
	for i := range entries {
		e := entryjson.From(&entries[i])
		e.ID = "" // the consuming node's store gives it one
		value, err := json.Marshal(e)
		if err != nil {
			return nil, fmt.Errorf("encode entry %d for kafka: %w", i, err)
		}
		recs[i] = &kgo.Record{Topic: p.topic, Key: []byte(entries[i].Source), Value: value}
	}
	err := p.produce(ctx, recs)
	if p.obs != nil {
		p.obs.ObserveProduce(len(recs), err, time.Since(start))
	}
	if err != nil {
		return nil, err
	}
	return make([]storage.ID, len(entries)), nil
}

// produce waits for every record's acknowledgement, at most the timeout.
// It does not wait on ProduceSync: an idempotent producer does not give up
// a record whose batch may be on the wire, and a request must not hang on
// that; such a record may still be written after the request failed.
func (p *Producer) produce(reqCtx context.Context, recs []*kgo.Record) error {
	ctx, cancel := context.WithTimeout(reqCtx, p.timeout)
	defer cancel()
	done := make(chan error, len(recs)) // never blocks a late promise
	for _, r := range recs {
		p.client.Produce(ctx, r, func(_ *kgo.Record, err error) { done <- err })
	}
	failed := func(err error) error {
		switch {
		case reqCtx.Err() != nil:
			return reqCtx.Err() // the client went away, or its own deadline passed
		case ctx.Err() != nil:
			return p.unavailable(fmt.Errorf("no acknowledgement within %s", p.timeout))
		}
		return p.unavailable(err)
	}
	for range recs {
		select {
		case err := <-done:
			if err != nil {
				return failed(err)
			}
		case <-ctx.Done():
			return failed(ctx.Err())
		}
	}
	p.mu.Lock()
	p.lastErr = nil // Kafka is fine again: older errors would mislead
	p.mu.Unlock()
	return nil
}

func (p *Producer) unavailable(err error) error {
	p.mu.Lock()
	last := p.lastErr
	p.mu.Unlock()
	msg := fmt.Sprintf("kafka did not take the entries (topic %s): %v", p.topic, err)
	if last != nil && !errors.Is(err, last) {
		msg += fmt.Sprintf("; last client error: %v", last)
	}
	return &UnavailableError{Err: errors.New(msg + "; nothing was acknowledged, retry later")}
}

// Level and Log make the producer the client's logger: it keeps the last
// error the client met (a refused connection, a failed login), which a
// batch that times out does not carry.
func (p *Producer) Level() kgo.LogLevel { return kgo.LogLevelWarn }

// Log keeps the error of a warning or error.
func (p *Producer) Log(_ kgo.LogLevel, _ string, keyvals ...any) {
	for i := 0; i+1 < len(keyvals); i += 2 {
		if err, ok := keyvals[i+1].(error); ok && keyvals[i] == "err" && err != nil {
			p.mu.Lock()
			p.lastErr = err
			p.mu.Unlock()
		}
	}
}
