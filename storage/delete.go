package storage

import (
	"context"
	"encoding/binary"
	"fmt"
	"slices"
	"time"

	"github.com/dgraph-io/badger/v4"
)

// DeleteSource deletes the entries of one source whose IDs fall in
// [lo, hi) — per-source retention inside days that retention keeps — and
// removes them from every posting list of their days, so that counts taken
// from the indexes stay exact. It returns the deleted IDs. Appends may go
// on meanwhile: they write new keys only.
//
// Before deleting anything it records the IDs as tombstones, which stay
// until ReleaseTombstones: whoever mirrors entries outside storage (the
// keyword index) reads them with Tombstones and removes its copies, and a
// crash in between cannot leave those copies behind. Open finishes a
// deletion a crash interrupted.
func (s *Store) DeleteSource(ctx context.Context, source string, lo, hi ID) ([]ID, error) {
	ids, err := s.Postings(ctx, IndexValue{Kind: IndexSource, Value: source}, lo, hi)
	if err != nil || len(ids) == 0 {
		return nil, err
	}
	if err := s.writeTombstones(ids); err != nil {
		return nil, fmt.Errorf("delete source %s: %w", source, err)
	}
	if err := s.deleteIDs(ctx, ids); err != nil {
		return nil, fmt.Errorf("delete source %s: %w", source, err)
	}
	return ids, nil
}

// deleteIDs deletes the entries ids and removes them from the posting
// lists of their days. Deleting an entry that is already gone is not an
// error, so a deletion can be done again after a crash.
func (s *Store) deleteIDs(ctx context.Context, ids []ID) error {
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
			return err
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
			return fmt.Errorf("%s: %w", day, err)
		}
		for _, r := range todo {
			first := binary.BigEndian.Uint64(r.key[len(r.key)-8:])
			if len(r.ids) == 0 {
				err = wb.Delete(r.key)
			} else {
				err = wb.Set(r.key, encodePostings(r.ids, first))
			}
			if err != nil {
				return fmt.Errorf("%s: %w", day, err)
			}
		}
	}
	if err := wb.Flush(); err != nil {
		return wrapWriteErr("write", err)
	}
	return nil
}

// tombstonesPerKey bounds one tombstone record to 1 MiB of IDs, well
// inside one Badger transaction.
const tombstonesPerKey = 1 << 16

// Tombstones are entry IDs deleted from storage that copies elsewhere may
// still hold.
type Tombstones struct {
	IDs  []ID // ascending, without duplicates
	keys [][]byte
}

// writeTombstones records ids durably, in records of tombstonesPerKey.
func (s *Store) writeTombstones(ids []ID) error {
	s.tombMu.Lock()
	stamp := max(time.Now().UnixNano(), s.tombLast+1)
	s.tombLast = stamp
	s.tombMu.Unlock()
	for part := 0; part*tombstonesPerKey < len(ids); part++ {
		chunk := ids[part*tombstonesPerKey : min((part+1)*tombstonesPerKey, len(ids))]
		v := make([]byte, 0, 16*len(chunk))
		for _, id := range chunk {
			b := id.Bytes()
			v = append(v, b[:]...)
		}
		err := s.db.Update(func(txn *badger.Txn) error { return txn.Set(tombstoneKey(stamp, part), v) })
		if err != nil {
			return fmt.Errorf("write tombstones: %w", wrapWriteErr("write", err))
		}
	}
	return nil
}

// Tombstones returns the IDs deleted by DeleteSource and not yet released.
func (s *Store) Tombstones(ctx context.Context) (Tombstones, error) {
	if s.closed.Load() {
		return Tombstones{}, ErrClosed
	}
	var t Tombstones
	err := s.db.View(func(txn *badger.Txn) error {
		return iterate(ctx, txn, []byte{nsTombstone}, func(k, v []byte) error {
			if len(v)%16 != 0 {
				return fmt.Errorf("tombstone record %x: %d bytes is not a whole number of ids", k, len(v))
			}
			for i := 0; i < len(v); i += 16 {
				t.IDs = append(t.IDs, IDFromBytes(v[i:i+16]))
			}
			t.keys = append(t.keys, append([]byte(nil), k...))
			return nil
		})
	})
	if err != nil {
		return Tombstones{}, fmt.Errorf("read tombstones: %w", err)
	}
	slices.SortFunc(t.IDs, ID.Compare)
	t.IDs = slices.Compact(t.IDs)
	return t, nil
}

// ReleaseTombstones removes the records t was read from, once the copies
// of its IDs are gone. Records written since are kept.
func (s *Store) ReleaseTombstones(t Tombstones) error {
	if len(t.keys) == 0 {
		return nil
	}
	wb := s.db.NewWriteBatch()
	defer wb.Cancel()
	for _, k := range t.keys {
		if err := wb.Delete(k); err != nil {
			return fmt.Errorf("release tombstones: %w", err)
		}
	}
	if err := wb.Flush(); err != nil {
		return fmt.Errorf("release tombstones: %w", wrapWriteErr("write", err))
	}
	return nil
}

// redoDeletes finishes the deletions whose tombstones are still recorded:
// a crash may have come between writing them and deleting the entries.
// Doing a deletion again is harmless.
func (s *Store) redoDeletes(ctx context.Context) error {
	t, err := s.Tombstones(ctx)
	if err != nil || len(t.IDs) == 0 {
		return err
	}
	if err := s.deleteIDs(ctx, t.IDs); err != nil {
		return fmt.Errorf("finish an interrupted deletion of %d entries: %w", len(t.IDs), err)
	}
	return nil
}
