package alerting

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/logengine/logengine/internal/journal"
	"github.com/logengine/logengine/search"
	"github.com/logengine/logengine/storage"
)

// evalResult is what one evaluation found for a rule.
type evalResult struct {
	// step: the condition was decided (holds, with value); otherwise the
	// state stays and only due notifications are considered.
	step  bool
	holds bool
	value float64
	// matches and samples are, for a window of zero, the matching logs of
	// this step.
	matches int64
	samples []sample
	// patterns are, for a new_pattern rule, the new patterns of this step.
	patterns []newPattern
}

// evaluateLocked applies res to the rule's alert at now: it steps the state
// machine, records a changed state in the history, queues the notifications
// that are due, and stages all of it in b. Changes to fields that need no
// durability (the value, counts of a window of zero) are applied at once
// and saved with the next checkpoint.
//
// It reports whether it staged anything: rs changes only once b commits.
func (m *Manager) evaluateLocked(ctx context.Context, b *batch, r *Rule, rs *ruleState, res evalResult, now time.Time) bool {
	next := rs.State
	value := res.value
	if res.matches > 0 {
		next.Unsent += res.matches
		next.LastMatchAt = now
		value = float64(next.Unsent)
		rs.unsentSample = append(rs.unsentSample, res.samples...)
		if n := len(rs.unsentSample); n > MaxSample {
			rs.unsentSample = append(rs.unsentSample[:0], rs.unsentSample[n-MaxSample:]...)
		}
		rs.unsentPatterns = append(rs.unsentPatterns, res.patterns...)
		if n := len(rs.unsentPatterns); n > maxNotifiedPatterns {
			rs.unsentPatterns = append(rs.unsentPatterns[:0], rs.unsentPatterns[n-maxNotifiedPatterns:]...)
		}
	}
	var from StateName
	changed := false
	if res.step {
		from, changed = next.step(res.holds, value, r.For.Std(), now)
	}
	if changed && next.State != StateFiring {
		next.Unsent = 0
		b.after(func() { rs.unsentSample, rs.unsentPatterns = nil, nil })
	}
	notes := m.dueLocked(ctx, r, rs, &next, now)
	if !changed && len(notes) == 0 && hard(next) == hard(rs.State) {
		if next != rs.State {
			rs.State = next
			m.soft[r.ID] = true
		}
		return false
	}
	b.put(m.b.state, r.ID, &next)
	if changed {
		ev := Event{RuleID: r.ID, RuleName: r.Name, From: from, To: next.State, Value: next.Value, At: now}
		b.put(m.b.history, m.keys.next(now), &ev)
		b.after(func() {
			m.stats.transitions.Add(1)
			if next.State != StateFiring {
				rs.lastFiring = nil
			}
			m.log.Info("alert state changed", "rule", r.Name, "from", from, "to", next.State, "value", next.Value)
		})
	}
	m.queueLocked(b, r, notes, now)
	b.after(func() {
		rs.State = next
		delete(m.soft, r.ID)
		for _, n := range notes {
			if n.State == StateFiring {
				rs.unsentSample, rs.unsentPatterns = nil, nil
				rs.lastFiring = n
				rs.lastResend = now
			}
		}
	})
	return true
}

// hard returns the state without the fields that are saved lazily.
func hard(s State) State {
	s.Value, s.Unsent, s.LastMatchAt = 0, 0, time.Time{}
	return s
}

// ---- evaluation on ingest ----

// liveRule is a rule as the evaluator matches it against committed logs.
type liveRule struct {
	rule *Rule
	node search.Node
	// filter matches the query the way search.Match does, rejecting most
	// logs without tokenizing the message for each rule.
	filter *search.Filter

	// source, when set, is a source every match has (source:x): the
	// evaluator looks such rules up by the entry's source.
	source string

	win *window // nil for a window of zero
	// seedSeq: logs up to this sequence are in win already (seeded from a
	// histogram), so the tail must not count them again.
	seedSeq uint64

	// hits and samples collect one step's matches.
	hits    int64
	samples []sample

	// seen is, for a new_pattern rule, the patterns it knows (seeded with
	// seedSeq); found the new ones of this step.
	seen       *seenSet
	found      []*newPattern
	warnedFull bool
}

func compileLive(r *Rule, node search.Node) *liveRule {
	f := search.NewFilter(node)
	lr := &liveRule{rule: r, node: node, filter: f, source: f.Source()}
	if r.Window > 0 && !r.Condition.NewPattern {
		lr.win = newWindow(r.Window.Std())
	}
	return lr
}

// entryTokens tokenizes one entry's message at most once for all rules.
type entryTokens struct {
	e      *storage.Entry
	tokens []string
	done   bool
}

func (t *entryTokens) get() []string {
	if !t.done {
		t.tokens = search.Tokenize(t.e.Message, t.tokens[:0])
		t.done = true
	}
	return t.tokens
}

func (lr *liveRule) match(e *storage.Entry, tok *entryTokens) bool {
	return lr.filter.Match(e, tok.get)
}

// evaluator is the state of the ingest-path loop; only runEvaluator's
// goroutine touches it.
type evaluator struct {
	m       *Manager
	cp      uint64 // journal sequence processed
	saved   uint64 // checkpoint on disk
	version uint64 // rules version the live set was built from
	live    map[string]*liveRule
	// The enabled rules, for the hot loop: those that require a source by
	// it, the others in general; most rules name a source, so a log is
	// checked against few of them.
	bySource map[string][]*liveRule
	general  []*liveRule
	active   int
	reseed   bool // the windows may hold counts not matching cp
	touched  []*liveRule
	fetch    *journal.Fetcher[*storage.Entry]
}

// checkpointEvery bounds how often the evaluator saves its checkpoint when
// nothing else is written: a crash replays at most this much of the
// journal, which is harmless (see step).
const checkpointEvery = time.Second

// newEvaluator returns an evaluator that resumes from the checkpoint.
func (m *Manager) newEvaluator() (*evaluator, error) {
	ev := &evaluator{
		m: m, live: map[string]*liveRule{}, version: ^uint64(0),
		fetch: journal.NewFetcher(m.store, &m.recent.Ring),
	}
	cp, ok, err := m.b.loadCheckpoint()
	if err != nil {
		return nil, err
	}
	if !ok {
		// First start: logs stored before alerting existed are counted by
		// the windows' seeds, not replayed as if new.
		cp = m.store.HighSeq()
		err := m.store.Update(func(w *storage.Writer) error { return putCheckpoint(w, m.b, cp) })
		if err != nil {
			return nil, fmt.Errorf("alerting: save the first checkpoint: %w", err)
		}
	}
	ev.cp, ev.saved = cp, cp
	m.advance(cp)
	return ev, nil
}

func (m *Manager) runEvaluator(ctx context.Context) error {
	ev, err := m.newEvaluator()
	if err != nil {
		return err
	}
	flush := time.NewTicker(checkpointEvery)
	defer flush.Stop()
	loop := journal.Loop{Store: m.store, Name: "alert evaluation on ingest", Log: m.log}
	err = loop.Run(ctx, ev.round, func(ctx context.Context, changed <-chan struct{}) {
		select {
		case <-changed:
		case <-m.rulesChanged:
		case <-flush.C:
			if err := ev.save(); err != nil {
				m.log.Warn("save alerting checkpoint", "err", err)
			}
		case <-ctx.Done():
		}
	})
	if err != nil {
		return err
	}
	// A stop saves how far evaluation got, so that a restart does not
	// evaluate those logs again.
	return ev.save()
}

// round brings the live rules up to date, then evaluates the next part of
// the journal.
func (ev *evaluator) round(ctx context.Context) (int, error) {
	m := ev.m
	m.mu.Lock()
	version := m.version
	m.mu.Unlock()
	if version != ev.version || ev.reseed {
		if err := ev.sync(ctx); err != nil {
			return 0, err
		}
		ev.version = version
	}
	return ev.step(ctx)
}

// sync rebuilds the live rules from the manager's rules, keeping the
// windows of rules whose counting did not change and seeding the others.
func (ev *evaluator) sync(ctx context.Context) error {
	m := ev.m
	m.mu.Lock()
	type todo struct {
		r    *Rule
		node search.Node
	}
	var rules []todo
	for id, r := range m.rules {
		if node := m.compiled[id]; node != nil {
			rules = append(rules, todo{r, node})
		}
	}
	m.mu.Unlock()
	live := make(map[string]*liveRule, len(rules))
	ev.bySource, ev.general, ev.active = map[string][]*liveRule{}, nil, 0
	var seeded []*liveRule
	for _, t := range rules {
		old := ev.live[t.r.ID]
		var lr *liveRule
		if old != nil && !ev.reseed && sameDefinition(old.rule, t.r) {
			lr = old
			lr.rule = t.r
			if lr.seen != nil && !lr.seen.seededFor.Equal(t.r.UpdatedAt) {
				// A change that keeps the query (labels, notify): the set
				// still holds, and must not be seeded again at the next
				// start, which would skip the journal since the checkpoint.
				if err := ev.resaveSeen(lr); err != nil {
					return err
				}
			}
		} else {
			lr = compileLive(t.r, t.node)
			if lr.win != nil && t.r.Enabled && m.opts.Windowed == WindowedHere {
				ev.seed(ctx, lr)
				seeded = append(seeded, lr)
			}
			if t.r.Condition.NewPattern && t.r.Enabled && m.opts.Patterns != nil {
				if err := ev.preparePatterns(ctx, lr); err != nil {
					// Left out until a later sync (on the next rule
					// change or failed step) manages it.
					m.log.Warn("new_pattern alert rule not evaluated", "rule", t.r.Name, "err", err)
					lr.seen = nil
				}
			}
		}
		live[t.r.ID] = lr
		switch {
		case !t.r.Enabled:
		case lr.win != nil && m.opts.Windowed != WindowedHere:
			// Counted periodically over the cluster, or by another node.
		case t.r.Condition.NewPattern && lr.seen == nil:
			// Patterns are off, or its seed failed: it would fire for
			// every pattern it meets.
		case lr.source != "":
			ev.bySource[lr.source] = append(ev.bySource[lr.source], lr)
			ev.active++
		default:
			ev.general = append(ev.general, lr)
			ev.active++
		}
	}
	ev.live = live
	ev.reseed = false
	m.recent.enabled.Store(ev.active > 0)
	// A new or changed rule whose condition already holds on the stored
	// logs need not wait for the next matching log or the schedule.
	return ev.decide(ctx, seeded, m.now(), ev.cp)
}

// seed fills a new window from the stored logs. Logs committed up to
// seedSeq are in the seed; the tail counts only later ones. A log committed
// while the histogram runs may be counted twice, making the window briefly
// over-count by a few logs: the periodic evaluation decides on exact counts
// regardless.
func (ev *evaluator) seed(ctx context.Context, lr *liveRule) {
	m := ev.m
	lr.seedSeq = m.store.HighSeq()
	now := m.now().UnixNano()
	from, to, width := lr.win.seedRange(now)
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	res, err := m.q.Histogram(ctx, search.HistRequest{Query: lr.rule.Query, From: from, To: to, Interval: width})
	if err != nil {
		if ctx.Err() == nil {
			m.log.Warn("seed the sliding window of an alert rule; it counts from now on", "rule", lr.rule.Name, "err", err)
		}
		return
	}
	for _, bk := range res.Buckets {
		if bk.Count > 0 {
			lr.win.add(min(bk.Start.UnixNano(), now), bk.Count)
		}
	}
}

// step evaluates the logs committed after the checkpoint (up to BatchSize
// of them) against the enabled rules and applies what they decide. The
// checkpoint is written with any state change, atomically, and otherwise
// at most every checkpointEvery: replaying logs after a crash recounts
// nothing (the windows are seeded past them) and re-notifies nothing (a
// notification commits with the checkpoint past its logs).
func (ev *evaluator) step(ctx context.Context) (int, error) {
	m := ev.m
	ids, err := m.store.ReadJournal(ctx, ev.cp, m.opts.BatchSize)
	if err != nil || len(ids) == 0 {
		return 0, err
	}
	last := ids[len(ids)-1].Seq
	if ev.active == 0 {
		m.recent.Drop(ids)
		ev.cp = last
		m.advance(last)
		return len(ids), nil
	}
	now := m.now()
	nowN := now.UnixNano()
	limit := nowN + int64(m.opts.FutureSlack)
	ev.touched = ev.touched[:0]
	var tok entryTokens
	eval := func(e *storage.Entry) {
		tok.e, tok.done = e, false
		ev.matchAll(ev.general, e, &tok, nowN, limit)
		ev.matchAll(ev.bySource[e.Source], e, &tok, nowN, limit)
	}
	// Entries the ingest path handed over need no read; the others (after
	// a restart, or when this loop lags) come from storage. Evaluation
	// does not depend on their order.
	err = ev.fetch.Fetch(ctx, ids, eval, func(e *storage.Entry) bool { eval(e); return true })
	if err != nil {
		ev.clearTouched()
		ev.reseed = true
		return 0, fmt.Errorf("alerting: read entries after %d: %w", ev.cp, err)
	}
	err = ev.decide(ctx, ev.touched, now, last)
	ev.clearTouched()
	if err != nil {
		return 0, err
	}
	ev.cp = last
	m.advance(last)
	return len(ids), nil
}

// decide applies to the alerts of lrs what their windows (or, for a window
// of zero, their matches) now say, and commits it with the checkpoint cp.
func (ev *evaluator) decide(ctx context.Context, lrs []*liveRule, now time.Time, cp uint64) error {
	if len(lrs) == 0 {
		return nil
	}
	m := ev.m
	m.mu.Lock()
	defer m.mu.Unlock()
	b := &batch{}
	for _, lr := range lrs {
		r := lr.rule
		rs := m.states[r.ID]
		if m.rules[r.ID] != r || rs == nil {
			continue // changed meanwhile; the next sync rebuilds it
		}
		var res evalResult
		switch {
		case r.Condition.NewPattern:
			res = newPatternResult(lr)
			// The set commits with the decision, so that a restart
			// neither fires for these patterns again nor forgets them.
			b.put(m.b.seen, r.ID, lr.seen.record())
		case lr.win == nil:
			res = evalResult{step: true, holds: true, matches: lr.hits, samples: lr.samples}
		default:
			n := float64(lr.win.count(now.UnixNano()))
			holds := r.Condition.Holds(n)
			if !(holds && r.Condition.rising() || !holds && r.Condition.falling()) {
				continue
			}
			res = evalResult{step: true, holds: holds, value: n}
			rs.ingestSteps++
		}
		m.evaluateLocked(ctx, b, r, rs, res, now)
	}
	if len(b.writes) > 0 {
		b.writes = append(b.writes, func(w *storage.Writer) error { return putCheckpoint(w, m.b, cp) })
		ev.saveSoftLocked(b)
	}
	if err := m.commitLocked(b); err != nil {
		ev.reseed = true
		return err
	}
	if len(b.writes) > 0 {
		ev.saved = cp
	}
	return nil
}

// matchAll counts e in the rules of lrs it matches.
func (ev *evaluator) matchAll(lrs []*liveRule, e *storage.Entry, tok *entryTokens, nowN, limit int64) {
	for _, lr := range lrs {
		if lr.rule.Condition.NewPattern {
			ev.matchNewPattern(lr, e, tok)
			continue
		}
		if lr.win != nil && (e.ID.Seq <= lr.seedSeq || e.ID.Nanos > limit) {
			continue
		}
		if !lr.match(e, tok) {
			continue
		}
		if lr.hits == 0 {
			ev.touched = append(ev.touched, lr)
		}
		lr.hits++
		if lr.win != nil {
			lr.win.add(min(e.ID.Nanos, nowN), 1)
			continue
		}
		if len(lr.samples) == MaxSample {
			lr.samples = append(lr.samples[:0], lr.samples[1:]...)
		}
		lr.samples = append(lr.samples, toSample(e))
	}
}

func (ev *evaluator) clearTouched() {
	for _, lr := range ev.touched {
		lr.hits = 0
		clear(lr.samples)
		lr.samples = lr.samples[:0]
		lr.found = nil
	}
	ev.touched = ev.touched[:0]
}

// saveSoftLocked stages the states whose lazily saved fields changed.
func (ev *evaluator) saveSoftLocked(b *batch) {
	m := ev.m
	for id := range m.soft {
		if rs := m.states[id]; rs != nil {
			b.put(m.b.state, id, &rs.State)
		}
	}
	b.after(func() { clear(m.soft) })
}

// save writes the checkpoint (and lazily saved state fields) when it moved.
func (ev *evaluator) save() error {
	m := ev.m
	m.mu.Lock()
	if ev.saved == ev.cp && len(m.soft) == 0 {
		m.mu.Unlock()
		return nil
	}
	b := &batch{}
	cp := ev.cp
	b.writes = append(b.writes, func(w *storage.Writer) error { return putCheckpoint(w, m.b, cp) })
	ev.saveSoftLocked(b)
	err := m.commitLocked(b)
	m.mu.Unlock()
	if err != nil {
		return err
	}
	ev.saved = cp
	return nil
}

// Checkpoint returns the journal sequence up to which the evaluator no
// longer needs the journal (see journal.Trimmer): the checkpoint in its
// bucket, which a restart resumes from; 0 before the evaluator first ran.
func (m *Manager) Checkpoint() (uint64, error) {
	cp, _, err := m.b.loadCheckpoint()
	return cp, err
}

func (m *Manager) advance(seq uint64) {
	if seq <= m.evaluated.Load() {
		return
	}
	m.evaluated.Store(seq)
	m.advMu.Lock()
	close(m.advanced)
	m.advanced = make(chan struct{})
	m.advMu.Unlock()
}

// WaitEvaluated blocks until the ingest path has evaluated every log up to
// journal sequence seq, or ctx ends.
func (m *Manager) WaitEvaluated(ctx context.Context, seq uint64) error {
	for {
		m.advMu.Lock()
		ch := m.advanced
		m.advMu.Unlock()
		if m.evaluated.Load() >= seq {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// ---- periodic evaluation ----

type countResult struct {
	rule  *Rule
	steps uint64
	value int64
	err   error
}

// EvaluateAll evaluates every rule with exact counts from the search
// engine: it is what resolves alerts, catches "fewer than N" conditions
// (no log arrives to trigger the ingest path), moves pending alerts to
// firing once their for has elapsed, resolves quiet rules with a window of
// zero, and sends notifications held back by a mute or a throttle. The
// caller schedules it (every Options.EvalInterval); runs do not overlap.
func (m *Manager) EvaluateAll(ctx context.Context) error {
	m.evalMu.Lock()
	defer m.evalMu.Unlock()
	now := m.now()

	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return storage.ErrClosed
	}
	var todo []countResult
	for id, r := range m.rules {
		if r.Enabled && r.Window > 0 && !r.Condition.NewPattern && m.compiled[id] != nil && m.opts.Windowed != WindowedElsewhere {
			todo = append(todo, countResult{rule: r, steps: m.states[id].ingestSteps})
		}
	}
	m.mu.Unlock()

	// Counting runs without the lock: it may take a while, and the ingest
	// path goes on meanwhile.
	for i := range todo {
		if err := ctx.Err(); err != nil {
			return err
		}
		todo[i].value, todo[i].err = m.count(ctx, todo[i].rule, now)
	}

	m.mu.Lock()
	defer m.mu.Unlock()
	b := &batch{}
	counted := make(map[string]*countResult, len(todo))
	for i := range todo {
		counted[todo[i].rule.ID] = &todo[i]
	}
	var errs []error
	for id, r := range m.rules {
		rs := m.states[id]
		if rs == nil {
			continue
		}
		var res evalResult
		switch c := counted[id]; {
		case !r.Enabled:
			res = evalResult{step: true, holds: false, value: rs.Value}
		case m.compiled[id] == nil:
			rs.lastError = "the query does not parse; fix the rule"
		case r.Condition.NewPattern:
			if m.opts.Patterns == nil {
				rs.lastError = "patterns are disabled (patterns.enabled: false); the rule is not evaluated"
			}
			// Resolves once a window has passed with no new pattern (and
			// nothing held back by a throttle is still to be sent).
			quiet := now.Sub(rs.LastMatchAt) >= r.Window.Std() && (rs.Unsent == 0 || rs.Muted(now))
			if rs.State.State == StateFiring && quiet {
				res = evalResult{step: true, holds: false, value: 0}
			}
		case r.Window == 0:
			// Matching logs held back by the throttle are sent before the
			// alert may resolve; held back by a mute, they are not news
			// once it has.
			quiet := now.Sub(rs.LastMatchAt) >= r.Throttle.Std() && (rs.Unsent == 0 || rs.Muted(now))
			if rs.State.State == StateFiring && quiet {
				res = evalResult{step: true, holds: false, value: 0}
			}
		case m.opts.Windowed == WindowedElsewhere:
			// Another node of the cluster evaluates it.
		case c == nil || c.rule != r:
			// Created or changed since counting began: next time.
		case c.err != nil:
			rs.lastError = c.err.Error()
			m.stats.evalErrors.Add(1)
			errs = append(errs, fmt.Errorf("alert rule %q: %w", r.Name, c.err))
		case c.steps != rs.ingestSteps:
			// The ingest path decided on newer logs than this count saw.
		default:
			rs.lastError = ""
			v := float64(c.value)
			res = evalResult{step: true, holds: r.Condition.Holds(v), value: v}
		}
		if !m.evaluateLocked(ctx, b, r, rs, res, now) {
			m.resendLocked(b, r, rs, now)
		}
	}
	if now.Sub(m.lastPrune) >= time.Hour {
		if err := m.pruneHistoryLocked(ctx, b, now); err != nil {
			errs = append(errs, err)
		}
	}
	if err := m.commitLocked(b); err != nil {
		return err
	}
	if len(errs) > 0 {
		for _, err := range errs {
			m.log.Warn("alert evaluation failed", "err", err)
		}
		return fmt.Errorf("alerting: %d of %d rules could not be evaluated: %w", len(errs), len(m.rules), errs[0])
	}
	return nil
}

// count returns the exact number of logs matching the rule in its window
// ending at now (plus the slack for clocks running ahead).
func (m *Manager) count(ctx context.Context, r *Rule, now time.Time) (int64, error) {
	res, err := m.q.Aggregate(ctx, search.AggRequest{
		Query:   r.Query,
		From:    now.Add(-r.Window.Std()),
		To:      now.Add(m.opts.FutureSlack),
		GroupBy: []string{search.FieldLevel},
		Limit:   1,
	})
	if err != nil {
		return 0, fmt.Errorf("count matching logs: %w", err)
	}
	if len(res.Missing) > 0 {
		// A count without some nodes could resolve or fire wrongly: the
		// alert keeps its state until every node answers.
		return 0, fmt.Errorf("count matching logs: cluster peers did not answer: %s", strings.Join(res.Missing, ", "))
	}
	return res.Total, nil
}
