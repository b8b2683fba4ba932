package storage

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/dgraph-io/badger/v4"
	"github.com/dgraph-io/badger/v4/options"
	"github.com/logengine/logengine/storage/block"
)

// Stored reads a stopped store read-only, for checking what is derived
// from it (the keyword index) against what it holds.
type Stored struct {
	db *badger.DB
}

// OpenStored opens the store in dir, which no process may have open,
// read-only.
func OpenStored(dir string) (*Stored, error) {
	if err := CheckNoInterruptedRestore(dir); err != nil {
		return nil, err
	}
	bo := badger.DefaultOptions(dir).
		WithReadOnly(true).
		WithCompression(options.Snappy).
		WithChecksumVerificationMode(options.OnBlockRead).
		WithLogger(nil)
	db, err := openBadgerRecovered(bo)
	if err != nil {
		if strings.Contains(err.Error(), "Another process is using") {
			return nil, fmt.Errorf("open %s: %w (stop the daemon first)", dir, err)
		}
		return nil, fmt.Errorf("open %s: %w", dir, err)
	}
	return &Stored{db: db}, nil
}

// Close closes the store.
func (s *Stored) Close() error { return s.db.Close() }

// Checkpoint returns the durable checkpoint of a journal consumer (zero
// when it has none).
func (s *Stored) Checkpoint(consumer string) (uint64, error) {
	var seq uint64
	err := s.db.View(func(txn *badger.Txn) error {
		item, err := txn.Get(checkpointKey(consumer))
		if errors.Is(err, badger.ErrKeyNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		return item.Value(func(v []byte) error {
			n, k := binary.Uvarint(v)
			if k <= 0 {
				return fmt.Errorf("checkpoint %s does not decode", consumer)
			}
			seq = n
			return nil
		})
	})
	return seq, err
}

// Deleting returns the IDs of deletions whose tombstones are still kept:
// their entries may still be in what is derived from the store.
func (s *Stored) Deleting(ctx context.Context) (map[ID]bool, error) {
	out := map[ID]bool{}
	err := s.db.View(func(txn *badger.Txn) error {
		return iterate(ctx, txn, []byte{nsTombstone}, func(k, v []byte) error {
			if len(v)%16 != 0 {
				return fmt.Errorf("tombstone record %x: %d bytes is not a whole number of ids", k, len(v))
			}
			for i := 0; i < len(v); i += 16 {
				out[IDFromBytes(v[i:i+16])] = true
			}
			return nil
		})
	})
	return out, err
}

// Days returns the days that hold entries, ascending.
func (s *Stored) Days(ctx context.Context) ([]Day, error) {
	var days []Day
	err := s.db.View(func(txn *badger.Txn) error {
		return iterate(ctx, txn, []byte{nsDay}, func(k, _ []byte) error {
			if len(k) != 5 {
				return fmt.Errorf("day key %x: want 5 bytes", k)
			}
			days = append(days, Day(binary.BigEndian.Uint32(k[1:])))
			return nil
		})
	})
	return days, err
}

// DayIDs returns the IDs of the day's entries, ascending.
func (s *Stored) DayIDs(ctx context.Context, day Day) ([]ID, error) {
	var ids []ID
	err := s.db.View(func(txn *badger.Txn) error {
		return iterate(ctx, txn, headerDayPrefix(day), func(k, v []byte) error {
			r, err := decodeHeaderRecord(k, v)
			if err != nil {
				return err
			}
			h, err := r.header() // used only in this call, as v is
			if err != nil {
				return err
			}
			return withBody(txn, &r, func(body []byte) error {
				got, err := block.DecodeIDs(h, body)
				ids = append(ids, got...)
				return err
			})
		})
	})
	if err != nil {
		return nil, fmt.Errorf("ids of %s: %w", day, err)
	}
	slices.SortFunc(ids, ID.Compare)
	return ids, nil
}
