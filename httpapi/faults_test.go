package httpapi

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/logengine/logengine/search"
)

// faultySearcher fails searches the ways a damaged index could reach a
// handler: with an error that says a part is out of service, or a panic.
type faultySearcher struct {
	*fakeDeps
}

type outOfService struct{}

func (outOfService) Error() string {
	return "keyword index of 2026-11-20 is damaged (2026-11-20/store/00000000000a.zap): it is being rebuilt from storage"
}
func (outOfService) Unavailable() bool { return true }

func (f faultySearcher) Search(ctx context.Context, req search.Request) (*search.Result, error) {
	switch req.Query {
	case "unavailable":
		return nil, outOfService{}
	case "panic":
		panic("runtime error: slice bounds out of range")
	}
	return f.fakeDeps.Search(ctx, req)
}

// A request whose answer cannot be given is answered with a JSON error:
// 503 naming the day for a part out of service, 500 for a panic, never a
// dropped connection.
func TestFaultsAnswerJSON(t *testing.T) {
	f := &fakeDeps{}
	s, err := New(Options{}, Deps{Ingester: f, Searcher: faultySearcher{f}, Health: f, Admin: f})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		q    string
		code int
		want string
	}{
		{"unavailable", http.StatusServiceUnavailable, "2026-11-20"},
		{"panic", http.StatusInternalServerError, "internal error"},
	} {
		rec := request(t, s, http.MethodGet, "/api/v1/logs?q="+tc.q, nil)
		var body struct{ Error string }
		if rec.Code != tc.code || json.Unmarshal(rec.Body.Bytes(), &body) != nil || !strings.Contains(body.Error, tc.want) {
			t.Errorf("q=%s: %d %s, want %d and a JSON error with %q", tc.q, rec.Code, rec.Body, tc.code, tc.want)
		}
	}
}

// damagedHealth is ready with a damaged index day.
type damagedHealth struct {
	*fakeDeps
}

func (damagedHealth) Ready() (Readiness, error) {
	return Readiness{CommittedSeq: 7, IndexDamaged: []DamagedIndexDay{{
		Day: "2026-11-20", File: "2026-11-20/store/00000000000a.zap", Error: "segment fails its checksum",
		Since: time.Date(2026, 11, 21, 8, 0, 0, 0, time.UTC),
	}}}, nil
}

// A damaged index day makes /readyz say degraded, with the day, and 200:
// answers stay exact.
func TestReadyzDegraded(t *testing.T) {
	f := &fakeDeps{}
	s, err := New(Options{}, Deps{Ingester: f, Searcher: f, Health: damagedHealth{f}, Admin: f})
	if err != nil {
		t.Fatal(err)
	}
	rec := request(t, s, http.MethodGet, "/readyz", nil)
	want := `{"committed_seq":7,"index_damaged":[{"day":"2026-11-20","error":"segment fails its checksum","file":"2026-11-20/store/00000000000a.zap","since":"2026-11-21T08:00:00Z"}],"index_lag_entries":0,"index_lag_seconds":0,"status":"degraded"}`
	if rec.Code != http.StatusOK || strings.TrimSpace(rec.Body.String()) != want {
		t.Fatalf("%d %s\nwant 200 %s", rec.Code, rec.Body, want)
	}
}
