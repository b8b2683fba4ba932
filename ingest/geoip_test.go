package ingest

import (
	"bytes"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/logengine/logengine/storage"
)

// testCityNetworks are a few public ranges with City-shaped records, and
// private and special ones with records that the step must not use.
var testCityNetworks = []mmdbNetwork{
	{"81.2.69.0/24", cityRecord("GB", "United Kingdom", "London", 51.5142, -0.0931)},
	{"8.8.8.0/24", cityRecord("US", "United States", "", 37.751, -97.822)},
	{"2a02:ec0::/29", cityRecord("FR", "France", "Paris", 48.8582, 2.3387)},
	{"0.0.0.0/8", cityRecord("ZZ", "Nowhere", "", 0, 0)},
	{"10.0.0.0/8", cityRecord("ZZ", "Nowhere", "", 0, 0)},
	{"100.64.0.0/10", cityRecord("ZZ", "Nowhere", "", 0, 0)},
	{"127.0.0.0/8", cityRecord("ZZ", "Nowhere", "", 0, 0)},
	{"192.168.0.0/16", cityRecord("ZZ", "Nowhere", "", 0, 0)},
	{"::1/128", cityRecord("ZZ", "Nowhere", "", 0, 0)},
	{"fc00::/7", cityRecord("ZZ", "Nowhere", "", 0, 0)},
	{"fe80::/10", cityRecord("ZZ", "Nowhere", "", 0, 0)},
}

// testASNNetworks are ASN-shaped records, as in GeoLite2-ASN.
var testASNNetworks = []mmdbNetwork{
	{"8.8.8.0/24", asnRecord(15169, "GOOGLE")},
	{"2001:4860::/32", asnRecord(15169, "GOOGLE")},
	{"81.2.69.0/24", asnRecord(20712, "Andrews & Arnold Ltd")},
}

// clock is a settable time for the reload checks.
type clock struct{ ns atomic.Int64 }

func newClock() *clock {
	c := &clock{}
	c.ns.Store(testNow.UnixNano())
	return c
}
func (c *clock) now() time.Time          { return time.Unix(0, c.ns.Load()) }
func (c *clock) advance(d time.Duration) { c.ns.Add(int64(d)) }

// syncBuffer collects log output written from several goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestGeoIPLookup(t *testing.T) {
	dir := t.TempDir()
	city, asn := filepath.Join(dir, "city.mmdb"), filepath.Join(dir, "asn.mmdb")
	writeMMDB(t, city, "GeoLite2-City", testCityNetworks)
	writeMMDB(t, asn, "GeoLite2-ASN", testASNNetworks)
	p, err := NewPipeline(PipelineConfig{
		{Type: "geoip", Database: city},
		{Type: "geoip", Database: asn},
	})
	if err != nil {
		t.Fatal(err)
	}
	london := map[string]any{"geo.country_iso": "GB", "geo.country": "United Kingdom", "geo.city": "London",
		"geo.lat": 51.5142, "geo.lon": -0.0931, "geo.asn": int64(20712), "geo.as_org": "Andrews & Arnold Ltd"}
	tests := []struct {
		name   string
		fields []storage.Field
		want   map[string]any // the geo.* fields added
	}{
		{"IPv4 with city", []storage.Field{str("remote_addr", "81.2.69.160")}, london},
		{"IPv4 with a port", []storage.Field{str("remote_addr", "81.2.69.160:443")}, london},
		{"IPv4-mapped IPv6", []storage.Field{str("remote_addr", "::ffff:81.2.69.160")}, london},
		{"no city in the record", []storage.Field{str("remote_addr", "8.8.8.8")}, map[string]any{
			"geo.country_iso": "US", "geo.country": "United States", "geo.lat": 37.751, "geo.lon": -97.822,
			"geo.asn": int64(15169), "geo.as_org": "GOOGLE"}},
		{"IPv6 city", []storage.Field{str("remote_addr", "2a02:ec0:1::1")}, map[string]any{
			"geo.country_iso": "FR", "geo.country": "France", "geo.city": "Paris", "geo.lat": 48.8582, "geo.lon": 2.3387}},
		{"IPv6 in the ASN database only", []storage.Field{str("remote_addr", "[2001:4860:4860::8888]:53")}, map[string]any{
			"geo.asn": int64(15169), "geo.as_org": "GOOGLE"}},
		{"public but unknown", []storage.Field{str("remote_addr", "1.1.1.1")}, nil},
		{"private 10/8", []storage.Field{str("remote_addr", "10.1.2.3")}, nil},
		{"private 192.168/16", []storage.Field{str("remote_addr", "192.168.1.20")}, nil},
		{"loopback", []storage.Field{str("remote_addr", "127.0.0.1")}, nil},
		{"IPv6 loopback", []storage.Field{str("remote_addr", "::1")}, nil},
		{"IPv6 link-local", []storage.Field{str("remote_addr", "fe80::1%eth0")}, nil},
		{"IPv6 unique local", []storage.Field{str("remote_addr", "fd00::1")}, nil},
		{"carrier-grade NAT", []storage.Field{str("remote_addr", "100.64.0.1")}, nil},
		{"unspecified", []storage.Field{str("remote_addr", "0.0.0.0")}, nil},
		{"not an address", []storage.Field{str("remote_addr", "example.com")}, nil},
		{"dash", []storage.Field{str("remote_addr", "-")}, nil},
		{"not a string", []storage.Field{num("remote_addr", 12345)}, nil},
		{"no field", nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// Twice: the second answer comes from the cache.
			for range 2 {
				e := entry("m", tt.fields...)
				if !p.Apply(&e) {
					t.Fatal("dropped")
				}
				got := map[string]any{}
				for k, v := range fieldMap(e) {
					if strings.HasPrefix(k, "geo.") {
						got[k] = v
					}
				}
				want := tt.want
				if want == nil {
					want = map[string]any{}
				}
				if !reflect.DeepEqual(got, want) {
					t.Errorf("fields %v, want %v", got, want)
				}
			}
		})
	}
}

func TestGeoIPOptions(t *testing.T) {
	city := filepath.Join(t.TempDir(), "city.mmdb")
	writeMMDB(t, city, "GeoLite2-City", testCityNetworks)
	p, err := NewPipeline(PipelineConfig{{
		Type: "geoip", Field: "client", Database: city, Language: "de", CacheSize: 2,
		Names: map[string]string{"country_iso": "country_code", "lat": "", "lon": ""},
	}})
	if err != nil {
		t.Fatal(err)
	}
	for _, addr := range []string{"81.2.69.1", "8.8.8.8", "2a02:ec0::1", "81.2.69.1"} { // more than the cache holds
		e := entry("m", str("client", addr), str("remote_addr", "8.8.8.8"))
		p.Apply(&e)
		if addr == "81.2.69.1" {
			want := map[string]any{"client": addr, "remote_addr": "8.8.8.8", "country_code": "GB",
				"geo.country": "United Kingdom (de)", "geo.city": "London (de)"}
			if got := fieldMap(e); !reflect.DeepEqual(got, want) {
				t.Errorf("fields %v, want %v", got, want)
			}
		}
	}
	// An existing field of the same name is replaced, not duplicated.
	e := entry("m", str("client", "81.2.69.1"), str("country_code", "old"))
	p.Apply(&e)
	if v, _ := e.Field("country_code"); v.Str != "GB" || len(e.Fields) != 4 {
		t.Errorf("fields %v", e.Fields)
	}
}

func TestGeoIPFlatRecords(t *testing.T) {
	// IPinfo's databases keep flat keys and write the AS number as text.
	db := filepath.Join(t.TempDir(), "ipinfo.mmdb")
	writeMMDB(t, db, "ipinfo country_asn.mmdb", []mmdbNetwork{{"8.8.8.0/24", map[string]any{
		"country": "United States", "country_code": "US", "continent": "North America",
		"asn": "AS15169", "as_name": "Google LLC", "as_domain": "google.com",
	}}})
	p, err := NewPipeline(PipelineConfig{{Type: "geoip", Database: db}})
	if err != nil {
		t.Fatal(err)
	}
	e := entry("m", str("remote_addr", "8.8.8.8"))
	p.Apply(&e)
	want := map[string]any{"remote_addr": "8.8.8.8", "geo.country_iso": "US", "geo.country": "United States",
		"geo.asn": int64(15169), "geo.as_org": "Google LLC"}
	if got := fieldMap(e); !reflect.DeepEqual(got, want) {
		t.Errorf("fields %v, want %v", got, want)
	}
}

// geoipPipeline opens a pipeline with one geoip step on path, a clock the
// test moves and a log it reads.
func geoipPipeline(t *testing.T, path string) (*Pipeline, *clock, *syncBuffer) {
	t.Helper()
	clk, logs := newClock(), &syncBuffer{}
	p, err := OpenPipeline(PipelineConfig{{Type: "geoip", Database: path}},
		PipelineOptions{Logger: slog.New(slog.NewTextHandler(logs, nil)), Now: clk.now})
	if err != nil {
		t.Fatal(err)
	}
	return p, clk, logs
}

func countryOf(tb testing.TB, p *Pipeline, addr string) string {
	tb.Helper()
	e := entry("m", str("remote_addr", addr))
	p.Apply(&e)
	v, _ := e.Field("geo.country_iso")
	return v.Str
}

// replaceFile writes b to path as an updater does: a new file renamed
// over the old one, with a modification time of its own.
func replaceFile(t *testing.T, path string, b []byte, mtime time.Time) {
	t.Helper()
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(tmp, mtime, mtime); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

func TestGeoIPReload(t *testing.T) {
	path := filepath.Join(t.TempDir(), "city.mmdb")
	writeMMDB(t, path, "GeoLite2-City", testCityNetworks)
	p, clk, logs := geoipPipeline(t, path)
	if got := countryOf(t, p, "8.8.8.8"); got != "US" {
		t.Fatalf("before: %q", got)
	}
	// The range moved to another country in this week's database.
	moved := []mmdbNetwork{{"8.8.8.0/24", cityRecord("CA", "Canada", "Toronto", 43.6, -79.4)}}
	replaceFile(t, path, buildMMDB(t, "GeoLite2-City", moved), testNow.Add(time.Hour))

	clk.advance(GeoIPCheckInterval / 2)
	if got := countryOf(t, p, "8.8.8.8"); got != "US" {
		t.Errorf("looked at the file before the interval: %q", got)
	}
	clk.advance(GeoIPCheckInterval)
	if got := countryOf(t, p, "8.8.8.8"); got != "CA" {
		t.Errorf("after the change: %q, want CA (the cache of the old file must go)", got)
	}
	if got := countryOf(t, p, "81.2.69.1"); got != "" {
		t.Errorf("a range the new file lacks: %q", got)
	}
	if !strings.Contains(logs.String(), "geoip database reloaded") {
		t.Errorf("log: %s", logs)
	}

	// An in-place copy that changes size is read again too (the copy in
	// memory never sees the file change under it).
	if err := os.WriteFile(path, buildMMDB(t, "GeoLite2-City", testCityNetworks), 0o644); err != nil {
		t.Fatal(err)
	}
	clk.advance(GeoIPCheckInterval)
	if got := countryOf(t, p, "81.2.69.1"); got != "GB" {
		t.Errorf("after an in-place copy: %q", got)
	}
}

func TestGeoIPBadNewFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "city.mmdb")
	good := buildMMDB(t, "GeoLite2-City", testCityNetworks)
	writeMMDB(t, path, "GeoLite2-City", testCityNetworks)
	p, clk, logs := geoipPipeline(t, path)

	steps := []struct {
		name   string
		change func()
		log    string
	}{
		{"garbage", func() { replaceFile(t, path, []byte("not a database"), testNow.Add(time.Hour)) }, "cannot be opened"},
		{"truncated", func() { replaceFile(t, path, good[:len(good)/2], testNow.Add(2*time.Hour)) }, "cannot be opened"},
		{"removed", func() {
			if err := os.Remove(path); err != nil {
				t.Fatal(err)
			}
		}, "unreadable"},
	}
	for _, st := range steps {
		before := strings.Count(logs.String(), "\n")
		st.change()
		for range 3 { // logged once, not at every check
			clk.advance(GeoIPCheckInterval)
			if got := countryOf(t, p, "81.2.69.1"); got != "GB" {
				t.Errorf("%s: %q, want the old database kept", st.name, got)
			}
		}
		out := logs.String()
		if n := strings.Count(out, "\n") - before; n != 1 || !strings.Contains(out, st.log) {
			t.Errorf("%s: %d log lines: %s", st.name, n, out)
		}
	}
	// A good file again is taken up.
	replaceFile(t, path, buildMMDB(t, "GeoLite2-City", []mmdbNetwork{{"81.2.69.0/24", cityRecord("IE", "Ireland", "", 53, -8)}}), testNow.Add(3*time.Hour))
	clk.advance(GeoIPCheckInterval)
	if got := countryOf(t, p, "81.2.69.1"); got != "IE" {
		t.Errorf("after a good file: %q", got)
	}
}

func TestGeoIPConcurrentReload(t *testing.T) {
	path := filepath.Join(t.TempDir(), "city.mmdb")
	writeMMDB(t, path, "GeoLite2-City", testCityNetworks)
	p, clk, _ := geoipPipeline(t, path)
	other := buildMMDB(t, "GeoLite2-City", []mmdbNetwork{{"81.2.69.0/24", cityRecord("IE", "Ireland", "", 53, -8)}})
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := range 200 {
				if g == 0 && i%20 == 0 {
					b := other
					if i%40 == 0 {
						b = buildMMDB(t, "GeoLite2-City", testCityNetworks)
					}
					replaceFile(t, path, b, testNow.Add(time.Duration(i)*time.Minute))
					clk.advance(GeoIPCheckInterval)
				}
				if got := countryOf(t, p, "81.2.69.1"); got != "GB" && got != "IE" {
					t.Errorf("country %q", got)
					return
				}
			}
		})
	}
	wg.Wait()
}

func TestGeoIPConfigErrors(t *testing.T) {
	dir := t.TempDir()
	notDB := filepath.Join(dir, "notes.txt")
	if err := os.WriteFile(notDB, []byte("hello"), 0o644); err != nil {
		t.Fatal(err)
	}
	db := filepath.Join(dir, "city.mmdb")
	writeMMDB(t, db, "GeoLite2-City", testCityNetworks)
	missing := filepath.Join(dir, "GeoLite2-City.mmdb")
	tests := []struct {
		name string
		step Step
		want string
	}{
		{"no database", Step{Type: "geoip"}, "pipeline[0].database: is required: the path of a MaxMind DB file"},
		{"missing file", Step{Type: "geoip", Database: missing}, "pipeline[0].database: " + missing + " does not exist"},
		{"not a database", Step{Type: "geoip", Database: notDB}, "pipeline[0].database: open " + notDB + " as a MaxMind DB file"},
		{"a directory", Step{Type: "geoip", Database: dir}, "pipeline[0].database: read " + dir},
		{"unknown name", Step{Type: "geoip", Database: db, Names: map[string]string{"region": "r"}},
			"pipeline[0].names.region: is not one of country_iso, country, city, lat, lon, asn, as_org"},
		{"negative cache", Step{Type: "geoip", Database: db, CacheSize: -1}, "pipeline[0].cache_size: -1 is negative"},
		{"key of another type", Step{Type: "geoip", Database: db, Regex: "x"}, "pipeline[0].regex: not used by type geoip (it takes field, database, language, names, cache_size)"},
		{"useragent unknown name", Step{Type: "useragent", Names: map[string]string{"engine": "e"}},
			"pipeline[0].names.engine: is not one of browser, browser_version, os, os_version, device, bot"},
		{"useragent database", Step{Type: "useragent", Database: db}, "pipeline[0].database: not used by type useragent (it takes field, names, cache_size)"},
		{"useragent negative cache", Step{Type: "useragent", CacheSize: -5}, "pipeline[0].cache_size: -5 is negative"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewPipeline(PipelineConfig{tt.step})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %v, want it to contain %q", err, tt.want)
			}
		})
	}
}

func TestGeoIPClockEvery(t *testing.T) {
	// With the real clock the step reads it only every geoIPClockEvery
	// entries; the interval is made to be up already.
	path := filepath.Join(t.TempDir(), "city.mmdb")
	writeMMDB(t, path, "GeoLite2-City", testCityNetworks)
	p, err := NewPipeline(PipelineConfig{{Type: "geoip", Database: path}})
	if err != nil {
		t.Fatal(err)
	}
	h := p.hooks[0].(*geoHook)
	moved := []mmdbNetwork{{"8.8.8.0/24", cityRecord("CA", "Canada", "Toronto", 43.6, -79.4)}}
	replaceFile(t, path, buildMMDB(t, "GeoLite2-City", moved), testNow.Add(time.Hour))
	h.seen.Store(0)
	h.nextCheck.Store(0)
	for i := 1; i < geoIPClockEvery; i++ {
		if got := countryOf(t, p, "8.8.8.8"); got != "US" {
			t.Fatalf("entry %d: %q, want the clock not read yet", i, got)
		}
	}
	if got := countryOf(t, p, "8.8.8.8"); got != "CA" {
		t.Errorf("entry %d: %q, want the new file", geoIPClockEvery, got)
	}
}
