package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/logengine/logengine/internal/entryjson"
	"github.com/logengine/logengine/storage"
)

// fakeTailer hands its entries to fn, then waits for the end.
type fakeTailer struct{ entries []storage.Entry }

func (f *fakeTailer) Tail(ctx context.Context, _ string, fn func(*storage.Entry) error) error {
	for i := range f.entries {
		if err := fn(&f.entries[i]); err != nil {
			return err
		}
	}
	<-ctx.Done()
	return ctx.Err()
}

func tailEntry(msg string) storage.Entry {
	return storage.Entry{ID: storage.ID{Nanos: 1e18, Seq: 1}, Time: time.Unix(0, 1e18).UTC(), Level: storage.LevelInfo, Source: "s", Message: msg}
}

// tailServer streams entries as a peer's /api/v1/tail does, then holds
// the stream open until the client leaves.
func tailServer(t testing.TB, name string, msgs ...string) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get(PeerKeyHeader) != testKey || r.URL.Path != "/api/v1/tail" {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		w.Header().Set(NodeHeader, name)
		w.Header().Set("Content-Type", "text/event-stream")
		_, _ = fmt.Fprint(w, ": tailing\n\n")
		for _, m := range msgs {
			e := tailEntry(m)
			b, _ := json.Marshal(entryjson.From(&e))
			_, _ = fmt.Fprintf(w, "event: log\ndata: %s\n\n", b)
		}
		w.(http.Flusher).Flush()
		<-r.Context().Done()
	}))
	t.Cleanup(srv.Close)
	return srv
}

// TestTailMergesStreams follows this node and two peers (one of them
// this node itself, listed among the peers): every entry comes once, and
// the tail ends, with every stream, when the client goes.
func TestTailMergesStreams(t *testing.T) {
	a := tailServer(t, "a", "a1", "a2")
	self := tailServer(t, "me", "never")
	c := newTestCluster(t, Options{NodeName: "me", PeerKey: testKey, Peers: []string{a.URL, self.URL}})
	tail := c.Tailer(&fakeTailer{entries: []storage.Entry{tailEntry("me1")}})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var mu sync.Mutex
	var got []string
	done := make(chan error, 1)
	go func() {
		done <- tail.Tail(ctx, "", func(e *storage.Entry) error {
			mu.Lock()
			defer mu.Unlock()
			got = append(got, e.Message)
			if len(got) == 3 {
				cancel()
			}
			return nil
		})
	}()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("tail ended with %v, want context.Canceled", err)
	}
	slices.Sort(got)
	if !slices.Equal(got, []string{"a1", "a2", "me1"}) {
		t.Fatalf("tail gave %v, want a1, a2, me1", got)
	}
}

// TestTailClientGone ends the whole tail when an entry of a peer cannot
// be handed on, with that error.
func TestTailClientGone(t *testing.T) {
	a := tailServer(t, "a", "a1")
	c := newTestCluster(t, Options{NodeName: "me", PeerKey: testKey, Peers: []string{a.URL}})
	gone := errors.New("the client is gone")
	err := c.Tailer(&fakeTailer{}).Tail(context.Background(), "", func(*storage.Entry) error { return gone })
	if !errors.Is(err, gone) {
		t.Fatalf("tail ended with %v, want %v", err, gone)
	}
}
