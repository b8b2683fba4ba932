package search

// Benchmarks of the keyword index. The machine they were tuned on has two
// cores; run one at a time and keep runs short:
//
//	go test -run '^$' -bench 'BenchmarkAnalyze' -benchtime 20000x ./search/
//	go test -run '^$' -bench 'BenchmarkIndexWrite' -benchtime 200000x -count 2 ./search/
//	go test -run '^$' -bench 'BenchmarkIndexer' -benchtime 200000x ./search/
//	LOGENGINE_BENCH_DOCS=1000000 go test -run '^$' -bench 'BenchmarkIndexSearch' -timeout 30m ./search/
//
// LOGENGINE_BENCH_DOCS sets the size of the searched shard (default
// 200,000; 1,000,000 takes about half a minute more to build on 2 cores).

import (
	"context"
	"encoding/binary"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/blevesearch/bleve/v2"
	"github.com/blevesearch/bleve/v2/analysis"
	"github.com/blevesearch/bleve/v2/document"
	bleveindex "github.com/blevesearch/bleve_index_api"

	"github.com/logengine/logengine/storage"
)

// kwBenchDocs makes n documents of one day, in id order, with about 1% of
// messages holding the word "deadlock".
func kwBenchDocs(n int, seed uint64) (docs []bleveDoc, bytes int) {
	rng := rand.New(rand.NewPCG(seed, seed+1))
	docs = make([]bleveDoc, n)
	start := kwDay0.UnixNano()
	step := int64(24*time.Hour) / int64(max(n, 1))
	for i := range docs {
		docs[i] = bleveDoc{
			id:  storage.ID{Nanos: start + int64(i)*step, Seq: uint64(i + 1)},
			msg: kwMessage(rng, kwPick(rng)),
		}
		bytes += len(docs[i].msg)
	}
	return docs, bytes
}

// kwCPU returns the CPU time the process has used, all goroutines (Bleve's
// analysis workers, merger and persister, Badger's compactions) included.
// On a shared machine it is steadier than wall time.
func kwCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// kwReport reports docs/s and CPU µs per doc since start and cpu0.
func kwReport(b *testing.B, docs int, start time.Time, cpu0 time.Duration) {
	b.ReportMetric(float64(docs)/time.Since(start).Seconds(), "docs/s")
	b.ReportMetric(float64((kwCPU()-cpu0).Microseconds())/float64(max(docs, 1)), "cpu-µs/doc")
}

func BenchmarkAnalyze(b *testing.B) {
	if err := bleveSetup(); err != nil {
		b.Fatal(err)
	}
	docs, size := kwBenchDocs(1000, 1)
	ours, err := bleve.Config.Cache.AnalyzerNamed(analyzerName)
	if err != nil {
		b.Fatal(err)
	}
	std, err := bleve.Config.Cache.AnalyzerNamed("standard")
	if err != nil {
		b.Fatal(err)
	}
	run := func(name string, fn func(msg string)) {
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(size / len(docs)))
			for i := 0; b.Loop(); i++ {
				fn(docs[i%len(docs)].msg)
			}
		})
	}
	var toks []string
	run("tokenize", func(msg string) { toks = Tokenize(msg, toks[:0]) })
	run("block", func(msg string) { var bb blockBuilder; bb.build([]bleveDoc{{msg: msg}}) })
	run("analyzer", func(msg string) {
		analysis.TokenFrequency(ours.Analyze([]byte(msg)), nil, messageOptions)
	})
	run("standard", func(msg string) {
		analysis.TokenFrequency(std.Analyze([]byte(msg)), nil, bleveindex.IndexField|bleveindex.DocValues)
	})
}

// BenchmarkIndexWrite measures the keyword index alone: entries per second
// into one day shard in the indexer's writes of 10,000, CPU counted until
// the shard is closed (Bleve's merges included), and the shard's bytes per
// entry on disk. "blocks" is what the index does (a Bleve document per
// block of entries, value tokens in filters); "doc-per-entry" is the layout
// it replaced (a Bleve document per entry with every token), for
// comparison:
//
//	go test -run '^$' -bench 'BenchmarkIndexWrite' -benchtime 1000000x ./search/
func BenchmarkIndexWrite(b *testing.B) {
	if err := bleveSetup(); err != nil {
		b.Fatal(err)
	}
	ours, _ := bleve.Config.Cache.AnalyzerNamed(analyzerName)
	for _, name := range []string{"blocks", "doc-per-entry"} {
		b.Run(name, func(b *testing.B) {
			docs, size := kwBenchDocs(b.N, 2)
			dir := filepath.Join(b.TempDir(), "shard")
			idx, err := bleve.New(dir, newIndexMapping())
			if err != nil {
				b.Fatal(err)
			}
			bf, err := openBlockFile(dir)
			if err != nil {
				b.Fatal(err)
			}
			write := kwTextFieldWriter(ours, messageOptions)
			if name == "blocks" {
				write = func(idx bleve.Index, docs []bleveDoc, seq uint64) error { return writeBlocks(idx, bf, docs, seq) }
			}
			b.ReportAllocs()
			b.SetBytes(int64(size / max(len(docs), 1)))
			b.ResetTimer()
			start, cpu0 := time.Now(), kwCPU()
			for i := 0; i < len(docs); i += 10000 {
				batch := docs[i:min(i+10000, len(docs))]
				if err := write(idx, batch, batch[len(batch)-1].id.Seq); err != nil {
					b.Fatal(err)
				}
			}
			if err := bf.close(); err != nil {
				b.Fatal(err)
			}
			if err := idx.Close(); err != nil {
				b.Fatal(err)
			}
			kwReport(b, len(docs), start, cpu0)
			b.StopTimer()
			b.ReportMetric(float64(kwDirSize(b, dir))/float64(max(len(docs), 1)), "disk-B/doc")
		})
	}
}

func kwDirSize(b *testing.B, dir string) int64 {
	var n int64
	err := filepath.Walk(dir, func(_ string, fi os.FileInfo, err error) error {
		if err == nil && !fi.IsDir() {
			n += fi.Size()
		}
		return err
	})
	if err != nil {
		b.Fatal(err)
	}
	return n
}

// kwTextFieldWriter writes batches the usual way: Bleve's TextField with
// an analyzer, one NewDocument per entry.
func kwTextFieldWriter(an analysis.Analyzer, opts bleveindex.FieldIndexingOptions) func(bleve.Index, []bleveDoc, uint64) error {
	return func(idx bleve.Index, docs []bleveDoc, seq uint64) error {
		b := idx.NewBatch()
		for _, d := range docs {
			doc := document.NewDocument(d.id.String())
			doc.AddField(document.NewTextFieldCustom(messageFieldName, nil, []byte(d.msg), opts, an))
			if err := b.IndexAdvanced(doc); err != nil {
				return err
			}
		}
		b.SetInternal([]byte(seqInternalKey), binary.BigEndian.AppendUint64(nil, seq))
		return idx.Batch(b)
	}
}

// BenchmarkIndexer measures the whole path with Badger: "tail" appends b.N
// entries in commits of 1,000 from two goroutines (sync writes, as
// deployed) while the indexer runs, and stops the clock when the last one
// is searchable: logs/s acknowledged and searchable. "rebuild" rebuilds
// the shards of b.N stored entries from a scan.
func BenchmarkIndexer(b *testing.B) {
	b.Run("tail", func(b *testing.B) {
		store, x := kwBenchOpen(b, true)
		ix := NewIndexer(store, x, DefaultIndexerOptions())
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- ix.Run(ctx) }()
		defer func() {
			cancel()
			if err := <-done; err != nil {
				b.Error(err)
			}
		}()
		batches, size := kwBenchEntries(b.N)
		b.ReportAllocs()
		b.SetBytes(int64(size / max(b.N, 1)))
		b.ResetTimer()
		start, cpu0 := time.Now(), kwCPU()
		var wg sync.WaitGroup
		for w := 0; w < 2; w++ {
			wg.Go(func() {
				for i := w; i < len(batches); i += 2 {
					if _, err := store.Append(ctx, batches[i]); err != nil {
						b.Error(err)
						return
					}
				}
			})
		}
		wg.Wait()
		acked := time.Since(start)
		if err := ix.WaitIndexed(ctx, store.HighSeq()); err != nil {
			b.Fatal(err)
		}
		kwReport(b, b.N, start, cpu0)
		b.ReportMetric(float64(b.N)/acked.Seconds(), "acked/s")
	})
	b.Run("rebuild", func(b *testing.B) {
		store, x := kwBenchOpen(b, false)
		batches, size := kwBenchEntries(b.N)
		for _, batch := range batches {
			if _, err := store.Append(context.Background(), batch); err != nil {
				b.Fatal(err)
			}
		}
		ix := NewIndexer(store, x, DefaultIndexerOptions())
		b.ReportAllocs()
		b.SetBytes(int64(size / max(b.N, 1)))
		b.ResetTimer()
		start, cpu0 := time.Now(), kwCPU()
		if _, err := ix.recover(context.Background()); err != nil {
			b.Fatal(err)
		}
		kwReport(b, b.N, start, cpu0)
	})
}

func kwBenchOpen(b *testing.B, sync bool) (*storage.Store, *Index) {
	dir := b.TempDir()
	opts := storage.DefaultOptions(filepath.Join(dir, "db"))
	opts.SyncWrites = sync
	store, err := storage.Open(opts)
	if err != nil {
		b.Fatal(err)
	}
	x, err := OpenIndex(filepath.Join(dir, "index"), nil)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		if err := x.Close(); err != nil {
			b.Error(err)
		}
		if err := store.Close(); err != nil {
			b.Error(err)
		}
	})
	return store, x
}

// kwBenchEntries makes n entries of one day in commits of 1,000.
func kwBenchEntries(n int) (batches [][]storage.Entry, bytes int) {
	docs, bytes := kwBenchDocs(n, 3)
	for i := 0; i < n; i += 1000 {
		batch := make([]storage.Entry, 0, 1000)
		for _, d := range docs[i:min(i+1000, n)] {
			batch = append(batch, storage.Entry{Time: d.id.Time(), Level: storage.LevelInfo, Source: "api", Message: d.msg})
		}
		batches = append(batches, batch)
	}
	return batches, bytes
}

// BenchmarkIndexSearch searches one day shard of LOGENGINE_BENCH_DOCS
// documents (default 200,000) for "deadlock", in ~1% of them.
func BenchmarkIndexSearch(b *testing.B) {
	n := 200000
	if s := os.Getenv("LOGENGINE_BENCH_DOCS"); s != "" {
		v, err := strconv.Atoi(s)
		if err != nil || v <= 0 {
			b.Fatalf("LOGENGINE_BENCH_DOCS=%q: want a positive number", s)
		}
		n = v
	}
	dir := b.TempDir()
	x := kwOpenIndex(b, dir)
	docs, _ := kwBenchDocs(n, 4)
	start := time.Now()
	day := storage.DayOf(docs[0].id.Nanos)
	for i := 0; i < n; i += 10000 {
		batch := docs[i:min(i+10000, n)]
		if err := x.write(day, batch, batch[len(batch)-1].id.Seq); err != nil {
			b.Fatal(err)
		}
	}
	b.Logf("indexed %d docs in %v", n, time.Since(start).Round(time.Millisecond))
	if err := x.Close(); err != nil {
		b.Fatal(err)
	}
	x = kwOpenIndex(b, dir)
	defer x.Close()
	ctx := context.Background()
	rare := Keywords{Terms: []string{"deadlock"}}
	mid := docs[n/2].id
	// A value token of one entry: a needle among the day's entries.
	needle := Keywords{}
	for _, t := range Tokenize(docs[n/3].msg, nil) {
		if isValueToken(t) && len(t) >= 8 {
			needle.Terms = []string{t}
			break
		}
	}
	search := func(q Keywords, lo, hi storage.ID) func() (int, error) {
		return func() (int, error) {
			c, err := x.Search(ctx, q, lo, hi)
			return len(c.Sure) + len(c.Maybe), err
		}
	}
	cases := []struct {
		name string
		fn   func() (int, error)
	}{
		{"rare-whole-day", search(rare, storage.MinID, storage.MaxID)},
		{"rare-half-day", search(rare, storage.MinID, mid)},
		{"prefix", search(Keywords{Prefixes: []string{"dead"}}, storage.MinID, storage.MaxID)},
		{"frequent", search(Keywords{Terms: []string{"request"}}, storage.MinID, storage.MaxID)},
		{"needle", search(needle, storage.MinID, storage.MaxID)},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			var hits int
			for b.Loop() {
				var err error
				if hits, err = c.fn(); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(hits), "candidates")
		})
	}
}
