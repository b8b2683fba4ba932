package alerting

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/logengine/logengine/storage"
)

func validRule() Rule {
	return Rule{
		Name: "api errors", Query: "level:error source:api", Window: Duration(5 * time.Minute),
		Condition: Condition{Op: OpGreater, Threshold: 10}, For: Duration(time.Minute), Severity: "critical",
		Labels: map[string]string{"team": "payments"}, Notify: []string{"ops"}, Throttle: Duration(10 * time.Minute), Enabled: true,
	}
}

func TestRuleValidation(t *testing.T) {
	e := newEnv(t, Options{})
	e.notifier("ops", TypeWebhook, "http://127.0.0.1:9/hook", "")
	e.rule(Rule{Name: "taken", Query: "x", Window: Duration(time.Minute), Condition: Condition{Op: OpGreater}})
	cases := []struct {
		name   string
		change func(r *Rule)
		want   string // in the error; empty: valid
		input  bool   // an InputError (400); else a conflict
	}{
		{"valid", func(r *Rule) {}, "", true},
		{"no name", func(r *Rule) { r.Name = " " }, "name: must not be empty", true},
		{"bad query", func(r *Rule) { r.Query = "level:error )" }, "query: unexpected ')'", true},
		{"missing op", func(r *Rule) { r.Condition.Op = "" }, "condition.op: missing", true},
		{"unknown op", func(r *Rule) { r.Condition.Op = "=>" }, `condition.op: "=>" is not one of`, true},
		{"negative window", func(r *Rule) { r.Window = -1 }, "window: ", true},
		{"negative for", func(r *Rule) { r.For = Duration(-time.Second) }, "for: -1s is negative", true},
		{"window 0 with for", func(r *Rule) { r.Window = 0 }, "for: with window 0s", true},
		{"window 0 condition never true for one log", func(r *Rule) { r.Window, r.For = 0, 0; r.Condition.Threshold = 5 }, "must hold for one log", true},
		{"window 0 without condition", func(r *Rule) { r.Window, r.For, r.Condition = 0, 0, Condition{} }, "", true},
		{"bad label name", func(r *Rule) { r.Labels["a-b"] = "x" }, `"a-b" is not a valid label name`, true},
		{"reserved label", func(r *Rule) { r.Labels["severity"] = "x" }, `"severity" is set from the rule`, true},
		{"unknown notifier", func(r *Rule) { r.Notify = []string{"ops", "pager"} }, "no notifier named pager", true},
		{"notifier twice", func(r *Rule) { r.Notify = []string{"ops", "ops"} }, `"ops" is listed twice`, true},
		{"duplicate name", func(r *Rule) { r.Name = "taken" }, "a rule with this name exists", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := validRule()
			c.change(&r)
			info, err := e.m.CreateRule(context.Background(), r)
			if c.want == "" {
				if err != nil {
					t.Fatalf("valid rule refused: %v", err)
				}
				if info.ID == "" || info.Source != SourceAPI || info.CreatedAt.IsZero() {
					t.Errorf("created rule %+v lacks id, source or time", info)
				}
				if err := e.m.DeleteRule(context.Background(), info.ID); err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v, want one containing %q", err, c.want)
			}
			var ie *InputError
			if errors.As(err, &ie) != c.input || errors.Is(err, ErrConflict) == c.input {
				t.Errorf("error %v: input error %v, conflict %v", err, errors.As(err, &ie), errors.Is(err, ErrConflict))
			}
		})
	}
}

func TestRuleDefaults(t *testing.T) {
	e := newEnv(t, Options{})
	info, err := e.m.CreateRule(context.Background(), Rule{Name: "every error", Query: "level:error"})
	if err != nil {
		t.Fatal(err)
	}
	if info.Condition != (Condition{Op: OpGreater}) || info.Throttle != Duration(DefaultThrottle) || info.Severity != DefaultSeverity {
		t.Errorf("defaults of a window-0 rule: %+v", info.Rule)
	}
	if info.Labels == nil || info.Notify == nil {
		t.Error("labels and notify should be empty, not nil")
	}
}

func TestNotifierValidation(t *testing.T) {
	e := newEnv(t, Options{Hosts: HostPolicy{Allowed: []string{"hooks.example.com", "*.corp.example", "10.0.0.0/8", "127.0.0.1"}}})
	cases := []struct {
		name string
		n    Notifier
		want string
	}{
		{"webhook", Notifier{Name: "a", Type: TypeWebhook, URL: "https://hooks.example.com/x", Secret: "s"}, ""},
		{"alertmanager", Notifier{Name: "am", Type: TypeAlertmanager, URL: "http://127.0.0.1:9093"}, ""},
		{"wildcard", Notifier{Name: "w", Type: TypeWebhook, URL: "https://alerts.corp.example/x"}, ""},
		{"cidr", Notifier{Name: "c", Type: TypeWebhook, URL: "http://10.1.2.3:8080/x"}, ""},
		{"no name: named after its type", Notifier{Type: TypeAlertmanager, URL: "http://127.0.0.1:9093"}, ""},
		{"no name, no type", Notifier{URL: "https://hooks.example.com/x"}, "name: must not be empty"},
		{"bad name", Notifier{Name: "a b", Type: TypeWebhook, URL: "https://hooks.example.com/x"}, "name: \"a b\" must be"},
		{"unknown type", Notifier{Name: "x", Type: "slack", URL: "https://hooks.example.com/x"}, `type: "slack" is not one of`},
		{"ftp", Notifier{Name: "x", Type: TypeWebhook, URL: "ftp://hooks.example.com/x"}, "must start with http:// or https://"},
		{"file", Notifier{Name: "x", Type: TypeWebhook, URL: "file:///etc/passwd"}, "must start with http:// or https://"},
		{"no host", Notifier{Name: "x", Type: TypeWebhook, URL: "http:///x"}, "has no host"},
		{"credentials", Notifier{Name: "x", Type: TypeWebhook, URL: "https://u:p@hooks.example.com/x"}, "credentials in the URL"},
		{"host not allowed", Notifier{Name: "x", Type: TypeWebhook, URL: "https://evil.example.net/x"}, `host "evil.example.net" is not among the allowed`},
		{"ip not allowed", Notifier{Name: "x", Type: TypeWebhook, URL: "http://169.254.169.254/latest"}, "not among the allowed"},
		{"secret on alertmanager", Notifier{Name: "x", Type: TypeAlertmanager, URL: "http://127.0.0.1:9093", Secret: "s"}, "does not sign"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := e.m.CreateNotifier(context.Background(), c.n)
			if c.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				if got.Secret != "" {
					t.Error("the answer shows the secret")
				}
				return
			}
			var ie *InputError
			if err == nil || !strings.Contains(err.Error(), c.want) || !errors.As(err, &ie) {
				t.Fatalf("error %v, want an input error containing %q", err, c.want)
			}
		})
	}
	ns, err := e.m.Notifiers(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range ns {
		if n.Secret != "" {
			t.Errorf("notifier %s listed with its secret", n.Name)
		}
	}
	if !slices.ContainsFunc(ns, func(n Notifier) bool { return n.Name == TypeAlertmanager && n.Type == TypeAlertmanager }) {
		t.Error("a notifier created without a name is not listed under its type")
	}
	if !e.m.HasSecret("a") || e.m.HasSecret("am") {
		t.Error("HasSecret is wrong")
	}
}

func TestNotifierInUseCannotBeDeleted(t *testing.T) {
	e := newEnv(t, Options{})
	e.notifier("ops", TypeWebhook, "http://127.0.0.1:9/hook", "")
	id := e.rule(validRule())
	if _, err := e.m.CreateNotifier(context.Background(), Notifier{Name: "ops", Type: TypeWebhook, URL: "http://127.0.0.1:9/x"}); !errors.Is(err, ErrConflict) {
		t.Errorf("duplicate notifier: %v, want a conflict", err)
	}
	err := e.m.DeleteNotifier(context.Background(), "ops")
	if !errors.Is(err, ErrConflict) || !strings.Contains(err.Error(), `"api errors"`) {
		t.Fatalf("delete a notifier in use: %v", err)
	}
	if err := e.m.DeleteRule(context.Background(), id); err != nil {
		t.Fatal(err)
	}
	if err := e.m.DeleteNotifier(context.Background(), "ops"); err != nil {
		t.Fatal(err)
	}
	if err := e.m.DeleteNotifier(context.Background(), "ops"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("delete a missing notifier: %v", err)
	}
	if _, err := e.m.Rule(context.Background(), id); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("get a deleted rule: %v", err)
	}
}

func TestDurationJSON(t *testing.T) {
	var d Duration
	for in, want := range map[string]time.Duration{`"5m"`: 5 * time.Minute, `"0s"`: 0, `"1d"`: 24 * time.Hour, `"90s"`: 90 * time.Second} {
		if err := d.UnmarshalJSON([]byte(in)); err != nil || d.Std() != want {
			t.Errorf("%s: %v %v", in, d, err)
		}
	}
	if err := d.UnmarshalJSON([]byte(`300`)); err == nil || !strings.Contains(err.Error(), "string such as") {
		t.Errorf("a number: %v", err)
	}
	if b, _ := Duration(0).MarshalJSON(); string(b) != `"0s"` {
		t.Errorf("0 marshals as %s", b)
	}
}
