package ingest

import (
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/oschwald/maxminddb-golang/v2"

	"github.com/logengine/logengine/storage"
)

// GeoIPCheckInterval is how often a geoip step looks at its database file
// (size and modification time) to see whether it was replaced. Databases
// change weekly at most, and a stat per entry would cost more than the
// lookup it guards.
const GeoIPCheckInterval = 5 * time.Second

// geoIPClockEvery is how many entries a geoip step lets pass between two
// readings of the clock that decide whether GeoIPCheckInterval is up. A
// clock reading per entry costs as much as the cached lookup itself; one
// per 256 entries delays a reload by at most 256 entries after the
// interval, which on a log quiet enough to matter is still minutes for a
// file that changes weekly.
const geoIPClockEvery = 256

// DefaultEnrichCacheSize is the number of distinct addresses (geoip) or
// user agents (useragent) a step remembers when cache_size is not set.
// Access logs repeat the same clients: 10,000 entries hold the working set
// of a busy site in a few megabytes.
const DefaultEnrichCacheSize = 10_000

// geoNames are the keys of a geoip step's names map, with the default field
// each one is written to.
var geoNames = []struct{ key, field string }{
	{"country_iso", "geo.country_iso"},
	{"country", "geo.country"},
	{"city", "geo.city"},
	{"lat", "geo.lat"},
	{"lon", "geo.lon"},
	{"asn", "geo.asn"},
	{"as_org", "geo.as_org"},
}

// geoHook adds the location and network of an address field from a MaxMind
// DB file (GeoLite2/GeoIP2 City, Country or ASN, DB-IP lite, IPinfo).
type geoHook struct {
	at       string // "pipeline[i]", for log lines
	path     string
	field    string
	lang     string
	names    map[string]string // key of geoNames → field name; "" leaves it out
	cacheLen int
	log      *slog.Logger
	now      func() time.Time
	// filter knows the names in names, for addFields.
	filter nameFilter
	// clockEvery is geoIPClockEvery, or 1 with a clock given in
	// PipelineOptions: tests step that clock and expect the next entry
	// to see it.
	clockEvery uint64
	// seen counts entries, to read the clock every clockEvery of them.
	seen atomic.Uint64

	// db is swapped whole when the file changes, so a lookup sees one
	// database and the cache of results from it, never a mix.
	db atomic.Pointer[geoDB]
	// nextCheck is when the file is next looked at, in Unix nanoseconds.
	nextCheck atomic.Int64
	// checking is held by the one caller that looks at the file; the
	// others go on with the database they have.
	checking atomic.Bool
	// failed is the size and time of a file that could not be opened, so
	// that it is not read and logged again until it changes, and missing
	// is set once a failed stat was logged. Both are guarded by checking.
	failed  fileStamp
	missing bool
}

// geoDB is one opened version of the database file.
type geoDB struct {
	reader *maxminddb.Reader
	stamp  fileStamp
	// cache maps an address, as written in the entry, to the fields it
	// adds (nil for none). The slices are shared and never changed.
	cache *enrichCache
}

type fileStamp struct {
	size    int64
	modTime time.Time
}

func stampOf(fi os.FileInfo) fileStamp { return fileStamp{size: fi.Size(), modTime: fi.ModTime()} }

func compileGeoIP(at string, st *Step, opts PipelineOptions) (Hook, error) {
	if st.Database == "" {
		return nil, fmt.Errorf("%s.database: is required: the path of a MaxMind DB file (.mmdb) such as GeoLite2-City.mmdb", at)
	}
	names, err := compileNames(at, st.Names, geoNames)
	if err != nil {
		return nil, err
	}
	if st.CacheSize < 0 {
		return nil, fmt.Errorf("%s.cache_size: %d is negative; use 0 for the default (%d addresses)", at, st.CacheSize, DefaultEnrichCacheSize)
	}
	h := &geoHook{
		at: at, path: st.Database, field: st.Field, lang: st.Language, names: names,
		cacheLen: st.CacheSize, log: opts.Logger, now: opts.Now,
		filter: newNameFilter(names), clockEvery: geoIPClockEvery,
	}
	if opts.Now != nil {
		h.clockEvery = 1
	} else {
		h.now = time.Now
	}
	if h.field == "" {
		h.field = "remote_addr"
	}
	if h.lang == "" {
		h.lang = "en"
	}
	if h.cacheLen == 0 {
		h.cacheLen = DefaultEnrichCacheSize
	}
	fi, err := os.Stat(h.path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("%s.database: %s does not exist: download a MaxMind DB file (for example GeoLite2-City.mmdb) and give its path", at, h.path)
		}
		return nil, fmt.Errorf("%s.database: %w", at, err)
	}
	db, err := h.open(stampOf(fi))
	if err != nil {
		return nil, fmt.Errorf("%s.database: %w", at, err)
	}
	h.db.Store(db)
	h.nextCheck.Store(h.now().Add(GeoIPCheckInterval).UnixNano())
	return h, nil
}

// compileNames merges the configured field names over the defaults.
func compileNames(at string, configured map[string]string, defaults []struct{ key, field string }) (map[string]string, error) {
	names := make(map[string]string, len(defaults))
	keys := make([]string, 0, len(defaults))
	for _, d := range defaults {
		names[d.key] = d.field
		keys = append(keys, d.key)
	}
	for k, v := range configured {
		if _, ok := names[k]; !ok {
			return nil, fmt.Errorf("%s.names.%s: is not one of %s", at, k, strings.Join(keys, ", "))
		}
		names[k] = strings.TrimSpace(v)
	}
	return names, nil
}

// open reads the whole file into memory rather than mapping it: a file
// rewritten in place (cp over it) would change under a mapping, or fault
// with SIGBUS if it shrank, while a copy in memory stays what it was until
// the next check swaps it.
func (h *geoHook) open(stamp fileStamp) (*geoDB, error) {
	buf, err := os.ReadFile(h.path)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", h.path, err)
	}
	r, err := maxminddb.OpenBytes(buf)
	if err != nil {
		return nil, fmt.Errorf("open %s as a MaxMind DB file: %w", h.path, err)
	}
	// A half-written file can still have metadata that parses; a lookup
	// walks the tree and catches most of the rest.
	if res := r.Lookup(netip.MustParseAddr("8.8.8.8")); res.Err() != nil {
		return nil, fmt.Errorf("open %s as a MaxMind DB file: %w", h.path, res.Err())
	}
	return &geoDB{reader: r, stamp: stamp, cache: newEnrichCache(h.cacheLen)}, nil
}

// maybeReload opens the file again when its size or modification time
// changed. A file that cannot be opened (missing, half-copied, not a
// database) keeps the current one in use.
func (h *geoHook) maybeReload(now time.Time) {
	next := now.Add(GeoIPCheckInterval).UnixNano()
	if now.UnixNano() < h.nextCheck.Load() || !h.checking.CompareAndSwap(false, true) {
		return
	}
	defer h.checking.Store(false)
	h.nextCheck.Store(next)

	fi, err := os.Stat(h.path)
	if err != nil {
		if !h.missing {
			h.missing = true
			h.log.Warn("geoip database unreadable; keeping the one loaded", "step", h.at, "path", h.path, "err", err)
		}
		return
	}
	h.missing = false
	stamp := stampOf(fi)
	if stamp == h.db.Load().stamp || stamp == h.failed {
		return
	}
	db, err := h.open(stamp)
	if err != nil {
		h.failed = stamp
		h.log.Warn("geoip database changed but cannot be opened; keeping the one loaded", "step", h.at, "path", h.path, "err", err)
		return
	}
	h.failed = fileStamp{}
	h.db.Store(db)
	h.log.Info("geoip database reloaded", "step", h.at, "path", h.path, "type", db.reader.Metadata.DatabaseType,
		"built", db.reader.Metadata.BuildTime().UTC())
}

func (h *geoHook) addsFields() int { return len(geoNames) }

func (h *geoHook) Apply(e *storage.Entry) bool {
	if h.seen.Add(1)%h.clockEvery == 0 {
		h.maybeReload(h.now())
	}
	s, ok := addressText(e, h.field)
	if !ok {
		return true
	}
	db := h.db.Load()
	fields, ok := db.cache.get(s)
	if !ok {
		addr, ok := publicAddr(s)
		if !ok {
			return true
		}
		fields = h.lookup(db.reader, addr)
		// The address may point into the request body; a copy lets the
		// body go.
		db.cache.add(strings.Clone(s), fields)
	}
	if len(fields) > 0 {
		addFields(e, fields, &h.filter)
	}
	return true
}

// addressText returns the address field as text; other types hold no
// address.
func addressText(e *storage.Entry, field string) (string, bool) {
	v, ok := e.Field(field)
	if !ok || v.Str == "" {
		return "", false
	}
	return v.Str, true
}

// sharedAddressSpace is carrier-grade NAT (RFC 6598): not private by
// net/netip's definition, but never routed on the Internet either.
var sharedAddressSpace = netip.MustParsePrefix("100.64.0.0/10")

// publicAddr parses an address, with or without a port, and reports
// whether it can have a location: private, loopback, link-local,
// multicast and unspecified addresses cannot.
func publicAddr(s string) (netip.Addr, bool) {
	addr, err := netip.ParseAddr(s)
	if err != nil {
		ap, err := netip.ParseAddrPort(s)
		if err != nil {
			return netip.Addr{}, false
		}
		addr = ap.Addr()
	}
	addr = addr.Unmap().WithZone("")
	if !addr.IsGlobalUnicast() || addr.IsPrivate() || sharedAddressSpace.Contains(addr) {
		return netip.Addr{}, false
	}
	return addr, true
}

// lookup decodes the record of addr into the fields to add. Records are
// decoded into a map rather than a struct because the formats differ:
// MaxMind and DB-IP nest names by language (country.names.en), IPinfo
// has flat strings (country, country_code, as_name).
func (h *geoHook) lookup(r *maxminddb.Reader, addr netip.Addr) []storage.Field {
	res := r.Lookup(addr)
	if !res.Found() {
		return nil
	}
	var rec map[string]any
	if err := res.Decode(&rec); err != nil {
		// One bad record is not worth failing ingest or a log line per
		// entry; it is cached as nothing like an address not found.
		return nil
	}
	var fields []storage.Field
	add := func(key string, v storage.Value) {
		if name := h.names[key]; name != "" {
			fields = append(fields, storage.Field{Name: name, Value: v})
		}
	}
	if s := firstString(path(rec, "country", "iso_code"), rec["country_code"]); s != "" {
		add("country_iso", storage.String(s))
	}
	if s := firstString(path(rec, "country", "names", h.lang), path(rec, "country", "names", "en"), rec["country"]); s != "" {
		add("country", storage.String(s))
	}
	if s := firstString(path(rec, "city", "names", h.lang), path(rec, "city", "names", "en"), rec["city"]); s != "" {
		add("city", storage.String(s))
	}
	lat, okLat := firstFloat(path(rec, "location", "latitude"), rec["latitude"], rec["lat"])
	lon, okLon := firstFloat(path(rec, "location", "longitude"), rec["longitude"], rec["lng"], rec["lon"])
	if okLat && okLon {
		add("lat", storage.Float(lat))
		add("lon", storage.Float(lon))
	}
	if n, ok := asNumber(firstPresent(rec["autonomous_system_number"], rec["asn"])); ok {
		add("asn", storage.Int(n))
	}
	if s := firstString(rec["autonomous_system_organization"], rec["as_name"]); s != "" {
		add("as_org", storage.String(s))
	}
	return dedupFields(fields)
}

// path follows nested maps; nil when any step is missing.
func path(rec map[string]any, keys ...string) any {
	var v any = rec
	for _, k := range keys {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[k]
	}
	return v
}

func firstString(vs ...any) string {
	for _, v := range vs {
		if s, ok := v.(string); ok && s != "" {
			return s
		}
	}
	return ""
}

func firstPresent(vs ...any) any {
	for _, v := range vs {
		if v != nil {
			return v
		}
	}
	return nil
}

func firstFloat(vs ...any) (float64, bool) {
	for _, v := range vs {
		switch v := v.(type) {
		case float64:
			return v, true
		case float32:
			return float64(v), true
		case string: // IPinfo writes coordinates as strings
			if f, err := strconv.ParseFloat(v, 64); err == nil {
				return f, true
			}
		}
	}
	return 0, false
}

// asNumber reads an AS number stored as an integer (MaxMind, DB-IP) or as
// "AS15169" (IPinfo).
func asNumber(v any) (int64, bool) {
	switch v := v.(type) {
	case uint64:
		return int64(v), v <= 1<<32
	case uint32:
		return int64(v), true
	case uint16:
		return int64(v), true
	case int:
		return int64(v), v >= 0
	case int32:
		return int64(v), v >= 0
	case int64:
		return v, v >= 0
	case string:
		n, err := strconv.ParseInt(strings.TrimPrefix(strings.ToUpper(v), "AS"), 10, 64)
		return n, err == nil && n >= 0
	}
	return 0, false
}
