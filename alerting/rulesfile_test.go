package alerting

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestExampleRulesFile(t *testing.T) {
	t.Setenv("OPS_WEBHOOK_SECRET", "from-the-environment")
	e := newEnv(t, Options{RulesFile: filepath.Join("..", "data", "alert-rules.example.yaml")})
	rules, err := e.m.Rules(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, r := range rules {
		names = append(names, r.ID+"="+r.Name)
		if r.Source != SourceFile {
			t.Errorf("rule %s has source %s", r.Name, r.Source)
		}
	}
	if got := strings.Join(names, ","); got != "api-errors=api errors,backup-silent=backup silent,disk-almost-full=disk almost full,fatal=fatal" {
		t.Errorf("rules: %s", got)
	}
	api, _ := e.m.Rule(context.Background(), "api-errors")
	if api.Window != Duration(5*time.Minute) || api.Condition != (Condition{OpGreater, 10}) || api.Labels["team"] != "payments" || len(api.Notify) != 2 || !api.Enabled {
		t.Errorf("api errors: %+v", api.Rule)
	}
	disk, _ := e.m.Rule(context.Background(), "disk-almost-full")
	if disk.Enabled {
		t.Error("a disabled rule is enabled")
	}
	if !e.m.HasSecret("ops-webhook") {
		t.Error("secret_env not read")
	}
	// Read-only through the API, but mutable by muting.
	if _, err := e.m.UpdateRule(context.Background(), "fatal", api.Rule); !errors.Is(err, ErrConflict) {
		t.Errorf("update a file rule: %v", err)
	}
	if err := e.m.DeleteRule(context.Background(), "fatal"); !errors.Is(err, ErrConflict) {
		t.Errorf("delete a file rule: %v", err)
	}
	if err := e.m.DeleteNotifier(context.Background(), "alertmanager"); !errors.Is(err, ErrConflict) {
		t.Errorf("delete a file notifier: %v", err)
	}
	if _, err := e.m.Mute(context.Background(), "fatal", t0.Add(time.Hour)); err != nil {
		t.Errorf("mute a file rule: %v", err)
	}
}

func TestRulesFileChanges(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "rules.yaml")
	write := func(s string) {
		if err := os.WriteFile(path, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write(`
notifiers:
  - {name: ops, type: webhook, url: "http://127.0.0.1:9/hook"}
rules:
  - {name: errors, query: "level:error", window: 1h, condition: {op: ">", threshold: 2}, notify: [ops]}
  - {name: fatal, query: "level:fatal"}
`)
	e := newEnv(t, Options{RulesFile: path})
	logs(3)(e, "errors")
	if e.state("errors").State != StateFiring {
		t.Fatal("file rule not evaluated")
	}
	// The firing rule keeps its state across a changed file; the removed
	// one is deleted.
	write(`
notifiers:
  - {name: ops, type: webhook, url: "http://127.0.0.1:9/hook2"}
rules:
  - {name: errors, query: "level:error", window: 1h, condition: {op: ">", threshold: 2}, notify: [ops], severity: critical}
`)
	e.reopen(true)
	rules, _ := e.m.Rules(context.Background())
	if len(rules) != 1 || rules[0].Severity != "critical" || rules[0].State != StateFiring {
		t.Errorf("after the change: %+v", rules)
	}
	ns, _ := e.m.Notifiers(context.Background())
	if len(ns) != 1 || ns[0].URL != "http://127.0.0.1:9/hook2" {
		t.Errorf("notifiers: %+v", ns)
	}
}

func TestRulesFileErrors(t *testing.T) {
	cases := map[string]string{
		"unknown key":        "rules:\n  - {name: a, query: x, windw: 5m}\n",
		"bad duration":       "rules:\n  - {name: a, query: x, window: 5 minutes}\n",
		"unknown notifier":   "rules:\n  - {name: a, query: x, notify: [nope]}\n",
		"missing secret env": "notifiers:\n  - {name: n, type: webhook, url: 'http://x/', secret_env: LOGENGINE_TEST_UNSET}\n",
		"duplicate id":       "rules:\n  - {name: a b, query: x}\n  - {name: A-B, query: y}\n",
	}
	want := map[string]string{
		"unknown key":        "field windw not found",
		"bad duration":       `"5 minutes" is not a duration`,
		"unknown notifier":   "no notifier named nope",
		"missing secret env": "LOGENGINE_TEST_UNSET is not set",
		"duplicate id":       `id "a-b" is used twice`,
	}
	for name, content := range cases {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "rules.yaml")
			if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
				t.Fatal(err)
			}
			e := newEnv(t, Options{})
			_, err := Open(context.Background(), e.store, e.engine, Options{RulesFile: path})
			if err == nil || !strings.Contains(err.Error(), want[name]) || !strings.Contains(err.Error(), path) {
				t.Errorf("error %v, want one naming the file and containing %q", err, want[name])
			}
		})
	}
}
