package ingest

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/logengine/logengine/storage"
)

// Seed corpora live in testdata/fuzz/<FuzzName>/.

// fuzzLimits are small so that the fuzzers reach the limit checks.
var fuzzLimits = Limits{MaxLineBytes: 4096, MaxFields: 8, MaxTags: 4, MaxFieldNameBytes: 24, MaxValueBytes: 128}

// checkText asserts a stored string is valid UTF-8 without the control
// characters its kind may not hold.
func checkText(tb testing.TB, what, s string, allowed string) {
	tb.Helper()
	if !utf8.ValidString(s) {
		tb.Fatalf("%s %q is not valid UTF-8", what, s)
	}
	for _, r := range s {
		if (r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0)) && !strings.ContainsRune(allowed, r) {
			tb.Fatalf("%s %q holds control character %U", what, s, r)
		}
	}
}

// checkEntry asserts the invariants every accepted entry keeps.
func checkEntry(tb testing.TB, e storage.Entry, l Limits, messageControls string) {
	tb.Helper()
	l = l.withDefaults()
	if err := e.Validate(); err != nil {
		tb.Fatalf("accepted entry fails Validate: %v: %+v", err, e)
	}
	if strings.TrimSpace(e.Message) == "" {
		tb.Fatalf("accepted entry has a blank message: %+v", e)
	}
	checkText(tb, "message", e.Message, messageControls)
	if e.Source == "" {
		tb.Fatalf("accepted entry has no source")
	}
	checkText(tb, "source", e.Source, "")
	if len(e.Tags) > l.MaxTags {
		tb.Fatalf("%d tags", len(e.Tags))
	}
	for _, t := range e.Tags {
		checkText(tb, "tag", t, "")
		if t == "" || len(t) > l.MaxValueBytes {
			tb.Fatalf("tag %q", t)
		}
	}
	if len(e.Fields) > l.MaxFields {
		tb.Fatalf("%d fields", len(e.Fields))
	}
	seen := map[string]bool{}
	for _, f := range e.Fields {
		checkText(tb, "field name", f.Name, "")
		if f.Name == "" || len(f.Name) > l.MaxFieldNameBytes || seen[f.Name] {
			tb.Fatalf("field name %q empty, too long or repeated", f.Name)
		}
		seen[f.Name] = true
		switch f.Value.Kind {
		case storage.KindString:
			checkText(tb, "field "+f.Name, f.Value.Str, "\t\n")
		case storage.KindInt, storage.KindFloat, storage.KindBool:
		default:
			tb.Fatalf("field %q has kind %d", f.Name, f.Value.Kind)
		}
	}
}

func FuzzDecodeJSON(f *testing.F) {
	f.Fuzz(func(t *testing.T, body []byte) {
		rs, err := DecodeJSON(body, testDefaults(), fuzzLimits)
		valid := json.Valid(trimBOM(body))
		if (err == nil) != valid {
			t.Fatalf("error %v, but json.Valid says %v", err, valid)
		}
		if err != nil {
			if len(rs) != 0 {
				t.Fatalf("%d results with a body error", len(rs))
			}
			return
		}
		trimmed := bytes.TrimSpace(trimBOM(body))
		if trimmed[0] != '[' && len(rs) != 1 {
			t.Fatalf("%d results for a single value", len(rs))
		}
		for i, r := range rs {
			if r.Line != i+1 {
				t.Fatalf("result %d has line %d", i, r.Line)
			}
			if r.Err == nil {
				checkEntry(t, r.Entry, fuzzLimits, "\t\n")
			}
		}
	})
}

// asciiSpace is what makes a line blank; Unicode spaces do not.
const asciiSpace = " \t\r\n\v\f"

func FuzzDecodeNDJSON(f *testing.F) {
	f.Fuzz(func(t *testing.T, body []byte) {
		rs := DecodeNDJSON(body, testDefaults(), fuzzLimits)
		lines := bytes.Split(trimBOM(body), []byte("\n"))
		last := 0
		for _, r := range rs {
			if r.Line <= last || r.Line > len(lines) {
				t.Fatalf("line %d after %d, of %d lines", r.Line, last, len(lines))
			}
			last = r.Line
			line := bytes.Trim(lines[r.Line-1], asciiSpace)
			if len(line) == 0 {
				t.Fatalf("result for blank line %d", r.Line)
			}
			if r.Err == nil {
				if !json.Valid(line) {
					t.Fatalf("line %d accepted but not JSON: %q", r.Line, line)
				}
				checkEntry(t, r.Entry, fuzzLimits, "\t\n")
			} else if !json.Valid(line) && Reason(r.Err) == "invalid" && !strings.HasPrefix(r.Err.Error(), "invalid JSON") {
				t.Fatalf("line %d is not JSON but the error says %v", r.Line, r.Err)
			}
		}
		nonBlank := 0
		for _, l := range lines {
			if len(bytes.Trim(l, asciiSpace)) > 0 {
				nonBlank++
			}
		}
		if len(rs) != nonBlank {
			t.Fatalf("%d results for %d non-blank lines", len(rs), nonBlank)
		}
	})
}

func FuzzParseTextLine(f *testing.F) {
	f.Fuzz(func(t *testing.T, line string) {
		tl := ParseTextLine(line, testNow)
		blank := strings.TrimSpace(clean(strings.TrimRight(line, "\r\n"), keepTab)) == ""
		if blank {
			if tl.Message != "" {
				t.Fatalf("message %q for a blank line", tl.Message)
			}
			if rs := DecodeText([]byte(line), testDefaults(), Limits{}); len(rs) != 0 {
				t.Fatalf("results %+v for a blank line", rs)
			}
			return
		}
		if tl.Message == "" {
			t.Fatal("empty message for a non-blank line")
		}
		checkText(t, "message", tl.Message, "\t")
		if tl.HasLevel && !tl.Level.Valid() {
			t.Fatalf("level %d", tl.Level)
		}
		if tl.HasTime && !storable(tl.Time) {
			t.Fatalf("time %s out of range", tl.Time)
		}
		// As a body line, the same text is an entry or a limit error.
		if strings.ContainsAny(line, "\n") {
			return
		}
		rs := DecodeText([]byte(line), testDefaults(), fuzzLimits)
		if len(rs) != 1 || rs[0].Line != 1 {
			t.Fatalf("results %+v", rs)
		}
		if rs[0].Err != nil {
			if Reason(rs[0].Err) != "limit" {
				t.Fatalf("text line rejected: %v", rs[0].Err)
			}
			return
		}
		checkEntry(t, rs[0].Entry, fuzzLimits, "\t")
	})
}

func FuzzParseSyslog(f *testing.F) {
	f.Fuzz(func(t *testing.T, line string) {
		tl, ok := ParseSyslog(line, testNow)
		if !ok {
			if strings.HasPrefix(line, "<") && len(line) > 2 && line[1] >= '1' && line[1] <= '9' && strings.HasPrefix(line[2:], ">") {
				t.Fatalf("%q not recognised", line)
			}
			return
		}
		if !tl.HasLevel || !tl.Level.Valid() {
			t.Fatalf("level %d", tl.Level)
		}
		if tl.Message == "" {
			t.Fatal("empty message")
		}
		checkText(t, "message", tl.Message, "\t")
		checkText(t, "source", tl.Source, "\t")
		for _, f := range tl.Fields {
			if f.Name == "" {
				t.Fatalf("empty field name in %+v", tl.Fields)
			}
			checkText(t, "field", f.Value.Text(), "\t")
		}
	})
}

func FuzzParseAccessLine(f *testing.F) {
	f.Fuzz(func(t *testing.T, line string) {
		tl, ok := ParseAccessLine(line)
		if !ok {
			return
		}
		e := storage.Entry{Fields: tl.Fields}
		status, has := e.Field("status")
		if !has || status.Kind != storage.KindInt || status.Int < 100 || status.Int > 999 {
			t.Fatalf("status %+v", status)
		}
		want := storage.LevelInfo
		if status.Int >= 500 {
			want = storage.LevelError
		} else if status.Int >= 400 {
			want = storage.LevelWarn
		}
		if !tl.HasLevel || tl.Level != want || !tl.HasTime || !storable(tl.Time) {
			t.Fatalf("level %v time %v for status %d", tl.Level, tl.Time, status.Int)
		}
		if tl.Message != clean(strings.TrimRight(line, "\r\n"), keepTab) {
			t.Fatalf("message %q", tl.Message)
		}
		for _, f := range tl.Fields {
			checkText(t, "field", f.Value.Text(), "\t")
		}
	})
}
