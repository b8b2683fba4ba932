package alerting

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/url"
	"strings"
	"time"

	"github.com/logengine/logengine/search"
)

// notification is what receivers are told about one rule's alert. It is
// stored in each outbox item, so that every attempt sends the same body.
type notification struct {
	Rule      Rule      `json:"rule"`
	State     StateName `json:"state"`
	Value     float64   `json:"value"`
	StartedAt time.Time `json:"started_at"`
	EndedAt   time.Time `json:"ended_at,omitzero"`
	Sample    []sample  `json:"sample"`
	// Patterns are, for a new_pattern rule, the new patterns it fires for.
	Patterns []newPattern `json:"patterns,omitempty"`
	At       time.Time    `json:"at"`
	// Resend marks a repeat of a firing alert for Alertmanager, which
	// would otherwise time it out.
	Resend bool `json:"resend,omitempty"`
}

// outboxItem is one notification for one notifier. Its ID is the delivery
// id receivers see in X-Logengine-Delivery, the same on every attempt.
type outboxItem struct {
	ID        string       `json:"id"`
	Notifier  string       `json:"notifier"`
	Note      notification `json:"note"`
	Attempts  int          `json:"attempts"`
	LastError string       `json:"last_error,omitempty"`
	CreatedAt time.Time    `json:"created_at"`
	// Expires drops a resend that could not be delivered in time: a newer
	// one supersedes it.
	Expires time.Time `json:"expires,omitzero"`
}

// dueLocked decides which notifications the rule's alert, in state next,
// owes its receivers at now, and updates next to say they were sent:
//
//   - firing, when receivers have not been told (first time, or after a
//     mute), or, with a window of zero, when new matching logs came; at most
//     once per throttle;
//   - resolved, when receivers were told it fired.
//
// Nothing is due while the rule is muted; what was held back is sent when
// the mute ends.
func (m *Manager) dueLocked(ctx context.Context, r *Rule, rs *ruleState, next *State, now time.Time) []*notification {
	if len(r.Notify) == 0 || next.Muted(now) {
		return nil
	}
	switch next.State {
	case StateFiring:
		fresh := next.Notified != StateFiring
		more := (r.Window == 0 || r.Condition.NewPattern) && next.Unsent > 0
		if !fresh && !more {
			return nil
		}
		if !next.NotifiedAt.IsZero() && now.Sub(next.NotifiedAt) < r.Throttle.Std() {
			return nil
		}
		n := &notification{Rule: cloneRule(r), State: StateFiring, Value: next.Value, StartedAt: next.FiredAt, At: now}
		switch {
		case r.Condition.NewPattern:
			// The value is the number of new patterns notified.
			n.Value = float64(max(next.Unsent, 1))
			n.Sample = append([]sample{}, rs.unsentSample...)
			n.Patterns = append([]newPattern{}, rs.unsentPatterns...)
		case r.Window == 0:
			n.Value = float64(max(next.Unsent, 1))
			n.Sample = append([]sample{}, rs.unsentSample...)
		default:
			n.Sample = m.sampleLocked(ctx, r, now)
		}
		next.Notified, next.NotifiedAt, next.Unsent = StateFiring, now, 0
		return []*notification{n}
	case StateResolved, StateInactive:
		if next.Notified != StateFiring {
			return nil
		}
		next.Notified = StateResolved
		end := next.ResolvedAt
		if end.IsZero() || next.State == StateInactive {
			end = now
		}
		return []*notification{{Rule: cloneRule(r), State: StateResolved, Value: next.Value, StartedAt: next.FiredAt, EndedAt: end, Sample: []sample{}, At: now}}
	}
	return nil
}

// sampleLocked returns up to MaxSample of the newest logs in the rule's
// window. A failed search costs the sample, not the notification.
func (m *Manager) sampleLocked(ctx context.Context, r *Rule, now time.Time) []sample {
	ctx, cancel := context.WithTimeout(ctx, m.opts.SampleTimeout)
	defer cancel()
	res, err := m.q.Search(ctx, search.Request{
		Query: r.Query,
		From:  now.Add(-r.Window.Std()),
		To:    now.Add(m.opts.FutureSlack),
		Sort:  search.SortTimeDesc,
		Limit: MaxSample,
	})
	if err != nil {
		m.log.Warn("find sample logs for a notification; sending it without", "rule", r.Name, "err", err)
		return []sample{}
	}
	out := make([]sample, 0, len(res.Entries))
	for i := range res.Entries {
		out = append(out, toSample(&res.Entries[i]))
	}
	return out
}

// queueLocked stages an outbox item per notifier of the rule for each
// notification (only Alertmanager ones for resends).
func (m *Manager) queueLocked(b *batch, r *Rule, notes []*notification, now time.Time) {
	for _, n := range notes {
		for _, name := range r.Notify {
			nf := m.notifiers[name]
			if nf == nil || n.Resend && nf.Type != TypeAlertmanager {
				continue
			}
			it := outboxItem{ID: m.keys.next(now), Notifier: name, Note: *n, CreatedAt: now}
			if n.Resend {
				it.Expires = now.Add(m.resendValidity())
			}
			b.put(m.b.outbox, outboxKey(name, it.ID), &it)
			b.after(func() {
				m.stats.queued.Add(1)
				wake(m.outboxChanged)
			})
		}
	}
}

// resendLocked queues the last firing notification again for the rule's
// Alertmanager notifiers every ResendInterval, as Prometheus does: an
// alert Alertmanager does not hear about again ends by itself.
func (m *Manager) resendLocked(b *batch, r *Rule, rs *ruleState, now time.Time) {
	if rs.State.State != StateFiring || rs.Notified != StateFiring || rs.Muted(now) || !r.Enabled {
		return
	}
	if now.Sub(rs.lastResend) < m.opts.ResendInterval {
		return
	}
	am := false
	for _, name := range r.Notify {
		if nf := m.notifiers[name]; nf != nil && nf.Type == TypeAlertmanager {
			am = true
		}
	}
	if !am {
		return
	}
	var n notification
	if rs.lastFiring != nil {
		n = *rs.lastFiring
	} else {
		// After a restart: rebuild it.
		n = notification{Rule: cloneRule(r), State: StateFiring, Value: rs.Value, StartedAt: rs.FiredAt}
		if r.Window > 0 && !r.Condition.NewPattern {
			n.Sample = m.sampleLocked(context.Background(), r, now)
		}
	}
	n.Rule = cloneRule(r)
	n.At, n.Resend = now, true
	m.queueLocked(b, r, []*notification{&n}, now)
	b.after(func() { rs.lastResend = now })
}

// resendValidity is how long Alertmanager keeps a firing alert it does not
// hear about again (its endsAt), as Prometheus sets it: four resends.
func (m *Manager) resendValidity() time.Duration {
	return 4 * max(m.opts.ResendInterval, m.opts.EvalInterval)
}

// webhookBody is the JSON a webhook receives (README.md, "Alerting").
type webhookBody struct {
	Rule      Rule      `json:"rule"`
	State     StateName `json:"state"`
	Value     float64   `json:"value"`
	StartedAt time.Time `json:"started_at"`
	EndedAt   time.Time `json:"ended_at,omitzero"`
	Sample    []sample  `json:"sample"`
	// Patterns is set only for new_pattern rules.
	Patterns   []newPattern `json:"patterns,omitempty"`
	DeliveryID string       `json:"delivery_id"`
}

// webhookPayload renders an item's body; it depends on nothing but the
// item, so a retry sends the very same bytes.
func webhookPayload(it *outboxItem) ([]byte, error) {
	n := &it.Note
	samples := n.Sample
	if samples == nil {
		samples = []sample{}
	}
	return json.Marshal(webhookBody{
		Rule: n.Rule, State: n.State, Value: n.Value, StartedAt: n.StartedAt.UTC(), EndedAt: n.EndedAt.UTC(),
		Sample: samples, Patterns: n.Patterns, DeliveryID: it.ID,
	})
}

// amAlert is one alert of Alertmanager's v2 API (POST /api/v2/alerts).
type amAlert struct {
	Labels       map[string]string `json:"labels"`
	Annotations  map[string]string `json:"annotations"`
	StartsAt     time.Time         `json:"startsAt"`
	EndsAt       time.Time         `json:"endsAt"`
	GeneratorURL string            `json:"generatorURL,omitempty"`
}

// alertmanagerPayload renders an item for Alertmanager at sendTime: a
// firing alert is valid for resendValidity from then, a resolved one ends
// when it resolved.
func (m *Manager) alertmanagerPayload(it *outboxItem, sendTime time.Time) ([]byte, error) {
	n := &it.Note
	r := &n.Rule
	labels := maps.Clone(r.Labels)
	if labels == nil {
		labels = map[string]string{}
	}
	labels["alertname"] = r.Name
	labels["severity"] = r.Severity
	ann := map[string]string{
		"summary":     summary(n),
		"description": "logengine alert rule " + r.Name + ": query " + r.Query,
	}
	if lines := sampleLines(n.Sample); lines != "" {
		ann["sample"] = lines
	}
	if len(n.Patterns) > 0 {
		// Annotations, not labels: a label per pattern would make each a
		// separate alert that the rule's resolution does not end.
		ann["patterns"] = patternLines(n.Patterns)
		ids := make([]string, len(n.Patterns))
		for i, p := range n.Patterns {
			ids[i] = p.ID
		}
		ann["pattern_ids"] = strings.Join(ids, ",")
	}
	a := amAlert{Labels: labels, Annotations: ann, StartsAt: n.StartedAt.UTC()}
	if a.StartsAt.IsZero() {
		a.StartsAt = n.At.UTC()
	}
	if n.State == StateResolved {
		a.EndsAt = n.EndedAt.UTC()
	} else {
		a.EndsAt = sendTime.Add(m.resendValidity()).UTC()
	}
	if m.opts.ExternalURL != "" {
		a.GeneratorURL = strings.TrimSuffix(m.opts.ExternalURL, "/") + "/api/v1/alert-rules/" + url.PathEscape(r.ID)
	}
	return json.Marshal([]amAlert{a})
}

func summary(n *notification) string {
	r := &n.Rule
	v := formatValue(n.Value)
	switch {
	case r.Condition.NewPattern && n.State == StateResolved:
		return fmt.Sprintf("%s: resolved, no new pattern in the last %s", r.Name, r.Window)
	case r.Condition.NewPattern && len(n.Patterns) == 1:
		return fmt.Sprintf("%s: new pattern %s %q", r.Name, n.Patterns[0].ID, n.Patterns[0].Template)
	case r.Condition.NewPattern:
		return fmt.Sprintf("%s: %s new patterns", r.Name, v)
	case n.State == StateResolved && r.Window == 0:
		return fmt.Sprintf("%s: resolved, no matching log for %s", r.Name, r.Throttle)
	case n.State == StateResolved:
		return fmt.Sprintf("%s: resolved, %s matching logs in the last %s (condition %s)", r.Name, v, r.Window, r.Condition)
	case r.Window == 0:
		return fmt.Sprintf("%s: %s matching log(s)", r.Name, v)
	}
	return fmt.Sprintf("%s: %s matching logs in the last %s (condition %s)", r.Name, v, r.Window, r.Condition)
}

func sampleLines(s []sample) string {
	var b strings.Builder
	for i, e := range s {
		if i > 0 {
			b.WriteByte('\n')
		}
		fmt.Fprintf(&b, "%s %s %s: %s", e.Timestamp, e.Level, e.Source, e.Message)
	}
	return b.String()
}

// patternLines writes one line per new pattern: its id, source and
// template.
func patternLines(ps []newPattern) string {
	var b strings.Builder
	for i, p := range ps {
		if i > 0 {
			b.WriteByte('\n')
		}
		fmt.Fprintf(&b, "%s (%s): %s", p.ID, p.Source, p.Template)
	}
	return b.String()
}
