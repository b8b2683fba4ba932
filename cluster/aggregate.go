package cluster

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/logengine/logengine/internal/duration"
	"github.com/logengine/logengine/search"
)

// peerGroups is how many groups each node lists for a cluster aggregation:
// the most one search may list, so that peers answer through the public
// endpoint unchanged. Top-N over the cluster is exact when every node
// lists all its groups, and mostly provable when one lists only its
// largest (see mergeGroups); else the answer says it is not exact.
const peerGroups = search.MaxLimit

// aggPart is one node's aggregation.
type aggPart struct {
	groups []search.Group // largest first
	total  int64
	other  int64 // the sum of the counts of its groups not listed
}

// Aggregate counts the cluster's matching entries by the group-by fields.
func (s *Searcher) Aggregate(ctx context.Context, req search.AggRequest) (*search.AggResult, error) {
	if IsPeerCall(ctx) {
		return s.local.Aggregate(ctx, req)
	}
	limit := req.Limit
	if limit <= 0 {
		limit = 10
	}
	local := func(ctx context.Context) (aggPart, error) {
		r := req
		r.Limit = peerGroups
		res, err := s.local.Aggregate(ctx, r)
		if err != nil {
			return aggPart{}, err
		}
		return aggPart{groups: res.Groups, total: res.Total, other: res.Other}, nil
	}
	params := url.Values{"group_by": {strings.Join(req.GroupBy, ",")}, "limit": {strconv.Itoa(peerGroups)}}
	setQuery(params, req.Query, req.From, req.To)
	composite := len(req.GroupBy) > 1
	parts, missing, err := gather(ctx, s.c, "aggregate", "/api/v1/aggregate", params, local,
		func(r io.Reader) (aggPart, error) { return decodeAggregate(r, composite) })
	if err != nil {
		return nil, err
	}
	vals := make([]aggPart, len(parts))
	for i, p := range parts {
		vals[i] = p.val
	}
	res := mergeGroups(vals, limit)
	res.Missing = missing
	return res, nil
}

// mergeGroups adds up the nodes' groups and lists the limit largest, ties
// in key order. A node that listed only its largest groups (other > 0)
// holds at most as many entries as its smallest listed group in any group
// it did not list; with that bound every group's cluster count lies
// between what was listed (lo) and lo plus the bounds of the nodes that
// did not list it (hi). The answer is exact when every listed count is
// exact (lo == hi) and no group left out could sort before the last one
// listed even at its hi, nor a group no node listed.
func mergeGroups(parts []aggPart, limit int) *search.AggResult {
	type acc struct {
		key    []any
		enc    string
		lo, hi int64
		in     []bool // listed by part i
	}
	byKey := map[string]*acc{}
	var total, unseen int64 // unseen: the most a group no node listed may hold
	bounds := make([]int64, len(parts))
	for i, p := range parts {
		total += p.total
		if p.other > 0 {
			bounds[i] = p.other
			if len(p.groups) > 0 {
				bounds[i] = min(p.other, p.groups[len(p.groups)-1].Count)
			}
		}
		unseen += bounds[i]
		for _, g := range p.groups {
			enc := search.EncodeGroupKey(g.Key)
			a := byKey[enc]
			if a == nil {
				a = &acc{key: g.Key, enc: enc, in: make([]bool, len(parts))}
				byKey[enc] = a
			}
			a.lo += g.Count
			a.in[i] = true
		}
	}
	all := make([]*acc, 0, len(byKey))
	for _, a := range byKey {
		a.hi = a.lo
		for i, in := range a.in {
			if !in {
				a.hi += bounds[i]
			}
		}
		all = append(all, a)
	}
	slices.SortFunc(all, func(a, b *acc) int {
		if c := cmp.Compare(b.lo, a.lo); c != 0 {
			return c
		}
		return strings.Compare(a.enc, b.enc)
	})
	top := all[:min(limit, len(all))]
	res := &search.AggResult{Total: total, Other: total}
	exact := true
	for _, a := range top {
		res.Groups = append(res.Groups, search.Group{Key: a.key, Count: a.lo})
		res.Other -= a.lo
		exact = exact && a.lo == a.hi
	}
	if len(top) < limit {
		exact = exact && unseen == 0
	} else if len(top) > 0 {
		last := top[len(top)-1]
		exact = exact && unseen < last.lo
		for _, a := range all[len(top):] {
			if a.hi > last.lo || a.hi == last.lo && a.enc < last.enc {
				exact = false
				break
			}
		}
	}
	res.Inexact = !exact
	return res
}

// decodeAggregate reads a peer's aggregation answer.
func decodeAggregate(r io.Reader, composite bool) (aggPart, error) {
	var a struct {
		Buckets []struct {
			Key   any   `json:"key"`
			Count int64 `json:"count"`
		} `json:"buckets"`
		Total int64 `json:"total"`
		Other int64 `json:"other"`
	}
	if err := decodeJSON(r, &a); err != nil {
		return aggPart{}, err
	}
	p := aggPart{total: a.Total, other: a.Other}
	for _, b := range a.Buckets {
		var key []any
		if composite {
			list, ok := b.Key.([]any)
			if !ok {
				return aggPart{}, fmt.Errorf("group key %v is not a list", b.Key)
			}
			key = list
		} else {
			key = []any{b.Key}
		}
		for i := range key {
			k, err := keyValue(key[i])
			if err != nil {
				return aggPart{}, err
			}
			key[i] = k
		}
		p.groups = append(p.groups, search.Group{Key: key, Count: b.Count})
	}
	return p, nil
}

// keyValue types a group key component as the engine does: an integer
// text is an int64, another number a float64.
func keyValue(v any) (any, error) {
	switch v := v.(type) {
	case nil, bool, string:
		return v, nil
	case json.Number:
		if n, err := v.Int64(); err == nil {
			return n, nil
		}
		f, err := v.Float64()
		if err != nil {
			return nil, fmt.Errorf("group key %s: %w", v, err)
		}
		return f, nil
	}
	return nil, fmt.Errorf("group key %v is not a string, number, bool or null", v)
}

// Histogram counts the cluster's matching entries per time bucket. Every
// node must count over one range with one interval: an open end is
// closed first at the cluster's first or last match, as one node closes
// it at its own.
func (s *Searcher) Histogram(ctx context.Context, req search.HistRequest) (*search.HistResult, error) {
	if IsPeerCall(ctx) {
		return s.local.Histogram(ctx, req)
	}
	var missing []string
	if req.From.IsZero() || req.To.IsZero() {
		var err error
		if missing, err = s.closeRange(ctx, &req); err != nil {
			return nil, err
		}
	}
	params := url.Values{}
	setQuery(params, req.Query, req.From, req.To)
	if req.Interval > 0 {
		params.Set("interval", duration.Format(req.Interval))
	}
	if req.GroupBy != "" {
		params.Set("group_by", req.GroupBy)
	}
	parts, more, err := gather(ctx, s.c, "histogram", "/api/v1/histogram", params,
		func(ctx context.Context) (*search.HistResult, error) { return s.local.Histogram(ctx, req) }, decodeHistogram)
	if err != nil {
		return nil, err
	}
	res, err := mergeHistograms(parts)
	if err != nil {
		return nil, err
	}
	missing = append(missing, more...)
	slices.Sort(missing)
	res.Missing = slices.Compact(missing)
	return res, nil
}

// closeRange sets the open ends of req's range as one node would with
// every match of the cluster (search.Engine.Histogram): at the first and
// last match, to now when only the start was given and the last match is
// older; an hour from the given end, or the last hour, without matches.
func (s *Searcher) closeRange(ctx context.Context, req *search.HistRequest) ([]string, error) {
	var missing []string
	edge := func(sort search.Sort) (time.Time, bool, error) {
		res, err := s.Search(ctx, search.Request{Query: req.Query, From: req.From, To: req.To, Sort: sort, Limit: 1})
		if err != nil {
			return time.Time{}, false, err
		}
		missing = append(missing, res.Missing...)
		if len(res.Entries) == 0 {
			return time.Time{}, false, nil
		}
		return time.Unix(0, res.Entries[0].ID.Nanos), true, nil
	}
	first, found, err := edge(search.SortTimeAsc)
	if err != nil {
		return nil, err
	}
	var last time.Time
	if found {
		if last, _, err = edge(search.SortTimeDesc); err != nil {
			return nil, err
		}
	}
	now := s.now()
	from, to := search.HistogramRange(req.From, req.To, first, last, found, now)
	req.From, req.To = from, to
	return missing, nil
}

// mergeHistograms adds up the nodes' buckets, which cover one range with
// one interval.
func mergeHistograms(parts []part[*search.HistResult]) (*search.HistResult, error) {
	out := &search.HistResult{Interval: parts[0].val.Interval}
	for _, b := range parts[0].val.Buckets {
		out.Buckets = append(out.Buckets, search.HistBucket{Start: b.Start})
	}
	byKey := make([]map[string]*search.KeyCount, len(out.Buckets))
	for _, p := range parts {
		h := p.val
		if h.Interval != out.Interval || len(h.Buckets) != len(out.Buckets) {
			return nil, fmt.Errorf("node %s answered %d buckets of %s, this node %d of %s: are all nodes on one version?",
				p.node, len(h.Buckets), h.Interval, len(out.Buckets), out.Interval)
		}
		for i, b := range h.Buckets {
			o := &out.Buckets[i]
			if !b.Start.Equal(o.Start) {
				return nil, fmt.Errorf("node %s answered a bucket at %s where this node has one at %s", p.node, b.Start, o.Start)
			}
			o.Count += b.Count
			for k, n := range b.Groups {
				if o.Groups == nil {
					o.Groups = map[string]int64{}
				}
				o.Groups[k] += n
			}
			for _, kc := range b.ByKey {
				if byKey[i] == nil {
					byKey[i] = map[string]*search.KeyCount{}
				}
				enc := search.EncodeGroupKey([]any{kc.Key})
				if a := byKey[i][enc]; a != nil {
					a.Count += kc.Count
				} else {
					byKey[i][enc] = &search.KeyCount{Key: kc.Key, Count: kc.Count}
				}
			}
		}
	}
	for i, m := range byKey {
		type keyed struct {
			enc string
			kc  search.KeyCount
		}
		list := make([]keyed, 0, len(m))
		for enc, kc := range m {
			list = append(list, keyed{enc, *kc})
		}
		slices.SortFunc(list, func(a, b keyed) int {
			if c := cmp.Compare(b.kc.Count, a.kc.Count); c != 0 {
				return c
			}
			return strings.Compare(a.enc, b.enc)
		})
		for _, k := range list {
			out.Buckets[i].ByKey = append(out.Buckets[i].ByKey, k.kc)
		}
	}
	return out, nil
}

// decodeHistogram reads a peer's histogram answer.
func decodeHistogram(r io.Reader) (*search.HistResult, error) {
	var a struct {
		Interval string `json:"interval"`
		Buckets  []struct {
			Start  time.Time        `json:"start"`
			Count  int64            `json:"count"`
			Groups map[string]int64 `json:"groups"`
			ByKey  []struct {
				Key   any   `json:"key"`
				Count int64 `json:"count"`
			} `json:"by_key"`
		} `json:"buckets"`
	}
	if err := decodeJSON(r, &a); err != nil {
		return nil, err
	}
	iv, err := duration.Parse(a.Interval)
	if err != nil {
		return nil, fmt.Errorf("interval %q: %w", a.Interval, err)
	}
	h := &search.HistResult{Interval: iv}
	for _, b := range a.Buckets {
		hb := search.HistBucket{Start: b.Start, Count: b.Count, Groups: b.Groups}
		for _, kc := range b.ByKey {
			k, err := keyValue(kc.Key)
			if err != nil {
				return nil, err
			}
			hb.ByKey = append(hb.ByKey, search.KeyCount{Key: k, Count: kc.Count})
		}
		h.Buckets = append(h.Buckets, hb)
	}
	return h, nil
}
