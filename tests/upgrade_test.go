package tests

import (
	"archive/tar"
	"compress/gzip"
	"encoding/json"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// TestUpgradeFromFirstRelease opens a data directory written by the first
// release (one Badger key per entry; testdata/first-release-datadir.tgz:
// 1,000 JSON logs over three days, stopped cleanly) and checks that every
// answer the first release gave on it (first-release-answers.json.gz) is
// given again after the upgrade's migrations, with the same ids: every
// entry, searches in both orders, aggregations. Then once more after a
// kill -9 and a restart on the migrated directory.
func TestUpgradeFromFirstRelease(t *testing.T) {
	dir := t.TempDir()
	extractTarGz(t, filepath.Join("testdata", "first-release-datadir.tgz"), dir)
	dataDir := filepath.Join(dir, "data")
	var golden struct {
		Entries    []map[string]any           `json:"entries"`
		Searches   map[string][]string        `json:"searches"`
		Aggregates map[string]json.RawMessage `json:"aggregates"`
	}
	readGzipJSON(t, filepath.Join("testdata", "first-release-answers.json.gz"), &golden)
	if len(golden.Entries) != 1000 {
		t.Fatalf("golden answers hold %d entries", len(golden.Entries))
	}

	check := func(d *daemon) {
		t.Helper()
		// Every entry, newest first, as the first release stored it.
		var got []map[string]any
		cursor := ""
		for {
			p := "/api/v1/logs?limit=400"
			if cursor != "" {
				p += "&cursor=" + cursor
			}
			var pg struct {
				Logs       []map[string]any `json:"logs"`
				NextCursor string           `json:"next_cursor"`
			}
			d.getJSON(p, &pg)
			got = append(got, pg.Logs...)
			if cursor = pg.NextCursor; cursor == "" {
				break
			}
		}
		if len(got) != len(golden.Entries) {
			t.Fatalf("%d entries after the upgrade, want %d", len(got), len(golden.Entries))
		}
		for i, want := range golden.Entries {
			// Keys a later release adds to entries are not compared.
			for k, v := range want {
				if !reflect.DeepEqual(got[i][k], v) {
					t.Fatalf("entry %d (%v): %s = %v, want %v", i, want["id"], k, got[i][k], v)
				}
			}
		}
		for q, want := range golden.Searches {
			params := "q=" + url.QueryEscape(q)
			if strings.HasPrefix(q, "sort=") {
				params = q
			}
			var ids []string
			for _, e := range d.all(params) {
				ids = append(ids, e.ID)
			}
			if !reflect.DeepEqual(ids, want) {
				t.Fatalf("search %q: %d ids after the upgrade, want %d (first %v, want %v)", q, len(ids), len(want), first(ids), first(want))
			}
		}
		for key, raw := range golden.Aggregates {
			q, groupBy, _ := strings.Cut(key, "|")
			var want, got map[string]any
			if err := json.Unmarshal(raw, &want); err != nil {
				t.Fatal(err)
			}
			d.getJSON("/api/v1/aggregate?limit=100&q="+url.QueryEscape(q)+"&group_by="+url.QueryEscape(groupBy), &got)
			for _, k := range []string{"buckets", "total", "other"} {
				if !reflect.DeepEqual(got[k], want[k]) {
					t.Fatalf("aggregate q=%q group_by=%s: %s = %v, want %v", q, groupBy, k, got[k], want[k])
				}
			}
		}
	}

	d := startDaemon(t, dataDir, "--retention", "0")
	check(d)
	if !strings.Contains(d.logs(), "migrat") {
		t.Errorf("the daemon's log says nothing of a migration:\n%s", d.logs())
	}
	d.kill()
	d = startDaemon(t, dataDir, "--retention", "0")
	check(d)
	d.stop()
}

func first(ids []string) string {
	if len(ids) == 0 {
		return "none"
	}
	return ids[0]
}

func readGzipJSON(t *testing.T, path string, v any) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.NewDecoder(zr).Decode(v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

// extractTarGz unpacks regular files and directories of a .tgz into dir.
func extractTarGz(t *testing.T, path, dir string) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(zr)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		target := filepath.Join(dir, filepath.Clean(h.Name))
		if !strings.HasPrefix(target, filepath.Clean(dir)+string(os.PathSeparator)) {
			t.Fatalf("%s: %q leaves the directory", path, h.Name)
		}
		switch h.Typeflag {
		case tar.TypeDir:
			if err := os.MkdirAll(target, 0o755); err != nil {
				t.Fatal(err)
			}
		case tar.TypeReg:
			if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
				t.Fatal(err)
			}
			out, err := os.OpenFile(target, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := io.Copy(out, tr); err != nil {
				t.Fatal(err)
			}
			if err := out.Close(); err != nil {
				t.Fatal(err)
			}
		}
	}
}
