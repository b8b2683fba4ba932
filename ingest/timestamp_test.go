package ingest

import (
	"math"
	"testing"
	"time"
)

func utc(y int, mo time.Month, d, h, mi, s, ns int) time.Time {
	return time.Date(y, mo, d, h, mi, s, ns, time.UTC)
}

func TestTextTimestamps(t *testing.T) {
	// now is 2026-11-26T10:00:00Z.
	tests := []struct {
		name, line string
		want       time.Time
		msg        string
	}{
		{"RFC 3339", "2026-11-26T09:00:00Z hello", utc(2026, 11, 26, 9, 0, 0, 0), "hello"},
		{"RFC 3339 nanos and offset", "2026-11-26T11:00:00.123456789+02:00 hello", utc(2026, 11, 26, 9, 0, 0, 123456789), "hello"},
		{"RFC 3339 without zone", "2026-11-26T09:00:00.5 hello", utc(2026, 11, 26, 9, 0, 0, 500e6), "hello"},
		{"space and comma (log4j)", "2015-10-18 18:01:47,978 hello", utc(2015, 10, 18, 18, 1, 47, 978e6), "hello"},
		{"spaced zone", "2026-11-26 09:00:00 +0100 hello", utc(2026, 11, 26, 8, 0, 0, 0), "hello"},
		{"slashes (Go log, nginx)", "2026/11/26 09:00:00 hello", utc(2026, 11, 26, 9, 0, 0, 0), "hello"},
		{"bracketed", "[2026-11-26 09:00:00] hello", utc(2026, 11, 26, 9, 0, 0, 0), "hello"},
		{"HDFS", "081109 203615 hello", utc(2008, 11, 9, 20, 36, 15, 0), "hello"},
		{"Spark", "17/06/09 20:10:40 hello", utc(2017, 6, 9, 20, 10, 40, 0), "hello"},
		{"syslog", "Jun 14 15:16:01 host app: hello", utc(2026, 6, 14, 15, 16, 1, 0), "host app: hello"},
		{"syslog padded day", "Jun  4 15:16:01 hello", utc(2026, 6, 4, 15, 16, 1, 0), "hello"},
		{"syslog tomorrow is this year", "Nov 27 09:00:00 hello", utc(2026, 11, 27, 9, 0, 0, 0), "hello"},
		{"syslog two days ahead is last year", "Nov 28 10:00:01 hello", utc(2025, 11, 28, 10, 0, 1, 0), "hello"},
		{"syslog December read in November", "Dec 31 23:59:59 hello", utc(2025, 12, 31, 23, 59, 59, 0), "hello"},
		{"Apache error log", "[Sun Dec 04 04:47:44 2005] hello", utc(2005, 12, 4, 4, 47, 44, 0), "hello"},
		{"Apache 2.4 fraction", "[Wed Oct 11 14:32:52.123456 2000] hello", utc(2000, 10, 11, 14, 32, 52, 123456e3), "hello"},
		{"ctime unbracketed", "Sun Dec  4 04:47:44 2005 hello", utc(2005, 12, 4, 4, 47, 44, 0), "hello"},
		{"logcat", "03-17 16:13:38.811 hello", utc(2026, 3, 17, 16, 13, 38, 811e6), "hello"},
		{"CLF bracketed", "[10/Oct/2000:13:55:36 -0700] hello", utc(2000, 10, 10, 20, 55, 36, 0), "hello"},
		{"epoch seconds", "1764151200.5 hello", utc(2025, 11, 26, 10, 0, 0, 500e6), "hello"},
		{"epoch ms", "1764151200123 hello", utc(2025, 11, 26, 10, 0, 0, 123e6), "hello"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tl := ParseTextLine(tt.line, testNow)
			if !tl.HasTime || !tl.Time.Equal(tt.want) {
				t.Errorf("time %s (%v), want %s", tl.Time.Format(time.RFC3339Nano), tl.HasTime, tt.want.Format(time.RFC3339Nano))
			}
			if tl.Message != tt.msg {
				t.Errorf("message %q, want %q", tl.Message, tt.msg)
			}
		})
	}
}

func TestTextNotTimestamps(t *testing.T) {
	for _, line := range []string{
		"404 not found",
		"12345 items",
		"2026-11-26T10:00:00Zabc x", // no token boundary
		"2026-13-26T10:00:00Z x",
		"Foo 14 15:16:01 x",
		"Jun 32 15:16:01 x",
		"[2026-11-26 09:00:00 unclosed",
		"I/O error on disk",
	} {
		t.Run(line, func(t *testing.T) {
			tl := ParseTextLine(line, testNow)
			if tl.HasTime {
				t.Errorf("time %s recognised", tl.Time)
			}
			if tl.Message != line {
				t.Errorf("message %q, want the whole line", tl.Message)
			}
		})
	}
}

func TestParseEpochUnits(t *testing.T) {
	for _, tt := range []struct {
		s    string
		want time.Time
	}{
		{"99999999999", time.Unix(99999999999, 0)},
		{"100000000000", time.UnixMilli(100000000000)},
		{"99999999999999", time.UnixMilli(99999999999999)},
		{"100000000000000", time.UnixMicro(100000000000000)},
		{"99999999999999999", time.UnixMicro(99999999999999999)},
		{"100000000000000000", time.Unix(0, 100000000000000000)},
		{"9223372036854775807", time.Unix(0, math.MaxInt64)},
	} {
		got, ok := parseEpoch(tt.s)
		if !ok || !got.Equal(tt.want) {
			t.Errorf("parseEpoch(%s) = %s, %v; want %s", tt.s, got, ok, tt.want)
		}
	}
	if _, ok := parseEpoch("9223372036854775808"); ok {
		t.Error("parseEpoch accepted a number beyond int64")
	}
}
