package httpapi

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"testing"

	"github.com/logengine/logengine/ingest"
	"github.com/logengine/logengine/storage"
)

// fakeProtocols answers the protocol endpoints with canned outcomes.
type fakeProtocols struct {
	bulk    ingest.BulkRequest
	loki    ingest.LokiRequest
	otlp    ingest.OTLPRequest
	res     ingest.Response
	results []ingest.Result
	err     error
}

func (f *fakeProtocols) IngestBulk(_ context.Context, req ingest.BulkRequest) (*ingest.BulkBatch, ingest.Response, error) {
	f.bulk = req
	if f.err != nil {
		return nil, ingest.Response{}, f.err
	}
	b := &ingest.BulkBatch{Results: f.results}
	for i := range f.results {
		b.Actions = append(b.Actions, ingest.BulkAction{Op: "create", Index: "logs", Result: i})
	}
	b.Actions = append(b.Actions, ingest.BulkAction{Op: "delete", Index: "logs", DocID: "x", Result: -1, Err: ingest.ErrUnsupportedAction})
	return b, f.res, nil
}

func (f *fakeProtocols) IngestLoki(_ context.Context, req ingest.LokiRequest) (ingest.Response, error) {
	f.loki = req
	return f.res, f.err
}

func (f *fakeProtocols) IngestOTLP(_ context.Context, req ingest.OTLPRequest) (ingest.Response, error) {
	f.otlp = req
	return f.res, f.err
}

func newProtocolServer(t *testing.T, keys ...Key) (*Server, *fakeProtocols) {
	t.Helper()
	f := &fakeDeps{}
	p := &fakeProtocols{}
	s, err := New(Options{Keys: keys}, Deps{Ingester: f, Searcher: f, Health: f, Admin: f, Protocols: p})
	if err != nil {
		t.Fatal(err)
	}
	return s, p
}

func TestProtocolAuth(t *testing.T) {
	const secret = "shipper-secret-0123456789"
	s, _ := newProtocolServer(t, Key{Name: "shipper", Role: RoleIngest, Secret: secret})
	basic := func(user, pass string) string {
		return "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+pass))
	}
	for _, tc := range []struct {
		name, auth string
		want       int
	}{
		{"bearer", "Bearer " + secret, http.StatusOK},
		{"ApiKey, the key itself", "ApiKey " + secret, http.StatusOK},
		{"ApiKey, base64 of id:key", "ApiKey " + base64.StdEncoding.EncodeToString([]byte("shipper:"+secret)), http.StatusOK},
		{"basic, key as password", basic("tenant", secret), http.StatusOK},
		{"basic, key as user", basic(secret, ""), http.StatusOK},
		{"basic, wrong password", basic(secret, "wrong"), http.StatusUnauthorized},
		{"ApiKey, wrong", "ApiKey " + base64.StdEncoding.EncodeToString([]byte("shipper:nope")), http.StatusUnauthorized},
		{"none", "", http.StatusUnauthorized},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := request(t, s, http.MethodGet, "/", nil, "Authorization", tc.auth)
			if rec.Code != tc.want {
				t.Fatalf("%d %s", rec.Code, rec.Body)
			}
			// Elasticsearch clients check the product header on every answer.
			if rec.Header().Get("X-Elastic-Product") != "Elasticsearch" {
				t.Errorf("no X-Elastic-Product header")
			}
		})
	}
}

func TestESBulkAnswer(t *testing.T) {
	s, p := newProtocolServer(t)
	p.results = []ingest.Result{
		{Line: 2, Entry: storage.Entry{ID: storage.ID{Nanos: 1, Seq: 7}}},
		{Line: 4, Err: errors.New("message is empty")},
		{Line: 6, Dropped: true},
	}
	p.res = ingest.Response{Accepted: 1, Rejected: 1, Dropped: 1, LastSeq: 7}
	rec := request(t, s, http.MethodPost, "/logs/_bulk?source=s&parse_message=true", []byte("{}\n"),
		"Content-Type", "application/vnd.elasticsearch+x-ndjson; compatible-with=9")
	if rec.Code != http.StatusOK {
		t.Fatalf("%d %s", rec.Code, rec.Body)
	}
	if p.bulk.Index != "logs" || p.bulk.Source != "s" || !p.bulk.ParseMessage {
		t.Errorf("request %+v", p.bulk)
	}
	var out struct {
		Errors bool
		Items  []map[string]struct {
			ID     *string `json:"_id"`
			Status int
			Result string
			Error  *struct{ Type, Reason string }
		}
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &out); err != nil {
		t.Fatal(err)
	}
	if !out.Errors || len(out.Items) != 4 {
		t.Fatalf("answer %s", rec.Body)
	}
	want := []struct {
		status int
		result string
	}{{201, "created"}, {400, ""}, {200, "noop"}, {400, ""}}
	for i, w := range want {
		it := out.Items[i]["create"]
		if i == 3 {
			it = out.Items[i]["delete"]
		}
		if it.Status != w.status || it.Result != w.result || (w.status == 400) != (it.Error != nil) {
			t.Errorf("item %d: %+v", i, it)
		}
	}
	if id := out.Items[0]["create"].ID; id == nil || *id != (storage.ID{Nanos: 1, Seq: 7}).String() {
		t.Errorf("item 0 id %v", id)
	}

	p.err = &ingest.BodyError{Msg: "malformed action/metadata line 1"}
	if rec := request(t, s, http.MethodPost, "/_bulk", []byte("x\n")); rec.Code != http.StatusBadRequest || rec.Header().Get("X-Elastic-Product") == "" {
		t.Errorf("malformed body: %d", rec.Code)
	}
	if rec := request(t, s, http.MethodPost, "/_bulk?refresh=soon", nil); rec.Code != http.StatusBadRequest {
		t.Errorf("bad refresh: %d", rec.Code)
	}
}

func TestLokiAndOTLPAnswers(t *testing.T) {
	s, p := newProtocolServer(t)
	p.res = ingest.Response{Accepted: 2}
	if rec := request(t, s, http.MethodPost, "/loki/api/v1/push", []byte("x"), "Content-Type", "application/x-protobuf"); rec.Code != http.StatusNoContent || !p.loki.Protobuf {
		t.Errorf("loki protobuf: %d %+v", rec.Code, p.loki)
	}
	if rec := request(t, s, http.MethodPost, "/loki/api/v1/push", []byte("{}"), "Content-Type", "application/json"); rec.Code != http.StatusNoContent || p.loki.Protobuf {
		t.Errorf("loki json: %d", rec.Code)
	}
	p.res = ingest.Response{Accepted: 1, Rejected: 1, Errors: []ingest.LineError{{Line: 2, Error: "message is empty"}}}
	if rec := request(t, s, http.MethodPost, "/loki/api/v1/push", []byte("{}"), "Content-Type", "application/json"); rec.Code != http.StatusBadRequest {
		t.Errorf("loki with a rejected entry: %d", rec.Code)
	}

	rec := request(t, s, http.MethodPost, "/v1/logs", []byte("{}"), "Content-Type", "application/json")
	if rec.Code != http.StatusOK || !p.otlp.JSON || rec.Body.String() != `{"partialSuccess":{"errorMessage":"record 2: message is empty","rejectedLogRecords":"1"}}` {
		t.Errorf("otlp json: %d %s", rec.Code, rec.Body)
	}
	if rec := request(t, s, http.MethodPost, "/v1/logs", nil, "Content-Type", "text/plain"); rec.Code != http.StatusUnsupportedMediaType {
		t.Errorf("otlp text: %d", rec.Code)
	}
	p.err = storage.ErrOverloaded
	rec = request(t, s, http.MethodPost, "/v1/logs", nil, "Content-Type", "application/x-protobuf")
	if rec.Code != http.StatusTooManyRequests || rec.Header().Get("Retry-After") == "" || rec.Header().Get("Content-Type") != "application/x-protobuf" {
		t.Errorf("otlp overloaded: %d %v", rec.Code, rec.Header())
	}
}
