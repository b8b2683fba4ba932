package cluster

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"slices"
	"strconv"
	"time"

	"github.com/logengine/logengine/internal/entryjson"
	"github.com/logengine/logengine/search"
	"github.com/logengine/logengine/storage"
)

// Engine is what the cluster needs of this node's query engine
// (search.Engine).
type Engine interface {
	Search(ctx context.Context, req search.Request) (*search.Result, error)
	Get(ctx context.Context, id storage.ID) (storage.Entry, error)
	Aggregate(ctx context.Context, req search.AggRequest) (*search.AggResult, error)
	Histogram(ctx context.Context, req search.HistRequest) (*search.HistResult, error)
	WaitIndexed(ctx context.Context, seq uint64) error
}

var _ Engine = (*search.Engine)(nil)

// Searcher answers searches, aggregations and histograms for the whole
// cluster, with the methods of this node's engine, so that the HTTP
// handlers call it as they would the engine.
type Searcher struct {
	c     *Cluster
	local Engine
	now   func() time.Time
}

// Searcher returns the searcher of the cluster over this node's engine.
func (c *Cluster) Searcher(local Engine) *Searcher {
	return &Searcher{c: c, local: local, now: time.Now}
}

// page is one node's part of a search page.
type page struct {
	entries []storage.Entry
	more    bool // the node holds more matches after these
}

// Search returns one page of the cluster's matching entries. Every node
// returns up to the limit after its position (see position.go); the page
// is the first limit of them all in the cluster order.
func (s *Searcher) Search(ctx context.Context, req search.Request) (*search.Result, error) {
	start := s.now()
	if req.Limit <= 0 {
		req.Limit = search.DefaultLimit
	}
	var pos *position
	if req.Cursor != "" {
		p, err := decodePosition(req.Cursor, req.Sort)
		if err != nil {
			return nil, err
		}
		pos = &p
	}
	me := s.c.opts.NodeName
	local := func(ctx context.Context) (page, error) {
		r := req
		r.Cursor = ""
		if pos != nil {
			r.Cursor = localCursor(*pos, me)
		}
		res, err := s.local.Search(ctx, r)
		if err != nil {
			return page{}, err
		}
		return page{entries: res.Entries, more: res.NextCursor != ""}, nil
	}
	if IsPeerCall(ctx) {
		pg, err := local(ctx)
		if err != nil {
			return nil, err
		}
		res := &search.Result{Entries: pg.entries, Took: s.now().Sub(start)}
		if pg.more {
			last := pg.entries[len(pg.entries)-1]
			res.NextCursor = position{sort: req.Sort, level: last.Level, id: last.ID, node: me}.encode()
		}
		return res, nil
	}
	params := url.Values{"sort": {req.Sort.String()}, "limit": {strconv.Itoa(req.Limit)}}
	setQuery(params, req.Query, req.From, req.To)
	if req.Cursor != "" {
		params.Set("cursor", req.Cursor)
	}
	if req.WaitIndexed {
		params.Set("wait", "indexed")
	}
	parts, missing, err := gather(ctx, s.c, "search", "/api/v1/logs", params, local, decodePage)
	if err != nil {
		return nil, err
	}
	entries, next := mergePages(req.Sort, req.Limit, parts)
	res := &search.Result{Entries: entries, Missing: missing, Took: s.now().Sub(start)}
	if next != nil {
		res.NextCursor = next.encode()
	}
	return res, nil
}

// mergePages returns the first limit entries of the nodes' pages in the
// cluster order of sort, and the position after them when there are more.
func mergePages(sort search.Sort, limit int, parts []part[page]) ([]storage.Entry, *position) {
	var all []nodeEntry
	more := false
	for _, p := range parts {
		for _, e := range p.val.entries {
			all = append(all, nodeEntry{node: p.node, entry: e})
		}
		more = more || p.val.more
	}
	slices.SortFunc(all, func(a, b nodeEntry) int { return compare(sort, &a, &b) })
	if len(all) > limit {
		all, more = all[:limit], true
	}
	out := make([]storage.Entry, len(all))
	for i := range all {
		out[i] = all[i].entry
	}
	if !more || len(all) == 0 {
		return out, nil
	}
	last := all[len(all)-1]
	return out, &position{sort: sort, level: last.entry.Level, id: last.entry.ID, node: last.node}
}

// decodePage reads a peer's search answer.
func decodePage(r io.Reader) (page, error) {
	var a struct {
		Logs       []entryjson.Entry `json:"logs"`
		NextCursor string            `json:"next_cursor"`
	}
	if err := decodeJSON(r, &a); err != nil {
		return page{}, err
	}
	pg := page{entries: make([]storage.Entry, 0, len(a.Logs)), more: a.NextCursor != ""}
	for _, j := range a.Logs {
		e, err := entryjson.Parse(j)
		if err != nil {
			return page{}, err
		}
		pg.entries = append(pg.entries, e)
	}
	return pg, nil
}

// setQuery sets q and the time range, as absolute times so that every node
// counts the same range whatever its clock says.
func setQuery(params url.Values, q string, from, to time.Time) {
	if q != "" {
		params.Set("q", q)
	}
	if !from.IsZero() {
		params.Set("from", from.UTC().Format(time.RFC3339Nano))
	}
	if !to.IsZero() {
		params.Set("to", to.UTC().Format(time.RFC3339Nano))
	}
}

// Get returns one entry: this node's, else a peer's (the one whose node
// name sorts first: two nodes may hold entries with one id, since each
// numbers its own).
func (s *Searcher) Get(ctx context.Context, id storage.ID) (storage.Entry, error) {
	e, err := s.local.Get(ctx, id)
	if IsPeerCall(ctx) || !errors.Is(err, storage.ErrNotFound) {
		return e, err
	}
	e, _, _, err = s.getPeers(ctx, id)
	if errors.Is(err, storage.ErrNotFound) {
		return e, fmt.Errorf("entry %s: %w", id, err)
	}
	return e, err
}

// WaitIndexed waits for this node's index: ingest is local.
func (s *Searcher) WaitIndexed(ctx context.Context, seq uint64) error {
	return s.local.WaitIndexed(ctx, seq)
}

// UnavailableError is an answer that cannot be given without the missing
// peers; it answers 503 over HTTP.
type UnavailableError struct {
	Missing []string
	What    string
}

func (e *UnavailableError) Error() string {
	return fmt.Sprintf("%s; peers not answering: %v", e.What, e.Missing)
}

// Unavailable marks the error as a part out of service for a while.
func (e *UnavailableError) Unavailable() bool { return true }

// MissingPeers names the peers that did not answer.
func (e *UnavailableError) MissingPeers() []string { return e.Missing }
