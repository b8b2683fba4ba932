package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/logengine/logengine/alerting"
	"github.com/logengine/logengine/internal/duration"
)

// Alerting manages alert rules, notifiers and the alerts they raise
// (alerting.Manager).
type Alerting interface {
	CreateRule(ctx context.Context, r alerting.Rule) (alerting.RuleInfo, error)
	Rules(ctx context.Context) ([]alerting.RuleInfo, error)
	Rule(ctx context.Context, id string) (alerting.RuleInfo, error)
	UpdateRule(ctx context.Context, id string, r alerting.Rule) (alerting.RuleInfo, error)
	DeleteRule(ctx context.Context, id string) error
	Mute(ctx context.Context, id string, until time.Time) (alerting.RuleInfo, error)
	CreateNotifier(ctx context.Context, n alerting.Notifier) (alerting.Notifier, error)
	Notifiers(ctx context.Context) ([]alerting.Notifier, error)
	DeleteNotifier(ctx context.Context, name string) error
	Alerts(ctx context.Context, states []alerting.StateName) ([]alerting.Alert, error)
	History(ctx context.Context, q alerting.HistoryQuery) ([]alerting.Event, error)
}

// plainJSON answers v as JSON without escaping <, > and &: conditions
// and queries hold them, and "\u003e" for ">" helps no reader.
func plainJSON(c echo.Context, code int, v any) error {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return err
	}
	return c.Blob(code, echo.MIMEApplicationJSON, b.Bytes())
}

// ---- rules ----

type conditionJSON struct {
	Op         string  `json:"op,omitempty"`
	Threshold  float64 `json:"threshold"`
	NewPattern bool    `json:"new_pattern,omitempty"`
}

// ruleRequest is the body of POST and PUT /api/v1/alert-rules.
type ruleRequest struct {
	Name      string             `json:"name"`
	Query     string             `json:"query"`
	Window    *alerting.Duration `json:"window"`
	Condition *conditionJSON     `json:"condition"`
	For       alerting.Duration  `json:"for"`
	Severity  string             `json:"severity"`
	Labels    map[string]string  `json:"labels"`
	Notify    []string           `json:"notify"`
	Throttle  alerting.Duration  `json:"throttle"`
	Enabled   *bool              `json:"enabled"`
}

func (r *ruleRequest) rule() (alerting.Rule, error) {
	if r.Window == nil {
		return alerting.Rule{}, errorf(http.StatusBadRequest, `window is required: a span such as "5m" to count over, or "0s" to fire on every matching log`)
	}
	out := alerting.Rule{
		Name: r.Name, Query: r.Query, Window: *r.Window, For: r.For, Severity: r.Severity,
		Labels: r.Labels, Notify: r.Notify, Throttle: r.Throttle, Enabled: r.Enabled == nil || *r.Enabled,
	}
	if r.Condition != nil {
		out.Condition = alerting.Condition{Op: alerting.Op(r.Condition.Op), Threshold: r.Condition.Threshold, NewPattern: r.Condition.NewPattern}
	}
	return out, nil
}

// ruleResponse is a rule as the API shows it.
type ruleResponse struct {
	ID         string            `json:"id"`
	Name       string            `json:"name"`
	Query      string            `json:"query"`
	Window     alerting.Duration `json:"window"`
	Condition  conditionJSON     `json:"condition"`
	For        alerting.Duration `json:"for"`
	Severity   string            `json:"severity"`
	Labels     map[string]string `json:"labels"`
	Notify     []string          `json:"notify"`
	Throttle   alerting.Duration `json:"throttle"`
	Enabled    bool              `json:"enabled"`
	Source     string            `json:"source"`
	State      string            `json:"state"`
	MutedUntil *time.Time        `json:"muted_until,omitempty"`
	CreatedAt  time.Time         `json:"created_at"`
	UpdatedAt  time.Time         `json:"updated_at"`
}

func toRuleResponse(r alerting.RuleInfo) ruleResponse {
	out := ruleResponse{
		ID: r.ID, Name: r.Name, Query: r.Query, Window: r.Window,
		Condition: conditionJSON{Op: string(r.Condition.Op), Threshold: r.Condition.Threshold, NewPattern: r.Condition.NewPattern},
		For:       r.For, Severity: r.Severity, Labels: r.Labels, Notify: r.Notify, Throttle: r.Throttle,
		Enabled: r.Enabled, Source: r.Source, State: string(r.State), CreatedAt: r.CreatedAt.UTC(), UpdatedAt: r.UpdatedAt.UTC(),
	}
	if out.Labels == nil {
		out.Labels = map[string]string{}
	}
	if out.Notify == nil {
		out.Notify = []string{}
	}
	if !r.MutedUntil.IsZero() {
		t := r.MutedUntil.UTC()
		out.MutedUntil = &t
	}
	return out
}

func (s *Server) createRule(c echo.Context) error {
	var req ruleRequest
	if err := decodeStrict(c, &req); err != nil {
		return err
	}
	r, err := req.rule()
	if err != nil {
		return err
	}
	info, err := s.deps.Alerting.CreateRule(c.Request().Context(), r)
	if err != nil {
		return err
	}
	c.Response().Header().Set(echo.HeaderLocation, "/api/v1/alert-rules/"+info.ID)
	return plainJSON(c, http.StatusCreated, toRuleResponse(info))
}

func (s *Server) listRules(c echo.Context) error {
	rules, err := s.deps.Alerting.Rules(c.Request().Context())
	if err != nil {
		return err
	}
	out := make([]ruleResponse, 0, len(rules))
	for _, r := range rules {
		out = append(out, toRuleResponse(r))
	}
	return plainJSON(c, http.StatusOK, map[string]any{"rules": out})
}

func (s *Server) getRule(c echo.Context) error {
	info, err := s.deps.Alerting.Rule(c.Request().Context(), c.Param("id"))
	if err != nil {
		return err
	}
	return plainJSON(c, http.StatusOK, toRuleResponse(info))
}

func (s *Server) updateRule(c echo.Context) error {
	var req ruleRequest
	if err := decodeStrict(c, &req); err != nil {
		return err
	}
	r, err := req.rule()
	if err != nil {
		return err
	}
	info, err := s.deps.Alerting.UpdateRule(c.Request().Context(), c.Param("id"), r)
	if err != nil {
		return err
	}
	return plainJSON(c, http.StatusOK, toRuleResponse(info))
}

func (s *Server) deleteRule(c echo.Context) error {
	if err := s.deps.Alerting.DeleteRule(c.Request().Context(), c.Param("id")); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

// muteRequest is the body of POST /api/v1/alert-rules/{id}/mute: until a
// time (RFC 3339, epoch milliseconds or now+2h), or for a duration.
type muteRequest struct {
	Until string `json:"until"`
	For   string `json:"for"`
}

func (s *Server) muteRule(c echo.Context) error {
	var req muteRequest
	if err := decodeStrict(c, &req); err != nil {
		return err
	}
	now := time.Now()
	var until time.Time
	switch {
	case req.Until != "" && req.For != "":
		return errorf(http.StatusBadRequest, "give until or for, not both")
	case req.Until != "":
		t, err := parseTime("until", req.Until, now)
		if err != nil {
			return err
		}
		until = t
	case req.For != "":
		d, err := duration.Parse(req.For)
		if err != nil || d <= 0 {
			return errorf(http.StatusBadRequest, "for=%q is not a positive duration such as 30m, 2h or 1d", req.For)
		}
		until = now.Add(d)
	default:
		return errorf(http.StatusBadRequest, `give "until" (a time such as 2026-11-26T18:00:00Z or now+2h) or "for" (a duration such as 2h); DELETE the mute to unmute`)
	}
	info, err := s.deps.Alerting.Mute(c.Request().Context(), c.Param("id"), until)
	if err != nil {
		return err
	}
	return plainJSON(c, http.StatusOK, toRuleResponse(info))
}

func (s *Server) unmuteRule(c echo.Context) error {
	info, err := s.deps.Alerting.Mute(c.Request().Context(), c.Param("id"), time.Time{})
	if err != nil {
		return err
	}
	return plainJSON(c, http.StatusOK, toRuleResponse(info))
}

// ---- notifiers ----

// notifierRequest is the body of POST /api/v1/notifiers.
type notifierRequest struct {
	Name     string            `json:"name"`
	Type     string            `json:"type"`
	URL      string            `json:"url"`
	Secret   string            `json:"secret"`
	Timeout  alerting.Duration `json:"timeout"`
	Username string            `json:"username"`
	From     string            `json:"from"`
	To       []string          `json:"to"`
	Cc       []string          `json:"cc"`
	CAFile   string            `json:"ca_file"`
	Subject  string            `json:"subject"`
	Brokers  []string          `json:"brokers"`
	Topic    string            `json:"topic"`
	SASLMech string            `json:"sasl_mechanism"`
	TLS      bool              `json:"tls"`
}

// notifierResponse is a notifier as the API shows it: never its secret.
type notifierResponse struct {
	Name      string            `json:"name"`
	Type      string            `json:"type"`
	URL       string            `json:"url"`
	SecretSet bool              `json:"secret_set"`
	Timeout   alerting.Duration `json:"timeout"`
	Username  string            `json:"username,omitempty"`
	From      string            `json:"from,omitempty"`
	To        []string          `json:"to,omitempty"`
	Cc        []string          `json:"cc,omitempty"`
	CAFile    string            `json:"ca_file,omitempty"`
	Subject   string            `json:"subject,omitempty"`
	Brokers   []string          `json:"brokers,omitempty"`
	Topic     string            `json:"topic,omitempty"`
	SASLMech  string            `json:"sasl_mechanism,omitempty"`
	TLS       bool              `json:"tls,omitempty"`
	Source    string            `json:"source"`
	CreatedAt time.Time         `json:"created_at"`
}

func toNotifierResponse(n alerting.Notifier) notifierResponse {
	return notifierResponse{
		Name: n.Name, Type: n.Type, URL: n.URL, SecretSet: n.SecretSet, Timeout: n.Timeout,
		Username: n.Username, From: n.From, To: n.To, Cc: n.Cc, CAFile: n.CAFile, Subject: n.Subject,
		Brokers: n.Brokers, Topic: n.Topic, SASLMech: n.SASLMechanism, TLS: n.TLS,
		Source: n.Source, CreatedAt: n.CreatedAt.UTC(),
	}
}

func (s *Server) createNotifier(c echo.Context) error {
	var req notifierRequest
	if err := decodeStrict(c, &req); err != nil {
		return err
	}
	n, err := s.deps.Alerting.CreateNotifier(c.Request().Context(), alerting.Notifier{
		Name: req.Name, Type: req.Type, URL: req.URL, Secret: req.Secret, Timeout: req.Timeout,
		Username: req.Username, From: req.From, To: req.To, Cc: req.Cc, CAFile: req.CAFile, Subject: req.Subject,
		Brokers: req.Brokers, Topic: req.Topic, SASLMechanism: req.SASLMech, TLS: req.TLS,
	})
	if err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, toNotifierResponse(n))
}

func (s *Server) listNotifiers(c echo.Context) error {
	ns, err := s.deps.Alerting.Notifiers(c.Request().Context())
	if err != nil {
		return err
	}
	out := make([]notifierResponse, 0, len(ns))
	for _, n := range ns {
		out = append(out, toNotifierResponse(n))
	}
	return c.JSON(http.StatusOK, map[string]any{"notifiers": out})
}

func (s *Server) deleteNotifier(c echo.Context) error {
	if err := s.deps.Alerting.DeleteNotifier(c.Request().Context(), c.Param("name")); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

// ---- alerts ----

type alertResponse struct {
	RuleID     string            `json:"rule_id"`
	RuleName   string            `json:"rule_name"`
	State      string            `json:"state"`
	Value      float64           `json:"value"`
	Since      time.Time         `json:"since"`
	Labels     map[string]string `json:"labels"`
	Severity   string            `json:"severity"`
	ActiveAt   *time.Time        `json:"active_at,omitempty"`
	FiredAt    *time.Time        `json:"fired_at,omitempty"`
	MutedUntil *time.Time        `json:"muted_until,omitempty"`
	Error      string            `json:"error,omitempty"`
}

func optTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	u := t.UTC()
	return &u
}

// listAlerts answers GET /api/v1/alerts?state=firing: the alert of every
// rule in the given states (comma-separated, or all); without state, those
// pending, firing or resolved.
func (s *Server) listAlerts(c echo.Context) error {
	states := []alerting.StateName{alerting.StatePending, alerting.StateFiring, alerting.StateResolved}
	if v := c.QueryParam("state"); v == "all" {
		states = nil
	} else if v != "" {
		states = states[:0:0]
		for _, p := range strings.Split(v, ",") {
			st, ok := alerting.ParseState(strings.TrimSpace(p))
			if !ok {
				return errorf(http.StatusBadRequest, "state=%q: use inactive, pending, firing, resolved or all (comma-separated for several)", p)
			}
			states = append(states, st)
		}
	}
	alerts, err := s.deps.Alerting.Alerts(c.Request().Context(), states)
	if err != nil {
		return err
	}
	out := make([]alertResponse, 0, len(alerts))
	for _, a := range alerts {
		labels := a.Labels
		if labels == nil {
			labels = map[string]string{}
		}
		out = append(out, alertResponse{
			RuleID: a.RuleID, RuleName: a.RuleName, State: string(a.State), Value: a.Value, Since: a.Since.UTC(),
			Labels: labels, Severity: a.Severity, ActiveAt: optTime(a.ActiveAt), FiredAt: optTime(a.FiredAt),
			MutedUntil: optTime(a.MutedUntil), Error: a.LastError,
		})
	}
	return plainJSON(c, http.StatusOK, map[string]any{"alerts": out})
}

type eventResponse struct {
	RuleID   string    `json:"rule_id"`
	RuleName string    `json:"rule_name"`
	From     string    `json:"from"`
	To       string    `json:"to"`
	Value    float64   `json:"value"`
	At       time.Time `json:"at"`
	Notifier string    `json:"notifier,omitempty"`
	Error    string    `json:"error,omitempty"`
}

// alertHistory answers GET /api/v1/alerts/history?rule=&from=&to=&limit=:
// every state change (and failed delivery), oldest first.
func (s *Server) alertHistory(c echo.Context) error {
	q := alerting.HistoryQuery{Rule: c.QueryParam("rule")}
	var err error
	if q.From, q.To, err = timeRange(c.QueryParam("from"), c.QueryParam("to"), time.Now()); err != nil {
		return err
	}
	if v := c.QueryParam("limit"); v != "" {
		if q.Limit, err = intParam("limit", v); err != nil {
			return err
		}
		if q.Limit < 1 || q.Limit > alerting.MaxHistoryLimit {
			return errorf(http.StatusBadRequest, "limit=%d: use 1 to %d and page with from", q.Limit, alerting.MaxHistoryLimit)
		}
	}
	evs, err := s.deps.Alerting.History(c.Request().Context(), q)
	if err != nil {
		return err
	}
	out := make([]eventResponse, 0, len(evs))
	for _, ev := range evs {
		out = append(out, eventResponse{
			RuleID: ev.RuleID, RuleName: ev.RuleName, From: string(ev.From), To: string(ev.To), Value: ev.Value,
			At: ev.At.UTC(), Notifier: ev.Notifier, Error: ev.Error,
		})
	}
	return plainJSON(c, http.StatusOK, map[string]any{"events": out})
}
