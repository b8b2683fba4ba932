package ingest

import (
	"strconv"
	"strings"
	"time"

	"github.com/logengine/logengine/storage"
)

// A line's header is what its logger writes before the message: besides
// the time and the level, host names, process and thread ids, thread names
// in brackets, logger names, separators, a container runtime's stream and
// tag (`stderr F`), even a second timestamp. Loggers put these in any
// order, so when the time or the level is not where ParseTextLine first
// looks (at the start, and right after the time), the header is walked
// token by token.
//
// How the header ends: at the level (what follows it, after a closing
// ":", "-", "--" or "|", is the message), or at the first token that reads
// like a word of prose rather than a header field (see headerToken), or
// after headerTokens fields with nothing recognised, or headerBytes into
// the line. Away from the time a level counts only in a form no sentence
// starts with: upper case, bracketed, before a colon, or padded to a
// column. A time or level word after that point is the message's, not the
// line's: "2024-03-01T12:00:00Z GET /api ERROR 500" stops at "GET".
//
// Where the message starts: after the last thing recognised. When a level
// is found, that is after the level and its closing separator; when only a
// time is, it is right after the time (or after a container runtime's
// stream and tag), because without a level nothing says where a header
// that ends in numbers or names stops and the message begins ("5 users
// logged in" must keep its 5). What was walked over before that point is
// not thrown away: numbers between the time and the level are the pid and
// tid, as in the simple forms, and the rest is TextLine.Header.

// headerTokens bounds the header fields walked over with nothing
// recognised: before the time, and after it before the level.
const headerTokens = 6

// headerBytes bounds how far into the line a header field walked over may
// start, and how long one may be.
const headerBytes = 160

// maxSkipped bounds the header fields remembered while walking; the walk
// stops when it is reached (three times of rising rank with six tokens
// each fit).
const maxSkipped = 24

// How completely a header time writes out the moment. When several times
// stand in a header, the walk keeps the one of highest rank and, among
// equals, the first. A time with a written date and clock is preferred
// because it is unambiguous: one without a year has its year guessed, and
// a bare number of epoch seconds may as well be a request id or a counter
// that happens to have ten digits. A program that writes its own dated
// stamp after a shorter one (a syslog relay's "Mar  1 12:00:00") tells the
// moment more exactly than the relay does. Among two dated stamps the
// first is kept: a container runtime's comes first and carries a zone and
// nanoseconds, the program's after it often neither.
const (
	rankNone   = iota
	rankEpoch  // epoch seconds or milliseconds
	rankNoYear // month, day and clock (syslog, logcat): the year is guessed
	rankDated  // year, month, day and clock
)

// stampRank returns the rank of the stamp parseLeadingTime recognised at
// the start of p. It follows parseLeadingTime's choice of form by the
// same shape tests.
func stampRank(p string) int {
	if p[0] == '[' {
		p = p[1:]
	}
	if len(p) == 0 {
		return rankNone
	}
	if isLetter(p[0]) {
		if len(p) >= 24 && p[3] == ' ' && isLetter(p[4]) {
			return rankDated // ctime carries the year at the end
		}
		return rankNoYear // BSD syslog
	}
	switch {
	case len(p) >= 19 && (p[4] == '-' || p[4] == '/'),
		len(p) >= 13 && p[6] == ' ',
		len(p) >= 17 && p[2] == '/' && p[5] == '/',
		len(p) >= 20 && p[2] == '/' && isLetter(p[3]):
		return rankDated // ISO, yyMMdd HHmmss, yy/MM/dd, CLF
	case len(p) >= 14 && p[2] == '-' && p[5] == ' ':
		return rankNoYear // logcat
	}
	return rankEpoch
}

// parseHeaderTime recognises a time at the start of s as parseLeadingTime
// does, and besides the forms that only stand further into a header or
// that parseLeadingTime does not know: a bracketed time with its zone after
// a blank ("[2024-03-01 12:00:00 +0000]", as gunicorn writes it) and the
// day written before the month's name ("01 Mar 2024 12:00:00.123",
// "01-Mar-2024 12:00:00", "[01/Mar/2024 12:00:00]"). It returns the rank
// of the time too.
func parseHeaderTime(s string, now time.Time) (t time.Time, end, rank int, logcat, ok bool) {
	if s == "" {
		return time.Time{}, 0, 0, false, false
	}
	if t, end, logcat, ok := parseLeadingTime(s, now); ok && end > 0 {
		return t, end, stampRank(s), logcat, true
	}
	p, off := s, 0
	if s[0] == '[' {
		p, off = s[1:], 1
	}
	var n int
	if t, n, ok = parseDayMonthYear(p); !ok {
		if off == 0 {
			return time.Time{}, 0, 0, false, false
		}
		if t, n, _, ok = parseLeadingTime(p, now); !ok || n == 0 {
			return time.Time{}, 0, 0, false, false
		}
	}
	end = off + n
	if off == 1 && end+1 < len(s) && s[end] == ' ' {
		if zone, zn, ok := parseZone(s[end+1:]); ok {
			t = t.Add(-time.Duration(zone) * time.Second)
			end += 1 + zn
		}
	}
	if off == 1 {
		if end >= len(s) || s[end] != ']' {
			return time.Time{}, 0, 0, false, false
		}
		end++
	}
	if end < len(s) && (isLetter(s[end]) || isDigit(s[end])) || !storable(t) {
		return time.Time{}, 0, 0, false, false
	}
	return t, end, rankDated, false, true
}

// parseDayMonthYear parses a day, a month's name and a year separated by
// blanks, dashes or slashes, then a clock: "01 Mar 2024 12:00:00.123",
// "1-Mar-2024 12:00:00", "01/Mar/2024 12:00:00".
func parseDayMonthYear(p string) (time.Time, int, bool) {
	d, i, ok := parseDay(p, 0)
	if !ok || p[0] == ' ' || i+13 > len(p) {
		return time.Time{}, 0, false
	}
	sep := p[i]
	if sep != ' ' && sep != '-' && sep != '/' || p[i+4] != sep || !isLetter(p[i+1]) {
		return time.Time{}, 0, false
	}
	mo, ok := monthByName(p[i+1:])
	if !ok {
		return time.Time{}, 0, false
	}
	y, ok := atoiN(p, i+5, 4)
	if !ok || !validDate(y, mo, d) || p[i+9] != ' ' {
		return time.Time{}, 0, false
	}
	h, mi, sec, nanos, end, ok := parseClock(p, i+10)
	if !ok {
		return time.Time{}, 0, false
	}
	return time.Date(y, time.Month(mo), d, h, mi, sec, nanos, time.UTC), end, true
}

// span is a header field walked over: s[start:end].
type span struct {
	start, end int
	number     bool // digits alone, or in brackets: a pid or a thread id
}

// headerScan is what walking a header found.
type headerScan struct {
	time       time.Time
	rank       int // rankNone: no time found
	timeStart  int
	timeEnd    int
	level      storage.Level
	hasLevel   bool
	levelStart int // where the level was found, when hasLevel
	msg        int // where the message starts
	fields     []storage.Field
	skipped    [maxSkipped]span
	nskipped   int
}

func (h *headerScan) skip(start, end int, number bool) bool {
	if h.nskipped == maxSkipped {
		return false
	}
	h.skipped[h.nskipped] = span{start, end, number}
	h.nskipped++
	return true
}

// walkHeader walks the header tokens from s[i:], looking for a time (a
// better one, when h already has one) and, after a time, for the level.
// When h already has a level (the line started with it), only a time is
// looked for.
func walkHeader(s string, i int, now time.Time, h *headerScan) {
	findLevel := !h.hasLevel
	// n counts the header fields walked over since the last time found: a
	// time or a level may follow the last one allowed.
	for n := 0; i < len(s); {
		i = skipBlanks(s, i)
		if i >= len(s) {
			return
		}
		// Away from the time only the unmistakable level forms count:
		// upper case, bracketed, or followed by a colon.
		if findLevel && h.rank > rankNone {
			if lvl, end, ok := levelToken(s, i, false, false); ok {
				h.setLevel(s, lvl, i, end)
				return
			}
			if lvl, end, ok := headerLevelWord(s, i); ok {
				h.setLevel(s, lvl, i, end)
				return
			}
			if lvl, end, ok := paddedLevel(s, i); ok {
				h.setLevel(s, lvl, i, end)
				return
			}
			// A klog line inside a container runtime's: its level letter
			// and time ("E0301 12:00:00.123456").
			var gl TextLine
			if lvl, end, ok := parseGlogPrefix(s[i:], now, &gl); ok {
				if rankNoYear > h.rank {
					h.time, h.rank = gl.Time, rankNoYear
				}
				h.setLevel(s, lvl, i, i+end)
				return
			}
		}
		if startsTime(s[i]) {
			if t, tend, r, logcat, ok := parseHeaderTime(s[i:], now); ok {
				if r > h.rank {
					if h.rank > rankNone && !h.skip(h.timeStart, h.timeEnd, false) {
						return
					}
					h.time, h.rank, h.timeStart, h.timeEnd, h.msg = t, r, i, i+tend, i+tend
					i += tend
					n = 0
					if !findLevel {
						continue
					}
					// Right after a time the lenient forms count too, as
					// in ParseTextLine's first look.
					var tl TextLine
					if lvl, end, ok := scanLevel(s, i, true, logcat, &tl); ok {
						h.level, h.hasLevel, h.levelStart, h.msg, h.fields = lvl, true, i, end, tl.Fields
						return
					}
					h.runtimeTag(s)
					i = h.msg
					continue
				}
				// An equal or weaker time is one more header field.
				if n >= headerTokens || !h.skip(i, i+tend, false) {
					return
				}
				i += tend
				n++
				continue
			}
		}
		end := tokenEnd(s, i)
		tok := s[i:end]
		if h.rank == rankNone && findLevel {
			// A file name or tag glued to the time by a colon, as grep
			// and tail write them: "app.log:2024-03-01 12:00:00".
			if k := strings.IndexByte(tok, ':'); k > 0 && k+1 < len(tok) && isDigit(tok[k+1]) {
				if t, tend, r, _, ok := parseHeaderTime(s[i+k+1:], now); ok {
					if !h.skip(i, i+k+1, false) {
						return
					}
					h.time, h.rank, h.timeStart, h.timeEnd, h.msg = t, r, i+k+1, i+k+1+tend, i+k+1+tend
					i = h.timeEnd
					n = 0
					continue
				}
			}
		}
		if n >= headerTokens || i >= headerBytes || !headerToken(tok) || !h.skip(i, end, isNumberToken(tok)) {
			return
		}
		i = end
		n++
	}
}

// setLevel records a level found at s[start:end] and where the message
// starts after it. Numbers walked over between the time and the level are
// the pid and the tid, as scanLevel reads them in the simple forms.
func (h *headerScan) setLevel(s string, lvl storage.Level, start, end int) {
	h.level, h.hasLevel, h.levelStart, h.msg = lvl, true, start, afterLevel(s, end)
	names := []string{"pid", "tid"}
	for k := 0; k < h.nskipped && len(names) > 0; k++ {
		sp := &h.skipped[k]
		if !sp.number || sp.start < h.timeEnd {
			continue
		}
		tok := s[sp.start:sp.end]
		if tok[0] == '[' {
			tok = tok[1 : len(tok)-1] // isNumberToken saw both brackets
		}
		v, err := strconv.ParseInt(tok, 10, 64)
		if err != nil {
			continue
		}
		h.fields = append(h.fields, storage.Field{Name: names[0], Value: storage.Int(v)})
		names = names[1:]
		sp.number = false
		sp.end = sp.start // taken: not part of the header text
	}
}

// header returns the header fields walked over before the message, as
// written; separators and the ids taken as pid and tid are left out, and
// fields that stand apart are joined by single spaces.
func (h *headerScan) header(s string) string {
	// A time given up for a better one was remembered out of order.
	spans := h.skipped[:h.nskipped]
	for k := 1; k < len(spans); k++ {
		for j := k; j > 0 && spans[j].start < spans[j-1].start; j-- {
			spans[j], spans[j-1] = spans[j-1], spans[j]
		}
	}
	kept := spans[:0]
	for _, sp := range spans {
		if sp.end <= sp.start || sp.end > h.msg || isSeparator(s[sp.start:sp.end]) {
			continue
		}
		kept = append(kept, sp)
	}
	if len(kept) == 0 {
		return ""
	}
	// Fields next to each other (only blanks between them) are returned
	// as the line has them, without copying.
	contiguous := true
	for k := 1; k < len(kept) && contiguous; k++ {
		for j := kept[k-1].end; j < kept[k].start; j++ {
			if s[j] != ' ' && s[j] != '\t' {
				contiguous = false
				break
			}
		}
	}
	if contiguous {
		return s[kept[0].start:kept[len(kept)-1].end]
	}
	var b strings.Builder
	for k, sp := range kept {
		if k > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(s[sp.start:sp.end])
	}
	return b.String()
}

func isSeparator(tok string) bool {
	switch tok {
	case "-", "|", ":", "--", "*":
		return true
	}
	return false
}

// runtimeTag recognises the stream and tag a container runtime writes
// after its time in the CRI log format ("stdout F ", "stderr P "): the
// program's own line starts after them, and they are kept as a header
// field.
func (h *headerScan) runtimeTag(s string) {
	i := skipBlanks(s, h.timeEnd)
	if !strings.HasPrefix(s[i:], "stdout ") && !strings.HasPrefix(s[i:], "stderr ") {
		return
	}
	j := i + len("stdout ")
	if j+1 < len(s) && (s[j] == 'F' || s[j] == 'P') && (s[j+1] == ' ' || s[j+1] == '\t') && h.skip(i, j+1, false) {
		h.msg = skipBlanks(s, j+1)
	}
}

// headerLevelWord reads the level names of widely deployed loggers that
// levelToken does not know, recognised only in a header, after the time:
// PostgreSQL's LOG: and MySQL's [Note] and [System], all informational.
// Elsewhere these are ordinary words.
func headerLevelWord(s string, i int) (storage.Level, int, bool) {
	for _, w := range []string{"LOG:", "[Note]", "[System]", "[NOTE]"} {
		if strings.HasPrefix(s[i:], w) {
			return storage.LevelInfo, i + len(w), true
		}
	}
	return 0, 0, false
}

// paddedLevel reads a level name in lower or title case that is padded to
// a column (followed by a tab or by two blanks), as loggers that align
// their header write it ("Error       0x0"). Prose does not pad its words,
// so the padding marks the word as a header field.
func paddedLevel(s string, i int) (storage.Level, int, bool) {
	j := i
	for j < len(s) && isLetter(s[j]) {
		j++
	}
	if j == i || j+1 >= len(s) || !(s[j] == '\t' || s[j] == ' ' && s[j+1] == ' ') {
		return 0, 0, false
	}
	lvl, ok := coreLevelByName(s[i:j])
	return lvl, j, ok
}

func startsTime(c byte) bool { return isDigit(c) || c == '[' || isLetter(c) }

// isNumberToken reports whether tok is a number alone or in brackets, as
// loggers write a pid or a thread id: 4711, [4711].
func isNumberToken(tok string) bool {
	if len(tok) > 2 && tok[0] == '[' && tok[len(tok)-1] == ']' {
		tok = tok[1 : len(tok)-1]
	}
	if tok == "" || len(tok) > 18 {
		return false
	}
	for k := 0; k < len(tok); k++ {
		if !isDigit(tok[k]) {
			return false
		}
	}
	return true
}

// tokenEnd returns where the token at s[i:] ends: at the next blank, or
// after the closing bracket of a bracketed token (which may hold blanks).
func tokenEnd(s string, i int) int {
	var closer byte
	switch s[i] {
	case '[':
		closer = ']'
	case '(':
		closer = ')'
	case '<':
		closer = '>'
	case '{':
		closer = '}'
	}
	if closer != 0 {
		if j := strings.IndexByte(s[i+1:min(len(s), i+headerBytes)], closer); j >= 0 {
			return i + j + 2
		}
	}
	j := i
	for j < len(s) && s[j] != ' ' && s[j] != '\t' {
		j++
	}
	return j
}

// headerToken reports whether tok reads like a header field rather than a
// word of the message: a separator, a number, something bracketed, a name
// with dots, digits, dashes, underscores, slashes, an equals sign or a
// trailing colon (hosts, loggers, pids like 12#12:, components like
// kernel:, MDC pairs like trace=ab12), a single capital letter (a stream
// tag like F or P), or a stream name. A token longer than headerBytes is
// message text, whatever it holds.
func headerToken(tok string) bool {
	if tok == "" || len(tok) > headerBytes {
		return false
	}
	switch tok {
	case "-", "|", ":", "--", "stdout", "stderr":
		return true
	}
	switch tok[0] {
	case '[', '(', '<', '{':
		return true
	}
	if len(tok) == 1 && tok[0] >= 'A' && tok[0] <= 'Z' {
		return true
	}
	if tok[len(tok)-1] == ':' && len(tok) > 1 {
		return true
	}
	// A dot or comma that ends a word ends a sentence, not a logger name.
	body := strings.TrimRight(tok, ".,;")
	for k := 0; k < len(body); k++ {
		switch c := body[k]; {
		case isDigit(c), c == '.', c == '-', c == '_', c == '/', c == '#', c == '@', c == '*', c == '=':
			return true
		}
	}
	return false
}
