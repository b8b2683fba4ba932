package httpapi

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/logengine/logengine/alerting"
	"github.com/logengine/logengine/search"
	"github.com/logengine/logengine/storage"
)

// newAlertingServer serves a real alerting manager over a temporary store.
func newAlertingServer(t *testing.T, opts Options) (*Server, *alerting.Manager, *storage.Store) {
	t.Helper()
	dir := t.TempDir()
	sopts := storage.DefaultOptions(filepath.Join(dir, "db"))
	sopts.SyncWrites = false
	sopts.BlockCacheBytes, sopts.MemTableBytes = 8<<20, 16<<20
	store, err := storage.Open(sopts)
	if err != nil {
		t.Fatal(err)
	}
	index, err := search.OpenIndex(filepath.Join(dir, "index"), nil)
	if err != nil {
		t.Fatal(err)
	}
	engine := search.NewEngine(store, index, search.NewIndexer(store, index, search.DefaultIndexerOptions()), search.EngineOptions{})
	m, err := alerting.Open(context.Background(), store, engine, alerting.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = m.Close()
		_ = index.Close()
		_ = store.Close()
	})
	f := &fakeDeps{}
	s, err := New(opts, Deps{Ingester: f, Searcher: f, Health: f, Admin: f, Alerting: m})
	if err != nil {
		t.Fatal(err)
	}
	return s, m, store
}

func decode(t *testing.T, body []byte) map[string]any {
	t.Helper()
	var v map[string]any
	if err := json.Unmarshal(body, &v); err != nil {
		t.Fatalf("%v in %s", err, body)
	}
	return v
}

func TestAlertRulesAPI(t *testing.T) {
	s, m, store := newAlertingServer(t, Options{})
	js := []string{"Content-Type", "application/json"}

	rec := request(t, s, "POST", "/api/v1/notifiers", []byte(`{"name":"ops-webhook","type":"webhook","url":"http://127.0.0.1:9/hook","secret":"s3cret"}`), js...)
	if rec.Code != 201 || strings.Contains(rec.Body.String(), "s3cret") {
		t.Fatalf("create notifier: %d %s", rec.Code, rec.Body)
	}
	if n := decode(t, rec.Body.Bytes()); n["secret_set"] != true || n["timeout"] != "10s" || n["type"] != "webhook" {
		t.Errorf("notifier %v", n)
	}
	rec = request(t, s, "GET", "/api/v1/notifiers", nil)
	if rec.Code != 200 || strings.Contains(rec.Body.String(), "s3cret") || !strings.Contains(rec.Body.String(), `"notifiers":[{"name":"ops-webhook"`) {
		t.Fatalf("list notifiers: %d %s", rec.Code, rec.Body)
	}

	body := `{"name": "api errors", "query": "level:error source:api", "window": "5m", "condition": {"op": ">", "threshold": 2},
	  "for": "0s", "severity": "critical", "labels": {"team": "payments"}, "notify": ["ops-webhook"], "throttle": "10m", "enabled": true}`
	rec = request(t, s, "POST", "/api/v1/alert-rules", []byte(body), js...)
	if rec.Code != 201 {
		t.Fatalf("create rule: %d %s", rec.Code, rec.Body)
	}
	r := decode(t, rec.Body.Bytes())
	id, _ := r["id"].(string)
	cond, _ := r["condition"].(map[string]any)
	if id == "" || r["window"] != "5m" || r["for"] != "0s" || r["throttle"] != "10m" || cond["op"] != ">" || cond["threshold"] != 2.0 ||
		r["enabled"] != true || r["state"] != "inactive" || r["source"] != "api" || rec.Header().Get("Location") != "/api/v1/alert-rules/"+id {
		t.Errorf("created rule %v", r)
	}

	rec = request(t, s, "GET", "/api/v1/alert-rules/"+id, nil)
	if rec.Code != 200 || decode(t, rec.Body.Bytes())["name"] != "api errors" {
		t.Errorf("get rule: %d %s", rec.Code, rec.Body)
	}
	rec = request(t, s, "GET", "/api/v1/alert-rules", nil)
	if rules, _ := decode(t, rec.Body.Bytes())["rules"].([]any); rec.Code != 200 || len(rules) != 1 {
		t.Errorf("list rules: %d %s", rec.Code, rec.Body)
	}

	// Errors: 400 with a message that says what to fix, 404, 409.
	for _, c := range []struct {
		method, path, body string
		code               int
		want               string
	}{
		{"POST", "/api/v1/alert-rules", `{"name":"x","query":"a","window":"5m","condition":{"op":">","treshold":1}}`, 400, `unknown field "treshold"`},
		{"POST", "/api/v1/alert-rules", `{"name":"x","query":"a"}`, 400, "window is required"},
		{"POST", "/api/v1/alert-rules", `{"name":"x","query":"a","window":"5 min","condition":{"op":">"}}`, 400, "is not a duration"},
		{"POST", "/api/v1/alert-rules", `{"name":"x","query":"a (","window":"5m","condition":{"op":">"}}`, 400, "query:"},
		{"POST", "/api/v1/alert-rules", `{"name":"x","query":"a","window":"5m","condition":{"op":"~"}}`, 400, `condition.op: "~" is not one of`},
		{"POST", "/api/v1/alert-rules", `{"name":"x","query":"a","window":"5m","condition":{"op":">"},"notify":["pager"]}`, 400, "no notifier named pager"},
		{"POST", "/api/v1/alert-rules", body, 409, "a rule with this name exists"},
		{"POST", "/api/v1/alert-rules", ``, 400, "the body is empty"},
		{"GET", "/api/v1/alert-rules/nope", ``, 404, `alert rule "nope"`},
		{"PUT", "/api/v1/alert-rules/nope", body, 404, "not found"},
		{"DELETE", "/api/v1/alert-rules/nope", ``, 404, "not found"},
		{"POST", "/api/v1/notifiers", `{"name":"x","type":"webhook","url":"ftp://h/"}`, 400, "http:// or https://"},
		{"POST", "/api/v1/notifiers", `{"name":"ops-webhook","type":"webhook","url":"http://h/"}`, 409, "it exists"},
		{"DELETE", "/api/v1/notifiers/ops-webhook", ``, 409, `used by alert rules "api errors"`},
		{"DELETE", "/api/v1/notifiers/nope", ``, 404, "not found"},
		{"POST", "/api/v1/alert-rules/" + id + "/mute", `{}`, 400, `give "until"`},
		{"GET", "/api/v1/alerts?state=burning", ``, 400, "state=\"burning\""},
		{"GET", "/api/v1/alerts/history?from=yesterday", ``, 400, "from="},
	} {
		rec := request(t, s, c.method, c.path, []byte(c.body), js...)
		msg, _ := decode(t, rec.Body.Bytes())["error"].(string)
		if rec.Code != c.code || !strings.Contains(msg, c.want) {
			t.Errorf("%s %s %s = %d %s, want %d with %q", c.method, c.path, c.body, rec.Code, rec.Body, c.code, c.want)
		}
	}

	// Fire it and read the alert and its history.
	now := time.Now()
	ents := make([]storage.Entry, 3)
	for i := range ents {
		ents[i] = storage.Entry{Time: now, Level: storage.LevelError, Source: "api", Message: "boom"}
	}
	if _, err := store.Append(context.Background(), ents); err != nil {
		t.Fatal(err)
	}
	if err := m.EvaluateAll(context.Background()); err != nil {
		t.Fatal(err)
	}
	rec = request(t, s, "GET", "/api/v1/alerts?state=firing", nil)
	alerts, _ := decode(t, rec.Body.Bytes())["alerts"].([]any)
	if rec.Code != 200 || len(alerts) != 1 {
		t.Fatalf("alerts: %d %s", rec.Code, rec.Body)
	}
	a := alerts[0].(map[string]any)
	labels, _ := a["labels"].(map[string]any)
	if a["rule_id"] != id || a["rule_name"] != "api errors" || a["state"] != "firing" || a["value"] != 3.0 || a["since"] == nil || labels["team"] != "payments" {
		t.Errorf("alert %v", a)
	}
	rec = request(t, s, "GET", "/api/v1/alerts?state=inactive", nil)
	if alerts, _ := decode(t, rec.Body.Bytes())["alerts"].([]any); len(alerts) != 0 {
		t.Errorf("inactive alerts: %s", rec.Body)
	}
	rec = request(t, s, "GET", "/api/v1/alerts/history?rule="+id+"&from=now-1h", nil)
	events, _ := decode(t, rec.Body.Bytes())["events"].([]any)
	if rec.Code != 200 || len(events) != 1 {
		t.Fatalf("history: %d %s", rec.Code, rec.Body)
	}
	ev := events[0].(map[string]any)
	if ev["rule_id"] != id || ev["rule_name"] != "api errors" || ev["from"] != "inactive" || ev["to"] != "firing" || ev["value"] != 3.0 || ev["at"] == nil {
		t.Errorf("event %v", ev)
	}

	// Mute, update, delete.
	rec = request(t, s, "POST", "/api/v1/alert-rules/"+id+"/mute", []byte(`{"for":"2h"}`), js...)
	if mu, _ := decode(t, rec.Body.Bytes())["muted_until"].(string); rec.Code != 200 || mu == "" {
		t.Errorf("mute: %d %s", rec.Code, rec.Body)
	}
	rec = request(t, s, "DELETE", "/api/v1/alert-rules/"+id+"/mute", nil)
	if rec.Code != 200 || strings.Contains(rec.Body.String(), "muted_until") {
		t.Errorf("unmute: %d %s", rec.Code, rec.Body)
	}
	rec = request(t, s, "PUT", "/api/v1/alert-rules/"+id, []byte(strings.Replace(body, `"critical"`, `"warning"`, 1)), js...)
	if rec.Code != 200 || decode(t, rec.Body.Bytes())["severity"] != "warning" || decode(t, rec.Body.Bytes())["id"] != id {
		t.Errorf("update: %d %s", rec.Code, rec.Body)
	}
	rec = request(t, s, "DELETE", "/api/v1/alert-rules/"+id, nil)
	if rec.Code != 204 {
		t.Errorf("delete: %d %s", rec.Code, rec.Body)
	}
	rec = request(t, s, "DELETE", "/api/v1/notifiers/ops-webhook", nil)
	if rec.Code != 204 {
		t.Errorf("delete notifier: %d %s", rec.Code, rec.Body)
	}
}

func TestAlertRoutesRoles(t *testing.T) {
	s, _, _ := newAlertingServer(t, Options{Keys: []Key{
		{Name: "grafana", Role: RoleQuery, Secret: "query-secret-0123456789"},
		{Name: "ops", Role: RoleAdmin, Secret: "admin-secret-0123456789"},
	}})
	q := []string{"Authorization", "Bearer query-secret-0123456789", "Content-Type", "application/json"}
	a := []string{"Authorization", "Bearer admin-secret-0123456789", "Content-Type", "application/json"}
	rule := []byte(`{"name":"x","query":"a","window":"5m","condition":{"op":">","threshold":1}}`)
	for _, c := range []struct {
		method, path string
		headers      []string
		body         []byte
		want         int
	}{
		{"GET", "/api/v1/alert-rules", nil, nil, 401},
		{"GET", "/api/v1/alert-rules", q, nil, 200},
		{"GET", "/api/v1/alerts", q, nil, 200},
		{"GET", "/api/v1/alerts/history", q, nil, 200},
		{"GET", "/api/v1/notifiers", q, nil, 200},
		{"POST", "/api/v1/alert-rules", q, rule, 403},
		{"POST", "/api/v1/notifiers", q, []byte(`{}`), 403},
		{"POST", "/api/v1/alert-rules", a, rule, 201},
	} {
		rec := request(t, s, c.method, c.path, c.body, c.headers...)
		if rec.Code != c.want {
			t.Errorf("%s %s = %d %s, want %d", c.method, c.path, rec.Code, rec.Body, c.want)
		}
	}
}
