// Package logs is the model of a log entry that storage and the block format
// share: entries, levels, typed field values, IDs and UTC days. It has no I/O
// and no dependencies, so that the block format can use it without importing
// storage, which stores blocks.
package logs

import (
	"fmt"
	"math"
	"strconv"
	"time"
	"unsafe"
)

// Level is a normalised log level. Its numeric value is the OpenTelemetry
// severity number of the level's range start, so comparisons such as
// "severity >= 13" mean "warnings and worse".
type Level uint8

// The six levels of the OpenTelemetry log data model.
const (
	LevelTrace Level = 1
	LevelDebug Level = 5
	LevelInfo  Level = 9
	LevelWarn  Level = 13
	LevelError Level = 17
	LevelFatal Level = 21
)

// Levels lists the levels in ascending order of severity.
var Levels = []Level{LevelTrace, LevelDebug, LevelInfo, LevelWarn, LevelError, LevelFatal}

// String returns the canonical lower-case name of the level.
func (l Level) String() string {
	switch l {
	case LevelTrace:
		return "trace"
	case LevelDebug:
		return "debug"
	case LevelInfo:
		return "info"
	case LevelWarn:
		return "warn"
	case LevelError:
		return "error"
	case LevelFatal:
		return "fatal"
	}
	return "level(" + strconv.Itoa(int(l)) + ")"
}

// Valid reports whether l is one of the six normalised levels.
func (l Level) Valid() bool {
	switch l {
	case LevelTrace, LevelDebug, LevelInfo, LevelWarn, LevelError, LevelFatal:
		return true
	}
	return false
}

// LevelFromSeverity maps any OpenTelemetry severity number (1–24) onto the
// level whose range contains it. It reports false outside 1–24.
func LevelFromSeverity(n int) (Level, bool) {
	switch {
	case n >= 1 && n <= 4:
		return LevelTrace, true
	case n >= 5 && n <= 8:
		return LevelDebug, true
	case n >= 9 && n <= 12:
		return LevelInfo, true
	case n >= 13 && n <= 16:
		return LevelWarn, true
	case n >= 17 && n <= 20:
		return LevelError, true
	case n >= 21 && n <= 24:
		return LevelFatal, true
	}
	return 0, false
}

// ParseLevelName maps a canonical level name (trace, debug, info, warn, error,
// fatal) onto its Level. Aliases of common loggers are the ingest package's
// business; this accepts only the names String returns.
func ParseLevelName(s string) (Level, bool) {
	for _, l := range Levels {
		if l.String() == s {
			return l, true
		}
	}
	return 0, false
}

// Kind is the type of a field value.
type Kind uint8

// Field value kinds. Their numbers are part of the on-disk codec.
const (
	KindString Kind = 1
	KindInt    Kind = 2
	KindFloat  Kind = 3
	KindBool   Kind = 4
)

// Value is a typed field value: exactly one of the members is meaningful,
// chosen by Kind.
type Value struct {
	Kind  Kind
	Str   string
	Int   int64
	Float float64
	Bool  bool
}

// String returns a string value.
func String(s string) Value { return Value{Kind: KindString, Str: s} }

// Int returns an integer value.
func Int(n int64) Value { return Value{Kind: KindInt, Int: n} }

// Float returns a floating-point value.
func Float(f float64) Value { return Value{Kind: KindFloat, Float: f} }

// Bool returns a boolean value.
func Bool(b bool) Value { return Value{Kind: KindBool, Bool: b} }

// Text renders the value the way it is matched by field:value queries and
// keyed in secondary indexes: numbers in their shortest decimal form.
func (v Value) Text() string {
	switch v.Kind {
	case KindString:
		return v.Str
	case KindInt:
		return strconv.FormatInt(v.Int, 10)
	case KindFloat:
		return strconv.FormatFloat(v.Float, 'g', -1, 64)
	case KindBool:
		return strconv.FormatBool(v.Bool)
	}
	return ""
}

// Number returns the value as a float64 when it is numeric.
func (v Value) Number() (float64, bool) {
	switch v.Kind {
	case KindInt:
		return float64(v.Int), true
	case KindFloat:
		return v.Float, true
	}
	return 0, false
}

// Interface returns the value as a plain Go value (string, int64, float64 or
// bool), as JSON encoders want it.
func (v Value) Interface() any {
	switch v.Kind {
	case KindString:
		return v.Str
	case KindInt:
		return v.Int
	case KindFloat:
		if math.IsInf(v.Float, 0) || math.IsNaN(v.Float) {
			return v.Text()
		}
		return v.Float
	case KindBool:
		return v.Bool
	}
	return nil
}

// Field is one named value of an entry.
type Field struct {
	Name  string
	Value Value
}

// Entry is one log entry. ID is assigned by Append; Time is its timestamp.
type Entry struct {
	ID      ID
	Time    time.Time
	Level   Level
	Source  string
	Message string
	Tags    []string
	Fields  []Field
	// Pattern is the id of the entry's message template, 0 for none:
	// stored in the block's templates column.
	Pattern uint32
}

// Field returns the value of the named field.
func (e *Entry) Field(name string) (Value, bool) {
	for _, f := range e.Fields {
		if f.Name == name {
			return f.Value, true
		}
	}
	return Value{}, false
}

// MemSize estimates the bytes the entry keeps alive in memory: its strings
// and slices, and the struct itself.
func (e *Entry) MemSize() int {
	n := int(unsafe.Sizeof(*e)) + len(e.Source) + len(e.Message)
	for _, t := range e.Tags {
		n += int(unsafe.Sizeof(t)) + len(t)
	}
	for _, f := range e.Fields {
		n += int(unsafe.Sizeof(f)) + len(f.Name) + len(f.Value.Str)
	}
	return n
}

// Validate checks the invariants the store relies on.
func (e *Entry) Validate() error {
	if e.Message == "" {
		return fmt.Errorf("message is empty")
	}
	if !e.Level.Valid() {
		return fmt.Errorf("level %d is not one of 1, 5, 9, 13, 17, 21", e.Level)
	}
	if e.Time.UnixNano() < 0 || e.Time.Year() > 2262 {
		return fmt.Errorf("timestamp %s is outside 1970..2262", e.Time.UTC().Format(time.RFC3339Nano))
	}
	return nil
}
