package search

import (
	"cmp"
	"context"
	"slices"
	"strings"
	"time"

	"github.com/logengine/logengine/storage"
)

// FacetRequest asks which fields the entries matching a query have, and
// the most frequent values of each.
type FacetRequest struct {
	Query    string
	From, To time.Time
	// Fields limits the answer to these names (level, source, tag or a
	// field); empty means every field found.
	Fields []string
	// Limit is how many top values each field lists; zero means 10.
	Limit int
}

// Facet is one field of the matching entries.
type Facet struct {
	Field string
	// Count is how many matching entries have the field.
	Count int64
	// Values are the most frequent values, largest count first, ties in
	// key order; keys are typed as in aggregations.
	Values []Group
	// Other is the sum of the counts of the values not listed.
	Other int64
	// Truncated is set when the field had more than MaxFacetValues
	// distinct values: values first seen after that were not counted one
	// by one (they are in Other), so a value not listed may be more
	// frequent than a listed one. Listed counts are exact all the same.
	Truncated bool
}

// FacetResult is every field of the matching entries.
type FacetResult struct {
	Total  int64   // matching entries
	Facets []Facet // level, source and tag first, then the most common fields first, ties by name
	// FieldsTruncated is set when the entries had more than MaxFacetFields
	// distinct field names; the fields first seen after that are left out.
	FieldsTruncated bool
	// Missing names the cluster peers whose part is missing (see Result).
	Missing []string
}

// The bounds of a facet request's memory: the distinct values counted per
// field and the distinct field names. Its time is that of reading every
// matching entry once, within the engine's timeout.
const (
	MaxFacetValues = 10000
	MaxFacetFields = 500
)

type facetCounter struct {
	facet  Facet
	values map[string]int64 // by encoded key, as aggregations count
}

func (c *facetCounter) add(key []byte) {
	if _, ok := c.values[string(key)]; !ok && len(c.values) >= MaxFacetValues {
		c.facet.Truncated = true
		c.facet.Other++
		return
	}
	c.values[string(key)]++
}

// Facets counts, over every entry matching req, each field and its values.
func (e *Engine) Facets(ctx context.Context, req FacetRequest) (*FacetResult, error) {
	ctx, cancel := context.WithTimeout(ctx, e.opts.Timeout)
	defer cancel()
	if req.Limit <= 0 {
		req.Limit = 10
	}
	var only map[string]bool
	var named []string // the user fields read, when only some are asked for
	if len(req.Fields) > 0 {
		fields, err := e.groupFields(req.Fields)
		if err != nil {
			return nil, err
		}
		only = map[string]bool{}
		for _, f := range fields {
			only[f.name] = true
		}
		named = groupFieldNames(fields)
	}
	q, err := e.rangeQuery(ctx, req.Query, req.From, req.To)
	if err != nil {
		return nil, err
	}
	set, err := q.plan(ctx, q.node, true)
	if err != nil {
		return nil, err
	}
	res := &FacetResult{}
	counters := map[string]*facetCounter{}
	counter := func(name string) *facetCounter {
		if only != nil && !only[name] {
			return nil
		}
		c := counters[name]
		if c == nil {
			if len(counters) >= MaxFacetFields {
				res.FieldsTruncated = true
				return nil
			}
			c = &facetCounter{facet: Facet{Field: name}, values: map[string]int64{}}
			counters[name] = c
		}
		return c
	}
	var key []byte
	count := func(en *storage.Entry) {
		res.Total++
		if c := counter(FieldLevel); c != nil {
			c.facet.Count++
			key = appendStringKey(key[:0], en.Level.String())
			c.add(key)
		}
		if en.Source != "" {
			if c := counter(FieldSource); c != nil {
				c.facet.Count++
				key = appendStringKey(key[:0], en.Source)
				c.add(key)
			}
		}
		if len(en.Tags) > 0 {
			if c := counter(FieldTag); c != nil {
				c.facet.Count++
				for i, t := range en.Tags {
					if !slices.Contains(en.Tags[:i], t) {
						key = appendStringKey(key[:0], t)
						c.add(key)
					}
				}
			}
		}
		for i, f := range en.Fields {
			if slices.ContainsFunc(en.Fields[:i], func(o storage.Field) bool { return o.Name == f.Name }) {
				continue
			}
			if c := counter(f.Name); c != nil {
				c.facet.Count++
				key = appendValueKey(key[:0], f.Value)
				c.add(key)
			}
		}
	}
	if only != nil {
		err = q.forEachMatch(ctx, set, named, count)
	} else {
		err = q.forEachWholeMatch(ctx, set, count)
	}
	if err != nil {
		return nil, err
	}
	for _, c := range counters {
		// The values are bounded by MaxFacetValues, not by a budget.
		values := groupCounter{index: make(map[string]int, len(c.values))}
		for k, n := range c.values {
			values.index[k] = len(values.counts)
			values.counts = append(values.counts, n)
		}
		top, other, err := values.top(req.Limit)
		if err != nil {
			return nil, err
		}
		c.facet.Values = top
		c.facet.Other += other
		res.Facets = append(res.Facets, c.facet)
	}
	builtin := map[string]int{FieldLevel: 0, FieldSource: 1, FieldTag: 2}
	rank := func(name string) int {
		if r, ok := builtin[name]; ok {
			return r
		}
		return len(builtin)
	}
	slices.SortFunc(res.Facets, func(a, b Facet) int {
		if d := cmp.Compare(rank(a.Field), rank(b.Field)); d != 0 {
			return d
		}
		if d := cmp.Compare(b.Count, a.Count); d != 0 {
			return d
		}
		return strings.Compare(a.Field, b.Field)
	})
	return res, nil
}

// forEachWholeMatch is forEachMatch for a caller that reads every user
// field, whose names it cannot list in advance: a scan reads whole entries.
func (q *query) forEachWholeMatch(ctx context.Context, set *idSet, fn func(*storage.Entry)) error {
	return q.eachMatch(ctx, set, nil, false, fn)
}
