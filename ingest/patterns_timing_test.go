package ingest

import (
	"context"
	"runtime"
	"testing"
	"time"

	"github.com/logengine/logengine/patterns"
	"github.com/logengine/logengine/storage"
)

// BenchmarkIngestPatterns is the cost of mining at ingest: 1,000-line
// NDJSON batches of service logs (5 statements, 50 sources) through the
// whole service, with mining off and on, into a store that keeps nothing
// (decoding and mining alone) and into Badger without fsync. The miner is
// warm, as in a running daemon, so the saver is not waited for. cpu-ns/log
// is the process's CPU time per log (Badger's background work and garbage
// collection included), which a busy machine inflates less than wall time;
// allocs/log counts every goroutine's allocations.
//
//	go test -run '^$' -bench IngestPatterns -count 6 ./ingest/ | benchstat -col /patterns -
func BenchmarkIngestPatterns(b *testing.B) {
	body := serviceLogs(1000)
	for _, sink := range []string{"discard", "store"} {
		for _, mining := range []string{"off", "on"} {
			b.Run("sink="+sink+"/patterns="+mining, func(b *testing.B) {
				var st Appender = discardStore{}
				if sink == "store" {
					opts := storage.DefaultOptions(b.TempDir())
					opts.SyncWrites = false
					s, err := storage.Open(opts)
					if err != nil {
						b.Fatal(err)
					}
					defer func() {
						if err := s.Close(); err != nil {
							b.Error(err)
						}
					}()
					st = s
				}
				opts := ServiceOptions{Now: func() time.Time { return testNow }}
				if mining == "on" {
					m, err := patterns.New(patterns.DefaultConfig())
					if err != nil {
						b.Fatal(err)
					}
					saver := patterns.NewSaver(m, discardState{}, patterns.SaverOptions{})
					ctx, cancel := context.WithCancel(context.Background())
					done := make(chan struct{})
					go func() { defer close(done); _ = saver.Run(ctx) }()
					defer func() { cancel(); <-done }()
					opts.Patterns = struct {
						*patterns.Miner
						*patterns.Saver
					}{m, saver}
				}
				svc := NewService(st, opts)
				req := Request{Body: body, Format: FormatNDJSON}
				if _, err := svc.Ingest(context.Background(), req); err != nil { // warm the caches
					b.Fatal(err)
				}
				b.SetBytes(int64(len(body)))
				b.ReportAllocs()
				b.ResetTimer()
				var ms0, ms1 runtime.MemStats
				runtime.ReadMemStats(&ms0)
				cpu := cpuTime()
				for b.Loop() {
					res, err := svc.Ingest(context.Background(), req)
					if err != nil || res.Accepted != 1000 {
						b.Fatalf("%+v %v", res, err)
					}
				}
				b.ReportMetric(float64(cpuTime()-cpu)/float64(b.N)/1000, "cpu-ns/log")
				runtime.ReadMemStats(&ms1)
				b.ReportMetric(float64(ms1.Mallocs-ms0.Mallocs)/float64(b.N)/1000, "allocs/log")
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/1000/1000, "µs/log")
			})
		}
	}
}

// discardState is a patterns.StateStore that keeps nothing.
type discardState struct{}

func (discardState) Put(string, []byte) error { return nil }
