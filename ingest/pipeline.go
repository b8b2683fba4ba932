package ingest

import (
	"errors"
	"fmt"
	"hash/maphash"
	"log/slog"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/logengine/logengine/storage"
)

// Hook enriches or filters one entry before it is stored. Apply may change
// the entry and reports whether to keep it. An entry's Fields and Tags may
// share backing arrays with other entries (up to their capacity), so hooks
// change them only within their length or by appending.
type Hook interface {
	Apply(e *storage.Entry) (keep bool)
}

// PipelineConfig is the pipeline section of the daemon's configuration:
// steps applied in order to every entry before it is stored. In YAML:
//
//	pipeline:
//	  - type: add                      # static fields and tags
//	    fields: {env: prod, region: eu-1}
//	    tags: [prod]
//	  - type: drop_below               # drop entries below a level
//	    level: info
//	  - type: drop                     # drop entries whose message (or field) matches
//	    regex: 'GET /healthz'
//	  - type: keep                     # keep only entries whose field matches
//	    field: path
//	    regex: '^/api/'
//	  - type: extract                  # named groups become fields
//	    regex: 'user=(?P<user>\w+) took (?P<took_ms>\d+)ms'
//	  - type: rename
//	    from: hostname
//	    to: host
//	  - type: redact                   # e-mail addresses, card numbers, bearer tokens
//	    detect: [email, card, bearer]  # default: all three; [none] for patterns only
//	    patterns: ['secret=\S+']
//	    replacement: '[REDACTED]'
//	  - type: geoip                    # location and network of an address
//	    field: remote_addr             # the default
//	    database: /var/lib/GeoIP/GeoLite2-City.mmdb
//	  - type: useragent                # browser, OS, device, bot
//	    field: user_agent              # the default
type PipelineConfig []Step

// Step is one step of the pipeline. Type chooses what it does and which of
// the other keys it takes.
type Step struct {
	// Type is add, drop_below, drop, keep, extract, rename, redact, geoip
	// or useragent.
	Type string `yaml:"type" json:"type"`
	// Fields (add) are set on entries that do not have them already:
	// strings, numbers or booleans.
	Fields map[string]any `yaml:"fields,omitempty" json:"fields,omitempty"`
	// Tags (add) are added to every entry.
	Tags []string `yaml:"tags,omitempty" json:"tags,omitempty"`
	// Level (drop_below) is the lowest level kept, by any name ParseLevel
	// knows.
	Level string `yaml:"level,omitempty" json:"level,omitempty"`
	// Field (drop, keep, extract, redact) is what the step looks at: a
	// field name, "source", or "message" (the default). For geoip it is
	// the field holding the address (default remote_addr), for useragent
	// the one holding the user agent (default user_agent).
	Field string `yaml:"field,omitempty" json:"field,omitempty"`
	// Regex (drop, keep, extract) is in RE2 syntax; extract needs named
	// groups, (?P<name>...).
	Regex string `yaml:"regex,omitempty" json:"regex,omitempty"`
	// From and To (rename) name a field and its new name.
	From string `yaml:"from,omitempty" json:"from,omitempty"`
	To   string `yaml:"to,omitempty" json:"to,omitempty"`
	// Detect (redact) lists the built-in detectors: email, card (13–19
	// digits passing the Luhn check) and bearer (tokens after "Bearer").
	// Empty means all three; "none" means only Patterns.
	Detect []string `yaml:"detect,omitempty" json:"detect,omitempty"`
	// Patterns (redact) are more regexes whose matches are redacted.
	Patterns []string `yaml:"patterns,omitempty" json:"patterns,omitempty"`
	// Replacement (redact) replaces what is redacted; default "[REDACTED]".
	Replacement string `yaml:"replacement,omitempty" json:"replacement,omitempty"`
	// Database (geoip) is the path of a MaxMind DB file: GeoLite2 or
	// GeoIP2 City, Country or ASN, DB-IP lite, IPinfo. It is read again
	// when it changes on disk.
	Database string `yaml:"database,omitempty" json:"database,omitempty"`
	// Language (geoip) chooses the country and city names, for databases
	// that have several; default "en", which is also the fallback.
	Language string `yaml:"language,omitempty" json:"language,omitempty"`
	// Names (geoip, useragent) renames the fields the step adds, by key:
	// country_iso, country, city, lat, lon, asn, as_org (default
	// geo.<key>) or browser, browser_version, os, os_version, device, bot
	// (default ua.<key>). An empty name leaves that field out.
	Names map[string]string `yaml:"names,omitempty" json:"names,omitempty"`
	// CacheSize (geoip, useragent) is how many distinct addresses or user
	// agents the step remembers; 0 means DefaultEnrichCacheSize.
	CacheSize int `yaml:"cache_size,omitempty" json:"cache_size,omitempty"`
}

// PipelineOptions are what the steps need from the daemon besides their
// configuration.
type PipelineOptions struct {
	// Logger receives what steps report while running, such as a geoip
	// database reloaded or one that could not be; nil discards it.
	Logger *slog.Logger
	// Now tells geoip steps when to look at their database file again.
	// nil means time.Now, read once every few hundred entries because a
	// reading per entry costs as much as a cached lookup; a clock given
	// here is read at every entry, so that a test stepping it sees the
	// effect at the next entry.
	Now func() time.Time
}

// Pipeline runs the hooks of a configuration in order. A nil *Pipeline
// keeps every entry unchanged.
type Pipeline struct {
	hooks []Hook
	// grow is the most fields the enrichment steps add to an entry. Apply
	// makes room for them once: each step appending on its own would
	// grow the slice two or three times per entry, and on access logs
	// that garbage cost more than the lookups.
	grow int
}

// fieldAdder is a hook that adds up to addsFields fields to an entry.
type fieldAdder interface {
	addsFields() int
}

var _ Hook = (*Pipeline)(nil)

// Apply runs the hooks in order and stops at the first that drops e.
func (p *Pipeline) Apply(e *storage.Entry) bool {
	if p == nil {
		return true
	}
	if p.grow > 0 {
		e.Fields = slices.Grow(e.Fields, p.grow)
	}
	for _, h := range p.hooks {
		if !h.Apply(e) {
			return false
		}
	}
	return true
}

// Validate checks the configuration; errors name the step and key at
// fault, as in "pipeline[2].regex: ...".
func (c PipelineConfig) Validate() error {
	_, err := NewPipeline(c)
	return err
}

// NewPipeline compiles a configuration with default options.
func NewPipeline(c PipelineConfig) (*Pipeline, error) {
	return OpenPipeline(c, PipelineOptions{})
}

// OpenPipeline compiles a configuration, opening the files that steps
// name (geoip databases). All mistakes are reported at once, each naming
// its step and key.
func OpenPipeline(c PipelineConfig, opts PipelineOptions) (*Pipeline, error) {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	p := &Pipeline{}
	var errs []error
	for i, st := range c {
		h, err := st.compile(fmt.Sprintf("pipeline[%d]", i), opts)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		p.hooks = append(p.hooks, h)
		if a, ok := h.(fieldAdder); ok {
			p.grow += a.addsFields()
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return p, nil
}

// keysOf lists the keys a step sets other than type.
func (st *Step) keysOf() []string {
	var keys []string
	add := func(name string, set bool) {
		if set {
			keys = append(keys, name)
		}
	}
	add("fields", len(st.Fields) > 0)
	add("tags", len(st.Tags) > 0)
	add("level", st.Level != "")
	add("field", st.Field != "")
	add("regex", st.Regex != "")
	add("from", st.From != "")
	add("to", st.To != "")
	add("detect", len(st.Detect) > 0)
	add("patterns", len(st.Patterns) > 0)
	add("replacement", st.Replacement != "")
	add("database", st.Database != "")
	add("language", st.Language != "")
	add("names", len(st.Names) > 0)
	add("cache_size", st.CacheSize != 0)
	return keys
}

// stepKeys lists the keys each type takes.
var stepKeys = map[string][]string{
	"add":        {"fields", "tags"},
	"drop_below": {"level"},
	"drop":       {"field", "regex"},
	"keep":       {"field", "regex"},
	"extract":    {"field", "regex"},
	"rename":     {"from", "to"},
	"redact":     {"field", "detect", "patterns", "replacement"},
	"geoip":      {"field", "database", "language", "names", "cache_size"},
	"useragent":  {"field", "names", "cache_size"},
}

func (st *Step) compile(at string, opts PipelineOptions) (Hook, error) {
	allowed, ok := stepKeys[st.Type]
	if !ok {
		types := make([]string, 0, len(stepKeys))
		for t := range stepKeys {
			types = append(types, t)
		}
		sort.Strings(types)
		return nil, fmt.Errorf("%s.type: %q is not one of %s", at, st.Type, strings.Join(types, ", "))
	}
	for _, k := range st.keysOf() {
		if !slices.Contains(allowed, k) {
			return nil, fmt.Errorf("%s.%s: not used by type %s (it takes %s)", at, k, st.Type, strings.Join(allowed, ", "))
		}
	}
	switch st.Type {
	case "add":
		return compileAdd(at, st)
	case "drop_below":
		l, ok := ParseLevel(st.Level)
		if !ok {
			return nil, fmt.Errorf("%s.level: %q is not a level: use trace, debug, info, warn, error or fatal", at, st.Level)
		}
		return dropBelow{level: l}, nil
	case "drop", "keep":
		re, err := compileRegex(at, st.Regex)
		if err != nil {
			return nil, err
		}
		return matchHook{re: re, field: st.Field, keep: st.Type == "keep"}, nil
	case "extract":
		re, err := compileRegex(at, st.Regex)
		if err != nil {
			return nil, err
		}
		named := false
		for _, n := range re.SubexpNames() {
			named = named || n != ""
		}
		if !named {
			return nil, fmt.Errorf("%s.regex: has no named group; name what to extract as (?P<name>...)", at)
		}
		return extractHook{re: re, field: st.Field}, nil
	case "rename":
		if st.From == "" {
			return nil, fmt.Errorf("%s.from: name the field to rename", at)
		}
		if st.To == "" {
			return nil, fmt.Errorf("%s.to: name the new field name", at)
		}
		if st.From == st.To {
			return nil, fmt.Errorf("%s.to: is the same as from", at)
		}
		return renameHook{from: st.From, to: st.To}, nil
	case "redact":
		return compileRedact(at, st)
	case "geoip":
		return compileGeoIP(at, st, opts)
	case "useragent":
		return compileUserAgent(at, st)
	}
	return nil, fmt.Errorf("BUG: %s.type %q has no compiler", at, st.Type)
}

func compileRegex(at, expr string) (*regexp.Regexp, error) {
	if expr == "" {
		return nil, fmt.Errorf("%s.regex: is required", at)
	}
	re, err := regexp.Compile(expr)
	if err != nil {
		return nil, fmt.Errorf("%s.regex: %w", at, err)
	}
	return re, nil
}

// addHook sets static fields (unless the entry has them) and tags.
type addHook struct {
	fields []storage.Field
	tags   []string
}

func compileAdd(at string, st *Step) (Hook, error) {
	if len(st.Fields) == 0 && len(st.Tags) == 0 {
		return nil, fmt.Errorf("%s: type add needs fields or tags", at)
	}
	var h addHook
	names := make([]string, 0, len(st.Fields))
	for name := range st.Fields {
		names = append(names, name)
	}
	sort.Strings(names) // maps have no order; entries should
	for _, name := range names {
		if name == "" {
			return nil, fmt.Errorf("%s.fields: a field name is empty", at)
		}
		v, ok := staticValue(st.Fields[name])
		if !ok {
			return nil, fmt.Errorf("%s.fields.%s: %v is not a string, number or boolean", at, name, st.Fields[name])
		}
		h.fields = append(h.fields, storage.Field{Name: name, Value: v})
	}
	for i, t := range st.Tags {
		if strings.TrimSpace(t) == "" {
			return nil, fmt.Errorf("%s.tags[%d]: is empty", at, i)
		}
		h.tags = append(h.tags, strings.TrimSpace(t))
	}
	return h, nil
}

// staticValue converts a value decoded from YAML or JSON configuration.
func staticValue(v any) (storage.Value, bool) {
	switch v := v.(type) {
	case string:
		return storage.String(v), true
	case bool:
		return storage.Bool(v), true
	case int:
		return storage.Int(int64(v)), true
	case int64:
		return storage.Int(v), true
	case uint64:
		if v <= 1<<63-1 {
			return storage.Int(int64(v)), true
		}
		return storage.Float(float64(v)), true
	case float64:
		if v == float64(int64(v)) && v >= -1<<53 && v <= 1<<53 {
			// JSON decoders give every number as float64; whole ones are
			// meant as integers.
			return storage.Int(int64(v)), true
		}
		return storage.Float(v), true
	}
	return storage.Value{}, false
}

func (h addHook) addsFields() int { return len(h.fields) }

func (h addHook) Apply(e *storage.Entry) bool {
	for _, f := range h.fields {
		if _, ok := e.Field(f.Name); !ok {
			e.Fields = append(e.Fields, f)
		}
	}
	for _, t := range h.tags {
		if !slices.Contains(e.Tags, t) {
			e.Tags = append(e.Tags, t)
		}
	}
	return true
}

type dropBelow struct{ level storage.Level }

func (h dropBelow) Apply(e *storage.Entry) bool { return e.Level >= h.level }

// target returns the text a step looks at.
func target(e *storage.Entry, field string) (string, bool) {
	switch field {
	case "", "message":
		return e.Message, true
	case "source":
		return e.Source, true
	}
	v, ok := e.Field(field)
	if !ok {
		return "", false
	}
	return v.Text(), true
}

// matchHook drops (or keeps only) entries whose target matches.
type matchHook struct {
	re    *regexp.Regexp
	field string
	keep  bool
}

func (h matchHook) Apply(e *storage.Entry) bool {
	s, ok := target(e, h.field)
	matched := ok && h.re.MatchString(s)
	return matched == h.keep
}

// extractHook sets a field for each named group that matched.
type extractHook struct {
	re    *regexp.Regexp
	field string
}

func (h extractHook) Apply(e *storage.Entry) bool {
	s, ok := target(e, h.field)
	if !ok {
		return true
	}
	m := h.re.FindStringSubmatchIndex(s)
	if m == nil {
		return true
	}
	for i, name := range h.re.SubexpNames() {
		if name == "" || m[2*i] < 0 {
			continue
		}
		setField(e, name, inferValue(s[m[2*i]:m[2*i+1]]))
	}
	return true
}

// setField sets or replaces a field.
func setField(e *storage.Entry, name string, v storage.Value) {
	for i := range e.Fields {
		if e.Fields[i].Name == name {
			e.Fields[i].Value = v
			return
		}
	}
	e.Fields = append(e.Fields, storage.Field{Name: name, Value: v})
}

// renameHook renames a field, replacing any field that had the new name.
type renameHook struct{ from, to string }

func (h renameHook) Apply(e *storage.Entry) bool {
	i := slices.IndexFunc(e.Fields, func(f storage.Field) bool { return f.Name == h.from })
	if i < 0 {
		return true
	}
	e.Fields[i].Name = h.to
	if j := slices.IndexFunc(e.Fields, func(f storage.Field) bool { return f.Name == h.to }); j != i {
		e.Fields = slices.Delete(e.Fields, j, j+1)
	} else if k := slices.IndexFunc(e.Fields[i+1:], func(f storage.Field) bool { return f.Name == h.to }); k >= 0 {
		e.Fields = slices.Delete(e.Fields, i+1+k, i+2+k)
	}
	return true
}

// enrichCacheShards is the most shards an enrichment cache is split into.
// Concurrent requests hashing to different shards never touch the same
// lock; 16 spreads two to a few dozen ingest goroutines well enough while
// keeping a small cache (cache_size of a few entries) exact.
const enrichCacheShards = 16

// enrichCache maps a key (an address or a user agent, as written in the
// entry) to the fields it adds. It holds at most its size of keys and is
// safe for concurrent use.
//
// A hit takes only the read lock of one shard and sets the entry's
// reference bit, which is what makes it cheaper than an LRU: an LRU moves
// the entry to the front of a list on every hit and so needs the write
// lock. Eviction is CLOCK (second chance): a hand sweeps the slots of the
// full shard, clearing reference bits, and takes the first slot not
// referenced since the hand last passed. Keys seen again survive, as in an
// LRU; keys seen once go first.
type enrichCache struct {
	seed   maphash.Seed
	shards []cacheShard
}

type cacheShard struct {
	mu    sync.RWMutex
	index map[string]int // key → position in slots
	slots []cacheSlot
	limit int // most slots this shard holds
	hand  int // next slot the eviction sweep looks at
	// padding keeps two shards' locks off one cache line, or readers of
	// one shard would slow down those of its neighbour.
	_ [64]byte
}

type cacheSlot struct {
	key string
	// fields are shared by every entry they are appended to and never
	// changed.
	fields []storage.Field
	// ref is set by hits under the read lock, hence atomic; the sweep
	// clears it under the write lock.
	ref atomic.Bool
}

// newEnrichCache returns a cache of size keys, size > 0. The size is
// split exactly over the shards, so that a cache of 2 holds 2 keys.
func newEnrichCache(size int) *enrichCache {
	n := min(size, enrichCacheShards)
	c := &enrichCache{seed: maphash.MakeSeed(), shards: make([]cacheShard, n)}
	for i := range c.shards {
		limit := size / n
		if i < size%n {
			limit++
		}
		c.shards[i] = cacheShard{index: make(map[string]int, limit), slots: make([]cacheSlot, 0, limit), limit: limit}
	}
	return c
}

func (c *enrichCache) shard(key string) *cacheShard {
	return &c.shards[maphash.String(c.seed, key)%uint64(len(c.shards))]
}

// get returns the fields cached for key.
func (c *enrichCache) get(key string) ([]storage.Field, bool) {
	s := c.shard(key)
	s.mu.RLock()
	i, ok := s.index[key]
	var fields []storage.Field
	if ok {
		slot := &s.slots[i]
		fields = slot.fields
		// Only the first hit since the last sweep writes: a store on
		// every hit would move the cache line between cores.
		if !slot.ref.Load() {
			slot.ref.Store(true)
		}
	}
	s.mu.RUnlock()
	return fields, ok
}

// add caches fields for key, evicting another key when the shard is full.
// The caller passes a key that does not share memory with a request body,
// or the cache would keep whole bodies alive.
func (c *enrichCache) add(key string, fields []storage.Field) {
	s := c.shard(key)
	s.mu.Lock()
	defer s.mu.Unlock()
	if i, ok := s.index[key]; ok {
		// Two requests missed on the same key at once; both looked it up
		// from the same source, so either result will do.
		s.slots[i].fields = fields
		return
	}
	if len(s.slots) < s.limit {
		s.index[key] = len(s.slots)
		s.slots = append(s.slots, cacheSlot{key: key, fields: fields})
		return
	}
	// The sweep ends within two turns: the first clears every bit it
	// passes.
	for s.slots[s.hand].ref.Load() {
		s.slots[s.hand].ref.Store(false)
		s.hand = (s.hand + 1) % len(s.slots)
	}
	slot := &s.slots[s.hand]
	delete(s.index, slot.key)
	slot.key, slot.fields = key, fields
	s.index[key] = s.hand
	s.hand = (s.hand + 1) % len(s.slots)
}

// nameFilter tells quickly whether a field name may be one a step adds,
// so that adding its fields takes one pass over the entry's fields in the
// usual case where none of them is there yet.
type nameFilter struct {
	names []string
	// lengths has bit l set when a name is l bytes long (63 stands for
	// 63 and longer): most names of an entry differ in length from all
	// those added, and are passed over without comparing bytes.
	lengths uint64
}

func newNameFilter(names map[string]string) nameFilter {
	var f nameFilter
	for _, name := range names {
		if name != "" && !slices.Contains(f.names, name) {
			f.names = append(f.names, name)
			f.lengths |= 1 << min(len(name), 63)
		}
	}
	return f
}

func (f *nameFilter) has(name string) bool {
	if f.lengths&(1<<min(len(name), 63)) == 0 {
		return false
	}
	return slices.Contains(f.names, name)
}

// addFields adds fields prepared by a step to e with the meaning of
// setField for each in turn: a field e already has of the same name gets
// the new value in its place, the others are appended. fields hold no name
// twice (see dedupFields). In the usual case, no field of e has any of
// the names, they are appended at once after one pass over e's fields
// instead of one pass per added field.
func addFields(e *storage.Entry, fields []storage.Field, names *nameFilter) {
	for i := range e.Fields {
		if names.has(e.Fields[i].Name) {
			for _, f := range fields {
				setField(e, f.Name, f.Value)
			}
			return
		}
	}
	e.Fields = append(e.Fields, fields...)
}

// dedupFields keeps the first place and the last value of a name given
// twice, as setting them one after another would: names maps two keys to
// one field name when the configuration says so.
func dedupFields(fields []storage.Field) []storage.Field {
	out := fields[:0]
	for _, f := range fields {
		if i := slices.IndexFunc(out, func(g storage.Field) bool { return g.Name == f.Name }); i >= 0 {
			out[i].Value = f.Value
			continue
		}
		out = append(out, f)
	}
	return slices.Clip(out)
}
