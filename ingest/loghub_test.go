package ingest

import (
	"encoding/csv"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/logengine/logengine/storage"
)

// loghubDir holds the Loghub 2k samples beside the project (research
// licence: they are read at run time, never copied into the repository).
const loghubDir = "../../shared/data/loghub"

// loghubLevel maps a value of a Loghub CSV's Level column. In the Linux
// sample that column holds the host name ("combo"): those syslog lines
// carry no level, and none must be recognised.
func loghubLevel(tb testing.TB, v string) (l storage.Level, has bool) {
	tb.Helper()
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "trace":
		return storage.LevelTrace, true
	case "debug", "d", "v":
		return storage.LevelDebug, true
	case "info", "i", "notice":
		return storage.LevelInfo, true
	case "warn", "warning", "w":
		return storage.LevelWarn, true
	case "error", "e":
		return storage.LevelError, true
	case "fatal", "f":
		return storage.LevelFatal, true
	case "combo", "-", "":
		return 0, false
	}
	tb.Fatalf("Level column value %q has no mapping: add one", v)
	return 0, false
}

// TestLoghubLevels parses every line of the Loghub samples as text and
// compares the recognised level with the authors' parse. Every line must
// also have its timestamp recognised.
func TestLoghubLevels(t *testing.T) {
	logs, _ := filepath.Glob(filepath.Join(loghubDir, "*", "*_2k.log"))
	if len(logs) == 0 {
		t.Skipf("no Loghub samples under %s", loghubDir)
	}
	now := time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)
	for _, logPath := range logs {
		system := filepath.Base(filepath.Dir(logPath))
		t.Run(system, func(t *testing.T) {
			raw, err := os.ReadFile(logPath)
			if err != nil {
				t.Fatal(err)
			}
			lines := strings.Split(strings.TrimSuffix(string(raw), "\n"), "\n")
			levels := loghubLevels(t, logPath+"_structured.csv")
			if levels != nil && len(levels) != len(lines) {
				t.Fatalf("%d lines but %d CSV rows", len(lines), len(levels))
			}
			var timed, matched int
			var mismatches []string
			for i, line := range lines {
				tl := ParseTextLine(line, now)
				if tl.HasTime {
					timed++
				} else if len(mismatches) < 10 {
					mismatches = append(mismatches, fmt.Sprintf("line %d: no timestamp recognised: %s", i+1, shorten(line)))
				}
				if levels == nil {
					continue
				}
				want, wantHas := loghubLevel(t, levels[i])
				if tl.HasLevel == wantHas && (!wantHas || tl.Level == want) {
					matched++
				} else if len(mismatches) < 10 {
					got := "none"
					if tl.HasLevel {
						got = tl.Level.String()
					}
					mismatches = append(mismatches, fmt.Sprintf("line %d: level %s, want %s: %s", i+1, got, levels[i], shorten(line)))
				}
			}
			if levels != nil {
				t.Logf("%s: levels %d/%d matched, timestamps %d/%d", system, matched, len(lines), timed, len(lines))
			} else {
				t.Logf("%s: no Level column; timestamps %d/%d", system, timed, len(lines))
			}
			if len(mismatches) > 0 {
				t.Errorf("%s: first mismatches:\n%s", system, strings.Join(mismatches, "\n"))
			}
		})
	}
}

// loghubLevels returns the Level column of a structured CSV, or nil when
// it has none.
func loghubLevels(tb testing.TB, path string) []string {
	tb.Helper()
	f, err := os.Open(path)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		tb.Fatalf("%s: %v", path, err)
	}
	col := -1
	for i, name := range rows[0] {
		if name == "Level" {
			col = i
		}
	}
	if col < 0 {
		return nil
	}
	out := make([]string, 0, len(rows)-1)
	for _, r := range rows[1:] {
		out = append(out, r[col])
	}
	return out
}
