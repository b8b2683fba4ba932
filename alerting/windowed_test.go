package alerting

import (
	"testing"
	"time"

	"github.com/logengine/logengine/storage"
)

// TestWindowedInACluster checks the ways rules with a window are evaluated
// on a node of a cluster: the evaluating node decides on the periodic
// counts only (its ingest path sees its own logs), the others never, and
// a rule with a window of zero fires on ingest everywhere.
func TestWindowedInACluster(t *testing.T) {
	perLog := Rule{Name: "every error", Query: "level:error", Notify: []string{"ops"}, Enabled: true}
	for _, tc := range []struct {
		name                  string
		windowed              Windowed
		afterIngest, afterRun StateName
		notes                 string
	}{
		{"one node", WindowedHere, StateFiring, StateFiring, "ops:firing:3"},
		{"the evaluating node", WindowedPeriodic, StateInactive, StateFiring, "ops:firing:3"},
		{"another node", WindowedElsewhere, StateInactive, StateInactive, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, Options{Windowed: tc.windowed})
			e.notifier("ops", TypeWebhook, "http://127.0.0.1:9/hook", "")
			id := e.rule(windowed(5*time.Minute, OpGreater, 2, 0))
			e.logs(3, storage.LevelError, "api", "boom")
			e.drain()
			if got := e.state(id).State; got != tc.afterIngest {
				t.Fatalf("after ingest: %s, want %s", got, tc.afterIngest)
			}
			e.evaluate()
			if got := e.state(id).State; got != tc.afterRun {
				t.Fatalf("after the periodic evaluation: %s, want %s", got, tc.afterRun)
			}
			if got := e.notes(); got != tc.notes {
				t.Fatalf("notifications %q, want %q", got, tc.notes)
			}
			e.clearOutbox()
			pid := e.rule(perLog)
			e.logs(1, storage.LevelError, "web", "one more")
			e.drain()
			if got := e.state(pid).State; got != StateFiring {
				t.Fatalf("the rule of every log: %s, want firing on ingest", got)
			}
		})
	}
}
