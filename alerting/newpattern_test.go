package alerting

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/logengine/logengine/patterns"
	"github.com/logengine/logengine/storage"
)

// fakeTemplates stands in for the miner: templates by id, and aliases of
// ids merged into another.
type fakeTemplates struct {
	mu      sync.Mutex
	texts   map[uint64]string
	aliases map[uint64]uint64
}

func newFakeTemplates() *fakeTemplates {
	return &fakeTemplates{texts: map[uint64]string{}, aliases: map[uint64]uint64{}}
}

func (f *fakeTemplates) set(id uint64, text string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.texts[id] = text
}

// merge makes from an alias of into, as a template that generalised.
func (f *fakeTemplates) merge(from, into uint64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.texts, from)
	f.aliases[from] = into
}

func (f *fakeTemplates) Resolve(id uint64) (uint64, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if to, ok := f.aliases[id]; ok {
		return to, true
	}
	_, ok := f.texts[id]
	return id, ok
}

func (f *fakeTemplates) Template(id uint64) (patterns.Template, bool) {
	live, ok := f.Resolve(id)
	if !ok {
		return patterns.Template{}, false
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	return patterns.Template{ID: live, Source: "api", Text: f.texts[live]}, true
}

func newPatternEnv(t *testing.T) (*env, *fakeTemplates) {
	t.Helper()
	ft := newFakeTemplates()
	ft.set(1, "user <*> logged in")
	ft.set(2, "disk <*> full")
	ft.set(3, "connection to <*> refused")
	e := newEnv(t, Options{Patterns: ft})
	e.notifier("hook", TypeWebhook, "http://127.0.0.1:1/hook", "")
	return e, ft
}

// plog stores one entry of template id at the clock and hands it to the
// manager, as the ingest path does after mining.
func (e *env) plog(source, msg string, id uint32) {
	e.t.Helper()
	ents := []storage.Entry{{Time: e.clock.Now(), Level: storage.LevelError, Source: source, Message: msg, Pattern: id}}
	if _, err := e.store.Append(context.Background(), ents); err != nil {
		e.t.Fatal(err)
	}
	e.m.Committed(ents)
}

func newPatternRule() Rule {
	return Rule{Name: "new errors", Query: "level:error", Window: Duration(time.Hour),
		Condition: Condition{NewPattern: true}, Notify: []string{"hook"}, Enabled: true}
}

// firingPatterns lists the pattern ids of the queued firing notifications.
func (e *env) firingPatterns() []string {
	e.t.Helper()
	var ids []string
	for _, it := range e.outbox() {
		if it.Note.State != StateFiring {
			continue
		}
		for _, p := range it.Note.Patterns {
			ids = append(ids, p.ID)
		}
	}
	return ids
}

func TestNewPatternValidation(t *testing.T) {
	e, _ := newPatternEnv(t)
	bad := map[string]Rule{
		"alternative":                      {Name: "a", Query: "*", Window: Duration(time.Hour), Condition: Condition{NewPattern: true, Op: OpGreater, Threshold: 1}},
		"needs a window":                   {Name: "b", Query: "*", Condition: Condition{NewPattern: true}},
		"for: a new pattern fires at once": {Name: "c", Query: "*", Window: Duration(time.Hour), For: Duration(time.Minute), Condition: Condition{NewPattern: true}},
	}
	for want, r := range bad {
		_, err := e.m.CreateRule(context.Background(), r)
		var ie *InputError
		if !errors.As(err, &ie) || !strings.Contains(err.Error(), want) {
			t.Errorf("rule %s: got %v, want an input error about %q", r.Name, err, want)
		}
	}

	off := newEnv(t, Options{})
	_, err := off.m.CreateRule(context.Background(), Rule{Name: "x", Query: "*", Window: Duration(time.Hour), Condition: Condition{NewPattern: true}})
	var ie *InputError
	if !errors.As(err, &ie) || !strings.Contains(err.Error(), "patterns are disabled") {
		t.Errorf("patterns off: got %v, want an input error saying patterns are disabled", err)
	}
}

func TestNewPatternFiresOncePerPattern(t *testing.T) {
	e, _ := newPatternEnv(t)
	// History: pattern 1 is known before the rule exists.
	e.plog("api", "user alice logged in", 1)
	e.clock.Add(time.Minute)
	id := e.rule(newPatternRule())
	if got := e.state(id).State; got != StateInactive {
		t.Fatalf("a rule created on history fired for an existing pattern: %s", got)
	}

	e.plog("api", "user bob logged in", 1)
	e.drain()
	if got := e.state(id).State; got != StateInactive {
		t.Fatalf("a known pattern made the rule %s", got)
	}

	e.plog("api", "disk sda1 full", 2)
	e.plog("api", "disk sdb1 full", 2)
	e.drain()
	if got := e.state(id).State; got != StateFiring {
		t.Fatalf("a new pattern left the rule %s", got)
	}
	if got := e.firingPatterns(); len(got) != 1 || got[0] != "p2" {
		t.Fatalf("notified patterns %v, want [p2]", got)
	}
	it := e.outbox()[0]
	p := it.Note.Patterns[0]
	if p.Template != "disk <*> full" || len(p.Sample) != 2 || p.Sample[0].Message != "disk sda1 full" {
		t.Errorf("pattern in the notification: %+v", p)
	}
	body, err := webhookPayload(&it)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(body), `"patterns":[{"id":"p2","template":"disk \u003c*\u003e full"`) {
		t.Errorf("webhook body names no pattern: %s", body)
	}

	// The same pattern again does not fire; a second new one fires again
	// while the alert is firing.
	e.clearOutbox()
	e.plog("api", "disk sdc1 full", 2)
	e.drain()
	if got := e.firingPatterns(); len(got) != 0 {
		t.Fatalf("a pattern seen before fired again: %v", got)
	}
	e.plog("api", "connection to db refused", 3)
	e.drain()
	if got := e.firingPatterns(); len(got) != 1 || got[0] != "p3" {
		t.Fatalf("notified patterns %v, want [p3]", got)
	}

	// A window with no new pattern resolves it.
	e.clearOutbox()
	e.clock.Add(30 * time.Minute)
	e.evaluate()
	if got := e.state(id).State; got != StateFiring {
		t.Fatalf("resolved before its window passed: %s", got)
	}
	e.clock.Add(31 * time.Minute)
	e.evaluate()
	if got := e.state(id).State; got != StateResolved {
		t.Fatalf("still %s a window after the last new pattern", got)
	}
	if got := e.notes(); got != "hook:resolved:0" {
		t.Errorf("notifications %q, want one resolution", got)
	}
}

func TestNewPatternRestartKeepsSeenSet(t *testing.T) {
	e, _ := newPatternEnv(t)
	id := e.rule(newPatternRule())
	e.plog("api", "disk sda1 full", 2)
	e.drain()
	if got := e.firingPatterns(); len(got) != 1 {
		t.Fatalf("notified patterns %v, want [p2]", got)
	}
	e.clearOutbox()

	// A kill: nothing saved beyond what the decision committed.
	e.reopen(false)
	e.drain()
	e.plog("api", "disk sdb1 full", 2)
	e.drain()
	if got := e.firingPatterns(); len(got) != 0 {
		t.Fatalf("after a restart a known pattern fired again: %v", got)
	}
	e.plog("api", "connection to db refused", 3)
	e.drain()
	if got := e.firingPatterns(); len(got) != 1 || got[0] != "p3" {
		t.Fatalf("after a restart, notified patterns %v, want [p3]", got)
	}

	rec, ok, err := e.m.b.loadSeen(id)
	if err != nil || !ok {
		t.Fatalf("seen set: %v %v", ok, err)
	}
	if data, _ := json.Marshal(rec.IDs); string(data) != "[2,3]" {
		t.Errorf("stored seen set %s, want [2,3]", data)
	}

	// Deleting the rule deletes its set.
	if err := e.m.DeleteRule(context.Background(), id); err != nil {
		t.Fatal(err)
	}
	if _, ok, err := e.m.b.loadSeen(id); ok || err != nil {
		t.Errorf("seen set of a deleted rule: %v %v", ok, err)
	}
}

func TestNewPatternAliasesResolve(t *testing.T) {
	e, ft := newPatternEnv(t)
	e.rule(newPatternRule())
	e.plog("api", "user alice logged in", 1)
	e.drain()
	e.clearOutbox()

	// Entries stored under an alias are the live template.
	ft.set(4, "user <*> logged in")
	ft.merge(1, 4)
	e.plog("api", "user carol logged in", 1)
	e.plog("api", "user dave logged in", 4)
	e.drain()
	if got := e.firingPatterns(); len(got) != 0 {
		t.Fatalf("a template that generalised fired as new: %v", got)
	}
}

func TestNewPatternSeenSetBound(t *testing.T) {
	ft := newFakeTemplates()
	for i := uint64(1); i <= 5; i++ {
		ft.set(i, "t")
	}
	e := newEnv(t, Options{Patterns: ft, MaxSeenPatterns: 2})
	e.rule(Rule{Name: "n", Query: "*", Window: Duration(time.Hour), Condition: Condition{NewPattern: true}, Enabled: true})
	for i := uint32(1); i <= 3; i++ {
		e.plog("api", "m", i)
	}
	e.drain()
	if got := e.m.Stats().SeenForgotten; got != 1 {
		t.Errorf("forgotten %d, want 1", got)
	}
}

// TestNewPatternUpdateKeepsSeed: a change that keeps the query does not
// make the next start seed the set again, which would take the patterns
// committed before the stop but not yet evaluated for known ones.
func TestNewPatternUpdateKeepsSeed(t *testing.T) {
	e, _ := newPatternEnv(t)
	r := newPatternRule()
	id := e.rule(r)
	r.Labels = map[string]string{"team": "storage"}
	e.clock.Add(time.Second)
	if _, err := e.m.UpdateRule(context.Background(), id, r); err != nil {
		t.Fatal(err)
	}
	e.drain()
	e.plog("api", "disk sda1 full", 2) // committed, not evaluated: then a kill
	e.reopen(false)
	e.drain()
	if got := e.firingPatterns(); len(got) != 1 || got[0] != "p2" {
		t.Fatalf("notified patterns %v, want [p2]", got)
	}
}

// TestNewPatternNotificationText: e-mail and Alertmanager name the pattern
// id and template beside the sample lines.
func TestNewPatternNotificationText(t *testing.T) {
	e, _ := newPatternEnv(t)
	e.rule(newPatternRule())
	e.plog("api", "disk sda1 full", 2)
	e.drain()
	items := e.outbox()
	if len(items) != 1 {
		t.Fatalf("outbox %d items, want 1", len(items))
	}
	it := items[0]
	d := e.m.emailView(&it)
	if !strings.Contains(d.Summary, `new pattern p2 "disk <*> full"`) || len(d.Patterns) != 1 || !strings.Contains(d.Patterns[0], "p2 (api): disk <*> full") || len(d.Sample) != 1 {
		t.Errorf("e-mail view %+v", d)
	}
	body, err := e.m.alertmanagerPayload(&it, e.clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	var alerts []amAlert
	if err := json.Unmarshal(body, &alerts); err != nil || len(alerts) != 1 {
		t.Fatalf("alertmanager body %s: %v", body, err)
	}
	ann := alerts[0].Annotations
	if ann["pattern_ids"] != "p2" || ann["patterns"] != "p2 (api): disk <*> full" || !strings.Contains(ann["sample"], "disk sda1 full") {
		t.Errorf("alertmanager annotations %v", ann)
	}
	if _, ok := alerts[0].Labels["pattern"]; ok {
		t.Errorf("pattern as a label: %v", alerts[0].Labels)
	}
}
