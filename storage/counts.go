package storage

import (
	"context"
	"errors"
	"fmt"
	"slices"

	badger "github.com/dgraph-io/badger/v4"

	"github.com/logengine/logengine/storage/block"
)

// SourceLevels is the number of entries of one source by level, in the
// order of Levels.
type SourceLevels [6]int64

// SourceLevelCounts returns the number of entries in [lo, hi) of each
// source by level. A block wholly in range counts from its header, reading
// no body: a count by source of the errors of a day reads a few hundred
// headers instead of every entry's source. Blocks at the range's edges
// decode their IDs, levels and sources. When a block wholly in range has no
// such counts (more than 256 sources, or written by an older release) it
// returns ok false, and the caller counts another way: posting lists
// answer faster than decoding every block.
func (s *Store) SourceLevelCounts(ctx context.Context, lo, hi ID) (counts map[string]*SourceLevels, ok bool, err error) {
	counts = map[string]*SourceLevels{}
	if lo.Compare(hi) >= 0 {
		return counts, true, nil
	}
	days, err := s.Days(lo.Nanos, hi.Nanos)
	if err != nil {
		return nil, false, err
	}
	of := func(src string) *SourceLevels {
		c := counts[src]
		if c == nil {
			c = new(SourceLevels)
			counts[src] = c
		}
		return c
	}
	add := func(src []byte, levels *[6]int) {
		c := counts[string(src)] // no string allocated for a lookup
		if c == nil {
			c = of(string(src))
		}
		for i, n := range levels {
			c[i] += int64(n)
		}
	}
	ok, err = s.countBlocks(ctx, days, lo, hi, "count by source",
		func(_ *badger.Txn, r *blockRef) (bool, error) { return block.EachSourceLevelsOf(r.raw, add) },
		func(h *block.Header, body []byte, ids []ID, in []int, levels []int) error {
			sources, err := block.DecodeSources(h, body)
			if err != nil {
				return err
			}
			for _, i := range in {
				of(sources[i])[levels[i]]++
			}
			return nil
		})
	if err != nil || !ok {
		return nil, false, err
	}
	return counts, true, nil
}

// errNoCounts stops the iteration at a block without per-source counts.
var errNoCounts = errors.New("a block without per-source counts")

// countBlocks visits the blocks of days that meet [lo, hi), in one read
// transaction: whole reads a block wholly in range from its marshalled
// header (r.raw, valid only during the call) and reports false when the header keeps no counts (the visit then
// stops and countBlocks reports false); edge gets a block at the range's
// edge with its IDs decoded, the indexes of its entries in range and the
// index in Levels of each entry's level.
func (s *Store) countBlocks(ctx context.Context, days []Day, lo, hi ID, what string, whole func(txn *badger.Txn, r *blockRef) (bool, error), edge func(h *block.Header, body []byte, ids []ID, in []int, levels []int) error) (bool, error) {
	ok := true
	err := s.view(func(txn *badger.Txn) error {
		for _, day := range days {
			// The headers, and the template counts kept apart from them
			// (read by point reads that take a damaged block for none).
			for _, p := range [][]byte{headerDayPrefix(day), templatesDayPrefix(day)} {
				if err := s.checkKeys(p); err != nil {
					return fmt.Errorf("%s %s: %w", what, day, err)
				}
			}
			err := iterate(ctx, txn, headerDayPrefix(day), func(k, v []byte) error {
				r, err := decodeHeaderRecord(k, v)
				if err != nil {
					return err
				}
				switch {
				case r.maxID.Compare(lo) < 0 || r.minID.Compare(hi) >= 0:
					return nil
				case r.minID.Compare(lo) < 0 || r.maxID.Compare(hi) >= 0:
					return countEdge(txn, &r, lo, hi, edge)
				}
				has, err := whole(txn, &r)
				if err != nil {
					return fmt.Errorf("block %s/%d: %w", r.day, r.last, err)
				}
				if !has {
					ok = false
					return errNoCounts
				}
				return nil
			})
			if errors.Is(err, errNoCounts) {
				return nil
			}
			if err != nil {
				return fmt.Errorf("%s %s: %w", what, day, err)
			}
		}
		return nil
	})
	return ok, err
}

// countEdge decodes the IDs and levels of a block at a range's edge and
// hands edge the entries in [lo, hi). r.raw may be valid only during the
// call.
func countEdge(txn *badger.Txn, r *blockRef, lo, hi ID, edge func(h *block.Header, body []byte, ids []ID, in []int, levels []int) error) error {
	h, err := r.header()
	if err != nil {
		return err
	}
	return withBody(txn, r, func(body []byte) error {
		ids, err := block.DecodeIDs(h, body)
		if err != nil {
			return err
		}
		lv, err := block.DecodeLevels(h, body)
		if err != nil {
			return err
		}
		var in []int
		levels := make([]int, len(lv))
		for i, id := range ids {
			if levels[i] = slices.Index(Levels, lv[i]); levels[i] < 0 {
				return fmt.Errorf("%w: level %d", block.ErrCorrupt, lv[i])
			}
			if lo.Compare(id) <= 0 && id.Compare(hi) < 0 {
				in = append(in, i)
			}
		}
		return edge(h, body, ids, in, levels)
	})
}

// TemplateStats is what a range's blocks say of one template id, per level
// (in the order of Levels): its entries and the first and last of their
// times (nanoseconds).
type TemplateStats struct {
	Count       [6]int64
	First, Last [6]int64
}

// TemplateCounts returns the entries in [lo, hi) of each template id by
// level, with their first and last times, and the entries without one by
// level. Blocks wholly in range count from their headers, the others
// decode IDs, levels and template ids. ok is false when a block wholly in
// range keeps no template counts (an older header, or more than 1,024
// templates): the caller counts another way.
func (s *Store) TemplateCounts(ctx context.Context, lo, hi ID) (byID map[uint32]*TemplateStats, none SourceLevels, ok bool, err error) {
	byID = map[uint32]*TemplateStats{}
	if lo.Compare(hi) >= 0 {
		return byID, none, true, nil
	}
	days, err := s.Days(lo.Nanos, hi.Nanos)
	if err != nil {
		return nil, none, false, err
	}
	add := func(id uint32, l int, n, first, last int64) {
		st := byID[id]
		if st == nil {
			st = &TemplateStats{}
			byID[id] = st
		}
		if st.Count[l] == 0 || first < st.First[l] {
			st.First[l] = first
		}
		if st.Count[l] == 0 || last > st.Last[l] {
			st.Last[l] = last
		}
		st.Count[l] += n
	}
	ok, err = s.countBlocks(ctx, days, lo, hi, "count by template",
		func(txn *badger.Txn, r *blockRef) (bool, error) {
			apart, err := getOptional(txn, blockTemplatesKey(r.day, r.last))
			if err != nil {
				return false, err
			}
			var templated [6]int64
			levels, has, err := block.EachTemplateLevelOf(r.raw, apart, func(id uint32, tl block.TemplateLevel) {
				l := slices.Index(Levels, tl.Level)
				templated[l] += int64(tl.Count)
				add(id, l, int64(tl.Count), tl.First, tl.Last)
			})
			if has {
				for l := range levels {
					none[l] += int64(levels[l]) - templated[l]
				}
			}
			return has, err
		},
		func(h *block.Header, body []byte, ids []ID, in []int, levels []int) error {
			templates, err := block.DecodeTemplates(h, body)
			if err != nil {
				return err
			}
			for _, i := range in {
				if templates[i] == 0 {
					none[levels[i]]++
				} else {
					add(templates[i], levels[i], 1, ids[i].Nanos, ids[i].Nanos)
				}
			}
			return nil
		})
	if err != nil || !ok {
		return nil, none, false, err
	}
	return byID, none, true, nil
}

// getOptional returns a copy of the value of key, nil when there is none.
func getOptional(txn *badger.Txn, key []byte) ([]byte, error) {
	item, err := txn.Get(key)
	if errors.Is(err, badger.ErrKeyNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return item.ValueCopy(nil)
}
