package search

import (
	"fmt"
	"runtime"
	"testing"

	"github.com/logengine/logengine/storage"
)

// BenchmarkGroupMemory counts one million distinct keys of a 32-character
// trace id, as a group-by over a day of 1M distinct values does, and
// reports the heap each group takes (bytes/group) next to what the budget
// charges for it (charged/group), which must not be less:
//
//	go test ./search -run '^$' -bench GroupMemory -benchtime 3x
func BenchmarkGroupMemory(b *testing.B) {
	const groups = 1_000_000
	keys := make([]storage.Value, groups)
	for i := range keys {
		keys[i] = storage.String(fmt.Sprintf("%032x", uint64(i)*0x9e3779b97f4a7c15))
	}
	b.ReportAllocs()
	b.SetBytes(groups)
	var heapPerGroup, chargedPerGroup float64
	for range b.N {
		runtime.GC()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		budget := &groupBudget{max: 1 << 40}
		c := newGroupCounter(budget)
		var key []byte
		for _, v := range keys {
			key = appendValueKey(key[:0], v)
			if !c.add(key, 1) {
				b.Fatal(budget.err)
			}
		}
		runtime.ReadMemStats(&after)
		if len(c.counts) != groups {
			b.Fatalf("%d groups", len(c.counts))
		}
		heapPerGroup = float64(after.HeapAlloc-before.HeapAlloc) / groups
		chargedPerGroup = float64(budget.used) / groups
		top, _, err := c.top(10)
		if err != nil || len(top) != 10 {
			b.Fatalf("top: %v %v", top, err)
		}
	}
	b.ReportMetric(heapPerGroup, "bytes/group")
	b.ReportMetric(chargedPerGroup, "charged/group")
}
