package httpapi

import (
	"bufio"
	"context"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/logengine/logengine/storage"
)

// blockingTailer tails until its context ends and counts the tails running.
type blockingTailer struct {
	*fakeDeps
	running atomic.Int32
	started chan struct{}
}

func (b *blockingTailer) Tail(ctx context.Context, _ string, _ func(*storage.Entry) error) error {
	b.running.Add(1)
	defer b.running.Add(-1)
	b.started <- struct{}{}
	<-ctx.Done()
	// A tail takes a moment to notice: the handler must wait for it.
	time.Sleep(50 * time.Millisecond)
	return ctx.Err()
}

// Shutdown ends live tails instead of waiting for their clients to leave,
// and returns only once every tail has stopped reading storage.
func TestShutdownEndsTails(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	f := &fakeDeps{}
	tailer := &blockingTailer{fakeDeps: f, started: make(chan struct{}, 2)}
	s, err := New(Options{Listen: "127.0.0.1:0"}, Deps{Ingester: f, Searcher: tailer, Tailer: tailer, Health: f, Admin: f})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Listen(); err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- s.Serve() }()

	ends := make(chan string, 2)
	for range 2 {
		resp, err := http.Get("http://" + s.Addr().String() + "/api/v1/tail?q=level:error")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		go func() {
			sc := bufio.NewScanner(resp.Body)
			last := ""
			for sc.Scan() {
				if l := sc.Text(); strings.HasPrefix(l, "data: ") {
					last = l
				}
			}
			ends <- last
		}()
		<-tailer.started
	}

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	start := time.Now()
	if err := s.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown with tails open: %v after %s", err, time.Since(start))
	}
	if n := tailer.running.Load(); n != 0 {
		t.Fatalf("%d tails still running when Shutdown returned", n)
	}
	for range 2 {
		if last := <-ends; last != `data: {"reason":"the server is shutting down"}` {
			t.Errorf("the stream ended with %q", last)
		}
	}
	if err := <-served; err != nil {
		t.Fatalf("Serve: %v", err)
	}
	http.DefaultClient.CloseIdleConnections()
}
