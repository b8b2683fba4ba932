// Package ingest owns the way logs come in: it turns request bodies (a JSON
// object or array, NDJSON, plain text lines) into validated storage.Entry
// values, recognises the many shapes of text logs (timestamps, levels,
// syslog, access logs), and runs the configurable enrichment and filter
// pipeline before entries are stored.
//
// Decoders never stop at a bad record: every record yields a Result that
// holds either an entry or an error saying what to fix, with its 1-based line
// number, so a batch stores its good lines and reports the bad ones.
package ingest

import (
	"errors"
	"fmt"
	"time"

	"github.com/logengine/logengine/storage"
)

// Defaults fill in what a record does not say itself. They usually come from
// the request's query parameters.
type Defaults struct {
	// Source is used when an entry names no source; empty means "unknown".
	Source string
	// Tags are used when an entry sends no tags. The slice is shared (clipped)
	// by the entries that take it: hooks may append but must not modify it
	// in place.
	Tags []string
	// Now gives the time of arrival, used for entries without a timestamp.
	// It is called once per decoded body. Nil means time.Now.
	Now func() time.Time
}

func (d Defaults) now() time.Time {
	if d.Now != nil {
		return d.Now().UTC()
	}
	return time.Now().UTC()
}

func (d Defaults) source() string {
	if d.Source != "" {
		return d.Source
	}
	return "unknown"
}

// Limits bound what one record may hold. A zero field means its default.
// The daemon's configuration file embeds it as limits.ingest.
type Limits struct {
	// MaxLineBytes bounds one NDJSON or text line, one element of a JSON
	// array, or a single-object JSON body. Default 256 KiB.
	MaxLineBytes int `yaml:"max_line_bytes" json:"max_line_bytes"`
	// MaxFields bounds the number of fields of an entry. Default 200.
	MaxFields int `yaml:"max_fields" json:"max_fields"`
	// MaxTags bounds the number of tags of an entry. Default 64.
	MaxTags int `yaml:"max_tags" json:"max_tags"`
	// MaxFieldNameBytes bounds a field name, after nested names are joined
	// with dots. Default 128.
	MaxFieldNameBytes int `yaml:"max_field_name_bytes" json:"max_field_name_bytes"`
	// MaxValueBytes bounds a field value, a tag and the source. The message
	// is bounded by MaxLineBytes only, so long stack traces fit. Default 64 KiB.
	MaxValueBytes int `yaml:"max_value_bytes" json:"max_value_bytes"`
}

// DefaultLimits returns the limits used for zero fields.
func DefaultLimits() Limits {
	return Limits{
		MaxLineBytes:      256 << 10,
		MaxFields:         200,
		MaxTags:           64,
		MaxFieldNameBytes: 128,
		MaxValueBytes:     64 << 10,
	}
}

// withDefaults replaces zero (and negative) fields by their defaults.
func (l Limits) withDefaults() Limits {
	def := DefaultLimits()
	if l.MaxLineBytes <= 0 {
		l.MaxLineBytes = def.MaxLineBytes
	}
	if l.MaxFields <= 0 {
		l.MaxFields = def.MaxFields
	}
	if l.MaxTags <= 0 {
		l.MaxTags = def.MaxTags
	}
	if l.MaxFieldNameBytes <= 0 {
		l.MaxFieldNameBytes = def.MaxFieldNameBytes
	}
	if l.MaxValueBytes <= 0 {
		l.MaxValueBytes = def.MaxValueBytes
	}
	return l
}

// Result is the outcome for one record: an entry, or the error that rejected
// it.
type Result struct {
	// Line is the 1-based line of the record in the body; for a JSON array
	// it is the 1-based index of the element.
	Line  int
	Entry storage.Entry
	Err   error
	// Dropped is set by Service.IngestResults on a valid entry that the
	// pipeline filtered out on purpose.
	Dropped bool
}

// Errors that rejected records wrap one of these, so callers can count
// rejections by reason.
var (
	// ErrSyntax marks a record that is not well-formed JSON.
	ErrSyntax = errors.New("invalid JSON")
	// ErrLimit marks a record that exceeds one of the Limits.
	ErrLimit = errors.New("limit exceeded")
)

// limitError keeps the message free of a generic prefix while matching
// ErrLimit with errors.Is.
type limitError struct{ msg string }

func (e *limitError) Error() string        { return e.msg }
func (e *limitError) Is(target error) bool { return target == ErrLimit }

func limitErrorf(format string, args ...any) error {
	return &limitError{msg: fmt.Sprintf(format, args...)}
}

// errMessageMissing is what a JSON entry without any message alias gets.
var errMessageMissing = errors.New("message is missing: send it as message, msg, log or _msg")

// errMessageEmpty is what an entry with an empty message gets.
var errMessageEmpty = errors.New("message is empty")
