package tests

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestClusterAlerting runs one rules file on two nodes of a cluster, one
// of them evaluating the rules with a window: a count over both nodes'
// logs fires once, from the evaluating node, however many logs the other
// holds; a rule with a window of zero fires on the node storing the log.
func TestClusterAlerting(t *testing.T) {
	hook := newHookReceiver(t, "hook-secret", true)
	dir := t.TempDir()
	rules := fmt.Sprintf(`notifiers:
  - {name: ops, type: webhook, url: %q, secret: hook-secret}
rules:
  - name: cluster errors
    query: alarmword
    window: 1h
    condition: {op: ">", threshold: 3}
    notify: [ops]
  - name: every one
    query: perlogword
    window: 0s
    notify: [ops]
`, hook.srv.URL+"/hook")
	rulesFile := filepath.Join(dir, "rules.yaml")
	if err := os.WriteFile(rulesFile, []byte(rules), 0o600); err != nil {
		t.Fatal(err)
	}
	addrs := []string{freePort(t), freePort(t)}
	common := []string{"--peer-key", clusterPeerKey, "--peer", "http://" + addrs[0], "--peer", "http://" + addrs[1],
		"--alerting-eval-interval", "1s", "--alerting-rules-file", rulesFile}
	evaluator := startDaemon(t, filepath.Join(dir, "a"), append([]string{"--listen", addrs[0]}, common...)...)
	other := startDaemon(t, filepath.Join(dir, "b"), append([]string{"--listen", addrs[1], "--alerting-evaluate=false"}, common...)...)

	lines := func(word string, n int) string {
		var b strings.Builder
		for i := range n {
			fmt.Fprintf(&b, "{\"message\":\"%s %d\"}\n", word, i)
		}
		return b.String()
	}
	// Two logs on each node: neither holds more than 3, the cluster does.
	for _, d := range []*daemon{evaluator, other} {
		if code, a := d.ingest("application/x-ndjson", lines("alarmword", 2), ""); code != 200 || a.Accepted != 2 {
			t.Fatalf("ingest: %d %+v", code, a)
		}
	}
	got := hook.waitAccepted(evaluator, 1, 30*time.Second)
	if b := got[0].body; b.Rule.Name != "cluster errors" || b.State != "firing" || b.Value != 4 {
		t.Fatalf("first notification %+v, want cluster errors firing at 4", b)
	}
	// Enough on the other node alone to fire there, were it evaluating
	// its own windows; and a log for the rule of every log.
	if code, _ := other.ingest("application/x-ndjson", lines("alarmword", 3)+lines("perlogword", 1), ""); code != 200 {
		t.Fatalf("ingest: %d", code)
	}
	got = hook.waitAccepted(other, 2, 30*time.Second)
	if b := got[1].body; b.Rule.Name != "every one" || b.State != "firing" || len(b.Sample) != 1 || b.Sample[0].Message != "perlogword 0" {
		t.Fatalf("second notification %+v, want every one firing with its log", b)
	}
	// Some evaluation rounds later, nothing was sent twice.
	time.Sleep(4 * time.Second)
	_, got = hook.snapshot()
	if len(got) != 2 {
		var names []string
		for _, d := range got {
			names = append(names, d.body.Rule.Name+" "+d.body.State)
		}
		t.Fatalf("notifications %v, want one of each rule", names)
	}
}
