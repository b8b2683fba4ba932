package patterns

import (
	"fmt"
	"testing"
)

// BenchmarkMinerAdd mines realistic lines (the Loghub samples when here,
// else generated ones), one source per system, after a first pass: the
// steady state of a daemon, where most lines are of known templates.
func BenchmarkMinerAdd(b *testing.B) {
	msgs := testMessages(b)
	m := newMiner(b, DefaultConfig())
	for i, msg := range msgs {
		m.Add(fmt.Sprint("src", i/2000), msg)
	}
	srcs := make([]string, len(msgs))
	var size int64
	for i, msg := range msgs {
		srcs[i] = fmt.Sprint("src", i/2000)
		size += int64(len(msg))
	}
	b.SetBytes(size / int64(len(msgs)))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		j := i % len(msgs)
		m.Add(srcs[j], msgs[j])
	}
}

// BenchmarkMinerAddCold mines every line into a fresh miner: the cost of
// the first lines of a source, where templates are made.
func BenchmarkMinerAddCold(b *testing.B) {
	msgs := testMessages(b)
	b.ReportAllocs()
	for b.Loop() {
		m := newMiner(b, DefaultConfig())
		for i, msg := range msgs {
			m.Add(fmt.Sprint("src", i/2000), msg)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(msgs)), "ns/line")
}
