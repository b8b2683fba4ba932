package ingest

import (
	"bytes"
	"strconv"
	"strings"
	"time"

	"github.com/logengine/logengine/storage"
)

// TextLine is what ParseTextLine recognises in one line of text.
type TextLine struct {
	Time     time.Time // valid when HasTime
	HasTime  bool
	Level    storage.Level // valid when HasLevel
	HasLevel bool
	// Source is the application named by the line (a syslog app-name or a
	// logfmt source); empty when it names none.
	Source string
	// Message is the line after the recognised timestamp and level, or the
	// whole line when nothing was recognised or nothing follows them.
	// Syslog and logfmt lines give their message part, access lines the
	// whole line.
	Message string
	// Fields are what the line's format names: pid and tid of logcat and
	// HDFS lines (and of any header with numbers between the time and the
	// level), the syslog header, the access-log request, logfmt pairs.
	Fields []storage.Field
	// Header holds the header fields walked over to reach a time or a level
	// further into the line (a host, a thread, a logger, a second time),
	// as written, so that the message can start after what was recognised
	// without losing them. Empty for the simple forms.
	Header string
	// optional counts the last Fields that came from walking the header:
	// they are dropped rather than the line rejected when they exceed the
	// limits, so that no line accepted before the walk existed is rejected.
	optional int
}

// DecodeText decodes text/plain: one log per line, see ParseTextLine. A
// trailing "\r" is removed and blank lines (whitespace only) are neither
// entries nor errors, but count for the line numbers.
func DecodeText(body []byte, d Defaults, l Limits) []Result {
	return AppendText(make([]Result, 0, lineCount(body)), body, d, l)
}

// AppendText is DecodeText appending to dst.
func AppendText(dst []Result, body []byte, d Defaults, l Limits) []Result {
	return newDecoder(d, l).appendText(dst, body)
}

func (dc *decoder) appendText(dst []Result, body []byte) []Result {
	body = trimBOM(body)
	for line := 1; len(body) > 0; line++ {
		var raw []byte
		raw, body = nextLine(body)
		// Only a trailing CR ends a line; one inside it is a control
		// character, which ParseTextLine keeps (replaced), as it decides.
		if len(bytes.Trim(bytes.TrimRight(raw, "\r"), " \t")) == 0 {
			continue
		}
		if len(raw) > dc.lim.MaxLineBytes {
			dst = append(dst, Result{Line: line, Err: limitErrorf("line is %d bytes, the limit is %d", len(raw), dc.lim.MaxLineBytes)})
			continue
		}
		tl := ParseTextLine(string(raw), dc.now)
		if tl.Message == "" {
			continue // blank once cleaned, e.g. only Unicode spaces
		}
		e, err := dc.textEntry(tl)
		dst = append(dst, Result{Line: line, Entry: e, Err: err})
	}
	return dst
}

// textEntry turns a recognised text line into an entry, applying the
// limits to what the line's format produced.
func (dc *decoder) textEntry(tl TextLine) (storage.Entry, error) {
	e := storage.Entry{Time: dc.now, Level: storage.LevelInfo, Source: dc.def.source(), Message: tl.Message}
	if tl.HasTime {
		e.Time = tl.Time
	}
	if tl.HasLevel {
		e.Level = tl.Level
	}
	if tl.Source != "" {
		if len(tl.Source) > dc.lim.MaxValueBytes {
			return storage.Entry{}, limitErrorf("source is %d bytes, the limit is %d", len(tl.Source), dc.lim.MaxValueBytes)
		}
		e.Source = tl.Source
	}
	if len(dc.def.Tags) > 0 {
		e.Tags = dc.def.Tags[:len(dc.def.Tags):len(dc.def.Tags)]
	}
	if len(tl.Fields) > 0 || tl.Header != "" {
		dc.err = nil
		dc.fields = dc.fields[:0]
		strict := len(tl.Fields) - tl.optional
		for _, f := range tl.Fields[:strict] {
			dc.addField(f.Name, f.Value, false)
		}
		if dc.err != nil {
			return storage.Entry{}, dc.err
		}
		for _, f := range tl.Fields[strict:] {
			dc.addOptionalField(f.Name, f.Value)
		}
		if tl.Header != "" {
			dc.addOptionalField("header", storage.String(tl.Header))
		}
		e.Fields = dc.keepFields()
	}
	if err := e.Validate(); err != nil {
		return storage.Entry{}, err
	}
	return e, nil
}

// addOptionalField adds a field the line's header yielded when it fits the
// limits, and otherwise leaves it out: such fields were not stored before
// the header was walked, and must not get a line rejected.
func (dc *decoder) addOptionalField(name string, v storage.Value) {
	if len(dc.fields) >= dc.lim.MaxFields || len(name) > dc.lim.MaxFieldNameBytes ||
		v.Kind == storage.KindString && len(v.Str) > dc.lim.MaxValueBytes {
		return
	}
	dc.addField(name, v, false)
}

// ParseTextLine recognises what a line of text says about itself: syslog
// (RFC 3164 and 5424), Apache/nginx access lines, logfmt with a msg key, or
// a leading timestamp in one of many forms followed by an optional level.
// Stamps without a zone are UTC; stamps without a year take now's year, or
// the previous one when that would put them more than a day after now.
// The line is cleaned first: a trailing "\r" removed, invalid UTF-8 and
// control characters other than tab replaced, colour escapes dropped.
func ParseTextLine(line string, now time.Time) TextLine {
	line = clean(strings.TrimRight(line, "\r\n"), keepTab)
	if strings.TrimSpace(line) == "" {
		return TextLine{}
	}
	if line[0] == '<' {
		if tl, ok := parseSyslog(line, now); ok {
			return tl
		}
	}
	if tl, ok := parseAccessLine(line); ok {
		return tl
	}
	if tl, ok := parseLogfmtLine(line); ok {
		return tl
	}
	var tl TextLine
	pos := 0
	if lvl, end, ok := parseGlogPrefix(line, now, &tl); ok {
		tl.Level, tl.HasLevel = lvl, true
		pos = end
	} else if t, end, logcat, ok := parseLeadingTime(line, now); ok {
		tl.Time, tl.HasTime = t, true
		pos = end
		if lvl, end, ok := scanLevel(line, pos, true, logcat, &tl); ok {
			tl.Level, tl.HasLevel = lvl, true
			pos = end
		} else {
			// Further into the header: past a thread, a logger, a
			// stream, or to a better time.
			pos = tl.walkFrom(line, pos, now)
		}
	} else if lvl, end, ok := scanLevel(line, 0, false, false, &tl); ok {
		tl.Level, tl.HasLevel = lvl, true
		pos = end
		// A time may follow the level, past a thread in brackets.
		pos = tl.walkFrom(line, pos, now)
	} else {
		// The time after other header fields: a host, a tag, a record
		// number, a file name.
		pos = tl.walkFrom(line, 0, now)
	}
	tl.Message = strings.TrimLeft(line[pos:], " \t")
	if strings.TrimSpace(tl.Message) == "" {
		tl.Message = line
		tl.Header = "" // the line kept whole holds it
	}
	return tl
}

// walkFrom walks the header of line from line[i:], knowing what tl has
// found before i (a time ending at i, or a level), and returns where the
// message starts. It is kept out of ParseTextLine, and out of line, so
// that the large headerScan is not part of ParseTextLine's frame, which
// every line would then pay to set up.
//
//go:noinline
func (tl *TextLine) walkFrom(line string, i int, now time.Time) int {
	h := headerScan{msg: i}
	switch {
	case tl.HasTime:
		h.time, h.rank, h.timeEnd = tl.Time, stampRank(line), i
		h.runtimeTag(line)
	case tl.HasLevel:
		h.level, h.hasLevel = tl.Level, true
	}
	walkHeader(line, h.msg, now, &h)
	return tl.fromHeader(line, &h)
}

// fromHeader takes what walking the header found and returns where the
// message starts.
func (tl *TextLine) fromHeader(line string, h *headerScan) int {
	if h.rank > rankNone {
		tl.Time, tl.HasTime = h.time, true
	}
	if h.hasLevel {
		tl.Level, tl.HasLevel = h.level, true
	}
	if tl.Fields == nil {
		tl.Fields = h.fields
	} else {
		tl.Fields = append(tl.Fields, h.fields...)
	}
	tl.optional = len(h.fields)
	tl.Header = h.header(line)
	return h.msg
}

// parseGlogPrefix recognises the glog/klog header "E1126 10:00:00.123456":
// a level letter, MMdd, then the time.
func parseGlogPrefix(s string, now time.Time, tl *TextLine) (storage.Level, int, bool) {
	if len(s) < 14 || s[5] != ' ' {
		return 0, 0, false
	}
	lvl, ok := letterLevel(s[0])
	if !ok || s[0] == 'V' || s[0] == 'A' {
		return 0, 0, false
	}
	mo, ok1 := atoiN(s, 1, 2)
	d, ok2 := atoiN(s, 3, 2)
	if !ok1 || !ok2 {
		return 0, 0, false
	}
	h, mi, sec, nanos, end, ok := parseClock(s, 6)
	if !ok || (end < len(s) && s[end] != ' ') {
		return 0, 0, false
	}
	t, ok := withYear(now, mo, d, h, mi, sec, nanos)
	if !ok || !storable(t) {
		return 0, 0, false
	}
	tl.Time, tl.HasTime = t, true
	return lvl, end, true
}

// scanLevel looks for a level at s[i:]: after spaces and an optional "-" or
// "|" separator, and, after a timestamp, up to two numbers (process and
// thread ids, as HDFS and logcat write them; they become the fields pid and
// tid). It returns where the message starts.
func scanLevel(s string, i int, afterTime, logcat bool, tl *TextLine) (storage.Level, int, bool) {
	i = skipBlanks(s, i)
	if i+1 < len(s) && (s[i] == '-' || s[i] == '|') && s[i+1] == ' ' {
		i = skipBlanks(s, i+1)
	}
	var ids [2]int64
	nids := 0
	for afterTime && nids < 2 {
		j := i
		for j < len(s) && isDigit(s[j]) {
			j++
		}
		if j == i || j-i > 18 || j >= len(s) || s[j] != ' ' {
			break
		}
		ids[nids], _ = strconv.ParseInt(s[i:j], 10, 64)
		nids++
		i = skipBlanks(s, j)
	}
	lvl, end, ok := levelToken(s, i, afterTime, logcat || nids > 0)
	if !ok && logcat && nids == 0 && i+1 < len(s) && s[i+1] == '/' {
		// logcat's brief and time formats: "D/Tag( 1702): message".
		if lvl, ok := letterLevel(s[i]); ok {
			return lvl, i + 2, true
		}
	}
	if !ok {
		return 0, 0, false
	}
	for k, name := range []string{"pid", "tid"}[:nids] {
		tl.Fields = append(tl.Fields, storage.Field{Name: name, Value: storage.Int(ids[k])})
	}
	return lvl, afterLevel(s, end), true
}

// afterLevel skips the separators between a level ending at s[end] and the
// message: blanks, a colon, then a "-", "--" or "|" standing alone (Ruby's
// Logger writes "INFO -- : message").
func afterLevel(s string, end int) int {
	end = skipBlanks(s, end)
	if end < len(s) && s[end] == ':' {
		end = skipBlanks(s, end+1)
	}
	for range 2 {
		n := 0
		switch {
		case strings.HasPrefix(s[end:], "-- "):
			n = 2
		case end+1 < len(s) && (s[end] == '-' || s[end] == '|' || s[end] == ':') && s[end+1] == ' ':
			n = 1
		}
		if n == 0 {
			break
		}
		end = skipBlanks(s, end+n)
	}
	return end
}

func skipBlanks(s string, i int) int {
	for i < len(s) && (s[i] == ' ' || s[i] == '\t') {
		i++
	}
	return i
}

// levelToken reads a level written as [error], <warn>, [core:error],
// level=error, ERROR, ERROR:, Error:, logrus' ERRO[0001], or (where
// letters is set) a one-letter level. Lower- and title-case words count
// only after a timestamp or before a colon, and then only the plain names.
func levelToken(s string, i int, afterTime, letters bool) (storage.Level, int, bool) {
	if i >= len(s) {
		return 0, 0, false
	}
	if c := s[i]; c == '[' || c == '<' {
		closer := byte(']')
		if c == '<' {
			closer = '>'
		}
		j := strings.IndexByte(s[i+1:min(len(s), i+26)], closer)
		if j < 0 {
			return 0, 0, false
		}
		word := strings.TrimSpace(s[i+1 : i+1+j])
		if k := strings.LastIndexAny(word, ":/"); k >= 0 {
			word = word[k+1:] // Apache 2.4's [module:level], log4j's [thread/level]
		}
		if lvl, ok := levelByName(word); ok {
			return lvl, i + j + 2, true
		}
		return 0, 0, false
	}
	j := i
	upper := true
	for j < len(s) && isLetter(s[j]) {
		if s[j] >= 'a' {
			upper = false
		}
		j++
	}
	if j == i {
		return 0, 0, false
	}
	word := s[i:j]
	var next byte
	if j < len(s) {
		next = s[j]
	}
	switch next {
	case 0, ' ', '\t', ':', '|', ']', ',':
	case '=':
		return levelAssignment(s, i, j)
	case '[':
		if !upper {
			return 0, 0, false
		}
		// logrus' text format: INFO[0000] with seconds since start.
		if k := strings.IndexByte(s[j:min(len(s), j+16)], ']'); k > 0 {
			if lvl, ok := levelByName(word); ok {
				return lvl, j + k + 1, true
			}
		}
		return 0, 0, false
	default:
		return 0, 0, false
	}
	if len(word) == 1 {
		if letters && upper && next == ' ' {
			lvl, ok := letterLevel(word[0])
			return lvl, j, ok
		}
		return 0, 0, false
	}
	if upper {
		lvl, ok := levelByName(word)
		return lvl, j, ok
	}
	if afterTime || next == ':' {
		lvl, ok := coreLevelByName(word)
		return lvl, j, ok
	}
	return 0, 0, false
}

// levelAssignment reads level=error (or lvl, severity, loglevel), with the
// value bare or quoted.
func levelAssignment(s string, i, eq int) (storage.Level, int, bool) {
	switch strings.ToLower(s[i:eq]) {
	case "level", "lvl", "severity", "loglevel":
	default:
		return 0, 0, false
	}
	j := eq + 1
	var v string
	if j < len(s) && s[j] == '"' {
		k := strings.IndexByte(s[j+1:], '"')
		if k < 0 {
			return 0, 0, false
		}
		v = s[j+1 : j+1+k]
		j += k + 2
	} else {
		k := j
		for k < len(s) && s[k] != ' ' && s[k] != '\t' {
			k++
		}
		v, j = s[j:k], k
	}
	lvl, ok := ParseLevel(v)
	return lvl, j, ok
}
