package storage

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/dgraph-io/badger/v4"
)

// The journal lists, per commit, the IDs it added in sequence order. Its
// consumers (the keyword indexer, the alert evaluator) read it from their
// own durable checkpoint, so an old log that arrives late is seen as surely
// as a new one, and a crash between commit and consumption loses nothing;
// live tail reads it from the newest commit on. Records behind the slowest
// durable checkpoint are trimmed (internal/journal's Trimmer).
//
// Record value: firstSeq, count, then per entry the nanos as a zig-zag delta
// from the previous entry's (the first from zero).

func encodeJournal(first uint64, ids []ID) []byte {
	b := make([]byte, 0, 16+len(ids)*4)
	b = binary.AppendUvarint(b, first)
	b = binary.AppendUvarint(b, uint64(len(ids)))
	var prev int64
	for _, id := range ids {
		b = binary.AppendVarint(b, id.Nanos-prev)
		prev = id.Nanos
	}
	return b
}

func decodeJournal(v []byte, after uint64, dst []ID) ([]ID, error) {
	d := decoder{b: v}
	first := d.uvarint()
	n := d.count()
	var prev int64
	for i := 0; i < n && d.err == nil; i++ {
		prev += d.varint()
		if seq := first + uint64(i); seq > after {
			dst = append(dst, ID{Nanos: prev, Seq: seq})
		}
	}
	if d.err != nil {
		return dst, fmt.Errorf("journal record: %w", d.err)
	}
	return dst, nil
}

// ReadJournal returns, in sequence order, the IDs of entries committed with
// sequences above after, reading at most about max of them (whole commits,
// so it may return more). Entries since dropped by retention are included;
// fetching them finds nothing.
func (s *Store) ReadJournal(ctx context.Context, after uint64, max int) ([]ID, error) {
	var ids []ID
	err := s.view(func(txn *badger.Txn) error {
		opts := badger.DefaultIteratorOptions
		opts.Prefix = []byte{nsJournal}
		if err := s.checkKeysFrom(opts.Prefix, journalKey(after+1)); err != nil {
			return err
		}
		it := txn.NewIterator(opts)
		defer it.Close()
		for it.Seek(journalKey(after + 1)); it.ValidForPrefix(opts.Prefix) && len(ids) < max; it.Next() {
			if err := ctx.Err(); err != nil {
				return err
			}
			err := it.Item().Value(func(v []byte) error {
				var err error
				ids, err = decodeJournal(v, after, ids)
				return err
			})
			if err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read journal after %d: %w", after, err)
	}
	return ids, nil
}

// trimChunk is how many journal records TrimJournal deletes per write
// batch: the first trim of a journal that was never trimmed may cover
// millions of records, which must not be held in memory at once.
const trimChunk = 10000

// TrimJournal deletes journal records whose entries all have sequences at
// or below upTo; call it with the lowest checkpoint of all consumers. It
// returns how many records it deleted. A record that lists sequences on
// both sides of upTo stays whole.
func (s *Store) TrimJournal(ctx context.Context, upTo uint64) (int, error) {
	total := 0
	from := journalKey(0)
	for {
		keys, err := s.journalKeysUpTo(ctx, from, upTo, trimChunk)
		if err != nil {
			return total, fmt.Errorf("trim journal up to %d: %w", upTo, err)
		}
		if len(keys) == 0 {
			return total, nil
		}
		wb := s.db.NewWriteBatch()
		for _, k := range keys {
			if err := wb.Delete(k); err != nil {
				wb.Cancel()
				return total, fmt.Errorf("trim journal up to %d: %w", upTo, wrapWriteErr("delete", err))
			}
		}
		if err := wb.Flush(); err != nil {
			return total, fmt.Errorf("trim journal up to %d: %w", upTo, wrapWriteErr("delete", err))
		}
		total += len(keys)
		if len(keys) < trimChunk {
			return total, nil
		}
		from = journalKey(binary.BigEndian.Uint64(keys[len(keys)-1][1:]) + 1)
	}
}

// journalKeysUpTo returns up to max keys of journal records, from key from
// on, whose last sequence is at most upTo.
func (s *Store) journalKeysUpTo(ctx context.Context, from []byte, upTo uint64, max int) ([][]byte, error) {
	var keys [][]byte
	err := s.view(func(txn *badger.Txn) error {
		opts := badger.DefaultIteratorOptions
		opts.Prefix = []byte{nsJournal}
		opts.PrefetchValues = false
		it := txn.NewIterator(opts)
		defer it.Close()
		for it.Seek(from); it.ValidForPrefix(opts.Prefix) && len(keys) < max; it.Next() {
			k := it.Item().KeyCopy(nil)
			if binary.BigEndian.Uint64(k[1:]) > upTo {
				break
			}
			keys = append(keys, k)
		}
		return ctx.Err()
	})
	return keys, err
}

// JournalStart returns the lowest sequence the journal still lists, or
// HighSeq()+1 when it lists none (every record trimmed, or nothing ever
// committed). The journal lists every sequence from there to HighSeq.
func (s *Store) JournalStart(ctx context.Context) (uint64, error) {
	high := s.HighSeq()
	start := high + 1
	err := s.view(func(txn *badger.Txn) error {
		opts := badger.DefaultIteratorOptions
		opts.Prefix = []byte{nsJournal}
		opts.PrefetchSize = 1
		it := txn.NewIterator(opts)
		defer it.Close()
		it.Rewind()
		if !it.ValidForPrefix(opts.Prefix) {
			return ctx.Err()
		}
		return it.Item().Value(func(v []byte) error {
			d := decoder{b: v}
			first := d.uvarint()
			if d.err != nil {
				return fmt.Errorf("journal record: %w", d.err)
			}
			start = min(first, start)
			return nil
		})
	})
	if err != nil {
		return 0, fmt.Errorf("journal start: %w", err)
	}
	return start, nil
}

// WaitSeq blocks until sequence seq is committed or ctx ends.
func (s *Store) WaitSeq(ctx context.Context, seq uint64) error {
	for {
		ch := s.Changed()
		if s.HighSeq() >= seq {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// Checkpoint returns the sequence a consumer has processed up to (0 when it
// never checkpointed).
func (s *Store) Checkpoint(consumer string) (uint64, error) {
	v, err := s.getRaw(checkpointKey(consumer))
	if errors.Is(err, ErrNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("checkpoint %s: %w", consumer, err)
	}
	seq, n := binary.Uvarint(v)
	if n <= 0 {
		return 0, fmt.Errorf("checkpoint %s: corrupt record", consumer)
	}
	return seq, nil
}

// SetCheckpoint records durably that a consumer has processed up to seq.
func (s *Store) SetCheckpoint(consumer string, seq uint64) error {
	err := s.db.Update(func(txn *badger.Txn) error {
		return txn.Set(checkpointKey(consumer), binary.AppendUvarint(nil, seq))
	})
	if err != nil {
		return fmt.Errorf("set checkpoint %s: %w", consumer, wrapWriteErr("write", err))
	}
	return nil
}

func (s *Store) getRaw(key []byte) ([]byte, error) {
	var out []byte
	err := s.view(func(txn *badger.Txn) error {
		item, err := txn.Get(key)
		if err != nil {
			return err
		}
		out, err = item.ValueCopy(nil)
		return err
	})
	if errors.Is(err, badger.ErrKeyNotFound) {
		return nil, ErrNotFound
	}
	return out, err
}
