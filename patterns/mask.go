package patterns

import "strings"

// Wildcard marks a variable part of a template. A message that holds the
// literal text "<*>" in a token matches a wildcard there, which is what a
// reader of the template would expect.
const Wildcard = "<*>"

// masker turns a message into its masked form: the tokens (split on
// whitespace) with every part that looks variable replaced by Wildcard,
// joined by single spaces. It writes into buffers it reuses, so that a
// message of a known template is looked up without allocating.
type masker struct {
	// key is the masked form of the last message.
	key []byte
	// ends holds, for each token of key, the offset just past its end.
	ends []int
}

// isSpace reports the bytes that separate tokens. Only ASCII white space:
// messages are split the same way whatever their encoding.
func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'
}

// isDelim reports the punctuation that separates the parts of a token that
// are masked one by one: "uid=0," keeps "uid", "=" and "," and masks "0",
// "[10.0.0.1]" keeps its brackets, "host:port" keeps its colon. The dot,
// slash, dash and underscore are not delimiters: they hold together the
// addresses, paths, versions and identifiers a log varies in.
func isDelim(c byte) bool {
	switch c {
	case '=', ':', ',', ';', '(', ')', '[', ']', '{', '}', '"', '\'', '|', '<', '>':
		return true
	}
	return false
}

// mask computes the masked form of msg into m.key and m.ends. Past
// maxTokens tokens, the rest of the message is one more wildcard token.
func (m *masker) mask(msg string, maxTokens int) {
	m.key = m.key[:0]
	m.ends = m.ends[:0]
	afterValue := false
	i := 0
	for {
		for i < len(msg) && isSpace(msg[i]) {
			i++
		}
		if i == len(msg) {
			return
		}
		if len(m.ends) > 0 {
			m.key = append(m.key, ' ')
		}
		if len(m.ends) == maxTokens {
			m.key = append(m.key, Wildcard...)
			m.ends = append(m.ends, len(m.key))
			return
		}
		start := len(m.key)
		i = m.token(msg, i, afterValue)
		isValue := string(m.key[start:]) == Wildcard
		if isValue && afterValue {
			// A run of values is one value: a list of ids, a date
			// and its time, a number and its unit. Its length varies
			// from one log of a statement to the next.
			m.key = m.key[:start-1]
			continue
		}
		afterValue = isValue
		m.ends = append(m.ends, len(m.key))
	}
}

// token masks the token of msg that starts at i and returns the offset
// just past it.
func (m *masker) token(msg string, i int, afterValue bool) int {
	start := i // of the current part
	var prev byte
	first := true
	for i < len(msg) && !isSpace(msg[i]) {
		c := msg[i]
		if !isDelim(c) {
			i++
			continue
		}
		m.part(msg[start:i], prev, first && afterValue)
		first = false
		// A quoted value of a key is one variable, spaces included:
		// tag="View Lock". Its words vary in number, which would
		// otherwise split one template into several. Other quoted text
		// is masked part by part: in "GET /a/1 HTTP/1.1" the method is
		// a word of the template.
		if (c == '"' || c == '\'') && i == start && prev == '=' && i+1 < len(msg) {
			if q := quoteEnd(msg, i+1, c); q > 0 && q > i+1 {
				m.key = append(m.key, c)
				m.key = append(m.key, Wildcard...)
				m.key = append(m.key, c)
				i = q + 1
				start = i
				prev = c
				continue
			}
		}
		m.key = append(m.key, c)
		prev = c
		i++
		start = i
	}
	m.part(msg[start:i], prev, first && afterValue)
	return i
}

// quoteEnd returns the offset of the quote q that closes a value opened
// just before from, or -1. The closing quote must end a token or be
// followed by punctuation, so that an apostrophe inside prose ("don't")
// does not swallow the rest of the line, and the value must be short.
func quoteEnd(msg string, from int, q byte) int {
	const maxQuoted = 256
	for j := from; j < len(msg) && j-from <= maxQuoted; j++ {
		if msg[j] != q {
			continue
		}
		if j+1 == len(msg) || isSpace(msg[j+1]) || isDelim(msg[j+1]) || msg[j+1] == '.' {
			return j
		}
		return -1
	}
	return -1
}

// part appends the masked form of one part of a token, prev being the
// delimiter just before it (0 at the start of the token). afterNumber
// tells that the part starts a token that follows a value, where a unit
// is part of that value.
func (m *masker) part(p string, prev byte, afterValue bool) {
	if variable(p, prev) || afterValue && unit(p) {
		m.key = append(m.key, Wildcard...)
	} else {
		m.key = append(m.key, p...)
	}
}

// variable reports whether a part of a token is a value rather than a
// word of the message's text. The classes follow from what varies
// between two logs of one statement:
//   - anything holding a digit: numbers, sizes, durations (10ms), dates,
//     times, addresses, ports, versions, UUIDs, hex ids, numbered names
//     (blk_123, worker-7), since a word with a digit is almost never prose;
//   - dotted names: hosts, Java classes and packages, file names;
//   - the names of months and week days, which are parts of dates;
//   - absolute paths and URLs (a slash first, another further on);
//   - long runs of hex digits without a decimal one (hashes, ids).
//
// The value of key=value is split from its key by the '=' and classed on
// its own; a value that is a plain word (user=root, state=LEADING) is left
// to the miner, which tells a word that takes a few values from one that
// takes many. Measured on the Loghub samples, masking every value of a key
// loses more than it gains.
func variable(p string, prev byte) bool {
	if p == "" {
		return false
	}
	hex := 0
	slashes := 0
	for i := 0; i < len(p); i++ {
		c := p[i]
		switch {
		case c >= '0' && c <= '9':
			return true
		case c >= 'a' && c <= 'f', c >= 'A' && c <= 'F':
			hex++
		case c == '/':
			slashes++
		}
	}
	if p[0] == '/' && slashes >= 2 {
		return true
	}
	if dottedName(p) {
		return true
	}
	if len(p) >= 12 && hex == len(p) {
		return true
	}
	return calendarWord(p)
}

// dottedName reports a name made of dotted parts: a host name, a Java
// class or package, a file name with its extension. A dot that only ends
// the part ("done.", "available...") is punctuation.
func dottedName(p string) bool {
	for i := 1; i+1 < len(p); i++ {
		if p[i] == '.' && isAlnum(p[i-1]) && isAlnum(p[i+1]) {
			return true
		}
	}
	return false
}

func isAlnum(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '$'
}

// unit reports the units of sizes, durations and rates that follow a
// number: "12.5 KB", "300 ms". The size of a block varies in its unit as
// much as in its number.
func unit(p string) bool {
	if len(p) > 4 {
		return false
	}
	for _, u := range units {
		if strings.EqualFold(p, u) {
			return true
		}
	}
	return false
}

var units = []string{
	"b", "kb", "mb", "gb", "tb", "pb", "kib", "mib", "gib", "tib",
	"ns", "us", "µs", "ms", "s", "sec", "secs", "min", "mins", "h", "%",
}

// calendarWord reports the names of months and week days, in the forms
// timestamps print them: they are parts of a date, which is a value.
func calendarWord(p string) bool {
	if len(p) < 3 || len(p) > 9 || p[0] < 'A' || p[0] > 'Z' {
		return false
	}
	switch p {
	case "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Sept", "Oct", "Nov", "Dec",
		"January", "February", "March", "April", "June", "July", "August", "September", "October", "November", "December",
		"Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun",
		"Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday":
		return true
	}
	return false
}
