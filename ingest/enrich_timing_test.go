package ingest

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"testing"
	"time"

	"github.com/logengine/logengine/storage"
)

// benchCityDB writes a City database of 4,096 public /24 networks (so
// lookups walk a tree of realistic depth) and returns its path.
func benchCityDB(tb testing.TB) string {
	tb.Helper()
	var networks []mmdbNetwork
	for i := range 4096 {
		networks = append(networks, mmdbNetwork{
			prefix: fmt.Sprintf("%d.%d.%d.0/24", 20+i/256, i%256, (i*7)%256),
			record: cityRecord("DE", "Germany", "Berlin", 52.52, 13.40),
		})
	}
	networks = append(networks, testCityNetworks...)
	path := filepath.Join(tb.TempDir(), "city.mmdb")
	writeMMDB(tb, path, "GeoLite2-City", networks)
	return path
}

// benchAddrs returns n public addresses inside the networks of benchCityDB.
func benchAddrs(n int) []string {
	out := make([]string, n)
	for i := range out {
		j := i % 4096
		out[i] = fmt.Sprintf("%d.%d.%d.%d", 20+j/256, j%256, (j*7)%256, 1+i/4096%250)
	}
	return out
}

func benchEntries(field string, values []string) []storage.Entry {
	entries := make([]storage.Entry, len(values))
	for i, v := range values {
		entries[i] = entry("m", str(field, v), num("status", 200))
	}
	return entries
}

// applyBench applies p to copies of entries, one entry per iteration.
func applyBench(b *testing.B, p *Pipeline, entries []storage.Entry) {
	b.ReportAllocs()
	fields := make([]storage.Field, 0, 16)
	i := 0
	for b.Loop() {
		e := entries[i%len(entries)]
		e.Fields = append(fields[:0], e.Fields...)
		p.Apply(&e)
		i++
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N), "ns/entry")
}

// BenchmarkGeoIPStep is the cost per entry of a geoip step: hit is an
// address in the cache, miss one that is not (a tree walk and a record
// decoded).
//
//	go test -run '^$' -bench 'GeoIPStep|UserAgentStep' ./ingest
func BenchmarkGeoIPStep(b *testing.B) {
	db := benchCityDB(b)
	for _, bc := range []struct {
		name  string
		addrs int
		cache int
	}{{"hit", 1000, 0}, {"miss", 100_000, 1000}} {
		b.Run(bc.name, func(b *testing.B) {
			p, err := NewPipeline(PipelineConfig{{Type: "geoip", Database: db, CacheSize: bc.cache}})
			if err != nil {
				b.Fatal(err)
			}
			entries := benchEntries("remote_addr", benchAddrs(bc.addrs))
			for i := range entries {
				e := entries[i]
				e.Fields = append([]storage.Field(nil), e.Fields...)
				p.Apply(&e)
			}
			applyBench(b, p, entries)
		})
	}
}

// BenchmarkUserAgentStep is the cost per entry of a useragent step, from
// the cache (hit) or parsed (miss: every agent differs by its versions).
func BenchmarkUserAgentStep(b *testing.B) {
	var agents []string
	for i := range 100_000 {
		c := userAgentCases[i%len(userAgentCases)]
		agents = append(agents, fmt.Sprintf("%s build/%d", c.ua, i))
	}
	for _, bc := range []struct {
		name   string
		agents []string
		cache  int
	}{{"hit", agents[:len(userAgentCases)*20], 0}, {"miss", agents, 1000}} {
		b.Run(bc.name, func(b *testing.B) {
			p, err := NewPipeline(PipelineConfig{{Type: "useragent", CacheSize: bc.cache}})
			if err != nil {
				b.Fatal(err)
			}
			entries := benchEntries("user_agent", bc.agents)
			for i := range entries {
				e := entries[i]
				e.Fields = append([]storage.Field(nil), e.Fields...)
				p.Apply(&e)
			}
			applyBench(b, p, entries)
		})
	}
}

// accessLogs returns n combined-format access lines: 2,000 client
// addresses, most requests from a few hundred of them, and the agents of
// the user-agent table.
func accessLogs(n int) []byte {
	r := rand.New(rand.NewPCG(3, 4))
	addrs := benchAddrs(2000)
	paths := []string{"/", "/api/v1/items", "/api/v1/orders/42", "/static/app.js", "/login", "/healthz"}
	var b bytes.Buffer
	for i := range n {
		addr := addrs[int(float64(len(addrs))*r.Float64()*r.Float64())]
		c := userAgentCases[r.IntN(len(userAgentCases))]
		fmt.Fprintf(&b, "%s - - [26/Nov/2026:10:%02d:%02d +0000] \"GET %s HTTP/1.1\" %d %d \"https://example.com/\" %q\n",
			addr, i/60%60, i%60, paths[r.IntN(len(paths))], 200+100*r.IntN(4), 200+r.IntN(50000), c.ua)
	}
	return b.Bytes()
}

// BenchmarkIngestAccessLog ingests 1,000 access lines per batch through
// the service: with no pipeline, with an add step of 13 static fields
// (the cost of storing as many fields, without lookups) and with geoip
// and useragent steps (caches warm). store is a real store without fsync;
// discard stops after the pipeline, where the steps weigh the most.
//
//	go test -run '^$' -bench IngestAccessLog -count 6 ./ingest | benchstat -
func BenchmarkIngestAccessLog(b *testing.B) {
	db := benchCityDB(b)
	body := accessLogs(1000)
	for _, sink := range []string{"discard", "store"} {
		for _, steps := range []string{"none", "add13", "geoip+useragent"} {
			b.Run(sink+"/"+steps, func(b *testing.B) {
				var cfg PipelineConfig
				switch steps {
				case "add13":
					// As many fields as the two steps add, of the same
					// kinds, without a lookup: what storing them costs.
					cfg = PipelineConfig{{Type: "add", Fields: map[string]any{
						"geo.country_iso": "DE", "geo.country": "Germany", "geo.city": "Berlin", "geo.lat": 52.52, "geo.lon": 13.4,
						"geo.asn": 3320, "geo.as_org": "Deutsche Telekom AG", "ua.browser": "Chrome", "ua.browser_version": "131.0.0.0",
						"ua.os": "Windows", "ua.os_version": "10", "ua.device": "Desktop", "ua.bot": false,
					}}}
				case "geoip+useragent":
					cfg = PipelineConfig{{Type: "geoip", Database: db}, {Type: "useragent"}}
				}
				p, err := NewPipeline(cfg)
				if err != nil {
					b.Fatal(err)
				}
				var st Appender = discardStore{}
				if sink == "store" {
					opts := storage.DefaultOptions(b.TempDir())
					opts.SyncWrites = false
					s, err := storage.Open(opts)
					if err != nil {
						b.Fatal(err)
					}
					defer func() {
						if err := s.Close(); err != nil {
							b.Error(err)
						}
					}()
					st = s
				}
				svc := NewService(st, ServiceOptions{Pipeline: p, Now: func() time.Time { return testNow }})
				req := Request{Body: body, Format: FormatText}
				if _, err := svc.Ingest(context.Background(), req); err != nil { // warm the caches
					b.Fatal(err)
				}
				b.SetBytes(int64(len(body)))
				b.ReportAllocs()
				b.ResetTimer()
				for b.Loop() {
					res, err := svc.Ingest(context.Background(), req)
					if err != nil || res.Accepted != 1000 {
						b.Fatalf("%+v %v", res, err)
					}
				}
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/1000, "ns/log")
			})
		}
	}
}

// discardStore accepts every batch and keeps nothing.
type discardStore struct{}

func (discardStore) Append(_ context.Context, entries []storage.Entry) ([]storage.ID, error) {
	return make([]storage.ID, len(entries)), nil
}
