package tests

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/logengine/logengine/internal/sparse"
)

// storageQueries are read as searches (every page), aggregations and
// exports: keyword queries (index, then blocks), field queries (posting
// lists, headers) and everything (a scan).
var storageQueries = []string{"", "alpha", "bravo charlie", "level:error", "source:fault-2", "india -juliet"}

// askStorage asks every storageQuery. An answer is either complete (200,
// read to its end) or a clear error: a JSON error that says the storage is
// damaged and what to do, or an export cut off after its 200 with the
// daemon's log saying why. Anything else (a dropped connection, another
// status, a short export that looks whole) fails the test. It returns the
// complete answers by query and how many reads failed.
func askStorage(t *testing.T, d *daemon) (map[string]string, int) {
	t.Helper()
	out := map[string]string{}
	failed := 0
	for _, q := range storageQueries {
		ids, complete := searchIDs(q, func(p string, v any) bool { return storageGet(t, d, p, v) })
		if complete {
			out["search "+q] = fmt.Sprintf("%d %x", len(ids), strings.Join(ids, ","))
		} else {
			failed++
		}
		var agg aggregateAnswer
		if storageGet(t, d, "/api/v1/aggregate?group_by=level&q="+url.QueryEscape(q), &agg) {
			out["aggregate "+q] = fmt.Sprint(agg.Total, agg.Buckets)
		} else {
			failed++
		}
		if lines, ok := storageExport(t, d, q); ok {
			out["export "+q] = fmt.Sprint(len(lines), lines)
		} else {
			failed++
		}
	}
	return out, failed
}

// storageReadiness is what /readyz says of damaged storage tables.
type storageReadiness struct {
	Status         string `json:"status"`
	StorageDamaged []struct {
		File  string `json:"file"`
		Error string `json:"error"`
	} `json:"storage_damaged"`
}

func storageReady(t *testing.T, d *daemon) storageReadiness {
	t.Helper()
	var r storageReadiness
	resp, err := http.Get(d.url + "/readyz")
	if err != nil {
		t.Fatalf("GET /readyz: %v (a dropped connection)", err)
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
		t.Fatalf("GET /readyz: %d, %v", resp.StatusCode, err)
	}
	if len(r.StorageDamaged) > 0 && (resp.StatusCode != http.StatusOK || r.Status != "degraded") {
		t.Fatalf("GET /readyz: %d %q with damaged tables %+v, want 200 degraded", resp.StatusCode, r.Status, r.StorageDamaged)
	}
	return r
}

// storageGet GETs path into v and reports true on a 200; on an error it
// checks that the JSON error tells the damage and the way out.
func storageGet(t *testing.T, d *daemon, path string, v any) bool {
	t.Helper()
	resp, err := http.Get(d.url + path)
	if err != nil {
		t.Fatalf("GET %s: %v (a dropped connection)\n%s", path, err, d.logs())
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: reading the answer: %v", path, err)
	}
	if resp.StatusCode == http.StatusOK {
		if err := json.Unmarshal(b, v); err != nil {
			t.Fatalf("GET %s: %v in %s", path, err, b)
		}
		return true
	}
	checkDamageError(t, path, resp.StatusCode, b)
	return false
}

func checkDamageError(t *testing.T, path string, code int, b []byte) {
	t.Helper()
	var e struct {
		Error string `json:"error"`
	}
	if code != http.StatusInternalServerError && code != http.StatusServiceUnavailable || json.Unmarshal(b, &e) != nil ||
		!strings.Contains(e.Error, "damaged") || !strings.Contains(e.Error, "verify") {
		t.Fatalf("GET %s: %d %s, want 200 or a JSON error saying the storage is damaged and what to do", path, code, b)
	}
}

// storageExport reads an NDJSON export; false when it was refused with a
// clear error or cut off (and the daemon logged the damage).
func storageExport(t *testing.T, d *daemon, q string) ([]string, bool) {
	t.Helper()
	path := "/api/v1/export?format=ndjson&q=" + url.QueryEscape(q)
	resp, err := http.Get(d.url + path)
	if err != nil {
		t.Fatalf("GET %s: %v (a dropped connection)\n%s", path, err, d.logs())
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		checkDamageError(t, path, resp.StatusCode, b)
		return nil, false
	}
	if err != nil {
		// Cut off after its 200, so that no client takes it for whole.
		logs := d.logs()
		if !strings.Contains(logs, "export ended early") || !strings.Contains(logs, "damaged") {
			t.Fatalf("GET %s: %v, and the log does not say why:\n%s", path, err, logs)
		}
		return nil, false
	}
	var ids []string
	for line := range strings.Lines(string(b)) {
		var e entry
		if err := json.Unmarshal([]byte(line), &e); err != nil {
			t.Fatalf("GET %s: %v in %q", path, err, line)
		}
		ids = append(ids, e.ID)
	}
	return ids, true
}

// storageLogs is n NDJSON logs spread over the three days before today.
func storageLogs(rng *rand.Rand, n int) string {
	base := time.Now().UTC().Truncate(24*time.Hour).AddDate(0, 0, -3)
	levels := []string{"info", "info", "warn", "error"}
	var b strings.Builder
	for i := range n {
		ts := base.Add(time.Duration(rng.Int64N(int64(72 * time.Hour))))
		msg := fmt.Sprintf("%s %s %s handled request %06d", faultWords[rng.IntN(len(faultWords))],
			faultWords[rng.IntN(len(faultWords))], faultWords[rng.IntN(len(faultWords))], i)
		j, _ := json.Marshal(map[string]any{"timestamp": ts.Format(time.RFC3339Nano), "level": levels[rng.IntN(len(levels))],
			"source": fmt.Sprintf("fault-%d", rng.IntN(4)), "message": msg})
		b.Write(j)
		b.WriteByte('\n')
	}
	return b.String()
}

// On a stopped daemon, bytes are flipped in Badger's files in turn: each
// table (.sst) near its start, middle and end, the MANIFEST, the last value
// log, and (after a kill -9, when the latest commits are only there) the
// write-ahead log (.mem). After a restart the daemon either refuses to
// start, naming the damaged file and what to do, or answers every search,
// aggregation and export exactly as before or with a clear error; never a
// panic, a dropped connection or a shorter answer.
func TestStorageFaultsUnderServe(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "db")
	d := startDaemon(t, dir, "--retention", "0")
	rng := rand.New(rand.NewPCG(7, 8))
	// A restart after each batch, so that each is flushed into a table of
	// its own.
	for i := range 3 {
		if code, a := d.ingest("application/x-ndjson", storageLogs(rng, 2000), "wait=indexed"); code != http.StatusOK || a.Accepted != 2000 {
			t.Fatalf("ingest: %d %+v", code, a)
		}
		if i < 2 {
			d.stop()
			d = startDaemon(t, dir, "--retention", "0")
		}
	}
	want, failed := askStorage(t, d)
	if failed > 0 {
		t.Fatal("an error before any damage")
	}
	d.stop()
	clean := t.TempDir()
	copyTree(t, dir, clean)

	// The crash image: more commits, acknowledged, then kill -9, so that
	// they are in the write-ahead log only.
	d = startDaemon(t, dir, "--retention", "0")
	if code, a := d.ingest("application/x-ndjson", storageLogs(rng, 500), "wait=indexed"); code != http.StatusOK || a.Accepted != 500 {
		t.Fatalf("ingest: %d %+v", code, a)
	}
	wantCrash, failed := askStorage(t, d)
	if failed > 0 {
		t.Fatal("an error before any damage")
	}
	d.kill()
	crashed := t.TempDir()
	copyTree(t, dir, crashed)
	if keep := os.Getenv("KEEP_CRASH"); keep != "" {
		copyTree(t, dir, keep)
	}

	// Undamaged, the crash image opens with every acknowledged commit.
	copyTree(t, crashed, dir)
	d = startDaemon(t, dir, "--retention", "0")
	if got, failed := askStorage(t, d); failed > 0 || fmt.Sprint(got) != fmt.Sprint(wantCrash) {
		t.Fatalf("the undamaged crash image answers differently (%d errors)", failed)
	}
	d.kill()

	type fault struct {
		image, file string
		at          func(written int64) int64
	}
	var faults []fault
	names, _ := filepath.Glob(filepath.Join(clean, "db", "*.sst"))
	for _, name := range names {
		for _, frac := range []int64{1, 5, 9} {
			faults = append(faults, fault{clean, filepath.Base(name), func(n int64) int64 { return n * frac / 10 }})
		}
	}
	faults = append(faults,
		fault{clean, "MANIFEST", func(n int64) int64 { return n / 2 }},
		fault{clean, "MANIFEST", func(n int64) int64 { return n - 8 }})
	if vlogs, _ := filepath.Glob(filepath.Join(clean, "db", "*.vlog")); len(vlogs) > 0 {
		slices.Sort(vlogs)
		faults = append(faults, fault{clean, filepath.Base(vlogs[len(vlogs)-1]), func(n int64) int64 { return 4 }})
	}
	mems, _ := filepath.Glob(filepath.Join(crashed, "db", "*.mem"))
	for _, name := range mems {
		if written := writtenPart(t, name); written > 4096 {
			for _, frac := range []int64{1, 2, 3} {
				faults = append(faults, fault{crashed, filepath.Base(name), func(n int64) int64 { return n * frac / 4 }})
			}
		}
	}
	if len(mems) == 0 || faults[len(faults)-1].image != crashed {
		t.Fatalf("the crash image has no write-ahead log with commits: %v", mems)
	}

	refused, answered, errored := 0, 0, 0
	for _, f := range faults {
		copyTree(t, f.image, dir)
		path := filepath.Join(db, f.file)
		at := f.at(writtenPart(t, path))
		flip(t, path, at, 8)
		d, err := tryStartDaemon(t, dir, "--retention", "0")
		if err != nil {
			msg := err.Error()
			if !strings.Contains(msg, f.file) || !strings.Contains(msg, "restore") || strings.Contains(msg, "panic") {
				t.Fatalf("%s damaged at %d: the daemon refused without naming the file and what to do:\n%s", f.file, at, msg)
			}
			refused++
			t.Logf("%s at %d: refused: %s", f.file, at, lastLine(msg))
			continue
		}
		w := want
		if f.image == crashed {
			w = wantCrash
		}
		got, failed := askStorage(t, d)
		for k, v := range got {
			if v != w[k] {
				t.Fatalf("%s damaged at %d: %s answered %.200s, want %.200s", f.file, at, k, v, w[k])
			}
		}
		ready := storageReady(t, d)
		if failed > 0 {
			errored++
		} else {
			answered++
		}
		// A table a read found damaged is named in /readyz.
		if failed > 0 && strings.HasSuffix(f.file, ".sst") {
			if len(ready.StorageDamaged) != 1 || !strings.HasSuffix(ready.StorageDamaged[0].File, f.file) {
				t.Fatalf("%s damaged at %d: /readyz lists %+v, want the table", f.file, at, ready.StorageDamaged)
			}
		}
		if strings.Contains(d.logs(), "panic") {
			t.Fatalf("%s damaged at %d: a panic in the log:\n%s", f.file, at, d.logs())
		}
		d.kill()
		t.Logf("%s at %d: %d answers exact, %d clear errors", f.file, at, len(got), failed)
	}
	t.Logf("%d faults: %d refused at start, %d answered exactly, %d answered exactly or with clear errors", len(faults), refused, answered, errored)
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}

// copyTree replaces dst by a copy of src, keeping holes holes: Badger's
// logs are large files that are mostly holes.
func copyTree(t *testing.T, src, dst string) {
	t.Helper()
	if err := os.RemoveAll(dst); err != nil {
		t.Fatal(err)
	}
	err := filepath.WalkDir(src, func(path string, de os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, path)
		if err != nil {
			return err
		}
		if de.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o750)
		}
		return sparse.Copy(path, filepath.Join(dst, rel))
	})
	if err != nil {
		t.Fatal(err)
	}
}

const seekHole = 4 // lseek's SEEK_HOLE on Linux

// writtenPart is where a file's written bytes end: after its last byte that
// is not zero in its first run of data (the written part of a log file,
// which is otherwise zeros and holes; the whole of a table or MANIFEST).
func writtenPart(t *testing.T, name string) int64 {
	t.Helper()
	f, err := os.Open(name)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	end, err := f.Seek(0, seekHole)
	if err != nil {
		t.Fatal(err)
	}
	b := make([]byte, end)
	if _, err := f.ReadAt(b, 0); err != nil {
		t.Fatal(err)
	}
	return int64(len(bytes.TrimRight(b, "\x00")))
}

// flip inverts n bytes of a file from at on.
func flip(t *testing.T, name string, at int64, n int) {
	t.Helper()
	f, err := os.OpenFile(name, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	b := make([]byte, n)
	if _, err := f.ReadAt(b, at); err != nil {
		t.Fatal(err)
	}
	for i := range b {
		b[i] ^= 0xff
	}
	if _, err := f.WriteAt(b, at); err != nil {
		t.Fatal(err)
	}
}

// verify compares the keyword index with storage: a stopped data directory
// whose index is older than its storage (entries the index lacks) or whose
// storage is older than its index (entries storage lost) is reported by
// day, with what to do; after the daemon rebuilt the lagging index, or
// with both from the same moment, verify is content.
func TestVerifyComparesIndexWithStorage(t *testing.T) {
	dir := t.TempDir()
	rng := rand.New(rand.NewPCG(9, 10))
	d := startDaemon(t, dir, "--retention", "0")
	if code, a := d.ingest("application/x-ndjson", storageLogs(rng, 2000), "wait=indexed"); code != http.StatusOK || a.Accepted != 2000 {
		t.Fatalf("ingest: %d %+v", code, a)
	}
	d.stop()
	before := t.TempDir()
	copyTree(t, dir, before)
	d = startDaemon(t, dir, "--retention", "0")
	if code, a := d.ingest("application/x-ndjson", storageLogs(rng, 1000), "wait=indexed"); code != http.StatusOK || a.Accepted != 1000 {
		t.Fatalf("ingest: %d %+v", code, a)
	}
	d.stop()
	verify := func() (int, string) {
		out, err := exec.Command(binary, "verify", "--data-dir", dir).CombinedOutput()
		return exitCode(err), string(out)
	}
	if code, out := verify(); code != 0 || !strings.Contains(out, "keyword index against storage: ok") {
		t.Fatalf("verify of a sound directory: exit %d\n%s", code, out)
	}
	after := t.TempDir()
	copyTree(t, dir, after)

	// The index from before the second ingest.
	copyTree(t, filepath.Join(before, "index"), filepath.Join(dir, "index"))
	code, out := verify()
	if code != 1 || !strings.Contains(out, "stored entries are not in the index") || !strings.Contains(out, "admin/reindex") || strings.Contains(out, "storage lost") {
		t.Fatalf("verify of an index that lacks entries: exit %d\n%s", code, out)
	}

	// Storage from before the second ingest, the index from after.
	copyTree(t, filepath.Join(before, "db"), filepath.Join(dir, "db"))
	copyTree(t, filepath.Join(after, "index"), filepath.Join(dir, "index"))
	code, out = verify()
	if code != 1 || !strings.Contains(out, "entries storage does not") || !strings.Contains(out, "restore the last backup") {
		t.Fatalf("verify of storage that lost entries the index holds: exit %d\n%s", code, out)
	}
	t.Logf("verify says:\n%s", out)
}
