package alerting

import (
	"encoding/json"
	"fmt"
	"math"
	"regexp"
	"slices"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/logengine/logengine/internal/duration"
	"github.com/logengine/logengine/search"
)

// Rule is an alert rule: a query, a condition on the number of matching
// logs over a window, how long the condition must hold before the alert
// fires, and whom to tell. Rules are immutable once stored: an update
// replaces the *Rule, so that a reader holding one never sees it change.
type Rule struct {
	ID    string `json:"id"`
	Name  string `json:"name"`
	Query string `json:"query"`
	// Window is the span the matching logs are counted over; zero fires
	// on every matching log (throttled by Throttle).
	Window    Duration  `json:"window"`
	Condition Condition `json:"condition"`
	// For is how long the condition must hold before pending becomes
	// firing; zero fires at once.
	For      Duration          `json:"for"`
	Severity string            `json:"severity"`
	Labels   map[string]string `json:"labels"`
	// Notify names the notifiers to tell.
	Notify []string `json:"notify"`
	// Throttle is the least time between two firing notifications of the
	// rule; zero means no limit, except for a window of zero where it
	// means DefaultThrottle.
	Throttle Duration `json:"throttle"`
	Enabled  bool     `json:"enabled"`

	// Source says where the rule is defined: SourceAPI or SourceFile.
	Source    string    `json:"source"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// Where rules and notifiers are defined. File definitions are read-only
// through the API: the next start would overwrite any change.
const (
	SourceAPI  = "api"
	SourceFile = "file"
)

// DefaultThrottle limits notifications of a rule with a window of zero
// when it names no throttle, so that a burst of matching logs does not
// become a burst of notifications.
const DefaultThrottle = time.Minute

// DefaultSeverity is the severity of a rule that names none.
const DefaultSeverity = "warning"

// Condition compares the count of matching logs with a threshold, or,
// with NewPattern, fires when a matching log has a message template the
// rule has not seen before (see newpattern.go). The two are alternatives.
type Condition struct {
	Op         Op      `json:"op" yaml:"op"`
	Threshold  float64 `json:"threshold" yaml:"threshold"`
	NewPattern bool    `json:"new_pattern,omitempty" yaml:"new_pattern,omitempty"`
}

// Op is a comparison operator of a Condition.
type Op string

// The operators of conditions.
const (
	OpGreater      Op = ">"
	OpGreaterEqual Op = ">="
	OpLess         Op = "<"
	OpLessEqual    Op = "<="
	OpEqual        Op = "=="
	OpNotEqual     Op = "!="
)

var ops = []Op{OpGreater, OpGreaterEqual, OpLess, OpLessEqual, OpEqual, OpNotEqual}

// Holds reports whether value satisfies the condition.
func (c Condition) Holds(value float64) bool {
	switch c.Op {
	case OpGreater:
		return value > c.Threshold
	case OpGreaterEqual:
		return value >= c.Threshold
	case OpLess:
		return value < c.Threshold
	case OpLessEqual:
		return value <= c.Threshold
	case OpEqual:
		return value == c.Threshold
	case OpNotEqual:
		return value != c.Threshold
	}
	return false
}

func (c Condition) String() string {
	if c.NewPattern {
		return "new pattern"
	}
	return fmt.Sprintf("%s %s", c.Op, formatValue(c.Threshold))
}

// rising reports whether more matching logs can only make the condition
// hold (>, >=), falling whether they can only make it fail (<, <=). Counts
// on the ingest path are lower bounds (see window), so ingest may conclude
// only in those directions; == and != are left to the periodic evaluation.
func (c Condition) rising() bool  { return c.Op == OpGreater || c.Op == OpGreaterEqual }
func (c Condition) falling() bool { return c.Op == OpLess || c.Op == OpLessEqual }

// Duration is a time.Duration written as "90s", "5m", "2h" or "1d" in JSON
// and YAML.
type Duration time.Duration

// Std returns the duration as a time.Duration.
func (d Duration) Std() time.Duration { return time.Duration(d) }

func (d Duration) String() string {
	if d == 0 {
		return "0s"
	}
	return duration.Format(time.Duration(d))
}

// MarshalJSON writes the duration as a string such as "5m".
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(d.String()) }

// UnmarshalJSON reads a string such as "5m" or "0s".
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("a duration is a string such as \"30s\", \"5m\" or \"1h\", not %s", b)
	}
	return d.parse(s)
}

// UnmarshalYAML reads a duration such as 5m or 0s.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	if err := d.parse(n.Value); err != nil {
		return fmt.Errorf("line %d: %w", n.Line, err)
	}
	return nil
}

// MarshalYAML writes the duration as 5m.
func (d Duration) MarshalYAML() (any, error) { return d.String(), nil }

func (d *Duration) parse(s string) error {
	v, err := duration.Parse(s)
	if err != nil {
		return err
	}
	*d = Duration(v)
	return nil
}

// InputError is an error the caller must fix (a rule or notifier that does
// not validate); over HTTP it answers 400.
type InputError struct{ Msg string }

func (e *InputError) Error() string { return e.Msg }

// InvalidInput marks the error as the caller's to fix.
func (e *InputError) InvalidInput() bool { return true }

func inputErrorf(format string, args ...any) error {
	return &InputError{Msg: fmt.Sprintf(format, args...)}
}

// labelName is what Alertmanager accepts as a label name.
var labelName = regexp.MustCompile(`^[a-zA-Z_][a-zA-Z0-9_]*$`)

// reservedLabels are set from the rule itself.
var reservedLabels = []string{"alertname", "severity"}

// normalize fills in defaults and checks everything that does not depend on
// other rules or notifiers. It returns the parsed query.
func (r *Rule) normalize() (search.Node, error) {
	r.Name = strings.TrimSpace(r.Name)
	r.Severity = strings.TrimSpace(r.Severity)
	var errs []string
	bad := func(format string, args ...any) { errs = append(errs, fmt.Sprintf(format, args...)) }
	if r.Name == "" {
		bad("name: must not be empty")
	} else if len(r.Name) > 200 {
		bad("name: %d characters, at most 200", len(r.Name))
	}
	node, err := search.Parse(r.Query)
	if err != nil {
		bad("query: %v", err)
	}
	if r.Window < 0 {
		bad("window: %s is negative; use 0s (every matching log) or a span such as 5m", r.Window)
	}
	if r.For < 0 {
		bad("for: %s is negative; use 0s to fire at once", r.For)
	}
	if r.Throttle < 0 {
		bad("throttle: %s is negative", r.Throttle)
	}
	if r.Condition.NewPattern {
		// A new pattern is an event, not a count: the window is how long
		// the alert stays firing after the last new pattern.
		if r.Condition.Op != "" || r.Condition.Threshold != 0 {
			bad("condition: new_pattern is an alternative to op and threshold; give {\"new_pattern\": true} alone")
		}
		if r.Window <= 0 {
			bad("window: a new_pattern rule needs a window (such as 1h): it resolves once a window passes with no new pattern")
		}
		if r.For != 0 {
			bad("for: a new pattern fires at once; use for: 0s")
		}
	} else if r.Window == 0 {
		// Every matching log fires: the condition is about one log.
		if r.Condition.Op == "" {
			r.Condition = Condition{Op: OpGreater, Threshold: 0}
		}
		if !r.Condition.Holds(1) {
			bad("condition: with window 0s every matching log fires, so the condition must hold for one log (e.g. > 0), not %s", r.Condition)
		}
		if r.For != 0 {
			bad("for: with window 0s every matching log fires at once; use for: 0s or give a window")
		}
		if r.Throttle == 0 {
			r.Throttle = Duration(DefaultThrottle)
		}
	} else if !slices.Contains(ops, r.Condition.Op) {
		if r.Condition.Op == "" {
			bad("condition.op: missing; use one of > >= < <= == !=")
		} else {
			bad("condition.op: %q is not one of > >= < <= == !=", r.Condition.Op)
		}
	}
	if math.IsNaN(r.Condition.Threshold) || math.IsInf(r.Condition.Threshold, 0) {
		bad("condition.threshold: must be a finite number")
	}
	if r.Severity == "" {
		r.Severity = DefaultSeverity
	}
	if r.Labels == nil {
		r.Labels = map[string]string{}
	}
	for k := range r.Labels {
		switch {
		case !labelName.MatchString(k):
			bad("labels: %q is not a valid label name (letters, digits and _, not starting with a digit)", k)
		case slices.Contains(reservedLabels, k):
			bad("labels: %q is set from the rule (its name and severity); remove it", k)
		}
	}
	if r.Notify == nil {
		r.Notify = []string{}
	}
	for i, n := range r.Notify {
		if slices.Contains(r.Notify[:i], n) {
			bad("notify: %q is listed twice", n)
		}
	}
	if len(errs) > 0 {
		return nil, &InputError{Msg: "alert rule " + quoteName(r.Name) + ": " + strings.Join(errs, "; ")}
	}
	return node, nil
}

func quoteName(s string) string {
	if s == "" {
		return "(no name)"
	}
	return fmt.Sprintf("%q", s)
}

// sameDefinition reports whether two rules count and compare the same way,
// so that the sliding-window counts of one serve the other.
func sameDefinition(a, b *Rule) bool {
	return a.Query == b.Query && a.Window == b.Window && a.Condition == b.Condition && a.Enabled == b.Enabled
}

// slug turns a rule name into an id for rules files: lower case, runs of
// other characters replaced by '-'.
func slug(name string) string {
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(name) {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			b.WriteRune(r)
			dash = false
		} else if !dash && b.Len() > 0 {
			b.WriteByte('-')
			dash = true
		}
	}
	return strings.TrimSuffix(b.String(), "-")
}

var idPattern = regexp.MustCompile(`^[a-z0-9][a-z0-9_.-]{0,63}$`)

func formatValue(v float64) string {
	if v == math.Trunc(v) && math.Abs(v) < 1e15 {
		return fmt.Sprintf("%d", int64(v))
	}
	return fmt.Sprintf("%g", v)
}
