package ingest

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/logengine/logengine/patterns"
	"github.com/logengine/logengine/storage"
)

// The aliases of the entry's own fields, in order of precedence within each
// role: the canonical name first.
const (
	aTimestamp = iota
	aTime
	aTs
	aAtTimestamp
	aUnderTime
	aLevel
	aLvl
	aSeverity
	aLoglevel
	aSource
	aService
	aApp
	aLogger
	aMessage
	aMsg
	aLog
	aUnderMsg
	numAliases
)

var aliasNames = [numAliases]string{
	"timestamp", "time", "ts", "@timestamp", "_time",
	"level", "lvl", "severity", "loglevel",
	"source", "service", "app", "logger",
	"message", "msg", "log", "_msg",
}

// roles lists the first and one-past-last alias of each role.
var (
	roleTimestamp = [2]int{aTimestamp, aLevel}
	roleLevel     = [2]int{aLevel, aSource}
	roleSource    = [2]int{aSource, aMessage}
	roleMessage   = [2]int{aMessage, numAliases}
)

func aliasOf(key string) int {
	switch key {
	case "timestamp":
		return aTimestamp
	case "time":
		return aTime
	case "ts":
		return aTs
	case "@timestamp":
		return aAtTimestamp
	case "_time":
		return aUnderTime
	case "level":
		return aLevel
	case "lvl":
		return aLvl
	case "severity":
		return aSeverity
	case "loglevel":
		return aLoglevel
	case "source":
		return aSource
	case "service":
		return aService
	case "app":
		return aApp
	case "logger":
		return aLogger
	case "message":
		return aMessage
	case "msg":
		return aMsg
	case "log":
		return aLog
	case "_msg":
		return aUnderMsg
	}
	return -1
}

func isCanonical(a int) bool {
	return a == aTimestamp || a == aLevel || a == aSource || a == aMessage
}

// jval is a scalar JSON value as read, before it is given a meaning.
type jval struct {
	kind    byte   // '"' string, '0' number, 't' true, 'f' false
	s       string // decoded string, or the number's text
	isFloat bool
	special bool // string that may need cleaning
}

func (v jval) text() string {
	switch v.kind {
	case 't':
		return "true"
	case 'f':
		return "false"
	}
	return v.s
}

// describe renders the value for an error message.
func (v jval) describe() string {
	if v.kind == '"' {
		return strconv.Quote(shorten(v.s))
	}
	return v.text()
}

// maxNesting is how deep objects are flattened into dotted field names;
// anything deeper is kept as JSON text in one field.
const maxNesting = 16

// decoder turns records into entries. It holds the scratch space of one
// decode call and hands out the entries' Fields and Tags from chunks it
// allocates, so a batch makes a few allocations for them in all rather than
// one per entry. Each entry gets a capacity-clipped slice, so appending to
// one never writes into another.
type decoder struct {
	lim Limits
	def Defaults
	now time.Time

	sc      scanner
	err     error // first error of the current record, other than syntax
	fields  []storage.Field
	tags    []string
	slots   [numAliases]jval
	present uint32
	tagsSet bool
	// entryForm is set by a "fields" object: the entry is written as
	// search answers and exports write it, whose top-level id and
	// severity are the entry's own, not client fields (see finish).
	entryForm bool
	topID     jval
	topIDSet  bool
	// topPattern is a top-level "pattern" string: in the entry form, the
	// template id an export wrote, which the importing daemon mines anew.
	topPattern    jval
	topPatternSet bool

	fieldChunk []storage.Field
	tagChunk   []string
	// parseJSON reads a timestamp and level at the start of a JSON
	// entry's message, as ParseMessage does for the protocols.
	parseJSON bool
}

func newDecoder(d Defaults, l Limits) *decoder {
	return &decoder{lim: l.withDefaults(), def: d.cleaned(), now: d.now()}
}

// cleaned returns the defaults with the same cleaning entries get: they
// come from query parameters, which can hold anything.
func (d Defaults) cleaned() Defaults {
	d.Source = clean(strings.TrimSpace(d.Source), singleLine)
	for _, t := range d.Tags {
		if c := clean(strings.TrimSpace(t), singleLine); c != t || c == "" {
			tags := make([]string, 0, len(d.Tags))
			for _, t := range d.Tags {
				if c := clean(strings.TrimSpace(t), singleLine); c != "" && !slices.Contains(tags, c) {
					tags = append(tags, c)
				}
			}
			d.Tags = tags
			break
		}
	}
	return d
}

// fail records the first error of the record.
func (dc *decoder) fail(err error) {
	if dc.err == nil {
		dc.err = err
	}
}

// jsonEntry decodes one JSON object into an entry.
func (dc *decoder) jsonEntry(line string) (storage.Entry, error) {
	dc.err = nil
	dc.fields = dc.fields[:0]
	dc.tags = dc.tags[:0]
	dc.present = 0
	dc.tagsSet = false
	dc.entryForm = false
	dc.topIDSet = false
	dc.topPatternSet = false
	sc := &dc.sc
	sc.reset(line)
	sc.ws()

	if sc.peek() != '{' {
		start := sc.i
		sc.skip()
		if sc.err == nil {
			dc.trailing()
		}
		if sc.err != nil {
			return storage.Entry{}, lineError(sc.err)
		}
		return storage.Entry{}, fmt.Errorf("entry must be a JSON object, not %s", kindName(line[start]))
	}
	sc.i++
	sc.ws()
	if sc.peek() == '}' {
		sc.i++
	} else {
		for {
			key := sc.key()
			if sc.err != nil {
				break
			}
			dc.topMember(key)
			sc.ws()
			if c := sc.peek(); c == ',' {
				sc.i++
				sc.ws()
				continue
			} else if c == '}' {
				sc.i++
				break
			}
			if sc.i >= len(sc.s) {
				sc.fail(sc.i, "unexpected end of JSON, expected ',' or '}'")
			} else {
				sc.fail(sc.i, "unexpected "+describeByte(sc.s[sc.i])+", expected ',' or '}'")
			}
			break
		}
	}
	if sc.err == nil {
		dc.trailing()
	}
	if sc.err != nil {
		return storage.Entry{}, lineError(sc.err)
	}
	if dc.err != nil {
		return storage.Entry{}, dc.err
	}
	return dc.finish()
}

// trailing checks that nothing but whitespace follows the record.
func (dc *decoder) trailing() {
	sc := &dc.sc
	sc.ws()
	if sc.i < len(sc.s) {
		sc.fail(sc.i, "unexpected "+describeByte(sc.s[sc.i])+" after the entry: send one entry per line")
	}
}

func kindName(c byte) string {
	switch c {
	case '[':
		return "an array"
	case '{':
		return "an object"
	case '"':
		return "a string"
	case 't', 'f':
		return "a boolean"
	case 'n':
		return "null"
	}
	return "a number"
}

// topMember handles one member of the entry object.
func (dc *decoder) topMember(key string) {
	sc := &dc.sc
	a := aliasOf(key)
	switch {
	case a >= 0:
		switch c := sc.peek(); c {
		case '{', '[':
			if isCanonical(a) {
				dc.fail(fmt.Errorf("%s must be a %s, not %s", key, aliasKind(a), kindName(c)))
				sc.skip()
				return
			}
			// A non-canonical alias holding structure is a field, as in
			// {"log": {"file": ...}}.
			dc.value(key, 0)
		default:
			v, ok := dc.scalar()
			if ok {
				dc.slots[a] = v
				dc.present |= 1 << a
			}
		}
	case key == "tags":
		dc.readTags()
	case key == "id" && sc.peek() == '"':
		if v, ok := dc.scalar(); ok {
			dc.topID, dc.topIDSet = v, true
		}
	case key == "pattern" && sc.peek() == '"':
		if v, ok := dc.scalar(); ok {
			dc.topPattern, dc.topPatternSet = v, true
		}
	case key == "fields":
		switch c := sc.peek(); c {
		case '{':
			dc.entryForm = true
			sc.i++
			dc.object("", 1)
		case 'n':
			sc.literal("null")
		default:
			dc.fail(fmt.Errorf("fields must be an object of names to values, not %s", kindName(c)))
			sc.skip()
		}
	default:
		dc.value(key, 0)
	}
}

func aliasKind(a int) string {
	switch a {
	case aTimestamp:
		return "string (RFC 3339) or a number (epoch)"
	case aLevel:
		return "string or a number"
	}
	return "string"
}

// scalar reads a string, number or boolean; ok is false for null (or a
// syntax error).
func (dc *decoder) scalar() (jval, bool) {
	sc := &dc.sc
	switch c := sc.peek(); c {
	case '"':
		s, special := sc.str()
		return jval{kind: '"', s: s, special: special}, sc.err == nil
	case 't':
		sc.literal("true")
		return jval{kind: 't'}, sc.err == nil
	case 'f':
		sc.literal("false")
		return jval{kind: 'f'}, sc.err == nil
	case 'n':
		sc.literal("null")
		return jval{}, false
	default:
		if c != '-' && !isDigit(c) {
			if sc.i >= len(sc.s) {
				sc.fail(sc.i, "unexpected end of JSON, expected a value")
			} else {
				sc.fail(sc.i, "unexpected "+describeByte(c)+", expected a value")
			}
			return jval{}, false
		}
		raw, isFloat := sc.number()
		return jval{kind: '0', s: raw, isFloat: isFloat}, sc.err == nil
	}
}

// value reads any value into the field name: objects are flattened into
// dotted names, arrays kept as JSON text, null dropped.
func (dc *decoder) value(name string, depth int) {
	sc := &dc.sc
	switch sc.peek() {
	case '{':
		if depth >= maxNesting {
			dc.addField(name, storage.String(compactJSON(sc.skip())), true)
			return
		}
		sc.i++
		dc.object(name+".", depth+1)
	case '[':
		dc.addField(name, storage.String(compactJSON(sc.skip())), true)
	default:
		v, ok := dc.scalar()
		if ok {
			dc.addField(name, v.value(), v.special)
		}
	}
}

// object reads the members of an object whose '{' has been read, prefixing
// their names.
func (dc *decoder) object(prefix string, depth int) {
	sc := &dc.sc
	sc.ws()
	if sc.peek() == '}' {
		sc.i++
		return
	}
	for {
		key := sc.key()
		if sc.err != nil {
			return
		}
		name := key
		if prefix != "" {
			name = prefix + key
		}
		dc.value(name, depth)
		sc.ws()
		switch c := sc.peek(); c {
		case ',':
			sc.i++
			sc.ws()
			continue
		case '}':
			sc.i++
			return
		default:
			if sc.i >= len(sc.s) {
				sc.fail(sc.i, "unexpected end of JSON, expected ',' or '}'")
			} else {
				sc.fail(sc.i, "unexpected "+describeByte(c)+", expected ',' or '}'")
			}
			return
		}
	}
}

// value converts a scalar into a typed field value. Integers that do not
// fit int64 become floats, like in JavaScript; numbers beyond float64 keep
// their text.
func (v jval) value() storage.Value {
	switch v.kind {
	case 't':
		return storage.Bool(true)
	case 'f':
		return storage.Bool(false)
	case '0':
		if !v.isFloat {
			if n, err := strconv.ParseInt(v.s, 10, 64); err == nil {
				return storage.Int(n)
			}
		}
		if f, err := strconv.ParseFloat(v.s, 64); err == nil {
			return storage.Float(f)
		}
		return storage.String(v.s)
	}
	return storage.String(v.s)
}

// readTags reads "tags": an array of strings or one comma-separated string.
func (dc *decoder) readTags() {
	sc := &dc.sc
	dc.tags = dc.tags[:0] // a repeated key replaces the earlier one
	switch c := sc.peek(); c {
	case '"':
		s, _ := sc.str()
		for s != "" {
			var t string
			t, s, _ = strings.Cut(s, ",")
			dc.addTag(t)
		}
	case '[':
		sc.i++
		sc.ws()
		if sc.peek() == ']' {
			sc.i++
			break
		}
		for n := 0; ; n++ {
			if sc.peek() == '"' {
				s, _ := sc.str()
				dc.addTag(s)
			} else if c := sc.peek(); c == 'n' {
				sc.literal("null")
			} else {
				dc.fail(fmt.Errorf("tags[%d] must be a string, not %s", n, kindName(c)))
				sc.skip()
			}
			sc.ws()
			if c := sc.peek(); c == ',' {
				sc.i++
				sc.ws()
				continue
			} else if c == ']' {
				sc.i++
				break
			}
			if sc.i >= len(sc.s) {
				sc.fail(sc.i, "unexpected end of JSON, expected ',' or ']'")
			} else {
				sc.fail(sc.i, "unexpected "+describeByte(sc.s[sc.i])+", expected ',' or ']'")
			}
			return
		}
	case 'n':
		sc.literal("null")
		return
	default:
		dc.fail(fmt.Errorf("tags must be an array of strings or a comma-separated string, not %s", kindName(c)))
		sc.skip()
	}
	dc.tagsSet = true
}

// addTag adds one tag, trimmed and cleaned; empty and repeated tags are
// dropped.
func (dc *decoder) addTag(t string) {
	t = clean(strings.TrimSpace(t), singleLine)
	if t == "" {
		return
	}
	for _, have := range dc.tags {
		if have == t {
			return
		}
	}
	if len(t) > dc.lim.MaxValueBytes {
		dc.fail(limitErrorf("tag %q is %d bytes, the limit is %d", shorten(t), len(t), dc.lim.MaxValueBytes))
		return
	}
	if len(dc.tags) >= dc.lim.MaxTags {
		dc.fail(limitErrorf("more than %d tags: send fewer", dc.lim.MaxTags))
		return
	}
	dc.tags = append(dc.tags, t)
}

// addField adds or replaces a field. special says the value may need
// cleaning.
func (dc *decoder) addField(name string, v storage.Value, special bool) {
	if dc.err != nil {
		return // the record is rejected anyway
	}
	if name == "" {
		dc.fail(errors.New("a field name is empty: name every field"))
		return
	}
	// Cleaning replaces each bad byte with a three-byte U+FFFD, so limits
	// are checked on what would be stored.
	name = clean(name, singleLine)
	if len(name) > dc.lim.MaxFieldNameBytes {
		dc.fail(limitErrorf("field name %q is %d bytes, the limit is %d", shorten(name), len(name), dc.lim.MaxFieldNameBytes))
		return
	}
	if v.Kind == storage.KindString {
		if special {
			v.Str = clean(v.Str, keepNewline)
		}
		if len(v.Str) > dc.lim.MaxValueBytes {
			dc.fail(limitErrorf("field %q is %d bytes, the limit is %d", shorten(name), len(v.Str), dc.lim.MaxValueBytes))
			return
		}
	}
	for i := range dc.fields {
		if dc.fields[i].Name == name {
			dc.fields[i].Value = v
			return
		}
	}
	if len(dc.fields) >= dc.lim.MaxFields {
		dc.fail(limitErrorf("more than %d fields: send fewer", dc.lim.MaxFields))
		return
	}
	dc.fields = append(dc.fields, storage.Field{Name: name, Value: v})
}

// winner returns the alias of the role that was sent with the highest
// precedence, or -1.
func (dc *decoder) winner(role [2]int) int {
	for a := role[0]; a < role[1]; a++ {
		if dc.present&(1<<a) != 0 {
			return a
		}
	}
	return -1
}

// finish gives the collected values their meaning and builds the entry.
func (dc *decoder) finish() (storage.Entry, error) {
	e := storage.Entry{Time: dc.now, Level: storage.LevelInfo}

	m := dc.winner(roleMessage)
	if m < 0 {
		return e, errMessageMissing
	}
	e.Message = dc.message(dc.slots[m])
	if e.Message == "" {
		return e, errMessageEmpty
	}

	if a := dc.winner(roleTimestamp); a >= 0 {
		t, err := jsonTimestamp(dc.slots[a])
		if err != nil {
			return e, err
		}
		e.Time = t
	}

	if a := dc.winner(roleLevel); a >= 0 {
		v := dc.slots[a]
		if l, ok := jsonLevel(v); ok {
			e.Level = l
		} else if v.kind != '"' || strings.TrimSpace(v.s) != "" {
			// Unknown: keep what was sent, so nothing is lost and a
			// pipeline step can map it.
			dc.addField("level_raw", v.value(), v.special)
		}
	}

	e.Source = dc.def.source()
	if a := dc.winner(roleSource); a >= 0 {
		v := dc.slots[a]
		s := strings.TrimSpace(v.text())
		if v.special {
			s = clean(s, singleLine)
		}
		if len(s) > dc.lim.MaxValueBytes {
			return e, limitErrorf("source is %d bytes, the limit is %d", len(s), dc.lim.MaxValueBytes)
		}
		if s != "" {
			e.Source = s
		}
	}

	// Aliases that lost to one of higher precedence stay fields, but for
	// the severity number of an entry in the entry form when it says the
	// level again: an export imports back to the same entries.
	for _, role := range [...][2]int{roleTimestamp, roleLevel, roleSource, roleMessage} {
		w := dc.winner(role)
		for a := w + 1; a < role[1] && w >= 0; a++ {
			if dc.present&(1<<a) == 0 {
				continue
			}
			if a == aSeverity && dc.entryForm && dc.slots[a].kind != '"' {
				if l, ok := jsonLevel(dc.slots[a]); ok && l == e.Level {
					continue
				}
			}
			dc.addField(aliasNames[a], dc.slots[a].value(), dc.slots[a].special)
		}
	}
	// A top-level id is a client field, but for the entry's own id in the
	// entry form: the importing store gives the entry a new one.
	if dc.topIDSet {
		if _, err := storage.ParseID(dc.topID.s); !dc.entryForm || err != nil {
			dc.addField("id", dc.topID.value(), dc.topID.special)
		}
	}
	// Likewise the template id of an exported entry: ids are the exporting
	// daemon's, and this one gives the entry its own.
	if dc.topPatternSet {
		if _, err := patterns.ParseID(dc.topPattern.s); !dc.entryForm || err != nil {
			dc.addField("pattern", dc.topPattern.value(), dc.topPattern.special)
		}
	}
	if dc.parseJSON {
		dc.parseMessage(&e, dc.winner(roleSource) >= 0)
	}
	if dc.err != nil {
		return e, dc.err
	}

	if dc.tagsSet {
		e.Tags = dc.keepTags()
	} else if len(dc.def.Tags) > 0 {
		e.Tags = dc.def.Tags[:len(dc.def.Tags):len(dc.def.Tags)]
	}
	e.Fields = dc.keepFields()
	if err := e.Validate(); err != nil {
		return storage.Entry{}, err
	}
	return e, nil
}

// message turns the message value into text. Trailing line breaks are
// dropped: Docker's json-file driver and many writers end every message
// with one.
func (dc *decoder) message(v jval) string {
	s := v.text()
	s = strings.TrimRight(s, "\r\n")
	if v.special {
		s = clean(s, keepNewline)
	}
	if strings.TrimSpace(s) == "" {
		return ""
	}
	return s
}

// jsonTimestamp interprets a timestamp value.
func jsonTimestamp(v jval) (time.Time, error) {
	switch v.kind {
	case '"':
		return parseTimestampString(strings.TrimSpace(v.s))
	case '0':
		if t, ok := parseEpoch(v.s); ok {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("timestamp %s is not RFC 3339 or epoch seconds/ms/µs/ns", v.describe())
}

// jsonLevel interprets a level value.
func jsonLevel(v jval) (storage.Level, bool) {
	switch v.kind {
	case '"':
		return ParseLevel(strings.TrimSpace(v.s))
	case '0':
		if v.isFloat {
			return 0, false
		}
		n, err := strconv.ParseInt(v.s, 10, 64)
		if err != nil {
			return 0, false
		}
		return LevelFromNumber(n)
	}
	return 0, false
}

// keepFields moves the scratch fields into the current chunk.
func (dc *decoder) keepFields() []storage.Field {
	n := len(dc.fields)
	if n == 0 {
		return nil
	}
	if cap(dc.fieldChunk)-len(dc.fieldChunk) < n {
		dc.fieldChunk = make([]storage.Field, 0, max(n, 256))
	}
	start := len(dc.fieldChunk)
	dc.fieldChunk = append(dc.fieldChunk, dc.fields...)
	return dc.fieldChunk[start : start+n : start+n]
}

// keepTags moves the scratch tags into the current chunk.
func (dc *decoder) keepTags() []string {
	n := len(dc.tags)
	if n == 0 {
		return []string{}
	}
	if cap(dc.tagChunk)-len(dc.tagChunk) < n {
		dc.tagChunk = make([]string, 0, max(n, 256))
	}
	start := len(dc.tagChunk)
	dc.tagChunk = append(dc.tagChunk, dc.tags...)
	return dc.tagChunk[start : start+n : start+n]
}
