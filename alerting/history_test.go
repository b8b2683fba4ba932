package alerting

import (
	"context"
	"testing"
	"time"
)

func TestHistoryQuery(t *testing.T) {
	e := newEnv(t, Options{})
	e.notifier("ops", TypeWebhook, "http://127.0.0.1:9/hook", "")
	a := e.rule(windowed(time.Minute, OpGreater, 0, 0))
	r := windowed(time.Minute, OpGreater, 0, 0)
	r.Name, r.Query = "b", "source:b"
	b := e.rule(r)
	logs(1)(e, a)             // a fires at t0
	wait(2*time.Minute)(e, a) // a resolves at t0+2m
	e.log(9, "b", "x", 0)     // b fires at t0+2m
	e.drain()
	wait(2*time.Minute)(e, b) // b resolves at t0+4m

	all, err := e.m.History(context.Background(), HistoryQuery{})
	if err != nil || len(all) != 4 {
		t.Fatalf("all history: %v %+v", err, all)
	}
	for i := 1; i < len(all); i++ {
		if all[i].At.Before(all[i-1].At) {
			t.Errorf("history out of order: %+v", all)
		}
	}
	byName, _ := e.m.History(context.Background(), HistoryQuery{Rule: "b"})
	byID, _ := e.m.History(context.Background(), HistoryQuery{Rule: b})
	if len(byName) != 2 || len(byID) != 2 || byID[0].RuleName != "b" {
		t.Errorf("by rule: %+v / %+v", byName, byID)
	}
	ranged, _ := e.m.History(context.Background(), HistoryQuery{From: t0.Add(time.Minute), To: t0.Add(4 * time.Minute)})
	if len(ranged) != 2 || ranged[0].RuleID != a || ranged[0].To != StateResolved || ranged[1].RuleID != b {
		t.Errorf("from t0+1m to t0+4m: %+v", ranged)
	}
	limited, _ := e.m.History(context.Background(), HistoryQuery{Limit: 1})
	if len(limited) != 1 || limited[0].To != StateFiring {
		t.Errorf("limit 1: %+v", limited)
	}
}

func TestHistoryPruned(t *testing.T) {
	e := newEnv(t, Options{HistoryRetention: 24 * time.Hour})
	e.notifier("ops", TypeWebhook, "http://127.0.0.1:9/hook", "")
	id := e.rule(windowed(time.Minute, OpGreater, 0, 0))
	logs(1)(e, id)
	wait(2*time.Minute)(e, id)
	wait(25*time.Hour)(e, id)
	logs(1)(e, id)
	if got := e.history(id); got != "resolved>firing" {
		t.Errorf("history after a day: %q", got)
	}
}
