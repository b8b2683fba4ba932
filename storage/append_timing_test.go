package storage

import (
	"context"
	"runtime"
	"testing"
	"time"

	"github.com/logengine/logengine/internal/loggen"
)

func loggenEntries(n int, start time.Time) ([]Entry, int) {
	g := loggen.New(7)
	out := make([]Entry, n)
	var bytes int
	for i := range out {
		l := g.Next(start.Add(time.Duration(i) * time.Millisecond))
		lvl, _ := ParseLevelName(l.Level)
		out[i] = Entry{Time: l.Time, Level: lvl, Source: l.Source, Message: l.Message, Tags: l.Tags,
			Fields: []Field{{Name: "host", Value: String(l.Host)}, {Name: "status", Value: Int(int64(l.Status))}, {Name: "latency_ms", Value: Int(int64(l.Latency))}}}
		bytes += len(l.AppendJSON(nil))
	}
	return out, bytes
}

// BenchmarkAppend measures the durable append path (encode, posting lists,
// journal, one fsync'd Badger commit) for 1,000-entry batches. cpu-ns/log
// is the process's CPU time per entry (Badger's flushes and compactions
// and garbage collection included), which a machine shared with other work
// inflates less than wall time; allocs/log counts every goroutine's.
//
//	go test -run '^$' -bench BenchmarkAppend -benchtime 200x ./storage
func BenchmarkAppend(b *testing.B) {
	for _, sync := range []bool{true, false} {
		name := "sync"
		if !sync {
			name = "nosync"
		}
		b.Run(name, func(b *testing.B) {
			opts := DefaultOptions(b.TempDir())
			opts.SyncWrites = sync
			s, err := Open(opts)
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			const batch = 1000
			entries, jsonBytes := loggenEntries(batch, time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC))
			b.SetBytes(int64(jsonBytes))
			b.ReportAllocs()
			b.ResetTimer()
			var ms0, ms1 runtime.MemStats
			runtime.ReadMemStats(&ms0)
			cpu := cpuTime()
			for i := 0; i < b.N; i++ {
				if _, err := s.Append(context.Background(), entries); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(cpuTime()-cpu)/float64(b.N*batch), "cpu-ns/log")
			runtime.ReadMemStats(&ms1)
			b.ReportMetric(float64(ms1.Mallocs-ms0.Mallocs)/float64(b.N*batch), "allocs/log")
			b.ReportMetric(float64(b.N*batch)/b.Elapsed().Seconds(), "logs/s")
		})
	}
}

// BenchmarkFetchRecent compares the two ways to read back a run of
// recently committed entries, as the keyword indexer does when it has
// fallen out of its in-memory handoff: a point get per id (GetMany) and a
// walk in key order (GetSorted). The store holds 1.5M entries, most of
// them flushed out of the memtables into tables on several levels.
//
//	go test -run '^$' -bench BenchmarkFetchRecent ./storage
func BenchmarkFetchRecent(b *testing.B) {
	s := openTestStore(b, b.TempDir())
	defer s.Close()
	ctx := context.Background()
	const total, batch, run = 1_500_000, 1000, 10_000
	start := time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC)
	var ids []ID
	for i := 0; i < total/batch; i++ {
		entries, _ := loggenEntries(batch, start.Add(time.Duration(i)*time.Second))
		got, err := s.Append(ctx, entries)
		if err != nil {
			b.Fatal(err)
		}
		ids = append(ids, got...)
	}
	// A run from the middle: in tables, not in the memtables.
	want := ids[total/2 : total/2+run]
	for _, bc := range []struct {
		name  string
		fetch func(context.Context, []ID, func(*Entry) bool) error
	}{{"GetMany", s.GetMany}, {"GetSorted", s.GetSorted}} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				n := 0
				err := bc.fetch(ctx, append([]ID(nil), want...), func(*Entry) bool { n++; return true })
				if err != nil || n != run {
					b.Fatalf("fetched %d of %d: %v", n, run, err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*run), "ns/entry")
		})
	}
}
