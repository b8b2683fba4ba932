package search

import (
	"cmp"
	"context"
	"slices"
	"strings"
	"time"

	"github.com/logengine/logengine/patterns"
	"github.com/logengine/logengine/storage"
)

// PatternsRequest asks for the message templates of the entries matching
// Query in [From, To).
type PatternsRequest struct {
	Query    string
	From, To time.Time
	Limit    int // the most frequent templates to list; zero means 20
}

// PatternCount is one template among the matches: its id, its text with
// the variable parts as patterns.Wildcard (empty when the miner no longer
// knows it), its source, and the matches it has with their time span.
type PatternCount struct {
	ID                  string
	Template            string
	Parts               []patterns.Part
	Known               bool // Template and Parts are set
	Source              string
	Count               int64
	FirstSeen, LastSeen time.Time
}

// PatternsResult lists the templates of a query's matches, most matches
// first, ties by id; Total counts every match, Other those of the templates
// beyond the limit and those without a template (stored before mining).
type PatternsResult struct {
	Patterns []PatternCount
	Total    int64
	Other    int64
}

// Patterns counts the matches of a query by message template, exactly:
// every match is read, but only its level, source, tags, time and template
// id (and the fields the query needs), never its message.
func (e *Engine) Patterns(ctx context.Context, req PatternsRequest) (*PatternsResult, error) {
	ctx, cancel := context.WithTimeout(ctx, e.opts.Timeout)
	defer cancel()
	if req.Limit <= 0 {
		req.Limit = 20
	}
	q, err := e.rangeQuery(ctx, req.Query, req.From, req.To)
	if err != nil {
		return nil, err
	}
	type seen struct {
		count       int64
		first, last time.Time
		source      string
	}
	byID := map[uint64]*seen{}
	resolve := e.resolver()
	res := &PatternsResult{}
	counted, err := e.patternsFromHeaders(ctx, q, func(id uint64, n int64, first, last time.Time) {
		s := byID[id]
		if s == nil {
			s = &seen{first: first, last: last}
			byID[id] = s
		}
		s.count += n
		if first.Before(s.first) {
			s.first = first
		}
		if last.After(s.last) {
			s.last = last
		}
	}, res)
	if err != nil {
		return nil, err
	}
	if !counted {
		set, err := q.plan(ctx, q.node, true)
		if err != nil {
			return nil, err
		}
		err = q.forEachMatch(ctx, set, nil, func(en *storage.Entry) {
			res.Total++
			if en.Pattern == 0 {
				res.Other++
				return
			}
			id := resolvePattern(resolve, en.Pattern)
			s := byID[id]
			if s == nil {
				s = &seen{first: en.Time, last: en.Time, source: strings.Clone(en.Source)}
				byID[id] = s
			}
			s.count++
			if en.Time.Before(s.first) {
				s.first = en.Time
			}
			if en.Time.After(s.last) {
				s.last = en.Time
			}
		})
		if err != nil {
			return nil, err
		}
	}
	ids := make([]uint64, 0, len(byID))
	for id := range byID {
		ids = append(ids, id)
	}
	slices.SortFunc(ids, func(a, b uint64) int {
		if c := cmp.Compare(byID[b].count, byID[a].count); c != 0 {
			return c
		}
		return cmp.Compare(a, b)
	})
	for i, id := range ids {
		s := byID[id]
		if i >= req.Limit {
			res.Other += s.count
			continue
		}
		pc := PatternCount{ID: patterns.FormatID(id), Source: s.source, Count: s.count, FirstSeen: s.first.UTC(), LastSeen: s.last.UTC()}
		if e.opts.Templates != nil {
			if t, ok := e.opts.Templates.Template(id); ok {
				pc.Template, pc.Parts, pc.Known = t.Text, t.Parts(), true
				if t.Source != patterns.OverflowSource {
					pc.Source = t.Source
				}
			}
		}
		res.Patterns = append(res.Patterns, pc)
	}
	return res, nil
}

// patternsFromHeaders counts the matches by template from the blocks'
// template counts when the query reads nothing of an entry but its level
// (or nothing: every entry), and reports false when it cannot (another
// term, or blocks without the counts), having added nothing. A template
// belongs to one source, which the miner names; the counts do not.
func (e *Engine) patternsFromHeaders(ctx context.Context, q *query, add func(id uint64, n int64, first, last time.Time), res *PatternsResult) (bool, error) {
	if !readsOnly(q.node, FieldLevel, FieldSeverity) {
		return false, nil
	}
	byID, none, ok, err := e.store.TemplateCounts(ctx, q.lo, q.hi)
	if err != nil || !ok {
		return false, err
	}
	resolve := e.resolver()
	var probe storage.Entry
	match := [6]bool{}
	for l, level := range storage.Levels {
		probe.Level = level
		match[l] = Match(q.node, &probe)
		if match[l] {
			res.Total += none[l]
			res.Other += none[l]
		}
	}
	for raw, st := range byID {
		id := resolvePattern(resolve, raw)
		for l := range match {
			if !match[l] || st.Count[l] == 0 {
				continue
			}
			res.Total += st.Count[l]
			add(id, st.Count[l], time.Unix(0, st.First[l]), time.Unix(0, st.Last[l]))
		}
	}
	return true, nil
}
