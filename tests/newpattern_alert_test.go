package tests

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// patternHook keeps the bodies of the notifications it receives.
type patternHook struct {
	srv    *httptest.Server
	mu     sync.Mutex
	bodies []patternNote
}

type patternNote struct {
	State    string `json:"state"`
	Value    float64
	Patterns []struct {
		ID       string  `json:"id"`
		Template string  `json:"template"`
		Source   string  `json:"source"`
		Sample   []entry `json:"sample"`
	} `json:"patterns"`
	Sample []entry `json:"sample"`
}

func newPatternHook(t *testing.T) *patternHook {
	h := &patternHook{}
	h.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var n patternNote
		if err := json.Unmarshal(body, &n); err != nil {
			t.Errorf("webhook body %s: %v", body, err)
		}
		h.mu.Lock()
		h.bodies = append(h.bodies, n)
		h.mu.Unlock()
	}))
	t.Cleanup(h.srv.Close)
	return h
}

func (h *patternHook) notes() []patternNote {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]patternNote(nil), h.bodies...)
}

func (h *patternHook) wait(t *testing.T, d *daemon, n int, timeout time.Duration) []patternNote {
	t.Helper()
	var got []patternNote
	if !alertPoll(timeout, func() bool { got = h.notes(); return len(got) >= n }) {
		t.Fatalf("the webhook got %d notifications within %s, want %d\n%s", len(got), timeout, n, alertHistoryText(d))
	}
	return got
}

func ingestLines(t *testing.T, d *daemon, format string, from, to int) {
	t.Helper()
	var b strings.Builder
	for i := from; i < to; i++ {
		fmt.Fprintf(&b, `{"level":"error","source":"auth","message":"%s"}`+"\n", fmt.Sprintf(format, i, i))
	}
	if code, a := d.ingest("application/x-ndjson", b.String(), ""); code != http.StatusOK || a.Accepted != to-from {
		t.Fatalf("ingest: %d %+v", code, a)
	}
}

// TestAlertNewPattern: a new_pattern rule created on history fires once
// for a template it has not seen, with the template and its lines, not
// for the templates it knew, resolves after its window, and after a
// restart does not fire again for the patterns it has seen.
func TestAlertNewPattern(t *testing.T) {
	hook := newPatternHook(t)
	dir := t.TempDir()
	d := startDaemon(t, dir, "--alerting-eval-interval", "1s")

	d.postJSON("/api/v1/notifiers", `{"name":"hook","type":"webhook","url":"`+hook.srv.URL+`"}`, http.StatusCreated)
	// The count conditions and new_pattern are alternatives.
	code, body := d.do(http.MethodPost, "/api/v1/alert-rules", "application/json",
		[]byte(`{"name":"mixed","query":"*","window":"1m","condition":{"new_pattern":true,"op":">","threshold":1}}`))
	if code != http.StatusBadRequest || !strings.Contains(string(body), "new_pattern") {
		t.Errorf("a rule mixing new_pattern with op: %d %s, want 400", code, body)
	}

	// History: a known template.
	ingestLines(t, d, "user user%d logged in from 10.0.0.%d", 0, 20)
	rule := d.postJSON("/api/v1/alert-rules", `{"name":"new auth errors","query":"level:error source:auth","window":"3s",
		"condition":{"new_pattern":true},"notify":["hook"]}`, http.StatusCreated)
	cond, _ := rule["condition"].(map[string]any)
	if cond["new_pattern"] != true {
		t.Errorf("rule answer %v", rule)
	}

	// More of the known template: nothing.
	ingestLines(t, d, "user user%d logged in from 10.0.0.%d", 20, 25)
	time.Sleep(1500 * time.Millisecond)
	if got := hook.notes(); len(got) != 0 {
		t.Fatalf("a known pattern fired: %+v", got)
	}

	// A new template fires once, named with its lines.
	ingestLines(t, d, "disk sd%d is full on host db%d", 0, 3)
	got := hook.wait(t, d, 1, 10*time.Second)
	f := got[0]
	if f.State != "firing" || len(f.Patterns) != 1 || !strings.HasPrefix(f.Patterns[0].ID, "p") ||
		!strings.HasPrefix(f.Patterns[0].Template, "disk ") || f.Patterns[0].Source != "auth" ||
		len(f.Patterns[0].Sample) == 0 || !strings.HasPrefix(f.Patterns[0].Sample[0].Message, "disk sd0") || len(f.Sample) == 0 {
		t.Fatalf("firing notification %+v", f)
	}
	newID := f.Patterns[0].ID

	// No new pattern for the 3s window: resolved.
	got = hook.wait(t, d, 2, 10*time.Second)
	if got[1].State != "resolved" {
		t.Fatalf("second notification %+v, want resolved", got[1])
	}

	// A restart keeps the seen set: the same template does not fire again.
	d.stop()
	d = startDaemon(t, dir, "--alerting-eval-interval", "1s")
	ingestLines(t, d, "disk sd%d is full on host db%d", 3, 6)
	time.Sleep(1500 * time.Millisecond)
	if got := hook.notes(); len(got) != 2 {
		t.Fatalf("after a restart, notifications %+v, want none more", got[2:])
	}
	// A third template still fires.
	ingestLines(t, d, "certificate for %d.example.com expires in %d days", 0, 2)
	got = hook.wait(t, d, 3, 10*time.Second)
	if got[2].State != "firing" || len(got[2].Patterns) != 1 || got[2].Patterns[0].ID == newID {
		t.Fatalf("third notification %+v", got[2])
	}
	d.stop()

	// With patterns off the condition is refused.
	off := startDaemon(t, t.TempDir(), "--patterns=false")
	code, body = off.do(http.MethodPost, "/api/v1/alert-rules", "application/json",
		[]byte(`{"name":"n","query":"*","window":"1m","condition":{"new_pattern":true}}`))
	if code != http.StatusBadRequest || !strings.Contains(string(body), "patterns are disabled") {
		t.Errorf("new_pattern with patterns off: %d %s, want 400", code, body)
	}
	off.stop()
}
