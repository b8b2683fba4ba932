package ingest

import (
	"strconv"
	"strings"

	"github.com/logengine/logengine/storage"
)

// parseLogfmtLine reads a line made only of key=value pairs that carries a
// message key (msg or message), as Go's slog, logrus and many others write
// them: time=... level=INFO msg="request done" status=200. The pairs map
// onto the entry like the keys of a JSON entry (same aliases, the canonical
// name wins); the other pairs become fields, bare values typed as integer,
// float or boolean when they read as one. A line without a message key is
// left to the plain text rules.
func parseLogfmtLine(line string) (TextLine, bool) {
	if !isKeyStart(line[0]) {
		return TextLine{}, false
	}
	type pair struct {
		key, value string
		quoted     bool
	}
	var pairsBuf [16]pair
	pairs := pairsBuf[:0]
	var aliasAt [numAliases]int8 // index+1 of the pair of each alias
	hasMessage := false
	s := line
	for {
		s = strings.TrimLeft(s, " \t")
		if s == "" {
			break
		}
		i := 0
		for i < len(s) && isKeyByte(s[i]) {
			i++
		}
		if i == 0 || i >= len(s) || s[i] != '=' || !isKeyStart(s[0]) {
			return TextLine{}, false
		}
		p := pair{key: s[:i]}
		s = s[i+1:]
		if s != "" && s[0] == '"' {
			v, rest, ok := logfmtQuoted(s)
			if !ok {
				return TextLine{}, false
			}
			p.value, p.quoted, s = v, true, rest
			if s != "" && s[0] != ' ' && s[0] != '\t' {
				return TextLine{}, false
			}
		} else {
			j := 0
			for j < len(s) && s[j] != ' ' && s[j] != '\t' {
				if s[j] == '"' || s[j] == '=' {
					return TextLine{}, false
				}
				j++
			}
			p.value, s = s[:j], s[j:]
		}
		if a := aliasOf(p.key); a >= 0 && len(pairs) < 127 {
			aliasAt[a] = int8(len(pairs) + 1)
			hasMessage = hasMessage || (a >= aMessage && p.value != "")
		}
		pairs = append(pairs, p)
	}
	if !hasMessage {
		return TextLine{}, false
	}

	var tl TextLine
	used := make([]bool, len(pairs))
	winner := func(role [2]int) int {
		for a := role[0]; a < role[1]; a++ {
			if k := aliasAt[a]; k > 0 {
				return int(k - 1)
			}
		}
		return -1
	}
	if k := winner(roleMessage); k >= 0 {
		tl.Message, used[k] = pairs[k].value, true
	}
	if k := winner(roleTimestamp); k >= 0 {
		if t, err := parseTimestampString(pairs[k].value); err == nil && storable(t) {
			tl.Time, tl.HasTime, used[k] = t, true, true
		}
	}
	if k := winner(roleLevel); k >= 0 {
		used[k] = true
		if l, ok := ParseLevel(pairs[k].value); ok {
			tl.Level, tl.HasLevel = l, true
		} else if pairs[k].value != "" {
			tl.Fields = append(tl.Fields, storage.Field{Name: "level_raw", Value: storage.String(pairs[k].value)})
		}
	}
	if k := winner(roleSource); k >= 0 {
		tl.Source, used[k] = pairs[k].value, true
	}
	for k, p := range pairs {
		if used[k] {
			continue
		}
		v := storage.String(p.value)
		if !p.quoted {
			v = inferValue(p.value)
		}
		tl.Fields = append(tl.Fields, storage.Field{Name: p.key, Value: v})
	}
	return tl, true
}

func isKeyStart(c byte) bool { return isLetter(c) || c == '_' || c == '@' }

func isKeyByte(c byte) bool {
	return isLetter(c) || isDigit(c) || c == '_' || c == '.' || c == '-' || c == '@' || c == '/'
}

// logfmtQuoted reads a Go-quoted value ("a \"b\""), as slog writes it.
func logfmtQuoted(s string) (v, rest string, ok bool) {
	escaped := false
	for i := 1; i < len(s); i++ {
		switch s[i] {
		case '\\':
			escaped = true
			i++
		case '"':
			if !escaped {
				return s[1:i], s[i+1:], true
			}
			u, err := strconv.Unquote(s[:i+1])
			if err != nil {
				return s[1:i], s[i+1:], true // keep the text as written
			}
			return clean(u, keepTab), s[i+1:], true
		}
	}
	return "", "", false
}

// inferValue types a bare text value: integers and floats as numbers,
// true/false as booleans. Integers with leading zeros (ids, zip codes)
// stay strings.
func inferValue(s string) storage.Value {
	switch s {
	case "":
		return storage.String(s)
	case "true":
		return storage.Bool(true)
	case "false":
		return storage.Bool(false)
	}
	c := s[0]
	if !isDigit(c) && c != '-' {
		return storage.String(s)
	}
	digits := strings.TrimPrefix(s, "-")
	if len(digits) > 1 && digits[0] == '0' && digits[1] != '.' {
		return storage.String(s)
	}
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		return storage.Int(n)
	}
	if end, isFloat, err := skipNumber(s, 0); err == nil && end == len(s) && isFloat {
		if f, err := strconv.ParseFloat(s, 64); err == nil {
			return storage.Float(f)
		}
	}
	return storage.String(s)
}
