package httpapi

import (
	"bytes"
	"encoding/csv"
	"testing"
	"time"

	"github.com/logengine/logengine/storage"
)

func TestNeutralise(t *testing.T) {
	cases := []struct {
		name, in, want string
	}{
		{"empty", "", ""},
		{"plain", "GET /index.html", "GET /index.html"},
		{"formula", "=HYPERLINK(\"http://x\",\"y\")", "'=HYPERLINK(\"http://x\",\"y\")"},
		{"plus", "+cmd|' /C calc'!A0", "'+cmd|' /C calc'!A0"},
		{"minus formula", "-2+3+cmd|' /C calc'!A0", "'-2+3+cmd|' /C calc'!A0"},
		{"at", "@SUM(A1)", "'@SUM(A1)"},
		{"tab", "\t=1", "'\t=1"},
		{"carriage return", "\r=1", "'\r=1"},
		{"negative number", "-3", "-3"},
		{"negative float", "-0.25", "-0.25"},
		{"signed exponent", "+1e6", "+1e6"},
		{"hex float is not a plain number", "-0x1p-2", "'-0x1p-2"},
		{"equals inside", "a=b", "a=b"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := neutralise(tc.in); got != tc.want {
				t.Errorf("neutralise(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

// TestCSVRow checks a row as a spreadsheet reads it back: RFC 4180 quoting
// of commas, quotes and line breaks, and neutralised formulas.
func TestCSVRow(t *testing.T) {
	e := &storage.Entry{
		ID: storage.ID{Nanos: 1, Seq: 2}, Time: time.Date(2026, 12, 4, 1, 2, 3, 4000, time.UTC),
		Level: storage.LevelError, Source: "=api", Message: "a, \"quoted\"\r\nsecond line",
		Tags:   []string{"prod", "eu"},
		Fields: []storage.Field{{Name: "status", Value: storage.Int(-5)}, {Name: "cmd", Value: storage.String("@x")}},
	}
	cols := []string{"timestamp", "level", "source", "message", "tags", "status", "cmd", "missing", "fields"}
	row := make([]string, len(cols))
	for i, c := range cols {
		row[i] = csvCell(e, c)
	}
	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	w.UseCRLF = true
	if err := w.Write(row); err != nil {
		t.Fatal(err)
	}
	w.Flush()
	got, err := csv.NewReader(&buf).Read()
	if err != nil {
		t.Fatalf("read back %q: %v", buf.String(), err)
	}
	want := []string{"2026-12-04T01:02:03.000004Z", "error", "'=api", "a, \"quoted\"\nsecond line", "prod,eu", "-5", "'@x", "", `{"cmd":"@x","status":-5}`}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("column %s: %q, want %q", cols[i], got[i], want[i])
		}
	}
}
