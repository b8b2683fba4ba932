package storage

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"slices"

	"github.com/dgraph-io/badger/v4"
	"github.com/logengine/logengine/storage/logs"
)

// MinID and MaxID bound every ID; use them for open time ranges.
var (
	MinID = logs.MinID
	MaxID = logs.MaxID
)

// Days returns, ascending, the days that hold entries and overlap
// [from, to) (nanoseconds).
func (s *Store) Days(from, to int64) ([]Day, error) {
	var days []Day
	err := s.db.View(func(txn *badger.Txn) error {
		opts := badger.DefaultIteratorOptions
		opts.Prefix = []byte{nsDay}
		opts.PrefetchValues = false
		it := txn.NewIterator(opts)
		defer it.Close()
		for it.Seek(dayKey(DayOf(max(from, 0)))); it.ValidForPrefix(opts.Prefix); it.Next() {
			d := Day(binary.BigEndian.Uint32(it.Item().Key()[1:]))
			if d.Start() >= to {
				break
			}
			days = append(days, d)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list days: %w", err)
	}
	return days, nil
}

// Scan calls fn with the entries whose IDs fall in [lo, hi), ascending, or
// descending when reverse is set, until fn returns false. The entry passed
// to fn is reused between calls: copy what must outlive the call.
func (s *Store) Scan(ctx context.Context, lo, hi ID, reverse bool, fn func(e *Entry) bool) error {
	if lo.Compare(hi) >= 0 {
		return nil
	}
	days, err := s.Days(lo.Nanos, hi.Nanos)
	if err != nil {
		return err
	}
	if reverse {
		slices.Reverse(days)
	}
	var e Entry
	loKey, hiKey := entryKey(lo), entryKey(hi)
	return s.db.View(func(txn *badger.Txn) error {
		for _, day := range days {
			opts := badger.DefaultIteratorOptions
			opts.Prefix = entryDayPrefix(day)
			opts.Reverse = reverse
			it := txn.NewIterator(opts)
			stop, err := scanDay(ctx, it, opts.Prefix, loKey, hiKey, reverse, &e, fn)
			it.Close()
			if err != nil {
				return fmt.Errorf("scan %s: %w", day, err)
			}
			if stop {
				return nil
			}
		}
		return nil
	})
}

func scanDay(ctx context.Context, it *badger.Iterator, prefix, loKey, hiKey []byte, reverse bool, e *Entry, fn func(*Entry) bool) (stop bool, err error) {
	// Clamp the seek target into the day: a target in another day would
	// land on that day's keys and end the scan at once.
	if reverse {
		end := append(slices.Clip(prefix), bytes.Repeat([]byte{0xff}, 16)...)
		target := hiKey
		if bytes.Compare(target, end) > 0 {
			target = end
		}
		// Reverse Seek lands on the largest key <= the target; hi is
		// exclusive, so step over an exact hit.
		it.Seek(target)
		if it.ValidForPrefix(prefix) && bytes.Equal(it.Item().Key(), hiKey) {
			it.Next()
		}
	} else {
		target := loKey
		if bytes.Compare(target, prefix) < 0 {
			target = prefix
		}
		it.Seek(target)
	}
	n := 0
	for ; it.ValidForPrefix(prefix); it.Next() {
		if n++; n%1024 == 0 {
			if err := ctx.Err(); err != nil {
				return true, err
			}
		}
		item := it.Item()
		k := item.Key()
		if reverse && string(k) < string(loKey) || !reverse && string(k) >= string(hiKey) {
			return true, nil
		}
		id := idFromEntryKey(k)
		if err := item.Value(func(v []byte) error { return Decode(id, v, e) }); err != nil {
			return true, err
		}
		if !fn(e) {
			return true, nil
		}
	}
	return false, nil
}

// DropDay deletes every entry and index key of a day. Badger blocks writes
// while it drops, which is why retention drops whole days at a time.
func (s *Store) DropDay(d Day) error {
	// A deletion inside the day must not write its posting lists back
	// after they were dropped.
	s.delMu.Lock()
	defer s.delMu.Unlock()
	if err := s.db.DropPrefix(entryDayPrefix(d), postingDayPrefix(d), dayKey(d)); err != nil {
		return fmt.Errorf("drop day %s: %w", d, err)
	}
	return nil
}
