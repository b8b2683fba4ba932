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
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
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
	run("field", func(msg string) { f := bleveMessage{text: msg}; f.Analyze() })
	run("analyzer", func(msg string) {
		analysis.TokenFrequency(ours.Analyze([]byte(msg)), nil, messageOptions)
	})
	run("standard", func(msg string) {
		analysis.TokenFrequency(std.Analyze([]byte(msg)), nil, bleveindex.IndexField|bleveindex.DocValues)
	})
}

// BenchmarkIndexWrite measures Bleve alone: documents per second into one
// day shard in writes of 10,000, safe batches, background merging
// included. "lean" is one batch per write, "lean-parallel" what the indexer
// does (the write split into concurrent batches); the textfield variants
// use Bleve's own TextField instead of bleveMessage, to show what building
// the field ourselves is worth.
func BenchmarkIndexWrite(b *testing.B) {
	if err := bleveSetup(); err != nil {
		b.Fatal(err)
	}
	ours, _ := bleve.Config.Cache.AnalyzerNamed(analyzerName)
	std, _ := bleve.Config.Cache.AnalyzerNamed("standard")
	variants := []struct {
		name  string
		write func(idx bleve.Index, docs []bleveDoc, seq uint64) error
	}{
		{"lean", func(idx bleve.Index, docs []bleveDoc, seq uint64) error { return writeBatch(idx, docs, seq, true) }},
		{"lean-parallel", writeDocs}, // what the indexer does: NumCPU concurrent batches
		{"textfield", kwTextFieldWriter(ours, messageOptions)},
		{"textfield-standard-docvalues", kwTextFieldWriter(std, document.DefaultTextIndexingOptions)},
	}
	for _, v := range variants {
		b.Run(v.name, func(b *testing.B) {
			docs, size := kwBenchDocs(b.N, 2)
			idx, err := bleve.New(filepath.Join(b.TempDir(), "shard"), newIndexMapping())
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			b.SetBytes(int64(size / max(len(docs), 1)))
			b.ResetTimer()
			start, cpu0 := time.Now(), kwCPU()
			for i := 0; i < len(docs); i += 10000 {
				batch := docs[i:min(i+10000, len(docs))]
				if err := v.write(idx, batch, batch[len(batch)-1].id.Seq); err != nil {
					b.Fatal(err)
				}
			}
			kwReport(b, len(docs), start, cpu0)
			b.StopTimer()
			if err := idx.Close(); err != nil {
				b.Fatal(err)
			}
		})
	}
}

// BenchmarkIndexTokens shows where Bleve's cost per document goes, by
// indexing the same documents with parts of their messages left out or
// changed, in the indexer's writes of 10,000 (split into concurrent
// batches), background merging included:
//
//	go test -run '^$' -bench 'BenchmarkIndexTokens' -benchtime 1000000x ./search/
//
// "empty" is the cost of a document without a single token, "words" keeps
// only the tokens without digits (what a message's template holds, the
// part that indexing each template once could save), "values" only the
// tokens with digits (ids, addresses, numbers), "hashed-N" replaces each
// value token of 5 bytes or more by one of N bucket tokens (a smaller
// dictionary, the same number of postings; a search for such a token
// would then have to check every entry of its bucket).
func BenchmarkIndexTokens(b *testing.B) {
	if err := bleveSetup(); err != nil {
		b.Fatal(err)
	}
	hasDigit := func(t string) bool { return strings.ContainsAny(t, "0123456789") }
	keep := func(pred func(string) bool) func(string) string {
		return func(msg string) string {
			var out []string
			for _, t := range Tokenize(msg, nil) {
				if pred(t) {
					out = append(out, t)
				}
			}
			return strings.Join(out, " ")
		}
	}
	type variant struct {
		name string
		msg  func(string) string
	}
	variants := []variant{
		{"whole", func(msg string) string { return msg }},
		{"empty", func(string) string { return "" }},
		{"words", keep(func(t string) bool { return !hasDigit(t) })},
		{"values", keep(hasDigit)},
	}
	for _, buckets := range []uint32{65536, 4096, 256} {
		variants = append(variants, variant{fmt.Sprintf("hashed-%d", buckets), func(msg string) string {
			toks := Tokenize(msg, nil)
			for i, t := range toks {
				if len(t) >= 5 && hasDigit(t) {
					h := fnv.New32a()
					h.Write([]byte(t))
					toks[i] = "h" + strconv.FormatUint(uint64(h.Sum32()%buckets), 36)
				}
			}
			return strings.Join(toks, " ")
		}})
	}
	for _, v := range variants {
		b.Run(v.name, func(b *testing.B) {
			docs, _ := kwBenchDocs(b.N, 2)
			tokens := 0
			for i := range docs {
				docs[i].msg = v.msg(docs[i].msg)
				tokens += len(Tokenize(docs[i].msg, nil))
			}
			idx, err := bleve.New(filepath.Join(b.TempDir(), "shard"), newIndexMapping())
			if err != nil {
				b.Fatal(err)
			}
			b.ResetTimer()
			start, cpu0 := time.Now(), kwCPU()
			for i := 0; i < len(docs); i += 10000 {
				batch := docs[i:min(i+10000, len(docs))]
				if err := writeDocs(idx, batch, batch[len(batch)-1].id.Seq); err != nil {
					b.Fatal(err)
				}
			}
			kwReport(b, len(docs), start, cpu0)
			b.ReportMetric(float64(tokens)/float64(max(len(docs), 1)), "tokens/doc")
			b.StopTimer()
			if err := idx.Close(); err != nil {
				b.Fatal(err)
			}
		})
	}
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
	cases := []struct {
		name string
		fn   func() (int, error)
	}{
		{"newest100", func() (int, error) {
			ids, err := x.Search(ctx, rare, storage.MinID, storage.MaxID, true, 100)
			return len(ids), err
		}},
		{"newest100-before-midday", func() (int, error) {
			ids, err := x.Search(ctx, rare, storage.MinID, mid, true, 100)
			return len(ids), err
		}},
		{"oldest100", func() (int, error) {
			ids, err := x.Search(ctx, rare, storage.MinID, storage.MaxID, false, 100)
			return len(ids), err
		}},
		{"all", func() (int, error) {
			ids, err := x.Search(ctx, rare, storage.MinID, storage.MaxID, false, 0)
			return len(ids), err
		}},
		{"count-whole-day", func() (int, error) { return x.Count(ctx, rare, storage.MinID, storage.MaxID) }},
		{"count-half-day", func() (int, error) { return x.Count(ctx, rare, storage.MinID, mid) }},
		{"prefix-newest100", func() (int, error) {
			ids, err := x.Search(ctx, Keywords{Prefixes: []string{"dead"}}, storage.MinID, storage.MaxID, true, 100)
			return len(ids), err
		}},
		{"frequent-newest100", func() (int, error) {
			ids, err := x.Search(ctx, Keywords{Terms: []string{"request"}}, storage.MinID, storage.MaxID, true, 100)
			return len(ids), err
		}},
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
			b.ReportMetric(float64(hits), "hits")
		})
	}
}
