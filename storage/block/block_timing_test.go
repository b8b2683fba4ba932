package block_test

import (
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/logengine/logengine/internal/loggen"
	"github.com/logengine/logengine/storage"
	"github.com/logengine/logengine/storage/block"
)

// The benchmarks run on realistic streams: the day of 1,000,000 logs that
// search's 1M benchmarks store (internal/loggen, seed 1, 86.4 µs apart; 5
// levels, 50 sources, 200 hosts, 0–3 tags, templated messages, fields host,
// status and latency_ms), of which the entries of 5 sources are kept
// (~100,000 entries, ~20,000 per stream, each stream's logs ~4 ms apart),
// cut into blocks of each stream. Compare runs with benchstat:
//
//	go test ./storage/block -run '^$' -bench . -count 6 | tee new.txt
//
// cpu-ns/entry is the process's CPU time (garbage collection included) per
// entry, which a busy machine inflates less than wall time. B/entry is
// header plus body per entry; entry-B is today's per-entry codec
// (storage.AppendEncoded) for the same entries, and key-B adds its 21-byte
// Badger key, before Badger's own compression.
const (
	benchLogs    = 1_000_000
	benchSources = 5
)

var benchDay = time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC)

type benchData struct {
	streams   [][]storage.Entry // entries of each kept source, sorted
	jsonBytes int               // the kept entries as loggen's JSON lines
	entries   int
}

var benchStreams = sync.OnceValue(func() benchData {
	g := loggen.New(1)
	bySource := map[string]int{}
	var d benchData
	var line []byte
	for i := range benchLogs {
		t := benchDay.Add(time.Duration(i) * (24 * time.Hour / benchLogs))
		l := g.Next(t)
		s, ok := bySource[l.Source]
		if !ok {
			if len(bySource) == benchSources {
				continue
			}
			s = len(d.streams)
			bySource[l.Source] = s
			d.streams = append(d.streams, nil)
		}
		d.streams[s] = append(d.streams[s], benchEntry(l, uint64(i+1)))
		line = l.AppendJSON(line[:0])
		d.jsonBytes += len(line) + 1
		d.entries++
	}
	return d
})

// benchEntry is the load generator's log l as an entry of sequence seq,
// its fields those the side-by-side load sends.
func benchEntry(l loggen.Log, seq uint64) storage.Entry {
	level, _ := storage.ParseLevelName(l.Level)
	id := storage.ID{Nanos: l.Time.UnixNano(), Seq: seq}
	return storage.Entry{
		ID: id, Time: id.Time(), Level: level, Source: l.Source, Message: l.Message, Tags: l.Tags,
		Fields: []storage.Field{
			{Name: "host", Value: storage.String(l.Host)},
			{Name: "status", Value: storage.Int(int64(l.Status))},
			{Name: "latency_ms", Value: storage.Int(int64(l.Latency))},
		},
	}
}

// benchBlocks cuts the streams into full blocks of n entries.
func benchBlocks(tb testing.TB, n int) (blocks [][]storage.Entry, jsonPerBlock int) {
	tb.Helper()
	d := benchStreams()
	for _, s := range d.streams {
		for len(s) >= n {
			blocks = append(blocks, s[:n])
			s = s[n:]
		}
	}
	if len(blocks) == 0 {
		tb.Fatalf("no stream has %d entries", n)
	}
	return blocks, d.jsonBytes / d.entries * n
}

var benchSizes = []int{256, 1024, 4096, 16384}

// benchMixedBlocks cuts the kept sources' entries, in ID order, into
// blocks of n: the sources interleave in each block, as in a merged block.
func benchMixedBlocks(tb testing.TB, n int) (blocks [][]storage.Entry, jsonPerBlock int) {
	tb.Helper()
	d := benchStreams()
	var all []storage.Entry
	for _, s := range d.streams {
		all = append(all, s...)
	}
	slices.SortFunc(all, func(a, b storage.Entry) int { return a.ID.Compare(b.ID) })
	for len(all) >= n {
		blocks = append(blocks, all[:n])
		all = all[n:]
	}
	return blocks, d.jsonBytes / d.entries * n
}

type encodedBlock struct {
	h    block.Header
	body []byte
}

func encodeBlocks(tb testing.TB, blocks [][]storage.Entry) (out []encodedBlock, bytesPerEntry float64) {
	tb.Helper()
	total, entries := 0, 0
	for _, blk := range blocks {
		h, body, err := block.Encode(blk, nil)
		if err != nil {
			tb.Fatal(err)
		}
		out = append(out, encodedBlock{h, body})
		total += len(h.Marshal()) + len(body)
		entries += len(blk)
	}
	return out, float64(total) / float64(entries)
}

// blockCutter cuts the benchmarks' entries into blocks of n entries
// (benchBlocks, benchMixedBlocks), and says how many bytes of JSON lines a
// block stands for.
type blockCutter func(tb testing.TB, n int) (blocks [][]storage.Entry, jsonPerBlock int)

// mixedSizes are the block sizes of the benchmarks on interleaved sources:
// those of merged blocks, and more.
var mixedSizes = []int{4096, 16384}

func BenchmarkBlockEncode(b *testing.B) { benchEncode(b, benchSizes, benchBlocks) }

// BenchmarkBlockEncodeMixed is BenchmarkBlockEncode on blocks of five
// interleaved sources, as the merger writes them: the first frame's worth
// of messages is framed both ways to choose the order (groupingPays).
// These messages do not depend on their source, so the blocks keep row
// order: what it measures is the cost of choosing.
func BenchmarkBlockEncodeMixed(b *testing.B) { benchEncode(b, mixedSizes, benchMixedBlocks) }

// benchEncode encodes blocks of each of sizes, cut by cut.
func benchEncode(b *testing.B, sizes []int, cut blockCutter) {
	for _, n := range sizes {
		b.Run(fmt.Sprintf("entries=%d", n), func(b *testing.B) {
			blocks, jsonBytes := cut(b, n)
			_, perEntry := encodeBlocks(b, blocks)
			b.SetBytes(int64(jsonBytes))
			b.ReportAllocs()
			b.ResetTimer()
			cpu := cpuTime()
			for i := 0; i < b.N; i++ {
				if _, _, err := block.Encode(blocks[i%len(blocks)], nil); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(cpuTime()-cpu)/float64(b.N*n), "cpu-ns/entry")
			b.ReportMetric(perEntry, "B/entry")
		})
	}
}

func BenchmarkBlockDecode(b *testing.B) { benchDecode(b, benchSizes, benchBlocks, decodeWhole) }

// BenchmarkBlockDecodeMixed is BenchmarkBlockDecode on blocks of five
// interleaved sources, as the merger writes them (in row order: see
// BenchmarkBlockEncodeMixed).
func BenchmarkBlockDecodeMixed(b *testing.B) {
	benchDecode(b, mixedSizes, benchMixedBlocks, decodeWhole)
}

func decodeWhole(e *encodedBlock) error {
	_, err := block.Decode(&e.h, e.body)
	return err
}

// benchDecode runs decode over encoded blocks of each of sizes, cut by
// cut.
func benchDecode(b *testing.B, sizes []int, cut blockCutter, decode func(*encodedBlock) error) {
	for _, n := range sizes {
		b.Run(fmt.Sprintf("entries=%d", n), func(b *testing.B) {
			blocks, jsonBytes := cut(b, n)
			enc, perEntry := encodeBlocks(b, blocks)
			b.SetBytes(int64(jsonBytes))
			b.ReportAllocs()
			b.ResetTimer()
			cpu := cpuTime()
			for i := 0; i < b.N; i++ {
				if err := decode(&enc[i%len(enc)]); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(cpuTime()-cpu)/float64(b.N*n), "cpu-ns/entry")
			b.ReportMetric(perEntry, "B/entry")
		})
	}
}

// BenchmarkBlockDecodeField reads one field column, as a query on status
// does: the layouts and status columns, no message.
func BenchmarkBlockDecodeField(b *testing.B) {
	benchDecode(b, benchSizes, benchBlocks, func(e *encodedBlock) error {
		_, err := block.DecodeField(&e.h, e.body, "status")
		return err
	})
}

// BenchmarkHeaderUnmarshal is what planning pays per block it considers.
func BenchmarkHeaderUnmarshal(b *testing.B) {
	blocks, _ := benchBlocks(b, 4096)
	enc, _ := encodeBlocks(b, blocks)
	hb := enc[0].h.Marshal()
	b.SetBytes(int64(len(hb)))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		var h block.Header
		if err := h.Unmarshal(hb); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkEntryCodec is today's codec, one Badger value per entry, on the
// same entries, for comparison.
func BenchmarkEntryCodec(b *testing.B) {
	d := benchStreams()
	var all []storage.Entry
	for _, s := range d.streams {
		all = append(all, s...)
	}
	values := make([][]byte, len(all))
	total := 0
	for i := range all {
		values[i] = storage.AppendEncoded(nil, &all[i])
		total += len(values[i])
	}
	perEntry := float64(total) / float64(len(all))
	b.Run("encode", func(b *testing.B) {
		b.SetBytes(int64(d.jsonBytes / d.entries))
		b.ReportAllocs()
		var buf []byte
		cpu := cpuTime()
		for i := 0; i < b.N; i++ {
			buf = storage.AppendEncoded(buf[:0], &all[i%len(all)])
		}
		b.ReportMetric(float64(cpuTime()-cpu)/float64(b.N), "cpu-ns/entry")
		b.ReportMetric(perEntry, "entry-B")
		b.ReportMetric(perEntry+21, "key-B")
	})
	b.Run("decode", func(b *testing.B) {
		b.SetBytes(int64(d.jsonBytes / d.entries))
		b.ReportAllocs()
		var e storage.Entry
		cpu := cpuTime()
		for i := 0; i < b.N; i++ {
			j := i % len(all)
			if err := storage.Decode(all[j].ID, values[j], &e); err != nil {
				b.Fatal(err)
			}
			e = storage.Entry{} // a scan keeps every entry it returns
		}
		b.ReportMetric(float64(cpuTime()-cpu)/float64(b.N), "cpu-ns/entry")
	})
}
