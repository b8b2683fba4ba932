package ingest

import (
	"strconv"
	"strings"
	"time"

	"github.com/logengine/logengine/storage"
)

// ParseSyslog parses a syslog line with a <PRI> header, RFC 5424
// ("<165>1 2003-10-11T22:14:15.003Z host app procid msgid [sd] msg") or
// RFC 3164 ("<34>Oct 11 22:14:15 host app[123]: msg"). The PRI severity
// gives the level and the app-name the source; hostname, procid, msgid,
// facility and structured-data parameters (as "<sd-id>.<name>") become
// fields. It reports false when the line has no valid PRI.
func ParseSyslog(line string, now time.Time) (TextLine, bool) {
	return parseSyslog(clean(strings.TrimRight(line, "\r\n"), keepTab), now)
}

func parseSyslog(line string, now time.Time) (TextLine, bool) {
	pri, i, ok := parsePRI(line)
	if !ok {
		return TextLine{}, false
	}
	tl := TextLine{Level: syslogSeverity(pri & 7), HasLevel: true}
	tl.Fields = append(tl.Fields, storage.Field{Name: "facility", Value: storage.String(facilityName(pri >> 3))})
	rest := line[i:]
	if len(rest) >= 2 && rest[0] == '1' && rest[1] == ' ' {
		rfc5424(&tl, rest[2:])
	} else {
		rfc3164(&tl, rest, now)
	}
	if strings.TrimSpace(tl.Message) == "" {
		tl.Message = line
	}
	return tl, true
}

// parsePRI reads "<0>" … "<191>".
func parsePRI(s string) (pri, end int, ok bool) {
	if len(s) < 3 || s[0] != '<' {
		return 0, 0, false
	}
	i := 1
	for i < len(s) && i <= 3 && isDigit(s[i]) {
		pri = pri*10 + int(s[i]-'0')
		i++
	}
	if i == 1 || i >= len(s) || s[i] != '>' || pri > 191 || (s[1] == '0' && i > 2) {
		return 0, 0, false
	}
	return pri, i + 1, true
}

var facilities = [...]string{
	"kern", "user", "mail", "daemon", "auth", "syslog", "lpr", "news",
	"uucp", "cron", "authpriv", "ftp", "ntp", "security", "console", "solaris-cron",
	"local0", "local1", "local2", "local3", "local4", "local5", "local6", "local7",
}

func facilityName(f int) string {
	if f >= 0 && f < len(facilities) {
		return facilities[f]
	}
	return strconv.Itoa(f)
}

// rfc5424 parses what follows "<PRI>1 ".
func rfc5424(tl *TextLine, s string) {
	var stamp, host, app, procid, msgid string
	for _, p := range []*string{&stamp, &host, &app, &procid, &msgid} {
		var ok bool
		if *p, s, ok = strings.Cut(s, " "); !ok {
			*p = strings.TrimSpace(*p)
			break
		}
	}
	if stamp != "-" && stamp != "" {
		if t, n, ok := parseISO(stamp, false); ok && n == len(stamp) && storable(t) {
			tl.Time, tl.HasTime = t, true
		}
	}
	if host != "-" && host != "" {
		tl.Fields = append(tl.Fields, storage.Field{Name: "hostname", Value: storage.String(host)})
	}
	if app != "-" && app != "" {
		tl.Source = app
	}
	if procid != "-" && procid != "" {
		tl.Fields = append(tl.Fields, storage.Field{Name: "procid", Value: numberOrString(procid)})
	}
	if msgid != "-" && msgid != "" {
		tl.Fields = append(tl.Fields, storage.Field{Name: "msgid", Value: storage.String(msgid)})
	}
	switch {
	case strings.HasPrefix(s, "-"):
		s = s[1:]
	case strings.HasPrefix(s, "["):
		s = structuredData(tl, s)
	}
	s = strings.TrimPrefix(s, " ")
	s = strings.TrimPrefix(s, "\uFEFF") // RFC 5424 marks UTF-8 messages with a BOM
	tl.Message = s
}

// structuredData reads [id name="value" ...] elements into fields and
// returns what follows them.
func structuredData(tl *TextLine, s string) string {
	for len(s) > 0 && s[0] == '[' {
		i := 1
		for i < len(s) && s[i] != ' ' && s[i] != ']' {
			i++
		}
		id := s[1:i]
		for i < len(s) && s[i] == ' ' {
			j := i + 1
			for j < len(s) && s[j] != '=' && s[j] != ' ' && s[j] != ']' {
				j++
			}
			if j+1 >= len(s) || s[j] != '=' || s[j+1] != '"' {
				return s // malformed: leave it in the message
			}
			name := s[i+1 : j]
			var b strings.Builder
			k := j + 2
			for ; k < len(s) && s[k] != '"'; k++ {
				if s[k] == '\\' && k+1 < len(s) && (s[k+1] == '"' || s[k+1] == '\\' || s[k+1] == ']') {
					k++
				}
				b.WriteByte(s[k])
			}
			if k >= len(s) {
				return s
			}
			tl.Fields = append(tl.Fields, storage.Field{Name: id + "." + name, Value: storage.String(b.String())})
			i = k + 1
		}
		if i >= len(s) || s[i] != ']' {
			return s
		}
		s = s[i+1:]
	}
	return s
}

// rfc3164 parses what follows "<PRI>": a timestamp, a hostname and a tag
// (app[pid]:). Local senders often leave out the hostname, which is told by
// the first word already being the tag.
func rfc3164(tl *TextLine, s string, now time.Time) {
	if len(s) > 0 && isLetter(s[0]) {
		if t, n, ok := parseSyslogStamp(s, now); ok && storable(t) {
			tl.Time, tl.HasTime = t, true
			s = s[n:]
		}
	} else if t, n, ok := parseISO(s, false); ok && storable(t) {
		tl.Time, tl.HasTime = t, true
		s = s[n:]
	}
	s = strings.TrimLeft(s, " ")
	if !tl.HasTime {
		tl.Message = s
		return
	}
	word, after, _ := strings.Cut(s, " ")
	if app, pid, ok := syslogTag(word); ok {
		setTag(tl, app, pid)
		tl.Message = strings.TrimLeft(after, " ")
		return
	}
	if word != "" && word != "-" {
		tl.Fields = append(tl.Fields, storage.Field{Name: "hostname", Value: storage.String(word)})
	}
	word2, after2, _ := strings.Cut(after, " ")
	if app, pid, ok := syslogTag(word2); ok {
		setTag(tl, app, pid)
		tl.Message = strings.TrimLeft(after2, " ")
		return
	}
	tl.Message = after
}

func setTag(tl *TextLine, app, pid string) {
	tl.Source = app
	if pid != "" {
		tl.Fields = append(tl.Fields, storage.Field{Name: "procid", Value: numberOrString(pid)})
	}
}

// syslogTag reads "app:" or "app[pid]:".
func syslogTag(w string) (app, pid string, ok bool) {
	if len(w) < 2 || w[len(w)-1] != ':' {
		return "", "", false
	}
	w = w[:len(w)-1]
	if strings.HasSuffix(w, "]") {
		if i := strings.LastIndexByte(w, '['); i > 0 {
			return w[:i], w[i+1 : len(w)-1], true
		}
		return "", "", false
	}
	if strings.ContainsAny(w, "[]") {
		return "", "", false
	}
	return w, "", true
}

// numberOrString keeps ids that are numbers as integers, so queries such
// as procid:123 compare numbers.
func numberOrString(s string) storage.Value {
	if n, err := strconv.ParseInt(s, 10, 64); err == nil && s[0] != '+' && (s == "0" || s[0] != '0') {
		return storage.Int(n)
	}
	return storage.String(s)
}
