package alerting

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// receiver is a webhook receiver that records what it gets and answers
// with the status its status function gives.
type receiver struct {
	t      testing.TB
	srv    *httptest.Server
	secret string
	status func(n int) int

	mu   sync.Mutex
	got  []received
	hits atomic.Int32
}

type received struct {
	delivery, signature, event string
	body                       []byte
	path                       string
}

func newReceiver(t testing.TB, secret string, status func(n int) int) *receiver {
	rc := &receiver{t: t, secret: secret, status: status}
	rc.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		n := int(rc.hits.Add(1))
		rc.mu.Lock()
		rc.got = append(rc.got, received{
			delivery: r.Header.Get(HeaderDelivery), signature: r.Header.Get(HeaderSignature),
			event: r.Header.Get(HeaderEvent), body: body, path: r.URL.Path,
		})
		rc.mu.Unlock()
		code := http.StatusOK
		if rc.status != nil {
			code = rc.status(n)
		}
		w.WriteHeader(code)
	}))
	t.Cleanup(rc.srv.Close)
	return rc
}

func (rc *receiver) requests() []received {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]received(nil), rc.got...)
}

// deliver runs one lane of the outbox worker synchronously.
func (e *env) deliver(name string) bool {
	return !e.m.deliverLane(context.Background(), name)
}

func TestWebhookDeliverySigned(t *testing.T) {
	e := newEnv(t, Options{})
	rc := newReceiver(t, "k3y", nil)
	e.notifier("ops", TypeWebhook, rc.srv.URL+"/hook", "k3y")
	id := e.rule(windowed(5*time.Minute, OpGreater, 2, 0))
	logs(3)(e, id)
	wait(6*time.Minute)(e, id)
	if !e.deliver("ops") {
		t.Fatal("delivery failed")
	}
	got := rc.requests()
	if len(got) != 2 {
		t.Fatalf("%d requests, want firing and resolved", len(got))
	}
	for i, want := range []StateName{StateFiring, StateResolved} {
		r := got[i]
		if r.signature != Sign("k3y", r.body) || !strings.HasPrefix(r.signature, "sha256=") || len(r.signature) != 7+64 {
			t.Errorf("request %d: signature %q does not match the body", i, r.signature)
		}
		var body struct {
			Rule       map[string]any `json:"rule"`
			State      StateName      `json:"state"`
			Value      float64        `json:"value"`
			StartedAt  time.Time      `json:"started_at"`
			EndedAt    time.Time      `json:"ended_at"`
			Sample     []sample       `json:"sample"`
			DeliveryID string         `json:"delivery_id"`
		}
		if err := json.Unmarshal(r.body, &body); err != nil {
			t.Fatal(err)
		}
		if body.State != want || r.event != string(want) || body.DeliveryID != r.delivery || r.delivery == "" || body.Rule["id"] != id || body.Rule["window"] != "5m" {
			t.Errorf("request %d: %+v (headers %+v)", i, body, r)
		}
		if want == StateFiring && (len(body.Sample) != 3 || body.Value != 3 || !body.StartedAt.Equal(t0)) {
			t.Errorf("firing body: %s", r.body)
		}
		if want == StateResolved && !body.EndedAt.Equal(t0.Add(6*time.Minute)) {
			t.Errorf("resolved body: %s", r.body)
		}
	}
	if got[0].delivery == got[1].delivery {
		t.Error("two notifications share a delivery id")
	}
	if len(e.outbox()) != 0 {
		t.Error("delivered items remain in the outbox")
	}
	if st := e.m.Stats(); st.Delivered != 2 || st.DeliveryFailures != 0 {
		t.Errorf("stats %+v", st)
	}
}

// TestRetryKeepsDeliveryIDAndOrder: a failing receiver gets the same
// delivery id on every attempt, later items wait behind the first, and
// every failure is in the history.
func TestRetryKeepsDeliveryIDAndOrder(t *testing.T) {
	e := newEnv(t, Options{})
	rc := newReceiver(t, "", func(n int) int {
		if n <= 2 {
			return http.StatusServiceUnavailable
		}
		return http.StatusOK
	})
	e.notifier("ops", TypeWebhook, rc.srv.URL, "")
	id := e.rule(windowed(5*time.Minute, OpGreater, 2, 0))
	logs(3)(e, id)
	wait(6*time.Minute)(e, id)
	for attempt := 1; attempt <= 2; attempt++ {
		if e.deliver("ops") {
			t.Fatalf("delivered on attempt %d while the receiver fails", attempt)
		}
	}
	if !e.deliver("ops") {
		t.Fatal("not delivered once the receiver is back")
	}
	got := rc.requests()
	if len(got) != 4 {
		t.Fatalf("%d requests, want 4", len(got))
	}
	if got[0].delivery != got[1].delivery || got[1].delivery != got[2].delivery || got[2].event != "firing" || got[3].event != "resolved" {
		t.Errorf("attempts: %+v", got)
	}
	if h := e.history(id); h != "inactive>firing firing>resolved error error" {
		t.Errorf("history %q", h)
	}
	evs, _ := e.m.History(context.Background(), HistoryQuery{Rule: id})
	if ev := evs[2]; ev.Notifier != "ops" || !strings.Contains(ev.Error, "503") || ev.From != StateFiring {
		t.Errorf("failure event %+v", ev)
	}
	if st := e.m.Stats(); st.DeliveryFailures != 2 || st.Delivered != 2 {
		t.Errorf("stats %+v", st)
	}
}

func TestPermanentFailureIsDropped(t *testing.T) {
	e := newEnv(t, Options{})
	rc := newReceiver(t, "", func(int) int { return http.StatusBadRequest })
	e.notifier("ops", TypeWebhook, rc.srv.URL, "")
	id := e.rule(windowed(5*time.Minute, OpGreater, 2, 0))
	logs(3)(e, id)
	if !e.deliver("ops") {
		t.Fatal("a refused notification blocks the lane")
	}
	if len(e.outbox()) != 0 {
		t.Error("refused item kept")
	}
	evs, _ := e.m.History(context.Background(), HistoryQuery{Rule: id})
	if len(evs) != 2 || !strings.Contains(evs[1].Error, "dropped: the receiver refused it") {
		t.Errorf("history %+v", evs)
	}
	if st := e.m.Stats(); st.Dropped != 1 {
		t.Errorf("stats %+v", st)
	}
}

func TestOldUndeliverableIsDropped(t *testing.T) {
	e := newEnv(t, Options{MaxDeliveryAge: time.Hour})
	rc := newReceiver(t, "", func(int) int { return http.StatusBadGateway })
	e.notifier("ops", TypeWebhook, rc.srv.URL, "")
	id := e.rule(windowed(5*time.Minute, OpGreater, 2, 0))
	logs(3)(e, id)
	if e.deliver("ops") {
		t.Fatal("delivered")
	}
	e.clock.Add(2 * time.Hour)
	if !e.deliver("ops") || len(e.outbox()) != 0 {
		t.Fatal("an item past its age is kept")
	}
	if h := e.history(id); h != "inactive>firing error error" {
		t.Errorf("history %q", h)
	}
}

func TestRedirects(t *testing.T) {
	e := newEnv(t, Options{})
	rc := newReceiver(t, "", nil)
	other := httptest.NewServer(http.RedirectHandler(rc.srv.URL+"/elsewhere", http.StatusTemporaryRedirect))
	defer other.Close()
	var same *httptest.Server
	same = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/moved" {
			http.Redirect(w, r, same.URL+"/here", http.StatusPermanentRedirect)
			return
		}
		if r.URL.Path == "/get" {
			http.Redirect(w, r, same.URL+"/here", http.StatusFound)
			return
		}
		io.Copy(io.Discard, r.Body)
	}))
	defer same.Close()
	e.notifier("other", TypeWebhook, other.URL, "")
	e.notifier("same", TypeWebhook, same.URL+"/moved", "")
	e.notifier("get", TypeWebhook, same.URL+"/get", "")
	r := windowed(5*time.Minute, OpGreater, 2, 0)
	r.Notify = []string{"other", "same", "get"}
	id := e.rule(r)
	logs(3)(e, id)
	e.deliver("other")
	e.deliver("same")
	e.deliver("get")
	if len(rc.requests()) != 0 {
		t.Error("a redirect to another host was followed")
	}
	evs, _ := e.m.History(context.Background(), HistoryQuery{Rule: id})
	var errs []string
	for _, ev := range evs {
		if ev.Error != "" {
			errs = append(errs, ev.Notifier+": "+ev.Error)
		}
	}
	if len(errs) != 2 || !strings.Contains(errs[0], "other: dropped") || !strings.Contains(errs[0], "redirect to another host") ||
		!strings.Contains(errs[1], "get: dropped") || !strings.Contains(errs[1], "turns POST into GET") {
		t.Errorf("redirect errors: %q", errs)
	}
	if st := e.m.Stats(); st.Delivered != 1 {
		t.Errorf("same-host 308 not delivered: %+v", st)
	}
	e.m.http.CloseIdleConnections()
}

func TestDeliveryTimeout(t *testing.T) {
	e := newEnv(t, Options{})
	release := make(chan struct{})
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer slow.Close()
	defer close(release)
	if _, err := e.m.CreateNotifier(context.Background(), Notifier{Name: "slow", Type: TypeWebhook, URL: slow.URL, Timeout: Duration(50 * time.Millisecond)}); err != nil {
		t.Fatal(err)
	}
	r := windowed(5*time.Minute, OpGreater, 2, 0)
	r.Notify = []string{"slow"}
	id := e.rule(r)
	logs(3)(e, id)
	start := time.Now()
	if e.deliver("slow") {
		t.Fatal("delivered to a receiver that never answers")
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("attempt took %v", d)
	}
	evs, _ := e.m.History(context.Background(), HistoryQuery{Rule: id})
	if len(evs) != 2 || !strings.Contains(evs[1].Error, "deadline exceeded") {
		t.Errorf("history %+v", evs)
	}
}

func TestAlertmanagerPayload(t *testing.T) {
	e := newEnv(t, Options{ExternalURL: "http://logs.example.com:8080/"})
	rc := newReceiver(t, "", nil)
	e.notifier("am", TypeAlertmanager, rc.srv.URL+"/prefix", "")
	r := windowed(5*time.Minute, OpGreater, 2, 0)
	r.Notify, r.Severity, r.Labels = []string{"am"}, "critical", map[string]string{"team": "payments"}
	id := e.rule(r)
	logs(3)(e, id)
	wait(6*time.Minute)(e, id)
	if !e.deliver("am") {
		t.Fatal("not delivered")
	}
	got := rc.requests()
	if len(got) != 2 {
		t.Fatalf("%d requests", len(got))
	}
	for i, r := range got {
		if r.path != "/prefix/api/v2/alerts" || r.signature != "" {
			t.Errorf("request %d to %s, signature %q", i, r.path, r.signature)
		}
		var alerts []amAlert
		if err := json.Unmarshal(r.body, &alerts); err != nil || len(alerts) != 1 {
			t.Fatalf("body %s: %v", r.body, err)
		}
		a := alerts[0]
		wantLabels := map[string]string{"alertname": "api errors", "severity": "critical", "team": "payments"}
		if len(a.Labels) != 3 || a.Labels["alertname"] != wantLabels["alertname"] || a.Labels["severity"] != "critical" || a.Labels["team"] != "payments" {
			t.Errorf("labels %v", a.Labels)
		}
		if !a.StartsAt.Equal(t0) || a.GeneratorURL != "http://logs.example.com:8080/api/v1/alert-rules/"+id {
			t.Errorf("alert %+v", a)
		}
		if !strings.Contains(a.Annotations["summary"], "api errors") || !strings.Contains(a.Annotations["sample"], "upstream timeout") && i == 0 {
			t.Errorf("annotations %v", a.Annotations)
		}
		switch i {
		case 0:
			if !a.EndsAt.After(e.clock.Now()) {
				t.Errorf("firing alert ends at %v", a.EndsAt)
			}
		case 1:
			if !a.EndsAt.Equal(t0.Add(6 * time.Minute)) {
				t.Errorf("resolved alert ends at %v", a.EndsAt)
			}
		}
	}
}

// TestRunDelivers runs the manager's goroutines: a log committed to the
// store reaches the webhook without any call but Run.
func TestRunDelivers(t *testing.T) {
	e := newEnv(t, Options{})
	rc := newReceiver(t, "k", func(n int) int {
		if n == 1 {
			return http.StatusInternalServerError
		}
		return http.StatusOK
	})
	e.notifier("ops", TypeWebhook, rc.srv.URL, "k")
	if _, err := e.m.CreateRule(context.Background(), Rule{Name: "every error", Query: "level:error", Notify: []string{"ops"}, Enabled: true}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.m.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	}()
	// Let the evaluator see the rule before the log, as it would.
	deadline := time.Now().Add(10 * time.Second)
	for {
		e.logs(1, 17, "api", "boom")
		if err := e.m.WaitEvaluated(ctx, e.store.HighSeq()); err != nil {
			t.Fatal(err)
		}
		if len(rc.requests()) >= 2 || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	got := rc.requests()
	if len(got) < 2 || got[0].delivery != got[1].delivery || got[1].signature != Sign("k", got[1].body) {
		t.Fatalf("requests %+v", got)
	}
}
