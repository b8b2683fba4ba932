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

// TestLoghubAgreement decodes every Loghub sample as text/plain and
// compares what is stored with the authors' structured CSV: the timestamp
// (rebuilt from the CSV's date and time columns with time.Parse, so
// independently of the parser) and, where the CSV has a level, the level.
// It logs the table the README shows.
func TestLoghubAgreement(t *testing.T) {
	logs, _ := filepath.Glob(filepath.Join(loghubDir, "*", "*_2k.log"))
	if len(logs) == 0 {
		t.Skipf("no Loghub samples under %s", loghubDir)
	}
	now := time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)
	d := Defaults{Now: func() time.Time { return now }}
	var table strings.Builder
	table.WriteString("\n| sample | lines | timestamp agrees | level agrees |\n| --- | ---: | ---: | ---: |\n")
	for _, logPath := range logs {
		system := filepath.Base(filepath.Dir(logPath))
		raw, err := os.ReadFile(logPath)
		if err != nil {
			t.Fatal(err)
		}
		rows := loghubRows(t, logPath+"_structured.csv")
		results := DecodeText(raw, d, Limits{})
		if len(results) != len(rows) {
			t.Fatalf("%s: %d entries but %d CSV rows", system, len(results), len(rows))
		}
		var timeOK, levelOK, levelRows int
		var mismatches []string
		for i, r := range results {
			row := rows[i]
			if r.Err != nil {
				t.Fatalf("%s line %d: %v", system, r.Line, r.Err)
			}
			want, dated, err := loghubTime(row)
			if err != nil {
				t.Fatalf("%s row %d: %v", system, i+1, err)
			}
			got := r.Entry.Time
			if !dated { // the year is not in the line: compare the rest
				got = got.AddDate(want.Year()-got.Year(), 0, 0)
			}
			if got.Equal(want) {
				timeOK++
			} else if len(mismatches) < 5 {
				mismatches = append(mismatches, fmt.Sprintf("line %d: time %s, want %s", r.Line, r.Entry.Time, want))
			}
			if v, ok := row["Level"]; ok {
				wantLevel, has := loghubLevel(t, v)
				if !has {
					continue // Linux: the column holds the host
				}
				levelRows++
				if r.Entry.Level == wantLevel {
					levelOK++
				} else if len(mismatches) < 5 {
					mismatches = append(mismatches, fmt.Sprintf("line %d: level %s, want %s", r.Line, r.Entry.Level, v))
				}
			}
		}
		levelCell := "no level in the CSV"
		if levelRows > 0 {
			levelCell = percent(levelOK, levelRows)
		}
		fmt.Fprintf(&table, "| %s | %d | %s | %s |\n", system, len(rows), percent(timeOK, len(rows)), levelCell)
		if timeOK*100 < 99*len(rows) || levelRows > 0 && levelOK*100 < 99*levelRows {
			t.Errorf("%s below 99%%:\n%s", system, strings.Join(mismatches, "\n"))
		}
	}
	t.Log(table.String())
}

func percent(n, of int) string {
	return fmt.Sprintf("%d/%d (%.1f%%)", n, of, 100*float64(n)/float64(of))
}

// loghubTime rebuilds a row's time from its date and time columns and
// reports whether the line writes the year.
func loghubTime(row map[string]string) (time.Time, bool, error) {
	var parts []string
	for _, col := range []string{"Month", "Date", "Day", "Time"} {
		if v, ok := row[col]; ok {
			parts = append(parts, strings.TrimSpace(v))
		}
	}
	s := strings.Join(parts, " ")
	for _, l := range []struct {
		layout string
		dated  bool
	}{
		{"2006-01-02 15:04:05,000", true},  // log4j
		{"Mon Jan 02 15:04:05 2006", true}, // Apache ctime
		{"060102 150405", true},            // HDFS
		{"06/01/02 15:04:05", true},        // Spark
		{"01-02 15:04:05.000", false},      // logcat
		{"Jan 2 15:04:05", false},          // syslog
	} {
		if t, err := time.Parse(l.layout, s); err == nil {
			return t, l.dated, nil
		}
	}
	return time.Time{}, false, fmt.Errorf("no reference layout for %q", s)
}

// loghubRows returns the rows of a structured CSV keyed by column name.
func loghubRows(tb testing.TB, path string) []map[string]string {
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
	out := make([]map[string]string, 0, len(rows)-1)
	for _, r := range rows[1:] {
		m := make(map[string]string, len(r))
		for i, name := range rows[0] {
			m[name] = r[i]
		}
		out = append(out, m)
	}
	return out
}
