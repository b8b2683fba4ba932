package tests

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestRetention imports old logs with retention off, restarts with a
// retention period and a shorter one for one source, runs retention and
// checks what is left; ingest then rejects entries older than retention.
func TestRetention(t *testing.T) {
	dir := t.TempDir()
	d := startDaemon(t, dir, "--retention", "0")
	now := time.Now().UTC()
	var nd strings.Builder
	want := map[string]bool{}
	for age := 0; age < 6; age++ {
		for _, src := range []string{"api", "noisy"} {
			for i := 0; i < 10; i++ {
				ts := now.Add(-time.Duration(age)*24*time.Hour - time.Duration(i)*time.Minute)
				msg := fmt.Sprintf("%s age %d n %d", src, age, i)
				fmt.Fprintf(&nd, "{\"timestamp\":%q,\"source\":%q,\"message\":%q}\n", ts.Format(time.RFC3339Nano), src, msg)
				// api keeps 3 days (whole UTC days older than the cutoff go);
				// noisy keeps 1 day exactly.
				cutDay := now.Add(-3 * 24 * time.Hour).Truncate(24 * time.Hour)
				if src == "api" && !ts.Before(cutDay) || src == "noisy" && ts.After(now.Add(-24*time.Hour)) {
					want[msg] = true
				}
			}
		}
	}
	if code, a := d.ingest("application/x-ndjson", nd.String(), ""); code != http.StatusOK || a.Accepted != 120 {
		t.Fatalf("import: %d %+v", code, a)
	}
	d.stop()

	cfg := filepath.Join(t.TempDir(), "logengine.yaml")
	if err := os.WriteFile(cfg, []byte("retention: 3d\nretention_by_source:\n  noisy: 1d\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	d = startDaemon(t, dir, "--config", cfg)
	code, body := d.do(http.MethodPost, "/api/v1/admin/retention", "", nil)
	if code != http.StatusOK {
		t.Fatalf("retention: %d %s", code, body)
	}
	got := map[string]bool{}
	for _, e := range d.all("") {
		got[e.Message] = true
	}
	for m := range want {
		if !got[m] {
			t.Errorf("%q was dropped but is within retention", m)
		}
	}
	for m := range got {
		if !want[m] {
			t.Errorf("%q survived retention", m)
		}
	}
	// Counts from the indexes agree with what is left.
	var agg struct {
		Total int `json:"total"`
	}
	d.getJSON("/api/v1/aggregate?group_by=source", &agg)
	if agg.Total != len(want) {
		t.Errorf("aggregate total %d, want %d", agg.Total, len(want))
	}
	// Entries older than retention are refused with a clear error.
	old := now.Add(-10 * 24 * time.Hour).Format(time.RFC3339)
	code, a := d.ingest("application/json", fmt.Sprintf(`{"timestamp":%q,"message":"too old"}`, old), "")
	if code != http.StatusBadRequest || a.Rejected != 1 || !strings.Contains(a.Errors[0].Error, "retention") {
		t.Fatalf("old entry: %d %+v", code, a)
	}
	future := now.Add(3 * 24 * time.Hour).Format(time.RFC3339)
	code, a = d.ingest("application/json", fmt.Sprintf(`{"timestamp":%q,"message":"from the future"}`, future), "")
	if code != http.StatusBadRequest || !strings.Contains(a.Errors[0].Error, "future") {
		t.Fatalf("future entry: %d %+v", code, a)
	}
}
