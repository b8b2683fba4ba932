package alerting

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
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
	if api.Window != Duration(5*time.Minute) || api.Condition != (Condition{Op: OpGreater, Threshold: 10}) || api.Labels["team"] != "payments" || len(api.Notify) != 2 || !api.Enabled {
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
		"second document":    "rules:\n  - {name: a, query: x}\n---\nrules:\n  - {name: b, query: y}\n",
	}
	want := map[string]string{
		"unknown key":        "field windw not found",
		"bad duration":       `"5 minutes" is not a duration`,
		"unknown notifier":   "no notifier named nope",
		"missing secret env": "LOGENGINE_TEST_UNSET is not set",
		"duplicate id":       `id "a-b" is used twice`,
		"second document":    "more than one YAML document",
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

// fuzzBaseline is the rules file FuzzParseRulesFile applies before each
// input, beside a notifier and a rule created through the API.
const fuzzBaseline = `
notifiers:
  - {name: ops, type: webhook, url: "http://127.0.0.1:9/hook", timeout: 5s}
rules:
  - {name: errors, query: "level:error", window: 5m, condition: {op: ">", threshold: 2}, notify: [ops]}
  - {name: fatal, query: "level:fatal", notify: [ops, api-hook]}
`

// definitions is what a manager defines: its rules by id and its
// notifiers by name.
type definitions struct {
	rules     map[string]Rule
	notifiers map[string]Notifier
}

func (m *Manager) definitions() definitions {
	m.mu.Lock()
	defer m.mu.Unlock()
	d := definitions{rules: map[string]Rule{}, notifiers: map[string]Notifier{}}
	for id, r := range m.rules {
		d.rules[id] = cloneRule(r)
	}
	for name, n := range m.notifiers {
		d.notifiers[name] = *n
	}
	return d
}

// FuzzParseRulesFile parses any bytes as a rules file and, when they
// parse, loads the file as Open does, over a baseline file and beside
// definitions made through the API. Parsing never panics and its
// durations print back as themselves. Loading a file with an error changes
// nothing (the whole file is checked first). Loading one without replaces
// every file definition with those of the file, touches none made through
// the API, and leaves what the package requires: ids of the rule pattern,
// given or made from the name; names and ids unique; every rule valid as
// normalize checks it (and already normalized); every named notifier
// defined, every notifier valid.
func FuzzParseRulesFile(f *testing.F) {
	for _, s := range []string{
		fuzzBaseline,
		"",
		"rules: []\nnotifiers: []\n",
		"rules:\n  - {name: a, query: x, windw: 5m}\n",
		"rules:\n  - {name: a, query: x, window: 5 minutes}\n",
		"rules:\n  - {name: a b, query: x}\n  - {name: A-B, query: y}\n",
		"rules:\n  - {name: ' a ', query: x}\n  - {name: a, id: other, query: y}\n",
		"rules:\n  - {name: api rule, id: mine, query: x}\n",
		"rules:\n  - {name: '!!!', query: x}\n",
		"rules:\n  - {name: x, query: 'a OR', window: -1m, for: 1d, throttle: 2w, condition: {op: '<', threshold: .nan}}\n",
		"rules:\n  - {name: x, query: a, window: 0s, condition: {op: '<', threshold: 1}, labels: {alertname: y, 1a: z}, notify: [n, n]}\n",
		"notifiers:\n  - {name: n, type: Alertmanager, url: ' http://h:9093 ', secret: s}\n  - {name: n, type: webhook, url: 'ftp://h/'}\n",
		"notifiers:\n  - {name: api-hook, type: webhook, url: 'http://h/'}\n",
		"notifiers:\n  - {name: n, type: webhook, url: 'http://h/', secret_env: LOGENGINE_TEST_UNSET, timeout: 0}\n" +
			"rules:\n  - {name: x, query: a, window: 1h, condition: {op: '>=', threshold: 1e300}, severity: ' ', enabled: false, notify: [n, api-hook]}\n",
		"rules:\n  - &r {name: x, query: a}\n  - *r\n",
		"rules: {name: x}\n",
		"---\nrules: []\n---\nrules: [{}]\n",
	} {
		f.Add([]byte(s))
	}
	ctx := context.Background()
	e := newEnv(f, Options{})
	e.notifier("api-hook", TypeWebhook, "http://127.0.0.1:9/api", "")
	apiRule := e.rule(Rule{Name: "api rule", Query: "level:warn", Window: Duration(time.Minute), Condition: Condition{Op: OpGreater, Threshold: 5}, Notify: []string{"api-hook"}})
	base, err := ParseRulesFile(strings.NewReader(fuzzBaseline))
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		rf, err := ParseRulesFile(bytes.NewReader(b))
		if err != nil {
			if rf != nil {
				t.Fatalf("ParseRulesFile: error %v and a file", err)
			}
			return
		}
		var durations []Duration
		for _, r := range rf.Rules {
			durations = append(durations, r.Window, r.For, r.Throttle)
		}
		for _, n := range rf.Notifiers {
			durations = append(durations, n.Timeout)
		}
		for _, d := range durations {
			var back Duration
			if err := back.parse(d.String()); err != nil || back != d {
				t.Fatalf("duration %d prints as %q, which reads as %d, %v", int64(d), d.String(), int64(back), err)
			}
		}

		if err := e.m.applyRulesFile(ctx, base); err != nil {
			t.Fatalf("baseline: %v", err)
		}
		before := e.m.definitions()
		err = e.m.applyRulesFile(ctx, rf)
		after := e.m.definitions()
		if err != nil {
			if !reflect.DeepEqual(before, after) {
				t.Fatalf("a file with an error (%v) changed the definitions:\nbefore %+v\nafter  %+v", err, before, after)
			}
			return
		}

		if !reflect.DeepEqual(after.rules[apiRule], before.rules[apiRule]) || !reflect.DeepEqual(after.notifiers["api-hook"], before.notifiers["api-hook"]) {
			t.Fatalf("the file changed what the API made:\nbefore %+v\nafter  %+v", before, after)
		}
		wantIDs := map[string]bool{apiRule: true}
		for _, fr := range rf.Rules {
			id := fr.ID
			if id == "" {
				id = slug(fr.Name)
			}
			wantIDs[id] = true
		}
		if len(wantIDs) != len(rf.Rules)+1 || len(after.rules) != len(wantIDs) {
			t.Fatalf("file of %d rules loaded as %d rules beside the API's one", len(rf.Rules), len(after.rules)-1)
		}
		names := map[string]bool{}
		for id, r := range after.rules {
			if !wantIDs[id] || r.ID != id {
				t.Fatalf("rule %q loaded with id %q, not one the file gives", r.Name, id)
			}
			if !idPattern.MatchString(id) {
				t.Fatalf("rule %q has id %q", r.Name, id)
			}
			if names[r.Name] {
				t.Fatalf("two rules are named %q", r.Name)
			}
			names[r.Name] = true
			if id != apiRule && r.Source != SourceFile {
				t.Fatalf("rule %q from the file has source %q", r.Name, r.Source)
			}
			again := cloneRule(&r)
			if _, err := again.normalize(); err != nil || !reflect.DeepEqual(again, r) {
				t.Fatalf("loaded rule %+v normalizes to %+v, %v", r, again, err)
			}
			for _, n := range r.Notify {
				if _, ok := after.notifiers[n]; !ok {
					t.Fatalf("rule %q names notifier %q, which is not defined", r.Name, n)
				}
			}
		}
		if len(after.notifiers) != len(rf.Notifiers)+1 {
			t.Fatalf("file of %d notifiers loaded as %d notifiers beside the API's one", len(rf.Notifiers), len(after.notifiers)-1)
		}
		for name, n := range after.notifiers {
			again := n
			if n.Name != name || again.normalize(HostPolicy{}) != nil || !reflect.DeepEqual(again, n) {
				t.Fatalf("loaded notifier %q: %+v normalizes to %+v", name, n, again)
			}
			if name != "api-hook" && n.Source != SourceFile {
				t.Fatalf("notifier %q from the file has source %q", name, n.Source)
			}
		}
	})
}
