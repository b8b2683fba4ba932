package block_test

import (
	"cmp"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/logengine/logengine/ingest"
	"github.com/logengine/logengine/internal/loggen"
	"github.com/logengine/logengine/patterns"
	"github.com/logengine/logengine/storage/block"
	"github.com/logengine/logengine/storage/logs"
)

// BenchmarkStreamLayout measures what blocks per stream would save: the
// same entries encoded in blocks of consecutive entries of every source
// ("mixed": as the store's blocks are, commit after commit, and as the
// merger joins them, messages grouped by source within a block), and in
// blocks of one source each ("stream": as blocks per stream would be),
// both of up to 8,192 entries. It reports bytes per entry of the bodies and
// of the headers with their template counts, and logs the bytes of each
// column; the CPU figure is that of encoding both layouts.
//
//	go test ./storage/block -run '^$' -bench StreamLayout -benchtime 1x
//
// Two inputs: the Loghub samples (eight systems' real logs, 2,000 lines
// each, interleaved as one machine would receive them; skipped when the
// samples are absent) and the load generator's lines (50 sources, 409,600
// logs, the side-by-side load).
func BenchmarkStreamLayout(b *testing.B) {
	const blockEntries = 8192
	inputs := []struct {
		name    string
		entries func(b *testing.B) []logs.Entry
	}{
		{"loghub", loghubEntries},
		{"loggen", func(*testing.B) []logs.Entry { return loggenEntries(50 * blockEntries) }},
	}
	for _, in := range inputs {
		b.Run(in.name, func(b *testing.B) {
			entries := in.entries(b)
			templates := mine(b, entries)
			for range b.N {
				mixed := encodeRuns(b, entries, templates, blockEntries)
				// A stable sort keeps each source's entries in ID order.
				bySource := make([]int, len(entries))
				for i := range bySource {
					bySource[i] = i
				}
				slices.SortStableFunc(bySource, func(x, y int) int { return cmp.Compare(entries[x].Source, entries[y].Source) })
				var perStream layoutBytes
				for lo := 0; lo < len(bySource); {
					hi := lo
					for hi < len(bySource) && entries[bySource[hi]].Source == entries[bySource[lo]].Source {
						hi++
					}
					es := make([]logs.Entry, 0, hi-lo)
					ts := make([]uint32, 0, hi-lo)
					for _, i := range bySource[lo:hi] {
						es = append(es, entries[i])
						ts = append(ts, templates[i])
					}
					perStream.add(encodeRuns(b, es, ts, blockEntries))
					lo = hi
				}
				n := float64(len(entries))
				b.ReportMetric(float64(mixed.body)/n, "mixed-body-B/entry")
				b.ReportMetric(float64(mixed.header)/n, "mixed-header-B/entry")
				b.ReportMetric(float64(perStream.body)/n, "stream-body-B/entry")
				b.ReportMetric(float64(perStream.header)/n, "stream-header-B/entry")
				b.ReportMetric(float64(mixed.blocks), "mixed-blocks")
				b.ReportMetric(float64(perStream.blocks), "stream-blocks")
				for _, k := range slices.Sorted(maps.Keys(mixed.columns)) {
					b.Logf("%-16s mixed %6.2f B/entry, per stream %6.2f", k, float64(mixed.columns[k])/n, float64(perStream.columns[k])/n)
				}
			}
		})
	}
}

type layoutBytes struct {
	body, header, blocks int
	columns              map[string]int // stored bytes by column kind (fields by name)
}

func (l *layoutBytes) add(o layoutBytes) {
	l.body += o.body
	l.header += o.header
	l.blocks += o.blocks
	if l.columns == nil {
		l.columns = map[string]int{}
	}
	for k, v := range o.columns {
		l.columns[k] += v
	}
}

// encodeRuns encodes entries in blocks of up to n consecutive entries.
func encodeRuns(b *testing.B, entries []logs.Entry, templates []uint32, n int) layoutBytes {
	l := layoutBytes{columns: map[string]int{}}
	for lo := 0; lo < len(entries); lo += n {
		hi := min(lo+n, len(entries))
		h, body, err := block.Encode(entries[lo:hi], templates[lo:hi])
		if err != nil {
			b.Fatal(err)
		}
		l.body += len(body)
		l.header += len(h.Marshal())
		l.blocks++
		for _, c := range h.Columns {
			l.columns[c.Kind.String()+c.Name] += c.Length
		}
	}
	return l
}

// mine gives each entry its template id, as ingest does.
func mine(b *testing.B, entries []logs.Entry) []uint32 {
	m, err := patterns.New(patterns.DefaultConfig())
	if err != nil {
		b.Fatal(err)
	}
	ids := make([]uint32, len(entries))
	for i, e := range entries {
		id, _ := m.Add(e.Source, e.Message)
		ids[i] = uint32(id)
	}
	return ids
}

// stamp gives entries consecutive sequences in time order, on one day.
func stamp(entries []logs.Entry) {
	slices.SortStableFunc(entries, func(x, y logs.Entry) int { return x.Time.Compare(y.Time) })
	for i := range entries {
		entries[i].ID = logs.ID{Nanos: entries[i].Time.UnixNano(), Seq: uint64(i + 1)}
	}
}

// loghubEntries parses each Loghub sample as ingest parses text, one source
// per system, and spreads each system's lines evenly over the same hour
// (their own timestamps span years), so that the systems interleave as the
// logs of services running side by side do.
func loghubEntries(b *testing.B) []logs.Entry {
	files, _ := filepath.Glob(filepath.Join("..", "..", "..", "shared", "data", "loghub", "*", "*_2k.log"))
	if len(files) == 0 {
		b.Skip("no Loghub samples beside the project")
	}
	var entries []logs.Entry
	for f, path := range files {
		raw, err := os.ReadFile(path)
		if err != nil {
			b.Fatal(err)
		}
		system := filepath.Base(filepath.Dir(path))
		res := ingest.DecodeText(raw, ingest.Defaults{Source: system, Now: func() time.Time { return benchDay }}, ingest.DefaultLimits())
		step := time.Hour / time.Duration(len(res))
		for i, r := range res {
			if r.Err != nil {
				b.Fatalf("%s line %d: %v", system, r.Line, r.Err)
			}
			e := r.Entry
			e.Time = benchDay.Add(time.Duration(i)*step + time.Duration(f)*time.Microsecond)
			entries = append(entries, e)
		}
	}
	stamp(entries)
	return entries
}

// loggenEntries makes n logs of the load generator over a day, as the
// side-by-side load sends them.
func loggenEntries(n int) []logs.Entry {
	g := loggen.New(1)
	entries := make([]logs.Entry, n)
	step := 24 * time.Hour / time.Duration(n)
	for i := range entries {
		entries[i] = benchEntry(g.Next(benchDay.Add(time.Duration(i)*step)), uint64(i+1))
	}
	return entries
}
