package tests

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// hookReceiver is a webhook receiver as a user would write one: it checks
// the HMAC signature and the delivery id of every request, answers 503
// while "down", and keeps what it accepted.
type hookReceiver struct {
	t      *testing.T
	srv    *httptest.Server
	secret string
	up     atomic.Bool

	mu       sync.Mutex
	attempts []string // delivery ids of every request, accepted or not
	accepted []hookDelivery
	problems []string
}

type hookDelivery struct {
	id   string
	body struct {
		Rule struct {
			ID     string            `json:"id"`
			Name   string            `json:"name"`
			Labels map[string]string `json:"labels"`
		} `json:"rule"`
		State      string    `json:"state"`
		Value      float64   `json:"value"`
		StartedAt  time.Time `json:"started_at"`
		EndedAt    time.Time `json:"ended_at"`
		DeliveryID string    `json:"delivery_id"`
		Sample     []entry   `json:"sample"`
	}
}

func newHookReceiver(t *testing.T, secret string, up bool) *hookReceiver {
	h := &hookReceiver{t: t, secret: secret}
	h.up.Store(up)
	h.srv = httptest.NewServer(http.HandlerFunc(h.serve))
	t.Cleanup(h.srv.Close)
	return h
}

func (h *hookReceiver) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	mac := hmac.New(sha256.New, []byte(h.secret))
	mac.Write(body)
	want := "sha256=" + hex.EncodeToString(mac.Sum(nil))
	id := r.Header.Get("X-Logengine-Delivery")
	h.mu.Lock()
	defer h.mu.Unlock()
	h.attempts = append(h.attempts, id)
	switch {
	case !hmac.Equal([]byte(r.Header.Get("X-Logengine-Signature")), []byte(want)):
		h.problems = append(h.problems, fmt.Sprintf("bad signature %q for %s", r.Header.Get("X-Logengine-Signature"), body))
		http.Error(w, "bad signature", http.StatusUnauthorized)
		return
	case id == "":
		h.problems = append(h.problems, "no X-Logengine-Delivery header")
		http.Error(w, "no delivery id", http.StatusBadRequest)
		return
	case r.Header.Get("Content-Type") != "application/json":
		h.problems = append(h.problems, "content type "+r.Header.Get("Content-Type"))
	}
	if !h.up.Load() {
		http.Error(w, "down for maintenance", http.StatusServiceUnavailable)
		return
	}
	for _, d := range h.accepted {
		if d.id == id {
			w.WriteHeader(http.StatusOK) // a duplicate: dropped, as receivers should
			return
		}
	}
	d := hookDelivery{id: id}
	if err := json.Unmarshal(body, &d.body); err != nil {
		h.problems = append(h.problems, fmt.Sprintf("body %s: %v", body, err))
	}
	h.accepted = append(h.accepted, d)
	w.WriteHeader(http.StatusOK)
}

func (h *hookReceiver) snapshot() (attempts []string, accepted []hookDelivery) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, p := range h.problems {
		h.t.Errorf("webhook receiver: %s", p)
	}
	h.problems = nil
	return append([]string(nil), h.attempts...), append([]hookDelivery(nil), h.accepted...)
}

// waitAccepted waits until the receiver has accepted n deliveries.
func (h *hookReceiver) waitAccepted(d *daemon, n int, timeout time.Duration) []hookDelivery {
	h.t.Helper()
	var got []hookDelivery
	ok := alertPoll(timeout, func() bool {
		_, got = h.snapshot()
		return len(got) >= n
	})
	if !ok {
		h.t.Fatalf("the webhook accepted %d deliveries within %s, want %d\n%s", len(got), timeout, n, alertHistoryText(d))
	}
	return got
}

// alertPoll calls f every 100ms until it returns true or timeout passes.
func alertPoll(timeout time.Duration, f func() bool) bool {
	deadline := time.Now().Add(timeout)
	for !f() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(100 * time.Millisecond)
	}
	return true
}

func (d *daemon) postJSON(path string, body string, want int) map[string]any {
	d.t.Helper()
	code, b := d.do(http.MethodPost, path, "application/json", []byte(body))
	if code != want {
		d.t.Fatalf("POST %s: %d %s, want %d", path, code, b, want)
	}
	var v map[string]any
	if err := json.Unmarshal(b, &v); err != nil {
		d.t.Fatalf("POST %s: %v in %s", path, err, b)
	}
	return v
}

type alertEvent struct {
	RuleID   string  `json:"rule_id"`
	RuleName string  `json:"rule_name"`
	From     string  `json:"from"`
	To       string  `json:"to"`
	Value    float64 `json:"value"`
	At       string  `json:"at"`
	Notifier string  `json:"notifier"`
	Error    string  `json:"error"`
}

func (d *daemon) alertHistory(rule string) []alertEvent {
	d.t.Helper()
	var h struct {
		Events []alertEvent `json:"events"`
	}
	d.getJSON("/api/v1/alerts/history?rule="+url.QueryEscape(rule), &h)
	return h.Events
}

// transitions lists the state changes of the history, "from>to".
func transitions(evs []alertEvent) string {
	var out []string
	for _, e := range evs {
		if e.Error == "" {
			out = append(out, e.From+">"+e.To)
		}
	}
	return strings.Join(out, " ")
}

func alertHistoryText(d *daemon) string {
	code, b := d.do(http.MethodGet, "/api/v1/alerts/history", "", nil)
	return fmt.Sprintf("alert history (%d): %s", code, b)
}

type alertView struct {
	RuleID   string            `json:"rule_id"`
	RuleName string            `json:"rule_name"`
	State    string            `json:"state"`
	Value    float64           `json:"value"`
	Since    string            `json:"since"`
	Labels   map[string]string `json:"labels"`
}

func (d *daemon) alerts(state string) []alertView {
	d.t.Helper()
	var a struct {
		Alerts []alertView `json:"alerts"`
	}
	d.getJSON("/api/v1/alerts?state="+state, &a)
	return a.Alerts
}

// TestAlertWebhook: a rule created through the API fires on ingest, the
// webhook gets a signed notification with the matching logs, and the
// periodic evaluation resolves it once the window has passed.
func TestAlertWebhook(t *testing.T) {
	hook := newHookReceiver(t, "hook-secret", true)
	d := startDaemon(t, t.TempDir(), "--alerting-eval-interval", "1s")

	n := d.postJSON("/api/v1/notifiers", `{"name":"ops-webhook","type":"webhook","url":"`+hook.srv.URL+`/hook","secret":"hook-secret"}`, http.StatusCreated)
	if _, shown := n["secret"]; shown || n["secret_set"] != true {
		t.Errorf("notifier answer %v", n)
	}
	if _, b := d.do(http.MethodGet, "/api/v1/notifiers", "", nil); bytes.Contains(b, []byte("hook-secret")) {
		t.Errorf("GET /api/v1/notifiers shows the secret: %s", b)
	}
	rule := d.postJSON("/api/v1/alert-rules", `{"name":"api errors","query":"level:error source:api","window":"3s",
		"condition":{"op":">","threshold":2},"for":"0s","severity":"critical","labels":{"team":"payments"},
		"notify":["ops-webhook"],"throttle":"0s","enabled":true}`, http.StatusCreated)
	id, _ := rule["id"].(string)
	if id == "" || rule["state"] != "inactive" {
		t.Fatalf("rule %v", rule)
	}

	body := `{"level":"error","source":"api","message":"upstream timeout 1"}
{"level":"info","source":"api","message":"fine"}
{"level":"error","source":"web","message":"not this source"}
{"level":"error","source":"api","message":"upstream timeout 2"}
{"level":"error","source":"api","message":"upstream timeout 3"}`
	if code, a := d.ingest("application/x-ndjson", body, ""); code != http.StatusOK || a.Accepted != 5 {
		t.Fatalf("ingest: %d %+v", code, a)
	}
	got := hook.waitAccepted(d, 1, 20*time.Second)
	f := got[0]
	if f.body.State != "firing" || f.body.Rule.ID != id || f.body.Rule.Name != "api errors" || f.body.Value != 3 ||
		f.body.DeliveryID != f.id || f.body.StartedAt.IsZero() || f.body.Rule.Labels["team"] != "payments" {
		t.Errorf("firing notification %+v", f.body)
	}
	if len(f.body.Sample) != 3 || !strings.HasPrefix(f.body.Sample[0].Message, "upstream timeout") || f.body.Sample[0].Source != "api" {
		t.Errorf("sample %+v", f.body.Sample)
	}
	firing := d.alerts("firing")
	if len(firing) != 1 || firing[0].RuleID != id || firing[0].Labels["team"] != "payments" || firing[0].Since == "" {
		t.Errorf("firing alerts %+v", firing)
	}

	// No more matching logs: resolved once the 3s window has passed.
	got = hook.waitAccepted(d, 2, 20*time.Second)
	r := got[1]
	if r.body.State != "resolved" || r.body.EndedAt.IsZero() || r.id == f.id || !r.body.StartedAt.Equal(f.body.StartedAt) {
		t.Errorf("resolved notification %+v", r.body)
	}
	if h := transitions(d.alertHistory(id)); h != "inactive>firing firing>resolved" {
		t.Errorf("history %q", h)
	}
	if a := d.alerts("resolved"); len(a) != 1 || a[0].RuleName != "api errors" {
		t.Errorf("resolved alerts %+v", a)
	}
	metrics := string(scrapeAlerting(t, d))
	for _, want := range []string{"logengine_alert_notifications_delivered_total 2", "logengine_alert_transitions_total 2", "logengine_alert_rules 1"} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	d.stop()
}

func scrapeAlerting(t *testing.T, d *daemon) []byte {
	t.Helper()
	code, body := d.do(http.MethodGet, "/metrics", "", nil)
	if code != http.StatusOK {
		t.Fatalf("/metrics: %d", code)
	}
	return body
}

// TestAlertKillBeforeDelivery: an alert fires while its receiver is down;
// the daemon is killed with SIGKILL before it could deliver; after the
// restart the alert is still firing and, the receiver being back, the
// notification arrives with the delivery id of the failed attempts.
func TestAlertKillBeforeDelivery(t *testing.T) {
	hook := newHookReceiver(t, "s3cret", false)
	dir := t.TempDir()
	d := startDaemon(t, dir, "--alerting-eval-interval", "1s")
	d.postJSON("/api/v1/notifiers", `{"name":"pager","type":"webhook","url":"`+hook.srv.URL+`","secret":"s3cret"}`, http.StatusCreated)
	rule := d.postJSON("/api/v1/alert-rules", `{"name":"payment failures","query":"payment failed","window":"1h",
		"condition":{"op":">=","threshold":2},"notify":["pager"]}`, http.StatusCreated)
	id := rule["id"].(string)
	if code, a := d.ingest("text/plain", "ERROR payment failed for order 1\nERROR payment failed for order 2\n", "source=shop"); code != http.StatusOK || a.Accepted != 2 {
		t.Fatalf("ingest: %d %+v", code, a)
	}
	var attempts []string
	if !alertPoll(20*time.Second, func() bool { attempts, _ = hook.snapshot(); return len(attempts) > 0 }) {
		t.Fatalf("no delivery attempt\n%s", alertHistoryText(d))
	}
	firstID := attempts[0]
	before := d.alerts("firing")
	if len(before) != 1 {
		t.Fatalf("firing before the kill: %+v", before)
	}
	// The failed attempt is in the history.
	if !alertPoll(10*time.Second, func() bool {
		for _, e := range d.alertHistory(id) {
			if e.Notifier == "pager" && strings.Contains(e.Error, "503") {
				return true
			}
		}
		return false
	}) {
		t.Errorf("no failed delivery in the history: %+v", d.alertHistory(id))
	}

	d.kill()
	hook.up.Store(true)
	d = startDaemon(t, dir, "--alerting-eval-interval", "1s")

	got := hook.waitAccepted(d, 1, 30*time.Second)
	if got[0].id != firstID || got[0].body.State != "firing" || got[0].body.Rule.ID != id || got[0].body.Value != 2 {
		t.Errorf("delivered %s %+v, want the firing notification with delivery id %s", got[0].id, got[0].body, firstID)
	}
	after := d.alerts("firing")
	if len(after) != 1 || after[0].Since != before[0].Since {
		t.Errorf("after the restart: %+v, want still firing since %s", after, before[0].Since)
	}
	time.Sleep(2 * time.Second) // a few periodic evaluations
	if _, acc := hook.snapshot(); len(acc) != 1 {
		t.Errorf("%d notifications after the restart, want the one", len(acc))
	}
	if h := transitions(d.alertHistory(id)); h != "inactive>firing" {
		t.Errorf("history %q, want one firing", h)
	}
	d.stop()
}

// TestAlertmanager sends an alert, defined in a rules file, to a real
// Alertmanager and checks through its API that it arrived with the rule's
// labels, then that it is resolved there.
func TestAlertmanager(t *testing.T) {
	am := "/usr/bin/prometheus-alertmanager"
	if _, err := os.Stat(am); err != nil {
		p, err := exec.LookPath("prometheus-alertmanager")
		if err != nil {
			t.Skip("prometheus-alertmanager is not installed (Debian package prometheus-alertmanager)")
		}
		am = p
	}
	dir := t.TempDir()
	amAddr := freePort(t)
	amCfg := "route:\n  receiver: 'null'\n  group_wait: 1s\n  group_interval: 5s\n  repeat_interval: 1h\nreceivers:\n  - name: 'null'\n"
	if err := os.WriteFile(filepath.Join(dir, "alertmanager.yml"), []byte(amCfg), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(am, "--config.file="+filepath.Join(dir, "alertmanager.yml"), "--storage.path="+filepath.Join(dir, "amdata"),
		"--web.listen-address="+amAddr, "--cluster.listen-address=")
	var amLog bytes.Buffer
	cmd.Stdout, cmd.Stderr = &amLog, &amLog
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	amURL := "http://" + amAddr
	if !alertPoll(30*time.Second, func() bool {
		resp, err := http.Get(amURL + "/-/ready")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}) {
		t.Fatalf("Alertmanager did not become ready:\n%s", amLog.String())
	}

	rules := fmt.Sprintf(`notifiers:
  - {name: am, type: alertmanager, url: "%s"}
rules:
  - name: api errors
    query: level:error source:api
    window: 3s
    condition: {op: ">", threshold: 1}
    severity: critical
    labels: {team: payments, service: api}
    notify: [am]
`, amURL)
	rulesFile := filepath.Join(dir, "rules.yaml")
	if err := os.WriteFile(rulesFile, []byte(rules), 0o600); err != nil {
		t.Fatal(err)
	}
	d := startDaemon(t, filepath.Join(dir, "data"), "--alerting-eval-interval", "1s", "--alerting-rules-file", rulesFile)
	if code, a := d.ingest("application/x-ndjson", "{\"level\":\"error\",\"source\":\"api\",\"message\":\"db down\"}\n{\"level\":\"error\",\"source\":\"api\",\"message\":\"db still down\"}\n", ""); code != http.StatusOK || a.Accepted != 2 {
		t.Fatalf("ingest: %d %+v", code, a)
	}

	type amAlert struct {
		Labels      map[string]string `json:"labels"`
		Annotations map[string]string `json:"annotations"`
		StartsAt    time.Time         `json:"startsAt"`
		EndsAt      time.Time         `json:"endsAt"`
		Status      struct {
			State string `json:"state"`
		} `json:"status"`
	}
	query := amURL + "/api/v2/alerts?filter=" + url.QueryEscape(`alertname="api errors"`)
	get := func() []amAlert {
		resp, err := http.Get(query)
		if err != nil {
			return nil
		}
		defer resp.Body.Close()
		var out []amAlert
		_ = json.NewDecoder(resp.Body).Decode(&out)
		return out
	}
	var got []amAlert
	if !alertPoll(30*time.Second, func() bool { got = get(); return len(got) == 1 }) {
		t.Fatalf("Alertmanager has no alert %q: %+v\n%s\nAlertmanager log:\n%s", "api errors", got, alertHistoryText(d), amLog.String())
	}
	a := got[0]
	want := map[string]string{"alertname": "api errors", "severity": "critical", "team": "payments", "service": "api"}
	for k, v := range want {
		if a.Labels[k] != v {
			t.Errorf("label %s = %q, want %q (labels %v)", k, a.Labels[k], v, a.Labels)
		}
	}
	if len(a.Labels) != len(want) || a.Status.State != "active" || !strings.Contains(a.Annotations["summary"], "api errors: 2 matching logs") ||
		!strings.Contains(a.Annotations["sample"], "db still down") || a.StartsAt.IsZero() {
		t.Errorf("alert in Alertmanager: %+v", a)
	}

	// The window passes: the resolution reaches Alertmanager, which no
	// longer lists the alert as active.
	if !alertPoll(30*time.Second, func() bool {
		for _, a := range get() {
			if a.Status.State == "active" && a.EndsAt.After(time.Now()) {
				return false
			}
		}
		return true
	}) {
		t.Errorf("the alert is still active in Alertmanager: %+v\n%s", get(), alertHistoryText(d))
	}
	if h := transitions(d.alertHistory("api-errors")); h != "inactive>firing firing>resolved" {
		t.Errorf("history %q", h)
	}
	d.stop()
}
