package gateway_test

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/logengine/logengine/gateway"
	"github.com/logengine/logengine/internal/kafkaclient"
	"github.com/logengine/logengine/internal/kafkatest"
	"github.com/logengine/logengine/storage"
)

func TestCheckTopic(t *testing.T) {
	for _, tc := range []struct {
		topic, want string
	}{
		{"logs", ""},
		{"logs.prod_eu-1", ""},
		{"", "missing"},
		{"a/b", `"a/b" must be`},
		{"..", "not . or .."},
		{strings.Repeat("x", 250), "1-249"},
	} {
		err := gateway.CheckTopic(tc.topic)
		if tc.want == "" && err != nil || tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("CheckTopic(%q) = %v, want %q", tc.topic, err, tc.want)
		}
	}
}

// observer records what the producer reports.
type observer struct {
	mu      sync.Mutex
	records int
	errs    int
}

func (o *observer) ObserveProduce(records int, err error, _ time.Duration) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if err != nil {
		o.errs++
		return
	}
	o.records += records
}

func newProducer(t *testing.T, brokers []string, timeout time.Duration, obs gateway.Observer) *gateway.Producer {
	t.Helper()
	p, err := gateway.New(gateway.Options{Kafka: kafkaclient.Config{Brokers: brokers}, Topic: "logs", Timeout: timeout, Observer: obs})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	return p
}

func entries() []storage.Entry {
	at := time.Date(2026, 12, 4, 6, 0, 0, 0, time.UTC)
	return []storage.Entry{
		{Time: at, Level: storage.LevelError, Source: "api", Message: "upstream timeout", Tags: []string{"prod"},
			Fields: []storage.Field{{Name: "status", Value: storage.Int(504)}, {Name: "host", Value: storage.String("web-1")}}},
		{Time: at.Add(time.Millisecond), Level: storage.LevelInfo, Source: "auth", Message: "user logged in"},
		{Time: at.Add(2 * time.Millisecond), Level: storage.LevelWarn, Source: "api", Message: "slow request"},
	}
}

func TestAppend(t *testing.T) {
	c := kafkatest.Start(t, kafkatest.Options{Topics: []string{"logs"}})
	obs := &observer{}
	p := newProducer(t, c.ListenAddrs(), 20*time.Second, obs)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	// The first batch's acknowledgement is lost: the broker appends it but
	// answers REQUEST_TIMED_OUT, and the idempotent producer's resend is
	// not written again.
	f := c.Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.Produce}, Topic: "logs", Err: kerr.RequestTimedOut})
	in := entries()
	ids, err := p.Append(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	if len(ids) != len(in) || ids[0] != (storage.ID{}) {
		t.Errorf("ids %v, want %d zero ids", ids, len(in))
	}
	if f.Hits() != 1 {
		t.Fatalf("the lost acknowledgement was not simulated (%d hits)", f.Hits())
	}

	cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...), kgo.ConsumeTopics("logs"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	var recs []*kgo.Record
	for len(recs) < len(in) && ctx.Err() == nil {
		recs = append(recs, cl.PollFetches(ctx).Records()...)
	}
	short, cancel2 := context.WithTimeout(ctx, 2*time.Second)
	defer cancel2()
	recs = append(recs, cl.PollFetches(short).Records()...)
	if len(recs) != len(in) {
		t.Fatalf("%d records in the topic, want %d", len(recs), len(in))
	}
	byMessage := map[string]map[string]any{}
	for _, r := range recs {
		var v map[string]any
		if err := json.Unmarshal(r.Value, &v); err != nil {
			t.Fatalf("record %s: %v", r.Value, err)
		}
		if string(r.Key) != v["source"] {
			t.Errorf("record key %q, source %v", r.Key, v["source"])
		}
		byMessage[v["message"].(string)] = v
	}
	first := byMessage["upstream timeout"]
	fields, _ := first["fields"].(map[string]any)
	if first["timestamp"] != "2026-12-04T06:00:00Z" || first["level"] != "error" || first["severity"] != 17.0 ||
		fields["status"] != 504.0 || fields["host"] != "web-1" || first["tags"].([]any)[0] != "prod" {
		t.Errorf("record %v", first)
	}
	for msg, v := range byMessage {
		if _, ok := v["id"]; ok {
			t.Errorf("record %q has an id", msg)
		}
	}
	obs.mu.Lock()
	defer obs.mu.Unlock()
	if obs.records != len(in) || obs.errs != 0 {
		t.Errorf("observer saw %d records and %d errors", obs.records, obs.errs)
	}
}

func TestAppendUnavailable(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	down := l.Addr().String()
	l.Close()
	obs := &observer{}
	p := newProducer(t, []string{down}, time.Second, obs)

	_, err = p.Append(context.Background(), entries())
	var un *gateway.UnavailableError
	if !errors.As(err, &un) || !un.Unavailable() || !strings.Contains(err.Error(), "nothing was acknowledged") {
		t.Fatalf("Append with no broker: %v, want an UnavailableError", err)
	}
	if !strings.Contains(err.Error(), "connection refused") {
		t.Errorf("the error does not name the client's last error: %v", err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := p.Append(ctx, entries()); !errors.Is(err, context.Canceled) {
		t.Errorf("Append with a canceled context: %v", err)
	}
	obs.mu.Lock()
	defer obs.mu.Unlock()
	if obs.errs != 2 || obs.records != 0 {
		t.Errorf("observer saw %d records and %d errors, want 0 and 2", obs.records, obs.errs)
	}
}

// TestAppendUnknownTopic shows that a topic that does not exist (the
// gateway never creates one) fails requests with a message naming it.
func TestAppendUnknownTopic(t *testing.T) {
	c := kafkatest.Start(t, kafkatest.Options{Topics: []string{"other"}})
	p := newProducer(t, c.ListenAddrs(), 20*time.Second, nil)
	_, err := p.Append(context.Background(), entries())
	var un *gateway.UnavailableError
	if !errors.As(err, &un) || !strings.Contains(err.Error(), "topic logs") || !strings.Contains(err.Error(), "UNKNOWN_TOPIC_OR_PARTITION") {
		t.Fatalf("Append to a missing topic: %v", err)
	}
}
