package ingest

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/logengine/logengine/storage"
)

var testNow = time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)

func testDefaults() Defaults {
	return Defaults{Now: func() time.Time { return testNow }}
}

// decodeLine decodes one NDJSON line and returns its entry or error.
func decodeLine(tb testing.TB, line string) (storage.Entry, error) {
	tb.Helper()
	rs := DecodeNDJSON([]byte(line), testDefaults(), Limits{})
	if len(rs) != 1 {
		tb.Fatalf("%d results for one line", len(rs))
	}
	return rs[0].Entry, rs[0].Err
}

func mustDecodeLine(tb testing.TB, line string) storage.Entry {
	tb.Helper()
	e, err := decodeLine(tb, line)
	if err != nil {
		tb.Fatalf("decode %s: %v", line, err)
	}
	return e
}

func fieldMap(e storage.Entry) map[string]any {
	m := map[string]any{}
	for _, f := range e.Fields {
		m[f.Name] = f.Value.Interface()
	}
	return m
}

func TestJSONAliases(t *testing.T) {
	ts := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	tests := []struct {
		name string
		line string
		want storage.Entry
	}{
		{"canonical", `{"timestamp":"2026-01-02T03:04:05Z","level":"error","source":"api","message":"m"}`,
			storage.Entry{Time: ts, Level: storage.LevelError, Source: "api", Message: "m"}},
		{"time/lvl/service/msg", `{"time":"2026-01-02T03:04:05Z","lvl":"warn","service":"api","msg":"m"}`,
			storage.Entry{Time: ts, Level: storage.LevelWarn, Source: "api", Message: "m"}},
		{"ts/severity/app/log", `{"ts":"2026-01-02T03:04:05Z","severity":"debug","app":"api","log":"m"}`,
			storage.Entry{Time: ts, Level: storage.LevelDebug, Source: "api", Message: "m"}},
		{"@timestamp/loglevel/logger/_msg", `{"@timestamp":"2026-01-02T03:04:05Z","loglevel":"fatal","logger":"api","_msg":"m"}`,
			storage.Entry{Time: ts, Level: storage.LevelFatal, Source: "api", Message: "m"}},
		{"_time", `{"_time":"2026-01-02T03:04:05Z","_msg":"m"}`,
			storage.Entry{Time: ts, Level: storage.LevelInfo, Source: "unknown", Message: "m"}},
		{"defaults", `{"message":"m"}`,
			storage.Entry{Time: testNow, Level: storage.LevelInfo, Source: "unknown", Message: "m"}},
		{"canonical message wins, alias stays a field", `{"msg":"b","message":"a"}`,
			storage.Entry{Time: testNow, Level: storage.LevelInfo, Source: "unknown", Message: "a",
				Fields: []storage.Field{{Name: "msg", Value: storage.String("b")}}}},
		{"higher alias wins without canonical", `{"log":"b","msg":"a"}`,
			storage.Entry{Time: testNow, Level: storage.LevelInfo, Source: "unknown", Message: "a",
				Fields: []storage.Field{{Name: "log", Value: storage.String("b")}}}},
		{"canonical level wins, typed alias kept", `{"severity":17,"level":"warn","msg":"m"}`,
			storage.Entry{Time: testNow, Level: storage.LevelWarn, Source: "unknown", Message: "m",
				Fields: []storage.Field{{Name: "severity", Value: storage.Int(17)}}}},
		{"canonical timestamp wins", `{"ts":1700000000,"timestamp":"2026-01-02T03:04:05Z","msg":"m"}`,
			storage.Entry{Time: ts, Level: storage.LevelInfo, Source: "unknown", Message: "m",
				Fields: []storage.Field{{Name: "ts", Value: storage.Int(1700000000)}}}},
		{"canonical source wins", `{"app":"a","service":"s","source":"src","msg":"m"}`,
			storage.Entry{Time: testNow, Level: storage.LevelInfo, Source: "src", Message: "m",
				Fields: []storage.Field{{Name: "service", Value: storage.String("s")}, {Name: "app", Value: storage.String("a")}}}},
		{"object under a non-canonical alias is a field", `{"log":{"file":"a.go"},"msg":"m"}`,
			storage.Entry{Time: testNow, Level: storage.LevelInfo, Source: "unknown", Message: "m",
				Fields: []storage.Field{{Name: "log.file", Value: storage.String("a.go")}}}},
		{"null alias is absent", `{"level":null,"source":null,"msg":"m"}`,
			storage.Entry{Time: testNow, Level: storage.LevelInfo, Source: "unknown", Message: "m"}},
		{"empty source takes the default", `{"source":"  ","msg":"m"}`,
			storage.Entry{Time: testNow, Level: storage.LevelInfo, Source: "unknown", Message: "m"}},
		{"numeric message", `{"msg":42}`,
			storage.Entry{Time: testNow, Level: storage.LevelInfo, Source: "unknown", Message: "42"}},
		{"trailing newline of the message dropped", `{"log":"hello\n","stream":"stdout"}`,
			storage.Entry{Time: testNow, Level: storage.LevelInfo, Source: "unknown", Message: "hello",
				Fields: []storage.Field{{Name: "stream", Value: storage.String("stdout")}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := mustDecodeLine(t, tt.line)
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got  %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestJSONLevels(t *testing.T) {
	tests := []struct {
		value string // JSON text
		want  storage.Level
		raw   any // expected level_raw, nil for none
	}{
		{`"trace"`, storage.LevelTrace, nil},
		{`"DEBUG"`, storage.LevelDebug, nil},
		{`"Info"`, storage.LevelInfo, nil},
		{`"notice"`, storage.LevelInfo, nil},
		{`"warn"`, storage.LevelWarn, nil},
		{`"WARNING"`, storage.LevelWarn, nil},
		{`"error"`, storage.LevelError, nil},
		{`"err"`, storage.LevelError, nil},
		{`"severe"`, storage.LevelError, nil},
		{`"crit"`, storage.LevelFatal, nil},
		{`"Critical"`, storage.LevelFatal, nil},
		{`"alert"`, storage.LevelFatal, nil},
		{`"emerg"`, storage.LevelFatal, nil},
		{`"panic"`, storage.LevelFatal, nil},
		{`"failure"`, storage.LevelFatal, nil},
		{`"fatal"`, storage.LevelFatal, nil},
		{`" error "`, storage.LevelError, nil},
		// Syslog severities 0–7.
		{`0`, storage.LevelFatal, nil},
		{`1`, storage.LevelFatal, nil},
		{`2`, storage.LevelFatal, nil},
		{`3`, storage.LevelError, nil},
		{`4`, storage.LevelWarn, nil},
		{`5`, storage.LevelInfo, nil},
		{`6`, storage.LevelInfo, nil},
		{`7`, storage.LevelDebug, nil},
		// pino/bunyan, exactly.
		{`10`, storage.LevelTrace, nil},
		{`20`, storage.LevelDebug, nil},
		{`30`, storage.LevelInfo, nil},
		{`40`, storage.LevelWarn, nil},
		{`50`, storage.LevelError, nil},
		{`60`, storage.LevelFatal, nil},
		// OpenTelemetry for the other numbers in 1–24.
		{`8`, storage.LevelDebug, nil},
		{`9`, storage.LevelInfo, nil},
		{`12`, storage.LevelInfo, nil},
		{`13`, storage.LevelWarn, nil},
		{`16`, storage.LevelWarn, nil},
		{`17`, storage.LevelError, nil},
		{`19`, storage.LevelError, nil},
		{`21`, storage.LevelFatal, nil},
		{`24`, storage.LevelFatal, nil},
		// Numeric strings follow the same rule.
		{`"3"`, storage.LevelError, nil},
		{`"30"`, storage.LevelInfo, nil},
		{`"17"`, storage.LevelError, nil},
		// Unknown: info, and the raw value kept.
		{`"chatty"`, storage.LevelInfo, "chatty"},
		{`25`, storage.LevelInfo, int64(25)},
		{`-1`, storage.LevelInfo, int64(-1)},
		{`3.5`, storage.LevelInfo, 3.5},
		{`true`, storage.LevelInfo, true},
		{`""`, storage.LevelInfo, nil},
	}
	for _, tt := range tests {
		t.Run(tt.value, func(t *testing.T) {
			e := mustDecodeLine(t, `{"level":`+tt.value+`,"msg":"m"}`)
			if e.Level != tt.want {
				t.Errorf("level %s, want %s", e.Level, tt.want)
			}
			raw, ok := e.Field("level_raw")
			switch {
			case tt.raw == nil && ok:
				t.Errorf("level_raw = %v, want none", raw.Interface())
			case tt.raw != nil && (!ok || raw.Interface() != tt.raw):
				t.Errorf("level_raw = %v (%v), want %v", raw.Interface(), ok, tt.raw)
			}
		})
	}
}

func TestJSONTimestamps(t *testing.T) {
	tests := []struct {
		value string // JSON text
		want  time.Time
	}{
		{`"2026-11-26T10:00:00Z"`, time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)},
		{`"2026-11-26T10:00:00.1Z"`, time.Date(2026, 11, 26, 10, 0, 0, 100e6, time.UTC)},
		{`"2026-11-26T10:00:00.123Z"`, time.Date(2026, 11, 26, 10, 0, 0, 123e6, time.UTC)},
		{`"2026-11-26T10:00:00.123456Z"`, time.Date(2026, 11, 26, 10, 0, 0, 123456e3, time.UTC)},
		{`"2026-11-26T10:00:00.123456789Z"`, time.Date(2026, 11, 26, 10, 0, 0, 123456789, time.UTC)},
		{`"2026-11-26T10:00:00.123456789123Z"`, time.Date(2026, 11, 26, 10, 0, 0, 123456789, time.UTC)},
		{`"2026-11-26T12:00:00+02:00"`, time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)},
		{`"2026-11-26T04:30:00-0530"`, time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)},
		{`"2026-11-26t10:00:00z"`, time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)},
		{`"2026-11-26 10:00:00"`, time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)},
		{`"2026-11-26T10:00:00"`, time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)},
		{`"2026-11-26 10:00:00,5 +0000"`, time.Date(2026, 11, 26, 10, 0, 0, 500e6, time.UTC)},
		{`"2026-11-26"`, time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC)},
		{`1764151200`, time.Date(2025, 11, 26, 10, 0, 0, 0, time.UTC)},
		{`1764151200.25`, time.Date(2025, 11, 26, 10, 0, 0, 250e6, time.UTC)},
		{`1764151200.123456789`, time.Date(2025, 11, 26, 10, 0, 0, 123456789, time.UTC)},
		{`1764151200123`, time.Date(2025, 11, 26, 10, 0, 0, 123e6, time.UTC)},
		{`1764151200123.5`, time.Date(2025, 11, 26, 10, 0, 0, 123500e3, time.UTC)},
		{`1764151200123456`, time.Date(2025, 11, 26, 10, 0, 0, 123456e3, time.UTC)},
		{`1764151200123456789`, time.Date(2025, 11, 26, 10, 0, 0, 123456789, time.UTC)},
		{`1.7641512e9`, time.Date(2025, 11, 26, 10, 0, 0, 0, time.UTC)},
		{`"1764151200"`, time.Date(2025, 11, 26, 10, 0, 0, 0, time.UTC)},
		{`"1764151200123"`, time.Date(2025, 11, 26, 10, 0, 0, 123e6, time.UTC)},
		{`0`, time.Unix(0, 0).UTC()},
	}
	for _, tt := range tests {
		t.Run(tt.value, func(t *testing.T) {
			e := mustDecodeLine(t, `{"timestamp":`+tt.value+`,"msg":"m"}`)
			if !e.Time.Equal(tt.want) {
				t.Errorf("time %s, want %s", e.Time.Format(time.RFC3339Nano), tt.want.Format(time.RFC3339Nano))
			}
			if e.Time.Location() != time.UTC {
				t.Errorf("time in %s, want UTC", e.Time.Location())
			}
		})
	}
}

func TestJSONTimestampErrors(t *testing.T) {
	tests := []struct{ value, want string }{
		{`"yesterday"`, `timestamp "yesterday" is not RFC 3339 or epoch seconds/ms/µs/ns`},
		{`"2026-13-01T00:00:00Z"`, `timestamp "2026-13-01T00:00:00Z" is not RFC 3339`},
		{`"2026-02-30T00:00:00Z"`, `is not RFC 3339`},
		{`"2026-11-26T25:00:00Z"`, `is not RFC 3339`},
		{`-5`, `timestamp -5 is not RFC 3339`},
		{`true`, `timestamp true is not RFC 3339`},
		{`"1800-01-01T00:00:00Z"`, `outside 1970..2262`},
		{`"2300-01-01T00:00:00Z"`, `outside 1970..2262`},
		{`{"a":1}`, `timestamp must be a string (RFC 3339) or a number (epoch), not an object`},
	}
	for _, tt := range tests {
		t.Run(tt.value, func(t *testing.T) {
			_, err := decodeLine(t, `{"timestamp":`+tt.value+`,"msg":"m"}`)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %v, want it to contain %q", err, tt.want)
			}
		})
	}
}

func TestJSONFields(t *testing.T) {
	e := mustDecodeLine(t, strings.ReplaceAll(`{"msg":"m","host":"web-1","status":504,"latency":0.25,"ok":true,
		"big":123456789012345678901234567890,"neg":-3,"exp":1e3,"zero":-0,
		"http":{"status":500,"req":{"method":"GET"}},"ids":[1, 2 ,3],"objs":[{"a":1}],
		"nothing":null,"empty":{},"fields":{"region":"eu","nested":{"x":1},"host":"web-2"},
		"unicode":"caf\u00e9 \ud83d\ude00","lone":"\ud800x","esc":"a\"b\\c\/d"}`, "\n\t\t", ""))
	want := map[string]any{
		"host":            "web-2", // the later key replaces the earlier one
		"status":          int64(504),
		"latency":         0.25,
		"ok":              true,
		"big":             1.2345678901234568e29,
		"neg":             int64(-3),
		"exp":             1000.0,
		"zero":            int64(0),
		"http.status":     int64(500),
		"http.req.method": "GET",
		"ids":             "[1,2,3]",
		"objs":            `[{"a":1}]`,
		"region":          "eu",
		"nested.x":        int64(1),
		"unicode":         "café 😀",
		"lone":            "\uFFFDx",
		"esc":             `a"b\c/d`,
	}
	if got := fieldMap(e); !reflect.DeepEqual(got, want) {
		t.Errorf("fields\n got %#v\nwant %#v", got, want)
	}
	if e.Fields[1].Value.Kind != storage.KindInt || e.Fields[2].Value.Kind != storage.KindFloat || e.Fields[3].Value.Kind != storage.KindBool {
		t.Errorf("kinds %+v", e.Fields[:4])
	}
}

func TestJSONTags(t *testing.T) {
	tests := []struct {
		name string
		line string
		def  []string
		want []string
	}{
		{"array", `{"msg":"m","tags":["a","b"]}`, nil, []string{"a", "b"}},
		{"comma-separated", `{"msg":"m","tags":" a, b ,,a"}`, nil, []string{"a", "b"}},
		{"deduplicated and trimmed", `{"msg":"m","tags":["a"," a ","", "b"]}`, nil, []string{"a", "b"}},
		{"defaults when absent", `{"msg":"m"}`, []string{"prod"}, []string{"prod"}},
		{"sent tags replace defaults", `{"msg":"m","tags":["x"]}`, []string{"prod"}, []string{"x"}},
		{"null is absent", `{"msg":"m","tags":null}`, []string{"prod"}, []string{"prod"}},
		{"control characters replaced", `{"msg":"m","tags":["a\nb"]}`, nil, []string{"a\uFFFDb"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := testDefaults()
			d.Tags = tt.def
			rs := DecodeNDJSON([]byte(tt.line), d, Limits{})
			if rs[0].Err != nil {
				t.Fatal(rs[0].Err)
			}
			if got := rs[0].Entry.Tags; !reflect.DeepEqual(got, tt.want) {
				t.Errorf("tags %q, want %q", got, tt.want)
			}
		})
	}
}

func TestJSONMessageCleaning(t *testing.T) {
	tests := []struct{ line, want string }{
		{`{"msg":"a\u0000b"}`, "a\uFFFDb"},
		{`{"msg":"line1\nline2\tx"}`, "line1\nline2\tx"},
		{`{"msg":"a\rb"}`, "a\uFFFDb"},
		{`{"msg":"\u001b[31mred\u001b[0m"}`, "red"},
		{"{\"msg\":\"bad \xff utf8\"}", "bad \uFFFD utf8"},
		{`{"msg":"c1 \u009b x"}`, "c1 \uFFFD x"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			if got := mustDecodeLine(t, tt.line).Message; got != tt.want {
				t.Errorf("message %q, want %q", got, tt.want)
			}
		})
	}
}

func TestJSONRecordErrors(t *testing.T) {
	tests := []struct{ name, line, want string }{
		{"missing message", `{"level":"info"}`, "message is missing: send it as message, msg, log or _msg"},
		{"empty message", `{"msg":""}`, "message is empty"},
		{"blank message", `{"msg":"  \n"}`, "message is empty"},
		{"message object", `{"message":{"a":1}}`, "message must be a string, not an object"},
		{"not an object", `[1,2]`, "entry must be a JSON object, not an array"},
		{"string entry", `"hello"`, "entry must be a JSON object, not a string"},
		{"syntax", `{"msg":"m",}`, "invalid JSON at column 12: unexpected '}', expected a string key"},
		{"unterminated", `{"msg":"m`, "invalid JSON at column 10: unterminated string"},
		{"trailing", `{"msg":"m"} x`, "invalid JSON at column 13: unexpected 'x' after the entry"},
		{"bad literal", `{"msg":tru}`, "invalid JSON at column 11: invalid literal, expected true"},
		{"bad number", `{"msg":"m","n":01}`, "invalid JSON at column 17: unexpected '1', expected ',' or '}'"},
		{"raw control", "{\"msg\":\"a\x01\"}", "control character 0x01 in a string"},
		{"tags type", `{"msg":"m","tags":5}`, "tags must be an array of strings or a comma-separated string, not a number"},
		{"tag type", `{"msg":"m","tags":["a",5]}`, "tags[1] must be a string, not a number"},
		{"fields type", `{"msg":"m","fields":[1]}`, "fields must be an object of names to values, not an array"},
		{"empty field name", `{"msg":"m","":1}`, "a field name is empty"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := decodeLine(t, tt.line)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %v, want it to contain %q", err, tt.want)
			}
		})
	}
}

func TestJSONLimits(t *testing.T) {
	l := Limits{MaxLineBytes: 200, MaxFields: 3, MaxTags: 2, MaxFieldNameBytes: 8, MaxValueBytes: 10}
	tests := []struct{ name, line, want string }{
		{"line", `{"msg":"` + strings.Repeat("x", 200) + `"}`, "entry is 210 bytes, the limit is 200"},
		{"fields", `{"msg":"m","a":1,"b":2,"c":3,"d":4}`, "more than 3 fields"},
		{"tags", `{"msg":"m","tags":["a","b","c"]}`, "more than 2 tags"},
		{"name", `{"msg":"m","abcdefghi":1}`, `field name "abcdefghi" is 9 bytes, the limit is 8`},
		{"nested name", `{"msg":"m","abcd":{"efgh":1}}`, `field name "abcd.efgh" is 9 bytes`},
		{"value", `{"msg":"m","a":"12345678901"}`, `field "a" is 11 bytes, the limit is 10`},
		{"tag", `{"msg":"m","tags":"12345678901"}`, `tag "12345678901" is 11 bytes`},
		{"source", `{"msg":"m","source":"12345678901"}`, `source is 11 bytes`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rs := DecodeNDJSON([]byte(tt.line), testDefaults(), l)
			err := rs[0].Err
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want it to contain %q", err, tt.want)
			}
			if !errors.Is(err, ErrLimit) {
				t.Errorf("error %v is not ErrLimit", err)
			}
		})
	}
	// At the limits exactly, the entry passes.
	ok := `{"msg":"m","abcdefgh":"1234567890","b":2,"tags":["a","b"]}`
	if rs := DecodeNDJSON([]byte(ok), testDefaults(), l); rs[0].Err != nil {
		t.Errorf("at the limits: %v", rs[0].Err)
	}
}

func TestDecodeJSONBodies(t *testing.T) {
	type res struct {
		line int
		msg  string
		err  string
	}
	tests := []struct {
		name    string
		body    string
		want    []res
		bodyErr string
	}{
		{"one object", `{"msg":"a"}`, []res{{1, "a", ""}}, ""},
		{"array", ` [ {"msg":"a"} , {"msg":""}, 3, {"msg":"d"} ] `,
			[]res{{1, "a", ""}, {2, "", "message is empty"}, {3, "", "entry must be a JSON object, not a number"}, {4, "d", ""}}, ""},
		{"empty array", `[]`, nil, ""},
		{"bom", "\xef\xbb\xbf{\"msg\":\"a\"}", []res{{1, "a", ""}}, ""},
		{"scalar body", `"x"`, []res{{1, "", "entry must be a JSON object, not a string"}}, ""},
		{"empty body", "  \n", nil, "the body is empty"},
		{"bad element", "[{\"msg\":\"a\"},\n {\"msg\" \"b\"}]", nil, "invalid JSON at line 2, column 9 (offset 22): expected ':' after an object key"},
		{"unclosed array", `[{"msg":"a"}`, nil, "unexpected end of JSON, expected ',' or ']'"},
		{"garbage after array", `[{"msg":"a"}] x`, nil, "unexpected 'x' after the array"},
		{"two objects", `{"msg":"a"} {"msg":"b"}`, nil, "send several entries as an array, or as NDJSON"},
		{"deep nesting", strings.Repeat("[", 100000) + strings.Repeat("]", 100000), []res{{1, "", "entry must be a JSON object, not an array"}}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rs, err := DecodeJSON([]byte(tt.body), testDefaults(), Limits{})
			if tt.bodyErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.bodyErr) || !errors.Is(err, ErrSyntax) {
					t.Fatalf("error %v, want it to contain %q", err, tt.bodyErr)
				}
				if len(rs) != 0 {
					t.Errorf("%d results with a body error", len(rs))
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got []res
			for _, r := range rs {
				g := res{line: r.Line, msg: r.Entry.Message}
				if r.Err != nil {
					g.err = r.Err.Error()
				}
				got = append(got, g)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestDecodeNDJSONLines(t *testing.T) {
	body := "{\"msg\":\"a\"}\r\n\r\n   \n{\"msg\":}\n{\"msg\":\"c\"}"
	rs := DecodeNDJSON([]byte(body), testDefaults(), Limits{})
	if len(rs) != 3 {
		t.Fatalf("%d results, want 3", len(rs))
	}
	if rs[0].Line != 1 || rs[0].Entry.Message != "a" || rs[0].Err != nil {
		t.Errorf("first %+v", rs[0])
	}
	if rs[1].Line != 4 || !errors.Is(rs[1].Err, ErrSyntax) {
		t.Errorf("second %+v", rs[1])
	}
	if rs[2].Line != 5 || rs[2].Entry.Message != "c" {
		t.Errorf("third %+v", rs[2])
	}
	// Appending keeps what dst held.
	rs2 := AppendNDJSON(rs[:1], []byte(`{"msg":"z"}`), testDefaults(), Limits{})
	if len(rs2) != 2 || rs2[1].Entry.Message != "z" || rs2[1].Line != 1 {
		t.Errorf("append: %+v", rs2)
	}
}

func TestDefaultsSource(t *testing.T) {
	d := testDefaults()
	d.Source = "cli"
	rs := DecodeNDJSON([]byte(`{"msg":"m"}`+"\n"+`{"msg":"m","source":"api"}`), d, Limits{})
	if rs[0].Entry.Source != "cli" || rs[1].Entry.Source != "api" {
		t.Errorf("sources %q, %q", rs[0].Entry.Source, rs[1].Entry.Source)
	}
}

// Entries of one batch share chunks of fields; appending to one entry must
// never change another.
func TestEntriesDoNotShareAppends(t *testing.T) {
	rs := DecodeNDJSON([]byte(`{"msg":"a","x":1}`+"\n"+`{"msg":"b","y":2}`), testDefaults(), Limits{})
	a := rs[0].Entry
	a.Fields = append(a.Fields, storage.Field{Name: "z", Value: storage.Int(3)})
	if got := fieldMap(rs[1].Entry); !reflect.DeepEqual(got, map[string]any{"y": int64(2)}) {
		t.Errorf("second entry changed: %v", got)
	}
}

func TestDefaultsCleaned(t *testing.T) {
	d := testDefaults()
	d.Source = " bad\nsource "
	d.Tags = []string{"a", " a", "", "b\x00"}
	for _, rs := range [][]Result{
		DecodeNDJSON([]byte(`{"msg":"m"}`), d, Limits{}),
		DecodeText([]byte("m"), d, Limits{}),
	} {
		e := rs[0].Entry
		if e.Source != "bad\uFFFDsource" || !reflect.DeepEqual(e.Tags, []string{"a", "b\uFFFD"}) {
			t.Errorf("source %q tags %q", e.Source, e.Tags)
		}
	}
}

// TestJSONEntryForm checks entries written as search answers and exports
// write them (with a "fields" object): their id and severity are the
// entry's own and not kept, unless they say something else; without a
// "fields" object, id and severity are client fields as before.
func TestJSONEntryForm(t *testing.T) {
	const id = "0RX6RZDJKC0000000000000003"
	cases := []struct {
		name  string
		line  string
		level storage.Level
		want  map[string]any
	}{
		{"export line", `{"id":"` + id + `","timestamp":"2026-11-20T08:00:00Z","level":"error","severity":17,"source":"db","message":"m","tags":[],"fields":{"host":"web-2"}}`,
			storage.LevelError, map[string]any{"host": "web-2"}},
		{"client id inside fields", `{"id":"` + id + `","level":"info","severity":9,"message":"m","fields":{"id":"req-42"}}`,
			storage.LevelInfo, map[string]any{"id": "req-42"}},
		{"an id that is not an entry id", `{"id":"req-42","message":"m","fields":{}}`,
			storage.LevelInfo, map[string]any{"id": "req-42"}},
		{"a severity that disagrees", `{"level":"error","severity":9,"message":"m","fields":{}}`,
			storage.LevelError, map[string]any{"severity": int64(9)}},
		{"no fields object", `{"id":"` + id + `","level":"error","severity":17,"message":"m"}`,
			storage.LevelError, map[string]any{"id": id, "severity": int64(17)}},
		{"a numeric id", `{"id":42,"message":"m","fields":{}}`,
			storage.LevelInfo, map[string]any{"id": int64(42)}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := mustDecodeLine(t, tc.line)
			if got := fieldMap(e); !reflect.DeepEqual(got, tc.want) || e.Level != tc.level {
				t.Errorf("level %v, fields %#v; want %v, %#v", e.Level, got, tc.level, tc.want)
			}
		})
	}
}
