package alerting

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/logengine/logengine/patterns"
	"github.com/logengine/logengine/search"
	"github.com/logengine/logengine/storage"
)

// A new_pattern rule ({"condition": {"new_pattern": true}}) fires when a
// log matching its query has a message template the rule has not seen. It
// keeps the set of (live) template ids it has seen matching its query,
// persisted in the alerting.seen bucket with the decisions that add to it,
// so that a restart neither forgets a pattern nor fires for it again.
//
// Seeding: a rule created (or changed) on a daemon with history must not
// fire for the patterns it already has. Its set is seeded with the
// patterns of the logs matching its query in the window before the rule's
// creation or last change, up to the moment the evaluator picks it up:
// [UpdatedAt-window, now]. A pattern last seen before that window counts as
// new again, as it would for a rule created then; looking further back
// would cost a scan of the whole history.
//
// The alert fires at once for each new pattern (one notification per step
// of the evaluator, naming every pattern found in it) and resolves once a
// window passes with no new pattern.

// Patterns is what new_pattern rules need of the template miner: the live
// id of a stored id (a template that generalised answers for the ids it
// absorbed) and a template's text for notifications.
type Patterns interface {
	Resolve(id uint64) (uint64, bool)
	Template(id uint64) (patterns.Template, bool)
}

// DefaultMaxSeenPatterns bounds the patterns one rule remembers. Beyond it
// the oldest are forgotten (and may fire again): a query whose logs have
// tens of thousands of templates is not one a "new pattern" alert can
// serve anyway.
const DefaultMaxSeenPatterns = 10000

// maxNotifiedPatterns bounds the patterns one notification names; its
// value still counts all of them.
const maxNotifiedPatterns = 20

// newPattern is a pattern a notification names (webhook "patterns").
type newPattern struct {
	ID       string   `json:"id"`
	Template string   `json:"template"`
	Source   string   `json:"source"`
	Sample   []sample `json:"sample"`

	raw uint64 // the live id, for the evaluator only
}

// seenRecord is a rule's set as stored.
type seenRecord struct {
	// SeededFor is the rule's UpdatedAt when the set was last seeded: a
	// later change of the rule seeds it again.
	SeededFor time.Time `json:"seeded_for"`
	// IDs are the live template ids in the order first seen, so that the
	// bound forgets the oldest.
	IDs []uint64 `json:"ids"`
}

// seenSet is a rule's set of seen patterns; only the evaluator touches it.
type seenSet struct {
	seededFor time.Time
	ids       map[uint64]struct{}
	order     []uint64
	max       int
}

func newSeenSet(max int) *seenSet {
	return &seenSet{ids: map[uint64]struct{}{}, max: max}
}

func (s *seenSet) has(id uint64) bool {
	_, ok := s.ids[id]
	return ok
}

// add remembers id and returns how many ids the bound made it forget.
func (s *seenSet) add(id uint64) int {
	if s.has(id) {
		return 0
	}
	s.ids[id] = struct{}{}
	s.order = append(s.order, id)
	dropped := 0
	for len(s.order) > s.max {
		delete(s.ids, s.order[0])
		s.order = s.order[1:]
		dropped++
	}
	return dropped
}

// canonicalize replaces ids of templates that have since been merged into
// another by the live id, so that a template that generalised is not taken
// for a new one. It runs only on a miss, which is rare once the set holds a
// query's patterns.
func (s *seenSet) canonicalize(p Patterns) {
	order := make([]uint64, 0, len(s.order))
	ids := make(map[uint64]struct{}, len(s.ids))
	for _, id := range s.order {
		if live, ok := p.Resolve(id); ok {
			id = live
		}
		if _, dup := ids[id]; !dup {
			ids[id] = struct{}{}
			order = append(order, id)
		}
	}
	s.order, s.ids = order, ids
}

func (s *seenSet) record() seenRecord {
	return seenRecord{SeededFor: s.seededFor, IDs: append([]uint64{}, s.order...)}
}

// loadSeen reads a rule's stored set; ok is false when it has none.
func (b buckets) loadSeen(ruleID string) (seenRecord, bool, error) {
	data, err := b.seen.Get(ruleID)
	if errors.Is(err, storage.ErrNotFound) {
		return seenRecord{}, false, nil
	}
	if err != nil {
		return seenRecord{}, false, fmt.Errorf("load the seen patterns of alert rule %s: %w", ruleID, err)
	}
	var rec seenRecord
	if err := json.Unmarshal(data, &rec); err != nil {
		return seenRecord{}, false, fmt.Errorf("decode the seen patterns of alert rule %s: %w", ruleID, err)
	}
	return rec, true, nil
}

// preparePatterns loads a new_pattern rule's set into lr and, when the
// rule was created or changed since it was seeded, seeds it from the
// stored logs (see the top of this file) and saves it. Logs committed up to
// lr.seedSeq are in the seed; the tail looks only at later ones.
func (ev *evaluator) preparePatterns(ctx context.Context, lr *liveRule) error {
	m := ev.m
	r := lr.rule
	set := newSeenSet(m.opts.MaxSeenPatterns)
	rec, ok, err := m.b.loadSeen(r.ID)
	if err != nil {
		return err
	}
	for _, id := range rec.IDs {
		set.add(id)
	}
	set.seededFor = rec.SeededFor
	lr.seen = set
	if ok && rec.SeededFor.Equal(r.UpdatedAt) {
		// Seeded for this definition: the journal from the checkpoint on
		// holds everything since.
		return nil
	}
	lr.seedSeq = m.store.HighSeq()
	now := m.now()
	ids, err := ev.seedPatterns(ctx, r, now)
	if err != nil {
		// Without a seed the rule would fire for every pattern it meets:
		// better not to evaluate it until a later sync succeeds.
		return fmt.Errorf("seed the known patterns of alert rule %q: %w", r.Name, err)
	}
	for _, id := range ids {
		if n := set.add(id); n > 0 {
			ev.forgotten(lr, n)
		}
	}
	set.seededFor = r.UpdatedAt

	m.mu.Lock()
	defer m.mu.Unlock()
	if m.rules[r.ID] != r {
		return nil // changed or deleted meanwhile; the next sync redoes it
	}
	b := &batch{}
	b.put(m.b.seen, r.ID, set.record())
	if err := m.commitLocked(b); err != nil {
		return fmt.Errorf("save the seeded patterns of alert rule %q: %w", r.Name, err)
	}
	return nil
}

// resaveSeen marks lr's set as seeded for its rule's current definition
// and saves it.
func (ev *evaluator) resaveSeen(lr *liveRule) error {
	m := ev.m
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.rules[lr.rule.ID] != lr.rule {
		return nil // changed again meanwhile; the next sync sees it
	}
	lr.seen.seededFor = lr.rule.UpdatedAt
	b := &batch{}
	b.put(m.b.seen, lr.rule.ID, lr.seen.record())
	if err := m.commitLocked(b); err != nil {
		return fmt.Errorf("save the seen patterns of alert rule %q: %w", lr.rule.Name, err)
	}
	return nil
}

// seedPatterns returns the live ids of the patterns of the logs matching
// r's query from its window before its creation or last change up to now.
func (ev *evaluator) seedPatterns(ctx context.Context, r *Rule, now time.Time) ([]uint64, error) {
	m := ev.m
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	from := r.UpdatedAt.Add(-r.Window.Std())
	if from.After(now) {
		from = now.Add(-r.Window.Std())
	}
	res, err := m.q.Aggregate(ctx, search.AggRequest{
		Query:   r.Query,
		From:    from,
		To:      now.Add(m.opts.FutureSlack),
		GroupBy: []string{search.FieldPattern},
		Limit:   m.opts.MaxSeenPatterns,
	})
	if err != nil {
		return nil, fmt.Errorf("count matching logs by pattern: %w", err)
	}
	ids := make([]uint64, 0, len(res.Groups))
	// Groups come largest first; the set keeps the last added longest, so
	// add the rarest first.
	for i := len(res.Groups) - 1; i >= 0; i-- {
		g := res.Groups[i]
		if len(g.Key) != 1 {
			continue
		}
		s, ok := g.Key[0].(string)
		if !ok {
			continue // logs without a pattern
		}
		id, err := patterns.ParseID(s)
		if err != nil {
			continue
		}
		ids = append(ids, id)
	}
	return ids, nil
}

// matchNewPattern looks at one committed log for a new_pattern rule: a
// matching log whose pattern the rule has not seen adds the pattern to
// lr.found (and to the set, so that the next log of it is not new again).
func (ev *evaluator) matchNewPattern(lr *liveRule, e *storage.Entry, tok *entryTokens) {
	if e.Pattern == 0 || e.ID.Seq <= lr.seedSeq || lr.seen == nil {
		return
	}
	if !lr.match(e, tok) {
		return
	}
	p := ev.m.opts.Patterns
	id := uint64(e.Pattern)
	if live, ok := p.Resolve(id); ok {
		id = live
	}
	for _, f := range lr.found {
		if f.raw == id {
			if len(f.Sample) < MaxSample {
				f.Sample = append(f.Sample, toSample(e))
			}
			return
		}
	}
	if lr.seen.has(id) {
		return
	}
	if lr.seen.canonicalize(p); lr.seen.has(id) {
		return
	}
	if n := lr.seen.add(id); n > 0 {
		ev.forgotten(lr, n)
	}
	np := &newPattern{ID: patterns.FormatID(id), Source: e.Source, Sample: []sample{toSample(e)}, raw: id}
	if t, ok := p.Template(id); ok {
		np.Template, np.Source = t.Text, t.Source
	}
	if lr.hits == 0 {
		ev.touched = append(ev.touched, lr)
	}
	lr.hits++
	lr.found = append(lr.found, np)
}

// forgotten counts ids the bound made a rule forget, and says so once per
// rule and start.
func (ev *evaluator) forgotten(lr *liveRule, n int) {
	ev.m.stats.seenForgotten.Add(uint64(n))
	if !lr.warnedFull {
		lr.warnedFull = true
		ev.m.log.Warn("alert rule has seen more patterns than it may remember; the oldest are forgotten and may fire again",
			"rule", lr.rule.Name, "max", ev.m.opts.MaxSeenPatterns)
	}
}

// newPatternResult turns what a step found for a new_pattern rule into an
// evaluation result: the alert fires, once per new pattern.
func newPatternResult(lr *liveRule) evalResult {
	res := evalResult{step: true, holds: true, matches: int64(len(lr.found))}
	for _, f := range lr.found {
		res.patterns = append(res.patterns, *f)
		for _, s := range f.Sample {
			if len(res.samples) < MaxSample {
				res.samples = append(res.samples, s)
			}
		}
	}
	return res
}
