package ingest

import (
	"strconv"
	"strings"

	"github.com/logengine/logengine/storage"
)

// ParseLevel maps a level as loggers write it onto a normalised level: a name
// in any case (trace, debug, info, notice, warn, warning, error, err, severe,
// crit, critical, alert, emerg, panic, failure, fatal and the short forms of
// common console loggers) or an integer in the "Numeric levels" rule of the
// API (see LevelFromNumber). It reports false for anything else.
func ParseLevel(s string) (storage.Level, bool) {
	if l, ok := levelByName(s); ok {
		return l, true
	}
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		return LevelFromNumber(n)
	}
	return 0, false
}

// LevelFromNumber maps a numeric level: 0–7 are syslog severities, exactly
// 10, 20, 30, 40, 50 and 60 are pino/bunyan levels, other numbers in 1–24 are
// OpenTelemetry severity numbers. Syslog wins the overlap with OpenTelemetry
// because numeric levels of 0–7 in the wild are almost always syslog's.
func LevelFromNumber(n int64) (storage.Level, bool) {
	switch {
	case n >= 0 && n <= 7:
		return syslogSeverity(int(n)), true
	case n == 10:
		return storage.LevelTrace, true
	case n == 20:
		return storage.LevelDebug, true
	case n == 30:
		return storage.LevelInfo, true
	case n == 40:
		return storage.LevelWarn, true
	case n == 50:
		return storage.LevelError, true
	case n == 60:
		return storage.LevelFatal, true
	}
	return storage.LevelFromSeverity(int(max(min(n, 100), -1)))
}

// syslogSeverity maps a syslog severity (0 emergency … 7 debug).
func syslogSeverity(n int) storage.Level {
	switch {
	case n <= 2:
		return storage.LevelFatal
	case n == 3:
		return storage.LevelError
	case n == 4:
		return storage.LevelWarn
	case n <= 6:
		return storage.LevelInfo
	}
	return storage.LevelDebug
}

// maxLevelName is the length of the longest name levelByName knows.
const maxLevelName = len("informational")

// levelByName maps a level name in any case. It lower-cases into a stack
// buffer so the lookup does not allocate.
func levelByName(s string) (storage.Level, bool) {
	if len(s) == 0 || len(s) > maxLevelName {
		return 0, false
	}
	var buf [maxLevelName]byte
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		buf[i] = c
	}
	switch string(buf[:len(s)]) {
	case "trace", "trc", "trac", "finest", "finer":
		return storage.LevelTrace, true
	case "debug", "dbg", "debu", "fine", "verbose", "vrb":
		return storage.LevelDebug, true
	case "info", "inf", "information", "informational", "notice":
		return storage.LevelInfo, true
	case "warn", "warning", "wrn":
		return storage.LevelWarn, true
	case "error", "err", "erro", "eror", "severe", "dpanic":
		return storage.LevelError, true
	case "fatal", "fata", "ftl", "crit", "critical", "alert", "emerg", "emergency",
		"panic", "pani", "failure":
		return storage.LevelFatal, true
	}
	return 0, false
}

// coreLevelByName accepts only the plain names a text line may start its
// message with in lower or title case. Words such as "alert", "panic" or
// "failure" are too often the first word of an ordinary message to be taken
// as a level unless they are written in capitals or marked as a level.
func coreLevelByName(s string) (storage.Level, bool) {
	for _, c := range coreLevels {
		if len(s) == len(c.name) && strings.EqualFold(s, c.name) {
			return c.level, true
		}
	}
	return 0, false
}

var coreLevels = []struct {
	name  string
	level storage.Level
}{
	{"info", storage.LevelInfo},
	{"error", storage.LevelError},
	{"warn", storage.LevelWarn},
	{"warning", storage.LevelWarn},
	{"debug", storage.LevelDebug},
	{"trace", storage.LevelTrace},
	{"fatal", storage.LevelFatal},
}

// letterLevel maps the one-letter levels of Android logcat and glog.
func letterLevel(c byte) (storage.Level, bool) {
	switch c {
	case 'V', 'D':
		return storage.LevelDebug, true
	case 'I':
		return storage.LevelInfo, true
	case 'W':
		return storage.LevelWarn, true
	case 'E':
		return storage.LevelError, true
	case 'F', 'A': // A is logcat's "assert"
		return storage.LevelFatal, true
	}
	return 0, false
}
