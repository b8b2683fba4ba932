package ingest

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/logengine/logengine/storage"
)

// redactHook replaces secrets in the message and string fields (or in one
// named field). Each built-in detector first checks for a cheap sign of its
// secret ('@', a long digit run, the word "bearer"), so clean messages cost
// a scan, not a regex.
type redactHook struct {
	field    string
	email    bool
	card     bool
	bearer   bool
	patterns []*regexp.Regexp
	repl     string
}

var (
	emailRE  = regexp.MustCompile(`[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,}`)
	bearerRE = regexp.MustCompile(`(?i)(\bbearer[ \t]+)[A-Za-z0-9\-._~+/]+=*`)
)

func compileRedact(at string, st *Step) (Hook, error) {
	h := &redactHook{field: st.Field, repl: st.Replacement}
	if h.repl == "" {
		h.repl = "[REDACTED]"
	}
	detect := st.Detect
	if len(detect) == 0 {
		detect = []string{"email", "card", "bearer"}
	}
	for i, d := range detect {
		switch strings.ToLower(d) {
		case "email":
			h.email = true
		case "card":
			h.card = true
		case "bearer":
			h.bearer = true
		case "none":
		default:
			return nil, fmt.Errorf("%s.detect[%d]: %q is not one of email, card, bearer, none", at, i, d)
		}
	}
	for i, p := range st.Patterns {
		re, err := regexp.Compile(p)
		if err != nil {
			return nil, fmt.Errorf("%s.patterns[%d]: %w", at, i, err)
		}
		h.patterns = append(h.patterns, re)
	}
	if !h.email && !h.card && !h.bearer && len(h.patterns) == 0 {
		return nil, fmt.Errorf("%s.detect: nothing to redact: name a detector or give patterns", at)
	}
	return h, nil
}

func (h *redactHook) Apply(e *storage.Entry) bool {
	switch h.field {
	case "", "message":
		e.Message = h.redact(e.Message)
		if h.field == "message" {
			return true
		}
	case "source":
		e.Source = h.redact(e.Source)
		return true
	}
	for i := range e.Fields {
		f := &e.Fields[i]
		if f.Value.Kind != storage.KindString || (h.field != "" && f.Name != h.field) {
			continue
		}
		f.Value.Str = h.redact(f.Value.Str)
	}
	return true
}

// redact returns s with every secret replaced.
func (h *redactHook) redact(s string) string {
	if h.email && strings.IndexByte(s, '@') >= 0 {
		s = emailRE.ReplaceAllLiteralString(s, h.repl)
	}
	if h.bearer && containsFold(s, "bearer") {
		s = bearerRE.ReplaceAllString(s, "${1}"+strings.ReplaceAll(h.repl, "$", "$$"))
	}
	if h.card {
		s = redactCards(s, h.repl)
	}
	for _, re := range h.patterns {
		s = re.ReplaceAllLiteralString(s, h.repl)
	}
	return s
}

// containsFold reports whether s contains the lower-case ASCII word w in
// any case, without allocating.
func containsFold(s, w string) bool {
	for i := 0; i+len(w) <= len(s); i++ {
		if s[i]|0x20 == w[0] && strings.EqualFold(s[i:i+len(w)], w) {
			return true
		}
	}
	return false
}

// redactCards replaces card numbers: 13 to 19 digits, optionally grouped by
// single spaces or dashes, starting with 2–6 (the ranges card networks use;
// this spares epoch timestamps, which start with 1) and passing the Luhn
// check. A run of digit groups longer than a card is tried at each group
// boundary, longest first.
func redactCards(s, repl string) string {
	var b strings.Builder
	last := 0
	for i := 0; i < len(s); i++ {
		if s[i] < '2' || s[i] > '6' || (i > 0 && (isDigit(s[i-1]) || isLetter(s[i-1]))) {
			continue
		}
		var digits [19]byte
		var ends [19]int // ends[k] = byte end of the run after k+1 digits at a group boundary
		nd, j := 0, i
		for j < len(s) {
			c := s[j]
			if isDigit(c) {
				if nd == len(digits) {
					break
				}
				digits[nd] = c
				nd++
				j++
				if j == len(s) || !isDigit(s[j]) {
					ends[nd-1] = j
				}
				continue
			}
			if (c == ' ' || c == '-') && j+1 < len(s) && isDigit(s[j+1]) && nd > 0 {
				j++
				continue
			}
			break
		}
		for k := nd; k >= 13; k-- {
			end := ends[k-1]
			if end == 0 || (end < len(s) && (isLetter(s[end]) || isDigit(s[end]))) || !luhn(digits[:k]) {
				continue
			}
			b.WriteString(s[last:i])
			b.WriteString(repl)
			last = end
			i = end - 1
			break
		}
	}
	if last == 0 {
		return s
	}
	b.WriteString(s[last:])
	return b.String()
}

// luhn reports whether the digits pass the Luhn checksum.
func luhn(digits []byte) bool {
	sum := 0
	double := false
	for i := len(digits) - 1; i >= 0; i-- {
		d := int(digits[i] - '0')
		if double {
			d *= 2
			if d > 9 {
				d -= 9
			}
		}
		sum += d
		double = !double
	}
	return sum%10 == 0
}
