package storage

import (
	"context"
	"fmt"
	"math"
	"slices"

	badger "github.com/dgraph-io/badger/v4"
	"golang.org/x/sync/errgroup"

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
	return s.EachBlockParallel(ctx, lo, hi, mayMatch, 1, 0, func(_ int, b *BlockRows) error { return fn(b) })
}

// MinBlocksPerWorker is the fewest blocks EachBlockParallel gives a
// worker by default.
const MinBlocksPerWorker = 16

// EachBlockParallel is EachBlock with the blocks of each day shared out
// among up to workers goroutines, each reading a contiguous run of the
// day's blocks (by key) with its own iterators. fn is called concurrently,
// with the number of the worker calling it (0 to workers-1), so that it
// can keep its state per worker and lock only what the workers share;
// mayMatch too is called concurrently.
// A field query spends its time decoding columns block by block, which
// one core does at ~50 µs a block; blocks are independent, so the work
// divides among cores. A day of fewer than minBlocks blocks per worker
// (zero means MinBlocksPerWorker) uses fewer workers: a goroutine and two
// iterators cost more than a few blocks. Tests set minBlocks to 1 to share
// a few blocks among many workers.
func (s *Store) EachBlockParallel(ctx context.Context, lo, hi ID, mayMatch func(*block.Header) bool, workers, minBlocks int, fn func(worker int, b *BlockRows) error) error {
	if minBlocks <= 0 {
		minBlocks = MinBlocksPerWorker
	}
	if lo.Compare(hi) >= 0 {
		return nil
	}
	days, err := s.Days(lo.Nanos, hi.Nanos)
	if err != nil {
		return err
	}
	return s.view(func(txn *badger.Txn) error {
		for _, day := range days {
			if err := s.checkKeys(headerDayPrefix(day)); err != nil {
				return fmt.Errorf("read blocks of %s: %w", day, err)
			}
			if err := s.dayBlocksParallel(ctx, txn, day, lo, hi, mayMatch, workers, minBlocks, fn); err != nil {
				return fmt.Errorf("read blocks of %s: %w", day, err)
			}
		}
		return nil
	})
}

func (s *Store) dayBlocksParallel(ctx context.Context, txn *badger.Txn, day Day, lo, hi ID, mayMatch func(*block.Header) bool, workers, minBlocks int, fn func(worker int, b *BlockRows) error) error {
	var refs []blockRef
	if workers > 1 {
		// The blocks in range, by key, without their headers proper:
		// cheap, and what divides the work evenly when the range is
		// part of the day.
		var err error
		if refs, err = dayHeaders(ctx, txn, day, lo, hi, false); err != nil {
			return err
		}
		workers = min(workers, len(refs)/minBlocks)
	}
	if workers <= 1 {
		return eachBlockOf(ctx, txn, day, lo, hi, mayMatch, func(b *BlockRows) error { return fn(0, b) })
	}
	g, gctx := errgroup.WithContext(ctx)
	for w := range workers {
		// Worker w reads the blocks whose last sequence is in
		// [from, to]: its share of refs, and the blocks out of range
		// between them, which it skips as EachBlock does.
		from := refs[w*len(refs)/workers].last
		to := uint64(math.MaxUint64)
		if w+1 < workers {
			to = refs[(w+1)*len(refs)/workers].last - 1
		}
		g.Go(func() error {
			// As Store.view does for its own goroutine.
			return s.guardRead(func() error {
				return eachBlockIn(gctx, txn, day, from, to, lo, hi, mayMatch, func(b *BlockRows) error { return fn(w, b) })
			})
		})
	}
	return g.Wait()
}

func eachBlockOf(ctx context.Context, txn *badger.Txn, day Day, lo, hi ID, mayMatch func(*block.Header) bool, fn func(b *BlockRows) error) error {
	return eachBlockIn(ctx, txn, day, 0, math.MaxUint64, lo, hi, mayMatch, fn)
}

// eachBlockIn is eachBlockOf for the blocks of day whose last sequence is
// in [from, to].
func eachBlockIn(ctx context.Context, txn *badger.Txn, day Day, from, to uint64, lo, hi ID, mayMatch func(*block.Header) bool, fn func(b *BlockRows) error) error {
	// Headers and bodies share their keys' order, so the bodies'
	// iterator only moves on (bodyReader).
	bodies := bodyReader{txn: txn}
	defer bodies.close()
	// One header, unmarshalled block after block into the same slices
	// (fn may not keep it past its call).
	var h block.Header
	return iterateFrom(ctx, txn, headerDayPrefix(day), blockHeaderKey(day, from), func(k, v []byte) error {
		r, err := decodeHeaderRecord(k, v)
		if err != nil {
			return err
		}
		if r.last > to {
			return errStopIteration
		}
		if err := ctx.Err(); err != nil {
			return err // also another worker's failure
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
		item := bodies.item(&r)
		if item == nil {
			return fmt.Errorf("block %s/%d: %w: its body is missing", r.day, r.last, block.ErrCorrupt)
		}
		return eachBlockRows(item, &r, lo, hi, fn)
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
