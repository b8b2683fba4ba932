package kafkaingest

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/logengine/logengine/ingest"
	"github.com/logengine/logengine/internal/kafkaclient"
	"github.com/logengine/logengine/internal/kafkatest"
)

// benchLines are records of the shape the ingest benchmarks use.
func benchLines(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf(`{"message":"Receiving block blk_%d src: /10.250.19.%d:54106 dest: /10.250.19.102:50010","source":"hdfs","level":"info","n":%d}`, i*7919, i%250, i)
	}
	return out
}

// BenchmarkConsume compares the records/s one node stores from Kafka (from
// its first stored batch on, past the group join) with
// the same records sent as NDJSON bodies of 1000 lines to the ingest
// service (the HTTP path without its transport).
func BenchmarkConsume(b *testing.B) {
	const n = 20000
	lines := benchLines(n)
	size := 0
	for _, l := range lines {
		size += len(l)
	}
	b.Run("kafka", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(size))
		c := kafkatest.Start(b, kafkatest.Options{Topics: []string{topic}, Partitions: 6})
		cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...), kgo.DefaultProduceTopic(topic))
		if err != nil {
			b.Fatal(err)
		}
		defer cl.Close()
		var total time.Duration
		records := 0
		for i := range b.N {
			b.StopTimer()
			for _, l := range lines {
				cl.Produce(context.Background(), &kgo.Record{Value: []byte(l)}, nil)
			}
			if err := cl.Flush(context.Background()); err != nil {
				b.Fatal(err)
			}
			s := openStore(b, b.TempDir())
			svc := ingest.NewService(s, ingest.ServiceOptions{})
			con, err := New(kafkaclient.Config{Brokers: c.ListenAddrs()}, Options{Topics: []string{topic}, Group: fmt.Sprint("bench", i)}, svc, s.Bucket(OffsetsBucket))
			if err != nil {
				b.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			var wg sync.WaitGroup
			b.StartTimer()
			wg.Add(1)
			go func() { defer wg.Done(); _ = con.Run(ctx) }()
			// Joining the group takes seconds of the broker's timers: the
			// rate is timed from the first stored batch.
			for s.HighSeq() == 0 {
				time.Sleep(100 * time.Microsecond)
			}
			start, first := time.Now(), s.HighSeq()
			want := uint64((i + 1) * n) // each round reads the topic from the start
			for s.HighSeq() < want {
				time.Sleep(100 * time.Microsecond)
			}
			total += time.Since(start)
			records += int(want - first)
			b.StopTimer()
			cancel()
			wg.Wait()
			_ = s.Close()
			b.StartTimer()
		}
		b.ReportMetric(float64(records)/total.Seconds(), "records/s")
	})
	b.Run("ingest-ndjson", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(size))
		var bodies [][]byte
		for i := 0; i < n; i += 1000 {
			bodies = append(bodies, []byte(strings.Join(lines[i:min(i+1000, n)], "\n")))
		}
		var total time.Duration
		for range b.N {
			b.StopTimer()
			s := openStore(b, b.TempDir())
			svc := ingest.NewService(s, ingest.ServiceOptions{})
			b.StartTimer()
			start := time.Now()
			for _, body := range bodies {
				if _, err := svc.Ingest(context.Background(), ingest.Request{Format: ingest.FormatNDJSON, Body: body}); err != nil {
					b.Fatal(err)
				}
			}
			total += time.Since(start)
			b.StopTimer()
			_ = s.Close()
			b.StartTimer()
		}
		b.ReportMetric(float64(b.N*n)/total.Seconds(), "records/s")
	})
}
