package storage

import (
	"context"
	"encoding/binary"
	"fmt"
	"math"
	"time"

	"github.com/dgraph-io/badger/v4"
)

// DeleteSource deletes the entries of one source whose IDs fall in
// [lo, hi) — per-source retention inside days that retention keeps — and
// removes them from every posting list of their days, so that counts taken
// from the indexes stay exact. It returns the deleted IDs. Appends may go
// on meanwhile: they write new keys only.
//
// Before deleting anything it records the IDs as tombstones, and marks
// them done once the deletion is complete: whoever mirrors entries outside
// storage (the keyword index) reads done tombstones with Tombstones and
// removes its copies, so a crash in between cannot leave those copies
// behind. A deletion that failed or that a crash interrupted is finished by
// the next DeleteSource or Tombstones. Deletions run one at a time.
func (s *Store) DeleteSource(ctx context.Context, source string, lo, hi ID) ([]ID, error) {
	s.delMu.Lock()
	defer s.delMu.Unlock()
	if err := s.finishDeletesLocked(ctx); err != nil {
		return nil, err
	}
	ids, err := s.Postings(ctx, IndexValue{Kind: IndexSource, Value: source}, lo, hi)
	if err != nil || len(ids) == 0 {
		return nil, err
	}
	stamp, err := s.writeTombstones(ids)
	if err != nil {
		return nil, fmt.Errorf("delete source %s: %w", source, err)
	}
	if err := s.deleteIDs(ctx, ids); err != nil {
		return nil, fmt.Errorf("delete source %s: %w", source, err)
	}
	if err := s.markDeleted(stamp); err != nil {
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

// tombstoneDone is the part number of the record that marks a deletion's
// tombstones done: the deletion in storage is complete. It sorts after the
// records of IDs of the same deletion.
const tombstoneDone = math.MaxUint32

// writeTombstones records ids durably, in records of tombstonesPerKey, as
// one pending deletion, and returns its stamp. Callers hold delMu.
func (s *Store) writeTombstones(ids []ID) (int64, error) {
	stamp := max(time.Now().UnixNano(), s.tombLast+1)
	s.tombLast = stamp
	for part := 0; part*tombstonesPerKey < len(ids); part++ {
		chunk := ids[part*tombstonesPerKey : min((part+1)*tombstonesPerKey, len(ids))]
		v := make([]byte, 0, 16*len(chunk))
		for _, id := range chunk {
			b := id.Bytes()
			v = append(v, b[:]...)
		}
		err := s.db.Update(func(txn *badger.Txn) error { return txn.Set(tombstoneKey(stamp, part), v) })
		if err != nil {
			return 0, fmt.Errorf("write tombstones: %w", wrapWriteErr("write", err))
		}
	}
	return stamp, nil
}

// markDeleted marks the deletion stamp complete in storage.
func (s *Store) markDeleted(stamp int64) error {
	err := s.db.Update(func(txn *badger.Txn) error { return txn.Set(tombstoneKey(stamp, tombstoneDone), nil) })
	if err != nil {
		return fmt.Errorf("mark tombstones done: %w", wrapWriteErr("write", err))
	}
	return nil
}

// tombstoneRecords lists the keys of the tombstone records, by deletion
// stamp, and which deletions are done.
func (s *Store) tombstoneRecords(ctx context.Context) (stamps []int64, records map[int64][][]byte, done map[int64]bool, err error) {
	records, done = map[int64][][]byte{}, map[int64]bool{}
	err = s.db.View(func(txn *badger.Txn) error {
		opts := badger.DefaultIteratorOptions
		opts.PrefetchValues = false
		opts.Prefix = []byte{nsTombstone}
		it := txn.NewIterator(opts)
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			if err := ctx.Err(); err != nil {
				return err
			}
			k := it.Item().KeyCopy(nil)
			if len(k) != 13 {
				return fmt.Errorf("tombstone key %x: want 13 bytes", k)
			}
			stamp := int64(binary.BigEndian.Uint64(k[1:9]))
			if _, seen := records[stamp]; !seen && !done[stamp] {
				stamps = append(stamps, stamp)
			}
			if binary.BigEndian.Uint32(k[9:]) == tombstoneDone {
				done[stamp] = true
				continue
			}
			records[stamp] = append(records[stamp], k)
		}
		return nil
	})
	if err != nil {
		return nil, nil, nil, fmt.Errorf("list tombstones: %w", err)
	}
	return stamps, records, done, nil
}

// readTombstones returns the IDs of one tombstone record.
func (s *Store) readTombstones(key []byte) ([]ID, error) {
	v, err := s.getRaw(key)
	if err != nil {
		return nil, fmt.Errorf("read tombstones %x: %w", key, err)
	}
	if len(v)%16 != 0 {
		return nil, fmt.Errorf("tombstone record %x: %d bytes is not a whole number of ids", key, len(v))
	}
	ids := make([]ID, 0, len(v)/16)
	for i := 0; i < len(v); i += 16 {
		ids = append(ids, IDFromBytes(v[i:i+16]))
	}
	return ids, nil
}

// finishDeletesLocked finishes the deletions whose tombstones are not
// marked done: one failed, or a crash interrupted it. Doing a deletion
// again is harmless. Callers hold delMu.
func (s *Store) finishDeletesLocked(ctx context.Context) error {
	stamps, records, done, err := s.tombstoneRecords(ctx)
	if err != nil {
		return err
	}
	for _, stamp := range stamps {
		if done[stamp] {
			continue
		}
		var ids []ID
		for _, k := range records[stamp] {
			part, err := s.readTombstones(k)
			if err != nil {
				return err
			}
			ids = append(ids, part...)
		}
		if err := s.deleteIDs(ctx, ids); err != nil {
			return fmt.Errorf("finish an interrupted deletion of %d entries: %w", len(ids), err)
		}
		if err := s.markDeleted(stamp); err != nil {
			return err
		}
	}
	return nil
}

// Tombstones hands fn the IDs of entries deleted by DeleteSource, one
// record of at most 65,536 ascending IDs at a time, oldest deletion first,
// and removes each record fn returns nil for: fn removes the copies of
// those entries kept outside storage. Deletions left unfinished are
// finished first, so fn never sees an ID whose entry is still stored.
func (s *Store) Tombstones(ctx context.Context, fn func(ids []ID) error) error {
	if s.closed.Load() {
		return ErrClosed
	}
	s.delMu.Lock()
	defer s.delMu.Unlock()
	if err := s.finishDeletesLocked(ctx); err != nil {
		return err
	}
	stamps, records, _, err := s.tombstoneRecords(ctx)
	if err != nil {
		return err
	}
	for _, stamp := range stamps {
		for _, k := range records[stamp] {
			ids, err := s.readTombstones(k)
			if err != nil {
				return err
			}
			if err := fn(ids); err != nil {
				return err
			}
			if err := s.db.Update(func(txn *badger.Txn) error { return txn.Delete(k) }); err != nil {
				return fmt.Errorf("release tombstones: %w", wrapWriteErr("write", err))
			}
		}
		err := s.db.Update(func(txn *badger.Txn) error { return txn.Delete(tombstoneKey(stamp, tombstoneDone)) })
		if err != nil {
			return fmt.Errorf("release tombstones: %w", wrapWriteErr("write", err))
		}
	}
	return nil
}
