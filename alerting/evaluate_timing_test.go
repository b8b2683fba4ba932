package alerting

import (
	"context"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/logengine/logengine/search"
	"github.com/logengine/logengine/storage"
)

// The cost of alert rules on the ingest path. Run with
//
//	go test -run '^$' -bench 'Ingest|Match' -benchtime 20x ./alerting/
//
// BenchmarkIngest appends batches of 1,000 synthetic service logs and waits
// until the evaluator has evaluated them, with 0 and 100 enabled rules; the
// difference of the logs/s figures is the throughput the rules cost.
// BenchmarkMatchRules is the CPU per log of matching 100 rules.

var benchTemplates = []string{
	"upstream timeout after %dms", "connection reset by peer %d", "GET /api/orders/%d 200",
	"user %d logged in", "cache miss for key order:%d", "disk almost full on /var (%d%%)",
	"payment %d declined", "retrying request %d", "slow query took %dms", "worker %d started",
}

var benchLevels = []storage.Level{storage.LevelDebug, storage.LevelInfo, storage.LevelInfo, storage.LevelInfo, storage.LevelWarn, storage.LevelError, storage.LevelFatal}

func benchEntries(rng *rand.Rand, n int, now time.Time) []storage.Entry {
	out := make([]storage.Entry, n)
	for i := range out {
		out[i] = storage.Entry{
			Time:    now.Add(-time.Duration(rng.IntN(1000)) * time.Millisecond),
			Level:   benchLevels[rng.IntN(len(benchLevels))],
			Source:  fmt.Sprintf("svc-%d", rng.IntN(50)),
			Message: fmt.Sprintf(benchTemplates[rng.IntN(len(benchTemplates))], rng.IntN(100000)),
			Fields: []storage.Field{
				{Name: "host", Value: storage.String(fmt.Sprintf("web-%d", rng.IntN(200)))},
				{Name: "status", Value: storage.Int(int64([]int{200, 200, 200, 404, 500, 503}[rng.IntN(6)]))},
			},
		}
		if rng.IntN(3) == 0 {
			out[i].Tags = []string{"prod"}
		}
	}
	return out
}

// benchRules returns n rules of the kinds people write: errors of a
// service, words in messages, field conditions, a silent source, and
// per-log rules on fatal logs.
func benchRules(n int) []Rule {
	var out []Rule
	for i := range n {
		svc := fmt.Sprintf("svc-%d", i%50)
		r := Rule{Name: fmt.Sprintf("rule %d", i), Window: Duration(5 * time.Minute), Condition: Condition{Op: OpGreater, Threshold: 1e6}, Enabled: true}
		switch i % 10 {
		case 0, 1, 2:
			r.Query = "level:error source:" + svc
		case 3:
			r.Query = `"connection reset" source:` + svc
		case 4:
			r.Query = "timeout level>=warn"
			r.Name += " timeout"
		case 5:
			r.Query = fmt.Sprintf("status>=500 host:web-%d", i)
		case 6:
			r.Query = "source:" + svc
			r.Condition = Condition{Op: OpLess, Threshold: 1}
		case 7:
			r.Query = "level:fatal source:" + svc
			r.Window, r.Throttle = 0, Duration(time.Hour)
			r.Condition = Condition{}
		case 8:
			r.Query = "declined -tag:test source:" + svc
		case 9:
			r.Query = "(level:error OR level:fatal) tag:prod source:" + svc
		}
		out = append(out, r)
	}
	return out
}

func BenchmarkIngest(b *testing.B) {
	for _, nrules := range []int{0, 100} {
		b.Run(fmt.Sprintf("rules=%d", nrules), func(b *testing.B) {
			dir := b.TempDir()
			sopts := storage.DefaultOptions(filepath.Join(dir, "db"))
			sopts.SyncWrites = false // the CPU-bound worst case: no fsync to hide behind
			store, err := storage.Open(sopts)
			if err != nil {
				b.Fatal(err)
			}
			defer store.Close()
			index, err := search.OpenIndex(filepath.Join(dir, "index"), nil)
			if err != nil {
				b.Fatal(err)
			}
			defer index.Close()
			engine := search.NewEngine(store, index, search.NewIndexer(store, index, search.DefaultIndexerOptions()), search.EngineOptions{})
			m, err := Open(context.Background(), store, engine, Options{})
			if err != nil {
				b.Fatal(err)
			}
			defer m.Close()
			for _, r := range benchRules(nrules) {
				if _, err := m.CreateRule(context.Background(), r); err != nil {
					b.Fatal(err)
				}
			}
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() { done <- m.Run(ctx) }()
			defer func() {
				cancel()
				if err := <-done; err != nil {
					b.Error(err)
				}
			}()
			rng := rand.New(rand.NewPCG(1, 2))
			const batch = 1000
			batches := make([][]storage.Entry, 16)
			var bytes int64
			for i := range batches {
				batches[i] = benchEntries(rng, batch, time.Now())
			}
			for _, e := range batches[0] {
				bytes += int64(len(e.Message) + 60)
			}
			b.SetBytes(bytes)
			b.ReportAllocs()
			b.ResetTimer()
			start, cpu0 := time.Now(), cpuTime(b)
			for i := 0; b.Loop(); i++ {
				// Stamped as they arrive, up to a second late, as shipped
				// logs are.
				ents := batches[i%len(batches)]
				now := time.Now()
				for j := range ents {
					ents[j].Time = now.Add(-time.Duration(j%1000) * time.Millisecond)
				}
				if _, err := store.Append(ctx, ents); err != nil {
					b.Fatal(err)
				}
				m.Committed(ents) // as the daemon's ingest service does
			}
			if err := m.WaitEvaluated(ctx, store.HighSeq()); err != nil {
				b.Fatal(err)
			}
			b.StopTimer()
			b.ReportMetric(float64(b.N*batch)/time.Since(start).Seconds(), "logs/s")
			// CPU of the whole process (Badger's background work included)
			// per log: steadier than logs/s when other work shares the cores.
			b.ReportMetric(float64((cpuTime(b)-cpu0).Microseconds())/float64(b.N*batch), "cpu-µs/log")
		})
	}
}

func BenchmarkMatchRules(b *testing.B) {
	rng := rand.New(rand.NewPCG(3, 4))
	entries := benchEntries(rng, 10000, time.Now())
	var live []*liveRule
	ev := &evaluator{bySource: map[string][]*liveRule{}}
	for _, r := range benchRules(100) {
		node, err := r.normalize()
		if err != nil {
			b.Fatal(err)
		}
		lr := compileLive(&r, node)
		live = append(live, lr)
		if lr.source != "" {
			ev.bySource[lr.source] = append(ev.bySource[lr.source], lr)
		} else {
			ev.general = append(ev.general, lr)
		}
	}
	var tok entryTokens
	for _, c := range []struct {
		name string
		fn   func(e *storage.Entry) int
	}{
		{"by source, prefiltered", func(e *storage.Entry) int {
			n := 0
			tok.e, tok.done = e, false
			for _, lrs := range [][]*liveRule{ev.general, ev.bySource[e.Source]} {
				for _, lr := range lrs {
					if lr.match(e, &tok) {
						n++
					}
				}
			}
			return n
		}},
		{"prefiltered", func(e *storage.Entry) int {
			n := 0
			tok.e, tok.done = e, false
			for _, lr := range live {
				if lr.match(e, &tok) {
					n++
				}
			}
			return n
		}},
		{"search.Match only", func(e *storage.Entry) int {
			n := 0
			for _, lr := range live {
				if search.Match(lr.node, e) {
					n++
				}
			}
			return n
		}},
	} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			matched := 0
			for i := 0; b.Loop(); i++ {
				matched += c.fn(&entries[i%len(entries)])
			}
			b.ReportMetric(float64(matched)/float64(b.N), "matches/log")
		})
	}
}

// cpuTime returns the CPU time the process has used.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
