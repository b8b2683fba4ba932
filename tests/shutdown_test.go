package tests

import (
	"bufio"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// sseEvent is one Server-Sent Event of a live tail.
type sseEvent struct{ name, data string }

// openTail opens /api/v1/tail?q= and returns its events; the channel
// closes when the stream does.
func openTail(t *testing.T, d *daemon, q string) <-chan sseEvent {
	t.Helper()
	resp, err := http.Get(d.url + "/api/v1/tail?q=" + q)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		resp.Body.Close()
		t.Fatalf("tail %q: %d", q, resp.StatusCode)
	}
	t.Cleanup(func() { resp.Body.Close() })
	events := make(chan sseEvent, 1000)
	go func() {
		defer close(events)
		sc := bufio.NewScanner(resp.Body)
		name := ""
		for sc.Scan() {
			line := sc.Text()
			switch {
			case strings.HasPrefix(line, "event: "):
				name = strings.TrimPrefix(line, "event: ")
			case strings.HasPrefix(line, "data: "):
				events <- sseEvent{name, strings.TrimPrefix(line, "data: ")}
			}
		}
	}()
	return events
}

// TestStopWithLiveTailOpen stops the daemon (SIGTERM) while live tails are
// open and ingest goes on: the streams end with an "end" event saying why,
// the daemon exits 0 within seconds instead of waiting out its shutdown
// timeout, logs no error, and every entry it acknowledged is there after a
// restart, which logs no error either.
func TestStopWithLiveTailOpen(t *testing.T) {
	dir := t.TempDir()
	d := startDaemon(t, dir, "--retention", "0")
	busy := openTail(t, d, "")
	idle := openTail(t, d, "level:fatal")

	// The stream is live: a marker comes through.
	deadline := time.After(30 * time.Second)
	for seen := false; !seen; {
		if code, a := d.ingest("application/json", `{"message":"marker"}`, ""); code != http.StatusOK || a.Accepted != 1 {
			t.Fatalf("ingest: %d %+v", code, a)
		}
		select {
		case ev := <-busy:
			seen = ev.name == "log" && strings.Contains(ev.data, "marker")
		case <-time.After(200 * time.Millisecond):
		case <-deadline:
			t.Fatal("the tail never showed a marker")
		}
	}

	// Ingest goes on while the daemon stops; what it acknowledged must
	// survive the stop.
	var (
		mu    sync.Mutex
		acked []string
		wg    sync.WaitGroup
		quit  = make(chan struct{})
	)
	wg.Go(func() {
		for i := 0; ; i++ {
			select {
			case <-quit:
				return
			default:
			}
			msg := fmt.Sprintf("during stop %d", i)
			resp, err := http.Post(d.url+"/api/v1/logs", "application/json", strings.NewReader(fmt.Sprintf(`{"message":%q}`, msg)))
			if err != nil {
				continue // the listener has closed
			}
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				mu.Lock()
				acked = append(acked, msg)
				mu.Unlock()
			}
			time.Sleep(5 * time.Millisecond)
		}
	})
	for {
		mu.Lock()
		n := len(acked)
		mu.Unlock()
		if n >= 20 {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}

	start := time.Now()
	d.stop() // fails unless the exit status is 0
	took := time.Since(start)
	close(quit)
	wg.Wait()
	if took > 10*time.Second {
		t.Errorf("the stop took %s with live tails open", took.Round(time.Millisecond))
	}
	for name, events := range map[string]<-chan sseEvent{"busy": busy, "idle": idle} {
		var end *sseEvent
		for ev := range events {
			if ev.name == "end" {
				end = &ev
			}
		}
		if end == nil || !strings.Contains(end.data, "shutting down") {
			t.Errorf("%s tail: last event %+v, want an end saying the server is shutting down", name, end)
		}
	}
	logs := d.logs()
	if !strings.Contains(logs, "stopped cleanly") {
		t.Errorf("the daemon did not log a clean stop:\n%s", logs)
	}
	if strings.Contains(logs, "level=ERROR") {
		t.Errorf("the daemon logged an error while stopping:\n%s", logs)
	}

	r := startDaemon(t, dir, "--retention", "0")
	got := map[string]bool{}
	for _, e := range r.all("") {
		got[e.Message] = true
	}
	for _, msg := range acked {
		if !got[msg] {
			t.Errorf("%q was acknowledged before the stop and is gone after it", msg)
		}
	}
	r.stop()
	if logs := r.logs(); strings.Contains(logs, "level=ERROR") {
		t.Errorf("the restarted daemon logged an error:\n%s", logs)
	}
}
