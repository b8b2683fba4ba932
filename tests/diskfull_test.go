package tests

import (
	"context"
	crand "crypto/rand"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// TestDiskFull runs the daemon on a 64 MiB tmpfs and ingests until the
// filesystem is full. Ingest must then answer a clear 507 (or 503) while the
// daemon stays up, keeps every acknowledged entry exactly once and serves
// queries; once the filesystem grows to 256 MiB, writes are accepted again,
// the keyword index catches up, and a clean stop and restart keep
// everything. It needs root (to mount) and skips without it.
func TestDiskFull(t *testing.T) {
	if testing.Short() {
		t.Skip("disk full: skipped with -short")
	}
	if os.Geteuid() != 0 {
		t.Skip("disk full: needs root to mount a small tmpfs")
	}
	mnt := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=64m", "tmpfs", mnt).CombinedOutput(); err != nil {
		t.Skipf("disk full: cannot mount a tmpfs on %s: %v %s", mnt, err, out)
	}
	// Registered before startDaemon, so it runs after the daemon is killed.
	t.Cleanup(func() {
		if out, err := exec.Command("umount", mnt).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v %s", mnt, err, out)
			_ = exec.Command("umount", "-l", mnt).Run()
		}
	})
	dataDir := filepath.Join(mnt, "data")
	d := startDaemon(t, dataDir)
	client := newLoadClient(2)
	defer client.CloseIdleConnections()

	// Fill: two clients send batches of 2,000 entries (about 0.5 MB, one
	// commit each) until the daemon refuses one.
	fill := &diskFiller{client: client, url: d.url, phase: "fill", acked: map[string]bool{}}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	fill.run(ctx, 2, 2000)
	if fill.err != nil {
		// A request without an answer: if the daemon died, give its exit
		// a moment to be seen, so that the log below says why.
		poll(5*time.Second, 20*time.Millisecond, func() bool { return !d.alive() })
	}
	if !d.alive() {
		t.Fatalf("the daemon died while the disk filled (%d entries acknowledged before):\n%s", len(fill.acked), crashExcerpt(d.logs()))
	}
	if fill.err != nil {
		t.Fatal(fill.err)
	}
	if fill.refused == nil {
		t.Fatalf("after %d entries acknowledged in 2 minutes the 64 MiB filesystem never filled", len(fill.acked))
	}
	free, total := statfs(t, mnt)
	t.Logf("disk full after %d entries acknowledged: %s free of %s; answer %d %s",
		len(fill.acked), mib(free), mib(total), fill.refused.code, fill.refused.body)
	checkDiskFullAnswer(t, *fill.refused)

	// Still full: more batches, and a single entry, are refused the same
	// way, and the daemon stays up and answers queries.
	for i := 0; i < 5; i++ {
		// A smaller batch than the refused one may still fit; then it is
		// acknowledged like any other.
		if r := fill.send(ctx, 1+i*100); r.code != http.StatusOK {
			checkDiskFullAnswer(t, r)
		}
	}
	if !d.alive() {
		t.Fatalf("the daemon died on a full disk:\n%s", crashExcerpt(d.logs()))
	}
	if fill.err != nil {
		t.Fatal(fill.err)
	}
	// A backup would spool into the space kept free for Badger and the
	// keyword index: it is refused the same way, and the daemon stays up.
	if code, body := d.do("GET", "/api/v1/admin/backup", "", nil); code != http.StatusInsufficientStorage || !strings.Contains(string(body), "kept free") {
		t.Errorf("a backup on a full disk answered %d %.300s, want 507 saying what is kept free", code, body)
	}
	if !d.alive() {
		t.Fatalf("the daemon died on a backup on a full disk:\n%s", crashExcerpt(d.logs()))
	}
	var health map[string]any
	d.getJSON("/healthz", &health)
	checkStoredExactly(t, d, "fill", fill.acked)
	var st map[string]any
	d.getJSON("/api/v1/stats", &st)
	// The keyword index writes into the space kept free: it catches up
	// while ingest is refused.
	waitIndexCaughtUp(t, d, time.Minute)
	if _, n := d.countsBy("diskphasefill", "phase"); n != int64(len(fill.acked)) {
		t.Errorf("on the full disk the keyword index finds %d entries, want %d", n, len(fill.acked))
	}

	// Free space: writes are accepted again, without a restart.
	if out, err := exec.Command("mount", "-o", "remount,size=256m", mnt).CombinedOutput(); err != nil {
		t.Fatalf("grow the tmpfs: %v %s", err, out)
	}
	refill := &diskFiller{client: client, url: d.url, phase: "refill", acked: map[string]bool{}}
	ctx, cancel = context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var last postResult
	if !poll(30*time.Second, 100*time.Millisecond, func() bool {
		last = refill.send(ctx, 500)
		return last.code == http.StatusOK
	}) {
		t.Fatalf("30 s after the filesystem grew, ingest still answers %d %s", last.code, last.body)
	}
	for i := 0; i < 20; i++ {
		if r := refill.send(ctx, 500); r.code != http.StatusOK {
			t.Fatalf("after the filesystem grew, batch %d answered %d %s", i, r.code, r.body)
		}
	}
	checkStoredExactly(t, d, "refill", refill.acked)

	// The keyword index has caught up with both phases.
	waitIndexCaughtUp(t, d, time.Minute)
	for phase, acked := range map[string]map[string]bool{"fill": fill.acked, "refill": refill.acked} {
		if _, n := d.countsBy("diskphase"+phase, "phase"); n != int64(len(acked)) {
			t.Errorf("the keyword index finds %d entries of phase %s, want %d", n, phase, len(acked))
		}
	}

	// A clean stop (Badger flushes its memtable) and a restart keep it all.
	d.stop()
	d = startDaemon(t, dataDir)
	checkStoredExactly(t, d, "fill", fill.acked)
	checkStoredExactly(t, d, "refill", refill.acked)
	free, total = statfs(t, mnt)
	t.Logf("after the restart: %d + %d entries, %s free of %s", len(fill.acked), len(refill.acked), mib(free), mib(total))
	d.stop()
}

// diskFiller sends batches of one phase, each entry with a unique message
// id, and keeps the ids of acknowledged batches.
type diskFiller struct {
	client *http.Client
	url    string
	phase  string

	mu      sync.Mutex
	next    int             // the number of the next entry; guarded by mu
	acked   map[string]bool // guarded by mu
	refused *postResult     // the first 507 or 503; guarded by mu
	err     error           // an answer the contract forbids; guarded by mu
}

// send posts a batch of n new entries and records its outcome.
func (f *diskFiller) send(ctx context.Context, n int) postResult {
	f.mu.Lock()
	first := f.next
	f.next += n
	f.mu.Unlock()
	var b strings.Builder
	now := time.Now().UTC()
	ids := make([]string, n)
	// A random trace id per entry, as real logs carry: without it the
	// entries compress so well that filling the disk takes millions.
	trace := make([]byte, 24)
	for i := range ids {
		ids[i] = fmt.Sprintf("%s%07d", f.phase, first+i)
		_, _ = crand.Read(trace)
		fmt.Fprintf(&b, `{"timestamp":"%s","level":"info","source":"filler","message":"diskphase%s entry %s padded to look like a real line: GET /api/v1/orders/%d 200 12ms","mid":"%s","phase":"%s","trace":"%x"}`+"\n",
			now.Add(time.Duration(i)).Format(time.RFC3339Nano), f.phase, ids[i], first+i, ids[i], f.phase, trace)
	}
	r := postLogs(ctx, f.client, f.url, "application/x-ndjson", []byte(b.String()))
	f.mu.Lock()
	defer f.mu.Unlock()
	switch {
	case r.code == http.StatusOK && r.answer.Accepted == n:
		for _, id := range ids {
			f.acked[id] = true
		}
	case r.code == http.StatusOK:
		f.err = fmt.Errorf("a batch of %d valid entries answered 200 with %+v", n, r.answer)
	case r.code == http.StatusInsufficientStorage || r.code == http.StatusServiceUnavailable:
		if f.refused == nil {
			f.refused = &r
		}
	case r.code == 0:
		if f.err == nil {
			f.err = fmt.Errorf("ingest failed without an answer: %v", r.err)
		}
	default:
		f.err = fmt.Errorf("a batch of %d valid entries answered %d %s", n, r.code, r.body)
	}
	return r
}

// run sends batches of n entries from the given number of concurrent
// clients until one is refused, one fails, or ctx ends.
func (f *diskFiller) run(ctx context.Context, clients, n int) {
	var wg sync.WaitGroup
	for c := 0; c < clients; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				if r := f.send(ctx, n); r.code != http.StatusOK {
					return
				}
				f.mu.Lock()
				done := f.refused != nil || f.err != nil
				f.mu.Unlock()
				if done {
					return
				}
			}
		}()
	}
	wg.Wait()
}

// checkDiskFullAnswer checks that r is a disk-full answer a user can act
// on: 507 or 503, a JSON error that says the disk is full.
func checkDiskFullAnswer(t *testing.T, r postResult) {
	t.Helper()
	if r.code != http.StatusInsufficientStorage && r.code != http.StatusServiceUnavailable {
		t.Fatalf("on a full disk ingest answered %d %s (err %v), want 507 or 503", r.code, r.body, r.err)
	}
	var e struct {
		Error string `json:"error"`
	}
	if err := json.Unmarshal(r.body, &e); err != nil || e.Error == "" {
		t.Fatalf("the %d answer is not a JSON error: %s", r.code, r.body)
	}
	if low := strings.ToLower(e.Error); !strings.Contains(low, "disk") && !strings.Contains(low, "space") {
		t.Errorf("the %d answer does not say the disk is full: %q", r.code, e.Error)
	}
}

// checkStoredExactly checks, reading storage (a field query, not the
// keyword index), that the entries of the phase are exactly the acknowledged
// ones, each once.
func checkStoredExactly(t *testing.T, d *daemon, phase string, acked map[string]bool) {
	t.Helper()
	seen := map[string]int{}
	for _, e := range d.scan("q=" + url.QueryEscape("phase:"+phase)) {
		id, _ := e.Fields["mid"].(string)
		seen[id]++
	}
	var missing, extra int
	for id := range acked {
		if seen[id] != 1 {
			missing++
		}
	}
	for id, n := range seen {
		if !acked[id] || n != 1 {
			extra++
		}
	}
	if missing > 0 || extra > 0 || len(seen) != len(acked) {
		t.Errorf("phase %s: %d acknowledged entries, %d stored; %d acknowledged ones missing or repeated, %d stored ones not acknowledged or repeated",
			phase, len(acked), len(seen), missing, extra)
	}
}

// statfs returns the free and total bytes of the filesystem holding dir.
func statfs(t *testing.T, dir string) (free, total int64) {
	t.Helper()
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		t.Fatalf("statfs %s: %v", dir, err)
	}
	return int64(st.Bavail) * st.Bsize, int64(st.Blocks) * st.Bsize
}

// crashExcerpt returns the part of a daemon log that says why it died: from
// the first fatal error or panic, the first goroutine's stack.
func crashExcerpt(log string) string {
	i := strings.Index(log, "fatal error:")
	if j := strings.Index(log, "panic:"); j >= 0 && (i < 0 || j < i) {
		i = j
	}
	if i < 0 {
		return log[max(0, len(log)-4000):]
	}
	end := len(log)
	if k := strings.Index(log[i:], "\n\ngoroutine "); k >= 0 {
		if k2 := strings.Index(log[i+k+2:], "\n\n"); k2 >= 0 {
			end = i + k + 2 + k2
		}
	}
	return log[i:min(end, i+6000)]
}

// waitIndexCaughtUp polls /readyz until the keyword index lags by nothing.
func waitIndexCaughtUp(t *testing.T, d *daemon, timeout time.Duration) {
	t.Helper()
	var ready readiness
	if !poll(timeout, 50*time.Millisecond, func() bool {
		ready = readiness{}
		d.getJSON("/readyz", &ready)
		return ready.IndexLag == 0
	}) {
		t.Fatalf("after %s the keyword index still lags by %d entries:\n%s", timeout, ready.IndexLag, d.logs())
	}
}
