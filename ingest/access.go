package ingest

import (
	"strings"

	"github.com/logengine/logengine/storage"
)

// ParseAccessLine parses an Apache/nginx access line in the common or
// combined format:
//
//	127.0.0.1 - frank [10/Oct/2000:13:55:36 -0700] "GET /a.gif HTTP/1.0" 200 2326 "http://ref/" "Mozilla/4.08"
//
// The timestamp comes from the brackets, the level from the status (≥ 500
// error, ≥ 400 warn, else info), and the fields are method, path, status,
// bytes, remote_addr, referer and user_agent (those that are present). The
// message is the whole line: it is what people search access logs for.
// It reports false when the line is not an access line.
func ParseAccessLine(line string) (TextLine, bool) {
	return parseAccessLine(clean(strings.TrimRight(line, "\r\n"), keepTab))
}

func parseAccessLine(line string) (TextLine, bool) {
	// remote_addr, ident and user, then the bracketed time.
	remote, rest, ok := strings.Cut(line, " ")
	if !ok || remote == "" || strings.ContainsAny(remote, "[\"") {
		return TextLine{}, false
	}
	_, rest, ok = strings.Cut(rest, " ") // ident
	if !ok {
		return TextLine{}, false
	}
	// The user may in theory contain spaces; the stamp starts at " [".
	i := strings.Index(rest, " [")
	if i < 0 || i > 256 {
		return TextLine{}, false
	}
	rest = rest[i+2:]
	t, n, ok := parseCLF(rest)
	if !ok || n >= len(rest) || rest[n] != ']' || !storable(t) {
		return TextLine{}, false
	}
	rest = rest[n+1:]
	if !strings.HasPrefix(rest, ` "`) {
		return TextLine{}, false
	}
	request, rest, ok := quoted(rest[1:])
	if !ok || len(rest) < 5 || rest[0] != ' ' {
		return TextLine{}, false
	}
	status, ok := atoiN(rest, 1, 3)
	if !ok || status < 100 || (len(rest) > 4 && rest[4] != ' ') {
		return TextLine{}, false
	}
	rest = rest[4:]

	tl := TextLine{Time: t, HasTime: true, HasLevel: true, Message: line}
	switch {
	case status >= 500:
		tl.Level = storage.LevelError
	case status >= 400:
		tl.Level = storage.LevelWarn
	default:
		tl.Level = storage.LevelInfo
	}
	fields := make([]storage.Field, 0, 7)
	if method, target, ok := strings.Cut(request, " "); ok && isMethod(method) {
		path, _, _ := strings.Cut(target, " ")
		fields = append(fields,
			storage.Field{Name: "method", Value: storage.String(method)},
			storage.Field{Name: "path", Value: storage.String(path)})
	}
	fields = append(fields, storage.Field{Name: "status", Value: storage.Int(int64(status))})
	if len(rest) > 1 && rest[0] == ' ' {
		j := 1
		for j < len(rest) && isDigit(rest[j]) {
			j++
		}
		if j > 1 && j-1 <= 18 && (j == len(rest) || rest[j] == ' ') {
			fields = append(fields, storage.Field{Name: "bytes", Value: numberOrString(rest[1:j])})
		}
		rest = rest[j:]
	}
	fields = append(fields, storage.Field{Name: "remote_addr", Value: storage.String(remote)})
	if strings.HasPrefix(rest, ` "`) {
		if referer, r, ok := quoted(rest[1:]); ok {
			if referer != "-" && referer != "" {
				fields = append(fields, storage.Field{Name: "referer", Value: storage.String(referer)})
			}
			if strings.HasPrefix(r, ` "`) {
				if ua, _, ok := quoted(r[1:]); ok && ua != "-" && ua != "" {
					fields = append(fields, storage.Field{Name: "user_agent", Value: storage.String(ua)})
				}
			}
		}
	}
	tl.Fields = fields
	return tl, true
}

// quoted reads a double-quoted string at s[0] in which \" and \\ are
// escaped, as Apache and nginx write them.
func quoted(s string) (v, rest string, ok bool) {
	if s == "" || s[0] != '"' {
		return "", s, false
	}
	escaped := false
	for i := 1; i < len(s); i++ {
		switch c := s[i]; {
		case c == '\\':
			escaped = true
			i++
		case c == '"':
			v = s[1:i]
			if escaped {
				v = strings.NewReplacer(`\"`, `"`, `\\`, `\`).Replace(v)
			}
			return v, s[i+1:], true
		}
	}
	return "", s, false
}

func isMethod(s string) bool {
	if s == "" || len(s) > 16 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 'A' || s[i] > 'Z' {
			return false
		}
	}
	return true
}
