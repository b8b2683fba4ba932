// Package patterns mines message templates from logs: "Invalid user <*>
// from <*>" for the thousands of lines that differ in a user name and an
// address. It answers which statement of a program wrote a log, so that
// logs can be counted and filtered by it, and new ones noticed.
//
// A Miner keeps the templates of each source apart. A message is first
// masked: each part of a token that looks like a value (it holds a digit,
// is a dotted name, a path, a date's name, a unit after a number, a long
// hex string or the quoted value of a key) becomes the wildcard <*>, and a
// run of values becomes one. A message whose masked form was seen before
// gets the template it got then, through a map, without allocating.
//
// Any other is compared with the clusters of the same length and first
// token, as Drain (He et al., ICWS 2017) does: it joins the most similar
// one if at least Config.Similarity of its tokens agree; otherwise it
// starts a cluster of its own. Where the tokens of a cluster differ, Drain
// makes a wildcard at once. Here a position that holds a few different
// words (start/stop, true/false, a state) is pinned: each combination of
// its words is a template of its own, since most logs word such values
// into their text. Once a position has held Config.Variants words, or a
// value, it is freed: a wildcard, and the templates that differed only
// there are merged. On the Loghub samples this lifts the grouping
// accuracy from Drain's 0.90 (tuned per system) to 0.98 with one
// configuration.
//
// Ids are stable: a template keeps its id when it generalises, a repeated
// message keeps its id (unless its template was evicted), and
// MarshalBinary saves them across restarts. When templates merge, the
// oldest keeps its id and the others' become aliases, which Resolve and
// Template follow. Each source holds at most Config.MaxTemplates
// templates; beyond it the least recently seen one is dropped and counted
// in Stats.
package patterns

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"strconv"
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
	// Variants is how many different words a position of a template may
	// hold before it is a variable: below it, each word makes a template
	// of its own ("cupsd startup succeeded", "cupsd shutdown succeeded").
	Variants int
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
		Similarity:   0.6,
		MaxTemplates: 2000,
		MaxSources:   10000,
		MaxTokens:    128,
		Variants:     4,
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
	case c.Variants < 2:
		return errors.New("patterns: variants must be at least 2")
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

	// mu guards every field below, the clusters of this source and the
	// mutable fields of its templates.
	mu sync.Mutex
	masker
	// cache maps a masked form to the template its message got.
	cache map[string]*template
	// groups holds the clusters by token count and first token.
	groups map[groupKey][]*cluster
	// live counts the templates of the source that are neither merged
	// nor evicted.
	live int
	// clock counts the messages of the source; a template's lastSeen is
	// read on it to find the least recently seen one.
	clock uint64
	// merged holds the templates merged into another, whose ids are
	// aliases to keep across restarts.
	merged []*template
}

// groupKey is where a cluster sits: only clusters of the same length
// and first token are compared, which keeps the comparisons few and keeps
// statements that start differently apart.
type groupKey struct {
	n     int
	first string
}

// cluster is the messages of a group similar enough to come from one
// statement of a program. Each position of its tokens is
//   - literal: every message had the same token there;
//   - pinned: messages had a few different words there (values holds
//     them), such as start/stop, true/false or a state name. These are
//     part of what a log says: each combination of them is a template of
//     its own;
//   - free (the token is Wildcard): it holds a value, masked or not, or
//     more than Config.Variants different words.
//
// Freeing a position merges the templates that differed only there.
type cluster struct {
	key    groupKey
	tokens []string
	values [][]string
	// children maps the words of a message at the pinned positions
	// (see childKey) to their template.
	children map[string]*template
}

// template is a template of a source: a cluster's tokens with the words
// of its pinned positions filled in. Its fields are guarded by its
// source's lock, except id and src which never change.
type template struct {
	id       uint64
	src      *source
	cluster  *cluster
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
// change as it generalises; a repeated message gets the same id. When
// templates merge, the messages of each get the id of the oldest (see
// Resolve for the ids handed out before).
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
		groups: make(map[groupKey][]*cluster),
	}
}

// addSlow places the masked message in s.key among the clusters of s. It
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

	var best *cluster
	bestScore := -1.0
	for _, c := range s.groups[g] {
		if score := c.similarity(tokens); score > bestScore {
			best, bestScore = c, score
		}
	}
	if best != nil && bestScore >= m.cfg.Similarity {
		if changed := best.absorb(tokens, m.cfg.Variants); changed {
			m.rekey(s, best)
		}
	} else {
		best = &cluster{
			key:      g,
			tokens:   slices.Clone(tokens),
			values:   make([][]string, len(tokens)),
			children: make(map[string]*template),
		}
		s.groups[g] = append(s.groups[g], best)
	}

	ck := best.childKey(tokens)
	t, ok := best.children[ck]
	isNew := false
	if !ok {
		t = m.create(s, best, ck, best.childTokens(tokens))
		isNew = true
	}
	t.count++
	t.lastSeen = s.clock
	if len(s.cache) >= m.cfg.CacheSize {
		clear(s.cache)
	}
	s.cache[key] = t
	return t.id, isNew
}

// similarity is the share of the positions of a message that agree with
// c: the same literal token, one of the words of a pinned position, or a
// masked value where c is free. A free position does not agree with any
// word, so that a template made general by a few messages does not
// swallow unrelated ones of the same length.
func (c *cluster) similarity(msg []string) float64 {
	if len(c.tokens) == 0 {
		return 1
	}
	same := 0
	for i, tok := range c.tokens {
		switch {
		case c.values[i] != nil:
			if slices.Contains(c.values[i], msg[i]) {
				same++
			}
		case tok == msg[i]:
			same++
		}
	}
	return float64(same) / float64(len(c.tokens))
}

// absorb takes msg into c: a literal position where msg differs is
// pinned, a pinned position learns msg's word, and one with
// Config.Variants words is freed. It reports whether a position changed
// state, which changes the keys of the templates of c.
func (c *cluster) absorb(msg []string, variants int) bool {
	changed := false
	for i, tok := range c.tokens {
		vals := c.values[i]
		if tok == Wildcard || msg[i] == tok && vals == nil || slices.Contains(vals, msg[i]) {
			continue
		}
		changed = true
		if vals == nil {
			vals = []string{tok}
		}
		// Tokens that differ only in their masked values ("(<*>)" and
		// "()", "id=<*>" and "id=") hold a value: the position is free.
		// Those that differ in their words ("(uid=<*>)" and
		// "LOGIN(uid=<*>)") are words to pin.
		if slices.ContainsFunc(vals, func(v string) bool { return sameShape(v, msg[i]) || valueOfKey(v, msg[i]) }) {
			c.free(i)
			continue
		}
		vals = append(vals, msg[i])
		if len(vals) >= variants {
			c.free(i)
			continue
		}
		c.values[i] = vals
	}
	return changed
}

// sameShape reports whether a and b, one of them at least holding a
// wildcard, differ only where the wildcards are: one matches the other
// when a wildcard stands for any text.
func sameShape(a, b string) bool {
	if !strings.Contains(a, Wildcard) && !strings.Contains(b, Wildcard) {
		return false
	}
	return globMatch(a, b) || globMatch(b, a)
}

// valueOfKey reports whether a and b, one of them at least holding a
// wildcard, differ only in the value of a key=value.
func valueOfKey(a, b string) bool {
	if !strings.Contains(a, Wildcard) && !strings.Contains(b, Wildcard) {
		return false
	}
	n := 0
	for n < len(a) && n < len(b) && a[n] == b[n] {
		n++
	}
	return n > 1 && a[n-1] == '='
}

// globMatch reports whether s matches pattern, where each Wildcard of
// pattern matches any text, empty included.
func globMatch(pattern, s string) bool {
	parts := strings.Split(pattern, Wildcard)
	if len(parts) == 1 {
		return pattern == s
	}
	if !strings.HasPrefix(s, parts[0]) {
		return false
	}
	s = s[len(parts[0]):]
	last := parts[len(parts)-1]
	for _, p := range parts[1 : len(parts)-1] {
		j := strings.Index(s, p)
		if j < 0 {
			return false
		}
		s = s[j+len(p):]
	}
	return len(s) >= len(last) && strings.HasSuffix(s, last)
}

// free makes position i of c a wildcard.
func (c *cluster) free(i int) {
	c.tokens[i] = Wildcard
	c.values[i] = nil
}

// childKey encodes the words of msg at the pinned positions of c, each
// prefixed by its length so that no two lists encode the same.
func (c *cluster) childKey(msg []string) string {
	var b []byte
	for i, vals := range c.values {
		if vals != nil {
			b = strconv.AppendInt(b, int64(len(msg[i])), 10)
			b = append(b, ':')
			b = append(b, msg[i]...)
		}
	}
	return string(b)
}

// childTokens returns the template of msg in c: c's tokens with the words
// of msg at the pinned positions.
func (c *cluster) childTokens(msg []string) []string {
	out := slices.Clone(c.tokens)
	for i, vals := range c.values {
		if vals != nil {
			out[i] = msg[i]
		}
	}
	return out
}

// rekey brings the templates of c in line with the states of its
// positions: freed positions become wildcards, and the templates that now
// agree everywhere are merged into the oldest of them, which keeps its id.
func (m *Miner) rekey(s *source, c *cluster) {
	kids := make([]*template, 0, len(c.children))
	for _, t := range c.children {
		kids = append(kids, t)
	}
	slices.SortFunc(kids, func(a, b *template) int { return cmp.Compare(a.id, b.id) })
	clear(c.children)
	for _, t := range kids {
		for i, tok := range c.tokens {
			if tok == Wildcard {
				t.tokens[i] = Wildcard
			}
		}
		ck := c.childKey(t.tokens)
		older, ok := c.children[ck]
		if !ok {
			c.children[ck] = t
			continue
		}
		older.count += t.count
		older.lastSeen = max(older.lastSeen, t.lastSeen)
		t.into = older
		t.tokens = nil
		s.merged = append(s.merged, t)
		s.live--
		m.merged.Add(1)
	}
}

// create starts a template of tokens under key ck of c, dropping the
// least recently seen template of s first if s is full.
func (m *Miner) create(s *source, c *cluster, ck string, tokens []string) *template {
	if s.live >= m.cfg.MaxTemplates {
		m.evictOldest(s, c)
	}
	m.mu.Lock()
	m.nextID++
	t := &template{id: m.nextID, src: s, cluster: c, tokens: tokens}
	m.byID[t.id] = t
	m.mu.Unlock()
	c.children[ck] = t
	s.live++
	m.created.Add(1)
	return t
}

// evictOldest drops the least recently seen template of s, and its
// cluster if that was its last template, unless the cluster is keep (the
// one a template is about to be made in). The evicted id is forgotten; the
// cache entries that point to it are dropped when next hit.
func (m *Miner) evictOldest(s *source, keep *cluster) {
	var oldest *template
	var oldestKey string
	for _, cs := range s.groups {
		for _, c := range cs {
			for ck, t := range c.children {
				if oldest == nil || t.lastSeen < oldest.lastSeen {
					oldest, oldestKey = t, ck
				}
			}
		}
	}
	if oldest == nil {
		return
	}
	c := oldest.cluster
	delete(c.children, oldestKey)
	if len(c.children) == 0 && c != keep {
		cs := s.groups[c.key]
		if i := slices.Index(cs, c); i >= 0 {
			cs = slices.Delete(cs, i, i+1)
		}
		if len(cs) == 0 {
			delete(s.groups, c.key)
		} else {
			s.groups[c.key] = cs
		}
	}
	oldest.gone = true
	s.live--
	// The ids merged into the evicted template go with it, so that
	// nothing of a bounded source is kept forever.
	m.mu.Lock()
	delete(m.byID, oldest.id)
	s.merged = slices.DeleteFunc(s.merged, func(t *template) bool {
		if live(t) != oldest {
			return false
		}
		delete(m.byID, t.id)
		return true
	})
	m.mu.Unlock()
	m.evicted.Add(1)
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
	for _, cs := range s.groups {
		for _, c := range cs {
			for _, t := range c.children {
				out = append(out, t.export())
			}
		}
	}
	s.mu.Unlock()
	slices.SortFunc(out, func(a, b Template) int {
		if a.Count != b.Count {
			return cmp.Compare(b.Count, a.Count)
		}
		return cmp.Compare(a.ID, b.ID)
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
