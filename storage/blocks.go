package storage

// # DESIGN: entries are stored in blocks
//
// One Badger key per log cost ~230 bytes and ~20 CPU-µs per log on disk and
// in compactions; a block of up to maxBlockEntries entries in the column
// format of storage/block costs ~20 bytes per log. Each commit writes, per
// UTC day it touches, one block or a few (a block never spans a day, so
// retention still drops whole days with DropPrefix), as two records in the
// commit's own transaction, so that an acknowledged entry is as durable as
// before:
//
//	h <day:4> <lastSeq:8> → uvarint(firstSeq), block.Header
//	k <day:4> <lastSeq:8> → block body
//
// Why keyed by sequence range. An ID is (time, sequence) and its time may be
// anything; its sequence is unique and assignIDs gives the entries of one
// commit and day a contiguous range, so the blocks of a day cover disjoint
// sequence ranges, and the block that holds an ID is the first whose last
// sequence is at least the ID's: one seek, no index of IDs. Headers sit apart
// from bodies so that planning, counting and scans read a day's headers
// without touching its bodies (whose column stats serve the field queries to
// come), and so that a body is read only for the blocks a query must see.
//
// Why per commit and day, not per source. A block made at commit needs no
// second write to make an append durable; the merger (merge.go) then joins
// a day's small blocks adjacent in key order into blocks of 4k–8k
// entries, which keeps this layout (a merged block covers the union of its
// parts' sequences, which it may, since ranges only need to be disjoint),
// while blocks per stream sorted by time need the lookup below to change.
//
// Scans merge the blocks of a day in ID order: blocks are opened lazily, when
// the merge reaches their first ID, so that a day of blocks that follow each
// other in time (live ingest) holds one or two decoded blocks at a time;
// where blocks of more than maxOpenEntries overlap (each commit spread over the day),
// the scan goes window by window instead, decoding blocks more than once
// but holding one window's entries. Such layouts are what a merger would
// rewrite; keys by sequence range cannot express blocks sorted by time
// across commits, so that merger needs posting lists that point at blocks
// (the next stage) rather than a seek by sequence.
// Deletions rewrite the blocks that hold deleted entries, each in its own
// transaction under the same key.
//
// What headers answer alone. A header keeps, besides level counts and tags,
// each source's entries by level (up to 256 sources; SourceLevelCounts), so
// a count by source over whole blocks reads no body, and per field column a
// value set or a bloom filter of its strings plus numeric ranges, so a scan
// skips the blocks that cannot hold a match (ScanWhere). These are per block
// written at commit and again by the merger: a block per stream would make
// them sharper (one source, fewer values); what it would save on disk is
// mostly won by merged blocks' messages grouped by source (merge.go).

import (
	"bytes"
	"cmp"
	"container/heap"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/dgraph-io/badger/v4"
	"github.com/logengine/logengine/storage/block"
)

// maxBlockEntries bounds the entries of a block written at commit. 4,096
// entries of ~200 bytes decode in well under a millisecond, which is what a
// point read of one of them costs.
const maxBlockEntries = 4096

func blockHeaderKey(d Day, lastSeq uint64) []byte {
	b := make([]byte, 0, 13)
	b = appendDay(append(b, nsHeader), d)
	return binary.BigEndian.AppendUint64(b, lastSeq)
}

func blockBodyKey(d Day, lastSeq uint64) []byte {
	b := make([]byte, 0, 13)
	b = appendDay(append(b, nsBlock), d)
	return binary.BigEndian.AppendUint64(b, lastSeq)
}

// blockTemplatesKey keys a block's template counts. Scans read every
// header of a day, and in a block of many sources and templates these
// counts are most of a header's bytes (10 KB of 11 in a block of 1,000
// entries from 50 sources), so they are kept apart and read only when
// counting by template.
func blockTemplatesKey(d Day, lastSeq uint64) []byte {
	b := make([]byte, 0, 13)
	b = appendDay(append(b, nsTemplates), d)
	return binary.BigEndian.AppendUint64(b, lastSeq)
}

// templatesApartBytes is the size of template counts above which they are
// kept apart from the header: smaller ones (a block without templates, a
// block of one source) cost less in the header than a record of their own.
const templatesApartBytes = 256

func headerDayPrefix(d Day) []byte    { return appendDay([]byte{nsHeader}, d) }
func bodyDayPrefix(d Day) []byte      { return appendDay([]byte{nsBlock}, d) }
func templatesDayPrefix(d Day) []byte { return appendDay([]byte{nsTemplates}, d) }

// blockRef is a block's header record. Its header proper is unmarshalled
// only when the block is read: deciding which blocks meet a range needs
// only the count and ID range at its start (block.PeekRange).
type blockRef struct {
	day          Day
	first, last  uint64 // the sequence range the block covers
	count        int
	minID, maxID ID
	raw          []byte // the marshalled header
	h            *block.Header
}

func (r *blockRef) holds(id ID) bool {
	return r.first <= id.Seq && id.Seq <= r.last &&
		r.minID.Compare(id) <= 0 && id.Compare(r.maxID) <= 0
}

// header returns the block's header, unmarshalling it on first use.
func (r *blockRef) header() (*block.Header, error) {
	if r.h == nil {
		if err := r.headerInto(new(block.Header)); err != nil {
			return nil, err
		}
	}
	return r.h, nil
}

// headerInto unmarshals the block's header into h, reusing its slices
// (block.Header.UnmarshalReusing), and makes it r's header.
func (r *blockRef) headerInto(h *block.Header) error {
	if err := h.UnmarshalReusing(r.raw); err != nil {
		return fmt.Errorf("block header %s/%d: %w", r.day, r.last, err)
	}
	if h.Count != r.count || h.MinID != r.minID || h.MaxID != r.maxID {
		return fmt.Errorf("block header %s/%d: %w: its range changed", r.day, r.last, block.ErrCorrupt)
	}
	r.h = h
	return nil
}

// refused reports whether mayMatch (when set) refuses the block.
func (r *blockRef) refused(mayMatch func(*block.Header) bool) (bool, error) {
	if mayMatch == nil {
		return false, nil
	}
	h, err := r.header()
	if err != nil {
		return false, err
	}
	return !mayMatch(h), nil
}

func encodeHeaderRecord(first uint64, h *block.Header) []byte {
	hb := h.Marshal()
	b := make([]byte, 0, binary.MaxVarintLen64+len(hb))
	b = binary.AppendUvarint(b, first)
	return append(b, hb...)
}

// decodeHeaderRecord decodes a header record's key and value; the value
// is kept (not copied: copy it when it outlives a transaction's callback).
func decodeHeaderRecord(key, v []byte) (blockRef, error) {
	if len(key) != 13 {
		return blockRef{}, fmt.Errorf("block header key %x: want 13 bytes", key)
	}
	r := blockRef{
		day:  Day(binary.BigEndian.Uint32(key[1:5])),
		last: binary.BigEndian.Uint64(key[5:13]),
	}
	first, n := binary.Uvarint(v)
	if n <= 0 || first > r.last {
		return blockRef{}, fmt.Errorf("block header %s/%d: %w: bad first sequence", r.day, r.last, block.ErrCorrupt)
	}
	r.first = first
	r.raw = v[n:]
	var err error
	if r.count, r.minID, r.maxID, err = block.PeekRange(r.raw); err != nil {
		return blockRef{}, fmt.Errorf("block header %s/%d: %w", r.day, r.last, err)
	}
	if DayOf(r.minID.Nanos) != r.day || DayOf(r.maxID.Nanos) != r.day || r.minID.Compare(r.maxID) > 0 {
		return blockRef{}, fmt.Errorf("block header %s/%d: %w: ids %s..%s are not on its day", r.day, r.last, block.ErrCorrupt, r.minID, r.maxID)
	}
	return r, nil
}

// dayRun is the entries of one commit on one day, by index, in sequence
// order.
type dayRun struct {
	day Day
	idx []int
}

// assignIDs gives each entry its ID, starting at sequence first: the entries
// of one day get a contiguous range, in the order they came, so that the
// day's blocks cover disjoint sequence ranges. It returns the runs, in the
// order of their sequences.
func assignIDs(entries []Entry, ids []ID, first uint64) []dayRun {
	var runs []dayRun
	at := map[Day]int{}
	for i := range entries {
		d := DayOf(entries[i].Time.UnixNano())
		r, ok := at[d]
		if !ok {
			r = len(runs)
			at[d] = r
			runs = append(runs, dayRun{day: d})
		}
		runs[r].idx = append(runs[r].idx, i)
	}
	seq := first
	for _, r := range runs {
		for _, i := range r.idx {
			id := ID{Nanos: entries[i].Time.UnixNano(), Seq: seq}
			entries[i].ID, ids[i] = id, id
			seq++
		}
	}
	return runs
}

// idsBySeq returns ids ordered by sequence, as the journal lists them.
func idsBySeq(ids []ID) []ID {
	out := slices.Clone(ids)
	slices.SortFunc(out, func(a, b ID) int { return cmp.Compare(a.Seq, b.Seq) })
	return out
}

// writeBlocks adds the blocks of runs to txn: each run split in sequence
// order into blocks of at most maxBlockEntries. Called by the committer:
// a block's entries are gathered, in ID order, in its reused buffer, which
// is cleared afterwards so that it keeps no request's strings alive.
func (s *Store) writeBlocks(txn *badger.Txn, entries []Entry, runs []dayRun) error {
	defer func() { clear(s.blockBuf[:cap(s.blockBuf)]) }()
	for _, r := range runs {
		s.noteTouched(r.day)
		for start := 0; start < len(r.idx); start += maxBlockEntries {
			part := r.idx[start:min(start+maxBlockEntries, len(r.idx))]
			first, last := entries[part[0]].ID.Seq, entries[part[len(part)-1]].ID.Seq
			// Sorting indexes moves ints, not entries, and leaves the
			// buffer sorted for setBlock.
			s.blockIdx = append(s.blockIdx[:0], part...)
			slices.SortFunc(s.blockIdx, func(a, b int) int { return entries[a].ID.Compare(entries[b].ID) })
			buf := s.blockBuf[:0]
			for _, i := range s.blockIdx {
				buf = append(buf, entries[i])
			}
			s.blockBuf = buf
			if err := setBlock(txn, r.day, first, last, buf, false); err != nil {
				return err
			}
		}
	}
	return nil
}

// setBlock encodes entries (of one day; sorted here) as the block covering
// sequences first..last and adds it to txn. replacing says a block may be
// stored under that key already, whose template counts must not outlive it.
func setBlock(txn *badger.Txn, day Day, first, last uint64, entries []Entry, replacing bool) error {
	slices.SortFunc(entries, func(a, b Entry) int { return a.ID.Compare(b.ID) })
	h, body, err := block.Encode(entries, nil)
	if err != nil {
		return err
	}
	if h.TemplateLevelsSize() > templatesApartBytes {
		if err := txn.SetEntry(badger.NewEntry(blockTemplatesKey(day, last), h.TakeTemplateLevels())); err != nil {
			return err
		}
	} else if replacing {
		if err := txn.Delete(blockTemplatesKey(day, last)); err != nil {
			return err
		}
	}
	if err := txn.SetEntry(badger.NewEntry(blockHeaderKey(day, last), encodeHeaderRecord(first, &h))); err != nil {
		return err
	}
	return txn.SetEntry(badger.NewEntry(blockBodyKey(day, last), body))
}

// dayHeaders returns the header records of day whose ID range meets
// [lo, hi), in key order (by last sequence). With withRaw false the
// headers proper are left out (raw is nil): a scan without a header filter
// reads the header of a block when it opens it (loadHeader), and a
// newest-first search with a limit opens a few of a busy day's thousands of
// blocks, while copying every header cost most of its scan. Kept headers
// are copied into shared chunks (v is valid only in the iteration's call):
// one allocation each cost more than reading them.
func dayHeaders(ctx context.Context, txn *badger.Txn, day Day, lo, hi ID, withRaw bool) ([]blockRef, error) {
	return dayHeadersWhere(ctx, txn, day, lo, hi, withRaw, nil)
}

// dayHeadersWhere is dayHeaders without the blocks mayMatch (when set)
// refuses: each header is unmarshalled in place (its filters alias the
// record) and only those of the blocks a scan may read are copied. A
// needle's scan refuses nearly every block, and copying the headers of a
// 12M-log day (their bloom filters are 10 bits per distinct value) was
// most of its time.
func dayHeadersWhere(ctx context.Context, txn *badger.Txn, day Day, lo, hi ID, withRaw bool, mayMatch func(*block.Header) bool) ([]blockRef, error) {
	var refs []blockRef
	var chunk []byte
	var h block.Header
	err := iterate(ctx, txn, headerDayPrefix(day), func(k, v []byte) error {
		r, err := decodeHeaderRecord(k, v)
		if err != nil {
			return err
		}
		if r.maxID.Compare(lo) < 0 || r.minID.Compare(hi) >= 0 {
			return nil
		}
		if mayMatch != nil {
			if err := r.headerInto(&h); err != nil {
				return err
			}
			r.h = nil // h is reused: the block's header is unmarshalled again when it is read
			if !mayMatch(&h) {
				return nil
			}
		}
		if !withRaw {
			r.raw = nil
		} else {
			if len(r.raw) > cap(chunk)-len(chunk) {
				chunk = make([]byte, 0, max(headerChunkBytes, len(r.raw)))
			}
			off := len(chunk)
			chunk = append(chunk, r.raw...)
			r.raw = chunk[off:len(chunk):len(chunk)]
		}
		refs = append(refs, r)
		return nil
	})
	return refs, err
}

// headerChunkBytes is the size of the chunks dayHeaders copies headers
// into.
const headerChunkBytes = 256 << 10

// loadHeader reads r's header record when dayHeaders left it out.
func (r *blockRef) loadHeader(txn *badger.Txn) error {
	if r.raw != nil {
		return nil
	}
	got, err := getHeaderRecord(txn, r.day, r.last)
	if err != nil {
		return err
	}
	if got.first != r.first || got.count != r.count || got.minID != r.minID || got.maxID != r.maxID {
		return fmt.Errorf("block header %s/%d: %w: its range changed", r.day, r.last, block.ErrCorrupt)
	}
	r.raw = got.raw
	return nil
}

// getHeaderRecord reads and decodes the header record of day's block with
// the given last sequence, its value copied.
func getHeaderRecord(txn *badger.Txn, day Day, last uint64) (blockRef, error) {
	item, err := txn.Get(blockHeaderKey(day, last))
	if err != nil {
		return blockRef{}, fmt.Errorf("block header %s/%d: %w", day, last, err)
	}
	v, err := item.ValueCopy(nil)
	if err != nil {
		return blockRef{}, fmt.Errorf("block header %s/%d: %w", day, last, err)
	}
	return decodeHeaderRecord(item.Key(), v)
}

// decodeFunc decodes a block body into dst's array when it is large
// enough: block.DecodeInto, or a partial decode.
// bufs, when not nil, is reused too (block.Buffers): the caller is done with
// the entries it last decoded with them.
type decodeFunc func(dst []Entry, bufs *block.Buffers, h *block.Header, body []byte) ([]Entry, error)

// decodeWhole decodes whole entries. It does not reuse buffers: callers of
// whole scans keep copies of entries (*e), whose fields must stay theirs.
func decodeWhole(dst []Entry, _ *block.Buffers, h *block.Header, body []byte) ([]Entry, error) {
	return block.DecodeInto(dst, h, body)
}

// readBlock reads and decodes the body of r.
func readBlock(txn *badger.Txn, r *blockRef) ([]Entry, error) {
	return readBlockWith(txn, nil, r, decodeWhole, nil, nil)
}

// readBlockWith reads r's body with bodies, or with txn.Get when bodies is
// nil, and decodes it.
func readBlockWith(txn *badger.Txn, bodies *bodyReader, r *blockRef, decode decodeFunc, dst []Entry, bufs *block.Buffers) ([]Entry, error) {
	h, err := r.header()
	if err != nil {
		return nil, err
	}
	var entries []Entry
	read := func(body []byte) error {
		var err error
		entries, err = decode(dst, bufs, h, body)
		return err
	}
	if bodies != nil {
		err = bodies.with(r, read)
	} else {
		err = withBody(txn, r, read)
	}
	return entries, err
}

// bodyReader reads the bodies of blocks within one read-only transaction
// through an iterator: Get copies each value into new memory (a merged
// block's body is a few hundred KB, ~100 MB for the bodies of a day of 1M
// logs), an iterator without prefetching hands out the bytes Badger holds.
// Not for a read-write transaction, which allows one iterator at a time.
type bodyReader struct {
	txn *badger.Txn
	it  *badger.Iterator // over the bodies of day, opened on first use
	day Day
}

func (b *bodyReader) close() {
	if b.it != nil {
		b.it.Close()
		b.it = nil
	}
}

// item returns the item of r's body, nil when there is none.
func (b *bodyReader) item(r *blockRef) *badger.Item {
	if b.it == nil || b.day != r.day {
		b.close()
		opts := badger.DefaultIteratorOptions
		opts.Prefix = bodyDayPrefix(r.day)
		opts.PrefetchValues = false
		b.it, b.day = b.txn.NewIterator(opts), r.day
	}
	key := blockBodyKey(r.day, r.last)
	// Reading blocks in key order, the body wanted is the one after the
	// last read, which the iterator has read ahead: a Seek would drop it
	// and read it again (with the one after it).
	if b.it.Valid() && bytes.Compare(b.it.Item().Key(), key) < 0 {
		b.it.Next()
	}
	if !b.it.Valid() || !bytes.Equal(b.it.Item().Key(), key) {
		b.it.Seek(key)
	}
	if !b.it.Valid() || !bytes.Equal(b.it.Item().Key(), key) {
		return nil
	}
	return b.it.Item()
}

// with is withBody through b's iterator.
func (b *bodyReader) with(r *blockRef, fn func(body []byte) error) error {
	item := b.item(r)
	if item == nil {
		key := blockBodyKey(r.day, r.last)
		return fmt.Errorf("block %s/%d: read body: %w", r.day, r.last, missingKeyError{key: key})
	}
	if err := item.Value(fn); err != nil {
		return fmt.Errorf("block %s/%d: %w", r.day, r.last, err)
	}
	return nil
}

// withBody calls fn with r's body, valid only during the call. Every read
// of a body goes through it, so that one missing while its header is there
// (gone with its day, or in a damaged table block) is a missingKeyError,
// which Store.view tells apart.
func withBody(txn *badger.Txn, r *blockRef, fn func(body []byte) error) error {
	key := blockBodyKey(r.day, r.last)
	item, err := txn.Get(key)
	if errors.Is(err, badger.ErrKeyNotFound) {
		err = missingKeyError{key: key}
	}
	if err != nil {
		return fmt.Errorf("block %s/%d: read body: %w", r.day, r.last, err)
	}
	if err := item.Value(fn); err != nil {
		return fmt.Errorf("block %s/%d: %w", r.day, r.last, err)
	}
	return nil
}

// decodedBlock is a block's entries, sorted by ID.
type decodedBlock struct {
	day         Day
	first, last uint64
	entries     []Entry
	partial     bool // decoded by a pointReader's decode, its arrays reused
	upTo        ID   // partial: the last id it was decoded for
}

func (b *decodedBlock) covers(id ID) bool {
	return DayOf(id.Nanos) == b.day && b.first <= id.Seq && id.Seq <= b.last
}

// find returns the entry with the given id, or nil.
func (b *decodedBlock) find(id ID) *Entry {
	i, ok := slices.BinarySearchFunc(b.entries, id, func(e Entry, id ID) int { return e.ID.Compare(id) })
	if !ok {
		return nil
	}
	return &b.entries[i]
}

// blockCacheEntries bounds the entries of the decoded blocks point reads
// keep (some 30 MB of typical logs): the pages of a search and the
// journal's consumers read entries of a few dozen recent blocks over and
// over. blockCacheBlocks bounds their number, since a lookup walks them.
const (
	blockCacheEntries = 64 * 1024
	blockCacheBlocks  = 256
)

// blockCache keeps recently decoded blocks for point reads. A deletion that
// rewrites blocks bumps gen and empties it; a reader that read a block
// before that (from an older snapshot) does not put it back, because it
// noted gen before its transaction began.
type blockCache struct {
	off     bool // Options.NoPointCache: add keeps nothing
	mu      sync.Mutex
	gen     uint64
	blocks  []*decodedBlock // most recently used last
	entries int             // of blocks
}

func (c *blockCache) generation() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.gen
}

func (c *blockCache) lookup(id ID) *decodedBlock {
	c.mu.Lock()
	defer c.mu.Unlock()
	for i := len(c.blocks) - 1; i >= 0; i-- {
		if b := c.blocks[i]; b.covers(id) {
			if i != len(c.blocks)-1 {
				copy(c.blocks[i:], c.blocks[i+1:])
				c.blocks[len(c.blocks)-1] = b
			}
			return b
		}
	}
	return nil
}

func (c *blockCache) add(gen uint64, b *decodedBlock) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if gen != c.gen || c.off {
		return
	}
	for len(c.blocks) > 0 && (c.entries+len(b.entries) > blockCacheEntries || len(c.blocks) >= blockCacheBlocks) {
		c.entries -= len(c.blocks[0].entries)
		copy(c.blocks, c.blocks[1:])
		c.blocks[len(c.blocks)-1] = nil
		c.blocks = c.blocks[:len(c.blocks)-1]
	}
	c.blocks = append(c.blocks, b)
	c.entries += len(b.entries)
}

// invalidate is called after blocks were rewritten or dropped.
func (c *blockCache) invalidate() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	clear(c.blocks)
	c.blocks = c.blocks[:0]
	c.entries = 0
}

// pointReader finds entries by ID within one transaction.
type pointReader struct {
	// check checks the table blocks of a day's headers (Store.checkKeys).
	check func(prefix []byte) error
	txn   *badger.Txn
	cache *blockCache
	gen   uint64
	day   Day
	it    *badger.Iterator // over the headers of day
	last  *decodedBlock
	// decode, when set, decodes blocks instead of readBlock, into bufs
	// and the array of the block before, and only the entries of the ids
	// still to read (rest, ascending) that the block holds; such blocks
	// are not cached.
	decode rowsDecodeFunc
	bufs   *block.Buffers
	rest   []ID
}

// rowsDecodeFunc is a decodeFunc that makes only the entries whose IDs
// want holds (ascending).
type rowsDecodeFunc func(dst []Entry, bufs *block.Buffers, h *block.Header, body []byte, want []ID) ([]Entry, error)

func (r *pointReader) close() {
	if r.it != nil {
		r.it.Close()
	}
}

// get returns the entry with the given id, or nil when there is none.
func (r *pointReader) get(id ID) (*Entry, error) {
	if r.last != nil && r.last.covers(id) {
		// A block decoded for some of its entries answers for the ids up
		// to the last it was decoded for; a later one (blocks overlap in
		// time) decodes it again.
		if !r.last.partial || id.Compare(r.last.upTo) <= 0 {
			return r.last.find(id), nil
		}
	}
	if b := r.cache.lookup(id); b != nil {
		r.last = b
		return b.find(id), nil
	}
	day := DayOf(id.Nanos)
	if r.it == nil || r.day != day {
		if r.it != nil {
			r.it.Close()
			r.it = nil
		}
		if err := r.check(headerDayPrefix(day)); err != nil {
			return nil, err
		}
		r.day = day
		r.it = r.txn.NewIterator(badger.IteratorOptions{Prefix: headerDayPrefix(day)})
	}
	r.it.Seek(blockHeaderKey(day, id.Seq))
	if !r.it.Valid() {
		return nil, nil
	}
	item := r.it.Item()
	var ref blockRef
	err := item.Value(func(v []byte) error {
		var err error
		ref, err = decodeHeaderRecord(item.Key(), v)
		ref.raw = bytes.Clone(ref.raw) // v is valid only in this call
		return err
	})
	if err != nil {
		return nil, err
	}
	if !ref.holds(id) {
		return nil, nil
	}
	if r.decode != nil {
		var dst []Entry
		if r.last != nil && r.last.partial {
			dst = r.last.entries
		}
		want := r.rest
		k := 0
		for k < len(want) && ref.holds(want[k]) {
			k++
		}
		if k == 0 { // id is the first of rest, and ref holds it
			return nil, fmt.Errorf("BUG: point read of %s outside the ids to read", id)
		}
		want = want[:k]
		decode := func(dst []Entry, bufs *block.Buffers, h *block.Header, body []byte) ([]Entry, error) {
			return r.decode(dst, bufs, h, body, want)
		}
		entries, err := readBlockWith(r.txn, nil, &ref, decode, dst, r.bufs)
		if err != nil {
			return nil, err
		}
		r.last = &decodedBlock{day: ref.day, first: ref.first, last: ref.last, entries: entries, partial: true, upTo: want[k-1]}
		return r.last.find(id), nil
	}
	entries, err := readBlock(r.txn, &ref)
	if err != nil {
		return nil, err
	}
	b := &decodedBlock{day: ref.day, first: ref.first, last: ref.last, entries: entries}
	r.cache.add(r.gen, b)
	r.last = b
	return b.find(id), nil
}

// getIDs calls fn with a copy of each entry of ids that exists, in the
// order given, within one transaction.
func (s *Store) getIDs(ctx context.Context, ids []ID, fn func(e *Entry) bool) error {
	return s.getIDsWith(ctx, ids, nil, fn)
}

// getIDsWith is getIDs decoding blocks with decode when it is not nil (see
// pointReader); ids must then ascend.
func (s *Store) getIDsWith(ctx context.Context, ids []ID, decode rowsDecodeFunc, fn func(e *Entry) bool) error {
	gen := s.blocks.generation()
	return s.view(func(txn *badger.Txn) error {
		r := pointReader{check: s.checkKeys, txn: txn, cache: &s.blocks, gen: gen, decode: decode}
		if decode != nil {
			r.bufs = new(block.Buffers)
		}
		defer r.close()
		for i, id := range ids {
			if i%256 == 0 {
				if err := ctx.Err(); err != nil {
					return err
				}
			}
			r.rest = ids[i:]
			e, err := r.get(id)
			if err != nil {
				return fmt.Errorf("get entry %s: %w", id, err)
			}
			if e == nil {
				continue // dropped by retention, or deleted
			}
			// A copy: fn may keep it, and the block stays in the cache.
			cp := *e
			if !fn(&cp) {
				return nil
			}
		}
		return nil
	})
}

// cursor walks one decoded block of a scan.
type cursor struct {
	decoded
	i, end  int // forward: i < end; reverse: i > end
	reverse bool
}

// decoded is a block's entries and the buffers they were decoded with,
// which serve the next block once the merge is done with them.
type decoded struct {
	entries []Entry
	bufs    *block.Buffers
}

func (c *cursor) id() ID { return c.entries[c.i].ID }

func (c *cursor) next() bool {
	if c.reverse {
		c.i--
		return c.i > c.end
	}
	c.i++
	return c.i < c.end
}

type cursorHeap []*cursor

func (h cursorHeap) Len() int { return len(h) }
func (h cursorHeap) Less(i, j int) bool {
	c := h[i].id().Compare(h[j].id())
	if h[i].reverse {
		return c > 0
	}
	return c < 0
}
func (h cursorHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *cursorHeap) Push(x any)   { *h = append(*h, x.(*cursor)) }
func (h *cursorHeap) Pop() any {
	old := *h
	c := old[len(old)-1]
	*h = old[:len(old)-1]
	return c
}

// scanBlocks calls fn with the entries of day's blocks whose IDs fall in
// [lo, hi), in ID order (descending when reverse), and reports whether fn
// stopped the scan.
// mayMatch, when set, is asked with the header of every block in range as
// the day's headers are listed; a block it refuses is not read. Asking it
// of a header in place costs less than copying the header for later, which
// a scan for a rare value did for every block of the day.
func scanBlocks(ctx context.Context, txn *badger.Txn, day Day, lo, hi ID, reverse bool, decode decodeFunc, mayMatch func(*block.Header) bool, fn func(*Entry) bool) (stop bool, err error) {
	refs, err := dayHeadersWhere(ctx, txn, day, lo, hi, mayMatch != nil, mayMatch)
	if err != nil || len(refs) == 0 {
		return false, err
	}
	mayMatch = nil // refs holds the blocks it accepted: no need to ask again
	bodies := bodyReader{txn: txn}
	defer bodies.close()
	if reverse {
		slices.SortFunc(refs, func(a, b blockRef) int { return b.maxID.Compare(a.maxID) })
	} else {
		slices.SortFunc(refs, func(a, b blockRef) int { return a.minID.Compare(b.minID) })
	}
	var h cursorHeap
	var free []decoded // arrays and buffers of finished blocks, for the next ones
	next, n := 0, 0
	open := 0 // entries of the blocks in h
	// rest is where what is not emitted yet begins (forward) or ends
	// (reverse, exclusive).
	rest := lo
	if reverse {
		rest = hi
	}
	for {
		// Open the blocks that start before the merge's next entry.
		for next < len(refs) {
			r := &refs[next]
			if h.Len() > 0 {
				top := h[0].id()
				if !reverse && r.minID.Compare(top) > 0 || reverse && r.maxID.Compare(top) < 0 {
					break
				}
				if open+r.count > maxOpenEntries {
					// Too many blocks overlap here to hold them all
					// decoded: go on window by window after the last
					// entry emitted. Every block that holds an entry
					// beyond it is among refs.
					if reverse {
						return scanWindows(ctx, txn, refs, lo, rest, true, decode, mayMatch, fn)
					}
					return scanWindows(ctx, txn, refs, rest, hi, false, decode, mayMatch, fn)
				}
			}
			next++
			if err := r.loadHeader(txn); err != nil {
				return true, err
			}
			if skip, err := r.refused(mayMatch); err != nil || skip {
				if err != nil {
					return true, err
				}
				continue
			}
			var d decoded
			if len(free) > 0 {
				d, free = free[len(free)-1], free[:len(free)-1]
			} else {
				d.bufs = new(block.Buffers)
			}
			entries, err := readBlockWith(txn, &bodies, r, decode, d.entries, d.bufs)
			if err != nil {
				return true, err
			}
			from, _ := slices.BinarySearchFunc(entries, lo, func(e Entry, id ID) int { return e.ID.Compare(id) })
			to, _ := slices.BinarySearchFunc(entries, hi, func(e Entry, id ID) int { return e.ID.Compare(id) })
			if from >= to {
				free = append(free, decoded{entries, d.bufs})
				continue
			}
			c := &cursor{decoded: decoded{entries, d.bufs}, i: from, end: to, reverse: reverse}
			if reverse {
				c.i, c.end = to-1, from-1
			}
			heap.Push(&h, c)
			open += len(entries)
		}
		if h.Len() == 0 {
			return false, nil
		}
		if n++; n%1024 == 0 {
			if err := ctx.Err(); err != nil {
				return true, err
			}
		}
		c := h[0]
		if !fn(&c.entries[c.i]) {
			return true, nil
		}
		if reverse {
			rest = c.id()
		} else {
			rest = nextID(c.id())
		}
		if c.next() {
			heap.Fix(&h, 0)
		} else {
			// fn saw its last entry: its array serves the next block.
			heap.Pop(&h)
			open -= len(c.entries)
			free = append(free, c.decoded)
		}
	}
}

// maxOpenEntries bounds the entries of the decoded blocks a scan holds at
// once (those of 64 full blocks); beyond it a scan goes window by window
// (scanWindows). Live ingest keeps a handful of blocks open; only blocks
// that each span much of a day (batches of logs spread over the day, as
// several shippers with late logs or imports in random order make them)
// reach it. It counts entries, not blocks: a day of 80 commits of 5,000
// logs spread over the day holds 200,000 entries in 80 blocks, and going
// window by window there decoded each block twice and copied a window of
// entries, to return the newest 100. Variables so that tests can make
// them small.
var maxOpenEntries = 64 * maxBlockEntries

// windowEntries is about how many entries one window of scanWindows holds.
var windowEntries = 64 * 1024

func nextID(id ID) ID {
	if id.Seq == MaxID.Seq {
		return ID{Nanos: id.Nanos + 1}
	}
	return ID{Nanos: id.Nanos, Seq: id.Seq + 1}
}

// scanWindows is scanBlocks for blocks that overlap too much to be merged
// with all of them decoded: it cuts [lo, hi) into time windows expected to
// hold about windowEntries entries (assuming each block's entries spread
// evenly over its time range), and for each window decodes the blocks that
// overlap it, keeps copies of their entries inside it, sorts and emits them.
// A block is decoded once per window it overlaps: slower, but its memory is
// one window's entries and one decoded block.
func scanWindows(ctx context.Context, txn *badger.Txn, refs []blockRef, lo, hi ID, reverse bool, decode decodeFunc, mayMatch func(*block.Header) bool, fn func(*Entry) bool) (bool, error) {
	var window, buf []Entry
	bufs := new(block.Buffers) // entries are copied out before the next block
	bodies := bodyReader{txn: txn}
	defer bodies.close()
	for lo.Compare(hi) < 0 {
		if err := ctx.Err(); err != nil {
			return true, err
		}
		// The window: [lo, t) going forward, [t, hi) in reverse.
		live := refs[:0:0]
		for i := range refs {
			if refs[i].maxID.Compare(lo) >= 0 && refs[i].minID.Compare(hi) < 0 {
				live = append(live, refs[i])
			}
		}
		if len(live) == 0 {
			return false, nil
		}
		refs = live
		wlo, whi := windowBounds(refs, lo, hi, reverse)
		window = window[:0]
		for i := range refs {
			r := &refs[i]
			if r.maxID.Compare(wlo) < 0 || r.minID.Compare(whi) >= 0 {
				continue
			}
			if err := r.loadHeader(txn); err != nil {
				return true, err
			}
			if skip, err := r.refused(mayMatch); err != nil || skip {
				if err != nil {
					return true, err
				}
				continue
			}
			entries, err := readBlockWith(txn, &bodies, r, decode, buf, bufs)
			if err != nil {
				return true, err
			}
			buf = entries // copied out below, so reusable
			from, _ := slices.BinarySearchFunc(entries, wlo, func(e Entry, id ID) int { return e.ID.Compare(id) })
			to, _ := slices.BinarySearchFunc(entries, whi, func(e Entry, id ID) int { return e.ID.Compare(id) })
			for j := from; j < to; j++ {
				window = append(window, cloneEntry(&entries[j]))
			}
		}
		slices.SortFunc(window, func(a, b Entry) int { return a.ID.Compare(b.ID) })
		if reverse {
			slices.Reverse(window)
		}
		for i := range window {
			if i%1024 == 1023 {
				if err := ctx.Err(); err != nil {
					return true, err
				}
			}
			if !fn(&window[i]) {
				return true, nil
			}
		}
		if reverse {
			hi = wlo
		} else {
			lo = whi
		}
	}
	return false, nil
}

// windowBounds picks the next window of scanWindows inside [lo, hi): from
// lo forward, or back from hi, as far as the blocks' entries, spread evenly
// over their time ranges, are expected to fill windowEntries.
func windowBounds(refs []blockRef, lo, hi ID, reverse bool) (ID, ID) {
	expected := func(a, b int64) float64 { // entries with nanos in [a, b)
		var n float64
		for i := range refs {
			lo, hi := refs[i].minID.Nanos, refs[i].maxID.Nanos+1
			if x, y := max(a, lo), min(b, hi); x < y {
				n += float64(refs[i].count) * float64(y-x) / float64(hi-lo)
			}
		}
		return n
	}
	from, to := lo.Nanos, hi.Nanos
	if hi.Seq > 0 {
		to++ // hi's own nanosecond holds entries below hi
	}
	limit := float64(windowEntries)
	if expected(from, to) <= limit {
		return lo, hi
	}
	// Binary search of the window's length, at least one nanosecond.
	short, long := int64(1), to-from
	for short < long {
		mid := short + (long-short+1)/2
		var n float64
		if reverse {
			n = expected(to-mid, to)
		} else {
			n = expected(from, from+mid)
		}
		if n <= limit {
			short = mid
		} else {
			long = mid - 1
		}
	}
	if reverse {
		wlo := ID{Nanos: to - short}
		if wlo.Compare(lo) < 0 {
			wlo = lo
		}
		return wlo, hi
	}
	whi := ID{Nanos: from + short}
	if whi.Compare(hi) > 0 {
		whi = hi
	}
	return lo, whi
}

// cloneEntry copies e with strings and slices of its own, so that a window
// keeps what it holds and not the whole decoded block.
func cloneEntry(e *Entry) Entry {
	c := *e
	c.Source = strings.Clone(e.Source)
	c.Message = strings.Clone(e.Message)
	if e.Tags != nil {
		c.Tags = make([]string, len(e.Tags))
		for i, t := range e.Tags {
			c.Tags[i] = strings.Clone(t)
		}
	}
	if e.Fields != nil {
		c.Fields = make([]Field, len(e.Fields))
		for i, f := range e.Fields {
			c.Fields[i] = Field{Name: strings.Clone(f.Name), Value: f.Value}
			c.Fields[i].Value.Str = strings.Clone(f.Value.Str)
		}
	}
	return c
}

// rewriteBlocks removes the entries ids from the blocks that hold them. Each
// block is rewritten in a transaction of its own, under the same key, so
// that a reader sees its header and body either both old or both new.
// Entries already gone are ignored, so that a deletion can run again.
func (s *Store) rewriteBlocks(ctx context.Context, ids []ID) error {
	byDay := map[Day][]ID{}
	for _, id := range ids {
		d := DayOf(id.Nanos)
		byDay[d] = append(byDay[d], id)
	}
	defer s.blocks.invalidate()
	for day, gone := range byDay {
		var refs []blockRef
		err := s.view(func(txn *badger.Txn) error {
			var err error
			refs, err = dayHeaders(ctx, txn, day, MinID, MaxID, true)
			return err
		})
		if err != nil {
			return fmt.Errorf("%s: %w", day, err)
		}
		// refs are in key order, so by last sequence.
		hit := map[int]map[ID]bool{}
		for _, id := range gone {
			i, _ := slices.BinarySearchFunc(refs, id.Seq, func(r blockRef, seq uint64) int { return cmp.Compare(r.last, seq) })
			if i == len(refs) || !refs[i].holds(id) {
				continue
			}
			if hit[i] == nil {
				hit[i] = map[ID]bool{}
			}
			hit[i][id] = true
		}
		for i, del := range hit {
			if err := ctx.Err(); err != nil {
				return err
			}
			if err := s.removeFromBlock(&refs[i], del); err != nil {
				return fmt.Errorf("%s: %w", day, err)
			}
		}
	}
	return nil
}

func (s *Store) removeFromBlock(r *blockRef, del map[ID]bool) error {
	err := s.write(func(txn *badger.Txn) error {
		entries, err := readBlock(txn, r)
		if errors.Is(err, badger.ErrKeyNotFound) {
			return nil // the day was dropped meanwhile
		}
		if err != nil {
			return err
		}
		kept := slices.DeleteFunc(entries, func(e Entry) bool { return del[e.ID] })
		if len(kept) == 0 {
			for _, k := range [][]byte{blockHeaderKey(r.day, r.last), blockTemplatesKey(r.day, r.last)} {
				if err := txn.Delete(k); err != nil {
					return err
				}
			}
			return txn.Delete(blockBodyKey(r.day, r.last))
		}
		return setBlock(txn, r.day, r.first, r.last, kept, true)
	})
	if err != nil {
		return fmt.Errorf("rewrite block %d..%d: %w", r.first, r.last, wrapWriteErr("write", err))
	}
	return nil
}
