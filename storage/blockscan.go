package storage

import (
	"bytes"
	"context"
	"fmt"
	"slices"

	badger "github.com/dgraph-io/badger/v4"

	"github.com/logengine/logengine/storage/block"
)

// BlockRows is one block handed out by EachBlock: its header and body,
// valid only during the call, and the rows [From, To) of its entries that
// fall in the range asked for (all of them unless the block straddles an
// end of the range). IDs holds the entries' IDs when they were decoded to
// find those rows, else nil.
type BlockRows struct {
	Header   *block.Header
	Body     []byte
	From, To int
	IDs      []ID
}

// EachBlock calls fn with every block holding entries in [lo, hi) that
// mayMatch (when set) accepts, in no particular order, in one read
// transaction, until fn returns an error. It is for readers that need no
// order and read the block's columns themselves (storage/block's column
// accessors): an aggregation evaluates its query on a block's columns
// without the merge of a scan and without building an entry per row. A
// block holds each entry once, so every entry in range is seen once.
func (s *Store) EachBlock(ctx context.Context, lo, hi ID, mayMatch func(*block.Header) bool, fn func(b *BlockRows) error) error {
	if lo.Compare(hi) >= 0 {
		return nil
	}
	days, err := s.Days(lo.Nanos, hi.Nanos)
	if err != nil {
		return err
	}
	return s.view(func(txn *badger.Txn) error {
		for _, day := range days {
			// A damaged table would end the headers' iteration early,
			// silently; a missing body is an error below.
			if err := s.checkKeys(headerDayPrefix(day)); err != nil {
				return fmt.Errorf("read blocks of %s: %w", day, err)
			}
			if err := eachBlockOf(ctx, txn, day, lo, hi, mayMatch, fn); err != nil {
				return fmt.Errorf("read blocks of %s: %w", day, err)
			}
		}
		return nil
	})
}

func eachBlockOf(ctx context.Context, txn *badger.Txn, day Day, lo, hi ID, mayMatch func(*block.Header) bool, fn func(b *BlockRows) error) error {
	// Bodies are read through an iterator rather than with Get: Get
	// copies each value twice into new memory (~100 MB for the bodies of
	// a day of 1M logs), an iterator once into buffers it reuses. Headers
	// and bodies share their keys' order, so the iterator only moves on.
	opts := badger.DefaultIteratorOptions
	opts.Prefix = bodyDayPrefix(day)
	opts.PrefetchValues = false
	bodies := txn.NewIterator(opts)
	defer bodies.Close()
	// One header, unmarshalled block after block into the same slices
	// (fn may not keep it past its call).
	var h block.Header
	return iterate(ctx, txn, headerDayPrefix(day), func(k, v []byte) error {
		r, err := decodeHeaderRecord(k, v)
		if err != nil {
			return err
		}
		if r.maxID.Compare(lo) < 0 || r.minID.Compare(hi) >= 0 {
			return nil
		}
		if err := r.headerInto(&h); err != nil {
			return err
		}
		if skip, err := r.refused(mayMatch); err != nil || skip {
			return err
		}
		// The body that follows the last one read is the iterator's next
		// item, already read ahead: a Seek would drop it and read it
		// again (with the one after it).
		key := blockBodyKey(r.day, r.last)
		if bodies.Valid() && bytes.Compare(bodies.Item().Key(), key) < 0 {
			bodies.Next()
		}
		if !bodies.Valid() || !bytes.Equal(bodies.Item().Key(), key) {
			bodies.Seek(key)
		}
		if !bodies.Valid() || !bytes.Equal(bodies.Item().Key(), key) {
			return fmt.Errorf("block %s/%d: %w: its body is missing", r.day, r.last, block.ErrCorrupt)
		}
		return eachBlockRows(bodies.Item(), &r, lo, hi, fn)
	})
}

// eachBlockRows reads r's body from item and hands it to fn with its rows
// in [lo, hi). r.raw may be valid only during the call.
func eachBlockRows(item *badger.Item, r *blockRef, lo, hi ID, fn func(b *BlockRows) error) error {
	h, err := r.header()
	if err != nil {
		return err
	}
	return item.Value(func(body []byte) error {
		b := BlockRows{Header: h, Body: body, To: h.Count}
		if r.minID.Compare(lo) < 0 || r.maxID.Compare(hi) >= 0 {
			ids, err := block.DecodeIDs(h, body)
			if err != nil {
				return fmt.Errorf("block %s/%d: %w", r.day, r.last, err)
			}
			b.IDs = ids
			b.From, _ = slices.BinarySearchFunc(ids, lo, ID.Compare)
			b.To, _ = slices.BinarySearchFunc(ids, hi, ID.Compare)
		}
		if b.From >= b.To {
			return nil
		}
		return fn(&b)
	})
}
