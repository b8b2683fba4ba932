package search

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/blevesearch/bleve/v2"
	"github.com/blevesearch/bleve/v2/document"
	"github.com/blevesearch/bleve/v2/mapping"
	blevesearch "github.com/blevesearch/bleve/v2/search"
	bquery "github.com/blevesearch/bleve/v2/search/query"

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
	// messageFieldName is the only field of a shard's documents.
	messageFieldName = "message"
	// seqInternalKey holds, in each shard, the highest journal sequence of
	// the documents it holds (8 bytes big-endian). It is written in the
	// same batch as the documents, or right after a write split into
	// concurrent batches is all on disk, so it never claims documents the
	// shard does not hold.
	seqInternalKey = "logengine.seq"
	// rebuildSuffix marks a shard being rebuilt beside the live one. It is
	// renamed over the live one only when complete, so a crash mid-rebuild
	// leaves a directory that OpenIndex deletes, never a partial shard.
	rebuildSuffix = ".rebuild"
)

// Index is the keyword index: one Bleve index (shard) per UTC day under one
// directory, named YYYY-MM-DD, holding the analysed message of each entry
// and nothing else. Documents are keyed by the text form of storage.ID,
// which sorts like the ID, so hits come in time order by sorting on _id and
// a time range is a range of document ids. Shards open on first use and
// stay open. Index is safe for concurrent use.
type Index struct {
	dir string
	log *slog.Logger

	mu     sync.Mutex
	shards map[storage.Day]*shard // every shard on disk or being created; guarded by mu
	closed bool                   // guarded by mu
}

// shard is one day's Bleve index.
type shard struct {
	day storage.Day
	dir string

	// mu is held shared while the shard is searched or written, and
	// exclusively while it is opened, closed, dropped or replaced.
	mu sync.RWMutex
	// idx is nil until first use; guarded by mu.
	idx bleve.Index
	// gone is set when the shard was closed, dropped or replaced: whoever
	// finds it set looks the day up again. Guarded by mu.
	gone bool
	// seq is the highest journal sequence recorded in the shard. Written
	// only by the indexer, under mu (shared).
	seq atomic.Uint64
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
	x := &Index{dir: dir, log: logger, shards: make(map[storage.Day]*shard)}
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
	}
	x.mu.Unlock()
	if err != nil {
		return fmt.Errorf("drop keyword index of %s: %w", day, err)
	}
	return nil
}

// Search returns the ids in [lo, hi) of the entries that match q, ascending
// or, with desc, descending, at most limit of them (limit <= 0: all). Day
// shards are visited in the order of the answer and the search stops as
// soon as it has limit ids, so the next page is asked for by narrowing lo
// (ascending) or hi (descending) past the last id returned.
func (x *Index) Search(ctx context.Context, q Keywords, lo, hi storage.ID, desc bool, limit int) ([]storage.ID, error) {
	if lo.Compare(hi) >= 0 {
		return nil, nil
	}
	bq, err := q.bleveQuery()
	if err != nil {
		return nil, err
	}
	days := x.daysIn(lo, hi)
	if desc {
		slices.Reverse(days)
	}
	var out []storage.ID
	for _, day := range days {
		want := 0
		if limit > 0 {
			want = limit - len(out)
		}
		var ids []storage.ID
		_, err := x.use(day, false, func(sh *shard) error {
			var err error
			if want > 0 {
				ids, err = sh.searchSorted(ctx, bq, lo, hi, desc, want)
			} else {
				ids, err = sh.searchAll(ctx, bq, lo, hi, desc)
			}
			return err
		})
		if err != nil {
			return nil, err
		}
		out = append(out, ids...)
		if limit > 0 && len(out) >= limit {
			break
		}
	}
	return out, nil
}

// Count returns how many entries in [lo, hi) match q.
func (x *Index) Count(ctx context.Context, q Keywords, lo, hi storage.ID) (int, error) {
	if lo.Compare(hi) >= 0 {
		return 0, nil
	}
	bq, err := q.bleveQuery()
	if err != nil {
		return 0, err
	}
	total := 0
	for _, day := range x.daysIn(lo, hi) {
		_, err := x.use(day, false, func(sh *shard) error {
			n, err := sh.count(ctx, bq, lo, hi)
			total += n
			return err
		})
		if err != nil {
			return 0, err
		}
	}
	return total, nil
}

// bleveQuery translates q. Terms and prefixes are matched as they are,
// without analysis: they are tokens already, and a second analysis could
// only disagree with the one at index time.
func (q Keywords) bleveQuery() (bquery.Query, error) {
	var parts []bquery.Query
	for _, t := range q.Terms {
		if !isOneToken(t) {
			return nil, fmt.Errorf("keyword %q is not a single lower-case token", t)
		}
		tq := bleve.NewTermQuery(t)
		tq.SetField(messageFieldName)
		parts = append(parts, tq)
	}
	for _, p := range q.Prefixes {
		if !isOneToken(p) {
			return nil, fmt.Errorf("keyword prefix %q is not a single lower-case token", p)
		}
		pq := bleve.NewPrefixQuery(p)
		pq.SetField(messageFieldName)
		parts = append(parts, pq)
	}
	switch len(parts) {
	case 0:
		return bleve.NewMatchAllQuery(), nil
	case 1:
		return parts[0], nil
	}
	return bleve.NewConjunctionQuery(parts...), nil
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

// idBefore returns the greatest ID below id (id must not be MinID).
func idBefore(id storage.ID) storage.ID {
	if id.Seq > 0 {
		return storage.ID{Nanos: id.Nanos, Seq: id.Seq - 1}
	}
	return storage.ID{Nanos: id.Nanos - 1, Seq: ^uint64(0)}
}

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

		sh.mu.RLock()
		if sh.idx == nil && !sh.gone {
			sh.mu.RUnlock()
			sh.mu.Lock()
			err := sh.openLocked(create)
			sh.mu.Unlock()
			if err != nil {
				return false, err
			}
			sh.mu.RLock()
		}
		if sh.gone || sh.idx == nil {
			// Closed, dropped or replaced meanwhile: look again.
			sh.mu.RUnlock()
			continue
		}
		err := fn(sh)
		sh.mu.RUnlock()
		return true, err
	}
}

// check opens the shard of day if it is not open yet. It reports false
// when the day has no shard, and the error of a shard that does not open.
func (x *Index) check(day storage.Day) (bool, error) {
	return x.use(day, false, func(*shard) error { return nil })
}

// parallelMinDocs is the smallest part a large write is split into.
// Bleve builds a batch's segment in the goroutine that calls Batch, and
// that build is most of the cost of indexing (~30 µs per document here),
// so one batch at a time keeps one core busy however many there are.
// Concurrent batches into the same shard build their segments in parallel.
const parallelMinDocs = 2500

// write indexes docs, all of day, and records seq as the shard's highest
// sequence, returning once both are on disk.
func (x *Index) write(day storage.Day, docs []bleveDoc, seq uint64) error {
	_, err := x.use(day, true, func(sh *shard) error {
		seq := max(seq, sh.seq.Load())
		if err := writeDocs(sh.idx, docs, seq); err != nil {
			return fmt.Errorf("index %d entries into %s: %w", len(docs), day, err)
		}
		sh.seq.Store(seq)
		return nil
	})
	return err
}

// writeDocs indexes docs into idx and records seq. A small write is one
// batch that holds the documents and the sequence together. A large one is
// split into concurrent batches of documents only, and the sequence is
// recorded after all of them are persisted: a shard never records a
// sequence whose documents it does not hold.
func writeDocs(idx bleve.Index, docs []bleveDoc, seq uint64) error {
	parts := min(runtime.NumCPU(), len(docs)/parallelMinDocs)
	if parts <= 1 {
		return writeBatch(idx, docs, seq, true)
	}
	errs := make([]error, parts)
	var wg sync.WaitGroup
	for i := range parts {
		part := docs[i*len(docs)/parts : (i+1)*len(docs)/parts]
		wg.Go(func() { errs[i] = writeBatch(idx, part, 0, false) })
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return err
	}
	return idx.SetInternal([]byte(seqInternalKey), binary.BigEndian.AppendUint64(nil, seq))
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
	idx, err := bleve.New(tmp, newIndexMapping())
	if err != nil {
		return fmt.Errorf("rebuild keyword index of %s: %w", day, err)
	}
	var seq uint64
	err = fill(func(docs []bleveDoc, s uint64) error {
		seq = max(seq, s)
		return writeDocs(idx, docs, seq)
	})
	if err == nil && seq == 0 {
		// Nothing to index (the day was dropped meanwhile); keep an empty
		// shard so that the day does not look missing.
		err = idx.SetInternal([]byte(seqInternalKey), binary.BigEndian.AppendUint64(nil, 0))
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
	idx, err := bleve.Open(sh.dir)
	if errors.Is(err, bleve.ErrorIndexPathDoesNotExist) && create {
		idx, err = bleve.New(sh.dir, newIndexMapping())
	}
	if err != nil {
		return fmt.Errorf("open keyword index of %s: %w", sh.day, err)
	}
	v, err := idx.GetInternal([]byte(seqInternalKey))
	if err != nil {
		_ = idx.Close()
		return fmt.Errorf("open keyword index of %s: read sequence: %w", sh.day, err)
	}
	if len(v) == 8 {
		sh.seq.Store(binary.BigEndian.Uint64(v))
	}
	sh.idx = idx
	return nil
}

func (sh *shard) closeLocked() error {
	if sh.idx == nil {
		return nil
	}
	err := sh.idx.Close()
	sh.idx = nil
	if err != nil {
		return fmt.Errorf("close keyword index of %s: %w", sh.day, err)
	}
	return nil
}

// searchSorted returns the first limit matching ids of [lo, hi) in the
// shard, in the order asked, letting Bleve sort by _id. SearchAfter applies
// the bound the order starts from; the other bound cuts the sorted hits.
func (sh *shard) searchSorted(ctx context.Context, bq bquery.Query, lo, hi storage.ID, desc bool, limit int) ([]storage.ID, error) {
	req := bleve.NewSearchRequestOptions(bq, limit, 0, false)
	req.Score = bleve.ScoreNone
	if desc {
		req.SortBy([]string{"-_id"})
		if hi.Compare(dayStartID(sh.day+1)) < 0 {
			req.SearchAfter = []string{hi.String()} // hits strictly below hi
		}
	} else {
		req.SortBy([]string{"_id"})
		if lo.Compare(dayStartID(sh.day)) > 0 {
			req.SearchAfter = []string{idBefore(lo).String()} // hits from lo on
		}
	}
	res, err := sh.idx.SearchInContext(ctx, req)
	if err != nil {
		return nil, fmt.Errorf("search keyword index of %s: %w", sh.day, err)
	}
	ids := make([]storage.ID, 0, len(res.Hits))
	for _, h := range res.Hits {
		id, err := storage.ParseID(h.ID)
		if err != nil {
			return nil, fmt.Errorf("search keyword index of %s: %w", sh.day, err)
		}
		if id.Compare(lo) < 0 || id.Compare(hi) >= 0 {
			break // sorted: the rest is out of range too
		}
		ids = append(ids, id)
	}
	return ids, nil
}

// searchAll returns every matching id of [lo, hi) in the shard, sorted.
func (sh *shard) searchAll(ctx context.Context, bq bquery.Query, lo, hi storage.ID, desc bool) ([]storage.ID, error) {
	var ids []storage.ID
	var perr error
	err := sh.visit(ctx, bq, lo, hi, func(s string) {
		id, err := storage.ParseID(s)
		if err != nil {
			perr = err
			return
		}
		ids = append(ids, id)
	})
	if err == nil {
		err = perr
	}
	if err != nil {
		return nil, fmt.Errorf("search keyword index of %s: %w", sh.day, err)
	}
	slices.SortFunc(ids, storage.ID.Compare)
	if desc {
		slices.Reverse(ids)
	}
	return ids, nil
}

// count counts the matching ids of [lo, hi) in the shard. A shard entirely
// in range is counted by Bleve without loading a single id.
func (sh *shard) count(ctx context.Context, bq bquery.Query, lo, hi storage.ID) (int, error) {
	if lo.Compare(dayStartID(sh.day)) <= 0 && hi.Compare(dayStartID(sh.day+1)) >= 0 {
		req := bleve.NewSearchRequestOptions(bq, 0, 0, false)
		req.Score = bleve.ScoreNone
		res, err := sh.idx.SearchInContext(ctx, req)
		if err != nil {
			return 0, fmt.Errorf("count in keyword index of %s: %w", sh.day, err)
		}
		return int(res.Total), nil
	}
	n := 0
	if err := sh.visit(ctx, bq, lo, hi, func(string) { n++ }); err != nil {
		return 0, fmt.Errorf("count in keyword index of %s: %w", sh.day, err)
	}
	return n, nil
}

// visit calls fn with the id text of every hit in [lo, hi), unordered. It
// replaces Bleve's top-N collection with a handler that sees every hit,
// so that nothing is sorted or kept that is not wanted.
func (sh *shard) visit(ctx context.Context, bq bquery.Query, lo, hi storage.ID, fn func(id string)) error {
	// IDs compare like their text form, so the bounds compare as strings.
	loS, hiS := lo.String(), hi.String()
	maker := blevesearch.MakeDocumentMatchHandler(func(sctx *blevesearch.SearchContext) (blevesearch.DocumentMatchHandler, bool, error) {
		return func(d *blevesearch.DocumentMatch) error {
			if d == nil {
				return nil
			}
			if d.ID >= loS && d.ID < hiS {
				fn(d.ID)
			}
			sctx.DocumentMatchPool.Put(d)
			return nil
		}, true, nil // true: load each hit's id
	})
	req := bleve.NewSearchRequestOptions(bq, 0, 0, false)
	req.Score = bleve.ScoreNone
	_, err := sh.idx.SearchInContext(context.WithValue(ctx, blevesearch.MakeDocumentMatchHandlerKey, maker), req)
	return err
}

// bleveDoc is one entry to index.
type bleveDoc struct {
	id  storage.ID
	msg string
}

// writeBatch indexes docs in one safe batch, which also records seq when
// withSeq is set: Batch returns once the segment and the sequence are
// persisted together.
func writeBatch(idx bleve.Index, docs []bleveDoc, seq uint64, withSeq bool) error {
	b := idx.NewBatch()
	// Build the documents directly (no mapping, no reflection) and in three
	// allocations per batch rather than several per document. Each document
	// gets two field slots: the message and the _id field Bleve appends.
	ds := make([]document.Document, len(docs))
	ms := make([]bleveMessage, len(docs))
	slots := make([]document.Field, 2*len(docs))
	for i := range docs {
		ms[i].text = docs[i].msg
		d := &ds[i]
		d.SetID(docs[i].id.String())
		d.Fields = slots[2*i : 2*i+1 : 2*i+2]
		d.Fields[0] = &ms[i]
		if err := b.IndexAdvanced(d); err != nil {
			return err
		}
	}
	if withSeq {
		b.SetInternal([]byte(seqInternalKey), binary.BigEndian.AppendUint64(nil, seq))
	}
	return idx.Batch(b)
}

// newIndexMapping describes what writeBatch builds, for Bleve's metadata
// and for anything that would map or analyse through Bleve: one text field,
// indexed with the logengine analyzer, not stored, without term vectors or
// doc values. The _all composite field is disabled the way Bleve requires
// (a disabled sub-document mapping): it would index every term twice.
func newIndexMapping() mapping.IndexMapping {
	fm := bleve.NewTextFieldMapping()
	fm.Analyzer = analyzerName
	fm.Store = false
	fm.IncludeTermVectors = false
	fm.IncludeInAll = false
	fm.DocValues = false

	dm := bleve.NewDocumentStaticMapping()
	dm.AddFieldMappingsAt(messageFieldName, fm)
	dm.AddSubDocumentMapping("_all", bleve.NewDocumentDisabledMapping())

	m := bleve.NewIndexMapping()
	m.DefaultMapping = dm
	m.DefaultAnalyzer = analyzerName
	m.DefaultField = messageFieldName
	m.StoreDynamic = false
	m.IndexDynamic = false
	m.DocValuesDynamic = false
	return m
}
