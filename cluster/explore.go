package cluster

import (
	"cmp"
	"context"
	"errors"
	"io"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/logengine/logengine/internal/entryjson"
	"github.com/logengine/logengine/search"
	"github.com/logengine/logengine/storage"
)

// ExploreEngine is what the cluster needs of this node's engine for the
// export, an entry's context and facets (search.Engine).
type ExploreEngine interface {
	Export(ctx context.Context, req search.ExportRequest, fn func(*storage.Entry) error) error
	Context(ctx context.Context, id storage.ID, before, after int) (*search.ContextResult, error)
	Facets(ctx context.Context, req search.FacetRequest) (*search.FacetResult, error)
}

var _ ExploreEngine = (*search.Engine)(nil)

// Explorer answers the export, an entry's context and facets for the whole
// cluster, with the methods of this node's engine.
type Explorer struct {
	s     *Searcher
	local ExploreEngine
}

// Explorer returns the explorer of the cluster over this node's engine;
// searches go through s.
func (s *Searcher) Explorer(local ExploreEngine) *Explorer {
	return &Explorer{s: s, local: local}
}

// Export calls fn with every matching entry of the cluster, oldest first
// (ties by id, then node), page by page through the cluster search. An
// export is all or nothing: a peer missing from any page ends it with an
// UnavailableError (a 503 when no entry was sent yet).
func (x *Explorer) Export(ctx context.Context, req search.ExportRequest, fn func(*storage.Entry) error) error {
	if IsPeerCall(ctx) {
		return x.local.Export(ctx, req, fn)
	}
	page := search.Request{Query: req.Query, From: req.From, To: req.To, Sort: search.SortTimeAsc, Limit: search.MaxLimit}
	for {
		res, err := x.s.Search(ctx, page)
		if err != nil {
			return err
		}
		if len(res.Missing) > 0 {
			return &UnavailableError{Missing: res.Missing, What: "an export needs every node"}
		}
		for i := range res.Entries {
			if err := fn(&res.Entries[i]); err != nil {
				return err
			}
		}
		if res.NextCursor == "" {
			return nil
		}
		page.Cursor = res.NextCursor
	}
}

// Context returns the entries of the entry's source just before and after
// it over the whole cluster, in the cluster's search order from the
// entry's position.
func (x *Explorer) Context(ctx context.Context, id storage.ID, before, after int) (*search.ContextResult, error) {
	if IsPeerCall(ctx) || before < 0 || after < 0 || before > search.MaxContext || after > search.MaxContext {
		return x.local.Context(ctx, id, before, after)
	}
	en, node, missing, err := x.s.find(ctx, id)
	if err != nil {
		return nil, err
	}
	q := "source:" + quote(en.Source)
	side := func(sort search.Sort, want int) ([]storage.Entry, bool, error) {
		at := position{sort: sort, level: en.Level, id: en.ID, node: node}
		res, err := x.s.Search(ctx, search.Request{Query: q, Sort: sort, Limit: max(want, 1), Cursor: at.encode()})
		if err != nil {
			return nil, false, err
		}
		missing = append(missing, res.Missing...)
		if want == 0 {
			return nil, len(res.Entries) > 0, nil
		}
		return res.Entries, res.NextCursor != "", nil
	}
	res := &search.ContextResult{Entry: en}
	if res.Before, res.MoreBefore, err = side(search.SortTimeDesc, before); err != nil {
		return nil, err
	}
	slices.Reverse(res.Before)
	if res.After, res.MoreAfter, err = side(search.SortTimeAsc, after); err != nil {
		return nil, err
	}
	slices.Sort(missing)
	res.Missing = slices.Compact(missing)
	return res, nil
}

// quote writes s as a quoted value of the query language.
func quote(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`
}

// find returns the entry with id and the node holding it: this node's,
// else the first peer's by node name.
func (s *Searcher) find(ctx context.Context, id storage.ID) (storage.Entry, string, []string, error) {
	e, err := s.local.Get(ctx, id)
	if err == nil {
		return e, s.c.opts.NodeName, nil, nil
	}
	if !errors.Is(err, storage.ErrNotFound) {
		return storage.Entry{}, "", nil, err
	}
	e, node, missing, err := s.getPeers(ctx, id)
	return e, node, missing, err
}

// Facets counts the fields of the cluster's matching entries and their
// top values. Each node lists up to 100 values of each field (the most
// the API lists); values add up as aggregation groups do, and a field
// whose top values cannot be proven exact is marked truncated.
func (x *Explorer) Facets(ctx context.Context, req search.FacetRequest) (*search.FacetResult, error) {
	if IsPeerCall(ctx) {
		return x.local.Facets(ctx, req)
	}
	limit := req.Limit
	if limit <= 0 {
		limit = 10
	}
	const peerValues = 100
	local := func(ctx context.Context) (*search.FacetResult, error) {
		r := req
		r.Limit = peerValues
		return x.local.Facets(ctx, r)
	}
	params := url.Values{"limit": {strconv.Itoa(peerValues)}}
	setQuery(params, req.Query, req.From, req.To)
	if len(req.Fields) > 0 {
		params.Set("fields", strings.Join(req.Fields, ","))
	}
	parts, missing, err := gather(ctx, x.s.c, "facets", "/api/v1/facets", params, local, decodeFacets)
	if err != nil {
		return nil, err
	}
	return mergeFacets(parts, limit, missing), nil
}

// mergeFacets adds up the nodes' facets; every node lists every field it
// has (up to search.MaxFacetFields), so a field's count is exact.
func mergeFacets(parts []part[*search.FacetResult], limit int, missing []string) *search.FacetResult {
	out := &search.FacetResult{Missing: missing}
	byField := map[string][]aggPart{}
	facets := map[string]*search.Facet{}
	for i, p := range parts {
		f := p.val
		out.Total += f.Total
		out.FieldsTruncated = out.FieldsTruncated || f.FieldsTruncated
		for _, fc := range f.Facets {
			m := facets[fc.Field]
			if m == nil {
				m = &search.Facet{Field: fc.Field}
				facets[fc.Field] = m
				byField[fc.Field] = make([]aggPart, len(parts))
			}
			m.Count += fc.Count
			m.Truncated = m.Truncated || fc.Truncated
			ap := aggPart{groups: fc.Values, other: fc.Other, total: fc.Other}
			for _, v := range fc.Values {
				ap.total += v.Count
			}
			byField[fc.Field][i] = ap
		}
	}
	for name, m := range facets {
		g := mergeGroups(byField[name], limit)
		m.Values, m.Other = g.Groups, g.Other
		m.Truncated = m.Truncated || g.Inexact
		out.Facets = append(out.Facets, *m)
	}
	builtin := map[string]int{search.FieldLevel: 0, search.FieldSource: 1, search.FieldTag: 2}
	rank := func(name string) int {
		if r, ok := builtin[name]; ok {
			return r
		}
		return len(builtin)
	}
	slices.SortFunc(out.Facets, func(a, b search.Facet) int {
		if d := cmp.Compare(rank(a.Field), rank(b.Field)); d != 0 {
			return d
		}
		if d := cmp.Compare(b.Count, a.Count); d != 0 {
			return d
		}
		return strings.Compare(a.Field, b.Field)
	})
	return out
}

// decodeFacets reads a peer's facets answer.
func decodeFacets(r io.Reader) (*search.FacetResult, error) {
	var a struct {
		Total  int64 `json:"total"`
		Fields []struct {
			Field  string `json:"field"`
			Count  int64  `json:"count"`
			Values []struct {
				Value any   `json:"value"`
				Count int64 `json:"count"`
			} `json:"values"`
			Other     int64 `json:"other"`
			Truncated bool  `json:"truncated"`
		} `json:"fields"`
		FieldsTruncated bool `json:"fields_truncated"`
	}
	if err := decodeJSON(r, &a); err != nil {
		return nil, err
	}
	res := &search.FacetResult{Total: a.Total, FieldsTruncated: a.FieldsTruncated}
	for _, f := range a.Fields {
		fc := search.Facet{Field: f.Field, Count: f.Count, Other: f.Other, Truncated: f.Truncated}
		for _, v := range f.Values {
			k, err := keyValue(v.Value)
			if err != nil {
				return nil, err
			}
			fc.Values = append(fc.Values, search.Group{Key: []any{k}, Count: v.Count})
		}
		res.Facets = append(res.Facets, fc)
	}
	return res, nil
}

// getPeers asks the peers for an entry: the answer of the node whose name
// sorts first, so that every node finds the same one.
func (s *Searcher) getPeers(ctx context.Context, id storage.ID) (storage.Entry, string, []string, error) {
	type found struct {
		e  storage.Entry
		ok bool
	}
	parts, missing, err := gather(ctx, s.c, "get", "/api/v1/logs/"+id.String(), nil,
		func(context.Context) (found, error) { return found{}, nil },
		func(r io.Reader) (found, error) {
			var j entryjson.Entry
			if err := decodeJSON(r, &j); err != nil {
				return found{}, err
			}
			e, err := entryjson.Parse(j)
			return found{e: e, ok: err == nil}, err
		})
	if err != nil {
		return storage.Entry{}, "", nil, err
	}
	parts = slices.DeleteFunc(parts, func(p part[found]) bool { return !p.val.ok })
	if len(parts) == 0 {
		if len(missing) > 0 {
			return storage.Entry{}, "", nil, &UnavailableError{Missing: missing, What: "entry " + id.String() + " is on no node that answered"}
		}
		return storage.Entry{}, "", nil, storage.ErrNotFound
	}
	first := slices.MinFunc(parts, func(a, b part[found]) int { return strings.Compare(a.node, b.node) })
	return first.val.e, first.node, missing, nil
}
