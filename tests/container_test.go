package tests

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestContainerNamedVolume runs the Dockerfile's final stage on a FROM
// scratch image holding the locally built static binary (no image is
// pulled), under podman with runc: with a new named volume it serves, its
// own health check passes, it ingests, and after a restart it reads the
// logs back. Podman hands a new named volume to the container's user where
// Docker does not, so the /data ownership Docker needs is checked on the
// Dockerfile itself (TestDockerfileDataVolumeOwnedByNonroot).
func TestContainerNamedVolume(t *testing.T) {
	if testing.Short() {
		t.Skip("container: skipped with -short")
	}
	podman, err := exec.LookPath("podman")
	if err != nil {
		t.Skip("podman is not installed (apt-get install podman runc)")
	}
	if _, err := exec.LookPath("runc"); err != nil {
		t.Skip("runc is not installed (apt-get install podman runc)")
	}
	dir := t.TempDir()
	conf := filepath.Join(dir, "containers.conf")
	if err := os.WriteFile(conf, []byte("[containers]\ndefault_ulimits = []\npids_limit = 0\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	pm := func(args ...string) (string, error) {
		cmd := exec.Command(podman, append([]string{"--runtime", "runc"}, args...)...)
		cmd.Env = append(os.Environ(), "CONTAINERS_CONF="+conf)
		out, err := cmd.CombinedOutput()
		return string(out), err
	}

	ctxDir := filepath.Join(dir, "ctx")
	if err := os.Mkdir(ctxDir, 0o755); err != nil {
		t.Fatal(err)
	}
	build := exec.Command("go", "build", "-trimpath", "-o", filepath.Join(ctxDir, "logengine"), "../cmd/logengine")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("static build: %v\n%s", err, out)
	}
	stages := dockerfile(t)
	lines := []string{"FROM scratch", "COPY logengine /usr/local/bin/logengine"}
	for _, l := range stages[len(stages)-1][1:] {
		switch {
		case strings.HasPrefix(l, "COPY "):
			// The binary is copied above; scratch cannot take the build
			// stage's files.
		case strings.HasPrefix(l, "USER "):
			// scratch has no /etc/passwd to resolve distroless's name.
			lines = append(lines, "USER 65532:65532")
		default:
			lines = append(lines, l)
		}
	}
	if err := os.WriteFile(filepath.Join(ctxDir, "Containerfile"), []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tag := fmt.Sprintf("localhost/logengine-e2e-%d", os.Getpid())
	name := fmt.Sprintf("logengine-e2e-%d", os.Getpid())
	volume := name + "-data"
	if out, err := pm("build", "--format", "docker", "-t", tag, "-f", filepath.Join(ctxDir, "Containerfile"), ctxDir); err != nil {
		t.Fatalf("podman build: %v\n%s", err, out)
	}
	t.Cleanup(func() {
		_, _ = pm("rm", "-f", "-t", "0", name)
		_, _ = pm("volume", "rm", "-f", volume)
		_, _ = pm("rmi", "-f", tag)
	})

	addr := freeAddr(t)
	const key = "ops-key-0123456789abcdef"
	if out, err := pm("run", "-d", "--name", name, "--network", "host",
		"-e", "LOGENGINE_LISTEN="+addr, "-e", "LOGENGINE_API_KEYS=ops:admin:"+key,
		"-v", volume+":/data", tag); err != nil {
		t.Fatalf("podman run: %v\n%s", err, out)
	}
	base := "http://" + addr
	waitServing := func() {
		t.Helper()
		deadline := time.Now().Add(60 * time.Second)
		for {
			resp, err := http.Get(base + "/healthz")
			if err == nil {
				resp.Body.Close()
				if resp.StatusCode == http.StatusOK {
					return
				}
			}
			if time.Now().After(deadline) {
				logs, _ := pm("logs", name)
				t.Fatalf("the container did not serve within 60s: %v\n%s", err, logs)
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	waitServing()
	// The image's own HEALTHCHECK command, with the container's settings.
	if out, err := pm("healthcheck", "run", name); err != nil {
		t.Fatalf("the image's health check failed: %v\n%s", err, out)
	}

	call := func(method, path, body string) (int, []byte) {
		t.Helper()
		req, err := http.NewRequest(method, base+path, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+key)
		if body != "" {
			req.Header.Set("Content-Type", "application/x-ndjson")
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		return resp.StatusCode, b
	}
	body := `{"level":"error","source":"container","message":"first on the volume"}
{"level":"info","source":"container","message":"second on the volume"}
`
	if code, b := call(http.MethodPost, "/api/v1/logs", body); code != http.StatusOK {
		t.Fatalf("ingest: %d %s", code, b)
	}
	read := func() []string {
		t.Helper()
		code, b := call(http.MethodGet, "/api/v1/logs?q=source:container&limit=10", "")
		if code != http.StatusOK {
			t.Fatalf("query: %d %s", code, b)
		}
		var pg page
		if err := json.Unmarshal(b, &pg); err != nil {
			t.Fatalf("query answer %s: %v", b, err)
		}
		var msgs []string
		for _, e := range pg.Logs {
			msgs = append(msgs, e.Message)
		}
		return msgs
	}
	before := read()
	if len(before) != 2 {
		t.Fatalf("before the restart: %q, want the 2 logs", before)
	}
	if out, err := pm("restart", "-t", "10", name); err != nil {
		t.Fatalf("podman restart: %v\n%s", err, out)
	}
	waitServing()
	if after := read(); strings.Join(after, "|") != strings.Join(before, "|") {
		t.Fatalf("after the restart: %q, want %q", after, before)
	}
}
