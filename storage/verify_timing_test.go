package storage

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/dgraph-io/badger/v4/options"
)

// BenchmarkChecksumMode compares a full scan of a store with and without
// Badger's checksum check on block reads, with a block cache too small to
// hold the store, so that blocks are read (and checked) from disk.
//
//	go test -run '^$' -bench BenchmarkChecksumMode -benchtime 5x ./storage
func BenchmarkChecksumMode(b *testing.B) {
	dir := closedBenchStore(b)
	ctx := context.Background()
	defer func(m options.ChecksumVerificationMode) { checksumMode = m }(checksumMode)
	for _, bc := range []struct {
		name string
		mode options.ChecksumVerificationMode
	}{{"none", options.NoVerification}, {"OnBlockRead", options.OnBlockRead}} {
		b.Run(bc.name, func(b *testing.B) {
			checksumMode = bc.mode
			opts := DefaultOptions(dir)
			opts.BlockCacheBytes = 1 << 20
			s, err := Open(opts)
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			b.ReportAllocs()
			for b.Loop() {
				n := 0
				if err := s.Scan(ctx, MinID, MaxID, false, func(*Entry) bool { n++; return true }); err != nil || n != benchEntries {
					b.Fatalf("scanned %d of %d: %v", n, benchEntries, err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*benchEntries), "ns/entry")
		})
	}
}

// BenchmarkTableCheck measures the reads' own check of table blocks
// (tablecheck.go): the first full scan after the store opens (which checks
// every block), and once every block was checked a full scan and the reads
// of a narrow query (a posting list, then its entries by id).
//
//	go test -run '^$' -bench BenchmarkTableCheck -benchtime 20x ./storage
func BenchmarkTableCheck(b *testing.B) {
	dir := closedBenchStore(b)
	ctx := context.Background()
	defer func(v bool) { checkTables = v }(checkTables)
	for _, check := range []bool{false, true} {
		checkTables = check
		b.Run(fmt.Sprintf("first-scan/check=%v", check), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				b.StopTimer()
				s := openTestStore(b, dir)
				b.StartTimer()
				if err := s.Scan(ctx, MinID, MaxID, false, func(*Entry) bool { return true }); err != nil {
					b.Fatal(err)
				}
				b.StopTimer()
				if err := s.Close(); err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
			}
		})
	}
	s := openTestStore(b, dir)
	defer s.Close()
	for _, check := range []bool{false, true} {
		checkTables = check
		b.Run(fmt.Sprintf("scan/check=%v", check), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				n := 0
				if err := s.Scan(ctx, MinID, MaxID, false, func(*Entry) bool { n++; return true }); err != nil || n != benchEntries {
					b.Fatalf("scanned %d of %d: %v", n, benchEntries, err)
				}
			}
		})
		b.Run(fmt.Sprintf("narrow/check=%v", check), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				ids, err := s.Postings(ctx, IndexValue{Kind: IndexLevel, Value: "fatal"}, MinID, MaxID)
				if err != nil || len(ids) == 0 {
					b.Fatalf("postings: %d, %v", len(ids), err)
				}
				ids = ids[:min(len(ids), 100)]
				if err := s.GetSorted(ctx, ids, func(*Entry) bool { return true }); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// benchEntries is how many entries closedBenchStore writes.
const benchEntries = 300_000

// closedBenchStore writes 300,000 generated entries (commits of 1,000) into
// a new store, closes it and returns its directory.
func closedBenchStore(b *testing.B) string {
	b.Helper()
	dir := b.TempDir()
	s := openTestStore(b, dir)
	const batch = 1000
	start := time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC)
	for i := 0; i < benchEntries/batch; i++ {
		entries, _ := loggenEntries(batch, start.Add(time.Duration(i)*time.Second))
		if _, err := s.Append(context.Background(), entries); err != nil {
			b.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		b.Fatal(err)
	}
	return dir
}
