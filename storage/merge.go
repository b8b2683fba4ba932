package storage

// # DESIGN: the merger
//
// A commit writes a block per day it touches, as large as the commit: a few
// hundred to a few thousand entries under load, one entry for a shipper
// that sends logs one by one. Small blocks cost on every read: each has a
// header that a scan reads and a filtered scan unmarshals (a needle among
// the 12M logs of a day asked 12,000 bloom filters), each compresses alone
// (a block of 8,000 entries shares its dictionaries and zstd window over
// all of them), and each carries its own column offsets, source and field
// statistics and template counts.
//
// MergeBlocks joins runs of small blocks that are adjacent in a day's key
// order (by last sequence) into one block covering the union of their
// sequence ranges: ranges only need to be disjoint for the lookup of an ID
// (the first block whose last sequence is at least the ID's), and no ID
// changes, so cursors, the journal, posting lists, tombstones and the
// keyword index (which all name entries by ID) need nothing. A merge is one
// Badger transaction: the new header, body and template counts are written
// under the last part's key and the other parts' keys are deleted, so that
// a crash at any point leaves either the parts or the whole, and a reader's
// snapshot sees one or the other.
//
// The policy is tiered, as an LSM's: a block is small below mergeFull
// entries; a run of small blocks is merged when it holds at least
// mergeFull entries (up to mergeTarget) or mergeFanIn blocks. Every entry
// is rewritten about once under load (commits of a thousand entries make
// blocks of 4k–8k in one merge), and log16 times for one-entry commits,
// never once per commit: a rule that merged any two small blocks would
// rewrite a growing block on every commit of a slow day. Days over for an
// hour (settled) merge what is left, once. Blocks committed since the last
// pass are left for the next one, so that the journal's consumers (the
// keyword indexer, alert evaluation) read recent entries from the small
// block they were committed in.
//
// Why not blocks per stream. Keys by sequence range cannot express blocks
// that hold one source's entries of many commits (their ranges would
// interleave); that needs a map from ID to block, and scans in ID order
// would hold a block of every stream open at once. What blocks per stream
// buy was measured (BenchmarkStreamLayout in storage/block, blocks of up
// to 8,192 entries): on real logs of eight systems interleaved, bodies of
// 16.0 bytes per entry in row order against 8.9 per stream, nearly all of
// it in the messages (14.5 against 8.0), since lines are alike within a
// source; on the load generator's lines, whose messages do not depend on
// their source, per stream costs more (22.6 against 19.5: a stream's IDs
// are not consecutive, 5 bytes each). So a merged block keeps row order
// and one key range, and stores its messages grouped by source where that
// saves a tenth or more (block.CodecFramesBySource), which takes that body
// to 10.2 bytes per entry (messages 8.7) without a map from ID to block. Headers keep
// per-source counts and value filters, so a query on one source skips the
// blocks without it either way.

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"time"

	"github.com/dgraph-io/badger/v4"
	"github.com/logengine/logengine/storage/block"
	"github.com/logengine/logengine/storage/logs"
)

// Merge sizes; variables so that tests can make them small.
var (
	// mergeFull is the entries from which a block is not merged again.
	mergeFull = 4096
	// mergeTarget bounds the entries of a merged block. A point read
	// decodes the block it reads from, and the keyword index's candidates
	// for a request id are checked by point reads of some 40 blocks that
	// do not hold it (its filters' false positives among a 12M-log day):
	// with blocks of 16k entries that search took 300 ms, with 8k 165 ms,
	// with the 1,000 of a commit 50 ms. Fewer blocks make a needle on a
	// field faster (20, 27 and 166 ms on the same day), and every scan.
	mergeTarget = 8192
	// mergeFanIn is the most blocks a run holds before it is merged
	// whatever its entries.
	mergeFanIn = 16
	// mergeMaxRaw and mergeMaxValues bound a merged block's size before
	// compression and its tags plus field values, well below what a block
	// may hold (block.MaxRawBytes, block.MaxValues): logs of 10 KB or of
	// hundreds of fields make fewer entries per block.
	mergeMaxRaw    = 16 << 20
	mergeMaxValues = block.MaxValues / 4
)

// settledAfter is how long after its end a day is settled: late logs
// rarely come after it, so its last small blocks are merged whatever their
// number.
const settledAfter = time.Hour

// mergeNow is the merger's clock; tests set it to make days settled or not.
var mergeNow = time.Now

// MergeStats says what a MergeBlocks pass did.
type MergeStats struct {
	Merges  int // merged blocks written
	Blocks  int // blocks joined into them
	Entries int // entries rewritten
}

// mergeState is what the merger remembers between passes; guarded by
// Store.mergeMu. newMergeState makes its maps.
type mergeState struct {
	passed bool   // a first pass, over every day, is done
	high   uint64 // the highest sequence committed when the last pass began
	// touched holds the days committed to since the last pass began;
	// before, those committed to before it (whose new blocks it left for
	// the next pass).
	touched, before map[Day]bool
	// settled holds the settled days merged since they were last
	// committed to: a pass skips them.
	settled map[Day]bool
}

func newMergeState(high uint64) mergeState {
	return mergeState{high: high, touched: map[Day]bool{}, settled: map[Day]bool{}}
}

// noteTouched records that a commit wrote blocks of day.
func (s *Store) noteTouched(day Day) {
	s.mergeMu.Lock()
	s.merge.touched[day] = true
	delete(s.merge.settled, day)
	s.mergeMu.Unlock()
}

// MergeBlocks joins the small blocks of every day commits touched since
// the last pass (every day, the first time) into larger ones (see the
// DESIGN note above). It runs one merge at a time with deletions and
// retention (delMu), each merge in a transaction of its own, and stops at
// ctx's end with what it merged so far. Appends go on meanwhile: they write
// new keys only.
func (s *Store) MergeBlocks(ctx context.Context) (MergeStats, error) {
	var st MergeStats
	s.mergeMu.Lock()
	first := !s.merge.passed
	limit := s.merge.high
	touched, before := s.merge.touched, s.merge.before
	s.merge.touched, s.merge.before = map[Day]bool{}, touched
	s.merge.high = s.high.Load()
	done := maps.Clone(s.merge.settled)
	s.mergeMu.Unlock()
	days, err := s.Days(0, MaxID.Nanos)
	if err != nil {
		return st, fmt.Errorf("merge blocks: %w", err)
	}
	now := mergeNow().UnixNano()
	var failed error
	for _, day := range days {
		if err := ctx.Err(); err != nil {
			failed = err
			break
		}
		settled := day.Start()+logs.NanosPerDay+int64(settledAfter) < now
		if !first && !touched[day] && !before[day] && (!settled || done[day]) {
			continue
		}
		if err := s.mergeDay(ctx, day, limit, settled, &st); err != nil {
			failed = fmt.Errorf("merge blocks of %s: %w", day, err)
			break
		}
		if settled {
			s.mergeMu.Lock()
			if !s.merge.touched[day] {
				s.merge.settled[day] = true
			}
			s.mergeMu.Unlock()
		}
	}
	s.mergeMu.Lock()
	if failed == nil {
		s.merge.passed = true
	} else {
		// Every day touched before this pass is looked at again next time.
		for _, m := range []map[Day]bool{touched, before} {
			for d := range m {
				s.merge.touched[d] = true
			}
		}
	}
	s.mergeMu.Unlock()
	return st, failed
}

// mergeDay merges the runs of day's small blocks that the policy says
// should be, among the blocks committed up to sequence limit (all of them
// on a settled day).
func (s *Store) mergeDay(ctx context.Context, day Day, limit uint64, settled bool, st *MergeStats) error {
	var refs []blockRef
	err := s.view(func(txn *badger.Txn) error {
		if err := s.checkKeys(headerDayPrefix(day)); err != nil {
			return err
		}
		var err error
		refs, err = dayHeaders(ctx, txn, day, MinID, MaxID, false)
		return err
	})
	if err != nil {
		return err
	}
	small := func(r *blockRef) bool { return r.count < mergeFull && (settled || r.last <= limit) }
	for i := 0; i < len(refs); {
		if !small(&refs[i]) {
			i++
			continue
		}
		j, sum := i, 0
		for j < len(refs) && small(&refs[j]) && j-i < mergeFanIn && sum+refs[j].count <= mergeTarget {
			sum += refs[j].count
			j++
		}
		// A run cut by a full block, by new blocks or by the target waits
		// for more only when it is short and the day still takes commits.
		if j-i < 2 || !settled && sum < mergeFull && j-i < mergeFanIn {
			i = max(j, i+1)
			continue
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		n, err := s.mergeRun(day, refs[i:j], st)
		if err != nil {
			return err
		}
		i += max(n, 1)
	}
	return nil
}

// errRunChanged says a run's blocks changed between the pass's read of
// them and its merge (a deletion rewrote one): the run is left for the
// next pass.
var errRunChanged = errors.New("the blocks changed meanwhile")

// mergeRun merges a prefix of run (blocks of day, in key order) into one
// block, and returns how many blocks it joined: all of them, or fewer when
// their sizes before compression would pass mergeMaxRaw or
// mergeMaxValues (at least two, or none).
func (s *Store) mergeRun(day Day, run []blockRef, st *MergeStats) (int, error) {
	// The parts are read before they are deleted: a damaged table block
	// must fail the merge, not hand it fewer entries (tablecheck.go).
	for _, key := range []func(Day, uint64) []byte{blockHeaderKey, blockBodyKey, blockTemplatesKey} {
		if err := s.checkKeyRange(key(day, run[0].last), key(day, run[len(run)-1].last+1)); err != nil {
			return 0, err
		}
	}
	s.delMu.Lock()
	defer s.delMu.Unlock()
	joined, entries := 0, 0
	err := s.update(func(txn *badger.Txn) error {
		var parts []blockRef
		raw, values := 0, 0
		for i := range run {
			ref, err := readHeaderRecord(txn, day, run[i].last)
			if err != nil {
				return err
			}
			if ref.first != run[i].first || ref.count != run[i].count || ref.minID != run[i].minID || ref.maxID != run[i].maxID {
				return errRunChanged
			}
			h, err := ref.header()
			if err != nil {
				return err
			}
			r, v := h.Size()
			if len(parts) >= 2 && (raw+r > mergeMaxRaw || values+v > mergeMaxValues) {
				break
			}
			raw, values = raw+r, values+v
			parts = append(parts, ref)
		}
		if len(parts) < 2 {
			return nil
		}
		// Each part decodes into the tail of one array (DecodeInto uses
		// dst's array when it is large enough): no copy, no growing.
		n := 0
		for i := range parts {
			n += parts[i].count
		}
		all := make([]Entry, 0, n)
		for i := range parts {
			es, err := readBlockWith(txn, nil, &parts[i], decodeWhole, all[len(all):], nil)
			if err != nil {
				return err
			}
			if len(es) != parts[i].count {
				return fmt.Errorf("block %s/%d: %w: %d entries, its header says %d", day, parts[i].last, block.ErrCorrupt, len(es), parts[i].count)
			}
			all = all[:len(all)+len(es)]
		}
		lastPart := &parts[len(parts)-1]
		for _, p := range parts[:len(parts)-1] {
			for _, k := range [][]byte{blockHeaderKey(day, p.last), blockBodyKey(day, p.last), blockTemplatesKey(day, p.last)} {
				if err := txn.Delete(k); err != nil {
					return err
				}
			}
		}
		if err := setBlock(txn, day, parts[0].first, lastPart.last, all, true); err != nil {
			return err
		}
		if s.hookMerge != nil {
			if err := s.hookMerge(len(parts)); err != nil {
				return err
			}
		}
		joined, entries = len(parts), len(all)
		return nil
	})
	if errors.Is(err, errRunChanged) {
		return len(run), nil
	}
	if err != nil {
		return 0, fmt.Errorf("merge blocks %d..%d: %w", run[0].first, run[len(run)-1].last, wrapWriteErr("write", err))
	}
	if joined > 0 {
		st.Merges++
		st.Blocks += joined
		st.Entries += entries
	}
	return joined, nil
}

// readHeaderRecord reads the header record of day's block with the given
// last sequence; a missing one is errRunChanged.
func readHeaderRecord(txn *badger.Txn, day Day, last uint64) (blockRef, error) {
	r, err := getHeaderRecord(txn, day, last)
	if errors.Is(err, badger.ErrKeyNotFound) {
		return blockRef{}, errRunChanged
	}
	return r, err
}

// update is view for a read-write transaction (through write).
func (s *Store) update(fn func(txn *badger.Txn) error) error {
	return s.guardRead(func() error { return s.write(fn) })
}
