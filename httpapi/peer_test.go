package httpapi

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/logengine/logengine/cluster"
	"github.com/logengine/logengine/search"
)

// missingSearcher answers like a cluster with a peer down, and records
// whether it was called as a peer.
type missingSearcher struct {
	*fakeDeps
	peerCall bool
}

func (m *missingSearcher) Search(ctx context.Context, req search.Request) (*search.Result, error) {
	m.peerCall = cluster.IsPeerCall(ctx)
	res, err := m.fakeDeps.Search(ctx, req)
	if err == nil && !m.peerCall {
		res.Missing = []string{"http://10.0.0.9:8080"}
	}
	return res, err
}

func (m *missingSearcher) Aggregate(ctx context.Context, req search.AggRequest) (*search.AggResult, error) {
	res, err := m.fakeDeps.Aggregate(ctx, req)
	res.Missing, res.Inexact = []string{"http://10.0.0.9:8080"}, true
	return res, err
}

func TestPeerCalls(t *testing.T) {
	key := "the-peer-key-0123456789"
	f := &fakeDeps{}
	ms := &missingSearcher{fakeDeps: f}
	s, err := New(Options{PeerKey: key, NodeName: "node-a", Keys: []Key{{Name: "q", Role: RoleQuery, Secret: "query-key-0123456789"}}},
		Deps{Ingester: f, Searcher: ms, Health: f, Admin: f})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name     string
		path     string
		headers  []string
		code     int
		peerCall bool
		has      []string
	}{
		{"peer call with the key, no API key needed", "/api/v1/logs", []string{cluster.PeerKeyHeader, key}, 200, true, nil},
		{"wrong peer key", "/api/v1/logs", []string{cluster.PeerKeyHeader, "nope", "X-API-Key", "query-key-0123456789"}, 401, false, []string{"cluster.peer_key"}},
		{"empty peer key", "/api/v1/logs", []string{cluster.PeerKeyHeader, ""}, 401, false, nil},
		{"the peer key gives no admin role", "/api/v1/admin/retention", []string{cluster.PeerKeyHeader, key}, 401, false, nil},
		{"a user's search is partial", "/api/v1/logs", []string{"X-API-Key", "query-key-0123456789"}, 200, false, []string{`"partial":true`, `"missing_peers":["http://10.0.0.9:8080"]`}},
		{"partial=deny", "/api/v1/logs?partial=deny", []string{"X-API-Key", "query-key-0123456789"}, 503, false, []string{`"missing_peers":["http://10.0.0.9:8080"]`, "partial=deny"}},
		{"partial=maybe", "/api/v1/logs?partial=maybe", []string{"X-API-Key", "query-key-0123456789"}, 400, false, []string{"partial=allow"}},
		{"aggregate not exact", "/api/v1/aggregate?group_by=source", []string{"X-API-Key", "query-key-0123456789"}, 200, false, []string{`"exact":false`, `"partial":true`}},
		{"aggregate partial=deny", "/api/v1/aggregate?group_by=source&partial=deny", []string{"X-API-Key", "query-key-0123456789"}, 503, false, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ms.peerCall = false
			method := http.MethodGet
			if strings.Contains(tc.path, "admin") {
				method = http.MethodPost
			}
			rec := request(t, s, method, tc.path, nil, tc.headers...)
			if rec.Code != tc.code {
				t.Fatalf("%d %s, want %d", rec.Code, rec.Body, tc.code)
			}
			if ms.peerCall != tc.peerCall {
				t.Fatalf("peer call %v, want %v", ms.peerCall, tc.peerCall)
			}
			if tc.peerCall && rec.Header().Get(cluster.NodeHeader) != "node-a" {
				t.Fatalf("%s: %q, want node-a", cluster.NodeHeader, rec.Header().Get(cluster.NodeHeader))
			}
			for _, h := range tc.has {
				if !strings.Contains(rec.Body.String(), h) {
					t.Fatalf("answer %s lacks %s", rec.Body, h)
				}
			}
			if tc.code == 200 && !strings.Contains(tc.name, "partial") && !strings.Contains(tc.name, "exact") {
				var m map[string]any
				_ = json.Unmarshal(rec.Body.Bytes(), &m)
				if _, ok := m["partial"]; ok {
					t.Fatalf("a complete answer says partial: %s", rec.Body)
				}
			}
		})
	}
	lone, _ := newTestServer(t, Options{})
	if code := request(t, lone, http.MethodGet, "/api/v1/logs", nil, cluster.PeerKeyHeader, key).Code; code != http.StatusUnauthorized {
		t.Fatalf("a node without a peer key answered a peer call %d, want 401", code)
	}
}
