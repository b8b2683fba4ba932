// Package alerting owns alert rules, their evaluation on ingest and on
// schedule, the state of every rule's alert with its history, and the
// notifications with their durable outbox.
//
// Everything it keeps lives in its own buckets of the store (see
// persist.go), written atomically: a state change, its history event and
// the notifications it causes commit together, so a crash can neither lose
// a notification nor send one for a change that was not recorded.
//
// The Manager has two long-lived loops, both run by Run: the evaluator
// tails the storage journal from its own checkpoint and moves sliding-window
// counts as logs are committed; the outbox worker delivers notifications
// with retries. The periodic evaluation (EvaluateAll) is a plain method
// that the caller schedules.
package alerting

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/logengine/logengine/search"
	"github.com/logengine/logengine/storage"
)

// Querier is what alerting needs of the search engine: exact counts over a
// window (Aggregate), sample entries (Search), and per-bucket counts to seed
// the sliding windows (Histogram).
type Querier interface {
	Aggregate(ctx context.Context, req search.AggRequest) (*search.AggResult, error)
	Search(ctx context.Context, req search.Request) (*search.Result, error)
	Histogram(ctx context.Context, req search.HistRequest) (*search.HistResult, error)
}

// ErrConflict is wrapped by errors about a request that clashes with what
// exists: a duplicate name, a notifier still in use, a rule defined in the
// rules file. Over HTTP it answers 409.
var ErrConflict = errors.New("conflict")

// ConflictError is an error about a request that clashes with what
// exists; errors.Is(err, ErrConflict) holds for it.
type ConflictError struct{ Msg string }

func (e *ConflictError) Error() string { return e.Msg }

// Conflict marks the error as a clash with existing state.
func (e *ConflictError) Conflict() bool { return true }

// Is makes errors.Is(err, ErrConflict) hold.
func (e *ConflictError) Is(target error) bool { return target == ErrConflict }

func conflictf(format string, args ...any) error {
	return &ConflictError{Msg: fmt.Sprintf(format, args...)}
}

// Options configures a Manager. Zero values mean the defaults given.
type Options struct {
	// RulesFile names a YAML file of rules and notifiers (rules as code)
	// applied at Open; empty means none.
	RulesFile string
	// Hosts limits where notifiers may send.
	Hosts HostPolicy
	// ExternalURL is logengine's address as users reach it; when set,
	// Alertmanager alerts link back to their rule.
	ExternalURL string
	// EvalInterval is how often the caller runs EvaluateAll; firing alerts
	// sent to Alertmanager stay valid for 4 intervals between resends.
	// Zero means 1m.
	EvalInterval time.Duration
	// ResendInterval is how often a firing alert is sent to Alertmanager
	// again, as Prometheus does, so that Alertmanager does not time it
	// out. Zero means 1m.
	ResendInterval time.Duration
	// RetryMin and RetryMax bound the exponential backoff between delivery
	// attempts to a failing notifier; zero means 1s and 5m.
	RetryMin, RetryMax time.Duration
	// MaxDeliveryAge is how long an undeliverable notification is retried
	// before it is dropped (and the drop recorded); zero means 24h.
	MaxDeliveryAge time.Duration
	// HistoryRetention is how long history events are kept; zero means
	// 30 days.
	HistoryRetention time.Duration
	// FutureSlack is how far ahead of the clock a log may be stamped and
	// still count as now (client clocks run ahead); zero means 1m.
	FutureSlack time.Duration
	// BatchSize is how many journal entries the evaluator reads per step;
	// zero means 4096.
	BatchSize int
	// SampleTimeout bounds the search for a notification's sample entries;
	// zero means 2s.
	SampleTimeout time.Duration
	// UserAgent is sent with every notification; empty means "logengine".
	UserAgent string
	// Patterns resolves and names message templates for new_pattern
	// rules; nil when template mining is off, and such rules are refused.
	Patterns Patterns
	// MaxSeenPatterns bounds the patterns a new_pattern rule remembers;
	// zero means DefaultMaxSeenPatterns.
	MaxSeenPatterns int
	// Windowed says where rules with a window are evaluated; the zero
	// value is one node's way.
	Windowed Windowed
	// Logger receives evaluation and delivery problems; nil discards them.
	Logger *slog.Logger
	// Now is the clock of evaluation and history; nil means time.Now.
	// Retry delays run on the wall clock.
	Now func() time.Time
}

// Windowed is where the rules with a window (counts over time) are
// evaluated. In a cluster each node's ingest path sees its own logs only,
// so its windows would count part of what the rule means: there, one node
// counts every node's logs periodically (the Querier fans out) and the
// others leave those rules to it, which also keeps their notifications
// from being sent twice. Rules with a window of zero and new_pattern rules
// fire on the node that stores the log, whatever this says.
type Windowed int

// The ways rules with a window are evaluated.
const (
	// WindowedHere: on ingest and periodically, over this node's logs.
	WindowedHere Windowed = iota
	// WindowedPeriodic: periodically only, over the Querier's counts (the
	// evaluating node of a cluster).
	WindowedPeriodic
	// WindowedElsewhere: not on this node (another node of the cluster
	// evaluates them); their alerts stay inactive here.
	WindowedElsewhere
)

// DefaultOptions returns the options the daemon runs with.
func DefaultOptions() Options {
	return Options{
		EvalInterval:     time.Minute,
		ResendInterval:   time.Minute,
		RetryMin:         time.Second,
		RetryMax:         5 * time.Minute,
		MaxDeliveryAge:   24 * time.Hour,
		HistoryRetention: 30 * 24 * time.Hour,
		FutureSlack:      time.Minute,
		BatchSize:        4096,
		SampleTimeout:    2 * time.Second,
		UserAgent:        "logengine",
	}
}

func (o *Options) setDefaults() {
	d := DefaultOptions()
	if o.EvalInterval <= 0 {
		o.EvalInterval = d.EvalInterval
	}
	if o.ResendInterval <= 0 {
		o.ResendInterval = d.ResendInterval
	}
	if o.RetryMin <= 0 {
		o.RetryMin = d.RetryMin
	}
	if o.RetryMax <= 0 {
		o.RetryMax = d.RetryMax
	}
	o.RetryMax = max(o.RetryMax, o.RetryMin)
	if o.MaxDeliveryAge <= 0 {
		o.MaxDeliveryAge = d.MaxDeliveryAge
	}
	if o.HistoryRetention <= 0 {
		o.HistoryRetention = d.HistoryRetention
	}
	if o.FutureSlack <= 0 {
		o.FutureSlack = d.FutureSlack
	}
	if o.BatchSize <= 0 {
		o.BatchSize = d.BatchSize
	}
	if o.SampleTimeout <= 0 {
		o.SampleTimeout = d.SampleTimeout
	}
	if o.UserAgent == "" {
		o.UserAgent = d.UserAgent
	}
	if o.MaxSeenPatterns <= 0 {
		o.MaxSeenPatterns = DefaultMaxSeenPatterns
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
}

// Manager holds the rules, notifiers and alert states, evaluates the rules
// and delivers notifications. Its methods are safe for concurrent use.
type Manager struct {
	store *storage.Store
	q     Querier
	opts  Options
	now   func() time.Time
	log   *slog.Logger
	b     buckets
	http  *http.Transport
	kafka kafkaProducers

	// mu guards the maps below and every write of the alerting keyspace,
	// so that the order of commits is the order of decisions.
	mu        sync.Mutex
	rules     map[string]*Rule       // by id; guarded by mu
	notifiers map[string]*Notifier   // by name; guarded by mu
	states    map[string]*ruleState  // by rule id; guarded by mu
	soft      map[string]bool        // rule ids whose state changed only in soft fields; guarded by mu
	keys      keyGen                 // guarded by mu
	version   uint64                 // bumped on every rule change; guarded by mu
	closed    bool                   // guarded by mu
	lastPrune time.Time              // guarded by mu
	compiled  map[string]search.Node // parsed queries by rule id; guarded by mu

	// evalMu makes periodic evaluations run one at a time.
	evalMu sync.Mutex

	rulesChanged  chan struct{} // wakes the evaluator; capacity 1
	outboxChanged chan struct{} // wakes the outbox worker; capacity 1

	running     atomic.Bool
	outboxDepth atomic.Int64
	recent      recent
	// evaluated is the journal sequence the evaluator has processed.
	evaluated atomic.Uint64
	advMu     sync.Mutex
	advanced  chan struct{} // closed and replaced when evaluated grows; guarded by advMu

	stats counters
}

// ruleState is a rule's persisted State plus what lives only in memory.
type ruleState struct {
	State
	// ingestSteps counts the ingest path's steps of the rule, so that a
	// periodic evaluation whose count predates one does not overrule it.
	ingestSteps uint64
	// unsentSample holds, for a window of zero, up to MaxSample matching
	// entries not yet notified, oldest first.
	unsentSample []sample
	// unsentPatterns holds, for a new_pattern rule, the new patterns not
	// yet notified, oldest first.
	unsentPatterns []newPattern
	// lastFiring is the last firing notification, resent to Alertmanager.
	lastFiring *notification
	lastResend time.Time
	lastError  string
}

// Open loads the rules, notifiers and alert states kept in store, applies
// the rules file of opts, and returns a Manager ready to Run.
func Open(ctx context.Context, store *storage.Store, q Querier, opts Options) (*Manager, error) {
	opts.setDefaults()
	if err := opts.Hosts.Validate(); err != nil {
		return nil, err
	}
	tr, ok := http.DefaultTransport.(*http.Transport)
	if !ok {
		return nil, errors.New("BUG: http.DefaultTransport is not an *http.Transport")
	}
	m := &Manager{
		store:         store,
		q:             q,
		opts:          opts,
		now:           opts.Now,
		log:           opts.Logger.With("component", "alerting"),
		b:             openBuckets(store),
		http:          tr.Clone(),
		rules:         map[string]*Rule{},
		notifiers:     map[string]*Notifier{},
		states:        map[string]*ruleState{},
		soft:          map[string]bool{},
		compiled:      map[string]search.Node{},
		rulesChanged:  make(chan struct{}, 1),
		outboxChanged: make(chan struct{}, 1),
		advanced:      make(chan struct{}),
	}
	if err := m.load(ctx); err != nil {
		return nil, err
	}
	if opts.RulesFile != "" {
		rf, err := LoadRulesFile(opts.RulesFile)
		if err != nil {
			return nil, err
		}
		if err := m.applyRulesFile(ctx, rf); err != nil {
			return nil, fmt.Errorf("rules file %s: %w", opts.RulesFile, err)
		}
	}
	return m, nil
}

func (m *Manager) load(ctx context.Context) error {
	err := scanJSON(ctx, m.b.notifiers, func(_ string, n *Notifier) error {
		m.notifiers[n.Name] = n
		return nil
	})
	if err != nil {
		return fmt.Errorf("load notifiers: %w", err)
	}
	err = scanJSON(ctx, m.b.rules, func(_ string, r *Rule) error {
		m.rules[r.ID] = r
		node, err := search.Parse(r.Query)
		if err != nil {
			// Kept, so that it can be fixed or deleted through the API,
			// but never evaluated.
			m.log.Error("stored alert rule no longer parses; it is not evaluated", "rule", r.Name, "id", r.ID, "err", err)
			return nil
		}
		m.compiled[r.ID] = node
		return nil
	})
	if err != nil {
		return fmt.Errorf("load alert rules: %w", err)
	}
	err = scanJSON(ctx, m.b.state, func(_ string, s *State) error {
		if _, ok := m.rules[s.RuleID]; ok {
			m.states[s.RuleID] = &ruleState{State: *s}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("load alert states: %w", err)
	}
	now := m.now()
	for id := range m.rules {
		if m.states[id] == nil {
			m.states[id] = &ruleState{State: newState(id, now)}
		}
	}
	err = m.b.outbox.Scan(ctx, "", func(key string, _ []byte) error {
		if _, id, ok := strings.Cut(key, "/"); ok {
			m.keys.observe(id)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("load outbox: %w", err)
	}
	err = m.b.history.Scan(ctx, "", func(key string, _ []byte) error {
		m.keys.observe(key)
		return nil
	})
	if err != nil {
		return fmt.Errorf("load history: %w", err)
	}
	return nil
}

// Run evaluates rules as logs are committed and delivers notifications,
// until ctx ends; then it saves its checkpoint and returns nil. It returns
// an error only when the store is closed under it. Run owns its two
// goroutines and returns after both have ended.
func (m *Manager) Run(ctx context.Context) error {
	if !m.running.CompareAndSwap(false, true) {
		return errors.New("alerting: already running")
	}
	defer m.running.Store(false)
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return m.runEvaluator(gctx) })
	g.Go(func() error { return m.runOutbox(gctx) })
	return g.Wait()
}

// Close makes further changes fail with storage.ErrClosed and releases idle
// connections. Call it after Run has returned.
func (m *Manager) Close() error {
	m.mu.Lock()
	m.closed = true
	m.mu.Unlock()
	m.http.CloseIdleConnections()
	m.kafka.close()
	return nil
}

func wake(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

func newRuleID() string {
	var b [8]byte
	_, _ = rand.Read(b[:]) // never fails (crypto/rand documents it)
	return hex.EncodeToString(b[:])
}

// RuleInfo is a rule with what the API shows beside it.
type RuleInfo struct {
	Rule
	State      StateName
	MutedUntil time.Time
}

func (m *Manager) infoLocked(r *Rule) RuleInfo {
	info := RuleInfo{Rule: cloneRule(r)}
	if rs := m.states[r.ID]; rs != nil {
		info.State = rs.State.State
		if rs.Muted(m.now()) {
			info.MutedUntil = rs.MutedUntil
		}
	}
	return info
}

func cloneRule(r *Rule) Rule {
	c := *r
	c.Labels = maps.Clone(r.Labels)
	c.Notify = slices.Clone(r.Notify)
	return c
}

// checkRuleLocked validates r against the other rules (unique name and
// id) and the notifiers (every name exists).
func (m *Manager) checkRuleLocked(r *Rule) (search.Node, error) {
	node, err := r.normalize()
	if err != nil {
		return nil, err
	}
	if r.Condition.NewPattern && m.opts.Patterns == nil {
		return nil, inputErrorf("alert rule %q: condition: new_pattern needs message templates, and patterns are disabled (patterns.enabled: false)", r.Name)
	}
	var missing []string
	for _, n := range r.Notify {
		if m.notifiers[n] == nil {
			missing = append(missing, n)
		}
	}
	if len(missing) > 0 {
		known := slices.Sorted(maps.Keys(m.notifiers))
		hint := "create it first with POST /api/v1/notifiers"
		if len(known) > 0 {
			hint = "known notifiers: " + strings.Join(known, ", ")
		}
		return nil, inputErrorf("alert rule %q: notify: no notifier named %s (%s)", r.Name, strings.Join(missing, ", "), hint)
	}
	for _, o := range m.rules {
		if o.ID != r.ID && o.Name == r.Name {
			return nil, conflictf("alert rule %q: a rule with this name exists (id %s)", r.Name, o.ID)
		}
	}
	return node, nil
}

func (m *Manager) checkOpenLocked() error {
	if m.closed {
		return storage.ErrClosed
	}
	return nil
}

// CreateRule validates and stores a new rule and returns it with its id.
func (m *Manager) CreateRule(ctx context.Context, r Rule) (RuleInfo, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.checkOpenLocked(); err != nil {
		return RuleInfo{}, err
	}
	r = cloneRule(&r)
	r.ID = newRuleID()
	r.Source = SourceAPI
	node, err := m.checkRuleLocked(&r)
	if err != nil {
		return RuleInfo{}, err
	}
	now := m.now()
	r.CreatedAt, r.UpdatedAt = now, now
	if err := m.putRuleLocked(ctx, &r, node); err != nil {
		return RuleInfo{}, err
	}
	return m.infoLocked(&r), nil
}

// putRuleLocked stores a new or changed rule and moves its alert as the
// change requires: a disabled rule's alert ends.
func (m *Manager) putRuleLocked(ctx context.Context, r *Rule, node search.Node) error {
	b := &batch{}
	b.put(m.b.rules, r.ID, r)
	rs := m.states[r.ID]
	if rs == nil {
		rs = &ruleState{State: newState(r.ID, m.now())}
		b.put(m.b.state, r.ID, &rs.State)
		b.after(func() { m.states[r.ID] = rs })
	} else if !r.Enabled {
		m.evaluateLocked(ctx, b, r, rs, evalResult{step: true, holds: false, value: rs.Value}, m.now())
	}
	b.after(func() {
		m.rules[r.ID] = r
		m.compiled[r.ID] = node
		m.version++
		wake(m.rulesChanged)
	})
	return m.commitLocked(b)
}

// Rules returns every rule, ordered by name.
func (m *Manager) Rules(_ context.Context) ([]RuleInfo, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]RuleInfo, 0, len(m.rules))
	for _, r := range m.rules {
		out = append(out, m.infoLocked(r))
	}
	slices.SortFunc(out, func(a, b RuleInfo) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

func (m *Manager) ruleLocked(id string) (*Rule, error) {
	r := m.rules[id]
	if r == nil {
		return nil, fmt.Errorf("alert rule %q: %w (list rules with GET /api/v1/alert-rules)", id, storage.ErrNotFound)
	}
	return r, nil
}

// Rule returns one rule.
func (m *Manager) Rule(_ context.Context, id string) (RuleInfo, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	r, err := m.ruleLocked(id)
	if err != nil {
		return RuleInfo{}, err
	}
	return m.infoLocked(r), nil
}

// UpdateRule replaces a rule's definition, keeping its id and its alert's
// state: the next evaluation decides with the new definition.
func (m *Manager) UpdateRule(ctx context.Context, id string, r Rule) (RuleInfo, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.checkOpenLocked(); err != nil {
		return RuleInfo{}, err
	}
	old, err := m.ruleLocked(id)
	if err != nil {
		return RuleInfo{}, err
	}
	if old.Source == SourceFile {
		return RuleInfo{}, conflictf("alert rule %q: it is defined in the rules file %s; change it there", old.Name, m.opts.RulesFile)
	}
	r = cloneRule(&r)
	r.ID, r.Source, r.CreatedAt = id, old.Source, old.CreatedAt
	node, err := m.checkRuleLocked(&r)
	if err != nil {
		return RuleInfo{}, err
	}
	r.UpdatedAt = m.now()
	if err := m.putRuleLocked(ctx, &r, node); err != nil {
		return RuleInfo{}, err
	}
	return m.infoLocked(&r), nil
}

// DeleteRule removes a rule and its state. A firing alert that receivers
// were told about is resolved for them first; its history and its queued
// notifications stay (they carry the rule as it was).
func (m *Manager) DeleteRule(ctx context.Context, id string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.checkOpenLocked(); err != nil {
		return err
	}
	r, err := m.ruleLocked(id)
	if err != nil {
		return err
	}
	if r.Source == SourceFile {
		return conflictf("alert rule %q: it is defined in the rules file %s; remove it there", r.Name, m.opts.RulesFile)
	}
	return m.deleteRuleLocked(ctx, r)
}

func (m *Manager) deleteRuleLocked(ctx context.Context, r *Rule) error {
	b := &batch{}
	if rs := m.states[r.ID]; rs != nil {
		// Resolve for the receivers: deleting a rule ends its alert.
		gone := *r
		gone.Enabled = false
		m.evaluateLocked(ctx, b, &gone, rs, evalResult{step: true, holds: false, value: rs.Value}, m.now())
	}
	b.del(m.b.rules, r.ID)
	b.del(m.b.state, r.ID)
	b.del(m.b.seen, r.ID)
	b.after(func() {
		delete(m.rules, r.ID)
		delete(m.states, r.ID)
		delete(m.compiled, r.ID)
		delete(m.soft, r.ID)
		m.version++
		wake(m.rulesChanged)
	})
	return m.commitLocked(b)
}

// Mute holds back the notifications of a rule until the given time (a time
// in the past unmutes). The rule keeps evaluating and recording; when the
// mute ends, receivers are told the alert's state as it then is.
func (m *Manager) Mute(ctx context.Context, id string, until time.Time) (RuleInfo, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.checkOpenLocked(); err != nil {
		return RuleInfo{}, err
	}
	r, err := m.ruleLocked(id)
	if err != nil {
		return RuleInfo{}, err
	}
	rs := m.states[id]
	now := m.now()
	next := rs.State
	next.MutedUntil = time.Time{}
	if until.After(now) {
		next.MutedUntil = until.UTC()
	}
	b := &batch{}
	b.put(m.b.state, id, &next)
	b.after(func() { rs.State = next })
	if err := m.commitLocked(b); err != nil {
		return RuleInfo{}, err
	}
	if !rs.Muted(now) {
		// Unmuted: tell receivers what they missed now rather than at the
		// next periodic evaluation.
		b := &batch{}
		m.evaluateLocked(ctx, b, r, rs, evalResult{}, now)
		if err := m.commitLocked(b); err != nil {
			return RuleInfo{}, err
		}
	}
	return m.infoLocked(r), nil
}

// CreateNotifier validates and stores a notifier. The answer has no
// secret.
func (m *Manager) CreateNotifier(_ context.Context, n Notifier) (Notifier, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.checkOpenLocked(); err != nil {
		return Notifier{}, err
	}
	if err := n.normalize(m.opts.Hosts); err != nil {
		return Notifier{}, err
	}
	if old := m.notifiers[n.Name]; old != nil {
		return Notifier{}, conflictf("notifier %q: it exists; delete it first to replace it", n.Name)
	}
	n.Source = SourceAPI
	n.CreatedAt = m.now()
	b := &batch{}
	b.put(m.b.notifiers, n.Name, &n)
	b.after(func() { m.notifiers[n.Name] = &n })
	if err := m.commitLocked(b); err != nil {
		return Notifier{}, err
	}
	return n.Public(), nil
}

// Notifiers returns every notifier without secrets, ordered by name.
func (m *Manager) Notifiers(_ context.Context) ([]Notifier, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]Notifier, 0, len(m.notifiers))
	for _, n := range m.notifiers {
		out = append(out, n.Public())
	}
	slices.SortFunc(out, func(a, b Notifier) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

// HasSecret reports whether the named notifier has a secret (the API shows
// that much).
func (m *Manager) HasSecret(name string) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := m.notifiers[name]
	return n != nil && n.HasSecret()
}

// DeleteNotifier removes a notifier no rule names. Its queued
// notifications are dropped by the outbox worker, and the drops recorded.
func (m *Manager) DeleteNotifier(_ context.Context, name string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.checkOpenLocked(); err != nil {
		return err
	}
	n := m.notifiers[name]
	if n == nil {
		return fmt.Errorf("notifier %q: %w", name, storage.ErrNotFound)
	}
	if n.Source == SourceFile {
		return conflictf("notifier %q: it is defined in the rules file %s; remove it there", name, m.opts.RulesFile)
	}
	if users := m.usersLocked(name); len(users) > 0 {
		return conflictf("notifier %q: used by alert rules %s; remove it from their notify lists first", name, strings.Join(users, ", "))
	}
	b := &batch{}
	b.del(m.b.notifiers, name)
	b.after(func() {
		delete(m.notifiers, name)
		m.kafka.forget(name)
		wake(m.outboxChanged)
	})
	return m.commitLocked(b)
}

func (m *Manager) usersLocked(notifier string) []string {
	var users []string
	for _, r := range m.rules {
		if slices.Contains(r.Notify, notifier) {
			users = append(users, fmt.Sprintf("%q", r.Name))
		}
	}
	slices.Sort(users)
	return users
}

// Alerts returns the current alert of every rule whose state is one of
// states (every state when states is empty), ordered by rule name.
func (m *Manager) Alerts(_ context.Context, states []StateName) ([]Alert, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.now()
	out := []Alert{}
	for id, r := range m.rules {
		rs := m.states[id]
		if rs == nil || len(states) > 0 && !slices.Contains(states, rs.State.State) {
			continue
		}
		a := Alert{
			RuleID: id, RuleName: r.Name, State: rs.State.State, Value: rs.Value, Since: rs.Since,
			Labels: maps.Clone(r.Labels), Severity: r.Severity, ActiveAt: rs.ActiveAt, FiredAt: rs.FiredAt,
			LastError: rs.lastError,
		}
		if rs.Muted(now) {
			a.MutedUntil = rs.MutedUntil
		}
		out = append(out, a)
	}
	slices.SortFunc(out, func(a, b Alert) int { return strings.Compare(a.RuleName, b.RuleName) })
	return out, nil
}
