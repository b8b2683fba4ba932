package search

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"log/slog"
	"math/bits"
	"os"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/blevesearch/bleve/v2"
	"github.com/blevesearch/bleve/v2/mapping"
	bleveindex "github.com/blevesearch/bleve_index_api"

	"github.com/logengine/logengine/storage"
)

// Keywords is the part of a query the keyword index answers: entries whose
// message has every token of Terms and, for each of Prefixes, some token
// that starts with it. Each element must be a single token as Tokenize
// returns it (lower-cased). Zero Keywords match every entry the index holds.
type Keywords struct {
	Terms    []string
	Prefixes []string
}

// ErrIndexClosed is returned by every method of a closed Index.
var ErrIndexClosed = errors.New("keyword index closed")

const (
	// messageFieldName names the message in Bleve's mapping metadata (and
	// in the analyzer's tests); block documents hold wordsFieldName and
	// leadsFieldName instead.
	messageFieldName = "message"
	// seqInternalKey holds, in each shard, the highest journal sequence of
	// the entries it holds (8 bytes big-endian). It is written in the same
	// batch as their documents, so it never claims entries the shard does
	// not hold.
	seqInternalKey = "logengine.seq"
	// blocksInternalKey holds how many blocks the shard's documents refer
	// to (8 bytes big-endian), written with them: a block list shorter than
	// that lost blocks, and the shard is rebuilt.
	blocksInternalKey = "logengine.blocks"
	// formatInternalKey holds shardFormat. A shard without it was written
	// by a release that kept a document per entry, and is rebuilt.
	formatInternalKey = "logengine.format"
	shardFormat       = "blocks-2"
	// rebuildSuffix marks a shard being rebuilt beside the live one. It is
	// renamed over the live one only when complete, so a crash mid-rebuild
	// leaves a directory that OpenIndex deletes, never a partial shard.
	rebuildSuffix = ".rebuild"
)

// errShardUnusable is why a shard on disk cannot serve searches until the
// indexer rebuilds it from storage (at its next start): errShardFormat, or
// a block list that lost blocks. A search meanwhile scans instead.
var errShardUnusable = errors.New("keyword index shard must be rebuilt from storage: POST /api/v1/admin/reindex rebuilds it (the daemon rebuilds a shard that does not open when it starts)")

// errBlockDamaged is a block whose record does not decode: the shard is
// unusable until rebuilt, and searches scan meanwhile.
var errBlockDamaged = fmt.Errorf("%w: a block is damaged", errShardUnusable)

// errShardFormat is why a shard written by an older release does not open.
var errShardFormat = fmt.Errorf("%w: written by an older release (a document per entry)", errShardUnusable)

// Index is the keyword index: one Bleve index (shard) per UTC day under one
// directory, named YYYY-MM-DD. A shard indexes blocks of up to blockSize
// entries of its day: one Bleve document per block holds the block's words,
// each counted by the entries holding it, and the shard's block list
// (blockfile.go) holds the ids of each block's entries and a filter of its
// value tokens (blockfilter.go). A search finds candidate blocks and lists
// their entries, each sure to match or to be checked (Candidates). Shards
// open on first use and stay open. Index is safe for concurrent use.
type Index struct {
	dir string
	log *slog.Logger

	mu     sync.Mutex
	shards map[storage.Day]*shard // every shard on disk or being created; guarded by mu
	closed bool                   // guarded by mu
	// damaged holds the shards found damaged and not rebuilt yet (see
	// damage.go); guarded by mu.
	damaged      map[storage.Day]ShardDamage
	damagedTotal atomic.Uint64
	damageCh     chan struct{} // receives when a shard is found damaged
}

// shard is one day's Bleve index and block list.
type shard struct {
	day storage.Day
	dir string

	// mu is held shared while the shard is searched or written, and
	// exclusively while it is opened, closed, dropped or replaced.
	mu sync.RWMutex
	// idx and blocks are nil until first use; guarded by mu.
	idx    bleve.Index
	blocks *blockFile
	// gone is set when the shard was closed, dropped or replaced: whoever
	// finds it set looks the day up again. Guarded by mu.
	gone bool
	// seq is the highest journal sequence recorded in the shard. Written
	// only by the indexer, under mu (shared).
	seq atomic.Uint64
	// deleted lists, ascending, the entries deleted from storage after
	// they were indexed (index_delete.go); replaced, never changed.
	deleted atomic.Pointer[[]storage.ID]
	// deletedSize is the size of the deleted list's whole chunks; written
	// by Delete's one caller at a time.
	deletedSize int64
	// damaged is set once the shard is found damaged (Index.damage): the
	// shard is then out of service until a rebuild replaces it.
	damaged atomic.Pointer[shardDamagedError]
}

// OpenIndex opens the keyword index in dir (<data-dir>/index), creating the
// directory if needed. Shards are opened when first used. A nil logger
// discards messages.
func OpenIndex(dir string, logger *slog.Logger) (*Index, error) {
	if err := bleveSetup(); err != nil {
		return nil, err
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("open keyword index: %w", err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("open keyword index: %w", err)
	}
	x := &Index{
		dir: dir, log: logger, shards: make(map[storage.Day]*shard),
		damaged: make(map[storage.Day]ShardDamage), damageCh: make(chan struct{}, 1),
	}
	for _, e := range entries {
		name := e.Name()
		if strings.HasSuffix(name, rebuildSuffix) {
			if err := os.RemoveAll(filepath.Join(dir, name)); err != nil {
				return nil, fmt.Errorf("open keyword index: remove interrupted rebuild: %w", err)
			}
			logger.Warn("removed an interrupted keyword index rebuild", "dir", name)
			continue
		}
		day, err := storage.ParseDay(name)
		if err != nil || day.String() != name || !e.IsDir() {
			continue
		}
		x.shards[day] = &shard{day: day, dir: filepath.Join(dir, name)}
	}
	return x, nil
}

// Close closes every shard. Searches in progress finish first; later calls
// fail with ErrIndexClosed.
func (x *Index) Close() error {
	x.mu.Lock()
	if x.closed {
		x.mu.Unlock()
		return nil
	}
	x.closed = true
	shards := make([]*shard, 0, len(x.shards))
	for _, sh := range x.shards {
		shards = append(shards, sh)
	}
	x.mu.Unlock()
	var errs []error
	for _, sh := range shards {
		sh.mu.Lock()
		if err := sh.closeLocked(); err != nil {
			errs = append(errs, err)
		}
		sh.gone = true
		sh.mu.Unlock()
	}
	return errors.Join(errs...)
}

// Days returns, ascending, the days that have a shard.
func (x *Index) Days() []storage.Day {
	x.mu.Lock()
	defer x.mu.Unlock()
	days := make([]storage.Day, 0, len(x.shards))
	for d := range x.shards {
		days = append(days, d)
	}
	slices.Sort(days)
	return days
}

// DropDay closes and deletes the shard of day (retention). Dropping a day
// without a shard is not an error.
func (x *Index) DropDay(day storage.Day) error {
	x.mu.Lock()
	if x.closed {
		x.mu.Unlock()
		return ErrIndexClosed
	}
	sh := x.shards[day]
	x.mu.Unlock()
	if sh == nil {
		return nil
	}
	// Delete the files while holding the shard: anyone who wants the day
	// meanwhile waits on it, then finds it gone and starts a new shard in
	// a clean directory.
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if sh.gone {
		return nil
	}
	err := sh.closeLocked()
	sh.gone = true
	if rerr := os.RemoveAll(sh.dir); rerr != nil {
		err = errors.Join(err, rerr)
	}
	x.mu.Lock()
	if x.shards[day] == sh {
		delete(x.shards, day)
		delete(x.damaged, day)
	}
	x.mu.Unlock()
	if err != nil {
		return fmt.Errorf("drop keyword index of %s: %w", day, err)
	}
	return nil
}

// Candidates are the entries a keyword query may match, as the index found
// them: both lists ascending, without duplicates, and disjoint.
type Candidates struct {
	// Sure match: their block holds every word of the query in every entry.
	Sure []storage.ID
	// Maybe match: their block holds the query's words in some entries, or
	// its filter may hold its value tokens. Only the entry can tell.
	Maybe []storage.ID
}

// Search returns the candidates in [lo, hi) for q: every entry of the range
// that matches q is among them.
func (x *Index) Search(ctx context.Context, q Keywords, lo, hi storage.ID) (Candidates, error) {
	var c Candidates
	if lo.Compare(hi) >= 0 {
		return c, nil
	}
	if err := q.validate(); err != nil {
		return c, err
	}
	for _, day := range x.daysIn(lo, hi) {
		_, err := x.use(day, false, func(sh *shard) error {
			return sh.candidates(ctx, q, lo, hi, &c)
		})
		if err != nil {
			return Candidates{}, err
		}
	}
	// Blocks come in the order of their first entry, and blocks written
	// by the tail in the order entries arrive: mostly sorted already.
	for _, l := range []*[]storage.ID{&c.Sure, &c.Maybe} {
		if !slices.IsSortedFunc(*l, storage.ID.Compare) {
			slices.SortFunc(*l, storage.ID.Compare)
		}
		*l = slices.Compact(*l)
	}
	if len(c.Sure) > 0 && len(c.Maybe) > 0 {
		c.Maybe = difference(c.Maybe, c.Sure)
	}
	return c, nil
}

// validate checks that terms and prefixes are single tokens as Tokenize
// gives them: they are looked up as they are, without analysis, which
// could only disagree with the one at index time.
func (q Keywords) validate() error {
	for _, t := range q.Terms {
		if !isOneToken(t) {
			return fmt.Errorf("keyword %q is not a single lower-case token", t)
		}
	}
	for _, p := range q.Prefixes {
		if !isOneToken(p) {
			return fmt.Errorf("keyword prefix %q is not a single lower-case token", p)
		}
	}
	return nil
}

// entrySet is a set of a block's entries by index (blockSize bits).
type entrySet [blockSize / 64]uint64

// firstEntries returns the set of the first n entries.
func firstEntries(n int) entrySet {
	var s entrySet
	for i := range s {
		switch left := n - 64*i; {
		case left >= 64:
			s[i] = ^uint64(0)
		case left > 0:
			s[i] = 1<<left - 1
		}
	}
	return s
}

func (s *entrySet) has(i int) bool { return s[i/64]&(1<<(i%64)) != 0 }

// count returns the number of entries in the set.
func (s *entrySet) count() int {
	n := 0
	for _, w := range s {
		n += bits.OnesCount64(w)
	}
	return n
}

// blockSel is what a query selects of one block: entries that surely match
// and entries that may (disjoint).
type blockSel struct {
	sure, maybe entrySet
}

// and narrows b to what o selects too: sure where sure in both.
func (b *blockSel) and(o *blockSel) {
	for i := range b.sure {
		either := (b.sure[i] | b.maybe[i]) & (o.sure[i] | o.maybe[i])
		b.sure[i] &= o.sure[i]
		b.maybe[i] = either &^ b.sure[i]
	}
}

// or widens b by what o selects.
func (b *blockSel) or(o *blockSel) {
	for i := range b.sure {
		b.sure[i] |= o.sure[i]
		b.maybe[i] = (b.maybe[i] | o.maybe[i]) &^ b.sure[i]
	}
}

// last returns the index of the last entry selected (-1: none).
func (b *blockSel) last() int {
	for i := len(b.sure) - 1; i >= 0; i-- {
		if w := b.sure[i] | b.maybe[i]; w != 0 {
			return i*64 + 63 - bits.LeadingZeros64(w)
		}
	}
	return -1
}

func (b *blockSel) empty() bool {
	for i := range b.sure {
		if b.sure[i]|b.maybe[i] != 0 {
			return false
		}
	}
	return true
}

// blockSet maps the number of a candidate block to what is selected of it.
type blockSet map[int]*blockSel

// and keeps the blocks of s that are in o too, narrowed by o.
func (s blockSet) and(o blockSet) blockSet {
	if s == nil {
		return o
	}
	for n, sel := range s {
		osel, ok := o[n]
		if !ok {
			delete(s, n)
			continue
		}
		sel.and(osel)
		if sel.empty() {
			delete(s, n)
		}
	}
	return s
}

// candidates adds the shard's candidates for q in [lo, hi) to c.
func (sh *shard) candidates(ctx context.Context, q Keywords, lo, hi storage.ID, c *Candidates) error {
	ai, err := sh.idx.Advanced()
	if err != nil {
		return fmt.Errorf("search keyword index of %s: %w", sh.day, err)
	}
	r, err := ai.Reader()
	if err != nil {
		return fmt.Errorf("search keyword index of %s: %w", sh.day, err)
	}
	defer func() { _ = r.Close() }()
	// The reader first: every block its documents refer to was on disk
	// before them, so the list taken after it holds them all.
	metas := sh.blocks.snapshot()
	inRange := func(n int) bool {
		return n >= 0 && n < len(metas) && metas[n].max.Compare(lo) >= 0 && metas[n].min.Compare(hi) < 0
	}
	s := &blockSearch{ctx: ctx, r: r, bf: sh.blocks, metas: metas, inRange: inRange}

	var set blockSet
	var values []string
	for _, t := range q.Terms {
		if isValueToken(t) {
			values = append(values, t) // last: the filters of fewer blocks
			continue
		}
		part, err := s.term(wordsFieldName, t, true)
		if err != nil {
			return fmt.Errorf("search keyword index of %s: %w", sh.day, err)
		}
		set = set.and(part)
	}
	for _, p := range q.Prefixes {
		part, err := s.prefix(p)
		if err != nil {
			return fmt.Errorf("search keyword index of %s: %w", sh.day, err)
		}
		set = set.and(part)
	}
	if len(q.Terms) == 0 && len(q.Prefixes) == 0 {
		if set, err = s.all(); err != nil {
			return fmt.Errorf("search keyword index of %s: %w", sh.day, err)
		}
	}
	for _, v := range values {
		part, err := s.filter(set, filterHash(v))
		if err != nil {
			return fmt.Errorf("search keyword index of %s: %w", sh.day, err)
		}
		set = set.and(part)
	}

	nums := make([]int, 0, len(set))
	for n := range set {
		if inRange(n) {
			nums = append(nums, n)
		}
	}
	slices.SortFunc(nums, func(a, b int) int { return metas[a].min.Compare(metas[b].min) })
	// Room for every selected id at once: a common word selects a tenth
	// of a day's entries, and growing the lists by appending copied them
	// over and over.
	var sure, maybe int
	for _, n := range nums {
		sel := set[n]
		sure += sel.sure.count()
		maybe += sel.maybe.count()
	}
	c.Sure = slices.Grow(c.Sure, sure)
	c.Maybe = slices.Grow(c.Maybe, maybe)
	deleted := sh.deletedIDs()
	var ids []storage.ID
	for i, n := range nums {
		if i%64 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		// Ids are delta-encoded: decode up to the last one selected.
		sel := set[n]
		ids, err = sh.blocks.readIDs(&metas[n], sel.last()+1, ids[:0])
		if err != nil {
			return fmt.Errorf("search keyword index of %s: block %d: %w", sh.day, n, err)
		}
		for k, id := range ids {
			if id.Compare(lo) < 0 || id.Compare(hi) >= 0 {
				continue
			}
			if len(deleted) > 0 {
				if _, gone := slices.BinarySearchFunc(deleted, id, storage.ID.Compare); gone {
					continue
				}
			}
			switch {
			case sel.sure.has(k):
				c.Sure = append(c.Sure, id)
			case sel.maybe.has(k):
				c.Maybe = append(c.Maybe, id)
			}
		}
	}
	return nil
}

// blockSearch looks blocks up in one shard's Bleve reader and block list.
type blockSearch struct {
	ctx     context.Context
	r       bleveindex.IndexReader
	bf      *blockFile
	metas   []blockMeta
	inRange func(n int) bool
}

// term returns the blocks whose field holds term and, with exact (the
// words field), which of their entries surely do: all of them when every
// entry holds it, else those its entry list names.
func (s *blockSearch) term(field, term string, exact bool) (blockSet, error) {
	tfr, err := s.r.TermFieldReader(s.ctx, []byte(term), field, true, false, false)
	if err != nil {
		return nil, err
	}
	defer func() { _ = tfr.Close() }()
	out := blockSet{}
	for {
		d, err := tfr.Next(nil)
		if err != nil {
			return nil, err
		}
		if d == nil {
			return out, nil
		}
		n, err := s.blockOf(d.ID)
		if err != nil {
			return nil, err
		}
		if !s.inRange(n) {
			continue
		}
		m := &s.metas[n]
		all := firstEntries(int(m.count))
		sel := &blockSel{maybe: all}
		switch {
		case !exact:
		case d.Freq == uint64(m.count):
			sel = &blockSel{sure: all}
		case d.Freq < uint64(m.count):
			lists, err := s.bf.readLists(m)
			if err != nil {
				return nil, fmt.Errorf("block %d: %w", n, err)
			}
			idx, ok, err := entryList(lists, term, int(d.Freq))
			if err != nil {
				return nil, fmt.Errorf("block %d: %w", n, err)
			}
			if ok {
				sel = &blockSel{}
				for _, i := range idx {
					if int(i) >= int(m.count) {
						return nil, fmt.Errorf("block %d: %w: entry list of %q names entry %d of %d", n, errBlockDamaged, term, i, m.count)
					}
					sel.sure[i/64] |= 1 << (i % 64)
				}
			}
		}
		out[n] = sel
	}
}

// prefix returns the blocks that may hold a token starting with p: those
// with such a word (whose entries are known), and those with a value token
// whose lead can start it (any of their entries may).
func (s *blockSearch) prefix(p string) (blockSet, error) {
	out := blockSet{}
	add := func(part blockSet) {
		for n, sel := range part {
			if have := out[n]; have != nil {
				have.or(sel)
			} else {
				out[n] = sel
			}
		}
	}
	dictAdd := func(field, prefix string, exact bool) error {
		dict, err := s.r.FieldDictPrefix(field, []byte(prefix))
		if err != nil {
			return err
		}
		defer func() { _ = dict.Close() }()
		for {
			e, err := dict.Next()
			if err != nil {
				return err
			}
			if e == nil {
				return nil
			}
			part, err := s.term(field, e.Term, exact)
			if err != nil {
				return err
			}
			add(part)
		}
	}
	if err := dictAdd(wordsFieldName, p, true); err != nil {
		return nil, err
	}
	// A value token starting with p has, when p holds a digit, the lead
	// of p; otherwise a lead starting with p (leads hold no digit).
	if isValueTokenPrefix(p) {
		part, err := s.term(leadsFieldName, valueLead(p), false)
		if err != nil {
			return nil, err
		}
		add(part)
	} else if err := dictAdd(leadsFieldName, p, false); err != nil {
		return nil, err
	}
	return out, nil
}

// isValueTokenPrefix reports whether a token starting with p is a value
// token only if it has the lead of p: p holds a digit.
func isValueTokenPrefix(p string) bool { return strings.ContainsAny(p, "0123456789") }

// all returns every block the shard's Bleve documents refer to, all sure.
func (s *blockSearch) all() (blockSet, error) {
	dr, err := s.r.DocIDReaderAll()
	if err != nil {
		return nil, err
	}
	defer func() { _ = dr.Close() }()
	out := blockSet{}
	for {
		id, err := dr.Next()
		if err != nil {
			return nil, err
		}
		if id == nil {
			return out, nil
		}
		n, err := s.blockOf(id)
		if err != nil {
			return nil, err
		}
		if s.inRange(n) {
			out[n] = &blockSel{sure: firstEntries(int(s.metas[n].count))}
		}
	}
}

func (s *blockSearch) blockOf(id bleveindex.IndexInternalID) (int, error) {
	ext, err := s.r.ExternalID(id)
	if err != nil {
		return 0, err
	}
	return parseBlockDocID(ext)
}

// filter returns the blocks in range whose filter may hold the value token
// of hash h, among those of within (all when nil). Any of their entries
// may hold it.
func (s *blockSearch) filter(within blockSet, h uint64) (blockSet, error) {
	out := blockSet{}
	check := func(n int) error {
		f, err := s.bf.readFilter(&s.metas[n])
		if err != nil {
			return fmt.Errorf("block %d: %w", n, err)
		}
		if mayHoldEncoded(f, h) {
			out[n] = &blockSel{maybe: firstEntries(int(s.metas[n].count))}
		}
		return nil
	}
	if within != nil {
		for n := range within {
			if err := check(n); err != nil {
				return nil, err
			}
		}
		return out, nil
	}
	for n := range s.metas {
		if n%256 == 0 {
			if err := s.ctx.Err(); err != nil {
				return nil, err
			}
		}
		if !s.inRange(n) {
			continue
		}
		if err := check(n); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// blockDocID is the Bleve document id of block n: fixed-width hex.
func blockDocID(n int) string { return fmt.Sprintf("%08x", n) }

func parseBlockDocID(s string) (int, error) {
	n, err := strconv.ParseUint(s, 16, 32)
	if err != nil || len(s) != 8 {
		return 0, fmt.Errorf("%w: document id %q is not a block number", errBlockDamaged, s)
	}
	return int(n), nil
}

func isOneToken(s string) bool {
	var buf [2]string
	toks := Tokenize(s, buf[:0])
	return len(toks) == 1 && toks[0] == s
}

// daysIn returns, ascending, the days with a shard that overlap [lo, hi).
func (x *Index) daysIn(lo, hi storage.ID) []storage.Day {
	days := x.Days()
	return slices.DeleteFunc(days, func(d storage.Day) bool {
		return dayStartID(d).Compare(hi) >= 0 || dayStartID(d+1).Compare(lo) <= 0
	})
}

func dayStartID(d storage.Day) storage.ID { return storage.ID{Nanos: d.Start()} }

// use runs fn on the shard of day, opening it on first use. Without create
// a day without a shard is skipped (ok is false); with create its shard is
// made. fn runs with the shard held shared: it may search or write, and the
// shard is not closed or replaced under it.
func (x *Index) use(day storage.Day, create bool, fn func(sh *shard) error) (ok bool, err error) {
	for {
		x.mu.Lock()
		if x.closed {
			x.mu.Unlock()
			return false, ErrIndexClosed
		}
		sh := x.shards[day]
		if sh == nil {
			if !create {
				x.mu.Unlock()
				return false, nil
			}
			sh = &shard{day: day, dir: filepath.Join(x.dir, day.String())}
			x.shards[day] = sh
		}
		x.mu.Unlock()

		if derr := sh.damaged.Load(); derr != nil {
			// Out of service until the rebuild replaces it.
			return true, derr
		}
		sh.mu.RLock()
		if sh.idx == nil && !sh.gone {
			sh.mu.RUnlock()
			if err := x.open(sh, create); err != nil {
				return false, err
			}
			sh.mu.RLock()
		}
		if sh.gone || sh.idx == nil {
			// Closed, dropped or replaced meanwhile: look again.
			sh.mu.RUnlock()
			continue
		}
		return true, x.runLocked(sh, fn)
	}
}

// open opens sh, turning a panic of Bleve opening damaged files, and any
// damage found, into a damaged shard (see damage.go).
func (x *Index) open(sh *shard, create bool) (err error) {
	sh.mu.Lock()
	defer sh.mu.Unlock()
	defer func() {
		if r := recover(); r != nil {
			err = x.damage(sh, "", fmt.Errorf("open keyword index of %s: %w", sh.day, recovered(r)))
		}
	}()
	err = sh.openLocked(create)
	if err == nil {
		asyncShards.Store(sh.storeDir(), &asyncTarget{x: x, sh: sh})
		return nil
	}
	var fe *fileError
	switch {
	case errors.Is(err, ErrIndexClosed), errors.Is(err, errShardFormat):
		// An old release's shard is not damaged: recover rebuilds it.
		return err
	case errors.As(err, &fe):
		return x.damage(sh, fe.file, err)
	}
	return x.damage(sh, "", err)
}

// fileError is an error found in one file of a shard, named relative to
// the shard's directory.
type fileError struct {
	file string
	err  error
}

func (e *fileError) Error() string { return e.file + ": " + e.err.Error() }
func (e *fileError) Unwrap() error { return e.err }

// runLocked runs fn on sh, held shared by the caller, and releases it
// however fn ends. This is the shard boundary: a panic of Bleve or zapx on
// damaged files, or a block that does not decode, marks the shard damaged
// and becomes an error. Faults on mapped memory (a file cut short under
// its mapping) become panics for this goroutine too, and so errors.
func (x *Index) runLocked(sh *shard, fn func(sh *shard) error) (err error) {
	defer sh.mu.RUnlock()
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if r := recover(); r != nil {
			err = x.damage(sh, "", fmt.Errorf("keyword index of %s: %w", sh.day, recovered(r)))
		}
	}()
	err = fn(sh)
	if errors.Is(err, errBlockDamaged) {
		err = x.damage(sh, blockFileName, err)
	}
	return err
}

// check opens the shard of day if it is not open yet. It reports false
// when the day has no shard, and the error of a shard that does not open.
func (x *Index) check(day storage.Day) (bool, error) {
	return x.use(day, false, func(*shard) error { return nil })
}

// write indexes docs, all of day, and records seq as the shard's highest
// sequence, returning once both are on disk. Entries at or below the
// sequence the shard has recorded are in it already (steps write a day's
// entries in sequence order, and a rebuild records the highest it holds),
// so a step done again after a crash, or after a rebuild of its day, does
// not index them twice.
func (x *Index) write(day storage.Day, docs []bleveDoc, seq uint64) error {
	_, err := x.use(day, true, func(sh *shard) error {
		have := sh.seq.Load()
		fresh := docs
		if slices.ContainsFunc(docs, func(d bleveDoc) bool { return d.id.Seq <= have }) {
			fresh = make([]bleveDoc, 0, len(docs))
			for _, d := range docs {
				if d.id.Seq > have {
					fresh = append(fresh, d)
				}
			}
		}
		if len(fresh) == 0 {
			return nil
		}
		seq := max(seq, have)
		if err := writeBlocks(sh.idx, sh.blocks, fresh, seq); err != nil {
			return fmt.Errorf("index %d entries into %s: %w", len(fresh), day, err)
		}
		sh.seq.Store(seq)
		return nil
	})
	if skipDamaged(err) {
		// The rebuild the damage asked for reads these entries from
		// storage; the shard records the damage on disk, so a restart
		// before it rebuilds too.
		return nil
	}
	return err
}

// skipDamaged reports whether a write or deletion that failed with err
// may be skipped: the shard is damaged and that is recorded on disk, so its
// rebuild from storage, now or after a restart, makes up for it.
func skipDamaged(err error) bool {
	var de *shardDamagedError
	return errors.As(err, &de) && de.recorded
}

// writeBlocks indexes docs as blocks: the block list first, then one Bleve
// batch with their documents, the sequence and the number of blocks, so a
// shard never records a sequence or a block it does not hold.
func writeBlocks(idx bleve.Index, bf *blockFile, docs []bleveDoc, seq uint64) error {
	if !slices.IsSortedFunc(docs, func(a, b bleveDoc) int { return a.id.Compare(b.id) }) {
		slices.SortFunc(docs, func(a, b bleveDoc) int { return a.id.Compare(b.id) })
	}
	blocks := buildBlocks(docs)
	built := make([]*builtBlock, len(blocks))
	for i, b := range blocks {
		built[i] = &b.built
	}
	first, err := bf.appendBlocks(built)
	if err != nil {
		return err
	}
	b := idx.NewBatch()
	for i, bd := range blocks {
		if err := b.IndexAdvanced(bd.document(first + i)); err != nil {
			return err
		}
	}
	b.SetInternal([]byte(seqInternalKey), encodeRecord(seq))
	b.SetInternal([]byte(blocksInternalKey), encodeRecord(uint64(first+len(blocks))))
	return idx.Batch(b)
}

// rebuild builds a new shard for day from what fill writes, beside the live
// one, and swaps it in when complete. Searches go on against the old shard
// meanwhile. fill must not write to the same day through x.write.
func (x *Index) rebuild(day storage.Day, fill func(write func(docs []bleveDoc, seq uint64) error) error) error {
	final := filepath.Join(x.dir, day.String())
	tmp := final + rebuildSuffix
	if err := os.RemoveAll(tmp); err != nil {
		return fmt.Errorf("rebuild keyword index of %s: %w", day, err)
	}
	idx, err := bleve.NewUsing(tmp, newIndexMapping(), bleve.Config.DefaultIndexType, bleve.Config.DefaultKVStore, openConfig())
	if err != nil {
		return fmt.Errorf("rebuild keyword index of %s: %w", day, err)
	}
	bf, err := openBlockFile(tmp)
	if err != nil {
		_ = idx.Close()
		_ = os.RemoveAll(tmp)
		return fmt.Errorf("rebuild keyword index of %s: %w", day, err)
	}
	var seq uint64
	err = fill(func(docs []bleveDoc, s uint64) error {
		seq = max(seq, s)
		return writeBlocks(idx, bf, docs, seq)
	})
	if err == nil {
		// Also when nothing was indexed (the day was dropped meanwhile):
		// an empty shard keeps the day from looking missing.
		err = idx.SetInternal([]byte(formatInternalKey), []byte(shardFormat))
	}
	if cerr := bf.close(); err == nil && cerr != nil {
		err = cerr
	}
	if cerr := idx.Close(); err == nil && cerr != nil {
		err = cerr
	}
	if err == nil {
		err = x.swap(day, tmp)
	}
	if err != nil {
		_ = os.RemoveAll(tmp)
		return fmt.Errorf("rebuild keyword index of %s: %w", day, err)
	}
	return nil
}

// swap replaces the shard of day by the complete shard in dir tmp.
func (x *Index) swap(day storage.Day, tmp string) error {
	final := filepath.Join(x.dir, day.String())
	nsh := &shard{day: day, dir: final}
	// Hold the new shard until its directory is in place: whoever looks
	// the day up meanwhile waits for it.
	nsh.mu.Lock()
	defer nsh.mu.Unlock()
	x.mu.Lock()
	if x.closed {
		x.mu.Unlock()
		return ErrIndexClosed
	}
	old := x.shards[day]
	x.shards[day] = nsh
	delete(x.damaged, day)
	x.mu.Unlock()
	if old != nil {
		old.mu.Lock()
		if err := old.closeLocked(); err != nil {
			x.log.Warn("close replaced keyword index shard", "day", day.String(), "err", err)
		}
		old.gone = true
		old.mu.Unlock()
	}
	if err := os.RemoveAll(final); err != nil {
		return err
	}
	if err := os.Rename(tmp, final); err != nil {
		return err
	}
	return syncDir(x.dir)
}

// syncDir makes a rename in dir durable.
func syncDir(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = f.Sync()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

func (sh *shard) openLocked(create bool) error {
	if sh.idx != nil || sh.gone {
		return nil
	}
	if cause, ok := readDamagedMarker(sh.dir); ok {
		return &fileError{file: damagedFileName, err: fmt.Errorf("marked damaged before: %s", cause)}
	}
	idx, err := bleve.OpenUsing(sh.dir, openConfig())
	if errors.Is(err, bleve.ErrorIndexPathDoesNotExist) && create {
		idx, err = bleve.NewUsing(sh.dir, newIndexMapping(), bleve.Config.DefaultIndexType, bleve.Config.DefaultKVStore, openConfig())
		if err == nil {
			if err = idx.SetInternal([]byte(formatInternalKey), []byte(shardFormat)); err != nil {
				_ = idx.Close()
			}
		}
	}
	if err != nil {
		return fmt.Errorf("open keyword index of %s: %w", sh.day, err)
	}
	bf, err := sh.check(idx)
	if err == nil {
		var file string
		if file, err = verifySegments(idx); err != nil && file != "" {
			err = &fileError{file: file, err: err}
		}
		if err != nil {
			_ = bf.close()
		}
	}
	if err != nil {
		_ = idx.Close()
		return fmt.Errorf("open keyword index of %s: %w", sh.day, err)
	}
	sh.idx, sh.blocks = idx, bf
	return nil
}

// check reads the shard's records and opens its block list, refusing a
// shard of another format or one whose list lost blocks.
func (sh *shard) check(idx bleve.Index) (*blockFile, error) {
	format, err := idx.GetInternal([]byte(formatInternalKey))
	if err != nil {
		return nil, fmt.Errorf("read format: %w", err)
	}
	v, err := idx.GetInternal([]byte(seqInternalKey))
	if err != nil {
		return nil, fmt.Errorf("read sequence: %w", err)
	}
	if string(format) != shardFormat {
		// A shard created without its format record (a crash or a full
		// disk between the two) holds nothing yet: finish creating it.
		docs, err := idx.DocCount()
		if err != nil {
			return nil, fmt.Errorf("count documents: %w", err)
		}
		if len(format) > 0 || len(v) > 0 || docs > 0 {
			return nil, errShardFormat
		}
		if err := idx.SetInternal([]byte(formatInternalKey), []byte(shardFormat)); err != nil {
			return nil, fmt.Errorf("record format: %w", err)
		}
	}
	if len(v) > 0 {
		seq, err := decodeRecord(v)
		if err != nil {
			return nil, &fileError{file: "store/root.bolt", err: fmt.Errorf("sequence record: %w", err)}
		}
		sh.seq.Store(seq)
	}
	deleted, size, err := loadDeleted(sh.dir)
	if err != nil {
		return nil, err
	}
	sh.deleted.Store(&deleted)
	sh.deletedSize = size
	n, err := idx.GetInternal([]byte(blocksInternalKey))
	if err != nil {
		return nil, fmt.Errorf("read block count: %w", err)
	}
	var blocks uint64
	if len(n) > 0 {
		if blocks, err = decodeRecord(n); err != nil {
			return nil, &fileError{file: "store/root.bolt", err: fmt.Errorf("block count record: %w", err)}
		}
	}
	bf, err := openBlockFile(sh.dir)
	if err != nil {
		return nil, err
	}
	if uint64(len(bf.snapshot())) < blocks {
		_ = bf.close()
		return nil, &fileError{file: blockFileName, err: fmt.Errorf("%w: its block list holds %d blocks, the index refers to %d", errShardUnusable, len(bf.snapshot()), blocks)}
	}
	return bf, nil
}

// encodeRecord encodes a shard's sequence or block count: 8 bytes
// big-endian and their CRC-32C, so that a flipped bit in Bleve's internal
// store (which has no checksums of its own) is found rather than trusted:
// a sequence too high would skip entries, and a count too low would hide
// lost blocks.
func encodeRecord(v uint64) []byte {
	b := binary.BigEndian.AppendUint64(make([]byte, 0, 12), v)
	return binary.BigEndian.AppendUint32(b, crc32.Checksum(b, castagnoli))
}

// decodeRecord decodes what encodeRecord wrote, or the 8 bytes without a
// checksum that earlier releases wrote.
func decodeRecord(b []byte) (uint64, error) {
	switch len(b) {
	case 8:
		return binary.BigEndian.Uint64(b), nil
	case 12:
		if crc32.Checksum(b[:8], castagnoli) != binary.BigEndian.Uint32(b[8:]) {
			return 0, errors.New("fails its checksum")
		}
		return binary.BigEndian.Uint64(b), nil
	}
	return 0, fmt.Errorf("is %d bytes, not 8 or 12", len(b))
}

func (sh *shard) closeLocked() (err error) {
	if sh.idx == nil {
		return nil
	}
	// Closing a damaged shard (before its rebuild replaces it) may read
	// its damaged files: what fails there must not take the process down.
	defer func() {
		if r := recover(); r != nil {
			sh.idx, sh.blocks = nil, nil
			err = fmt.Errorf("close keyword index of %s: %w", sh.day, recovered(r))
		}
	}()
	if v, ok := asyncShards.Load(sh.storeDir()); ok && v.(*asyncTarget).sh == sh {
		asyncShards.Delete(sh.storeDir())
	}
	err = sh.idx.Close()
	if sh.blocks != nil {
		err = errors.Join(err, sh.blocks.close())
	}
	sh.idx, sh.blocks = nil, nil
	if err != nil {
		return fmt.Errorf("close keyword index of %s: %w", sh.day, err)
	}
	return nil
}

// newIndexMapping describes what writeBlocks builds, for Bleve's metadata
// and for anything that would map or analyse through Bleve: two text fields
// (words and value-token leads), indexed with the logengine analyzer, not
// stored, without term vectors or doc values. The _all composite field is
// disabled the way Bleve requires (a disabled sub-document mapping): it
// would index every term twice.
func newIndexMapping() mapping.IndexMapping {
	dm := bleve.NewDocumentStaticMapping()
	for _, name := range []string{wordsFieldName, leadsFieldName, messageFieldName} {
		fm := bleve.NewTextFieldMapping()
		fm.Analyzer = analyzerName
		fm.Store = false
		fm.IncludeTermVectors = false
		fm.IncludeInAll = false
		fm.DocValues = false
		dm.AddFieldMappingsAt(name, fm)
	}
	dm.AddSubDocumentMapping("_all", bleve.NewDocumentDisabledMapping())

	m := bleve.NewIndexMapping()
	m.DefaultMapping = dm
	m.DefaultAnalyzer = analyzerName
	m.DefaultField = wordsFieldName
	m.StoreDynamic = false
	m.IndexDynamic = false
	m.DocValuesDynamic = false
	return m
}
