// Package entryjson owns the JSON form of a log entry: what searches answer
// and the live tail streams (README.md, "HTTP API") and what alert
// notifications carry as samples (README.md, "Alerting"), so that all of
// them stay the same.
package entryjson

import (
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
