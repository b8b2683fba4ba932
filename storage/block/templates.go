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

// The template counts section (version 2, after the per-source counts):
// uvarint n+1 (0: not kept), then per template, by ascending id: uvarint
// id, a byte of the levels present (bit i: logs.Levels[i]), and per level
// present: uvarint count, and the first and last times as offsets from the
// block's first time.

// setTemplateLevels keeps the per-template counts of a block whose entries
// have the template ids templates (nil: none).
func (h *Header) setTemplateLevels(entries []logs.Entry, templates []uint32) {
	type stat struct {
		mask        byte
		count       [6]int
		first, last [6]int64
	}
	stats := map[uint32]*stat{}
	var ids []uint32
	for i := range templates {
		id := templates[i]
		if id == 0 {
			continue
		}
		s := stats[id]
		if s == nil {
			if len(stats) == maxHeaderTemplates {
				h.templateLevels = binary.AppendUvarint(nil, 0) // too many to keep
				return
			}
			s = &stat{}
			stats[id] = s
			ids = append(ids, id)
		}
		l, t := levelIndex(entries[i].Level), entries[i].ID.Nanos
		if s.mask&(1<<l) == 0 {
			s.mask |= 1 << l
			s.first[l], s.last[l] = t, t
		}
		s.count[l]++
		s.first[l], s.last[l] = min(s.first[l], t), max(s.last[l], t)
	}
	slices.Sort(ids)
	b := binary.AppendUvarint(nil, uint64(len(ids))+1)
	for _, id := range ids {
		s := stats[id]
		b = binary.AppendUvarint(b, uint64(id))
		b = append(b, s.mask)
		for l := range 6 {
			if s.mask&(1<<l) != 0 {
				b = binary.AppendUvarint(b, uint64(s.count[l]))
				b = binary.AppendUvarint(b, uint64(s.first[l]-h.MinID.Nanos))
				b = binary.AppendUvarint(b, uint64(s.last[l]-h.MinID.Nanos))
			}
		}
	}
	h.templateLevels = b
}

// readTemplateLevels reads and checks the template counts section and
// returns it marshalled (aliasing r's input), nil when not kept.
func readTemplateLevels(r *reader, count int, levels [6]int, span int64) []byte {
	start := r.b
	n := r.count(maxHeaderTemplates + 1)
	if n == 0 || r.err != nil {
		return nil
	}
	var sum [6]int
	prev := uint64(0)
	for i := 0; i < n-1 && r.err == nil; i++ {
		id := r.uvarint()
		if id <= prev || id > 1<<32-1 {
			r.fail("template counts: ids not ascending 32-bit numbers")
		}
		prev = id
		mask := r.byte()
		if mask == 0 || mask >= 1<<6 {
			r.fail("template counts: bad level set")
		}
		for l := range 6 {
			if mask&(1<<l) == 0 {
				continue
			}
			c := r.count(count)
			first, last := r.uvarint(), r.uvarint()
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
	if h.templateLevels == nil || readTemplateLevels(&reader{b: h.templateLevels}, h.Count, h.Levels, h.MaxID.Nanos-h.MinID.Nanos) == nil {
		return false
	}
	r := reader{b: h.templateLevels}
	n := r.count(maxHeaderTemplates + 1)
	if n == 0 {
		return false
	}
	for i := 0; i < n-1 && r.err == nil; i++ {
		id := uint32(r.uvarint())
		mask := r.byte()
		for l := range 6 {
			if mask&(1<<l) == 0 {
				continue
			}
			c, first, last := r.uvarint(), r.uvarint(), r.uvarint()
			if r.err == nil {
				fn(id, TemplateLevel{Level: logs.Levels[l], Count: int(c), First: h.MinID.Nanos + int64(first), Last: h.MinID.Nanos + int64(last)})
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
	h.templateLevels = nil
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
	if r.err == nil && version != headerVersion && version != headerVersionV1 {
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
	if section != nil && readTemplateLevels(&reader{b: section}, h.Count, h.Levels, int64(span)) == nil {
		if bytes.Equal(section, []byte{0}) {
			return h.Levels, false, nil // more templates than a header counts
		}
		return levels, false, fmt.Errorf("block header: %w: template counts", ErrCorrupt)
	}
	h.templateLevels = section
	return h.Levels, h.EachTemplateLevel(fn), nil
}
