package alerting

import (
	"context"
	"testing"
	"time"
)

// TestRestartContinuesAlerts: after a restart, clean or not, a pending alert
// fires when its for has elapsed since it became pending, and a firing
// alert goes on firing without telling receivers again.
func TestRestartContinuesAlerts(t *testing.T) {
	for _, clean := range []bool{true, false} {
		name := map[bool]string{true: "clean stop", false: "kill"}[clean]
		t.Run(name, func(t *testing.T) {
			e := newEnv(t, Options{})
			e.notifier("ops", TypeWebhook, "http://127.0.0.1:9/hook", "secret-1")
			pending := windowed(time.Hour, OpGreater, 2, 2*time.Minute)
			pending.Name = "pending"
			pid := e.rule(pending)
			firing := windowed(time.Hour, OpGreater, 2, 0)
			firing.Name = "firing"
			fid := e.rule(firing)
			logs(3)(e, pid)
			if e.state(pid).State != StatePending || e.state(fid).State != StateFiring {
				t.Fatalf("before: %s, %s", e.state(pid).State, e.state(fid).State)
			}
			queued := e.outbox()
			if len(queued) != 1 {
				t.Fatalf("queued %d, want 1", len(queued))
			}

			e.clock.Add(time.Minute)
			e.reopen(clean)

			if s := e.state(pid); s.State != StatePending || !s.ActiveAt.Equal(t0) {
				t.Fatalf("after restart the pending alert is %s since %v", s.State, s.ActiveAt)
			}
			if s := e.state(fid); s.State != StateFiring || s.Notified != StateFiring || !s.FiredAt.Equal(t0) {
				t.Fatalf("after restart the firing alert is %+v", s)
			}
			after := e.outbox()
			if len(after) != 1 || after[0].ID != queued[0].ID {
				t.Fatalf("outbox after restart %+v, want the same item %s", after, queued[0].ID)
			}
			e.clearOutbox()
			// Counts continue: the stored logs seed the windows.
			e.clock.Add(time.Minute)
			e.evaluate()
			if s := e.state(pid); s.State != StateFiring || s.Value != 3 {
				t.Errorf("pending did not fire 2m after it became pending: %+v", s)
			}
			if got := e.notes(); got != "ops:firing:3" {
				t.Errorf("notifications %q, want only the newly fired one", got)
			}
			if !e.m.HasSecret("ops") {
				t.Error("the notifier's secret was lost")
			}
			if got := e.history(fid); got != "inactive>firing" {
				t.Errorf("history of the firing rule: %q", got)
			}
		})
	}
}

// TestKillReplaysWithoutDoubleCounting: logs evaluated but not checkpointed
// before a kill are evaluated again; the windows do not count them twice.
func TestKillReplaysWithoutDoubleCounting(t *testing.T) {
	e := newEnv(t, Options{})
	e.notifier("ops", TypeWebhook, "http://127.0.0.1:9/hook", "")
	id := e.rule(windowed(time.Hour, OpGreater, 4, 0))
	logs(3)(e, id) // nothing to commit: the checkpoint stays behind
	e.reopen(false)
	e.drain()
	logs(1)(e, id)
	if s := e.state(id); s.State != StateInactive {
		t.Fatalf("4 logs counted as more: %+v", s)
	}
	logs(1)(e, id)
	if s := e.state(id); s.State != StateFiring || s.Value != 5 {
		t.Fatalf("5 logs: %+v", s)
	}
}

// TestKillKeepsThrottledMatches: matching logs held back by the throttle
// are not lost by a kill (the journal replays them) nor doubled by a clean
// stop (the checkpoint is saved with them).
func TestKillKeepsThrottledMatches(t *testing.T) {
	for _, clean := range []bool{true, false} {
		name := map[bool]string{true: "clean stop", false: "kill"}[clean]
		t.Run(name, func(t *testing.T) {
			e := newEnv(t, Options{})
			e.notifier("ops", TypeWebhook, "http://127.0.0.1:9/hook", "")
			id := e.rule(Rule{Name: "every error", Query: "level:error", Throttle: Duration(time.Minute), Notify: []string{"ops"}, Enabled: true})
			logs(1)(e, id)
			if got := e.notes(); got != "ops:firing:1" {
				t.Fatalf("first: %q", got)
			}
			e.clearOutbox()
			logs(2)(e, id)
			e.reopen(clean)
			e.drain()
			e.clock.Add(time.Minute)
			e.evaluate()
			if got := e.notes(); got != "ops:firing:2" {
				t.Errorf("after restart: %q, want the 2 held back", got)
			}
		})
	}
}

func TestRulesAndMutePersist(t *testing.T) {
	e := newEnv(t, Options{})
	e.notifier("ops", TypeWebhook, "http://127.0.0.1:9/hook", "s3cret")
	r := validRule()
	id := e.rule(r)
	until := t0.Add(time.Hour)
	if _, err := e.m.Mute(context.Background(), id, until); err != nil {
		t.Fatal(err)
	}
	e.reopen(false)
	info, err := e.m.Rule(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	if info.Name != r.Name || info.Query != r.Query || info.Window != r.Window || info.Condition != r.Condition ||
		info.Labels["team"] != "payments" || !info.MutedUntil.Equal(until) || info.State != StateInactive {
		t.Errorf("after reopen: %+v", info)
	}
	ns, err := e.m.Notifiers(context.Background())
	if err != nil || len(ns) != 1 || ns[0].Secret != "" || ns[0].URL != "http://127.0.0.1:9/hook" {
		t.Errorf("notifiers after reopen: %+v %v", ns, err)
	}
}

func TestAlertsList(t *testing.T) {
	e := newEnv(t, Options{})
	e.notifier("ops", TypeWebhook, "http://127.0.0.1:9/hook", "")
	r := windowed(time.Hour, OpGreater, 2, 0)
	r.Labels = map[string]string{"team": "payments"}
	id := e.rule(r)
	quiet := windowed(time.Hour, OpGreater, 2, 0)
	quiet.Name, quiet.Query = "quiet", "source:nothing"
	e.rule(quiet)
	logs(3)(e, id)
	firing, _ := e.m.Alerts(context.Background(), []StateName{StateFiring})
	if len(firing) != 1 || firing[0].RuleID != id || firing[0].Value != 3 || !firing[0].Since.Equal(t0) || firing[0].Labels["team"] != "payments" {
		t.Errorf("firing alerts: %+v", firing)
	}
	all, _ := e.m.Alerts(context.Background(), nil)
	if len(all) != 2 {
		t.Errorf("all alerts: %+v", all)
	}
	st := e.m.Stats()
	if st.Rules != 2 || st.Firing != 1 || st.Transitions != 1 || st.Queued != 1 {
		t.Errorf("stats %+v", st)
	}
}
