package storage

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/dgraph-io/badger/v4"
)

// DeleteSource deletes the entries of one source whose IDs fall in
// [lo, hi) — per-source retention inside days that retention keeps — and
// removes them from every posting list of their days, so that counts taken
// from the indexes stay exact. It returns how many it deleted. Appends may
// go on meanwhile: they write new keys only.
//
// It reads the source's posting lists once and works in steps of at most
// tombstonesPerKey entries within one day, so that its memory does not
// grow with the data. Before a step deletes anything it records the step's IDs as
// tombstones, and marks them done once the step is complete: whoever
// mirrors entries outside storage (the keyword index) reads done tombstones
// with Tombstones and removes its copies, so a crash in between cannot
// leave those copies behind. A step that failed or that a crash
// interrupted is finished by FinishDeletes; days with one that could not
// be finished are skipped until it is. Deletions run one at a
// time.
func (s *Store) DeleteSource(ctx context.Context, source string, lo, hi ID) (int, error) {
	s.delMu.Lock()
	defer s.delMu.Unlock()
	n, err := s.deleteSourceLocked(ctx, source, lo, hi)
	if err != nil {
		return n, fmt.Errorf("delete source %s: %w", source, err)
	}
	return n, nil
}

func (s *Store) deleteSourceLocked(ctx context.Context, source string, lo, hi ID) (int, error) {
	days, err := s.Days(lo.Nanos, hi.Nanos)
	if err != nil {
		return 0, err
	}
	size := tombstonesPerKey
	if s.deleteStep > 0 {
		size = s.deleteStep
	}
	total := 0
	var pending []ID
	step := func(ids []ID) error {
		slices.SortFunc(ids, ID.Compare) // lists come in commit order
		stamp, err := s.writeTombstones(ids)
		if err != nil {
			return err
		}
		if err := s.deleteIDs(ctx, ids); err != nil {
			return err
		}
		if err := s.markDeleted(stamp); err != nil {
			return err
		}
		total += len(ids)
		return nil
	}
	for _, day := range days {
		if s.unfinished[day] {
			continue
		}
		// The source's posting lists of the day are read once, in commit
		// order, from one snapshot: the steps rewrite them meanwhile, but
		// the snapshot still hands each list over exactly once.
		err := s.view(func(txn *badger.Txn) error {
			if err := s.checkKeys(postingPrefix(day, kindSource, "", source)); err != nil {
				return err
			}
			return iterate(ctx, txn, postingPrefix(day, kindSource, "", source), func(k, v []byte) error {
				var err error
				if pending, err = decodePostings(pending, v, binary.BigEndian.Uint64(k[len(k)-8:]), lo, hi); err != nil {
					return err
				}
				for len(pending) >= size {
					if err := step(pending[:size]); err != nil {
						return err
					}
					pending = append(pending[:0], pending[size:]...)
				}
				return nil
			})
		})
		if err != nil {
			return total, fmt.Errorf("%s: %w", day, err)
		}
		// A step stays inside one day: it rewrites that day's posting lists.
		if len(pending) > 0 {
			if err := step(pending); err != nil {
				return total, err
			}
			pending = pending[:0]
		}
	}
	return total, nil
}

// deleteIDs deletes the entries ids and removes them from the posting
// lists of their days. Deleting an entry that is already gone is not an
// error, so a deletion can be done again after a crash. Rewritten lists go
// into the write batch as they are found, which commits as it fills.
func (s *Store) deleteIDs(ctx context.Context, ids []ID) error {
	// Per day, the deleted sequences and their time span: lists that span
	// no deleted entry's time are left undecoded.
	type dayGone struct {
		seqs       map[uint64]bool
		minN, maxN int64
	}
	byDay := map[Day]*dayGone{}
	for _, id := range ids {
		d := DayOf(id.Nanos)
		g := byDay[d]
		if g == nil {
			g = &dayGone{seqs: map[uint64]bool{}, minN: id.Nanos, maxN: id.Nanos}
			byDay[d] = g
		}
		g.seqs[id.Seq] = true
		g.minN, g.maxN = min(g.minN, id.Nanos), max(g.maxN, id.Nanos)
	}
	if err := s.rewriteBlocks(ctx, ids); err != nil {
		return err
	}
	wb := s.db.NewWriteBatch()
	defer wb.Cancel()
	for day, gone := range byDay {
		var list []ID
		err := s.view(func(txn *badger.Txn) error {
			if err := s.checkKeys(postingDayPrefix(day)); err != nil {
				return err
			}
			return iterate(ctx, txn, postingDayPrefix(day), func(k, v []byte) error {
				h, _, err := postingHeader(v)
				if err != nil {
					return err
				}
				if h.maxN < gone.minN || h.minN > gone.maxN {
					return nil
				}
				first := binary.BigEndian.Uint64(k[len(k)-8:])
				list, err = decodePostings(list[:0], v, first, MinID, MaxID)
				if err != nil {
					return err
				}
				kept := slices.DeleteFunc(list, func(id ID) bool { return gone.seqs[id.Seq] })
				switch {
				case len(kept) == len(list):
					return nil
				case len(kept) == 0:
					return wb.Delete(bytes.Clone(k))
				default:
					return wb.Set(bytes.Clone(k), encodePostings(kept, first))
				}
			})
		})
		if err != nil {
			return fmt.Errorf("%s: %w", day, err)
		}
	}
	if s.hookDeleteScanned != nil {
		s.hookDeleteScanned()
	}
	if err := s.flushBatch(wb); err != nil {
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

// writeTombstones records ids, one deletion step of at most
// tombstonesPerKey IDs, durably as one pending deletion, and returns its
// stamp. Callers hold delMu.
func (s *Store) writeTombstones(ids []ID) (int64, error) {
	if len(ids) > tombstonesPerKey {
		return 0, fmt.Errorf("write tombstones: %d ids in one step, at most %d", len(ids), tombstonesPerKey)
	}
	stamp := max(time.Now().UnixNano(), s.tombLast+1)
	s.tombLast = stamp
	v := make([]byte, 0, 16*len(ids))
	for _, id := range ids {
		b := id.Bytes()
		v = append(v, b[:]...)
	}
	// A full step's record is 1 MiB: it goes to the value log.
	err := s.write(func(txn *badger.Txn) error { return txn.Set(tombstoneKey(stamp, 0), v) })
	if err != nil {
		return 0, fmt.Errorf("write tombstones: %w", wrapWriteErr("write", err))
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
	err = s.view(func(txn *badger.Txn) error {
		opts := badger.DefaultIteratorOptions
		opts.PrefetchValues = false
		opts.Prefix = []byte{nsTombstone}
		if err := s.checkKeys(opts.Prefix); err != nil {
			return err
		}
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
// again is harmless. It tries every one, and remembers the days of those it
// could not finish in s.unfinished, which DeleteSource then leaves alone
// rather than record the same entries again at every run. Callers hold
// delMu.
func (s *Store) finishDeletesLocked(ctx context.Context) error {
	stamps, records, done, err := s.tombstoneRecords(ctx)
	if err != nil {
		return err
	}
	clear(s.unfinished)
	var errs []error
	for _, stamp := range stamps {
		if done[stamp] {
			continue
		}
		if err := ctx.Err(); err != nil {
			return errors.Join(append(errs, err)...)
		}
		var ids []ID
		var rerr error
		for _, k := range records[stamp] {
			part, err := s.readTombstones(k)
			if err != nil {
				rerr = err
				break
			}
			ids = append(ids, part...)
		}
		if rerr == nil {
			if err := s.deleteIDs(ctx, ids); err != nil {
				rerr = fmt.Errorf("finish an interrupted deletion of %d entries: %w", len(ids), err)
			} else {
				rerr = s.markDeleted(stamp)
			}
		}
		if rerr != nil {
			for _, id := range ids {
				s.unfinished[DayOf(id.Nanos)] = true
			}
			errs = append(errs, rerr)
		}
	}
	return errors.Join(errs...)
}

// FinishDeletes finishes the deletions that failed or that a crash
// interrupted (see DeleteSource), and returns what kept any of them from
// finishing. The daemon calls it when it starts, before the keyword
// indexer reads tombstones, and at every retention run.
func (s *Store) FinishDeletes(ctx context.Context) error {
	s.delMu.Lock()
	defer s.delMu.Unlock()
	return s.finishDeletesLocked(ctx)
}

// Tombstones hands fn the IDs of entries deleted by DeleteSource, one
// record of at most 65,536 ascending IDs at a time, oldest deletion first,
// and removes each record fn returns nil for: fn removes the copies of
// those entries kept outside storage. fn only ever sees IDs whose entries
// are gone: deletions still running, or left unfinished (FinishDeletes
// finishes those), are left for a later call. Calls run one at a time; a
// deletion may run meanwhile.
func (s *Store) Tombstones(ctx context.Context, fn func(ids []ID) error) error {
	if s.closed.Load() {
		return ErrClosed
	}
	s.handMu.Lock()
	defer s.handMu.Unlock()
	// Done deletions are not touched by DeleteSource, and only this method,
	// under handMu, removes them: they can be handed over without delMu.
	stamps, records, done, err := s.tombstoneRecords(ctx)
	if err != nil {
		return err
	}
	for _, stamp := range stamps {
		if !done[stamp] {
			continue
		}
		for _, k := range records[stamp] {
			if err := ctx.Err(); err != nil {
				return err
			}
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
