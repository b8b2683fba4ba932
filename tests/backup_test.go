package tests

import (
	"fmt"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestOnlineBackupRestore takes a backup while clients ingest, restores it
// into an empty directory and finds every entry acknowledged before the
// backup began; an incremental backup on top brings the later ones.
func TestOnlineBackupRestore(t *testing.T) {
	src := t.TempDir()
	d := startDaemon(t, src, "--retention", "0")

	var mu sync.Mutex
	acked := map[string]bool{} // messages acknowledged
	var stop atomic.Bool
	var wg sync.WaitGroup
	var batchNo atomic.Int64
	for c := 0; c < 2; c++ {
		wg.Add(1)
		go func(c int) {
			defer wg.Done()
			for !stop.Load() {
				b := batchNo.Add(1)
				var nd strings.Builder
				msgs := make([]string, 200)
				for i := range msgs {
					msgs[i] = fmt.Sprintf("backup c%d b%d e%d", c, b, i)
					fmt.Fprintf(&nd, "{\"message\":%q,\"level\":\"info\",\"source\":\"bk\"}\n", msgs[i])
				}
				code, a := d.ingest("application/x-ndjson", nd.String(), "")
				if code != http.StatusOK || a.Accepted != len(msgs) {
					t.Errorf("ingest: %d %+v", code, a)
					return
				}
				mu.Lock()
				for _, m := range msgs {
					acked[m] = true
				}
				mu.Unlock()
			}
		}(c)
	}
	// Let some batches land, then note what was acknowledged before the
	// backup began.
	for {
		mu.Lock()
		n := len(acked)
		mu.Unlock()
		if n >= 2000 {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	mu.Lock()
	before := make(map[string]bool, len(acked))
	for m := range acked {
		before[m] = true
	}
	mu.Unlock()

	full := filepath.Join(t.TempDir(), "full.bak")
	out, err := exec.Command(binary, "backup", "--server", d.url, "--out", full).CombinedOutput()
	if err != nil {
		t.Fatalf("backup: %v\n%s", err, out)
	}
	var since string
	if _, err := fmt.Sscanf(string(out[strings.Index(string(out), "--since"):]), "--since %s", &since); err != nil {
		t.Fatalf("backup output %q names no --since: %v", out, err)
	}
	stop.Store(true)
	wg.Wait()

	incr := filepath.Join(t.TempDir(), "incr.bak")
	if out, err := exec.Command(binary, "backup", "--server", d.url, "--out", incr, "--since", since).CombinedOutput(); err != nil {
		t.Fatalf("incremental backup: %v\n%s", err, out)
	}
	d.stop()

	// Restore the full backup alone: everything acknowledged before it.
	dst := filepath.Join(t.TempDir(), "restored")
	if out, err := exec.Command(binary, "restore", "--data-dir", dst, "--in", full).CombinedOutput(); err != nil {
		t.Fatalf("restore: %v\n%s", err, out)
	}
	if out, err := exec.Command(binary, "restore", "--data-dir", dst, "--in", full).CombinedOutput(); err == nil {
		t.Fatalf("restore into a non-empty directory succeeded:\n%s", out)
	}
	r := startDaemon(t, dst, "--retention", "0")
	got := map[string]int{}
	for _, e := range r.all("q=source:bk") {
		got[e.Message]++
	}
	for m := range before {
		if got[m] != 1 {
			t.Fatalf("entry %q acknowledged before the backup: found %d times after restore", m, got[m])
		}
	}
	// The keyword index is rebuilt from the restored store.
	var pg page
	r.getJSON("/api/v1/logs?q=backup&wait=indexed&limit=1", &pg)
	if len(pg.Logs) != 1 {
		t.Fatalf("keyword search after restore found %d entries", len(pg.Logs))
	}
	r.stop()

	// Full + incremental restore everything acknowledged at all.
	dst2 := filepath.Join(t.TempDir(), "restored2")
	cat := exec.Command("sh", "-c", "cat \"$0\" \"$1\" | \"$2\" restore --data-dir \"$3\" --in -", full, incr, binary, dst2)
	if out, err := cat.CombinedOutput(); err != nil {
		t.Fatalf("restore full+incremental: %v\n%s", err, out)
	}
	r2 := startDaemon(t, dst2, "--retention", "0")
	got = map[string]int{}
	for _, e := range r2.all("q=source:bk") {
		got[e.Message]++
	}
	for m := range acked {
		if got[m] != 1 {
			all := 0
			for _, e := range r2.all("") {
				if e.Message == m {
					all++
				}
			}
			var agg struct {
				Total int `json:"total"`
			}
			r2.getJSON("/api/v1/aggregate?group_by=level&q=source:bk", &agg)
			t.Fatalf("entry %q: found %d times after full+incremental restore (%d without a query; %d acked, %d found, aggregate total %d)", m, got[m], all, len(acked), len(got), agg.Total)
		}
	}
	t.Logf("%d entries acknowledged before the backup, %d in all, all restored", len(before), len(acked))
}
