package patterns

import (
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
)

// The state is versioned by its first bytes, so that a later layout can
// still read this one.
const stateMagic = "PTN1"

// MarshalBinary encodes the templates of every source, with their ids,
// counts and the aliases of merged ids, for the caller to store. Each
// source is encoded consistently; Adds to other sources may go on.
func (m *Miner) MarshalBinary() ([]byte, error) {
	m.mu.RLock()
	names := make([]string, 0, len(m.sources))
	for name := range m.sources {
		names = append(names, name)
	}
	m.mu.RUnlock()
	slices.Sort(names)

	var body []byte
	body = binary.AppendUvarint(body, uint64(len(names)))
	for _, name := range names {
		m.mu.RLock()
		s := m.sources[name]
		m.mu.RUnlock()
		s.mu.Lock()
		body = s.appendState(body)
		s.mu.Unlock()
	}
	// Read last, nextID is above every id encoded.
	m.mu.RLock()
	next := m.nextID
	m.mu.RUnlock()

	out := append([]byte(stateMagic), binary.AppendUvarint(nil, next)...)
	return append(out, body...), nil
}

// appendState encodes s; its lock is held.
func (s *source) appendState(b []byte) []byte {
	b = appendString(b, s.name)
	b = binary.AppendUvarint(b, s.clock)
	var clusters []*cluster
	for _, cs := range s.groups {
		clusters = append(clusters, cs...)
	}
	// Clusters in the order of their oldest template, so that the same
	// state always encodes the same and is rebuilt in the same order.
	slices.SortFunc(clusters, func(a, b *cluster) int { return cmp.Compare(a.minID(), b.minID()) })
	b = binary.AppendUvarint(b, uint64(len(clusters)))
	for _, c := range clusters {
		b = binary.AppendUvarint(b, uint64(len(c.tokens)))
		for i, tok := range c.tokens {
			b = appendString(b, tok)
			b = binary.AppendUvarint(b, uint64(len(c.values[i])))
			for _, v := range c.values[i] {
				b = appendString(b, v)
			}
		}
		kids := c.sortedChildren()
		b = binary.AppendUvarint(b, uint64(len(kids)))
		for _, t := range kids {
			b = binary.AppendUvarint(b, t.id)
			b = binary.AppendUvarint(b, t.count)
			b = binary.AppendUvarint(b, t.lastSeen)
			for _, tok := range t.tokens {
				b = appendString(b, tok)
			}
		}
	}
	b = binary.AppendUvarint(b, uint64(len(s.merged)))
	for _, t := range s.merged {
		b = binary.AppendUvarint(b, t.id)
		b = binary.AppendUvarint(b, live(t).id)
	}
	return b
}

// minID is the id of the oldest template of c.
func (c *cluster) minID() uint64 {
	var id uint64
	for _, t := range c.children {
		if id == 0 || t.id < id {
			id = t.id
		}
	}
	return id
}

// sortedChildren returns the templates of c, oldest first.
func (c *cluster) sortedChildren() []*template {
	kids := make([]*template, 0, len(c.children))
	for _, t := range c.children {
		kids = append(kids, t)
	}
	slices.SortFunc(kids, func(a, b *template) int { return cmp.Compare(a.id, b.id) })
	return kids
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// UnmarshalBinary replaces the templates of m with a state made by
// MarshalBinary. The counters of Stats start over. m must not be in use.
func (m *Miner) UnmarshalBinary(data []byte) error {
	if len(data) < len(stateMagic) || string(data[:len(stateMagic)]) != stateMagic {
		return errors.New("patterns: decode state: not a template state")
	}
	d := decoder{b: data[len(stateMagic):]}
	next := d.uvarint()
	nSources := d.count()
	sources := make(map[string]*source, nSources)
	byID := make(map[uint64]*template)
	for range nSources {
		if d.err != nil {
			break
		}
		s := newSource(d.string())
		s.clock = d.uvarint()
		if err := d.source(s, byID, next); err != nil {
			return fmt.Errorf("patterns: decode state of source %q: %w", s.name, err)
		}
		sources[s.name] = s
	}
	if d.err == nil && len(d.b) != 0 {
		d.err = errors.New("trailing bytes")
	}
	if d.err != nil {
		return fmt.Errorf("patterns: decode state: %w", d.err)
	}
	m.mu.Lock()
	m.sources, m.byID, m.nextID = sources, byID, next
	m.mu.Unlock()
	m.created.Store(0)
	m.merged.Store(0)
	m.evicted.Store(0)
	m.overflow.Store(0)
	return nil
}

// source decodes the clusters, templates and aliases of s into it and
// byID; every id must be below next and appear once.
func (d *decoder) source(s *source, byID map[uint64]*template, next uint64) error {
	addID := func(t *template) error {
		if t.id == 0 || t.id > next {
			return fmt.Errorf("template id %d out of range", t.id)
		}
		if _, dup := byID[t.id]; dup {
			return fmt.Errorf("template id %d twice", t.id)
		}
		byID[t.id] = t
		return nil
	}
	nClusters := d.count()
	for range nClusters {
		n := d.count()
		c := &cluster{tokens: make([]string, n), values: make([][]string, n), children: make(map[string]*template)}
		for i := range n {
			c.tokens[i] = d.string()
			if nv := d.count(); nv > 0 {
				c.values[i] = make([]string, nv)
				for j := range nv {
					c.values[i][j] = d.string()
				}
			}
		}
		c.key = groupKey{n: n}
		if n > 0 {
			c.key.first = c.tokens[0]
		}
		nKids := d.count()
		for range nKids {
			t := &template{id: d.uvarint(), src: s, cluster: c, count: d.uvarint(), lastSeen: d.uvarint()}
			t.tokens = make([]string, n)
			for i := range n {
				t.tokens[i] = d.string()
			}
			if d.err != nil {
				return d.err
			}
			if err := addID(t); err != nil {
				return err
			}
			c.children[c.childKey(t.tokens)] = t
			s.live++
		}
		if d.err != nil {
			return d.err
		}
		if len(c.children) > 0 {
			s.groups[c.key] = append(s.groups[c.key], c)
		}
	}
	nMerged := d.count()
	for range nMerged {
		id, into := d.uvarint(), d.uvarint()
		if d.err != nil {
			return d.err
		}
		target, ok := byID[into]
		if !ok || target.src != s || target.into != nil {
			return fmt.Errorf("alias %d of unknown template %d", id, into)
		}
		t := &template{id: id, src: s, into: target}
		if err := addID(t); err != nil {
			return err
		}
		s.merged = append(s.merged, t)
	}
	return d.err
}

// decoder reads the encoding of MarshalBinary; its first error sticks.
type decoder struct {
	b   []byte
	err error
}

func (d *decoder) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.err = errors.New("truncated number")
		return 0
	}
	d.b = d.b[n:]
	return v
}

// count reads a length, bounded by the bytes left so that a corrupt
// state cannot make a huge allocation (every counted item takes a byte).
func (d *decoder) count() int {
	v := d.uvarint()
	if v > uint64(len(d.b)) {
		if d.err == nil {
			d.err = fmt.Errorf("count %d exceeds the %d bytes left", v, len(d.b))
		}
		return 0
	}
	return int(v)
}

func (d *decoder) string() string {
	n := d.count()
	if d.err != nil {
		return ""
	}
	s := string(d.b[:n])
	d.b = d.b[n:]
	return s
}
