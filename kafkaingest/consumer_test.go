package kafkaingest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/logengine/logengine/ingest"
	"github.com/logengine/logengine/internal/kafkaclient"
	"github.com/logengine/logengine/internal/kafkatest"
	"github.com/logengine/logengine/storage"
)

const topic = "logs"

func openStore(t testing.TB, dir string) *storage.Store {
	t.Helper()
	opts := storage.DefaultOptions(dir)
	opts.SyncWrites = false
	s, err := storage.Open(opts)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func produce(t *testing.T, brokers []string, values ...string) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.DefaultProduceTopic(topic))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	for i, v := range values {
		r := &kgo.Record{Key: []byte(fmt.Sprint(i % 7)), Value: []byte(v),
			Headers: []kgo.RecordHeader{{Key: "host", Value: []byte("web-1")}}}
		if err := cl.ProduceSync(context.Background(), r).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
}

// messages returns how many times each message is stored.
func messages(t *testing.T, s *storage.Store) map[string]int {
	t.Helper()
	out := map[string]int{}
	err := s.Scan(context.Background(), storage.MinID, storage.MaxID, false, func(e *storage.Entry) bool {
		out[e.Message]++
		return true
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// flaky refuses the first batches as an overloaded store does.
type flaky struct {
	*ingest.Service
	refuse atomic.Int32
}

func (f *flaky) IngestResultsWith(ctx context.Context, format ingest.Format, size int, results []ingest.Result, puts []storage.Put) (ingest.Response, error) {
	if f.refuse.Add(-1) >= 0 {
		return ingest.Response{}, fmt.Errorf("append: %w", storage.ErrOverloaded)
	}
	return f.Service.IngestResultsWith(ctx, format, size, results, puts)
}

// run consumes until want messages are stored (or the test's deadline).
func run(t *testing.T, brokers []string, s *storage.Store, svc Ingester, opts Options, want int) {
	t.Helper()
	opts.Topics = []string{topic}
	if opts.Group == "" {
		opts.Group = "g"
	}
	c, err := New(kafkaclient.Config{Brokers: brokers}, opts, svc, s.Bucket(OffsetsBucket))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		if err := c.Run(ctx); err != nil {
			t.Error(err)
		}
	}()
	// Not a speed check: a bound that turns a hang into a failure that
	// says what was stored.
	for start := time.Now(); ; {
		n := 0
		got := messages(t, s)
		for _, k := range got {
			n += k
		}
		if n >= want {
			break
		}
		if time.Since(start) > 2*time.Minute {
			cancel()
			wg.Wait()
			t.Fatalf("stored %d entries, want %d: %v", n, want, got)
		}
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	wg.Wait()
}

// TestConsumeExactlyOnce: records of every format are stored once, bad
// ones skipped without stopping their partition; a consumer started again
// on the same store resumes from its stored offsets even when the group
// never saw its commits, and a refusing store only delays consumption.
func TestConsumeExactlyOnce(t *testing.T) {
	c := kafkatest.Start(t, kafkatest.Options{Topics: []string{topic}})
	brokers := c.ListenAddrs()
	produce(t, brokers,
		`{"message":"json one","level":"warn"}`,
		"{\"message\":\"nd one\"}\n{\"message\":\"nd two\"}",
		"2026-12-04T07:00:00Z ERROR text one\ntext two",
		`{"message": broken`,
		`{"id":"01KBMR3FN80000000000000001","timestamp":"2026-12-04T07:00:00Z","level":"info","severity":9,"source":"api","message":"exported","tags":["a"],"fields":{"status":200}}`,
	)
	dir := t.TempDir()
	s := openStore(t, dir)
	svc := ingest.NewService(s, ingest.ServiceOptions{})
	run(t, brokers, s, &flaky{Service: svc, refuse: atomic.Int32{}}, Options{Headers: []string{"host"}}, 6)
	got := messages(t, s)
	for _, m := range []string{"json one", "nd one", "nd two", "text one", "text two", "exported"} {
		if got[m] != 1 {
			t.Errorf("%q stored %d times, want once (stored: %v)", m, got[m], got)
		}
	}
	err := s.Scan(context.Background(), storage.MinID, storage.MaxID, false, func(e *storage.Entry) bool {
		if e.Message == "exported" && (e.Source != "api" || len(e.Fields) != 2) {
			t.Errorf("the export form decoded to %+v", e)
		}
		if e.Message == "text one" && e.Level != storage.LevelError {
			t.Errorf("text line level %v, want error", e.Level)
		}
		return true
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	// A new group has no offsets: only this node's stored ones keep it
	// from reading the topic again.
	produce(t, brokers, "after restart")
	s = openStore(t, dir)
	defer s.Close()
	f := &flaky{Service: ingest.NewService(s, ingest.ServiceOptions{})}
	f.refuse.Store(3)
	run(t, brokers, s, f, Options{Group: "new"}, 7)
	got = messages(t, s)
	for m, n := range got {
		if n != 1 {
			t.Errorf("%q stored %d times after the restart", m, n)
		}
	}
	if got["after restart"] != 1 || len(got) != 7 {
		t.Errorf("stored %v", got)
	}
	if f.refuse.Load() >= 0 {
		t.Errorf("the store was never refusing")
	}
}

func TestNewChecks(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts Options
	}{
		{"no topics", Options{Group: "g"}},
		{"no group", Options{Topics: []string{"t"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := New(kafkaclient.Config{Brokers: []string{"127.0.0.1:1"}}, tc.opts, nil, nil); err == nil {
				t.Fatal("no error")
			}
		})
	}
	if _, err := New(kafkaclient.Config{}, Options{Topics: []string{"t"}, Group: "g"}, nil, nil); err == nil || !errors.Is(err, err) {
		t.Fatal("no brokers accepted")
	}
}
