// Package entryjson owns the JSON form of a log entry: what searches answer
// and the live tail streams (README.md, "HTTP API") and what alert
// notifications carry as samples (README.md, "Alerting"), so that all of
// them stay the same.
package entryjson

import (
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/logengine/logengine/patterns"
	"github.com/logengine/logengine/storage"
)

// Entry is the output form of an entry.
type Entry struct {
	// ID is empty, and left out, only in a gateway's Kafka records: the
	// node that stores the entry gives it its id.
	ID        string         `json:"id,omitempty"`
	Timestamp string         `json:"timestamp"`
	Level     string         `json:"level"`
	Severity  int            `json:"severity"`
	Source    string         `json:"source"`
	Message   string         `json:"message"`
	Tags      []string       `json:"tags"`
	Fields    map[string]any `json:"fields"`
	// Pattern is the id of the message template ("p3f9"); empty, and left
	// out, for entries stored without one (patterns disabled, or written
	// by a release before them).
	Pattern string `json:"pattern,omitempty"`
}

// From returns the output form of e. Tags and Fields are never null, so
// clients can iterate them without checks.
func From(e *storage.Entry) Entry {
	j := Entry{
		ID:        e.ID.String(),
		Timestamp: e.Time.UTC().Format(time.RFC3339Nano),
		Level:     e.Level.String(),
		Severity:  int(e.Level),
		Source:    e.Source,
		Message:   e.Message,
		Tags:      append([]string{}, e.Tags...),
		Fields:    make(map[string]any, len(e.Fields)),
	}
	for _, f := range e.Fields {
		j.Fields[f.Name] = f.Value.Interface()
	}
	if e.Pattern != 0 {
		j.Pattern = patterns.FormatID(uint64(e.Pattern))
	}
	return j
}

// FromAll converts a slice of entries.
func FromAll(es []storage.Entry) []Entry {
	out := make([]Entry, len(es))
	for i := range es {
		out[i] = From(&es[i])
	}
	return out
}

// Parse returns the entry whose output form j is, as another node sent it.
// Decode j with json.Decoder.UseNumber, so that integers keep every digit:
// a number whose text is an integer becomes an int field, any other a
// float (what the output form of either writes back alike).
func Parse(j Entry) (storage.Entry, error) {
	id, err := storage.ParseID(j.ID)
	if err != nil {
		return storage.Entry{}, fmt.Errorf("entry id: %w", err)
	}
	t, err := time.Parse(time.RFC3339Nano, j.Timestamp)
	if err != nil {
		return storage.Entry{}, fmt.Errorf("entry %s: timestamp: %w", j.ID, err)
	}
	level, ok := storage.LevelFromSeverity(j.Severity)
	if !ok || level != storage.Level(j.Severity) {
		return storage.Entry{}, fmt.Errorf("entry %s: severity %d is not one of 1, 5, 9, 13, 17, 21", j.ID, j.Severity)
	}
	e := storage.Entry{ID: id, Time: t, Level: level, Source: j.Source, Message: j.Message, Tags: j.Tags}
	if j.Pattern != "" {
		p, err := patterns.ParseID(j.Pattern)
		if err != nil || p > math.MaxUint32 {
			return storage.Entry{}, fmt.Errorf("entry %s: pattern %q is not a pattern id", j.ID, j.Pattern)
		}
		e.Pattern = uint32(p)
	}
	names := make([]string, 0, len(j.Fields))
	for name := range j.Fields {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		v, err := value(j.Fields[name])
		if err != nil {
			return storage.Entry{}, fmt.Errorf("entry %s: field %s: %w", j.ID, name, err)
		}
		e.Fields = append(e.Fields, storage.Field{Name: name, Value: v})
	}
	return e, nil
}

func value(v any) (storage.Value, error) {
	switch v := v.(type) {
	case string:
		return storage.String(v), nil
	case bool:
		return storage.Bool(v), nil
	case json.Number:
		if n, err := v.Int64(); err == nil {
			return storage.Int(n), nil
		}
		f, err := v.Float64()
		if err != nil {
			return storage.Value{}, fmt.Errorf("number %s: %w", v, err)
		}
		return storage.Float(f), nil
	case float64:
		return storage.Float(v), nil
	}
	return storage.Value{}, fmt.Errorf("a %T is not a string, number or bool", v)
}
