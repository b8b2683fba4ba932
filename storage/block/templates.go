package block

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"slices"

	"github.com/logengine/logengine/storage/logs"
)

// maxHeaderTemplates bounds the templates a header counts; a block of more
// (rare: templates are statements of programs) has no counts, and counting
// by template decodes it.
const maxHeaderTemplates = 1024

// TemplateLevel is what a header keeps of one template and one level: the
// entries of the block with both, and the first and last of their times.
type TemplateLevel struct {
	Level       logs.Level
	Count       int
	First, Last int64 // nanoseconds since the epoch
}

// The template counts section (after the per-source counts): uvarint n+1
// (0: not kept), then per template, by ascending id, in version 3: uvarint
// id minus the previous template's (the first's minus zero), a byte of the
// levels present (bit i: logs.Levels[i]), and per level present: uvarint
// count, the first time as an offset from the block's first time, and,
// when count > 1, the last time minus the first (one entry has one time).
//
// Version 2 wrote the id itself and both times as offsets from the block's
// first time. Most templates of a block of many sources count one or two
// entries, so that the second time was a third of the section, and the
// ids took a byte more than their differences: version 3 takes a third off
// the section (7.6 to 5.1 bytes per entry on the side-by-side load). Both
// read; denseTemplates says which form a header's section is in.

// setTemplateLevels keeps the per-template counts of a block whose entries
// have the template ids templates (nil: none).
func (h *Header) setTemplateLevels(entries []logs.Entry, templates []uint32) {
	// One stat per template and level, found by a key of both: a template
	// is the statement of a program and almost always has one level, and a
	// block of a commit mixing many sources holds hundreds of templates, so
	// that a stat per template with room for every level, each its own
	// allocation, cost more than the rest of the header.
	type stat struct {
		count       int
		first, last int64
	}
	var stats []stat
	var at map[uint64]int32 // id<<3 | level index → index in stats
	lastKey, last := ^uint64(0), 0
	for i, id := range templates {
		if id == 0 {
			continue
		}
		l, t := levelIndex(entries[i].Level), entries[i].ID.Nanos
		key := uint64(id)<<3 | uint64(l)
		if key != lastKey {
			if at == nil {
				at = make(map[uint64]int32)
			}
			j, ok := at[key]
			if !ok {
				j = int32(len(stats))
				at[key] = j
				stats = append(stats, stat{first: t, last: t})
			}
			lastKey, last = key, int(j)
		}
		s := &stats[last]
		s.count++
		s.first, s.last = min(s.first, t), max(s.last, t)
	}
	// By id, then level: each key above its stat's index, so that plain
	// integers sort. Keys take 35 bits; there are fewer than 1<<29 stats.
	order := make([]uint64, 0, len(stats))
	for key, j := range at {
		order = append(order, key<<29|uint64(j))
	}
	slices.Sort(order)
	ids := 0
	for i, o := range order {
		if i == 0 || o>>32 != order[i-1]>>32 {
			ids++
		}
	}
	if ids > maxHeaderTemplates {
		h.templateLevels = binary.AppendUvarint(nil, 0) // too many to keep
		h.denseTemplates = true
		return
	}
	b := binary.AppendUvarint(nil, uint64(ids)+1)
	prevID := uint64(0)
	for i := 0; i < len(order); {
		id := order[i] >> 32
		var mask byte
		j := i
		for ; j < len(order) && order[j]>>32 == id; j++ {
			mask |= 1 << (order[j] >> 29 & 7)
		}
		b = binary.AppendUvarint(b, id-prevID)
		prevID = id
		b = append(b, mask)
		for ; i < j; i++ {
			s := &stats[order[i]&(1<<29-1)]
			b = binary.AppendUvarint(b, uint64(s.count))
			b = binary.AppendUvarint(b, uint64(s.first-h.MinID.Nanos))
			if s.count > 1 {
				b = binary.AppendUvarint(b, uint64(s.last-s.first))
			}
		}
	}
	h.templateLevels, h.denseTemplates = b, true
}

// templateCursor reads the entries of a template counts section of either
// form, unchecked: readTemplateLevels checks a section before any other
// reading of it.
type templateCursor struct {
	r     *reader
	dense bool
	id    uint64
}

// nextID reads a template's id and its levels present.
func (c *templateCursor) nextID() (id uint64, mask byte) {
	v := c.r.uvarint()
	if c.dense {
		// An id over 32 bits fails the check whatever the addition gives,
		// as long as it does not wrap.
		c.id += min(v, 1<<33)
	} else {
		c.id = v
	}
	return c.id, c.r.byte()
}

// nextLevel reads the count and the times (offsets from the block's first
// time) of one level of the current template.
func (c *templateCursor) nextLevel(maxCount int) (count int, first, last uint64) {
	count = c.r.count(maxCount)
	first = c.r.uvarint()
	if !c.dense {
		return count, first, c.r.uvarint()
	}
	if count <= 1 {
		return count, first, first
	}
	return count, first, first + min(c.r.uvarint(), 1<<63)
}

// readTemplateLevels reads and checks the template counts section and
// returns it marshalled (aliasing r's input), nil when not kept.
func readTemplateLevels(r *reader, dense bool, count int, levels [6]int, span int64) []byte {
	start := r.b
	n := r.count(maxHeaderTemplates + 1)
	if n == 0 || r.err != nil {
		return nil
	}
	var sum [6]int
	prev := uint64(0)
	cur := templateCursor{r: r, dense: dense}
	for i := 0; i < n-1 && r.err == nil; i++ {
		id, mask := cur.nextID()
		if id <= prev || id > 1<<32-1 {
			r.fail("template counts: ids not ascending 32-bit numbers")
		}
		prev = id
		if mask == 0 || mask >= 1<<6 {
			r.fail("template counts: bad level set")
		}
		for l := range 6 {
			if mask&(1<<l) == 0 {
				continue
			}
			c, first, last := cur.nextLevel(count)
			if c == 0 || first > last || last > uint64(span) {
				r.fail("template counts: bad count or times")
			}
			sum[l] += c
		}
	}
	for l := range sum {
		if r.err == nil && sum[l] > levels[l] {
			r.fail("template counts over the level counts")
		}
	}
	if r.err != nil {
		return nil
	}
	return start[:len(start)-r.len()]
}

// EachTemplateLevel calls fn with each template id of the block and what
// the header keeps of it per level, and reports whether the header keeps
// template counts: they let a count by template over whole blocks read no
// body. Entries without a template are the level counts less these.
func (h *Header) EachTemplateLevel(fn func(id uint32, tl TemplateLevel)) bool {
	// Checked when used, as EachSourceLevels does.
	if h.templateLevels == nil || readTemplateLevels(&reader{b: h.templateLevels}, h.denseTemplates, h.Count, h.Levels, h.MaxID.Nanos-h.MinID.Nanos) == nil {
		return false
	}
	r := reader{b: h.templateLevels}
	n := r.count(maxHeaderTemplates + 1)
	if n == 0 {
		return false
	}
	cur := templateCursor{r: &r, dense: h.denseTemplates}
	for i := 0; i < n-1 && r.err == nil; i++ {
		id, mask := cur.nextID()
		for l := range 6 {
			if mask&(1<<l) == 0 {
				continue
			}
			c, first, last := cur.nextLevel(h.Count)
			if r.err == nil {
				fn(uint32(id), TemplateLevel{Level: logs.Levels[l], Count: c, First: h.MinID.Nanos + int64(first), Last: h.MinID.Nanos + int64(last)})
			}
		}
	}
	return true
}

// TemplateLevelsSize is the size of h's template counts section in bytes.
func (h *Header) TemplateLevelsSize() int { return len(h.templateLevels) }

// TakeTemplateLevels removes the template counts section from h and returns
// it (nil when h has none), for a store that keeps it apart from the
// header: a block of many sources and templates counts a few kilobytes of
// them, which every scan that reads headers would otherwise read too. Give
// it back to EachTemplateLevelOf as apart.
func (h *Header) TakeTemplateLevels() []byte {
	b := h.templateLevels
	h.templateLevels = nil // denseTemplates stays: it says the form of b too
	return b
}

// EachTemplateLevelOf is EachTemplateLevel on a marshalled header, reading
// only what precedes the columns; the section is checked before fn sees
// any of it. It returns the block's level counts too. apart is the
// section taken from the header (TakeTemplateLevels), nil when the header
// keeps it or the block has none.
func EachTemplateLevelOf(b, apart []byte, fn func(id uint32, tl TemplateLevel)) (levels [6]int, ok bool, err error) {
	r := reader{b: b}
	version := r.byte()
	if r.err == nil && !knownVersion(version) {
		return levels, false, fmt.Errorf("block header: unknown version %d", version)
	}
	var h Header
	h.Count = r.count(MaxEntries)
	h.MinID.Nanos = int64(r.uvarint())
	h.MinID.Seq = r.uvarint()
	span := r.uvarint()
	r.uvarint() // the last sequence
	h.MaxID.Nanos = h.MinID.Nanos + int64(span)
	for i := range h.Levels {
		h.Levels[i] = r.count(MaxEntries)
	}
	for n := r.count(r.len()); n > 0 && r.err == nil; n-- {
		r.bytes(r.count(r.len())) // a tag
	}
	if r.err != nil {
		return levels, false, fmt.Errorf("block header: %w", r.err)
	}
	if version < 2 {
		return h.Levels, false, nil
	}
	_, section := readSections(&r)
	if r.err != nil {
		return levels, false, fmt.Errorf("block header: %w", r.err)
	}
	switch {
	case section != nil && apart != nil:
		return levels, false, fmt.Errorf("block header: %w: template counts both in the header and apart", ErrCorrupt)
	case section == nil:
		section = apart
	}
	h.denseTemplates = version >= 3
	if section != nil && readTemplateLevels(&reader{b: section}, h.denseTemplates, h.Count, h.Levels, int64(span)) == nil {
		if bytes.Equal(section, []byte{0}) {
			return h.Levels, false, nil // more templates than a header counts
		}
		return levels, false, fmt.Errorf("block header: %w: template counts", ErrCorrupt)
	}
	h.templateLevels = section
	return h.Levels, h.EachTemplateLevel(fn), nil
}
