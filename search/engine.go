package search

import (
	"context"
	"encoding/base64"
	"fmt"
	"slices"
	"time"

	"github.com/logengine/logengine/storage"
)

// keywordIndex is what the engine needs of the keyword index.
type keywordIndex interface {
	Search(ctx context.Context, q Keywords, lo, hi storage.ID, desc bool, limit int) ([]storage.ID, error)
}

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
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Engine plans and executes searches and aggregations over the store and
// the keyword index.
type Engine struct {
	store    *storage.Store
	index    keywordIndex
	progress indexProgress
	opts     EngineOptions
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
	return &Engine{store: store, index: index, progress: progress, opts: opts}
}

// Get returns one entry.
func (e *Engine) Get(_ context.Context, id storage.ID) (storage.Entry, error) {
	return e.store.Get(id)
}

// WaitIndexed blocks until the keyword index covers seq.
func (e *Engine) WaitIndexed(ctx context.Context, seq uint64) error {
	return e.progress.WaitIndexed(ctx, seq)
}

// bounds turns a request's time range into an ID range [lo, hi).
func bounds(from, to time.Time) (lo, hi storage.ID) {
	lo, hi = storage.MinID, storage.MaxID
	if !from.IsZero() {
		lo = storage.ID{Nanos: max(from.UnixNano(), 0)}
	}
	if !to.IsZero() {
		hi = storage.ID{Nanos: max(to.UnixNano(), 0)}
	}
	return lo, hi
}

// query is one parsed request being executed: the tree, its range and the
// sets computed for it so far.
type query struct {
	e      *Engine
	node   Node
	lo, hi storage.ID

	universe []storage.ID // all ids in range, computed on first need
	tail     []storage.Entry
	tailOK   bool // tail loaded and small enough to check by hand
	tailDone bool
}

func (e *Engine) newQuery(ctx context.Context, q string, lo, hi storage.ID, waitIndexed bool) (*query, error) {
	node, err := Parse(q)
	if err != nil {
		return nil, err
	}
	if waitIndexed {
		if err := e.progress.WaitIndexed(ctx, e.store.HighSeq()); err != nil {
			return nil, fmt.Errorf("wait for the index: %w", err)
		}
	}
	return &query{e: e, node: node, lo: lo, hi: hi}, nil
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
	lo, hi := bounds(req.From, req.To)
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
				q.hi = minID(q.hi, cur.id)
			} else {
				q.lo = maxID(q.lo, next(cur.id))
			}
		}
		out, err = q.collect(ctx, q.node, desc, want, nil)
	case SortSeverityDesc, SortSeverityAsc:
		desc := req.Sort == SortSeverityDesc
		levels := slices.Clone(storage.Levels)
		if desc {
			slices.Reverse(levels)
		}
		for _, l := range levels {
			if len(out) >= want {
				break
			}
			sub := *q
			if cur != nil {
				if desc && l > cur.level || !desc && l < cur.level {
					continue
				}
				if l == cur.level {
					if desc {
						sub.hi = minID(sub.hi, cur.id)
					} else {
						sub.lo = maxID(sub.lo, next(cur.id))
					}
				}
			}
			node := &And{Nodes: []Node{q.node, &Equal{Field: FieldLevel, Value: levelLiteral(l)}}}
			var page []storage.Entry
			page, err = sub.collect(ctx, node, desc, want-len(out), nil)
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
	if id.Seq == ^uint64(0) {
		return storage.ID{Nanos: id.Nanos + 1}
	}
	return storage.ID{Nanos: id.Nanos, Seq: id.Seq + 1}
}

// collect returns up to want entries matching node in [q.lo, q.hi), in id
// order (descending when desc). fn, when set, sees every match instead and
// collect returns none.
func (q *query) collect(ctx context.Context, node Node, desc bool, want int, fn func(*storage.Entry) bool) ([]storage.Entry, error) {
	var out []storage.Entry
	keep := func(e *storage.Entry) bool {
		if fn != nil {
			return fn(e)
		}
		out = append(out, cloneEntry(e))
		return len(out) < want
	}
	set, err := q.plan(ctx, node, false)
	if err != nil {
		return nil, err
	}
	if set == nil {
		// Nothing narrows the candidates: scan the time range in order.
		err := q.e.store.Scan(ctx, q.lo, q.hi, desc, func(e *storage.Entry) bool {
			if !Match(node, e) {
				return true
			}
			return keep(e)
		})
		return out, err
	}
	ids := set.ids
	if desc {
		ids = slices.Clone(ids)
		slices.Reverse(ids)
	}
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

func cloneEntry(e *storage.Entry) storage.Entry {
	c := *e
	c.Tags = slices.Clone(e.Tags)
	c.Fields = slices.Clone(e.Fields)
	return c
}

// idSet is a sorted set of candidate ids. exact means every id matches the
// node it was planned for; otherwise each fetched entry must be checked.
type idSet struct {
	ids   []storage.ID
	exact bool
	all   bool // ids is every entry in range

	bits []uint64 // bitmap of the ids' sequences from base; see has
	base uint64
}

// plan computes the candidate ids of node from the secondary indexes and
// the keyword index, or returns nil when only a scan can find them. With
// wantUniverse, MatchAll plans to every id in range (aggregations want
// that; searches are better served by a scan that stops early).
func (q *query) plan(ctx context.Context, node Node, wantUniverse bool) (*idSet, error) {
	switch n := node.(type) {
	case *MatchAll:
		if !wantUniverse {
			return nil, nil
		}
		u, err := q.all(ctx)
		return &idSet{ids: u, exact: true, all: true}, err
	case *Word:
		return q.keywords(ctx, node, Keywords{Terms: []string{n.Token}}, true)
	case *Prefix:
		return q.keywords(ctx, node, Keywords{Prefixes: []string{n.Prefix}}, true)
	case *Phrase:
		// The index has no positions: find entries with all the words, and
		// let Match check their order on the fetched message.
		return q.keywords(ctx, node, Keywords{Terms: n.Tokens}, false)
	case *Equal:
		return q.equal(ctx, n)
	case *Compare:
		if n.Field == FieldLevel || n.Field == FieldSeverity {
			var ids []storage.ID
			for _, l := range storage.Levels {
				if levelSatisfies(l, n.Op, n.Value.Number) {
					p, err := q.e.store.Postings(ctx, storage.IndexValue{Kind: storage.IndexLevel, Value: l.String()}, q.lo, q.hi)
					if err != nil {
						return nil, err
					}
					ids = union(ids, p)
				}
			}
			return &idSet{ids: ids, exact: true}, nil
		}
		return nil, nil
	case *And:
		var acc *idSet
		exact := true
		for _, c := range n.Nodes {
			s, err := q.plan(ctx, c, false)
			if err != nil {
				return nil, err
			}
			if s == nil {
				if _, all := c.(*MatchAll); !all {
					exact = false
				}
				continue
			}
			exact = exact && s.exact
			if acc == nil {
				acc = s
			} else {
				acc = &idSet{ids: intersect(acc.ids, s.ids)}
			}
		}
		if acc == nil {
			if wantUniverse {
				u, err := q.all(ctx)
				return &idSet{ids: u, exact: false}, err
			}
			return nil, nil
		}
		acc.exact = exact
		return acc, nil
	case *Or:
		var ids []storage.ID
		exact := true
		for _, c := range n.Nodes {
			s, err := q.plan(ctx, c, wantUniverse)
			if err != nil || s == nil {
				return nil, err
			}
			ids = union(ids, s.ids)
			exact = exact && s.exact
		}
		return &idSet{ids: ids, exact: exact}, nil
	case *Not:
		s, err := q.plan(ctx, n.Node, false)
		if err != nil || s == nil || !s.exact {
			if wantUniverse && err == nil {
				u, err := q.all(ctx)
				return &idSet{ids: u, exact: false}, err
			}
			return nil, err
		}
		u, err := q.all(ctx)
		if err != nil {
			return nil, err
		}
		return &idSet{ids: difference(u, s.ids), exact: true}, nil
	}
	if wantUniverse {
		u, err := q.all(ctx)
		return &idSet{ids: u, exact: false}, err
	}
	return nil, nil
}

func levelSatisfies(l storage.Level, op Op, b float64) bool {
	a := float64(l)
	switch op {
	case OpLess:
		return a < b
	case OpLessEqual:
		return a <= b
	case OpGreater:
		return a > b
	case OpGreaterEqual:
		return a >= b
	}
	return false
}

// equal plans field:value from a secondary index when there is one.
func (q *query) equal(ctx context.Context, n *Equal) (*idSet, error) {
	var iv storage.IndexValue
	switch {
	case n.Field == FieldLevel || n.Field == FieldSeverity:
		l, ok := storage.LevelFromSeverity(int(n.Value.Int))
		if !n.Value.IsInt || !ok || int64(l) != n.Value.Int {
			return &idSet{exact: true}, nil // no entry has that severity
		}
		iv = storage.IndexValue{Kind: storage.IndexLevel, Value: l.String()}
	case n.Field == FieldSource:
		iv = storage.IndexValue{Kind: storage.IndexSource, Value: n.Value.Text}
	case n.Field == FieldTag:
		iv = storage.IndexValue{Kind: storage.IndexTag, Value: n.Value.Text}
	case q.e.store.IsIndexedField(n.Field):
		// Numbers are keyed in their canonical text (404, 0.5); a literal
		// written otherwise (404.0) or a string field holding such text
		// could be missed, so those are checked on the entries.
		iv = storage.IndexValue{Kind: storage.IndexField, Name: n.Field, Value: n.Value.Text}
		ids, err := q.e.store.Postings(ctx, iv, q.lo, q.hi)
		if err != nil {
			return nil, err
		}
		if n.Value.IsNumber && !canonicalNumber(n.Value) {
			return nil, nil
		}
		return &idSet{ids: ids, exact: true}, nil
	default:
		return nil, nil
	}
	ids, err := q.e.store.Postings(ctx, iv, q.lo, q.hi)
	if err != nil {
		return nil, err
	}
	return &idSet{ids: ids, exact: true}, nil
}

func canonicalNumber(l Literal) bool {
	if l.IsInt {
		return storage.Int(l.Int).Text() == l.Text
	}
	return storage.Float(l.Number).Text() == l.Text
}

// all returns every id in range, from the level index (every entry has
// exactly one level).
func (q *query) all(ctx context.Context) ([]storage.ID, error) {
	if q.universe != nil {
		return q.universe, nil
	}
	var ids []storage.ID
	err := q.e.store.IndexValues(ctx, storage.IndexLevel, "", q.lo, q.hi, func(_ string, p []storage.ID) error {
		ids = append(ids, p...)
		return nil
	})
	if err != nil {
		return nil, err
	}
	storage.SortIDs(ids)
	q.universe = ids
	if q.universe == nil {
		q.universe = []storage.ID{}
	}
	return q.universe, nil
}

// keywords plans a keyword term from the index plus the entries the index
// has not reached yet, checked by hand, so the answer is exact however far
// the indexer lags. When the lag is too large to check by hand it returns
// nil and the caller scans.
func (q *query) keywords(ctx context.Context, node Node, kw Keywords, exact bool) (*idSet, error) {
	if err := q.loadTail(ctx); err != nil {
		return nil, err
	}
	if !q.tailOK {
		return nil, nil
	}
	ids, err := q.e.index.Search(ctx, kw, q.lo, q.hi, false, 0)
	if err != nil {
		return nil, err
	}
	var extra []storage.ID
	for i := range q.tail {
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

func (q *query) loadTail(ctx context.Context) error {
	if q.tailDone {
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
