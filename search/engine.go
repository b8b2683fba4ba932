package search

import (
	"cmp"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"math"
	"slices"
	"sync/atomic"
	"time"

	"github.com/logengine/logengine/internal/duration"
	"github.com/logengine/logengine/patterns"
	"github.com/logengine/logengine/storage"
	"github.com/logengine/logengine/storage/block"
)

// keywordIndex is what the engine needs of the keyword index.
type keywordIndex interface {
	Search(ctx context.Context, q Keywords, lo, hi storage.ID) (Candidates, error)
}

var _ keywordIndex = (*Index)(nil)

// indexProgress tells how far the keyword index has got.
type indexProgress interface {
	WaitIndexed(ctx context.Context, seq uint64) error
	IndexedSeq() uint64
}

// EngineOptions configures an Engine.
type EngineOptions struct {
	// Timeout bounds one search or aggregation; zero means 30s.
	Timeout time.Duration
	// MaxTail is how many acknowledged but not yet indexed entries a
	// keyword search reads and checks itself, so that answers are exact
	// while the index lags. Beyond it, keyword terms fall back to a scan.
	// Zero means 50,000.
	MaxTail int
	// MaxRange bounds the time range of one search, aggregation or
	// histogram; zero leaves it open, as the README promises (section
	// "Configuration", max_query_range): searches without from and to cover
	// all time. The time budget bounds their cost anyway;
	// this is for operators who want wide queries refused up front.
	MaxRange time.Duration
	// MaxGroupBytes bounds the memory of the groups of one aggregation,
	// grouped histogram or facet count (limits.max_group_bytes): a query
	// with more distinct keys fails with a LimitError, never runs out of
	// memory. Zero means DefaultMaxGroupBytes.
	MaxGroupBytes int64
	// Templates names and resolves message template ids (the daemon's
	// patterns.Miner); nil: pattern ids match as stored, with no text.
	Templates Templates
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Templates is what the engine needs of the template miner.
type Templates interface {
	// Resolve returns the live id of a template id (itself, or the
	// template it was merged into), false when it is unknown.
	Resolve(id uint64) (uint64, bool)
	// Template returns the live template of an id.
	Template(id uint64) (patterns.Template, bool)
}

// Engine plans and executes searches and aggregations over the store and
// the keyword index.
type Engine struct {
	store    *storage.Store
	index    keywordIndex
	progress indexProgress
	opts     EngineOptions
	// scanFirst is how many entries per wanted one a search scans before
	// it plans (see collect); tests set it to zero to plan at once.
	scanFirst int
	// exportPage is how many entries an export reads per search (see
	// Export); tests make it small.
	exportPage int
	// firstWindows is how many first windows of a planned search the range
	// holds (see collectPlanned); tests vary it, 1 plans the whole range.
	firstWindows int
	// colWorkers and colMinBlocks are how many workers share the blocks
	// of an aggregation read on columns, and the fewest blocks each gets
	// (Store.EachBlockParallel): zero means one per core and storage's
	// default; tests share a few blocks among many workers.
	colWorkers, colMinBlocks int
	// colWorkersSeen has a bit set for each worker (of the first 64) that
	// counted a block of an aggregation on columns, so that tests can
	// tell the blocks were shared.
	colWorkersSeen atomic.Uint64
	// columnReads counts the aggregations and histograms read on columns
	// (columnPlan), so that tests can tell their queries reach that path.
	columnReads atomic.Int64
}

// NewEngine returns an engine reading store and index.
func NewEngine(store *storage.Store, index keywordIndex, progress indexProgress, opts EngineOptions) *Engine {
	if opts.Timeout <= 0 {
		opts.Timeout = 30 * time.Second
	}
	if opts.MaxTail <= 0 {
		opts.MaxTail = 50000
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.MaxGroupBytes <= 0 {
		opts.MaxGroupBytes = DefaultMaxGroupBytes
	}
	return &Engine{store: store, index: index, progress: progress, opts: opts, scanFirst: scanFirst, exportPage: MaxLimit, firstWindows: firstWindows}
}

// Get returns one entry.
func (e *Engine) Get(_ context.Context, id storage.ID) (storage.Entry, error) {
	return e.store.Get(id)
}

// WaitIndexed blocks until the keyword index covers seq.
func (e *Engine) WaitIndexed(ctx context.Context, seq uint64) error {
	return e.progress.WaitIndexed(ctx, seq)
}

// bounds turns a request's time range into an ID range [lo, hi), refusing
// a range wider than MaxRange with an error that names the setting.
func (e *Engine) bounds(from, to time.Time) (lo, hi storage.ID, err error) {
	if e.opts.MaxRange > 0 {
		if from.IsZero() {
			return lo, hi, &InputError{Msg: fmt.Sprintf("from is required: queries may span at most %s (limits.max_query_range)", duration.Format(e.opts.MaxRange))}
		}
		end := to
		if end.IsZero() {
			end = e.opts.Now()
		}
		if end.Sub(from) > e.opts.MaxRange {
			return lo, hi, &InputError{Msg: fmt.Sprintf("the time range from %s to %s is %s, more than the limit of %s (limits.max_query_range): narrow from and to",
				from.UTC().Format(time.RFC3339), end.UTC().Format(time.RFC3339), duration.Format(end.Sub(from).Round(time.Second)), duration.Format(e.opts.MaxRange))}
		}
	}
	lo, hi = storage.MinID, storage.MaxID
	if !from.IsZero() {
		lo = storage.ID{Nanos: unixNanos(from)}
	}
	if !to.IsZero() {
		hi = storage.ID{Nanos: unixNanos(to)}
	}
	return lo, hi, nil
}

// unixNanos returns t in nanoseconds since the epoch, saturated to the
// times entries can have (1970 to 2262), where UnixNano is undefined.
func unixNanos(t time.Time) int64 {
	switch {
	case t.Before(time.Unix(0, 0)):
		return 0
	case t.After(time.Unix(0, math.MaxInt64)):
		return math.MaxInt64
	}
	return t.UnixNano()
}

// query is one parsed request being executed: the tree, its range and the
// sets computed for it so far.
type query struct {
	e      *Engine
	node   Node
	lo, hi storage.ID
	// inRange holds the terms on timestamp and id that every match must
	// satisfy and that narrowed [lo, hi): every entry in range satisfies
	// them, so the planner treats them as true.
	inRange map[Node]bool

	universe []storage.ID // all ids in range, computed on first need
	tail     []storage.Entry
	tailOK   bool // tail loaded and small enough to check by hand
	tailDone bool
	// wider is the query of a wider range whose tail this one shares, so
	// that the windows of a search read the journal once (collectPlanned).
	wider *query
}

// rangeQuery parses query for the entries of [from, to) (zero times: open
// ends), as aggregations, histograms and facets read them.
func (e *Engine) rangeQuery(ctx context.Context, query string, from, to time.Time) (*query, error) {
	lo, hi, err := e.bounds(from, to)
	if err != nil {
		return nil, err
	}
	return e.newQuery(ctx, query, lo, hi, false)
}

func (e *Engine) newQuery(ctx context.Context, q string, lo, hi storage.ID, waitIndexed bool) (*query, error) {
	node, err := Parse(q)
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if waitIndexed {
		if err := e.progress.WaitIndexed(ctx, e.store.HighSeq()); err != nil {
			return nil, fmt.Errorf("wait for the index: %w", err)
		}
	}
	e.prepare(node)
	qu := &query{e: e, node: node, lo: lo, hi: hi, inRange: map[Node]bool{}}
	for _, r := range Requirements(node) {
		qu.narrow(r)
	}
	return qu, nil
}

// within returns a copy of q for the part of its range in [lo, hi), with
// nothing computed yet.
func (q *query) within(lo, hi storage.ID) *query {
	return &query{e: q.e, node: q.node, lo: maxID(q.lo, lo), hi: minID(q.hi, hi), inRange: q.inRange}
}

// narrow narrows the range by a term that every match satisfies, when it
// is a comparison with the timestamp or the id, which order entries like
// the range does.
func (q *query) narrow(n Node) {
	var op Op
	var lit Literal
	var field string
	switch n := n.(type) {
	case *Equal:
		field, lit = n.Field, n.Value
	case *Compare:
		field, op, lit = n.Field, n.Op, n.Value
	default:
		return
	}
	var lo, hi storage.ID // the range of ids satisfying the term
	switch field {
	case FieldTimestamp:
		t := lit.Time
		switch {
		case t.Before(time.Unix(0, 0)):
			lo, hi = storage.MinID, storage.MinID // every entry is after t
			if op == OpGreater || op == OpGreaterEqual {
				hi = storage.MaxID
			}
		case t.After(time.Unix(0, math.MaxInt64-1)):
			lo, hi = storage.MaxID, storage.MaxID // every entry is before t
			if op == OpLess || op == OpLessEqual {
				lo = storage.MinID
			}
		default:
			lo, hi = idRange(op, storage.ID{Nanos: t.UnixNano()}, storage.ID{Nanos: t.UnixNano() + 1})
		}
	case FieldID:
		id, err := storage.ParseID(lit.Text)
		if err != nil {
			return
		}
		lo, hi = idRange(op, id, next(id))
	default:
		return
	}
	q.lo, q.hi = maxID(q.lo, lo), minID(q.hi, hi)
	q.inRange[n] = true
}

// idRange returns the ids that compare with the value [first, after) as op
// asks; opMatch is equality.
func idRange(op Op, first, after storage.ID) (lo, hi storage.ID) {
	switch op {
	case OpLess:
		return storage.MinID, first
	case OpLessEqual:
		return storage.MinID, after
	case OpGreater:
		return after, storage.MaxID
	case OpGreaterEqual:
		return first, storage.MaxID
	}
	return first, after
}

// cursor is the position after the last entry of a page: the sort, the
// entry's level (for severity sorts) and its id.
type cursor struct {
	sort  Sort
	level storage.Level
	id    storage.ID
}

func (c cursor) encode() string {
	b := make([]byte, 0, 19)
	b = append(b, 1, byte(c.sort), byte(c.level))
	id := c.id.Bytes()
	b = append(b, id[:]...)
	return base64.RawURLEncoding.EncodeToString(b)
}

func decodeCursor(s string, sort Sort) (cursor, error) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || len(b) != 19 || b[0] != 1 {
		return cursor{}, &InputError{Msg: "cursor is not valid: pass the next_cursor of the previous page unchanged"}
	}
	c := cursor{sort: Sort(b[1]), level: storage.Level(b[2]), id: storage.IDFromBytes(b[3:])}
	if c.sort != sort {
		return cursor{}, &InputError{Msg: fmt.Sprintf("cursor belongs to sort=%s: repeat the same q, from, to, sort and limit with the cursor", c.sort)}
	}
	return c, nil
}

// EncodeCursor returns the cursor that continues a search of sort after an
// entry of level and id, as the next_cursor of a page ending with it. A
// cluster builds each node's position from its own cursor this way.
func EncodeCursor(sort Sort, level storage.Level, id storage.ID) string {
	return cursor{sort: sort, level: level, id: id}.encode()
}

// DecodeCursor returns the level and id of the entry a cursor of sort
// continues after; an InputError when it is not one.
func DecodeCursor(s string, sort Sort) (storage.Level, storage.ID, error) {
	c, err := decodeCursor(s, sort)
	return c.level, c.id, err
}

// Search returns one page of matching entries.
func (e *Engine) Search(ctx context.Context, req Request) (*Result, error) {
	start := e.opts.Now()
	ctx, cancel := context.WithTimeout(ctx, e.opts.Timeout)
	defer cancel()
	if req.Limit <= 0 {
		req.Limit = DefaultLimit
	}
	if req.Limit > MaxLimit {
		return nil, &InputError{Msg: fmt.Sprintf("limit %d is above the maximum of %d", req.Limit, MaxLimit)}
	}
	var cur *cursor
	if req.Cursor != "" {
		c, err := decodeCursor(req.Cursor, req.Sort)
		if err != nil {
			return nil, err
		}
		cur = &c
	}
	lo, hi, err := e.bounds(req.From, req.To)
	if err != nil {
		return nil, err
	}
	q, err := e.newQuery(ctx, req.Query, lo, hi, req.WaitIndexed)
	if err != nil {
		return nil, err
	}
	var out []storage.Entry
	want := req.Limit + 1 // one more tells whether there is a next page
	switch req.Sort {
	case SortTimeDesc, SortTimeAsc:
		desc := req.Sort == SortTimeDesc
		if cur != nil {
			if desc {
				q = q.within(storage.MinID, cur.id)
			} else {
				q = q.within(next(cur.id), storage.MaxID)
			}
		}
		out, err = q.collect(ctx, q.node, desc, want)
	case SortSeverityDesc, SortSeverityAsc:
		// One level after the other, each in id order.
		desc := req.Sort == SortSeverityDesc
		levels := slices.Clone(storage.Levels)
		if desc {
			slices.Reverse(levels)
		}
		for _, l := range levels {
			if len(out) >= want {
				break
			}
			sub := q.within(storage.MinID, storage.MaxID)
			if cur != nil {
				if desc && l > cur.level || !desc && l < cur.level {
					continue
				}
				if l == cur.level {
					if desc {
						sub = q.within(storage.MinID, cur.id)
					} else {
						sub = q.within(next(cur.id), storage.MaxID)
					}
				}
			}
			node := &And{Nodes: []Node{q.node, &Equal{Field: FieldLevel, Value: levelLiteral(l)}}}
			var page []storage.Entry
			page, err = sub.collect(ctx, node, desc, want-len(out))
			if err != nil {
				break
			}
			out = append(out, page...)
		}
	default:
		return nil, &InputError{Msg: fmt.Sprintf("unknown sort %d", req.Sort)}
	}
	if err != nil {
		return nil, err
	}
	res := &Result{Entries: out}
	if len(out) > req.Limit {
		res.Entries = out[:req.Limit]
		last := res.Entries[req.Limit-1]
		res.NextCursor = cursor{sort: req.Sort, level: last.Level, id: last.ID}.encode()
	}
	res.Took = e.opts.Now().Sub(start)
	return res, nil
}

func levelLiteral(l storage.Level) Literal {
	return Literal{Text: l.String(), Number: float64(l), IsNumber: true, Int: int64(l), IsInt: true}
}

func minID(a, b storage.ID) storage.ID {
	if a.Compare(b) < 0 {
		return a
	}
	return b
}

func maxID(a, b storage.ID) storage.ID {
	if a.Compare(b) > 0 {
		return a
	}
	return b
}

// next returns the smallest ID after id.
func next(id storage.ID) storage.ID {
	switch {
	case id.Seq != ^uint64(0):
		return storage.ID{Nanos: id.Nanos, Seq: id.Seq + 1}
	case id.Nanos == math.MaxInt64:
		return storage.MaxID
	}
	return storage.ID{Nanos: id.Nanos + 1}
}

// scanFirst is how many entries per wanted one a search scans before it
// plans, up to maxScanFirst: matches that are dense in time (a common word,
// a frequent level) fill a page from a short scan faster than any index
// lists them (reading an entry in a scan costs a few µs, fetching one by id
// ~10 µs, and a word in 10% of 1M logs takes ~30 ms to list from Bleve),
// and a sparse query loses only a short scan: it gives up as soon as the
// matches seen are too few to fill the page within the budget.
const (
	scanFirst    = 16
	maxScanFirst = 16384
)

// collect returns up to want entries matching node in [q.lo, q.hi), in id
// order (descending when desc).
func (q *query) collect(ctx context.Context, node Node, desc bool, want int) ([]storage.Entry, error) {
	var out []storage.Entry
	budget, scanned := min(q.e.scanFirst*want, maxScanFirst), 0
	if budget == 0 {
		return q.collectPlanned(ctx, node, desc, want)
	}
	var last storage.ID
	stopped := false // by the budget, before the end of the range
	m := q.matchScan(node)
	err := m.scan(ctx, q.lo, q.hi, desc, func(e *storage.Entry) bool {
		// Give up at the budget, or as soon as the matches seen so far
		// are too sparse to fill the page within it.
		if scanned == budget || scanned >= 128 && scanned&(scanned-1) == 0 &&
			(want-m.found)*scanned > (budget-scanned)*m.found {
			stopped = true
			return false
		}
		scanned++
		last = e.ID
		return m.take(e) < want
	})
	if err == nil {
		out, err = m.entries(ctx)
	}
	if err != nil || !stopped || len(out) >= want {
		return out, err
	}
	rest := q.within(next(last), storage.MaxID)
	if desc {
		rest = q.within(storage.MinID, last)
	}
	more, err := rest.collectPlanned(ctx, node, desc, want-len(out))
	return append(out, more...), err
}

// firstWindows is how many of the first window the time range of a planned
// search holds (see collectPlanned), and windowGrowth how much each window
// is wider than the one before.
const (
	firstWindows = 64
	windowGrowth = 4
)

// collectPlanned is collect from the candidates the planner finds. It
// plans time windows from the end the search reads from, each
// windowGrowth times wider than the last, and stops when the page is
// full: a word of a busy day has hundreds of thousands of candidates, and
// listing them all (the index's postings, then each block's ids) cost
// tens of times what the page needs. Windows split the range in id
// order, so the pages they fill in turn are the page of the whole range.
func (q *query) collectPlanned(ctx context.Context, node Node, desc bool, want int) ([]storage.Entry, error) {
	width, err := q.firstWindow(ctx)
	if err != nil {
		return nil, err
	}
	var out []storage.Entry
	rest := q.within(storage.MinID, storage.MaxID)
	for {
		w := rest
		switch {
		case width <= 0:
		case desc && rest.hi.Nanos-rest.lo.Nanos > width:
			w = rest.within(storage.ID{Nanos: rest.hi.Nanos - width}, storage.MaxID)
		case !desc && rest.hi.Nanos-rest.lo.Nanos > width:
			w = rest.within(storage.MinID, storage.ID{Nanos: rest.lo.Nanos + width})
		}
		w.wider = q
		set, err := w.plan(ctx, node, false)
		if err != nil {
			return nil, err
		}
		if set == nil || set.all && !set.exact {
			// Nothing narrows the candidates: scan the rest in order.
			more, err := rest.collectScan(ctx, node, desc, want-len(out))
			return append(out, more...), err
		}
		more, err := w.fetch(ctx, node, set, desc, want-len(out))
		if err != nil {
			return nil, err
		}
		out = append(out, more...)
		if len(out) >= want || w.lo == rest.lo && w.hi == rest.hi {
			return out, nil
		}
		if desc {
			rest = rest.within(storage.MinID, w.lo)
		} else {
			rest = rest.within(w.hi, storage.MaxID)
		}
		width = min(width, math.MaxInt64/windowGrowth) * windowGrowth
	}
}

// firstWindow returns the width in nanoseconds of the first window of
// collectPlanned: a firstWindows'th of the range, cut to the days that hold
// entries (searches without from or to span all time); zero for one
// window.
func (q *query) firstWindow(ctx context.Context) (int64, error) {
	if q.e.firstWindows <= 1 || q.lo.Compare(q.hi) >= 0 {
		return 0, nil
	}
	lo, hi := q.lo.Nanos, q.hi.Nanos
	if q.lo == storage.MinID || q.hi == storage.MaxID {
		days, err := q.e.store.Days(lo, hi)
		if err != nil || len(days) == 0 {
			return 0, err
		}
		lo = max(lo, days[0].Start())
		hi = min(hi, days[len(days)-1].Start()+int64(24*time.Hour))
	}
	return max(1, (hi-lo)/int64(q.e.firstWindows)), nil
}

// collectScan is collect by a scan of the range in order, for queries the
// planner cannot narrow.
func (q *query) collectScan(ctx context.Context, node Node, desc bool, want int) ([]storage.Entry, error) {
	m := q.matchScan(node)
	err := m.scan(ctx, q.lo, q.hi, desc, func(e *storage.Entry) bool {
		return m.take(e) < want
	})
	if err != nil {
		return nil, err
	}
	return m.entries(ctx)
}

// fetch returns up to want entries of set that match node, in id order
// (descending when desc).
func (q *query) fetch(ctx context.Context, node Node, set *idSet, desc bool, want int) ([]storage.Entry, error) {
	var out []storage.Entry
	keep := func(e *storage.Entry) bool {
		out = append(out, cloneEntry(e))
		return len(out) < want
	}
	ids, err := q.list(ctx, set)
	if err != nil {
		return nil, err
	}
	if desc {
		ids = slices.Clone(ids)
		slices.Reverse(ids)
	}
	// Fetch in chunks: a page usually needs only the first few candidates.
	const chunk = 256
	for start := 0; start < len(ids); start += chunk {
		stop := false
		batch := ids[start:min(start+chunk, len(ids))]
		err := q.e.store.GetMany(ctx, batch, func(e *storage.Entry) bool {
			if !set.exact && !Match(node, e) {
				return true
			}
			if !keep(e) {
				stop = true
				return false
			}
			return true
		})
		if err != nil {
			return nil, err
		}
		if stop {
			break
		}
	}
	return out, nil
}

// matchScan collects the entries of a scan that match node. When node
// reads no message, the scan reads only the columns node needs
// (storage.ScanColumns) and the matches are fetched whole at the end.
type matchScan struct {
	e       *Engine
	node    Node
	cols    []string
	partial bool
	found   int
	whole   []storage.Entry // matches, when the scan reads whole entries
	ids     []storage.ID    // matches, when it reads columns

	// pred is node compiled for columns, when all of it compiles: a block
	// none of whose rows it selects is not decoded (rows). exact says the
	// rows it selects are the matches, handed over as IDs alone, so take
	// need not match them again.
	pred  *colNode
	exact bool
	cb    colBlock
}

func (q *query) matchScan(node Node) *matchScan {
	cols, partial := scanColumns(node, nil)
	m := &matchScan{e: q.e, node: node, cols: cols, partial: partial}
	if pred, ok := compileColumns(node, q.alwaysTrue); ok && pred.op != colAll {
		m.pred = pred
		m.exact = partial
	}
	return m
}

func (m *matchScan) scan(ctx context.Context, lo, hi storage.ID, desc bool, fn func(*storage.Entry) bool) error {
	spec := storage.ScanSpec{Lo: lo, Hi: hi, Reverse: desc, Columns: m.partial, Fields: m.cols, MayMatch: headerFilter(m.node)}
	if m.pred != nil {
		spec.Rows = m.rows
		// Matches are fetched whole later, as a partial scan's are.
		spec.IDsOnly = m.exact
	}
	return m.e.store.ScanWhere(ctx, spec, fn)
}

// rows checks m's predicate on the columns it reads, so that the scan
// decodes only blocks with matches and hands over only the rows that
// match: decoding a block's entries costs several times more than checking
// one column, and a needle's search (one trace id among a day) decoded each
// block whose bloom filter answered "maybe" falsely, and spent its budget
// of entries to look at (collect) on the rows of the one that holds it.
func (m *matchScan) rows(h *block.Header, body []byte) ([]uint64, error) {
	m.cb.reset(h, body)
	return m.cb.selectRows(m.pred, 0, h.Count)
}

// take keeps e if it matches, and returns how many matched so far.
func (m *matchScan) take(e *storage.Entry) int {
	if m.exact || Match(m.node, e) {
		if m.partial {
			m.ids = append(m.ids, e.ID)
		} else {
			m.whole = append(m.whole, cloneEntry(e))
		}
		m.found++
	}
	return m.found
}

// entries returns the matches whole, in scan order. An entry deleted since
// the scan saw it is left out.
func (m *matchScan) entries(ctx context.Context) ([]storage.Entry, error) {
	if !m.partial {
		return m.whole, nil
	}
	out := make([]storage.Entry, 0, len(m.ids))
	err := m.e.store.GetMany(ctx, m.ids, func(e *storage.Entry) bool {
		out = append(out, *e)
		return true
	})
	return out, err
}

func cloneEntry(e *storage.Entry) storage.Entry {
	c := *e
	c.Tags = slices.Clone(e.Tags)
	c.Fields = slices.Clone(e.Fields)
	return c
}

// idSet is a sorted set of candidate ids. exact means every id matches the
// node it was planned for; otherwise each fetched entry must be checked.
type idSet struct {
	ids   []storage.ID // ascending; nil for an all set not listed yet (see list)
	exact bool
	all   bool // every entry in range

	bits []uint64 // bitmap of the ids' sequences from base; see has
	base uint64
}

// has reports whether the set, which must be listed, holds id. Sequences
// are unique, so a bitmap of the set's sequences answers in constant time;
// it is built on first use (a set spanning too many sequences falls back
// to binary search).
func (s *idSet) has(id storage.ID) bool {
	if s.bits == nil && len(s.ids) > 0 {
		minSeq, maxSeq := s.ids[0].Seq, s.ids[0].Seq
		for _, x := range s.ids {
			minSeq, maxSeq = min(minSeq, x.Seq), max(maxSeq, x.Seq)
		}
		if maxSeq-minSeq < 1<<28 {
			s.base = minSeq
			s.bits = make([]uint64, (maxSeq-minSeq)/64+1)
			for _, x := range s.ids {
				o := x.Seq - minSeq
				s.bits[o/64] |= 1 << (o % 64)
			}
		}
	}
	if s.bits == nil {
		_, found := slices.BinarySearchFunc(s.ids, id, storage.ID.Compare)
		return found
	}
	if id.Seq < s.base || (id.Seq-s.base)/64 >= uint64(len(s.bits)) {
		return false
	}
	// A sequence belongs to one entry of the store, so it decides alone.
	o := id.Seq - s.base
	return s.bits[o/64]&(1<<(o%64)) != 0
}

// countIn counts the ids (in any order) that the set holds.
func (s *idSet) countIn(ids []storage.ID) int {
	n := 0
	for _, id := range ids {
		if s.has(id) {
			n++
		}
	}
	return n
}

// allSet returns the set of every entry in range, listed only when needed.
func allSet() *idSet { return &idSet{exact: true, all: true} }

// list returns the ids of s, listing every id in range for an all set.
func (q *query) list(ctx context.Context, s *idSet) ([]storage.ID, error) {
	if s.all && s.ids == nil {
		u, err := q.all(ctx)
		if err != nil {
			return nil, err
		}
		s.ids = u
	}
	return s.ids, nil
}

// and intersects two sets; the result is exact when both are.
func (q *query) and(a, b *idSet) *idSet {
	switch {
	case a == nil:
		return b
	case a.all:
		return &idSet{ids: b.ids, all: b.all, exact: a.exact && b.exact}
	case b.all:
		return &idSet{ids: a.ids, exact: a.exact && b.exact}
	}
	return &idSet{ids: intersect(a.ids, b.ids), exact: a.exact && b.exact}
}

// or unites two sets; the result is exact when both are.
func (q *query) or(a, b *idSet) *idSet {
	switch {
	case a == nil:
		return b
	case a.all || b.all:
		return &idSet{all: true, exact: a.exact && b.exact}
	}
	return &idSet{ids: union(a.ids, b.ids), exact: a.exact && b.exact}
}

// minus removes from a the ids of b, which must be exact.
func (q *query) minus(ctx context.Context, a, b *idSet) (*idSet, error) {
	if b.all {
		return &idSet{exact: a.exact}, nil
	}
	ids, err := q.list(ctx, a)
	if err != nil {
		return nil, err
	}
	return &idSet{ids: difference(ids, b.ids), exact: a.exact}, nil
}

// alwaysTrue reports whether every entry in the query's range matches n:
// MatchAll, the terms on timestamp and id the range was narrowed by, and
// fields every entry has.
func (q *query) alwaysTrue(n Node) bool {
	switch n := n.(type) {
	case *MatchAll:
		return true
	case *Exists:
		switch n.Field {
		case FieldLevel, FieldSeverity, FieldTimestamp, FieldID, FieldMessage:
			return true // the store refuses entries without a message
		}
	}
	return q.inRange[n]
}

// plan computes the candidate ids of node in [q.lo, q.hi) from the
// secondary indexes and the keyword index, or returns nil when only a scan
// of the range can find them. With whole, sets as large as the range are
// worth computing: aggregations read every match anyway, and counting by
// index beats a scan. Searches, which stop when the page is full, are
// better served by a scan then.
func (q *query) plan(ctx context.Context, node Node, whole bool) (*idSet, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if q.alwaysTrue(node) {
		if !whole {
			return nil, nil
		}
		return allSet(), nil
	}
	switch n := node.(type) {
	case *Word:
		return q.keywords(ctx, node, Keywords{Terms: []string{n.Token}}, true, whole)
	case *Prefix:
		return q.keywords(ctx, node, Keywords{Prefixes: []string{n.Prefix}}, true, whole)
	case *Phrase:
		// The index has no positions: find entries with all the words, and
		// let Match check their order on the fetched message.
		return q.keywords(ctx, node, Keywords{Terms: n.Tokens}, false, whole)
	case *Equal:
		return q.equal(ctx, n)
	case *Compare:
		if n.Field != FieldLevel && n.Field != FieldSeverity {
			return nil, nil
		}
		var ids []storage.ID
		for _, l := range storage.Levels {
			if n.Value.IsNumber && holds(cmp.Compare(float64(l), n.Value.Number), n.Op) {
				p, err := q.postings(ctx, storage.IndexValue{Kind: storage.IndexLevel, Value: l.String()})
				if err != nil {
					return nil, err
				}
				ids = union(ids, p)
			}
		}
		return &idSet{ids: ids, exact: true}, nil
	case *And:
		return q.planAnd(ctx, n, whole)
	case *Or:
		var acc *idSet
		for _, c := range n.Nodes {
			s, err := q.plan(ctx, c, whole)
			if err != nil || s == nil {
				return nil, err
			}
			acc = q.or(acc, s)
		}
		if acc == nil {
			return &idSet{exact: true}, nil // an empty OR matches nothing
		}
		return acc, nil
	case *Not:
		if q.alwaysTrue(n.Node) {
			return &idSet{exact: true}, nil
		}
		if !whole {
			return nil, nil
		}
		s, err := q.plan(ctx, n.Node, false)
		if err != nil || s == nil || !s.exact {
			return nil, err
		}
		return q.minus(ctx, allSet(), s)
	}
	return nil, nil
}

// planAnd intersects the sets of the parts of n that have one and removes
// those of its exact negations, so that `level:error -tag:test` never lists
// every entry in range.
func (q *query) planAnd(ctx context.Context, n *And, whole bool) (*idSet, error) {
	var acc *idSet
	var negs []*idSet
	exact := true
	for _, c := range n.Nodes {
		if q.alwaysTrue(c) {
			continue
		}
		if not, ok := c.(*Not); ok {
			if q.alwaysTrue(not.Node) {
				return &idSet{exact: true}, nil
			}
			s, err := q.plan(ctx, not.Node, false)
			if err != nil {
				return nil, err
			}
			if s != nil && s.exact {
				negs = append(negs, s)
			} else {
				exact = false
			}
			continue
		}
		s, err := q.plan(ctx, c, false)
		if err != nil {
			return nil, err
		}
		if s == nil {
			exact = false
			continue
		}
		acc = q.and(acc, s)
		if len(acc.ids) == 0 && !acc.all {
			return &idSet{exact: true}, nil // nothing can match
		}
	}
	if acc == nil {
		if !whole {
			return nil, nil
		}
		acc = allSet()
	}
	for _, s := range negs {
		var err error
		if acc, err = q.minus(ctx, acc, s); err != nil {
			return nil, err
		}
	}
	out := *acc
	out.exact = acc.exact && exact
	return &out, nil
}

func (q *query) postings(ctx context.Context, iv storage.IndexValue) ([]storage.ID, error) {
	if q.lo.Compare(q.hi) >= 0 {
		return nil, nil
	}
	return q.e.store.Postings(ctx, iv, q.lo, q.hi)
}

// equal plans field:value from a secondary index when there is one.
func (q *query) equal(ctx context.Context, n *Equal) (*idSet, error) {
	var iv storage.IndexValue
	switch {
	case n.Field == FieldLevel || n.Field == FieldSeverity:
		// Match compares the severity numbers: only a level's own number
		// (9, not 10 or 9.5) finds its entries.
		lit := n.Value
		if !lit.IsNumber || lit.Number != math.Trunc(lit.Number) || lit.Number < 0 || lit.Number > 255 {
			return &idSet{exact: true}, nil
		}
		l := storage.Level(lit.Number)
		if !l.Valid() {
			return &idSet{exact: true}, nil
		}
		iv = storage.IndexValue{Kind: storage.IndexLevel, Value: l.String()}
	case n.Field == FieldSource:
		iv = storage.IndexValue{Kind: storage.IndexSource, Value: n.Value.Text}
	case n.Field == FieldTag:
		iv = storage.IndexValue{Kind: storage.IndexTag, Value: n.Value.Text}
	case n.Field == FieldPattern:
		return nil, nil // no index: the scan reads the templates column
	case q.e.store.IsIndexedField(n.Field):
		return q.equalIndexed(ctx, n)
	default:
		return nil, nil
	}
	ids, err := q.postings(ctx, iv)
	if err != nil {
		return nil, err
	}
	return &idSet{ids: ids, exact: true}, nil
}

// equalIndexed plans field:value on an indexed field. The index keys values
// by their text (storage.Value.Text), while Match compares numbers as
// numbers: the literal 404 matches the integer 404, the float 404.0 and the
// string "404", and 2e6 the integer 2000000 and the float 2e+06. So every
// text a matching value can have is looked up; when those are more than the
// literal's own text, a string field holding one of the others is a false
// candidate, and the set is not exact.
func (q *query) equalIndexed(ctx context.Context, n *Equal) (*idSet, error) {
	lit := n.Value
	texts := []string{lit.Text}
	exact := true
	switch lit.Text {
	case "NaN", "+Inf", "-Inf":
		exact = false // the text of float values that equal nothing
	}
	if lit.IsNumber {
		switch {
		case lit.IsInt:
			texts = append(texts, storage.Int(lit.Int).Text())
		case math.Abs(lit.Number) >= 1<<53:
			// Many integers convert to this float: scan.
			return nil, nil
		case lit.Number == math.Trunc(lit.Number):
			texts = append(texts, storage.Int(int64(lit.Number)).Text())
		}
		texts = append(texts, storage.Float(lit.Number).Text())
		if lit.Number == 0 {
			texts = append(texts, "0", "-0")
		}
	}
	slices.Sort(texts)
	texts = slices.Compact(texts)
	if len(texts) > 1 {
		exact = false
	}
	var ids []storage.ID
	for _, t := range texts {
		p, err := q.postings(ctx, storage.IndexValue{Kind: storage.IndexField, Name: n.Field, Value: t})
		if err != nil {
			return nil, err
		}
		ids = union(ids, p)
	}
	return &idSet{ids: ids, exact: exact}, nil
}

// all returns every id in range, from the level index (every entry has
// exactly one level). A level's lists come in commit order, so each level's
// ids are a sorted run when entries arrive in time order: the runs are
// merged, and only a run out of order is sorted first.
func (q *query) all(ctx context.Context) ([]storage.ID, error) {
	if q.universe != nil {
		return q.universe, nil
	}
	ids := []storage.ID{}
	var runs [][]storage.ID // of the current day, one per level
	var run []storage.ID
	day := storage.Day(0)
	value := ""
	flush := func() {
		if len(run) > 0 {
			if !slices.IsSortedFunc(run, storage.ID.Compare) {
				storage.SortIDs(run)
			}
			runs = append(runs, run)
		}
		run = nil
	}
	merge := func() {
		flush()
		for len(runs) > 1 { // pairwise, smallest first
			slices.SortFunc(runs, func(a, b []storage.ID) int { return cmp.Compare(len(a), len(b)) })
			runs = append(runs[2:], union(runs[0], runs[1]))
		}
		if len(runs) == 1 {
			ids = append(ids, runs[0]...)
		}
		runs = runs[:0]
	}
	err := q.e.store.PostingLists(ctx, storage.IndexLevel, "", q.lo, q.hi, func(l *storage.PostingList) error {
		if d := storage.DayOf(l.MinNanos); d != day || len(runs) == 0 && run == nil {
			// Days come in order and hold disjoint times.
			merge()
			day, value = d, l.Value
		} else if l.Value != value {
			flush()
			value = l.Value
		}
		var err error
		run, err = l.AppendIDs(run, q.lo, q.hi)
		return err
	})
	if err != nil {
		return nil, err
	}
	merge()
	q.universe = ids
	return ids, nil
}

// maxCheck is how many of the index's unsure candidates a search checks
// while planning. Past it, a search that stops at a full page leaves them
// to be checked as it reads, which it does for far fewer of them.
const maxCheck = 20000

// keywords plans a keyword term from the index plus the entries the index
// has not reached yet, checked by hand, so the answer is exact however far
// the indexer lags. When the lag is too large to check by hand it returns
// nil and the caller scans. The index's unsure candidates are read and
// matched here when they are few or whole asks for every match anyway;
// otherwise the set is not exact and the search checks what it reads.
func (q *query) keywords(ctx context.Context, node Node, kw Keywords, exact, whole bool) (*idSet, error) {
	if err := q.loadTail(ctx); err != nil {
		return nil, err
	}
	if !q.tailOK {
		return nil, nil
	}
	c, err := q.e.index.Search(ctx, kw, q.lo, q.hi)
	if errors.Is(err, errShardUnusable) {
		return nil, nil // scan until the indexer has rebuilt the shard
	}
	if err != nil {
		return nil, err
	}
	ids := c.Sure
	if len(c.Maybe) > 0 {
		if whole || len(c.Maybe) <= maxCheck {
			// Read with the messages and only the fields node reads:
			// most candidates are false positives of the index's filters,
			// in blocks decoded for them alone.
			var matched []storage.ID
			check := func(e *storage.Entry) bool {
				if Match(node, e) {
					matched = append(matched, e.ID)
				}
				return true
			}
			var err error
			if messageOnly(node) {
				// Nothing but the message: the rest of each block's
				// columns need not be decoded.
				err = q.e.store.GetSortedMessages(ctx, c.Maybe, check)
			} else {
				err = q.e.store.GetSortedWith(ctx, c.Maybe, checkColumns(node), check)
			}
			if err != nil {
				return nil, err
			}
			ids = union(ids, matched)
		} else {
			ids = union(ids, c.Maybe)
			exact = false
		}
	}
	var extra []storage.ID
	for i := range q.tail {
		// The tail may be that of a wider range (collectPlanned).
		if id := q.tail[i].ID; id.Compare(q.lo) < 0 || id.Compare(q.hi) >= 0 {
			continue
		}
		if Match(node, &q.tail[i]) {
			extra = append(extra, q.tail[i].ID)
		}
	}
	if len(extra) > 0 {
		slices.SortFunc(extra, storage.ID.Compare)
		ids = union(ids, extra)
	}
	return &idSet{ids: ids, exact: exact}, nil
}

// loadTail reads the entries in range that are stored but not yet indexed,
// unless they are more than MaxTail.
func (q *query) loadTail(ctx context.Context) error {
	if q.tailDone {
		return nil
	}
	if w := q.wider; w != nil {
		if err := w.loadTail(ctx); err != nil {
			return err
		}
		q.tail, q.tailOK, q.tailDone = w.tail, w.tailOK, true
		return nil
	}
	q.tailDone = true
	from, high := q.e.progress.IndexedSeq(), q.e.store.HighSeq()
	if high <= from {
		q.tailOK = true
		return nil
	}
	if high-from > uint64(q.e.opts.MaxTail) {
		return nil
	}
	ids, err := q.e.store.ReadJournal(ctx, from, int(high-from))
	if err != nil {
		return err
	}
	ids = slices.DeleteFunc(ids, func(id storage.ID) bool {
		return id.Seq > high || id.Compare(q.lo) < 0 || id.Compare(q.hi) >= 0
	})
	err = q.e.store.GetMany(ctx, ids, func(e *storage.Entry) bool {
		q.tail = append(q.tail, cloneEntry(e))
		return true
	})
	if err != nil {
		return err
	}
	q.tailOK = true
	return nil
}

// union, intersect and difference work on sorted id slices.
func union(a, b []storage.ID) []storage.ID {
	if len(a) == 0 {
		return b
	}
	if len(b) == 0 {
		return a
	}
	out := make([]storage.ID, 0, len(a)+len(b))
	i, j := 0, 0
	for i < len(a) && j < len(b) {
		switch c := a[i].Compare(b[j]); {
		case c < 0:
			out = append(out, a[i])
			i++
		case c > 0:
			out = append(out, b[j])
			j++
		default:
			out = append(out, a[i])
			i++
			j++
		}
	}
	out = append(out, a[i:]...)
	return append(out, b[j:]...)
}

func intersect(a, b []storage.ID) []storage.ID {
	var out []storage.ID
	i, j := 0, 0
	for i < len(a) && j < len(b) {
		switch c := a[i].Compare(b[j]); {
		case c < 0:
			i++
		case c > 0:
			j++
		default:
			out = append(out, a[i])
			i++
			j++
		}
	}
	return out
}

func difference(a, b []storage.ID) []storage.ID {
	var out []storage.ID
	j := 0
	for _, id := range a {
		for j < len(b) && b[j].Compare(id) < 0 {
			j++
		}
		if j < len(b) && b[j] == id {
			continue
		}
		out = append(out, id)
	}
	return out
}

// resolver returns the function that maps stored template ids onto live
// ones, nil without a miner. Each call gets its own memo, for one query:
// a scan resolves the id of every entry it reads, and the miner takes two
// locks per resolution, while a day holds a few hundred distinct ids. A
// query's matching runs on one goroutine.
func (e *Engine) resolver() func(uint64) (uint64, bool) {
	if e.opts.Templates == nil {
		return nil
	}
	type resolved struct {
		id uint64
		ok bool
	}
	memo := map[uint64]resolved{}
	return func(id uint64) (uint64, bool) {
		r, seen := memo[id]
		if !seen {
			r.id, r.ok = e.opts.Templates.Resolve(id)
			memo[id] = r
		}
		return r.id, r.ok
	}
}

// prepare gives the pattern terms of a parsed query the engine's resolver.
func (e *Engine) prepare(n Node) {
	resolve := e.resolver()
	if resolve == nil {
		return
	}
	var walk func(Node)
	walk = func(n Node) {
		switch n := n.(type) {
		case *Equal:
			if n.Field == FieldPattern {
				n.resolve = resolve
				// An id merged into another names that template now:
				// pattern:p3 finds p1's lines when p3 became p1.
				if live, ok := resolve(uint64(n.Value.Int)); ok {
					n.Value.Int = int64(live)
				}
			}
		case *And:
			for _, c := range n.Nodes {
				walk(c)
			}
		case *Or:
			for _, c := range n.Nodes {
				walk(c)
			}
		case *Not:
			walk(n.Node)
		}
	}
	walk(n)
}
