package httpapi

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/logengine/logengine/ingest"
	"github.com/logengine/logengine/retention"
	"github.com/logengine/logengine/search"
	"github.com/logengine/logengine/storage"
)

type fakeDeps struct {
	lastIngest ingest.Request
	lastSearch search.Request
}

func (f *fakeDeps) Ingest(_ context.Context, req ingest.Request) (ingest.Response, error) {
	f.lastIngest = req
	if strings.Contains(string(req.Body), "bad") {
		return ingest.Response{Rejected: 1, Errors: []ingest.LineError{{Line: 1, Error: "message is empty"}}}, nil
	}
	return ingest.Response{Accepted: 1, LastSeq: 1}, nil
}
func (f *fakeDeps) Search(_ context.Context, req search.Request) (*search.Result, error) {
	f.lastSearch = req
	if req.Query == "(" {
		_, err := search.Parse(req.Query)
		return nil, err
	}
	e := storage.Entry{ID: storage.ID{Nanos: 1764151200e9, Seq: 1}, Time: time.Unix(1764151200, 0), Level: storage.LevelError, Source: "api", Message: "boom",
		Fields: []storage.Field{{Name: "status", Value: storage.Int(504)}}}
	return &search.Result{Entries: []storage.Entry{e}}, nil
}
func (f *fakeDeps) Get(_ context.Context, id storage.ID) (storage.Entry, error) {
	return storage.Entry{}, storage.ErrNotFound
}
func (f *fakeDeps) Aggregate(context.Context, search.AggRequest) (*search.AggResult, error) {
	return &search.AggResult{Groups: []search.Group{{Key: []any{"api"}, Count: 2}}, Total: 3, Other: 1}, nil
}
func (f *fakeDeps) Histogram(context.Context, search.HistRequest) (*search.HistResult, error) {
	return &search.HistResult{Interval: 5 * time.Minute}, nil
}
func (f *fakeDeps) WaitIndexed(context.Context, uint64) error { return nil }
func (f *fakeDeps) Ready() (Readiness, error)                 { return Readiness{}, nil }
func (f *fakeDeps) Stats(context.Context) (Stats, error)      { return Stats{}, nil }
func (f *fakeDeps) Retention(context.Context) (retention.Result, error) {
	return retention.Result{}, nil
}
func (f *fakeDeps) Reindex(context.Context) error { return nil }
func (f *fakeDeps) Backup(_ context.Context, w io.Writer, _ uint64, start func(uint64)) (uint64, error) {
	start(7)
	_, err := w.Write([]byte("backup"))
	return 7, err
}

func newTestServer(t *testing.T, opts Options) (*Server, *fakeDeps) {
	t.Helper()
	f := &fakeDeps{}
	s, err := New(opts, Deps{Ingester: f, Searcher: f, Health: f, Admin: f})
	if err != nil {
		t.Fatal(err)
	}
	return s, f
}

func request(t *testing.T, s *Server, method, path string, body []byte, headers ...string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(method, path, bytes.NewReader(body))
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	rec := httptest.NewRecorder()
	s.Handler().ServeHTTP(rec, req)
	return rec
}

func TestAuthRoles(t *testing.T) {
	adminHash := sha256.Sum256([]byte("admin-secret-0123456789"))
	s, _ := newTestServer(t, Options{Keys: []Key{
		{Name: "shipper", Role: RoleIngest, Secret: "ingest-secret-0123456789"},
		{Name: "grafana", Role: RoleQuery, Secret: "query-secret-0123456789"},
		{Name: "ops", Role: RoleAdmin, Secret: "sha256:" + hex.EncodeToString(adminHash[:])},
	}})
	ingestBody := []byte(`{"message":"x"}`)
	cases := []struct {
		name, method, path string
		headers            []string
		want               int
	}{
		{"health needs no key", "GET", "/healthz", nil, 200},
		{"ready needs no key", "GET", "/readyz", nil, 200},
		{"no key", "POST", "/api/v1/logs", nil, 401},
		{"wrong key", "POST", "/api/v1/logs", []string{"Authorization", "Bearer nope-nope-nope-nope"}, 401},
		{"ingest key ingests", "POST", "/api/v1/logs", []string{"Authorization", "Bearer ingest-secret-0123456789"}, 200},
		{"X-API-Key works", "POST", "/api/v1/logs", []string{"X-API-Key", "ingest-secret-0123456789"}, 200},
		{"ingest key cannot query", "GET", "/api/v1/logs", []string{"Authorization", "Bearer ingest-secret-0123456789"}, 403},
		{"query key queries", "GET", "/api/v1/logs", []string{"Authorization", "Bearer query-secret-0123456789"}, 200},
		{"query key cannot ingest", "POST", "/api/v1/logs", []string{"Authorization", "Bearer query-secret-0123456789"}, 403},
		{"query key cannot admin", "POST", "/api/v1/admin/retention", []string{"Authorization", "Bearer query-secret-0123456789"}, 403},
		{"admin (hashed) does everything", "POST", "/api/v1/logs", []string{"Authorization", "Bearer admin-secret-0123456789"}, 200},
		{"admin runs retention", "POST", "/api/v1/admin/retention", []string{"Authorization", "Bearer admin-secret-0123456789"}, 200},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			headers := append([]string{"Content-Type", "application/json"}, c.headers...)
			rec := request(t, s, c.method, c.path, ingestBody, headers...)
			if rec.Code != c.want {
				t.Fatalf("%s %s = %d %s, want %d", c.method, c.path, rec.Code, rec.Body, c.want)
			}
			if c.want >= 400 {
				var e map[string]string
				if json.Unmarshal(rec.Body.Bytes(), &e) != nil || e["error"] == "" {
					t.Fatalf("error body %q has no error message", rec.Body)
				}
			}
		})
	}
}

func TestShortKeyRefused(t *testing.T) {
	if _, err := New(Options{Keys: []Key{{Name: "k", Role: RoleAdmin, Secret: "short"}}}, Deps{}); err == nil {
		t.Fatal("want an error for a short key")
	}
	if _, err := New(Options{Keys: []Key{{Name: "k", Role: "root", Secret: "long-enough-secret-123"}}}, Deps{}); err == nil {
		t.Fatal("want an error for an unknown role")
	}
}

func TestRateLimit(t *testing.T) {
	s, _ := newTestServer(t, Options{RatePerSecond: 1, Burst: 2})
	codes := []int{}
	for i := 0; i < 4; i++ {
		rec := request(t, s, "GET", "/api/v1/logs", nil)
		codes = append(codes, rec.Code)
		if rec.Code == 429 && rec.Header().Get("Retry-After") == "" {
			t.Fatal("429 without Retry-After")
		}
	}
	if codes[0] != 200 || codes[1] != 200 || codes[2] != 429 || codes[3] != 429 {
		t.Fatalf("codes = %v, want the burst of 2 then 429s", codes)
	}
	if rec := request(t, s, "GET", "/healthz", nil); rec.Code != 200 {
		t.Fatalf("/healthz is rate limited: %d", rec.Code)
	}
}

func TestIngestBodies(t *testing.T) {
	s, f := newTestServer(t, Options{MaxBodyBytes: 1024})
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	_, _ = zw.Write([]byte(`{"message":"zipped"}`))
	_ = zw.Close()
	cases := []struct {
		name    string
		body    []byte
		headers []string
		want    int
		format  ingest.Format
	}{
		{"json", []byte(`{"message":"x"}`), []string{"Content-Type", "application/json"}, 200, ingest.FormatJSON},
		{"ndjson", []byte(`{"message":"x"}`), []string{"Content-Type", "application/x-ndjson"}, 200, ingest.FormatNDJSON},
		{"jsonl", []byte(`{"message":"x"}`), []string{"Content-Type", "application/jsonl"}, 200, ingest.FormatNDJSON},
		{"text with charset", []byte("hello"), []string{"Content-Type", "text/plain; charset=utf-8"}, 200, ingest.FormatText},
		{"curl -d default is sniffed", []byte(`{"message":"x"}`), []string{"Content-Type", "application/x-www-form-urlencoded"}, 200, ingest.FormatAuto},
		{"no content type is sniffed", []byte(`hello`), nil, 200, ingest.FormatAuto},
		{"gzip", gz.Bytes(), []string{"Content-Type", "application/json", "Content-Encoding", "gzip"}, 200, ingest.FormatJSON},
		{"unknown type", []byte(`x`), []string{"Content-Type", "image/png"}, 415, 0},
		{"unknown encoding", []byte(`x`), []string{"Content-Type", "text/plain", "Content-Encoding", "br"}, 415, 0},
		{"too large", bytes.Repeat([]byte("x"), 2048), []string{"Content-Type", "text/plain"}, 413, 0},
		{"nothing accepted", []byte("bad"), []string{"Content-Type", "text/plain"}, 400, ingest.FormatText},
		{"bad wait", []byte("x"), []string{"Content-Type", "text/plain"}, 400, ingest.FormatText},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path := "/api/v1/logs?source=svc&tags=a,b"
			if c.name == "bad wait" {
				path += "&wait=forever"
			}
			rec := request(t, s, "POST", path, c.body, c.headers...)
			if rec.Code != c.want {
				t.Fatalf("= %d %s, want %d", rec.Code, rec.Body, c.want)
			}
			if c.want == 200 {
				if f.lastIngest.Format != c.format || f.lastIngest.Source != "svc" || strings.Join(f.lastIngest.Tags, ",") != "a,b" {
					t.Fatalf("ingest request = %+v", f.lastIngest)
				}
				if !strings.Contains(rec.Body.String(), `"errors":[]`) {
					t.Fatalf("answer %s lacks an empty errors list", rec.Body)
				}
			}
		})
	}
}

func TestSearchParams(t *testing.T) {
	s, f := newTestServer(t, Options{})
	rec := request(t, s, "GET", "/api/v1/logs?q=level:error&from=now-15m&to=now&sort=timestamp&limit=5", nil)
	if rec.Code != 200 {
		t.Fatalf("search = %d %s", rec.Code, rec.Body)
	}
	if got := f.lastSearch; got.Query != "level:error" || got.Limit != 5 || got.Sort != search.SortTimeAsc || got.To.Sub(got.From) != 15*time.Minute {
		t.Fatalf("search request = %+v", got)
	}
	want := `{"logs":[{"id":"` + (storage.ID{Nanos: 1764151200e9, Seq: 1}).String() + `","timestamp":"2025-11-26T10:00:00Z","level":"error","severity":17,"source":"api","message":"boom","tags":[],"fields":{"status":504}}],"took_ms":0}`
	if strings.TrimSpace(rec.Body.String()) != want {
		t.Fatalf("body\n%s\nwant\n%s", rec.Body, want)
	}
	for path, wantCode := range map[string]int{
		"/api/v1/logs?limit=0":                        400,
		"/api/v1/logs?limit=10001":                    400,
		"/api/v1/logs?sort=size":                      400,
		"/api/v1/logs?from=yesterday":                 400,
		"/api/v1/logs?from=now-1h&to=now-2h":          400,
		"/api/v1/logs?q=(":                            400,
		"/api/v1/logs/NOTANID":                        400,
		"/api/v1/logs/01JDX4K5R3ZC8Y6W0000000042":     404,
		"/api/v1/aggregate":                           400,
		"/api/v1/histogram?interval=fast":             400,
		"/api/v1/histogram?group_by=source,level":     400,
		"/api/v1/nothing":                             404,
		"/api/v1/logs?from=1764151200000&to=now%2B1d": 200,
	} {
		if rec := request(t, s, "GET", path, nil); rec.Code != wantCode {
			t.Errorf("GET %s = %d %s, want %d", path, rec.Code, rec.Body, wantCode)
		}
	}
	rec = request(t, s, "POST", "/api/v1/search", []byte(`{"q":"timeout","limit":3,"sort":"-severity"}`), "Content-Type", "application/json")
	if rec.Code != 200 || f.lastSearch.Query != "timeout" || f.lastSearch.Limit != 3 || f.lastSearch.Sort != search.SortSeverityDesc {
		t.Fatalf("POST search = %d %s, request %+v", rec.Code, rec.Body, f.lastSearch)
	}
	// The body is JSON whatever the Content-Type says (curl -d sends a
	// form type); times may be epoch milliseconds as numbers; a misspelt
	// key is an error, not an unfiltered search.
	for _, tc := range []struct {
		name, contentType, body string
		wantCode                int
		wantQuery               string
	}{
		{"form content type", "application/x-www-form-urlencoded", `{"q":"level:fatal","limit":1}`, 200, "level:fatal"},
		{"no content type", "", `{"q":"timeout"}`, 200, "timeout"},
		{"number time", "application/json", `{"q":"x","from":1764151200000}`, 200, "x"},
		{"misspelt key", "application/json", `{"qurey":"timeout"}`, 400, ""},
		{"not JSON", "text/plain", `q=timeout`, 400, ""},
		{"empty", "application/json", ``, 400, ""},
		{"time of the wrong kind", "application/json", `{"from":true}`, 400, ""},
	} {
		f.lastSearch = search.Request{}
		rec := request(t, s, "POST", "/api/v1/search", []byte(tc.body), "Content-Type", tc.contentType)
		if rec.Code != tc.wantCode || (tc.wantCode == 200 && f.lastSearch.Query != tc.wantQuery) {
			t.Errorf("POST search, %s: %d %s (query %q), want %d and query %q", tc.name, rec.Code, rec.Body, f.lastSearch.Query, tc.wantCode, tc.wantQuery)
		}
		if tc.name == "number time" && f.lastSearch.From.UnixMilli() != 1764151200000 {
			t.Errorf("POST search with from as a number: From = %v", f.lastSearch.From)
		}
	}
	rec = request(t, s, "GET", "/api/v1/aggregate?group_by=source&limit=1", nil)
	if strings.TrimSpace(rec.Body.String()) != `{"buckets":[{"key":"api","count":2}],"total":3,"other":1}` {
		t.Fatalf("aggregate body %s", rec.Body)
	}
	rec = request(t, s, "GET", "/api/v1/admin/backup", nil)
	if rec.Header().Get("X-Backup-Version") != "7" || rec.Body.String() != "backup" {
		t.Fatalf("backup: headers %v body %q", rec.Header(), rec.Body)
	}
}
