package ingest

import (
	"fmt"
	"math"
	"strconv"
	"time"
)

// Every timestamp shape ingest recognises is parsed here: one sent as a
// JSON (or Loki, OTLP, logfmt) string or number (parseTimestampString,
// parseEpoch), and one that starts a line of text (parseLeadingTime); the
// syslog and access-line parsers use the same pieces.
//
// Timestamps are parsed by hand: time.Parse costs several hundred
// nanoseconds per call and allocates for zones, and ingest parses one per log.

// parseTimestampString parses a timestamp sent as a JSON string: RFC 3339
// (any fractional precision, "T" or a space between date and time, no zone
// meaning UTC), a plain date, or epoch seconds/ms/µs/ns as a numeric string.
func parseTimestampString(s string) (time.Time, error) {
	t, n, ok := parseISO(s, true)
	if ok && n == len(s) {
		return t, nil
	}
	if len(s) == 10 { // a plain date: 2026-11-26
		if y, mo, d, ok := parseDate(s); ok {
			return time.Date(y, time.Month(mo), d, 0, 0, 0, 0, time.UTC), nil
		}
	}
	if t, ok := parseEpoch(s); ok {
		return t, nil
	}
	return time.Time{}, fmt.Errorf("timestamp %q is not RFC 3339 or epoch seconds/ms/µs/ns", s)
}

// parseDate parses YYYY-MM-DD.
func parseDate(s string) (y, mo, d int, ok bool) {
	if len(s) < 10 || s[4] != '-' || s[7] != '-' {
		return 0, 0, 0, false
	}
	y, ok1 := atoiN(s, 0, 4)
	mo, ok2 := atoiN(s, 5, 2)
	d, ok3 := atoiN(s, 8, 2)
	if !ok1 || !ok2 || !ok3 || !validDate(y, mo, d) {
		return 0, 0, 0, false
	}
	return y, mo, d, true
}

// parseEpoch parses a number of seconds, milliseconds, microseconds or
// nanoseconds since the epoch, told apart by magnitude: below 1e11 seconds
// (up to the year 5138), below 1e14 milliseconds, below 1e17 microseconds,
// else nanoseconds. A fraction is a fraction of that unit. The digits are
// read as integers so nanosecond precision survives; exponent forms fall
// back to float64.
func parseEpoch(s string) (time.Time, bool) {
	i := 0
	for i < len(s) && isDigit(s[i]) {
		i++
	}
	intEnd := i
	if intEnd == 0 || intEnd > 19 {
		return parseEpochFloat(s)
	}
	fracStart, fracEnd := i, i
	if i < len(s) && s[i] == '.' {
		i++
		fracStart = i
		for i < len(s) && isDigit(s[i]) {
			i++
		}
		fracEnd = i
		if fracEnd == fracStart {
			return time.Time{}, false
		}
	}
	if i != len(s) {
		return parseEpochFloat(s)
	}
	v, err := strconv.ParseUint(s[:intEnd], 10, 64)
	if err != nil || v > math.MaxInt64 {
		return time.Time{}, false
	}
	unit := epochUnit(v)
	// Nanoseconds of the fraction: at most 9 digits matter in any unit.
	var frac, scale int64 = 0, 1
	for j := fracStart; j < fracEnd && j < fracStart+9; j++ {
		frac = frac*10 + int64(s[j]-'0')
		scale *= 10
	}
	fracNanos := frac * unit / scale
	n := int64(v)
	perSec := int64(time.Second) / unit
	return time.Unix(n/perSec, (n%perSec)*unit+fracNanos).UTC(), true
}

// epochUnit returns the unit, in nanoseconds, of an epoch number.
func epochUnit[N uint64 | float64](v N) int64 {
	switch {
	case v < 1e11:
		return int64(time.Second)
	case v < 1e14:
		return int64(time.Millisecond)
	case v < 1e17:
		return int64(time.Microsecond)
	}
	return 1
}

func parseEpochFloat(s string) (time.Time, bool) {
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || f < 0 || math.IsNaN(f) || f >= 1e19 {
		return time.Time{}, false
	}
	unit := epochUnit(f)
	perSec := float64(time.Second) / float64(unit)
	sec := math.Floor(f / perSec)
	nanos := (f - sec*perSec) * float64(unit)
	return time.Unix(int64(sec), int64(nanos)).UTC(), true
}

// parseISO parses an RFC 3339-like timestamp at the start of s:
// YYYY-MM-DD, "T" or a space, hh:mm:ss, an optional fraction after "." or ","
// and an optional zone (Z, ±hh:mm, ±hhmm, ±hh). Slashes in the date
// (2026/11/26, as Go's log package and nginx write it) are accepted too. When
// spacedZone is set, a zone after one space (" +0000", " UTC") is also taken,
// as some text formats write it. It returns the time in UTC and the number
// of bytes used.
func parseISO(s string, spacedZone bool) (time.Time, int, bool) {
	if len(s) < 19 {
		return time.Time{}, 0, false
	}
	sep := s[4]
	if (sep != '-' && sep != '/') || s[7] != sep || s[13] != ':' || s[16] != ':' {
		return time.Time{}, 0, false
	}
	if c := s[10]; c != 'T' && c != 't' && c != ' ' {
		return time.Time{}, 0, false
	}
	y, ok1 := atoiN(s, 0, 4)
	mo, ok2 := atoiN(s, 5, 2)
	d, ok3 := atoiN(s, 8, 2)
	h, ok4 := atoiN(s, 11, 2)
	mi, ok5 := atoiN(s, 14, 2)
	sec, ok6 := atoiN(s, 17, 2)
	if !ok1 || !ok2 || !ok3 || !ok4 || !ok5 || !ok6 || !validDate(y, mo, d) || !validClock(h, mi, sec) {
		return time.Time{}, 0, false
	}
	i := 19
	nanos, i := parseFraction(s, i)
	off, n, ok := parseZone(s[i:])
	if ok {
		i += n
	} else if spacedZone && i+1 < len(s) && s[i] == ' ' {
		if off2, n2, ok2 := parseZone(s[i+1:]); ok2 && (i+1+n2 == len(s) || s[i+1+n2] == ' ') {
			off = off2
			i += 1 + n2
		}
	}
	t := time.Date(y, time.Month(mo), d, h, mi, sec, nanos, time.UTC).Add(-time.Duration(off) * time.Second)
	return t, i, true
}

// parseFraction reads an optional fraction of a second (".123" or ",123")
// at s[i:]; digits beyond nanoseconds are ignored.
func parseFraction(s string, i int) (nanos, end int) {
	if i+1 >= len(s) || (s[i] != '.' && s[i] != ',') || !isDigit(s[i+1]) {
		return 0, i
	}
	i++
	scale := int(time.Second)
	for ; i < len(s) && isDigit(s[i]); i++ {
		if scale > 1 {
			scale /= 10
			nanos += int(s[i]-'0') * scale
		}
	}
	return nanos, i
}

// parseZone reads a zone at the start of s: Z, UTC, GMT, ±hh:mm, ±hhmm or
// ±hh. It returns the offset east of UTC in seconds.
func parseZone(s string) (offset, n int, ok bool) {
	if len(s) == 0 {
		return 0, 0, false
	}
	switch s[0] {
	case 'Z', 'z':
		return 0, 1, true
	case 'U', 'G':
		if len(s) >= 3 && (s[:3] == "UTC" || s[:3] == "GMT") && (len(s) == 3 || !isLetter(s[3])) {
			return 0, 3, true
		}
		return 0, 0, false
	case '+', '-':
	default:
		return 0, 0, false
	}
	sign := 1
	if s[0] == '-' {
		sign = -1
	}
	h, ok := atoiN(s, 1, 2)
	if !ok || h > 23 {
		return 0, 0, false
	}
	n = 3
	m := 0
	switch {
	case len(s) >= 6 && s[3] == ':':
		if m, ok = atoiN(s, 4, 2); !ok {
			return 0, 0, false
		}
		n = 6
	case len(s) >= 5 && isDigit(s[3]):
		if m, ok = atoiN(s, 3, 2); !ok {
			return 0, 0, false
		}
		n = 5
	}
	if m > 59 || (n < len(s) && isDigit(s[n])) {
		return 0, 0, false
	}
	return sign * (h*3600 + m*60), n, true
}

// ---- a stamp that starts a line of text ----

// parseLeadingTime recognises a timestamp at the start of s, optionally in
// square brackets. logcat reports the Android form, after which one-letter
// levels are expected.
func parseLeadingTime(s string, now time.Time) (t time.Time, end int, logcat, ok bool) {
	if s == "" {
		return t, 0, false, false
	}
	p, off := s, 0
	if s[0] == '[' {
		p, off = s[1:], 1
	}
	if len(p) < 8 {
		return t, 0, false, false
	}
	n := 0
	switch c := p[0]; {
	case isDigit(c):
		switch {
		case len(p) >= 19 && (p[4] == '-' || p[4] == '/'):
			t, n, ok = parseISO(p, true)
		case len(p) >= 13 && p[6] == ' ':
			t, n, ok = parseHDFS(p)
		case len(p) >= 17 && p[2] == '/' && p[5] == '/':
			t, n, ok = parseSpark(p)
		case len(p) >= 14 && p[2] == '-' && p[5] == ' ':
			t, n, ok = parseLogcat(p, now)
			logcat = ok
		case len(p) >= 20 && p[2] == '/' && isLetter(p[3]):
			t, n, ok = parseCLF(p)
		default:
			t, n, ok = parseLeadingEpoch(p)
		}
	case isLetter(c):
		if len(p) >= 24 && p[3] == ' ' && isLetter(p[4]) {
			t, n, ok = parseCtime(p)
		} else {
			t, n, ok = parseSyslogStamp(p, now)
		}
	}
	if !ok || !storable(t) {
		return time.Time{}, 0, false, false
	}
	end = off + n
	if off == 1 {
		if end >= len(s) || s[end] != ']' {
			return time.Time{}, 0, false, false
		}
		end++
	}
	// The stamp must end at a token boundary: "2026-11-26T10:00:00Zabc" is
	// not a stamp followed by "abc".
	if end < len(s) && (isLetter(s[end]) || isDigit(s[end])) {
		return time.Time{}, 0, false, false
	}
	return t, end, logcat, true
}

// parseHDFS parses "081109 203615" (yyMMdd HHmmss).
func parseHDFS(p string) (time.Time, int, bool) {
	yy, ok1 := atoiN(p, 0, 2)
	mo, ok2 := atoiN(p, 2, 2)
	d, ok3 := atoiN(p, 4, 2)
	h, ok4 := atoiN(p, 7, 2)
	mi, ok5 := atoiN(p, 9, 2)
	sec, ok6 := atoiN(p, 11, 2)
	y := twoDigitYear(yy)
	if !ok1 || !ok2 || !ok3 || !ok4 || !ok5 || !ok6 || !validDate(y, mo, d) || !validClock(h, mi, sec) {
		return time.Time{}, 0, false
	}
	return time.Date(y, time.Month(mo), d, h, mi, sec, 0, time.UTC), 13, true
}

// parseSpark parses "17/06/09 20:10:40" (yy/MM/dd HH:mm:ss, log4j's
// default in Spark).
func parseSpark(p string) (time.Time, int, bool) {
	yy, ok1 := atoiN(p, 0, 2)
	mo, ok2 := atoiN(p, 3, 2)
	d, ok3 := atoiN(p, 6, 2)
	if !ok1 || !ok2 || !ok3 || p[8] != ' ' {
		return time.Time{}, 0, false
	}
	h, mi, sec, nanos, n, ok := parseClock(p, 9)
	y := twoDigitYear(yy)
	if !ok || !validDate(y, mo, d) {
		return time.Time{}, 0, false
	}
	return time.Date(y, time.Month(mo), d, h, mi, sec, nanos, time.UTC), n, true
}

// parseLogcat parses "03-17 16:13:38.811" (MM-dd HH:mm:ss.mmm, no year).
func parseLogcat(p string, now time.Time) (time.Time, int, bool) {
	mo, ok1 := atoiN(p, 0, 2)
	d, ok2 := atoiN(p, 3, 2)
	if !ok1 || !ok2 {
		return time.Time{}, 0, false
	}
	h, mi, sec, nanos, n, ok := parseClock(p, 6)
	if !ok {
		return time.Time{}, 0, false
	}
	t, ok := withYear(now, mo, d, h, mi, sec, nanos)
	return t, n, ok
}

// parseClock parses "HH:mm:ss" with an optional fraction at p[i:] and
// returns where it ends.
func parseClock(p string, i int) (h, mi, sec, nanos, end int, ok bool) {
	if i+8 > len(p) || p[i+2] != ':' || p[i+5] != ':' {
		return 0, 0, 0, 0, 0, false
	}
	h, ok1 := atoiN(p, i, 2)
	mi, ok2 := atoiN(p, i+3, 2)
	sec, ok3 := atoiN(p, i+6, 2)
	if !ok1 || !ok2 || !ok3 || !validClock(h, mi, sec) {
		return 0, 0, 0, 0, 0, false
	}
	nanos, end = parseFraction(p, i+8)
	return h, mi, sec, nanos, end, true
}

// parseSyslogStamp parses "Jun 14 15:16:01" or "Jun  4 15:16:01" (BSD
// syslog, no year), with an optional fraction.
func parseSyslogStamp(p string, now time.Time) (time.Time, int, bool) {
	if len(p) < 15 || p[3] != ' ' {
		return time.Time{}, 0, false
	}
	mo, ok := monthByName(p)
	if !ok {
		return time.Time{}, 0, false
	}
	d, i, ok := parseDay(p, 4)
	if !ok || p[i] != ' ' {
		return time.Time{}, 0, false
	}
	h, mi, sec, nanos, end, ok := parseClock(p, i+1)
	if !ok {
		return time.Time{}, 0, false
	}
	t, ok := withYear(now, mo, d, h, mi, sec, nanos)
	return t, end, ok
}

// parseDay reads a day of the month as "04", " 4" or "4" at p[i:].
func parseDay(p string, i int) (d, end int, ok bool) {
	if i+2 > len(p) {
		return 0, 0, false
	}
	switch {
	case p[i] == ' ' && isDigit(p[i+1]):
		return int(p[i+1] - '0'), i + 2, true
	case isDigit(p[i]) && isDigit(p[i+1]):
		return int(p[i]-'0')*10 + int(p[i+1]-'0'), i + 2, true
	case isDigit(p[i]):
		return int(p[i] - '0'), i + 1, true
	}
	return 0, 0, false
}

// parseCtime parses "Sun Dec 04 04:47:44 2005" (ctime, as the Apache error
// log writes it; Apache 2.4 adds a fraction of the second).
func parseCtime(p string) (time.Time, int, bool) {
	if !isLetter(p[0]) || !isLetter(p[1]) || !isLetter(p[2]) || p[3] != ' ' || p[7] != ' ' {
		return time.Time{}, 0, false
	}
	mo, ok := monthByName(p[4:])
	if !ok {
		return time.Time{}, 0, false
	}
	d, i, ok := parseDay(p, 8)
	if !ok || i >= len(p) || p[i] != ' ' {
		return time.Time{}, 0, false
	}
	h, mi, sec, nanos, i, ok := parseClock(p, i+1)
	if !ok || i+5 > len(p) || p[i] != ' ' {
		return time.Time{}, 0, false
	}
	y, ok := atoiN(p, i+1, 4)
	if !ok || !validDate(y, mo, d) {
		return time.Time{}, 0, false
	}
	return time.Date(y, time.Month(mo), d, h, mi, sec, nanos, time.UTC), i + 5, true
}

// parseCLF parses the Common Log Format stamp "10/Oct/2000:13:55:36 -0700".
func parseCLF(p string) (time.Time, int, bool) {
	if len(p) < 20 || p[2] != '/' || p[6] != '/' || p[11] != ':' {
		return time.Time{}, 0, false
	}
	d, ok1 := atoiN(p, 0, 2)
	mo, ok2 := monthByName(p[3:])
	y, ok3 := atoiN(p, 7, 4)
	if !ok1 || !ok2 || !ok3 || !validDate(y, mo, d) {
		return time.Time{}, 0, false
	}
	h, mi, sec, nanos, i, ok := parseClock(p, 12)
	if !ok {
		return time.Time{}, 0, false
	}
	off := 0
	if i+1 < len(p) && p[i] == ' ' {
		if o, n, ok := parseZone(p[i+1:]); ok {
			off = o
			i += 1 + n
		}
	}
	t := time.Date(y, time.Month(mo), d, h, mi, sec, nanos, time.UTC).Add(-time.Duration(off) * time.Second)
	return t, i, true
}

// parseLeadingEpoch takes epoch seconds (10 digits, optional fraction) or
// milliseconds (13 digits) starting a line, as squid and some exporters
// write them. Shorter numbers are too likely to be part of the message.
func parseLeadingEpoch(p string) (time.Time, int, bool) {
	i := 0
	for i < len(p) && isDigit(p[i]) {
		i++
	}
	if i != 10 && i != 13 {
		return time.Time{}, 0, false
	}
	if i == 10 && i+1 < len(p) && p[i] == '.' && isDigit(p[i+1]) {
		i++
		for i < len(p) && isDigit(p[i]) {
			i++
		}
	}
	if i < len(p) && p[i] != ' ' && p[i] != '\t' {
		return time.Time{}, 0, false
	}
	t, ok := parseEpoch(p[:i])
	return t, i, ok
}

// ---- shared by the shapes ----

func validDate(y, mo, d int) bool {
	return mo >= 1 && mo <= 12 && d >= 1 && d <= daysIn(mo, y)
}

func validClock(h, mi, sec int) bool {
	return h <= 23 && mi <= 59 && sec <= 60 // 60: a leap second, normalised by time.Date
}

func daysIn(mo, y int) int {
	switch mo {
	case 2:
		if y%4 == 0 && (y%100 != 0 || y%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}

// atoiN parses exactly n decimal digits at s[i:].
func atoiN(s string, i, n int) (int, bool) {
	if i < 0 || i+n > len(s) {
		return 0, false
	}
	v := 0
	for j := i; j < i+n; j++ {
		c := s[j]
		if !isDigit(c) {
			return 0, false
		}
		v = v*10 + int(c-'0')
	}
	return v, true
}

func isDigit(c byte) bool  { return '0' <= c && c <= '9' }
func isLetter(c byte) bool { return 'a' <= c|0x20 && c|0x20 <= 'z' }

// monthByName maps a three-letter English month name in any case.
func monthByName(s string) (int, bool) {
	if len(s) < 3 {
		return 0, false
	}
	const months = "janfebmaraprmayjunjulaugsepoctnovdec"
	a, b, c := s[0]|0x20, s[1]|0x20, s[2]|0x20
	for m := 0; m < 12; m++ {
		if months[3*m] == a && months[3*m+1] == b && months[3*m+2] == c {
			return m + 1, true
		}
	}
	return 0, false
}

// withYear builds a time for a stamp that carries no year: the current year,
// or the previous one when that would put the stamp more than a day in the
// future (a December log read in January).
func withYear(now time.Time, mo, d, h, mi, sec, nanos int) (time.Time, bool) {
	if mo < 1 || mo > 12 || d < 1 || d > daysIn(mo, 2000) || !validClock(h, mi, sec) {
		return time.Time{}, false
	}
	y := now.Year()
	t := time.Date(y, time.Month(mo), d, h, mi, sec, nanos, time.UTC)
	if t.Sub(now) > 24*time.Hour {
		t = time.Date(y-1, time.Month(mo), d, h, mi, sec, nanos, time.UTC)
	}
	return t, true
}

// storable reports whether t is in the range the store accepts
// (1970..2262). Text formats call a stamp outside it no stamp at all, so the
// line keeps its arrival time rather than being rejected.
func storable(t time.Time) bool {
	y := t.Year()
	return y >= 1970 && y <= 2262 && t.UnixNano() >= 0
}

// twoDigitYear expands a two-digit year the way POSIX strptime does.
func twoDigitYear(yy int) int {
	if yy < 69 {
		return 2000 + yy
	}
	return 1900 + yy
}
