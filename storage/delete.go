package storage

import (
	"context"
	"encoding/binary"
	"fmt"

	"github.com/dgraph-io/badger/v4"
)

// DeleteSource deletes the entries of one source whose IDs fall in
// [lo, hi) — per-source retention inside days that retention keeps — and
// removes them from every posting list of their days, so that counts taken
// from the indexes stay exact. It returns the deleted IDs (for the keyword
// index). Appends may go on meanwhile: they write new keys only.
func (s *Store) DeleteSource(ctx context.Context, source string, lo, hi ID) ([]ID, error) {
	ids, err := s.Postings(ctx, IndexValue{Kind: IndexSource, Value: source}, lo, hi)
	if err != nil || len(ids) == 0 {
		return nil, err
	}
	byDay := map[Day]map[uint64]bool{}
	for _, id := range ids {
		d := DayOf(id.Nanos)
		if byDay[d] == nil {
			byDay[d] = map[uint64]bool{}
		}
		byDay[d][id.Seq] = true
	}
	wb := s.db.NewWriteBatch()
	defer wb.Cancel()
	for _, id := range ids {
		if err := wb.Delete(entryKey(id)); err != nil {
			return nil, fmt.Errorf("delete source %s: %w", source, err)
		}
	}
	type rewrite struct {
		key []byte
		ids []ID
	}
	for day, gone := range byDay {
		var todo []rewrite
		err := s.db.View(func(txn *badger.Txn) error {
			return iterate(ctx, txn, postingDayPrefix(day), func(k, v []byte) error {
				first := binary.BigEndian.Uint64(k[len(k)-8:])
				list, err := decodePostings(nil, v, first, MinID, MaxID)
				if err != nil {
					return err
				}
				kept := list[:0]
				for _, id := range list {
					if !gone[id.Seq] {
						kept = append(kept, id)
					}
				}
				if len(kept) < len(list) {
					todo = append(todo, rewrite{key: append([]byte(nil), k...), ids: kept})
				}
				return nil
			})
		})
		if err != nil {
			return nil, fmt.Errorf("delete source %s on %s: %w", source, day, err)
		}
		for _, r := range todo {
			first := binary.BigEndian.Uint64(r.key[len(r.key)-8:])
			if len(r.ids) == 0 {
				err = wb.Delete(r.key)
			} else {
				err = wb.Set(r.key, encodePostings(r.ids, first))
			}
			if err != nil {
				return nil, fmt.Errorf("delete source %s on %s: %w", source, day, err)
			}
		}
	}
	if err := wb.Flush(); err != nil {
		return nil, fmt.Errorf("delete source %s: %w", source, wrapWriteErr("write", err))
	}
	return ids, nil
}
