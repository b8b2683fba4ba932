package tests

import (
	"bytes"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestRestoreAllOrNothing: a backup taken over HTTP and cut short is
// refused with the target left as it was; the whole backup restores and
// verifies; a restore marker left behind keeps serve from starting.
func TestRestoreAllOrNothing(t *testing.T) {
	src := t.TempDir()
	d := startDaemon(t, src, "--retention", "0")
	var nd strings.Builder
	for i := 0; i < 3000; i++ {
		fmt.Fprintf(&nd, "{\"message\":\"restore test %d\",\"level\":\"info\",\"source\":\"rs\"}\n", i)
	}
	if code, a := d.ingest("application/x-ndjson", nd.String(), ""); code != http.StatusOK || a.Accepted != 3000 {
		t.Fatalf("ingest: %d %+v", code, a)
	}
	code, body := d.do(http.MethodGet, "/api/v1/admin/backup", "", nil)
	if code != http.StatusOK {
		t.Fatalf("backup: %d %s", code, body)
	}
	d.stop()
	dir := t.TempDir()
	full := filepath.Join(dir, "full.bak")
	cut := filepath.Join(dir, "cut.bak")
	if err := os.WriteFile(full, body, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(cut, body[:2*len(body)/3], 0o600); err != nil {
		t.Fatal(err)
	}

	// Cut short: refused, said plainly, nothing left behind.
	dst := filepath.Join(dir, "restored")
	out, err := exec.Command(binary, "restore", "--data-dir", dst, "--in", cut).CombinedOutput()
	if err == nil || !strings.Contains(string(out), "the backup ends early: it is truncated or still being written") {
		t.Fatalf("restore of a truncated backup: %v\n%s", err, out)
	}
	if _, err := os.Stat(dst); !os.IsNotExist(err) {
		t.Fatalf("the truncated restore left %s behind: %v", dst, err)
	}

	// Whole: restored, verified, served.
	if out, err := exec.Command(binary, "restore", "--data-dir", dst, "--in", full).CombinedOutput(); err != nil {
		t.Fatalf("restore: %v\n%s", err, out)
	}
	if out, err := exec.Command(binary, "verify", "--data-dir", dst).CombinedOutput(); err != nil {
		t.Fatalf("verify of the restored directory: %v\n%s", err, out)
	}
	r := startDaemon(t, dst, "--retention", "0")
	if n := len(r.all("q=source:rs")); n != 3000 {
		t.Fatalf("restored %d entries, want 3000", n)
	}
	r.stop()

	// A restore interrupted before its end: serve refuses the directory.
	bad := filepath.Join(dir, "interrupted")
	if err := os.MkdirAll(bad, 0o750); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(bad, "db.restore-in-progress"), []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err = exec.Command(binary, "serve", "--data-dir", bad, "--listen", "127.0.0.1:0").CombinedOutput()
	if err == nil || !strings.Contains(string(out), "did not finish") || !strings.Contains(string(out), "logengine restore") {
		t.Fatalf("serve on an interrupted restore: %v\n%s", err, out)
	}
}

// TestVerifyFindsDamagedTable: verify passes a sound data directory and
// names the Badger table whose bytes were flipped.
func TestVerifyFindsDamagedTable(t *testing.T) {
	dataDir := t.TempDir()
	d := startDaemon(t, dataDir, "--retention", "0")
	var nd strings.Builder
	for i := 0; i < 3000; i++ {
		fmt.Fprintf(&nd, "{\"message\":\"verify test %d\",\"level\":\"warn\",\"source\":\"vf\",\"n\":%d}\n", i, i)
	}
	if code, a := d.ingest("application/x-ndjson", nd.String(), "wait=indexed"); code != http.StatusOK || a.Accepted != 3000 {
		t.Fatalf("ingest: %d %+v", code, a)
	}
	d.stop()
	if out, err := exec.Command(binary, "verify", "--data-dir", dataDir).CombinedOutput(); err != nil {
		t.Fatalf("verify of a sound directory: %v\n%s", err, out)
	}
	tables, _ := filepath.Glob(filepath.Join(dataDir, "db", "*.sst"))
	if len(tables) == 0 {
		t.Fatal("no Badger table after a clean stop")
	}
	b, err := os.ReadFile(tables[0])
	if err != nil {
		t.Fatal(err)
	}
	for i := len(b) / 3; i < len(b)/3+16; i++ {
		b[i] ^= 0xff
	}
	if err := os.WriteFile(tables[0], b, 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(binary, "verify", "--data-dir", dataDir).CombinedOutput()
	if code := exitCode(err); code != 1 {
		t.Fatalf("verify of a damaged table: exit %d, want 1\n%s", code, out)
	}
	name := filepath.Base(tables[0])
	if !bytes.Contains(out, []byte(name)) || !bytes.Contains(out, []byte("restore")) {
		t.Fatalf("verify names neither %s nor the way out:\n%s", name, out)
	}
}

func exitCode(err error) int {
	if err == nil {
		return 0
	}
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.ExitCode()
	}
	return -1
}
