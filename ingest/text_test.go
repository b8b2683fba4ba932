package ingest

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/logengine/logengine/storage"
)

func TestTextLevels(t *testing.T) {
	const none = storage.Level(0)
	tests := []struct {
		line string
		want storage.Level
		msg  string
	}{
		{"2026-11-26T10:00:00Z ERROR payment failed", storage.LevelError, "payment failed"},
		{"2026-11-26T10:00:00Z error payment failed", storage.LevelError, "payment failed"},
		{"2026-11-26T10:00:00Z Warning: disk", storage.LevelWarn, "disk"},
		{"2026-11-26T10:00:00Z [error] x", storage.LevelError, "x"},
		{"2026-11-26T10:00:00Z <warn> x", storage.LevelWarn, "x"},
		{"2026-11-26T10:00:00Z level=error x", storage.LevelError, "x"},
		{`2026-11-26T10:00:00Z level="warn" x`, storage.LevelWarn, "x"},
		{"2026-11-26T10:00:00Z severity=3 x", storage.LevelError, "x"},
		{"2026-11-26 10:00:00,123 - WARN  [main:Foo@1] - x", storage.LevelWarn, "[main:Foo@1] - x"},
		{"2026-11-26 10:00:00.123 | INFO     | mod:fn:1 - x", storage.LevelInfo, "mod:fn:1 - x"},
		{"2026-11-26T10:00:00Z NOTICE x", storage.LevelInfo, "x"},
		{"2026-11-26T10:00:00Z CRITICAL x", storage.LevelFatal, "x"},
		{"2026-11-26T10:00:00Z WRN x", storage.LevelWarn, "x"},
		{"2026-11-26T10:00:00Z alert rule fired", none, "alert rule fired"},
		{"2026-11-26T10:00:00Z panic: nil map", none, "panic: nil map"},
		{"2026-11-26T10:00:00Z GET /x", none, "GET /x"},
		{"2026-11-26T10:00:00Z ERROR", storage.LevelError, "2026-11-26T10:00:00Z ERROR"},
		{"[Sun Dec 04 04:47:44 2005] [notice] x", storage.LevelInfo, "x"},
		{"[Wed Oct 11 14:32:52 2000] [core:error] [pid 1] x", storage.LevelError, "[pid 1] x"},
		{"2026/11/26 10:00:00 [error] 12#0: x", storage.LevelError, "12#0: x"},
		{"081109 203615 148 INFO dfs.DataNode: x", storage.LevelInfo, "dfs.DataNode: x"},
		{"081109 203615 148 x", none, "148 x"},
		{"03-17 16:13:38.811  1702  2395 D WindowManager: x", storage.LevelDebug, "WindowManager: x"},
		{"03-17 16:13:38.811  1702  2395 V Tag: x", storage.LevelDebug, "Tag: x"},
		{"03-17 16:13:38.811  1702  2395 I Tag: x", storage.LevelInfo, "Tag: x"},
		{"03-17 16:13:38.811  1702  2395 W Tag: x", storage.LevelWarn, "Tag: x"},
		{"03-17 16:13:38.811  1702  2395 E Tag: x", storage.LevelError, "Tag: x"},
		{"03-17 16:13:38.811  1702  2395 F Tag: x", storage.LevelFatal, "Tag: x"},
		{"2026-11-26T10:00:00Z I am here", none, "I am here"},
		{"E1126 09:59:59.123456   12345 main.go:42] boom", storage.LevelError, "12345 main.go:42] boom"},
		{"I1126 09:59:59.123456 1 x.go:1] ok", storage.LevelInfo, "1 x.go:1] ok"},
		{"W1126 09:59:59 x", storage.LevelWarn, "x"},
		// Without a timestamp.
		{"ERROR payment failed", storage.LevelError, "payment failed"},
		{"[warn] x", storage.LevelWarn, "x"},
		{"error: x", storage.LevelError, "x"},
		{"INFO:root:x", storage.LevelInfo, "root:x"},
		{"ERRO[0003] something broke", storage.LevelError, "something broke"},
		{"level=debug x", storage.LevelDebug, "x"},
		{"error connecting to db", none, "error connecting to db"},
		{"Error connecting to db", none, "Error connecting to db"},
		{"\x1b[31mERROR\x1b[0m coloured", storage.LevelError, "coloured"},
	}
	for _, tt := range tests {
		t.Run(tt.line, func(t *testing.T) {
			tl := ParseTextLine(tt.line, testNow)
			if (tt.want != none) != tl.HasLevel || (tl.HasLevel && tl.Level != tt.want) {
				t.Errorf("level %v (%v), want %v", tl.Level, tl.HasLevel, tt.want)
			}
			if tl.Message != tt.msg {
				t.Errorf("message %q, want %q", tl.Message, tt.msg)
			}
		})
	}
}

func TestTextIDs(t *testing.T) {
	tl := ParseTextLine("03-17 16:13:38.811  1702  2395 D Tag: x", testNow)
	want := []storage.Field{{Name: "pid", Value: storage.Int(1702)}, {Name: "tid", Value: storage.Int(2395)}}
	if !reflect.DeepEqual(tl.Fields, want) {
		t.Errorf("fields %+v", tl.Fields)
	}
}

func TestSyslog(t *testing.T) {
	tests := []struct {
		name, line string
		time       time.Time
		level      storage.Level
		source     string
		msg        string
		fields     map[string]any
	}{
		{"RFC 3164", "<34>Oct 11 22:14:15 mymachine su[123]: 'su root' failed", utc(2026, 10, 11, 22, 14, 15, 0), storage.LevelFatal, "su", "'su root' failed",
			map[string]any{"facility": "auth", "hostname": "mymachine", "procid": int64(123)}},
		{"RFC 3164 without host", "<13>Nov 26 09:00:00 logger: hello", utc(2026, 11, 26, 9, 0, 0, 0), storage.LevelInfo, "logger", "hello",
			map[string]any{"facility": "user"}},
		{"RFC 3164 without tag", "<14>Nov 26 09:00:00 host just text", utc(2026, 11, 26, 9, 0, 0, 0), storage.LevelInfo, "", "just text",
			map[string]any{"facility": "user", "hostname": "host"}},
		{"RFC 3164 ISO stamp", "<11>2026-11-26T09:00:00Z host app[9]: boom", utc(2026, 11, 26, 9, 0, 0, 0), storage.LevelError, "app", "boom",
			map[string]any{"facility": "user", "hostname": "host", "procid": int64(9)}},
		{"RFC 3164 no stamp", "<15>hello there", time.Time{}, storage.LevelDebug, "", "hello there",
			map[string]any{"facility": "user"}},
		{"RFC 5424", `<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 [exampleSDID@32473 iut="3" eventSource="App\"x\]"] An event`,
			utc(2003, 10, 11, 22, 14, 15, 3e6), storage.LevelInfo, "evntslog", "An event",
			map[string]any{"facility": "local4", "hostname": "mymachine.example.com", "msgid": "ID47",
				"exampleSDID@32473.iut": "3", "exampleSDID@32473.eventSource": `App"x]`}},
		{"RFC 5424 nil values and BOM", "<12>1 2026-11-26T09:00:00+01:00 - - 42 - - \ufeffwarned", utc(2026, 11, 26, 8, 0, 0, 0), storage.LevelWarn, "", "warned",
			map[string]any{"facility": "user", "procid": int64(42)}},
		{"RFC 5424 no message", "<8>1 - host app - - -", time.Time{}, storage.LevelFatal, "app", "<8>1 - host app - - -",
			map[string]any{"facility": "user", "hostname": "host"}},
		{"RFC 5424 two SD elements", `<14>1 - h a p m [a x="1"][b y="2"] m`, time.Time{}, storage.LevelInfo, "a", "m",
			map[string]any{"facility": "user", "hostname": "h", "procid": "p", "msgid": "m", "a.x": "1", "b.y": "2"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tl, ok := ParseSyslog(tt.line, testNow)
			if !ok {
				t.Fatal("not recognised")
			}
			if tl.HasTime != !tt.time.IsZero() || !tl.Time.Equal(tt.time) {
				t.Errorf("time %s (%v), want %s", tl.Time, tl.HasTime, tt.time)
			}
			if !tl.HasLevel || tl.Level != tt.level {
				t.Errorf("level %v, want %v", tl.Level, tt.level)
			}
			if tl.Source != tt.source || tl.Message != tt.msg {
				t.Errorf("source %q message %q, want %q %q", tl.Source, tl.Message, tt.source, tt.msg)
			}
			if got := fieldMap(storage.Entry{Fields: tl.Fields}); !reflect.DeepEqual(got, tt.fields) {
				t.Errorf("fields %v, want %v", got, tt.fields)
			}
			// ParseTextLine recognises it too.
			if tl2 := ParseTextLine(tt.line, testNow); !reflect.DeepEqual(tl2, tl) {
				t.Errorf("ParseTextLine differs: %+v", tl2)
			}
		})
	}
	for _, line := range []string{"<192>x", "<>x", "<1a>x", "<0034>x", "<34"} {
		if _, ok := ParseSyslog(line, testNow); ok {
			t.Errorf("%q recognised as syslog", line)
		}
	}
}

func TestAccessLine(t *testing.T) {
	tests := []struct {
		name, line string
		level      storage.Level
		fields     map[string]any
	}{
		{"combined", `127.0.0.1 - frank [10/Oct/2000:13:55:36 -0700] "GET /apache_pb.gif HTTP/1.0" 200 2326 "http://www.example.com/start.html" "Mozilla/4.08 [en] (Win98; I ;Nav)"`,
			storage.LevelInfo, map[string]any{"method": "GET", "path": "/apache_pb.gif", "status": int64(200), "bytes": int64(2326),
				"remote_addr": "127.0.0.1", "referer": "http://www.example.com/start.html", "user_agent": "Mozilla/4.08 [en] (Win98; I ;Nav)"}},
		{"common", `::1 - - [26/Nov/2026:10:00:00 +0000] "POST /api/v1/logs HTTP/1.1" 404 -`,
			storage.LevelWarn, map[string]any{"method": "POST", "path": "/api/v1/logs", "status": int64(404), "remote_addr": "::1"}},
		{"server error, nginx extra fields", `10.0.0.1 - - [26/Nov/2026:10:00:00 +0000] "GET /x?a=\"b\" HTTP/2.0" 502 157 "-" "curl/8.5.0" "1.2.3.4" rt=0.5`,
			storage.LevelError, map[string]any{"method": "GET", "path": `/x?a="b"`, "status": int64(502), "bytes": int64(157),
				"remote_addr": "10.0.0.1", "user_agent": "curl/8.5.0"}},
		{"junk request", `10.0.0.1 - - [26/Nov/2026:10:00:00 +0000] "\x16\x03\x01" 400 0 "-" "-"`,
			storage.LevelWarn, map[string]any{"status": int64(400), "bytes": int64(0), "remote_addr": "10.0.0.1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tl, ok := ParseAccessLine(tt.line)
			if !ok {
				t.Fatal("not recognised")
			}
			if !tl.HasTime || tl.Level != tt.level || tl.Message != clean(tt.line, keepTab) {
				t.Errorf("time %v level %v message %q", tl.Time, tl.Level, tl.Message)
			}
			if got := fieldMap(storage.Entry{Fields: tl.Fields}); !reflect.DeepEqual(got, tt.fields) {
				t.Errorf("fields %v\nwant %v", got, tt.fields)
			}
		})
	}
	tl, _ := ParseAccessLine(tests[0].line)
	if want := utc(2000, 10, 10, 20, 55, 36, 0); !tl.Time.Equal(want) {
		t.Errorf("time %s, want %s", tl.Time, want)
	}
	for _, line := range []string{
		`127.0.0.1 - - [10/Oct/2000:13:55:36 -0700] GET / 200 1`,
		`127.0.0.1 - - [10/Oct/2000:13:55:36 -0700] "GET / HTTP/1.0" abc 1`,
		`hello world [not a time] "x" 200 1`,
	} {
		if _, ok := ParseAccessLine(line); ok {
			t.Errorf("%q recognised as an access line", line)
		}
	}
}

func TestLogfmt(t *testing.T) {
	tl := ParseTextLine(`time=2026-11-26T09:00:00.5Z level=WARN source=api msg="disk \"almost\" full" used=0.93 n=3 ok=true id=007 path=/x lvl=9 empty=`, testNow)
	if !tl.HasTime || !tl.Time.Equal(utc(2026, 11, 26, 9, 0, 0, 500e6)) || tl.Level != storage.LevelWarn || tl.Source != "api" || tl.Message != `disk "almost" full` {
		t.Errorf("%+v", tl)
	}
	want := map[string]any{"used": 0.93, "n": int64(3), "ok": true, "id": "007", "path": "/x", "lvl": int64(9), "empty": ""}
	if got := fieldMap(storage.Entry{Fields: tl.Fields}); !reflect.DeepEqual(got, want) {
		t.Errorf("fields %v, want %v", got, want)
	}
	// Without a message key, the plain rules apply.
	tl = ParseTextLine("level=error a=1 b=2", testNow)
	if tl.Level != storage.LevelError || tl.Message != "a=1 b=2" || len(tl.Fields) != 0 {
		t.Errorf("%+v", tl)
	}
	tl = ParseTextLine("level=chatty msg=hi", testNow)
	if tl.HasLevel || tl.Message != "hi" || tl.Fields[0].Name != "level_raw" {
		t.Errorf("%+v", tl)
	}
}

func TestDecodeText(t *testing.T) {
	d := testDefaults()
	d.Source = "files"
	d.Tags = []string{"import"}
	body := "2026-11-26T09:00:00Z ERROR a\r\n\n   \r\nplain b\n" + strings.Repeat("x", 300) + "\nlast"
	rs := DecodeText([]byte(body), d, Limits{MaxLineBytes: 256})
	if len(rs) != 4 {
		t.Fatalf("%d results: %+v", len(rs), rs)
	}
	want := []struct {
		line  int
		msg   string
		level storage.Level
	}{{1, "a", storage.LevelError}, {4, "plain b", storage.LevelInfo}, {5, "", 0}, {6, "last", storage.LevelInfo}}
	for i, w := range want {
		r := rs[i]
		if r.Line != w.line || r.Entry.Message != w.msg || r.Entry.Level != w.level {
			t.Errorf("result %d: %+v, want %+v", i, r, w)
		}
	}
	if !errors.Is(rs[2].Err, ErrLimit) || !strings.Contains(rs[2].Err.Error(), "line is 300 bytes, the limit is 256") {
		t.Errorf("long line: %v", rs[2].Err)
	}
	if e := rs[1].Entry; e.Source != "files" || !reflect.DeepEqual(e.Tags, []string{"import"}) || !e.Time.Equal(testNow) {
		t.Errorf("defaults not applied: %+v", e)
	}
	if e := rs[0].Entry; !e.Time.Equal(utc(2026, 11, 26, 9, 0, 0, 0)) {
		t.Errorf("time %s", e.Time)
	}
	// Syslog app-name is the source; fields over the limit reject the line.
	rs = DecodeText([]byte("<34>Oct 11 22:14:15 host app[1]: m"), d, Limits{MaxFields: 2})
	if rs[0].Err == nil || !errors.Is(rs[0].Err, ErrLimit) {
		t.Errorf("fields limit: %+v", rs[0])
	}
	rs = DecodeText([]byte("<34>Oct 11 22:14:15 host app[1]: m"), d, Limits{})
	if rs[0].Entry.Source != "app" {
		t.Errorf("source %q", rs[0].Entry.Source)
	}
}

func TestTextCleaning(t *testing.T) {
	tests := []struct{ line, want string }{
		{"a\x00b", "a\uFFFDb"},
		{"tab\tkept", "tab\tkept"},
		{"cr\rinside", "cr\uFFFDinside"},
		{"bad \xff\xfe utf8", "bad \uFFFD\uFFFD utf8"},
		{"\x1b[1;31mred\x1b[0m", "red"},
		{"del\x7f", "del\uFFFD"},
		{"trailing cr\r", "trailing cr"},
	}
	for _, tt := range tests {
		if got := ParseTextLine(tt.line, testNow).Message; got != tt.want {
			t.Errorf("%q: message %q, want %q", tt.line, got, tt.want)
		}
	}
}
