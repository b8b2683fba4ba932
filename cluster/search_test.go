package cluster

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/logengine/logengine/internal/entryjson"
	"github.com/logengine/logengine/search"
	"github.com/logengine/logengine/storage"
)

const testKey = "0123456789abcdef-peer"

func TestMain(m *testing.M) {
	// Bleve's analysis queue (search imports it) is process-wide.
	goleak.VerifyTestMain(m, goleak.IgnoreTopFunction("github.com/blevesearch/bleve_index_api.AnalysisWorker"))
}

// newTestCluster returns a cluster whose connections close with the test.
func newTestCluster(t testing.TB, opts Options) *Cluster {
	t.Helper()
	c, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

// fakeEngine answers searches over a slice by brute force, with the
// engine's cursors: the reference one node is.
type fakeEngine struct {
	entries []storage.Entry
}

func (f *fakeEngine) Search(_ context.Context, req search.Request) (*search.Result, error) {
	es := slices.Clone(f.entries)
	order := func(a, b storage.Entry) int {
		return compare(req.Sort, &nodeEntry{entry: a}, &nodeEntry{entry: b})
	}
	slices.SortFunc(es, order)
	if req.Cursor != "" {
		level, id, err := search.DecodeCursor(req.Cursor, req.Sort)
		if err != nil {
			return nil, err
		}
		at := storage.Entry{Level: level, ID: id}
		es = slices.DeleteFunc(es, func(e storage.Entry) bool { return order(e, at) <= 0 })
	}
	res := &search.Result{Entries: es}
	if len(es) > req.Limit {
		res.Entries = es[:req.Limit]
		last := es[req.Limit-1]
		res.NextCursor = search.EncodeCursor(req.Sort, last.Level, last.ID)
	}
	return res, nil
}

func (f *fakeEngine) Get(context.Context, storage.ID) (storage.Entry, error) {
	return storage.Entry{}, storage.ErrNotFound
}

func (f *fakeEngine) Aggregate(context.Context, search.AggRequest) (*search.AggResult, error) {
	return nil, fmt.Errorf("not in this test")
}

func (f *fakeEngine) Histogram(context.Context, search.HistRequest) (*search.HistResult, error) {
	return nil, fmt.Errorf("not in this test")
}

func (f *fakeEngine) WaitIndexed(context.Context, uint64) error { return nil }

// peerServer serves GET /api/v1/logs as a node named name holding
// entries, the way httpapi does for peer calls.
func peerServer(t testing.TB, name string, entries []storage.Entry) *httptest.Server {
	t.Helper()
	c := newTestCluster(t, Options{NodeName: name, PeerKey: testKey})
	s := c.Searcher(&fakeEngine{entries: entries})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get(PeerKeyHeader) != testKey {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		q := r.URL.Query()
		sort, _ := search.ParseSort(q.Get("sort"))
		limit, _ := strconv.Atoi(q.Get("limit"))
		res, err := s.Search(WithPeerCall(r.Context()), search.Request{Sort: sort, Limit: limit, Cursor: q.Get("cursor")})
		if err != nil {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		w.Header().Set(NodeHeader, name)
		_ = json.NewEncoder(w).Encode(map[string]any{"logs": entryjson.FromAll(res.Entries), "next_cursor": res.NextCursor})
	}))
	t.Cleanup(srv.Close)
	return srv
}

// randomEntries returns n entries of one node: few distinct times, so that
// sort keys tie often, and sequences from 1 as every node numbers them, so
// that ids repeat across nodes.
func randomEntries(r *rand.Rand, n int) []storage.Entry {
	out := make([]storage.Entry, n)
	for i := range out {
		nanos := int64(1764151200e9) + int64(r.IntN(4))*int64(time.Second)
		seq := uint64(i + 1)
		if r.IntN(3) == 0 {
			seq = uint64(r.IntN(3) + 1) // the same id on several nodes
		}
		out[i] = storage.Entry{
			ID: storage.ID{Nanos: nanos, Seq: seq}, Time: time.Unix(0, nanos).UTC(),
			Level: storage.Levels[r.IntN(len(storage.Levels))], Source: "s", Message: "m" + strconv.Itoa(i),
			Tags: []string{}, Fields: []storage.Field{{Name: "n", Value: storage.Int(int64(i))}},
		}
	}
	// One node never holds one id twice.
	slices.SortFunc(out, func(a, b storage.Entry) int { return a.ID.Compare(b.ID) })
	return slices.CompactFunc(out, func(a, b storage.Entry) bool { return a.ID == b.ID })
}

type taggedID struct {
	node string
	id   storage.ID
}

// TestSearchPagingMatchesOneNode splits random entries across nodes and
// pages through the cluster: the pages are those of one reference holding
// every entry in the cluster order, with no gap and no duplicate, for
// every sort and page size, whichever node the next page is asked of.
func TestSearchPagingMatchesOneNode(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for round := range 30 {
		nodes := 1 + r.IntN(4)
		var all []nodeEntry
		held := make([][]storage.Entry, nodes)
		for i := range nodes {
			held[i] = randomEntries(r, r.IntN(40))
			for j := range held[i] {
				held[i][j].Message = "node-" + strconv.Itoa(i) + " " + held[i][j].Message
			}
			for _, e := range held[i] {
				all = append(all, nodeEntry{node: "node-" + strconv.Itoa(i), entry: e})
			}
		}
		// Every node can coordinate: node i asks the others over HTTP.
		searchers := make([]*Searcher, nodes)
		urls := make([]string, nodes)
		for i := range nodes {
			urls[i] = peerServer(t, "node-"+strconv.Itoa(i), held[i]).URL
		}
		for i := range nodes {
			c := newTestCluster(t, Options{NodeName: "node-" + strconv.Itoa(i), PeerKey: testKey, Peers: urls})
			searchers[i] = c.Searcher(&fakeEngine{entries: held[i]})
		}
		for _, sort := range []search.Sort{search.SortTimeDesc, search.SortTimeAsc, search.SortSeverityDesc, search.SortSeverityAsc} {
			want := slices.Clone(all)
			slices.SortFunc(want, func(a, b nodeEntry) int { return compare(sort, &a, &b) })
			limit := 1 + r.IntN(7)
			var got []taggedID
			cursor := ""
			for pageNo := 0; ; pageNo++ {
				if pageNo > len(all)+1 {
					t.Fatalf("round %d sort %s: paging does not end", round, sort)
				}
				s := searchers[r.IntN(nodes)]
				res, err := s.Search(context.Background(), search.Request{Sort: sort, Limit: limit, Cursor: cursor})
				if err != nil {
					t.Fatalf("round %d sort %s page %d: %v", round, sort, pageNo, err)
				}
				if len(res.Missing) > 0 {
					t.Fatalf("missing peers %v", res.Missing)
				}
				if len(res.Entries) > limit || res.NextCursor != "" && len(res.Entries) < limit {
					t.Fatalf("round %d sort %s page %d: %d entries with limit %d, next %q", round, sort, pageNo, len(res.Entries), limit, res.NextCursor)
				}
				for _, e := range res.Entries {
					got = append(got, taggedID{node: nodeOf(t, all, e), id: e.ID})
				}
				if res.NextCursor == "" {
					break
				}
				cursor = res.NextCursor
			}
			if len(got) != len(want) {
				t.Fatalf("round %d sort %s limit %d: paged %d entries, want %d", round, sort, limit, len(got), len(want))
			}
			for i := range want {
				if got[i] != (taggedID{want[i].node, want[i].entry.ID}) {
					t.Fatalf("round %d sort %s limit %d: entry %d is %v, want %v of %s", round, sort, limit, i, got[i], want[i].entry.ID, want[i].node)
				}
			}
		}
	}
}

// nodeOf finds which node holds e, by its message, unique in a round.
func nodeOf(t testing.TB, all []nodeEntry, e storage.Entry) string {
	t.Helper()
	for _, a := range all {
		if a.entry.ID == e.ID && a.entry.Message == e.Message {
			return a.node
		}
	}
	t.Fatalf("entry %s %q is on no node", e.ID, e.Message)
	return ""
}

// TestSearchMissingPeers names the peers that are down or refuse the key,
// and still answers with the others.
func TestSearchMissingPeers(t *testing.T) {
	up := peerServer(t, "up", []storage.Entry{{ID: storage.ID{Nanos: 1e18, Seq: 1}, Time: time.Unix(0, 1e18), Level: storage.LevelInfo, Source: "s", Message: "from up"}})
	down := httptest.NewServer(http.NotFoundHandler())
	down.Close()
	c := newTestCluster(t, Options{NodeName: "me", PeerKey: testKey, Peers: []string{up.URL, down.URL}})
	res, err := c.Searcher(&fakeEngine{}).Search(context.Background(), search.Request{Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Entries) != 1 || res.Entries[0].Message != "from up" {
		t.Fatalf("entries %+v, want the one of the peer that is up", res.Entries)
	}
	if !slices.Equal(res.Missing, []string{down.URL}) {
		t.Fatalf("missing %v, want %v", res.Missing, []string{down.URL})
	}
	wrong := newTestCluster(t, Options{NodeName: "me", PeerKey: "another-key-0123456", Peers: []string{up.URL}})
	res, err = wrong.Searcher(&fakeEngine{}).Search(context.Background(), search.Request{Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Entries) != 0 || !slices.Equal(res.Missing, []string{up.URL}) {
		t.Fatalf("with a wrong key: %d entries, missing %v; want none and %s", len(res.Entries), res.Missing, up.URL)
	}
}

// TestSearchSkipsItself lists this node among its peers, as one config
// for every node does: it answers once, not twice.
func TestSearchSkipsItself(t *testing.T) {
	entries := randomEntries(rand.New(rand.NewPCG(3, 4)), 10)
	self := peerServer(t, "me", entries)
	c := newTestCluster(t, Options{NodeName: "me", PeerKey: testKey, Peers: []string{self.URL}})
	for range 2 {
		res, err := c.Searcher(&fakeEngine{entries: entries}).Search(context.Background(), search.Request{Limit: 100})
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Entries) != len(entries) || len(res.Missing) != 0 {
			t.Fatalf("%d entries, missing %v; want %d, none", len(res.Entries), res.Missing, len(entries))
		}
	}
	if got := c.peers(); len(got) != 0 {
		t.Fatalf("peers after asking itself: %v, want none", got)
	}
}
