package storage

import (
	"context"
	"encoding/binary"
	"fmt"
	"slices"
	"time"

	"github.com/dgraph-io/badger/v4"
	"github.com/logengine/logengine/storage/block"
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
	err := s.view(func(txn *badger.Txn) error {
		if err := s.checkKeys([]byte{nsDay}); err != nil {
			return err
		}
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
	return s.scan(ctx, lo, hi, reverse, decodeWhole, nil, fn)
}

// ScanColumns is Scan for entries without their messages and with only the
// named fields (each with all its values): it decompresses neither the
// message column nor the other fields, so a query on fields, levels,
// sources and tags reads several times less. Fetch what matches whole with
// GetMany. The entry's Fields (not only the entry) are reused between calls.
func (s *Store) ScanColumns(ctx context.Context, lo, hi ID, reverse bool, fields []string, fn func(e *Entry) bool) error {
	return s.ScanWhere(ctx, ScanSpec{Lo: lo, Hi: hi, Reverse: reverse, Columns: true, Fields: fields}, fn)
}

// ScanSpec says what ScanWhere reads.
type ScanSpec struct {
	Lo, Hi  ID
	Reverse bool
	// Columns reads entries without messages and with only Fields, as
	// ScanColumns does (their Fields reused between calls); otherwise
	// entries are whole.
	Columns bool
	Fields  []string
	// MayMatch, when set, is asked with each block's header whether any
	// of its entries may be wanted: a block it refuses is not read. A
	// query on a trace id, a status or a level skips most of a day so.
	MayMatch func(h *block.Header) bool
	// Rows, when set, is asked with each block MayMatch accepted, before
	// its entries are decoded, which of its rows (entries, in ID order)
	// may be wanted: a bitmap, bit i%64 of word i/64 for row i, or nil for
	// all of them. Only those are handed to fn, and a block with none is
	// not decoded: a caller checks a few columns (a trace id's) where
	// decoding every entry of a block whose bloom filter answered "maybe"
	// cost several times more.
	Rows func(h *block.Header, body []byte) ([]uint64, error)
	// IDsOnly hands fn entries that hold only their ID and Time, when Rows
	// is exact (every row it selects is wanted, so fn need not look at
	// them): a needle's block is then not decoded beyond its ids.
	IDsOnly bool
}

// ScanWhere is Scan or ScanColumns over the blocks spec.MayMatch accepts.
func (s *Store) ScanWhere(ctx context.Context, spec ScanSpec, fn func(e *Entry) bool) error {
	decode := decodeFunc(decodeWhole)
	switch {
	case spec.IDsOnly:
		decode = decodeIDsOnly
	case spec.Columns:
		decode = func(dst []Entry, bufs *block.Buffers, h *block.Header, body []byte) ([]Entry, error) {
			return block.DecodeColumnsWith(dst, bufs, h, body, spec.Fields)
		}
	}
	if spec.Rows != nil {
		inner := decode
		decode = func(dst []Entry, bufs *block.Buffers, h *block.Header, body []byte) ([]Entry, error) {
			rows, err := spec.Rows(h, body)
			if err != nil {
				return nil, err
			}
			if rows == nil {
				return inner(dst, bufs, h, body)
			}
			if !anyRow(rows) {
				return dst[:0], nil
			}
			entries, err := inner(dst, bufs, h, body)
			if err != nil {
				return nil, err
			}
			return keepRows(entries, rows), nil
		}
	}
	return s.scan(ctx, spec.Lo, spec.Hi, spec.Reverse, decode, spec.MayMatch, fn)
}

// decodeIDsOnly decodes entries holding only their ID and Time.
func decodeIDsOnly(dst []Entry, _ *block.Buffers, h *block.Header, body []byte) ([]Entry, error) {
	ids, err := block.DecodeIDs(h, body)
	if err != nil {
		return nil, err
	}
	out := slices.Grow(dst[:0], len(ids))[:len(ids)]
	for i, id := range ids {
		out[i] = Entry{ID: id, Time: time.Unix(0, id.Nanos).UTC()}
	}
	return out, nil
}

func anyRow(rows []uint64) bool {
	for _, w := range rows {
		if w != 0 {
			return true
		}
	}
	return false
}

// keepRows moves the entries whose rows are set in rows to the front, in
// order, and returns them.
func keepRows(entries []Entry, rows []uint64) []Entry {
	out := entries[:0]
	for i := range entries {
		if i/64 < len(rows) && rows[i/64]&(1<<(i%64)) != 0 {
			out = append(out, entries[i])
		}
	}
	return out
}

func (s *Store) scan(ctx context.Context, lo, hi ID, reverse bool, decode decodeFunc, mayMatch func(*block.Header) bool, fn func(e *Entry) bool) error {
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
	return s.view(func(txn *badger.Txn) error {
		for _, day := range days {
			if err := s.checkKeys(headerDayPrefix(day)); err != nil {
				return fmt.Errorf("scan %s: %w", day, err)
			}
			stop, err := scanBlocks(ctx, txn, day, lo, hi, reverse, decode, mayMatch, fn)
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

// DropDay deletes every entry and index key of a day. Badger blocks writes
// while it drops, which is why retention drops whole days at a time.
func (s *Store) DropDay(d Day) error {
	// A deletion inside the day must not write its posting lists back
	// after they were dropped.
	s.delMu.Lock()
	defer s.delMu.Unlock()
	defer s.blocks.invalidate()
	err := s.db.DropPrefix(headerDayPrefix(d), bodyDayPrefix(d), templatesDayPrefix(d), entryDayPrefix(d), postingDayPrefix(d), dayKey(d))
	if err != nil {
		return fmt.Errorf("drop day %s: %w", d, err)
	}
	return nil
}
