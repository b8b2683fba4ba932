package block

import (
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"runtime"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/FastFilter/xorfilter"
	"github.com/cespare/xxhash/v2"
)

// BenchmarkFieldFilter compares, on the same keys, the bloom filter that a
// block header keeps of a field column's distinct strings with xor8 and
// binary fuse8 filters, and with the same bloom (7 probes) at 8 and 12 bits
// per value, which today's reader could read as they are:
// size, measured false positives, build cost and lookup cost. The keys are
// those of random trace ids (32 hex characters), hashed as the product
// hashes them (stringFilterKey), for 1,000, 4,096 and 8,192 distinct
// values per block.
//
// BenchmarkFieldFilter/<kind>/n=<n> reports, per op (building the filters
// of all the key sets of that size):
//
//	bits/value      filter bytes (with the parameters a header would
//	                store: seed and lengths for xor8 and fuse8) × 8 / n
//	fpr%            hits among fieldFilterAbsent absent keys, against each
//	                of the fieldFilterSets filters
//	build-ns/value  build time per inserted key
//
// BenchmarkFieldFilterLookup/<kind>/n=<n> reports lookup-ns (per probe of
// an absent key, what a needle query does with most blocks) and
// hit-ns (per probe of a present key).

const (
	// fieldFilterSets is the number of key sets (blocks) of each size.
	fieldFilterSets = 8
	// fieldFilterAbsent is the number of absent keys probed against each
	// filter to measure its false positives.
	fieldFilterAbsent = 1_000_000
)

var fieldFilterSizes = []int{1000, 4096, 8192}

// fieldFilter is one kind of filter under comparison.
type fieldFilter struct {
	name string
	// build returns the filter of the keys as the number of bytes it takes
	// and a function counting which of its probes it may hold.
	build func(keys []uint64) (size int, count func(probes []uint64) int)
}

var fieldFilterKinds = []fieldFilter{
	{"bloom8", func(keys []uint64) (int, func([]uint64) int) {
		return bloomKind(buildFilterBits(keys, 8))
	}},
	{"bloom10", func(keys []uint64) (int, func([]uint64) int) {
		// The product's filter, as is.
		return bloomKind(buildFilter(keys))
	}},
	{"bloom12", func(keys []uint64) (int, func([]uint64) int) {
		return bloomKind(buildFilterBits(keys, 12))
	}},
	{"xor8", func(keys []uint64) (int, func([]uint64) int) {
		f, err := xorfilter.Populate(keys)
		if err != nil {
			panic(err)
		}
		// Seed and block length, then the fingerprints.
		size := 8 + 4 + len(f.Fingerprints)
		return size, func(probes []uint64) int { return countHits(probes, f.Contains) }
	}},
	{"fuse8", func(keys []uint64) (int, func([]uint64) int) {
		f, err := xorfilter.PopulateBinaryFuse8(keys)
		if err != nil {
			panic(err)
		}
		// Seed, four segment parameters, then the fingerprints.
		size := 8 + 4*4 + len(f.Fingerprints)
		return size, func(probes []uint64) int { return countHits(probes, f.Contains) }
	}},
}

func bloomKind(f []byte) (int, func([]uint64) int) {
	return len(f), func(probes []uint64) int {
		return countHits(probes, func(k uint64) bool { return filterHas(f, k) })
	}
}

// countHits returns how many of probes has reports present.
func countHits(probes []uint64, has func(uint64) bool) int {
	c := 0
	for _, k := range probes {
		if has(k) {
			c++
		}
	}
	return c
}

// fieldFilterKeys returns the keys of n random distinct trace ids.
func fieldFilterKeys(r *rand.Rand, n int, seen map[uint64]bool) []uint64 {
	var d xxhash.Digest
	var id [16]byte
	keys := make([]uint64, 0, n)
	for len(keys) < n {
		for i := 0; i < len(id); i += 8 {
			v := r.Uint64()
			for j := range 8 {
				id[i+j] = byte(v >> (8 * j))
			}
		}
		k := stringFilterKey(&d, hex.EncodeToString(id[:]))
		if seen[k] {
			continue
		}
		seen[k] = true
		keys = append(keys, k)
	}
	return keys
}

type fieldFilterFixture struct {
	// sets holds fieldFilterSets key sets of each size.
	sets map[int][][]uint64
	// absent holds keys in none of the sets.
	absent []uint64
}

var fieldFilterData = sync.OnceValue(func() *fieldFilterFixture {
	r := rand.New(rand.NewPCG(20261204, 1))
	seen := map[uint64]bool{}
	fx := &fieldFilterFixture{sets: map[int][][]uint64{}}
	for _, n := range fieldFilterSizes {
		for range fieldFilterSets {
			keys := fieldFilterKeys(r, n, seen)
			// As the product builds them: sorted, distinct.
			slices.Sort(keys)
			fx.sets[n] = append(fx.sets[n], keys)
		}
	}
	fx.absent = fieldFilterKeys(r, fieldFilterAbsent, seen)
	return fx
})

type fieldFilterResult struct {
	bitsPerValue float64
	fpr          float64
}

var (
	fieldFilterMu      sync.Mutex
	fieldFilterResults = map[string]fieldFilterResult{}
)

// fieldFilterMeasure returns the size and false-positive rate of a kind
// for the key sets of size n, measured once (they do not depend on timing).
func fieldFilterMeasure(kind fieldFilter, n int) fieldFilterResult {
	id := fmt.Sprintf("%s/%d", kind.name, n)
	fieldFilterMu.Lock()
	defer fieldFilterMu.Unlock()
	if res, ok := fieldFilterResults[id]; ok {
		return res
	}
	fx := fieldFilterData()
	bytes, hits, probes := 0, 0, 0
	for _, keys := range fx.sets[n] {
		size, count := kind.build(keys)
		bytes += size
		hits += count(fx.absent)
		probes += len(fx.absent)
	}
	res := fieldFilterResult{
		bitsPerValue: float64(bytes) * 8 / float64(n*len(fx.sets[n])),
		fpr:          100 * float64(hits) / float64(probes),
	}
	fieldFilterResults[id] = res
	return res
}

func BenchmarkFieldFilter(b *testing.B) {
	fx := fieldFilterData()
	for _, kind := range fieldFilterKinds {
		for _, n := range fieldFilterSizes {
			b.Run(fmt.Sprintf("%s/n=%d", kind.name, n), func(b *testing.B) {
				res := fieldFilterMeasure(kind, n)
				sets := fx.sets[n]
				size := 0
				runtime.GC()
				b.ResetTimer()
				start := time.Now()
				for range b.N {
					for _, keys := range sets {
						s, _ := kind.build(keys)
						size += s
					}
				}
				elapsed := time.Since(start)
				b.StopTimer()
				if size == 0 {
					b.Fatal("no filter built")
				}
				b.ReportMetric(res.bitsPerValue, "bits/value")
				b.ReportMetric(res.fpr, "fpr%")
				b.ReportMetric(float64(elapsed.Nanoseconds())/float64(b.N*len(sets)*n), "build-ns/value")
			})
		}
	}
}

// fieldFilterSink keeps the lookups' results alive.
var fieldFilterSink int

func BenchmarkFieldFilterLookup(b *testing.B) {
	fx := fieldFilterData()
	// Present keys probed: those of the first set, repeated to about as
	// many probes as absent ones.
	for _, kind := range fieldFilterKinds {
		for _, n := range fieldFilterSizes {
			b.Run(fmt.Sprintf("%s/n=%d", kind.name, n), func(b *testing.B) {
				keys := fx.sets[n][0]
				_, count := kind.build(keys)
				reps := len(fx.absent) / n
				var absentTime, presentTime time.Duration
				hits := 0
				runtime.GC()
				b.ResetTimer()
				for range b.N {
					start := time.Now()
					hits += count(fx.absent)
					mid := time.Now()
					for range reps {
						if count(keys) != len(keys) {
							b.Fatal("false negative")
						}
					}
					absentTime += mid.Sub(start)
					presentTime += time.Since(mid)
				}
				b.StopTimer()
				fieldFilterSink += hits
				b.ReportMetric(float64(absentTime.Nanoseconds())/float64(b.N*len(fx.absent)), "lookup-ns")
				b.ReportMetric(float64(presentTime.Nanoseconds())/float64(b.N*reps*n), "hit-ns")
			})
		}
	}
}

// TestFieldFilterNoFalseNegative checks that every kind of filter under
// comparison holds every key it was built of, and lets through no more
// absent keys than its kind should.
func TestFieldFilterNoFalseNegative(t *testing.T) {
	// Expected rates are about 2.3% (bloom8), 0.8% (bloom10), 0.3%
	// (bloom12), 0.4% (xor8, fuse8); the bounds leave room for chance.
	maxFPR := map[string]float64{
		"bloom8": 4, "bloom10": 1.6, "bloom12": 0.8, "xor8": 0.8, "fuse8": 0.8,
	}
	r := rand.New(rand.NewPCG(7, 11))
	seen := map[uint64]bool{}
	sizes := []int{1, 2, 3, 100, 1000, 4096, 8192}
	sets := map[int][]uint64{}
	for _, n := range sizes {
		keys := fieldFilterKeys(r, n, seen)
		slices.Sort(keys)
		sets[n] = keys
	}
	absent := fieldFilterKeys(r, 100_000, seen)
	for _, kind := range fieldFilterKinds {
		for _, n := range sizes {
			t.Run(fmt.Sprintf("%s/n=%d", kind.name, n), func(t *testing.T) {
				keys := slices.Clone(sets[n])
				size, count := kind.build(keys)
				if !slices.Equal(keys, sets[n]) {
					t.Fatal("building the filter changed its keys")
				}
				if size <= 0 {
					t.Fatalf("filter of %d bytes", size)
				}
				missed := 0
				for i, k := range keys {
					if count(keys[i:i+1]) != 1 {
						if missed < 5 {
							t.Errorf("key %d of %d (%#x) not in its filter", i, n, k)
						}
						missed++
					}
				}
				if missed > 0 {
					t.Fatalf("%d of %d keys not in their filter", missed, n)
				}
				if n < 1000 {
					return
				}
				fpr := 100 * float64(count(absent)) / float64(len(absent))
				if fpr > maxFPR[kind.name] {
					t.Errorf("%.3f%% false positives, want at most %.1f%%", fpr, maxFPR[kind.name])
				}
			})
		}
	}
}
