package tests

import (
	"bufio"
	"context"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

// The container image's uid, distroless's "nonroot".
const nonroot = 65532

// dockerfile reads the Dockerfile's instructions, continuation lines
// joined and comments dropped, each split into its stage.
func dockerfile(t *testing.T) [][]string {
	t.Helper()
	f, err := os.Open("../Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var stages [][]string
	var cur strings.Builder
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if strings.HasSuffix(line, "\\") {
			cur.WriteString(strings.TrimSuffix(line, "\\") + " ")
			continue
		}
		cur.WriteString(line)
		ins := strings.Join(strings.Fields(cur.String()), " ")
		cur.Reset()
		if strings.HasPrefix(strings.ToUpper(ins), "FROM ") {
			stages = append(stages, nil)
		}
		if len(stages) == 0 {
			t.Fatalf("Dockerfile: %q before the first FROM", ins)
		}
		stages[len(stages)-1] = append(stages[len(stages)-1], ins)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return stages
}

func indexOf(lines []string, pred func(string) bool) int {
	for i, l := range lines {
		if pred(l) {
			return i
		}
	}
	return -1
}

// A new named volume copies the ownership of the image's mount point, so
// the final stage must hold /data owned by the user it runs as, made
// before VOLUME (instructions after VOLUME that change it are discarded).
func TestDockerfileDataVolumeOwnedByNonroot(t *testing.T) {
	stages := dockerfile(t)
	if len(stages) < 2 {
		t.Fatalf("Dockerfile has %d stages, want a build stage and a final stage", len(stages))
	}
	build, final := stages[0], stages[len(stages)-1]
	if !strings.Contains(final[0], "distroless") || !strings.Contains(final[0], "nonroot") {
		t.Fatalf("final stage %q is not distroless nonroot; this test assumes uid %d", final[0], nonroot)
	}
	mk := indexOf(build, func(l string) bool {
		return strings.HasPrefix(l, "RUN ") && strings.Contains(l, "mkdir") && strings.Contains(l, "/out/data")
	})
	if mk < 0 || !strings.Contains(build[mk], "chown 65532:65532 /out/data") {
		t.Errorf("build stage must make /out/data and chown it to 65532:65532; got %q", build)
	}
	cp := indexOf(final, func(l string) bool {
		return strings.HasPrefix(l, "COPY ") && strings.HasSuffix(l, " /data")
	})
	if cp < 0 {
		t.Fatalf("final stage has no COPY into /data: %q", final)
	}
	if !strings.Contains(final[cp], "--chown=nonroot:nonroot") && !strings.Contains(final[cp], "--chown=65532:65532") {
		t.Errorf("COPY into /data must give it to nonroot: %q", final[cp])
	}
	if !strings.Contains(final[cp], "--from=build") || !strings.Contains(final[cp], "/out/data") {
		t.Errorf("COPY into /data must take the build stage's empty /out/data: %q", final[cp])
	}
	vol := indexOf(final, func(l string) bool { return strings.HasPrefix(l, "VOLUME ") })
	if vol < 0 || !strings.Contains(final[vol], "/data") {
		t.Fatalf("final stage declares no VOLUME /data: %q", final)
	}
	if cp > vol {
		t.Errorf("COPY into /data (instruction %d) must come before VOLUME (instruction %d)", cp, vol)
	}
	user := indexOf(final, func(l string) bool { return strings.HasPrefix(l, "USER ") })
	if user < 0 || !strings.Contains(final[user], "nonroot") {
		t.Errorf("final stage must run as nonroot: %q", final)
	}
}

// The health check must follow serve's configuration, so it carries no
// fixed --server.
func TestDockerfileHealthcheckUsesServeConfig(t *testing.T) {
	stages := dockerfile(t)
	final := stages[len(stages)-1]
	hc := indexOf(final, func(l string) bool { return strings.HasPrefix(l, "HEALTHCHECK ") })
	if hc < 0 {
		t.Fatalf("final stage has no HEALTHCHECK: %q", final)
	}
	want := `CMD ["/usr/local/bin/logengine", "healthcheck"]`
	if !strings.HasSuffix(final[hc], want) {
		t.Errorf("HEALTHCHECK = %q, want it to end with %s", final[hc], want)
	}
	entry := indexOf(final, func(l string) bool { return strings.HasPrefix(l, "ENTRYPOINT ") })
	if entry < 0 || !strings.Contains(final[entry], "/usr/local/bin/logengine") {
		t.Errorf("ENTRYPOINT must be the binary the health check runs: %q", final)
	}
	env := indexOf(final, func(l string) bool {
		return strings.HasPrefix(l, "ENV ") && strings.Contains(l, "LOGENGINE_DATA_DIR=/data")
	})
	if env < 0 {
		t.Errorf("final stage must set LOGENGINE_DATA_DIR=/data: %q", final)
	}
}

// healthcheck without --server finds the daemon from serve's own
// environment, and fails where nothing serves.
func TestHealthcheckFromServeEnvironment(t *testing.T) {
	d := startDaemon(t, t.TempDir())
	addr := strings.TrimPrefix(d.url, "http://")

	run := func(env ...string) (string, error) {
		cmd := exec.Command(binary, "healthcheck")
		cmd.Env = append(os.Environ(), env...)
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	if out, err := run("LOGENGINE_LISTEN=" + addr); err != nil || strings.TrimSpace(out) != "ok" {
		t.Fatalf("healthcheck with LOGENGINE_LISTEN=%s: %v\n%s", addr, err, out)
	}
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	// The wildcard the image listens on is checked on loopback.
	if out, err := run("LOGENGINE_LISTEN=0.0.0.0:"+port, "LOGENGINE_API_KEYS=ops:admin:s3cret"); err != nil {
		t.Fatalf("healthcheck with LOGENGINE_LISTEN=0.0.0.0:%s: %v\n%s", port, err, out)
	}
	closed := freeAddr(t)
	if out, err := run("LOGENGINE_LISTEN=" + closed); err == nil {
		t.Fatalf("healthcheck succeeded against %s, where nothing listens:\n%s", closed, out)
	}
}

// With TLS on, the health check speaks HTTPS to the loopback address
// without verifying the certificate, which names the public host.
func TestHealthcheckFollowsTLS(t *testing.T) {
	dir := t.TempDir()
	cert, key, _ := selfSigned(t, dir)
	d := startDaemonTLS(t, dir, "--tls-cert", cert, "--tls-key", key)
	_, port, err := net.SplitHostPort(strings.TrimPrefix(d.url, "https://"))
	if err != nil {
		t.Fatal(err)
	}
	run := func(env ...string) (string, error) {
		cmd := exec.Command(binary, "healthcheck")
		cmd.Env = append(os.Environ(), env...)
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	listen := "LOGENGINE_LISTEN=0.0.0.0:" + port
	keys := "LOGENGINE_API_KEYS=ops:admin:s3cret"
	if out, err := run(listen, keys, "LOGENGINE_TLS_CERT="+cert, "LOGENGINE_TLS_KEY="+key); err != nil || strings.TrimSpace(out) != "ok" {
		t.Fatalf("healthcheck with TLS configured: %v\n%s", err, out)
	}
	// Without the TLS settings it speaks HTTP to an HTTPS port and fails:
	// the check does follow the configuration.
	if out, err := run(listen, keys); err == nil {
		t.Fatalf("plain HTTP healthcheck succeeded against the TLS listener:\n%s", out)
	}
}

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	return addr
}

// A data directory the daemon cannot write (a root-owned volume or bind
// mount) is reported with the directory, the uid and the chown that fixes
// it, and nothing in it is touched.
func TestUnwritableDataDirSaysHowToFix(t *testing.T) {
	base, err := os.MkdirTemp("", "logengine-perm-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = os.Chmod(filepath.Join(base, "data"), 0o755)
		_ = os.RemoveAll(base)
	})
	if err := os.Chmod(base, 0o755); err != nil {
		t.Fatal(err)
	}
	dataDir := filepath.Join(base, "data")
	if err := os.Mkdir(dataDir, 0o755); err != nil {
		t.Fatal(err)
	}
	keep := filepath.Join(dataDir, "keep.txt")
	if err := os.WriteFile(keep, []byte("valid data"), 0o644); err != nil {
		t.Fatal(err)
	}

	uid := os.Getuid()
	bin := binary
	var cred *syscall.Credential
	if uid == 0 {
		// Root writes anywhere: run as the image's user on a directory root
		// owns, as in a container on a fresh root-owned volume. The binary
		// must be reachable by that user.
		bin = filepath.Join(base, "logengine")
		copyFile(t, binary, bin, 0o755)
		cred = &syscall.Credential{Uid: nonroot, Gid: nonroot}
		uid = nonroot
	} else if err := os.Chmod(dataDir, 0o555); err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "serve", "--data-dir", dataDir, "--listen", "127.0.0.1:0")
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	cmd.Dir = base
	out, err := cmd.CombinedOutput()
	if err == nil {
		t.Fatalf("serve started on a directory it cannot write:\n%s", out)
	}
	msg := string(out)
	for _, want := range []string{
		"data directory " + dataDir + " is not writable",
		"uid " + strconv.Itoa(uid),
		"chown -R " + strconv.Itoa(uid) + ":",
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("the error does not say %q:\n%s", want, msg)
		}
	}
	if strings.Contains(msg, "open store") {
		t.Errorf("the error is the store's bare mkdir error, not the data directory's:\n%s", msg)
	}
	if b, err := os.ReadFile(keep); err != nil || string(b) != "valid data" {
		t.Errorf("the file already in the data directory changed: %q, %v", b, err)
	}
}

func copyFile(t *testing.T, src, dst string, mode os.FileMode) {
	t.Helper()
	in, err := os.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, mode)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(out, in); err != nil {
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
}

// compose.yaml beside the Dockerfile keeps the data in a named volume at
// /data and the keys out of the file.
func TestComposeFileNamedVolume(t *testing.T) {
	b, err := os.ReadFile("../compose.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var c struct {
		Services map[string]struct {
			Build       string            `yaml:"build"`
			EnvFile     string            `yaml:"env_file"`
			Environment map[string]string `yaml:"environment"`
			Volumes     []string          `yaml:"volumes"`
		} `yaml:"services"`
		Volumes map[string]any `yaml:"volumes"`
	}
	if err := yaml.Unmarshal(b, &c); err != nil {
		t.Fatalf("compose.yaml: %v", err)
	}
	s, ok := c.Services["logengine"]
	if !ok {
		t.Fatalf("compose.yaml has no logengine service: %v", c.Services)
	}
	if s.EnvFile == "" {
		t.Error("the logengine service must take its keys from an env_file")
	}
	for k := range s.Environment {
		if strings.Contains(k, "API_KEY") {
			t.Errorf("compose.yaml sets %s in the file; keys belong in the env_file", k)
		}
	}
	var vol string
	for _, v := range s.Volumes {
		if name, ok := strings.CutSuffix(v, ":/data"); ok {
			vol = name
		}
	}
	if _, declared := c.Volumes[vol]; vol == "" || !declared {
		t.Errorf("the logengine service must mount a declared named volume at /data; volumes %q, declared %v", s.Volumes, c.Volumes)
	}
}
