package storage

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/dgraph-io/badger/v4"
)

// MigrateToBlocks moves the entries of the layout before blocks (one key
// each) into blocks, day by day, and returns how many it moved. Each block
// is written in the transaction that deletes its entries' old keys, so an
// interrupted migration resumes where it stopped and never holds an entry
// twice or not at all. IDs do not change: posting lists, the journal, the
// keyword index and cursors stay valid. A store without old keys returns at
// once.
func (s *Store) MigrateToBlocks(ctx context.Context, log *slog.Logger) (int, error) {
	days, err := s.legacyDays(ctx)
	if err != nil {
		return 0, err
	}
	moved := 0
	for _, day := range days {
		n, err := s.migrateDay(ctx, day)
		moved += n
		if err != nil {
			return moved, fmt.Errorf("move the entries of %s into blocks: %w", day, err)
		}
		if log != nil {
			log.Info("entries moved into blocks", "day", day.String(), "entries", n, "total", moved)
		}
	}
	return moved, nil
}

// legacyDays lists the days that still have entries under old keys.
func (s *Store) legacyDays(ctx context.Context) ([]Day, error) {
	var days []Day
	err := s.view(func(txn *badger.Txn) error {
		opts := badger.IteratorOptions{Prefix: []byte{nsEntry}}
		it := txn.NewIterator(opts)
		defer it.Close()
		for it.Seek([]byte{nsEntry}); it.ValidForPrefix(opts.Prefix); {
			if err := ctx.Err(); err != nil {
				return err
			}
			d := DayOf(idFromEntryKey(it.Item().Key()).Nanos)
			days = append(days, d)
			it.Seek(entryDayPrefix(d + 1))
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list days to move into blocks: %w", err)
	}
	return days, nil
}

// migrateDay moves one day's old entries into blocks of consecutive
// sequences (so that the day's blocks cover disjoint sequence ranges, as
// commits make them), lowest sequences first so that a resumed run's blocks
// follow those already written.
func (s *Store) migrateDay(ctx context.Context, day Day) (int, error) {
	var ids []ID
	err := s.view(func(txn *badger.Txn) error {
		prefix := entryDayPrefix(day)
		it := txn.NewIterator(badger.IteratorOptions{Prefix: prefix})
		defer it.Close()
		for it.Seek(prefix); it.ValidForPrefix(prefix); it.Next() {
			if len(ids)%4096 == 0 {
				if err := ctx.Err(); err != nil {
					return err
				}
			}
			ids = append(ids, idFromEntryKey(it.Item().Key()))
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	slices.SortFunc(ids, func(a, b ID) int { return cmp.Compare(a.Seq, b.Seq) })
	moved := 0
	for start := 0; start < len(ids); start += maxBlockEntries {
		if err := ctx.Err(); err != nil {
			return moved, err
		}
		run := ids[start:min(start+maxBlockEntries, len(ids))]
		if err := s.migrateRun(day, run); err != nil {
			return moved, err
		}
		moved += len(run)
		if s.hookMigratedRun != nil {
			s.hookMigratedRun()
		}
	}
	return moved, nil
}

func (s *Store) migrateRun(day Day, ids []ID) error {
	err := s.write(func(txn *badger.Txn) error {
		entries := make([]Entry, len(ids))
		for i, id := range ids {
			item, err := txn.Get(entryKey(id))
			if err != nil {
				return fmt.Errorf("read entry %s: %w", id, err)
			}
			if err := item.Value(func(v []byte) error { return Decode(id, v, &entries[i]) }); err != nil {
				return fmt.Errorf("decode entry %s: %w", id, err)
			}
			entries[i].ID = id
			entries[i].Time = time.Unix(0, id.Nanos).UTC()
			if err := txn.Delete(entryKey(id)); err != nil {
				return err
			}
		}
		return setBlock(txn, day, ids[0].Seq, ids[len(ids)-1].Seq, entries, false)
	})
	if err != nil {
		return fmt.Errorf("sequences %d..%d: %w", ids[0].Seq, ids[len(ids)-1].Seq, wrapWriteErr("write", err))
	}
	return nil
}
