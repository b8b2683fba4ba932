package storage

import (
	"context"
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
			Fields: []Field{{"host", String(l.Host)}, {"status", Int(int64(l.Status))}, {"latency_ms", Int(int64(l.Latency))}}}
		bytes += len(l.AppendJSON(nil))
	}
	return out, bytes
}

// BenchmarkAppend measures the durable append path (encode, posting lists,
// journal, one fsync'd Badger commit) for 1,000-entry batches.
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
			for i := 0; i < b.N; i++ {
				if _, err := s.Append(context.Background(), entries); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N*batch)/b.Elapsed().Seconds(), "logs/s")
		})
	}
}
