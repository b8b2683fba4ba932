// Package patterns mines message templates from logs: "Invalid user <*>
// from <*>" for the thousands of lines that differ in a user name and an
// address. It answers which statement of a program wrote a log, so that
// logs can be counted and filtered by it, and new ones noticed.
//
// A Miner keeps the templates of each source apart. A message is first
// masked: each part of a token that looks like a value (it holds a digit,
// is the value of key=value, a quoted value, a path or a long hex string)
// becomes the wildcard <*>. A message whose masked form was seen before
// gets the template it got then, through a map, without allocating. Any
// other is compared with the templates of the same length and first
// token, as Drain (He et al., ICWS 2017) does: it joins the most similar
// one if at least Config.Similarity of its tokens agree, and the tokens
// that differ become wildcards; otherwise it starts a template of its own.
//
// Ids are stable: a template keeps its id when it generalises, a repeated
// message keeps its id, and MarshalBinary saves them across restarts.
// When two templates turn out to be one (a later message made one of them
// general enough to hold the other), the younger is merged into the older
// and its id becomes an alias, which Resolve follows. Each source holds at
// most Config.MaxTemplates templates; beyond it the least recently seen
// one is dropped and counted in Stats.
package patterns

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
)

// Config sets the bounds and the one threshold of a Miner. The same
// configuration serves every kind of log: there is no per-source tuning.
type Config struct {
	// Similarity is the share of tokens, in (0, 1], a message must have in
	// common with a template to join it. Lower merges more.
	Similarity float64
	// MaxTemplates bounds the templates of one source. When a new one
	// would exceed it, the least recently seen template is dropped.
	MaxTemplates int
	// MaxSources bounds the sources mined apart; the logs of any further
	// source are mined together under OverflowSource.
	MaxSources int
	// MaxTokens is how many tokens of a message are compared; the rest of
	// a longer message is one wildcard. It bounds the cost of huge lines.
	MaxTokens int
	// CacheSize bounds the masked forms remembered per source for the
	// lookup without allocation; when full, the cache starts over.
	CacheSize int
}

// OverflowSource names the templates of the sources beyond
// Config.MaxSources.
const OverflowSource = "\x00overflow"

// DefaultConfig returns the configuration measured on the Loghub samples
// (see accuracy_test.go) with bounds that keep a source under a few MB.
func DefaultConfig() Config {
	return Config{
		Similarity:   0.5,
		MaxTemplates: 2000,
		MaxSources:   10000,
		MaxTokens:    128,
		CacheSize:    8192,
	}
}

// Validate reports the first setting a Miner could not use.
func (c Config) Validate() error {
	switch {
	case !(c.Similarity > 0 && c.Similarity <= 1):
		return fmt.Errorf("patterns: similarity %v must be in (0, 1]", c.Similarity)
	case c.MaxTemplates < 1:
		return errors.New("patterns: max templates per source must be at least 1")
	case c.MaxSources < 1:
		return errors.New("patterns: max sources must be at least 1")
	case c.MaxTokens < 1:
		return errors.New("patterns: max tokens must be at least 1")
	case c.CacheSize < 1:
		return errors.New("patterns: cache size must be at least 1")
	}
	return nil
}

// Stats counts what a Miner did since it was made (or loaded), for metrics.
type Stats struct {
	Sources   int    // sources mined apart
	Templates int    // live templates over all sources
	Created   uint64 // templates started
	Merged    uint64 // templates merged into another (their id is an alias)
	Evicted   uint64 // templates dropped by the per-source bound
	Overflow  uint64 // messages of sources beyond MaxSources
}

// Template is a template as the API shows it.
type Template struct {
	ID     uint64
	Source string
	// Text is the template's tokens joined by spaces, the variable parts
	// written as Wildcard.
	Text string
	// Count is the messages that got this template, including those of
	// the templates merged into it.
	Count uint64
}

// Part is a piece of a template's text: literal, or a variable part.
type Part struct {
	Text     string
	Variable bool
}

// Parts splits the text of t into literal and variable parts, for a view
// that marks the variable ones.
func (t Template) Parts() []Part {
	var parts []Part
	s := t.Text
	for s != "" {
		i := strings.Index(s, Wildcard)
		if i < 0 {
			parts = append(parts, Part{Text: s})
			break
		}
		if i > 0 {
			parts = append(parts, Part{Text: s[:i]})
		}
		parts = append(parts, Part{Text: Wildcard, Variable: true})
		s = s[i+len(Wildcard):]
	}
	return parts
}

// Miner mines the templates of many sources. It is safe for concurrent
// use: sources are mined under a lock each, so two sources never wait for
// each other except when one of them starts a template.
type Miner struct {
	cfg Config

	// mu guards sources, byID and nextID. It is taken after a source's
	// lock, never before it while holding it.
	mu      sync.RWMutex
	sources map[string]*source
	byID    map[uint64]*template
	nextID  uint64

	created, merged, evicted, overflow atomic.Uint64
}

// source holds the templates of one source.
type source struct {
	name string

	// mu guards every field below and the mutable fields of the
	// templates of this source.
	mu sync.Mutex
	masker
	// cache maps a masked form to the template its message got.
	cache map[string]*template
	// groups holds the live templates by token count and first token.
	groups map[groupKey][]*template
	live   int
	// clock counts the messages of the source; a template's lastSeen is
	// read on it to find the least recently seen one.
	clock uint64
}

// groupKey is where a template sits: only templates of the same length
// and first token are compared, which keeps the comparisons few and keeps
// statements that start differently apart.
type groupKey struct {
	n     int
	first string
}

// template is a template of a source. Its fields are guarded by its
// source's lock, except id and src which never change.
type template struct {
	id       uint64
	src      *source
	tokens   []string
	count    uint64
	lastSeen uint64
	// into is the template this one was merged into, or nil.
	into *template
	// gone is set when the template is evicted.
	gone bool
}

// New returns a Miner with cfg, which must be valid.
func New(cfg Config) (*Miner, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &Miner{
		cfg:     cfg,
		sources: make(map[string]*source),
		byID:    make(map[uint64]*template),
	}, nil
}

// Add mines message of source and returns the id of its template, and
// whether the message started that template. The id of a template does not
// change as it generalises; after a merge, it is the id of the template
// merged into (see Resolve for the ids handed out before).
func (m *Miner) Add(sourceName, message string) (id uint64, isNew bool) {
	s := m.source(sourceName)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.clock++
	s.mask(message, m.cfg.MaxTokens)
	if t, ok := s.cache[string(s.key)]; ok {
		t = live(t)
		if !t.gone {
			t.count++
			t.lastSeen = s.clock
			return t.id, false
		}
		delete(s.cache, string(s.key))
	}
	return m.addSlow(s)
}

// live follows the merges of t to the template that holds its messages.
func live(t *template) *template {
	for t.into != nil {
		t = t.into
	}
	return t
}

// source returns the state of name, made on first use.
func (m *Miner) source(name string) *source {
	m.mu.RLock()
	s, ok := m.sources[name]
	m.mu.RUnlock()
	if ok {
		return s
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if s, ok := m.sources[name]; ok {
		return s
	}
	if len(m.sources) >= m.cfg.MaxSources {
		m.overflow.Add(1)
		name = OverflowSource
		if s, ok := m.sources[name]; ok {
			return s
		}
	}
	s = newSource(name)
	m.sources[name] = s
	return s
}

func newSource(name string) *source {
	return &source{
		name:   name,
		cache:  make(map[string]*template),
		groups: make(map[groupKey][]*template),
	}
}

// addSlow places the masked message in s.key among the templates of s. It
// allocates: it runs once per distinct masked form (up to cache resets).
func (m *Miner) addSlow(s *source) (uint64, bool) {
	key := string(s.key)
	tokens := make([]string, len(s.ends))
	start := 0
	for i, end := range s.ends {
		tokens[i] = key[start:end]
		start = end + 1
	}
	g := groupKey{n: len(tokens)}
	if len(tokens) > 0 {
		g.first = tokens[0]
	}

	best, bestScore := (*template)(nil), -1.0
	for _, t := range s.groups[g] {
		score := similarity(t.tokens, tokens)
		if score > bestScore {
			best, bestScore = t, score
		}
	}
	isNew := false
	if best != nil && bestScore >= m.cfg.Similarity {
		generalise(best, tokens)
	} else {
		best = m.create(s, g, tokens)
		isNew = true
	}
	best.count++
	best.lastSeen = s.clock
	if len(s.cache) >= m.cfg.CacheSize {
		clear(s.cache)
	}
	s.cache[key] = best
	return best.id, isNew
}

// similarity is the share of the positions of a message where a template
// has the same token or a wildcard. Counting the wildcards lets a message
// join a template whose variable positions are known; the threshold still
// requires the literal positions to mostly agree.
func similarity(tmpl, msg []string) float64 {
	if len(tmpl) == 0 {
		return 1
	}
	same := 0
	for i, tok := range tmpl {
		if tok == msg[i] || tok == Wildcard {
			same++
		}
	}
	return float64(same) / float64(len(tmpl))
}

// generalise makes the positions where t and msg differ wildcards.
func generalise(t *template, msg []string) {
	for i, tok := range t.tokens {
		if tok != msg[i] && tok != Wildcard {
			t.tokens[i] = Wildcard
		}
	}
}

// create starts a template of tokens in group g of s, dropping the least
// recently seen template of s first if s is full.
func (m *Miner) create(s *source, g groupKey, tokens []string) *template {
	if s.live >= m.cfg.MaxTemplates {
		m.evictOldest(s)
	}
	m.mu.Lock()
	m.nextID++
	t := &template{id: m.nextID, src: s, tokens: tokens}
	m.byID[t.id] = t
	m.mu.Unlock()
	s.groups[g] = append(s.groups[g], t)
	s.live++
	m.created.Add(1)
	return t
}

// evictOldest drops the least recently seen template of s. Its id is
// forgotten; the cache entries that point to it are dropped when next hit.
func (m *Miner) evictOldest(s *source) {
	var oldest *template
	var og groupKey
	for g, ts := range s.groups {
		for _, t := range ts {
			if oldest == nil || t.lastSeen < oldest.lastSeen {
				oldest, og = t, g
			}
		}
	}
	if oldest == nil {
		return
	}
	s.removeFromGroup(og, oldest)
	oldest.gone = true
	m.mu.Lock()
	delete(m.byID, oldest.id)
	// The aliases of merged templates point to the evicted one: forget
	// them too, so that byID holds no template of a bounded source forever.
	for id, t := range m.byID {
		if t.src == s && t.into != nil && live(t) == oldest {
			delete(m.byID, id)
		}
	}
	m.mu.Unlock()
	m.evicted.Add(1)
}

// removeFromGroup takes t out of group g.
func (s *source) removeFromGroup(g groupKey, t *template) {
	ts := s.groups[g]
	if i := slices.Index(ts, t); i >= 0 {
		ts = slices.Delete(ts, i, i+1)
	}
	if len(ts) == 0 {
		delete(s.groups, g)
	} else {
		s.groups[g] = ts
	}
	s.live--
}

// Resolve returns the id of the live template that holds the messages
// given id: id itself, or the template it was merged into. It reports
// false for an id never handed out or evicted.
func (m *Miner) Resolve(id uint64) (uint64, bool) {
	m.mu.RLock()
	t, ok := m.byID[id]
	m.mu.RUnlock()
	if !ok {
		return 0, false
	}
	t.src.mu.Lock()
	defer t.src.mu.Unlock()
	t = live(t)
	if t.gone {
		return 0, false
	}
	return t.id, true
}

// Template returns the template of id, following merges: the template of
// a merged id is the one it was merged into.
func (m *Miner) Template(id uint64) (Template, bool) {
	m.mu.RLock()
	t, ok := m.byID[id]
	m.mu.RUnlock()
	if !ok {
		return Template{}, false
	}
	t.src.mu.Lock()
	defer t.src.mu.Unlock()
	t = live(t)
	if t.gone {
		return Template{}, false
	}
	return t.export(), true
}

// export copies t for a caller; the source's lock is held.
func (t *template) export() Template {
	return Template{ID: t.id, Source: t.src.name, Text: strings.Join(t.tokens, " "), Count: t.count}
}

// Templates returns the live templates of source, most frequent first.
func (m *Miner) Templates(sourceName string) []Template {
	m.mu.RLock()
	s, ok := m.sources[sourceName]
	m.mu.RUnlock()
	if !ok {
		return nil
	}
	s.mu.Lock()
	var out []Template
	for _, ts := range s.groups {
		for _, t := range ts {
			out = append(out, t.export())
		}
	}
	s.mu.Unlock()
	slices.SortFunc(out, func(a, b Template) int {
		if a.Count != b.Count {
			if a.Count > b.Count {
				return -1
			}
			return 1
		}
		return int(a.ID) - int(b.ID)
	})
	return out
}

// Stats returns the counters of m.
func (m *Miner) Stats() Stats {
	m.mu.RLock()
	srcs := make([]*source, 0, len(m.sources))
	for _, s := range m.sources {
		srcs = append(srcs, s)
	}
	m.mu.RUnlock()
	st := Stats{
		Sources:  len(srcs),
		Created:  m.created.Load(),
		Merged:   m.merged.Load(),
		Evicted:  m.evicted.Load(),
		Overflow: m.overflow.Load(),
	}
	for _, s := range srcs {
		s.mu.Lock()
		st.Templates += s.live
		s.mu.Unlock()
	}
	return st
}
