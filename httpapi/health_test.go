package httpapi

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/logengine/logengine/retention"
	"github.com/logengine/logengine/storage"
)

// health answers /readyz and /api/v1/stats with fixed figures.
type health struct {
	*fakeDeps
	err error
}

func (h health) Ready() (Readiness, error) {
	return Readiness{CommittedSeq: 42, IndexLagEntries: 3, IndexLagSeconds: 1.5}, h.err
}

func (h health) Stats(context.Context) (Stats, error) {
	return Stats{AlertRules: 2, AlertsFiring: 1, EntriesByLevel: map[string]int64{"info": 7, "error": 2}, EntriesCommitted: 9,
		EntriesTotal: 9, IngestRatePerSecond: 0.25, StorageBytes: 4096, Version: "1.2.3"}, nil
}

func (h health) Retention(context.Context) (retention.Result, error) {
	day := storage.DayOf(time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC).UnixNano())
	return retention.Result{Period: 72 * time.Hour, DroppedDays: []storage.Day{day, day + 1},
		DeletedBySource: map[string]int{"noisy": 5, "api": 0}, Errors: []error{errors.New("delete source api: disk on fire")}}, nil
}

// The typed answers send the bytes their maps did: the same keys, sorted.
func TestHealthAnswers(t *testing.T) {
	for _, tc := range []struct {
		name, method, path string
		err                error
		code               int
		want               string
	}{
		{"ready", "GET", "/readyz", nil, 200,
			`{"committed_seq":42,"index_lag_entries":3,"index_lag_seconds":1.5,"status":"ready"}`},
		{"not ready", "GET", "/readyz", errors.New("starting"), 503,
			`{"committed_seq":42,"error":"starting","index_lag_entries":3,"index_lag_seconds":1.5,"status":"not ready"}`},
		{"stats", "GET", "/api/v1/stats", nil, 200,
			`{"alert_rules":2,"alerts_firing":1,"alerts_pending":0,"entries_by_level":{"error":2,"info":7},"entries_committed":9,"entries_total":9,"index_lag_entries":0,"index_lag_seconds":0,"ingest_rate_per_second":0.25,"storage_bytes":4096,"version":"1.2.3"}`},
		{"retention", "POST", "/api/v1/admin/retention", nil, 200,
			`{"deleted_by_source":{"api":0,"noisy":5},"dropped_days":["2026-11-20","2026-11-21"],"errors":["delete source api: disk on fire"],"retention":"3d"}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := &fakeDeps{}
			h := health{fakeDeps: f, err: tc.err}
			s, err := New(Options{}, Deps{Ingester: f, Searcher: f, Health: h, Admin: h})
			if err != nil {
				t.Fatal(err)
			}
			rec := request(t, s, tc.method, tc.path, nil)
			if rec.Code != tc.code || strings.TrimSpace(rec.Body.String()) != tc.want {
				t.Fatalf("%d %s\nwant %d %s", rec.Code, rec.Body, tc.code, tc.want)
			}
		})
	}
}

// A run that did nothing answers empty lists, not nulls, and says that
// logs are kept forever.
func TestRetentionAnswerOfNothing(t *testing.T) {
	s, _ := newTestServer(t, Options{})
	rec := request(t, s, http.MethodPost, "/api/v1/admin/retention", nil)
	if want := `{"deleted_by_source":{},"dropped_days":[],"retention":"0 (keep forever)"}`; strings.TrimSpace(rec.Body.String()) != want {
		t.Fatalf("%d %s, want %s", rec.Code, rec.Body, want)
	}
}
