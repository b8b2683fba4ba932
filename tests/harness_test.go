// Package tests holds black-box tests: they build the logengine binary,
// run it on a free port with a temporary data directory, talk HTTP to it,
// kill it and restart it. They import no package of the project.
package tests

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "logengine-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "logengine")
	build := exec.Command("go", "build", "-o", binary, "../cmd/logengine")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build logengine:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// daemon is one running logengine serve.
type daemon struct {
	t       testing.TB
	cmd     *exec.Cmd
	url     string
	dataDir string
	mu      sync.Mutex
	log     bytes.Buffer
	done    chan struct{}
}

var listenRe = regexp.MustCompile(`logengine listening"? addr=(\S+)`)

// startDaemon starts logengine serve on a free loopback port and waits
// until it listens.
func startDaemon(t testing.TB, dataDir string, args ...string) *daemon {
	t.Helper()
	d, err := tryStartDaemon(t, dataDir, args...)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// tryStartDaemon is startDaemon for a daemon that may refuse to start: it
// returns an error holding the daemon's log when it exits before listening.
func tryStartDaemon(t testing.TB, dataDir string, args ...string) (*daemon, error) {
	t.Helper()
	all := append([]string{"serve", "--data-dir", dataDir, "--listen", "127.0.0.1:0"}, args...)
	cmd := exec.Command(binary, all...)
	cmd.Env = append(os.Environ(), "LOGENGINE_LOG_LEVEL=info")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	d := &daemon{t: t, cmd: cmd, dataDir: dataDir, done: make(chan struct{})}
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			line := sc.Text()
			d.mu.Lock()
			d.log.WriteString(line + "\n")
			d.mu.Unlock()
			if m := listenRe.FindStringSubmatch(line); m != nil {
				select {
				case addr <- m[1]:
				default:
				}
			}
		}
		_ = cmd.Wait()
		close(d.done)
	}()
	select {
	case a := <-addr:
		d.url = "http://" + a
	case <-d.done:
		return nil, fmt.Errorf("logengine exited before listening:\n%s", d.logs())
	case <-time.After(60 * time.Second):
		d.kill()
		t.Fatalf("logengine did not listen within 60s:\n%s", d.logs())
	}
	t.Cleanup(func() {
		d.kill()
		if t.Failed() {
			t.Logf("daemon log:\n%s", d.logs())
		}
	})
	return d, nil
}

func (d *daemon) logs() string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.log.String()
}

// kill sends SIGKILL: no shutdown code runs, like a power cut for the
// process (the page cache survives, which is why sync writes matter only
// for the machine crashing).
func (d *daemon) kill() {
	select {
	case <-d.done:
		return
	default:
	}
	_ = d.cmd.Process.Kill()
	<-d.done
}

// stop sends SIGTERM and waits for a clean exit.
func (d *daemon) stop() {
	d.t.Helper()
	_ = d.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-d.done:
	case <-time.After(60 * time.Second):
		d.kill()
		d.t.Fatalf("logengine did not stop within 60s after SIGTERM")
	}
	if code := d.cmd.ProcessState.ExitCode(); code != 0 {
		d.t.Fatalf("logengine exited with %d after SIGTERM:\n%s", code, d.logs())
	}
}

// do sends a request and returns status and body.
func (d *daemon) do(method, path, contentType string, body []byte) (int, []byte) {
	d.t.Helper()
	req, err := http.NewRequest(method, d.url+path, bytes.NewReader(body))
	if err != nil {
		d.t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		d.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		d.t.Fatal(err)
	}
	return resp.StatusCode, b
}

func (d *daemon) getJSON(path string, v any) {
	d.t.Helper()
	code, b := d.do(http.MethodGet, path, "", nil)
	if code != http.StatusOK {
		d.t.Fatalf("GET %s: %d %s", path, code, b)
	}
	if err := json.Unmarshal(b, v); err != nil {
		d.t.Fatalf("GET %s: %v in %s", path, err, b)
	}
}

type ingestAnswer struct {
	Accepted int `json:"accepted"`
	Rejected int `json:"rejected"`
	Errors   []struct {
		Line  int    `json:"line"`
		Error string `json:"error"`
	} `json:"errors"`
}

func (d *daemon) ingest(contentType, body string, query string) (int, ingestAnswer) {
	d.t.Helper()
	path := "/api/v1/logs"
	if query != "" {
		path += "?" + query
	}
	code, b := d.do(http.MethodPost, path, contentType, []byte(body))
	var a ingestAnswer
	if err := json.Unmarshal(b, &a); err != nil {
		d.t.Fatalf("ingest answer %d %q: %v", code, b, err)
	}
	return code, a
}

type entry struct {
	ID        string         `json:"id"`
	Timestamp string         `json:"timestamp"`
	Level     string         `json:"level"`
	Severity  int            `json:"severity"`
	Source    string         `json:"source"`
	Message   string         `json:"message"`
	Tags      []string       `json:"tags"`
	Fields    map[string]any `json:"fields"`
	Pattern   string         `json:"pattern,omitempty"`
}

type page struct {
	Logs       []entry `json:"logs"`
	NextCursor string  `json:"next_cursor"`
}

// all returns every entry matching the query string params, following the
// cursor.
func (d *daemon) all(params string) []entry {
	d.t.Helper()
	var out []entry
	cursor := ""
	for {
		p := "/api/v1/logs?limit=1000&" + params
		if cursor != "" {
			p += "&cursor=" + cursor
		}
		var pg page
		d.getJSON(p, &pg)
		out = append(out, pg.Logs...)
		if pg.NextCursor == "" {
			return out
		}
		cursor = pg.NextCursor
	}
}

func sharedDir(t testing.TB) string {
	t.Helper()
	dir := filepath.Join("..", "..", "shared")
	if _, err := os.Stat(dir); err != nil {
		t.Skip("../shared is absent")
	}
	return dir
}

var _ = strings.TrimSpace
