package alerting

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// The alert history: state changes and failed deliveries, keyed by time
// in the alerting.history bucket (see buckets), pruned after
// Options.HistoryRetention by the periodic evaluation.

// Event is one entry of the alert history: a state change, or a failed
// delivery (From equal to To, with Notifier and Error set).
type Event struct {
	RuleID   string    `json:"rule_id"`
	RuleName string    `json:"rule_name"`
	From     StateName `json:"from"`
	To       StateName `json:"to"`
	Value    float64   `json:"value"`
	At       time.Time `json:"at"`
	Notifier string    `json:"notifier,omitempty"`
	Error    string    `json:"error,omitempty"`
}

// HistoryQuery selects history events. Zero values leave a bound open;
// From is inclusive, To exclusive.
type HistoryQuery struct {
	// Rule is a rule id (or, failing that, a rule name).
	Rule     string
	From, To time.Time
	// Limit bounds the events returned (the oldest first); zero means
	// DefaultHistoryLimit.
	Limit int
}

// History limits.
const (
	DefaultHistoryLimit = 1000
	MaxHistoryLimit     = 10000
)

// History returns the events that q selects, oldest first.
func (m *Manager) History(ctx context.Context, q HistoryQuery) ([]Event, error) {
	limit := q.Limit
	if limit <= 0 {
		limit = DefaultHistoryLimit
	}
	limit = min(limit, MaxHistoryLimit)
	m.mu.Lock()
	ruleID := q.Rule
	if ruleID != "" && m.rules[ruleID] == nil {
		for id, r := range m.rules {
			if r.Name == q.Rule {
				ruleID = id
			}
		}
	}
	m.mu.Unlock()
	out := []Event{}
	errStop := errors.New("stop")
	fromKey := ""
	if !q.From.IsZero() {
		fromKey = timeKey(q.From)
	}
	err := m.b.history.Scan(ctx, "", func(key string, data []byte) error {
		if key < fromKey {
			return nil
		}
		if !q.To.IsZero() && !keyTime(key).Before(q.To) {
			return errStop
		}
		var ev Event
		if err := json.Unmarshal(data, &ev); err != nil {
			return fmt.Errorf("decode history event %s: %w", key, err)
		}
		if ruleID != "" && ev.RuleID != ruleID {
			return nil
		}
		out = append(out, ev)
		if len(out) >= limit {
			return errStop
		}
		return nil
	})
	if err != nil && !errors.Is(err, errStop) {
		return nil, err
	}
	return out, nil
}

// pruneHistoryLocked stages the deletion of events older than the
// retention.
func (m *Manager) pruneHistoryLocked(ctx context.Context, b *batch, now time.Time) error {
	cutoff := timeKey(now.Add(-m.opts.HistoryRetention))
	errStop := errors.New("stop")
	var old []string
	err := m.b.history.Scan(ctx, "", func(key string, _ []byte) error {
		if key >= cutoff || len(old) >= 10000 {
			return errStop
		}
		old = append(old, key)
		return nil
	})
	if err != nil && !errors.Is(err, errStop) {
		return fmt.Errorf("prune alert history: %w", err)
	}
	for _, k := range old {
		b.del(m.b.history, k)
	}
	b.after(func() { m.lastPrune = now })
	return nil
}
