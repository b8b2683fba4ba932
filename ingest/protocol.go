package ingest

import (
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/logengine/logengine/storage"
)

// The protocols of other log systems (Elasticsearch bulk, Loki push,
// OpenTelemetry, syslog) each decode their records into a record and the
// decoder's scratch fields, and protoEntry turns those into an entry with
// the same cleaning, limits and validation as the native formats.

// record is what a protocol says about one log besides its fields.
type record struct {
	msg      string
	time     time.Time // valid when hasTime
	hasTime  bool
	level    storage.Level // valid when hasLevel
	hasLevel bool
	// source is the log's own source; empty takes the request's default.
	source string
	// parse reads a timestamp and level at the start of msg (see
	// ParseMessage in BulkOptions).
	parse bool
}

// begin resets the scratch space for the next record.
func (dc *decoder) begin() {
	dc.err = nil
	dc.fields = dc.fields[:0]
	dc.tags = dc.tags[:0]
	dc.tagsSet = false
}

// protoEntry builds the entry of a record whose fields the decoder holds.
func (dc *decoder) protoEntry(r record) (storage.Entry, error) {
	if dc.err != nil {
		return storage.Entry{}, dc.err
	}
	msg := clean(strings.TrimRight(r.msg, "\r\n"), keepNewline)
	if strings.TrimSpace(msg) == "" {
		return storage.Entry{}, errMessageEmpty
	}
	e := storage.Entry{Time: dc.now, Level: storage.LevelInfo, Source: dc.def.source(), Message: msg}
	if r.hasTime {
		e.Time = r.time
	}
	if r.hasLevel {
		e.Level = r.level
	}
	src := r.source
	if src != "" {
		src = clean(strings.TrimSpace(src), singleLine)
	}
	if r.parse {
		dc.parseMessage(&e, src != "")
	}
	if src != "" {
		if len(src) > dc.lim.MaxValueBytes {
			return storage.Entry{}, limitErrorf("source is %d bytes, the limit is %d", len(src), dc.lim.MaxValueBytes)
		}
		e.Source = src
	}
	if dc.err != nil {
		return storage.Entry{}, dc.err
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

// parseMessage reads the first line of the message as text/plain reads a
// line: a timestamp and level it starts with replace the record's (which
// shippers that tail files set to the time they read the line and a
// configured level), and the message becomes the rest. The fields the line
// names fill in those the record lacks; its source is used when the record
// names none.
func (dc *decoder) parseMessage(e *storage.Entry, hasSource bool) {
	first, more, multi := strings.Cut(e.Message, "\n")
	tl := ParseTextLine(first, dc.now)
	if tl.Message == "" {
		return
	}
	if tl.HasTime {
		e.Time = tl.Time
	}
	if tl.HasLevel {
		e.Level = tl.Level
	}
	if tl.HasTime || tl.HasLevel {
		e.Message = tl.Message
		if multi {
			e.Message += "\n" + more
		}
	}
	if tl.Source != "" && !hasSource {
		if len(tl.Source) <= dc.lim.MaxValueBytes {
			e.Source = tl.Source
		}
	}
	strict := len(tl.Fields) - tl.optional
	for k, f := range tl.Fields {
		switch {
		case dc.hasField(f.Name):
		case k < strict:
			dc.addField(f.Name, f.Value, false)
		default:
			dc.addOptionalField(f.Name, f.Value)
		}
	}
	// The header fields the message no longer starts with, when the record
	// has room for them.
	if tl.Header != "" && !dc.hasField("header") {
		dc.addOptionalField("header", storage.String(tl.Header))
	}
}

func (dc *decoder) hasField(name string) bool {
	for i := range dc.fields {
		if dc.fields[i].Name == name {
			return true
		}
	}
	return false
}

// takeField removes the named field from the scratch fields and returns
// its value.
func (dc *decoder) takeField(name string) (storage.Value, bool) {
	for i := range dc.fields {
		if dc.fields[i].Name == name {
			v := dc.fields[i].Value
			dc.fields = append(dc.fields[:i], dc.fields[i+1:]...)
			return v, true
		}
	}
	return storage.Value{}, false
}

// takeFirst removes the first of the named fields that is present (and not
// an empty string) and returns it with its name.
func (dc *decoder) takeFirst(names []string) (string, storage.Value, bool) {
	for _, n := range names {
		for i := range dc.fields {
			if f := dc.fields[i]; f.Name == n {
				if f.Value.Kind == storage.KindString && strings.TrimSpace(f.Value.Str) == "" {
					break
				}
				dc.fields = append(dc.fields[:i], dc.fields[i+1:]...)
				return n, f.Value, true
			}
		}
	}
	return "", storage.Value{}, false
}

// timeOf interprets a field value as a timestamp: RFC 3339 or epoch
// seconds, milliseconds, microseconds or nanoseconds.
func timeOf(v storage.Value) (time.Time, error) {
	var s string
	switch v.Kind {
	case storage.KindString:
		return parseTimestampString(strings.TrimSpace(v.Str))
	case storage.KindInt:
		s = strconv.FormatInt(v.Int, 10)
	case storage.KindFloat:
		s = strconv.FormatFloat(v.Float, 'f', -1, 64)
	default:
		return time.Time{}, errors.New("timestamp must be a string or a number")
	}
	if t, ok := parseEpoch(s); ok {
		return t, nil
	}
	return time.Time{}, errors.New("timestamp " + s + " is not epoch seconds/ms/µs/ns")
}

// levelOf interprets a field value as a level name or number.
func levelOf(v storage.Value) (storage.Level, bool) {
	switch v.Kind {
	case storage.KindString:
		return ParseLevel(strings.TrimSpace(v.Str))
	case storage.KindInt:
		return LevelFromNumber(v.Int)
	}
	return 0, false
}

// FieldMapping names the document fields that hold an entry's own
// timestamp, level, source and message, for protocols whose documents have
// no fixed schema (Elasticsearch bulk). Nested objects are matched by their
// dotted names ("log.level" matches {"log": {"level": ...}}). Each list is
// tried in order and the first field present wins; it is not kept as a
// field, the others are. An empty list takes the default.
type FieldMapping struct {
	Timestamp []string `yaml:"timestamp" json:"timestamp"`
	Level     []string `yaml:"level" json:"level"`
	Source    []string `yaml:"source" json:"source"`
	Message   []string `yaml:"message" json:"message"`
}

// DefaultBulkFields returns the mapping used for empty lists: Elastic
// Common Schema names first, then the aliases of logengine's own JSON
// entries, then the names syslog-ng's default Elasticsearch template uses
// (ISODATE, PRIORITY, PROGRAM, MESSAGE).
func DefaultBulkFields() FieldMapping {
	return FieldMapping{
		Timestamp: []string{"@timestamp", "timestamp", "time", "ts", "_time", "ISODATE"},
		Level:     []string{"log.level", "level", "severity", "lvl", "loglevel", "severity_text", "PRIORITY"},
		Source:    []string{"service.name", "source", "service", "app", "logger", "PROGRAM"},
		Message:   []string{"message", "msg", "log", "_msg", "MESSAGE", "event.original"},
	}
}

// withDefaults fills empty lists from DefaultBulkFields.
func (m FieldMapping) withDefaults() FieldMapping {
	def := DefaultBulkFields()
	if len(m.Timestamp) == 0 {
		m.Timestamp = def.Timestamp
	}
	if len(m.Level) == 0 {
		m.Level = def.Level
	}
	if len(m.Source) == 0 {
		m.Source = def.Source
	}
	if len(m.Message) == 0 {
		m.Message = def.Message
	}
	return m
}

// Validate checks that no name is empty or listed for two roles.
func (m FieldMapping) Validate() error {
	seen := map[string]string{}
	var errs []error
	for _, role := range []struct {
		name  string
		names []string
	}{{"timestamp", m.Timestamp}, {"level", m.Level}, {"source", m.Source}, {"message", m.Message}} {
		for _, n := range role.names {
			if strings.TrimSpace(n) == "" {
				errs = append(errs, errors.New(role.name+": a field name is empty"))
				continue
			}
			if other, ok := seen[n]; ok && other != role.name {
				errs = append(errs, errors.New(role.name+": "+strconv.Quote(n)+" is also listed for "+other))
			}
			seen[n] = role.name
		}
	}
	return errors.Join(errs...)
}
