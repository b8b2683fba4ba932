package tests

import (
	"bufio"
	"encoding/json"
	"net/http"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// TestLiveTail follows /api/v1/tail while logs are ingested: matching
// entries arrive in order, others do not; logengine query --follow prints
// them too.
func TestLiveTail(t *testing.T) {
	d := startDaemon(t, t.TempDir())
	if code, _ := d.do(http.MethodGet, "/api/v1/tail?q=(", "", nil); code != http.StatusBadRequest {
		t.Fatalf("malformed tail query: %d, want 400", code)
	}
	resp, err := http.Get(d.url + "/api/v1/tail?q=" + "level:error")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Fatalf("Content-Type %q", ct)
	}
	follow := exec.Command(binary, "query", "--server", d.url, "--follow", "--output", "json", "level:error")
	out, err := follow.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := follow.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = follow.Process.Kill(); _ = follow.Wait() }()

	events := make(chan string, 100)
	go func() {
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			if l := sc.Text(); strings.HasPrefix(l, "data: ") {
				events <- strings.TrimPrefix(l, "data: ")
			}
		}
		close(events)
	}()
	cliLines := make(chan string, 100)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			cliLines <- sc.Text()
		}
		close(cliLines)
	}()

	// The CLI connects when it likes: send markers until it shows one, then
	// skip the markers in both streams.
	deadline := time.Now().Add(30 * time.Second)
	for ready := false; !ready; {
		d.ingest("application/json", `{"message":"marker","level":"error"}`, "")
		select {
		case l := <-cliLines:
			ready = strings.Contains(l, "marker")
		case <-time.After(200 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatal("logengine query --follow never showed a marker")
		}
	}
	d.ingest("application/x-ndjson", "{\"message\":\"one\",\"level\":\"error\"}\n{\"message\":\"quiet\",\"level\":\"info\"}\n", "")
	d.ingest("application/x-ndjson", "{\"message\":\"two\",\"level\":\"error\"}\n", "")
	for _, ch := range []chan string{events, cliLines} {
		var got []string
		timeout := time.After(20 * time.Second)
		for len(got) < 2 {
			select {
			case data, ok := <-ch:
				if !ok {
					t.Fatalf("stream ended after %v", got)
				}
				var e entry
				if err := json.Unmarshal([]byte(data), &e); err != nil {
					t.Fatalf("event %q: %v", data, err)
				}
				if e.Message != "marker" {
					got = append(got, e.Message)
				}
			case <-timeout:
				t.Fatalf("tail delivered %v, want [one two]", got)
			}
		}
		if got[0] != "one" || got[1] != "two" {
			t.Fatalf("tail delivered %v, want [one two]", got)
		}
	}
}
