package tests

import (
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// faultWords are the words of the test's messages; faultQueries the
// keyword queries whose answers must survive a damaged index.
var (
	faultWords   = []string{"alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india", "juliet"}
	faultQueries = []string{"alpha", "bravo charlie", "delta OR golf", "hot*", "india -juliet", "000042"}
)

// faultAnswer is what the daemon answers for every faultQuery: the ids a
// search lists and the total of an aggregation.
type faultAnswer map[string]string

// askFaultQueries asks every faultQuery. Each answer must be a 200 or a
// 503 with a JSON error (ok false then); a dropped connection or any other
// answer fails the test.
func askFaultQueries(t *testing.T, d *daemon) (faultAnswer, bool) {
	t.Helper()
	out := faultAnswer{}
	complete := true
	for _, q := range faultQueries {
		ids, ok := searchIDs(q, func(p string, v any) bool { return faultGet(t, d, p, v) })
		if !ok {
			complete = false
		}
		var agg aggregateAnswer
		if !faultGet(t, d, "/api/v1/aggregate?group_by=level&q="+url.QueryEscape(q), &agg) {
			complete = false
			continue
		}
		out[q] = fmt.Sprintf("%d ids %x, total %d", len(ids), strings.Join(ids, ","), agg.Total)
	}
	return out, complete
}

// searchIDs pages through every match of q with get (a GET of a path into
// a value, false when the daemon answered with an error) and returns the
// ids, or false at the first page that failed.
func searchIDs(q string, get func(path string, v any) bool) ([]string, bool) {
	var ids []string
	for cursor := ""; ; {
		p := "/api/v1/logs?limit=1000&q=" + url.QueryEscape(q)
		if cursor != "" {
			p += "&cursor=" + cursor
		}
		var pg page
		if !get(p, &pg) {
			return ids, false
		}
		for _, e := range pg.Logs {
			ids = append(ids, e.ID)
		}
		if cursor = pg.NextCursor; cursor == "" {
			return ids, true
		}
	}
}

// faultGet GETs path into v and reports true on a 200; on a 503 it checks
// the JSON error and reports false.
func faultGet(t *testing.T, d *daemon, path string, v any) bool {
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
	switch resp.StatusCode {
	case http.StatusOK:
		if err := json.Unmarshal(b, v); err != nil {
			t.Fatalf("GET %s: %v in %s", path, err, b)
		}
		return true
	case http.StatusServiceUnavailable:
		var e struct {
			Error string `json:"error"`
		}
		if json.Unmarshal(b, &e) != nil || e.Error == "" {
			t.Fatalf("GET %s: 503 without a JSON error: %s", path, b)
		}
		return false
	}
	t.Fatalf("GET %s: %d %s, want 200 or 503", path, resp.StatusCode, b)
	return false
}

// On a stopped daemon, bytes are flipped in each file of one day's keyword
// index in turn. After a restart every answer is the one from before or a
// 503 JSON error, never a dropped connection; /readyz ends up ready (not
// degraded) once the shard is rebuilt; and the answers are the same again.
func TestIndexFaultsHeal(t *testing.T) {
	dir := t.TempDir()
	d := startDaemon(t, dir, "--retention", "0")
	rng := rand.New(rand.NewPCG(5, 6))
	base := time.Now().UTC().Truncate(24*time.Hour).AddDate(0, 0, -3)
	var b strings.Builder
	for i := range 3000 {
		ts := base.Add(time.Duration(rng.Int64N(int64(72 * time.Hour))))
		msg := fmt.Sprintf("%s %s %s handled request %06d", faultWords[rng.IntN(len(faultWords))],
			faultWords[rng.IntN(len(faultWords))], faultWords[rng.IntN(len(faultWords))], i%500)
		j, _ := json.Marshal(map[string]any{"timestamp": ts.Format(time.RFC3339Nano), "level": "info", "source": "fault", "message": msg})
		b.Write(j)
		b.WriteByte('\n')
	}
	if code, a := d.ingest("application/x-ndjson", b.String(), "wait=indexed"); code != http.StatusOK || a.Accepted != 3000 {
		t.Fatalf("ingest: %d %+v", code, a)
	}
	want, complete := askFaultQueries(t, d)
	if !complete {
		t.Fatal("a 503 before any damage")
	}
	d.stop()

	day := base.AddDate(0, 0, 1).Format("2006-01-02")
	shard := filepath.Join(dir, "index", day)
	pristine := filepath.Join(t.TempDir(), day)
	copyTree(t, shard, pristine)
	var files []string
	err := filepath.WalkDir(pristine, func(path string, de fs.DirEntry, err error) error {
		if err == nil && !de.IsDir() {
			rel, _ := filepath.Rel(pristine, path)
			files = append(files, rel)
		}
		return err
	})
	if err != nil || len(files) == 0 {
		t.Fatalf("files of the shard %s: %v %v", day, files, err)
	}
	slices.Sort(files)

	for _, c := range faultCases(files) {
		file, at := c.file, c.at
		copyTree(t, pristine, shard)
		path := filepath.Join(shard, file)
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if len(data) == 0 {
			continue
		}
		off := int(at * float64(len(data)))
		for i := off; i < min(off+16, len(data)); i++ {
			data[i] ^= 0xff
		}
		if err := os.WriteFile(path, data, 0o640); err != nil {
			t.Fatal(err)
		}

		d = startDaemon(t, dir, "--retention", "0")
		// At once: while the shard may still be damaged.
		if got, complete := askFaultQueries(t, d); complete {
			for q, w := range want {
				if got[q] != w {
					t.Fatalf("%s damaged at %.1f: %q answers %s, want %s", file, at, q, got[q], w)
				}
			}
		}
		// Healed: ready, not degraded, and exact from the rebuilt index.
		deadline := time.Now().Add(20 * time.Second)
		var r struct {
			Status string `json:"status"`
		}
		for {
			if faultGet(t, d, "/readyz", &r) && r.Status == "ready" {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s damaged: /readyz says %q after 20s\n%s", file, r.Status, d.logs())
			}
			time.Sleep(50 * time.Millisecond)
		}
		got, complete := askFaultQueries(t, d)
		if !complete {
			t.Fatalf("%s damaged: a 503 after /readyz said ready", file)
		}
		for q, w := range want {
			if got[q] != w {
				t.Fatalf("%s damaged: after healing %q answers %s, want %s", file, q, got[q], w)
			}
		}
		if strings.HasSuffix(file, ".zap") {
			// A segment's checksum always shows the flip: the shard was
			// found damaged, logged with its day, and rebuilt.
			logs := d.logs()
			if !strings.Contains(logs, "keyword index shard damaged") || !strings.Contains(logs, day) {
				t.Fatalf("%s damaged: the log does not tell it with the day:\n%s", file, logs)
			}
			if !strings.Contains(logs, "rebuilt keyword index shard") || !strings.Contains(logs, filepath.Base(file)) {
				t.Fatalf("%s damaged: the log does not tell the file and the rebuild:\n%s", file, logs)
			}
			code, m := d.do(http.MethodGet, "/metrics", "", nil)
			if code != http.StatusOK || !strings.Contains(string(m), "logengine_index_shard_damage_total 1") ||
				!strings.Contains(string(m), "logengine_index_shards_damaged 0") {
				t.Fatalf("%s damaged: /metrics does not count the damage and the rebuild: %d", file, code)
			}
		}
		if _, err := os.Stat(filepath.Join(shard, "damaged")); err == nil {
			t.Fatalf("%s damaged: the rebuilt shard still carries its damage mark", file)
		}
		d.stop()
		t.Logf("%s at %.1f: flipped, answered, healed", file, at)
	}
}

type faultCase struct {
	file string
	at   float64 // where in the file, as a fraction of its length
}

// faultCases flips each file near its start, in its middle and near its
// end (a segment's footer, the last block record).
func faultCases(files []string) []faultCase {
	var out []faultCase
	for _, f := range files {
		for _, at := range []float64{0.1, 0.5, 0.9} {
			out = append(out, faultCase{f, at})
		}
	}
	return out
}
