package storage

import (
	"context"
	"testing"
	"time"
)

// BenchmarkMerge measures the merger on a day of 1,000-entry blocks (the
// side-by-side load's commits): cpu-ns/log is the process's CPU time per
// entry merged, Badger's work included.
//
//	go test -run '^$' -bench BenchmarkMerge -benchtime 20x ./storage
func BenchmarkMerge(b *testing.B) {
	const batch, batches = 1000, 64
	entries, _ := loggenEntries(batch*batches, time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC))
	ctx := context.Background()
	b.ReportAllocs()
	var cpu int64
	merged := 0
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		s := openTestStore(b, b.TempDir())
		for j := 0; j < batches; j++ {
			if _, err := s.Append(ctx, entries[j*batch:(j+1)*batch]); err != nil {
				b.Fatal(err)
			}
		}
		// The day is over (settled): one pass merges all of it.
		b.StartTimer()
		c := cpuTime()
		st, err := s.MergeBlocks(ctx)
		if err != nil {
			b.Fatal(err)
		}
		cpu += cpuTime() - c
		merged += st.Entries
		b.StopTimer()
		if st.Entries == 0 {
			b.Fatal("nothing merged")
		}
		s.Close()
		b.StartTimer()
	}
	b.ReportMetric(float64(cpu)/float64(merged), "cpu-ns/log")
}
