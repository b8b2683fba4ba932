package alerting

import (
	"context"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/logengine/logengine/search"
	"github.com/logengine/logengine/storage"
)

// step is one action of a scenario and what must follow: the state of the
// rule's alert and the notifications queued by the action
// ("notifier:state:value", space-separated), which are then cleared as if
// delivered.
type step struct {
	name  string
	do    func(e *env, id string)
	state StateName
	notes string
}

func logs(n int) func(e *env, id string) {
	return func(e *env, _ string) { e.logs(n, storage.LevelError, "api", "upstream timeout"); e.drain() }
}

func other(n int) func(e *env, id string) {
	return func(e *env, _ string) { e.logs(n, storage.LevelInfo, "api", "all fine"); e.drain() }
}

func wait(d time.Duration) func(e *env, id string) {
	return func(e *env, _ string) { e.clock.Add(d); e.evaluate() }
}

func evaluate(e *env, _ string) { e.evaluate() }

func mute(d time.Duration) func(e *env, id string) {
	return func(e *env, id string) {
		if _, err := e.m.Mute(context.Background(), id, e.clock.Now().Add(d)); err != nil {
			e.t.Fatal(err)
		}
	}
}

func update(change func(r *Rule)) func(e *env, id string) {
	return func(e *env, id string) {
		info, err := e.m.Rule(context.Background(), id)
		if err != nil {
			e.t.Fatal(err)
		}
		r := info.Rule
		change(&r)
		if _, err := e.m.UpdateRule(context.Background(), id, r); err != nil {
			e.t.Fatal(err)
		}
		e.drain()
	}
}

func windowed(window time.Duration, op Op, threshold float64, forDur time.Duration) Rule {
	return Rule{
		Name: "api errors", Query: "level:error source:api", Window: Duration(window),
		Condition: Condition{Op: op, Threshold: threshold}, For: Duration(forDur),
		Notify: []string{"ops"}, Enabled: true,
	}
}

// TestScenarios drives rules through every transition, on the ingest path
// and the periodic one, with a fake clock.
func TestScenarios(t *testing.T) {
	perLog := Rule{Name: "every error", Query: "level:error", Throttle: Duration(time.Minute), Notify: []string{"ops"}, Enabled: true}
	flappy := windowed(time.Minute, OpGreater, 0, 0)
	flappy.Throttle = Duration(10 * time.Minute)
	cases := []struct {
		name    string
		rule    Rule
		steps   []step
		history string
	}{{
		name: "fires on ingest, resolves on schedule",
		rule: windowed(5*time.Minute, OpGreater, 2, 0),
		steps: []step{
			{"two errors", logs(2), StateInactive, ""},
			{"other logs do not count", other(5), StateInactive, ""},
			{"the third fires at once", logs(1), StateFiring, "ops:firing:3"},
			{"more keep it firing", logs(4), StateFiring, ""},
			{"still in the window", wait(time.Minute), StateFiring, ""},
			{"quiet logs on ingest never resolve", other(1), StateFiring, ""},
			{"the window has passed", wait(5 * time.Minute), StateResolved, "ops:resolved:0"},
			{"stays resolved", wait(time.Minute), StateResolved, ""},
			{"fires again", logs(3), StateFiring, "ops:firing:3"},
		},
		history: "inactive>firing firing>resolved resolved>firing",
	}, {
		name: "pending until for has elapsed",
		rule: windowed(5*time.Minute, OpGreaterEqual, 3, time.Minute),
		steps: []step{
			{"condition holds", logs(3), StatePending, ""},
			{"half of for", wait(30 * time.Second), StatePending, ""},
			{"for elapsed", wait(30 * time.Second), StateFiring, "ops:firing:3"},
		},
		history: "inactive>pending pending>firing",
	}, {
		name: "pending falls back to inactive",
		rule: windowed(2*time.Minute, OpGreater, 2, 5*time.Minute),
		steps: []step{
			{"condition holds", logs(3), StatePending, ""},
			{"the window passes before for", wait(3 * time.Minute), StateInactive, ""},
			{"pending again", logs(3), StatePending, ""},
		},
		history: "inactive>pending pending>inactive inactive>pending",
	}, {
		name: "pending fires on ingest once for has elapsed",
		rule: windowed(10*time.Minute, OpGreater, 2, time.Minute),
		steps: []step{
			{"condition holds", logs(3), StatePending, ""},
			{"a minute on, no evaluation", func(e *env, _ string) { e.clock.Add(time.Minute) }, StatePending, ""},
			{"the next error fires", logs(1), StateFiring, "ops:firing:4"},
		},
		history: "inactive>pending pending>firing",
	}, {
		name: "fewer than N: a silent source fires, a log resolves it",
		rule: windowed(10*time.Minute, OpLess, 1, 0),
		steps: []step{
			{"nothing logged", evaluate, StateFiring, "ops:firing:0"},
			{"a log arrives", logs(1), StateResolved, "ops:resolved:1"},
			{"silent again", wait(11 * time.Minute), StateFiring, "ops:firing:0"},
		},
		history: "inactive>firing firing>resolved resolved>firing",
	}, {
		name: "equality is decided on schedule only",
		rule: windowed(5*time.Minute, OpEqual, 3, 0),
		steps: []step{
			{"three errors", logs(3), StateInactive, ""},
			{"evaluated", evaluate, StateFiring, "ops:firing:3"},
			{"a fourth", logs(1), StateFiring, ""},
			{"evaluated", evaluate, StateResolved, "ops:resolved:4"},
		},
		history: "inactive>firing firing>resolved",
	}, {
		name: "window 0 fires per log, throttled",
		rule: perLog,
		steps: []step{
			{"two errors", logs(2), StateFiring, "ops:firing:2"},
			{"three more within the throttle", logs(3), StateFiring, ""},
			{"held ones sent after the throttle", wait(time.Minute), StateFiring, "ops:firing:3"},
			{"one more within the throttle", func(e *env, id string) { e.clock.Add(10 * time.Second); logs(1)(e, id) }, StateFiring, ""},
			{"quiet: held one sent first", wait(time.Minute), StateFiring, "ops:firing:1"},
			{"quiet for the throttle: resolved", wait(time.Minute), StateResolved, "ops:resolved:0"},
			{"fires again", logs(1), StateFiring, "ops:firing:1"},
		},
		history: "inactive>firing firing>resolved resolved>firing",
	}, {
		name: "mute holds notifications back, evaluation goes on",
		rule: windowed(5*time.Minute, OpGreater, 2, 0),
		steps: []step{
			{"muted for 10m", mute(10 * time.Minute), StateInactive, ""},
			{"fires silently", logs(3), StateFiring, ""},
			{"still muted", wait(6 * time.Minute), StateResolved, ""},
			{"fires again silently", logs(3), StateFiring, ""},
			{"mute ends: told once", wait(6 * time.Minute), StateResolved, ""},
			{"fires, told", logs(3), StateFiring, "ops:firing:3"},
			{"muted while firing", mute(time.Hour), StateFiring, ""},
			{"resolves while muted", wait(6 * time.Minute), StateResolved, ""},
			{"unmuted: the resolution is sent", mute(-time.Second), StateResolved, "ops:resolved:0"},
		},
		history: "inactive>firing firing>resolved resolved>firing firing>resolved resolved>firing firing>resolved",
	}, {
		name: "mute ending while firing sends the firing",
		rule: windowed(30*time.Minute, OpGreater, 2, 0),
		steps: []step{
			{"muted for 10m", mute(10 * time.Minute), StateInactive, ""},
			{"fires silently", logs(3), StateFiring, ""},
			{"mute over", wait(11 * time.Minute), StateFiring, "ops:firing:3"},
		},
		history: "inactive>firing",
	}, {
		name: "throttle keeps a flapping alert quiet",
		rule: flappy,
		steps: []step{
			{"fires", logs(1), StateFiring, "ops:firing:1"},
			{"resolves", wait(2 * time.Minute), StateResolved, "ops:resolved:0"},
			{"fires within the throttle: quiet", logs(1), StateFiring, ""},
			{"resolves: nothing to tell", wait(2 * time.Minute), StateResolved, ""},
			{"after the throttle", func(e *env, id string) { e.clock.Add(10 * time.Minute); logs(1)(e, id) }, StateFiring, "ops:firing:1"},
		},
		history: "inactive>firing firing>resolved resolved>firing firing>resolved resolved>firing",
	}, {
		name: "disabling resolves, enabling evaluates again",
		rule: windowed(5*time.Minute, OpGreater, 2, 0),
		steps: []step{
			{"fires", logs(3), StateFiring, "ops:firing:3"},
			{"disabled", update(func(r *Rule) { r.Enabled = false }), StateResolved, "ops:resolved:3"},
			{"not evaluated", logs(3), StateResolved, ""},
			{"nor on schedule", evaluate, StateResolved, ""},
			{"enabled: the seeded window fires at once", update(func(r *Rule) { r.Enabled = true }), StateFiring, "ops:firing:6"},
			{"evaluated", evaluate, StateFiring, ""},
		},
		history: "inactive>firing firing>resolved resolved>firing",
	}, {
		name: "a changed threshold applies at the next evaluation",
		rule: windowed(5*time.Minute, OpGreater, 2, 0),
		steps: []step{
			{"fires", logs(3), StateFiring, "ops:firing:3"},
			{"threshold raised", update(func(r *Rule) { r.Condition.Threshold = 10 }), StateFiring, ""},
			{"evaluated", evaluate, StateResolved, "ops:resolved:3"},
		},
		history: "inactive>firing firing>resolved",
	}}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := newEnv(t, Options{})
			e.notifier("ops", TypeWebhook, "http://127.0.0.1:9/hook", "")
			id := e.rule(c.rule)
			for i, s := range c.steps {
				s.do(e, id)
				if got := e.state(id).State; got != s.state {
					t.Fatalf("step %d (%s): state %s, want %s", i+1, s.name, got, s.state)
				}
				if got := e.notes(); got != s.notes {
					t.Fatalf("step %d (%s): notifications %q, want %q", i+1, s.name, got, s.notes)
				}
				e.clearOutbox()
			}
			if got := e.history(id); got != c.history {
				t.Errorf("history %q, want %q", got, c.history)
			}
		})
	}
}

func TestDeleteFiringRuleResolvesForReceivers(t *testing.T) {
	e := newEnv(t, Options{})
	e.notifier("ops", TypeWebhook, "http://127.0.0.1:9/hook", "")
	id := e.rule(windowed(5*time.Minute, OpGreater, 2, 0))
	logs(3)(e, id)
	e.clearOutbox()
	if err := e.m.DeleteRule(context.Background(), id); err != nil {
		t.Fatal(err)
	}
	if got := e.notes(); got != "ops:resolved:3" {
		t.Errorf("notifications %q, want the resolution", got)
	}
	if got := e.history(id); got != "inactive>firing firing>resolved" {
		t.Errorf("history of the deleted rule: %q", got)
	}
}

func TestNotificationContent(t *testing.T) {
	e := newEnv(t, Options{})
	e.notifier("ops", TypeWebhook, "http://127.0.0.1:9/hook", "")
	e.notifier("perlog", TypeWebhook, "http://127.0.0.1:9/hook2", "")
	r := windowed(5*time.Minute, OpGreater, 2, 0)
	r.Labels = map[string]string{"team": "payments"}
	id := e.rule(r)
	e.rule(Rule{Name: "every error", Query: "level:error", Notify: []string{"perlog"}, Enabled: true})
	logs(7)(e, id)
	items := e.outbox()
	if len(items) != 2 {
		t.Fatalf("%d items, want 2", len(items))
	}
	for _, it := range items {
		n := it.Note
		if len(n.Sample) != MaxSample {
			t.Errorf("%s: %d samples, want %d", it.Notifier, len(n.Sample), MaxSample)
		}
		if !n.StartedAt.Equal(t0) || n.State != StateFiring || n.Value != 7 {
			t.Errorf("%s: note %+v", it.Notifier, n)
		}
		// Newest (highest numbered) first for the windowed rule's search;
		// the last five in arrival order for the per-log rule.
		first, last := n.Sample[0].Message, n.Sample[MaxSample-1].Message
		switch it.Notifier {
		case "ops":
			if first != "upstream timeout 6" || n.Rule.Labels["team"] != "payments" {
				t.Errorf("ops: first sample %q, rule %+v", first, n.Rule)
			}
		case "perlog":
			if first != "upstream timeout 2" || last != "upstream timeout 6" {
				t.Errorf("perlog: samples %q..%q", first, last)
			}
		}
		body, err := webhookPayload(&it)
		if err != nil {
			t.Fatal(err)
		}
		for _, want := range []string{`"rule":{"id":"`, `"state":"firing"`, `"value":7`, `"started_at":"2026-11-26T10:00:00Z"`, `"sample":[{"id":"`, `"delivery_id":"` + it.ID + `"`} {
			if !strings.Contains(string(body), want) {
				t.Errorf("%s: body lacks %s:\n%s", it.Notifier, want, body)
			}
		}
	}
}

// TestAlertmanagerResend re-sends a firing alert to Alertmanager on
// schedule, never to webhooks, and not while muted.
func TestAlertmanagerResend(t *testing.T) {
	e := newEnv(t, Options{ResendInterval: time.Minute, EvalInterval: time.Minute})
	e.notifier("ops", TypeWebhook, "http://127.0.0.1:9/hook", "")
	e.notifier("am", TypeAlertmanager, "http://127.0.0.1:9", "")
	r := windowed(time.Hour, OpGreater, 2, 0)
	r.Notify = []string{"ops", "am"}
	id := e.rule(r)
	logs(3)(e, id)
	if got := e.notes(); got != "am:firing:3 ops:firing:3" {
		t.Fatalf("notifications %q", got)
	}
	e.clearOutbox()
	wait(30*time.Second)(e, id)
	if got := e.notes(); got != "" {
		t.Fatalf("resent too early: %q", got)
	}
	wait(30*time.Second)(e, id)
	items := e.outbox()
	if len(items) != 1 || items[0].Notifier != "am" || !items[0].Note.Resend || items[0].Expires.IsZero() {
		t.Fatalf("resend: %+v", items)
	}
	body, err := e.m.alertmanagerPayload(&items[0], e.clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	if want := `"endsAt":"` + e.clock.Now().Add(4*time.Minute).Format(time.RFC3339) + `"`; !strings.Contains(string(body), want) {
		t.Errorf("resend body lacks %s:\n%s", want, body)
	}
	e.clearOutbox()
	mute(time.Hour)(e, id)
	wait(2*time.Minute)(e, id)
	if got := e.notes(); got != "" {
		t.Errorf("resent while muted: %q", got)
	}
}

// TestPrefilterMatchesSearchMatch: the evaluator's shortcuts decide exactly
// what search.Match decides.
func TestPrefilterMatchesSearchMatch(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	entries := benchEntries(rng, 3000, t0)
	queries := []string{
		"", "*", "timeout", "timeout level>=warn", `"connection reset" source:svc-3`, "-source:svc-1 declined",
		"time* source:svc-2", "status>=500 host:web-7", "(level:error OR level:fatal) tag:prod source:svc-4",
		"declined -tag:test source:svc-5", "source:svc-1 OR source:svc-2", "NOT timeout", "message:*", "tag:*",
		"user logged", `"user 5" OR cache`, "host:web-1*",
	}
	for _, q := range queries {
		r := Rule{Name: "x", Query: q, Window: Duration(time.Minute), Condition: Condition{Op: OpGreater}}
		node, err := r.normalize()
		if err != nil {
			t.Fatal(err)
		}
		lr := compileLive(&r, node)
		for i := range entries {
			e := &entries[i]
			tok := entryTokens{e: e}
			if got, want := lr.match(e, &tok), search.Match(node, e); got != want {
				t.Fatalf("query %q on %+v: prefilter %v, search.Match %v", q, e, got, want)
			}
			if lr.source != "" && e.Source != lr.source && search.Match(node, e) {
				t.Fatalf("query %q matches source %s but is filed under %s", q, e.Source, lr.source)
			}
		}
	}
}

// TestHandedOverOrRead: entries handed over by the ingest path and entries
// only in storage are evaluated alike, each once.
func TestHandedOverOrRead(t *testing.T) {
	e := newEnv(t, Options{})
	e.notifier("ops", TypeWebhook, "http://127.0.0.1:9/hook", "")
	id := e.rule(windowed(time.Hour, OpGreater, 9, 0))
	direct := make([]storage.Entry, 5)
	for i := range direct {
		direct[i] = storage.Entry{Time: t0, Level: storage.LevelError, Source: "api", Message: "direct"}
	}
	if _, err := e.store.Append(context.Background(), direct); err != nil {
		t.Fatal(err)
	}
	e.logs(5, storage.LevelError, "api", "handed over")
	if got := e.m.recent.Held(); got != 5 {
		t.Fatalf("%d entries held after handing over 5", got)
	}
	e.drain()
	if s := e.state(id); s.State != StateFiring || s.Value != 10 {
		t.Fatalf("state %+v, want firing with 10", s)
	}
	if got := e.m.recent.Held(); got != 0 {
		t.Fatalf("%d evaluated entries still held", got)
	}
}
