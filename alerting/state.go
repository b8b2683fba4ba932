package alerting

import (
	"time"

	"github.com/logengine/logengine/internal/entryjson"
	"github.com/logengine/logengine/storage"
)

// StateName is the state of a rule's alert. The states follow Prometheus:
// inactive → pending (the condition holds, for not yet elapsed) → firing →
// resolved (the condition stopped holding) → pending or firing again.
type StateName string

// The alert states.
const (
	StateInactive StateName = "inactive"
	StatePending  StateName = "pending"
	StateFiring   StateName = "firing"
	StateResolved StateName = "resolved"
)

// ParseState checks a state name.
func ParseState(s string) (StateName, bool) {
	switch n := StateName(s); n {
	case StateInactive, StatePending, StateFiring, StateResolved:
		return n, true
	}
	return "", false
}

// State is the persisted state of one rule's alert.
type State struct {
	RuleID string    `json:"rule_id"`
	State  StateName `json:"state"`
	// Value is the count the last evaluation saw (for a window of zero:
	// the matching logs since the last notification).
	Value float64 `json:"value"`
	// Since is when State began.
	Since time.Time `json:"since"`
	// ActiveAt is when the condition began to hold (pending or firing);
	// FiredAt when the alert fired; ResolvedAt when it last resolved.
	ActiveAt   time.Time `json:"active_at,omitzero"`
	FiredAt    time.Time `json:"fired_at,omitzero"`
	ResolvedAt time.Time `json:"resolved_at,omitzero"`
	// MutedUntil holds notifications back until then; evaluation goes on.
	MutedUntil time.Time `json:"muted_until,omitzero"`
	// Notified is what receivers were last told: "", firing or resolved.
	Notified StateName `json:"notified,omitempty"`
	// NotifiedAt is when the last firing notification was sent (queued);
	// the throttle counts from it.
	NotifiedAt time.Time `json:"notified_at,omitzero"`
	// Unsent counts, for a window of zero, the matching logs not yet
	// notified (held back by the throttle or a mute).
	Unsent int64 `json:"unsent,omitempty"`
	// LastMatchAt is, for a window of zero, when a matching log last came.
	LastMatchAt time.Time `json:"last_match_at,omitzero"`
}

func newState(ruleID string, now time.Time) State {
	return State{RuleID: ruleID, State: StateInactive, Since: now}
}

// Muted reports whether notifications are held back at now.
func (s *State) Muted(now time.Time) bool { return s.MutedUntil.After(now) }

// step applies one evaluation — whether the condition holds, and the value
// — at now, with the rule's for duration, the way Prometheus does: a
// condition that starts to hold makes the alert pending (firing at once
// when forDur is zero); pending becomes firing once the condition has held
// for forDur; pending whose condition fails goes back to inactive, firing
// becomes resolved. It returns the state before and whether it changed.
func (s *State) step(holds bool, value float64, forDur time.Duration, now time.Time) (StateName, bool) {
	from := s.State
	s.Value = value
	switch {
	case holds && (from == StateInactive || from == StateResolved):
		s.ActiveAt = now
		if forDur <= 0 {
			s.fire(now)
		} else {
			s.enter(StatePending, now)
		}
	case holds && from == StatePending:
		if now.Sub(s.ActiveAt) >= forDur {
			s.fire(now)
		}
	case !holds && from == StatePending:
		s.ActiveAt = time.Time{}
		s.enter(StateInactive, now)
	case !holds && from == StateFiring:
		s.ResolvedAt = now
		s.enter(StateResolved, now)
	}
	return from, s.State != from
}

func (s *State) fire(now time.Time) {
	s.FiredAt = now
	s.enter(StateFiring, now)
}

func (s *State) enter(n StateName, now time.Time) {
	s.State = n
	s.Since = now
}

// Alert is the current state of one rule's alert, as GET /api/v1/alerts
// lists it.
type Alert struct {
	RuleID     string
	RuleName   string
	State      StateName
	Value      float64
	Since      time.Time
	Labels     map[string]string
	Severity   string
	ActiveAt   time.Time
	FiredAt    time.Time
	MutedUntil time.Time
	// LastError is the last evaluation's error, if it failed.
	LastError string
}

// sample is an entry in the JSON form that searches answer, as
// notifications carry it (README.md, "Alerting").
type sample = entryjson.Entry

// MaxSample is how many matching entries a notification carries.
const MaxSample = 5

func toSample(e *storage.Entry) sample { return entryjson.From(e) }
