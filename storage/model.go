package storage

import "github.com/logengine/logengine/storage/logs"

// The entry model lives in storage/logs so that the block format can share
// it without importing storage; these names keep storage.Entry and friends
// the one vocabulary of the rest of the project.
type (
	Entry = logs.Entry
	Field = logs.Field
	Value = logs.Value
	Kind  = logs.Kind
	Level = logs.Level
	ID    = logs.ID
	Day   = logs.Day
)

// Levels, kinds and the ID length; see storage/logs.
const (
	LevelTrace = logs.LevelTrace
	LevelDebug = logs.LevelDebug
	LevelInfo  = logs.LevelInfo
	LevelWarn  = logs.LevelWarn
	LevelError = logs.LevelError
	LevelFatal = logs.LevelFatal

	KindString = logs.KindString
	KindInt    = logs.KindInt
	KindFloat  = logs.KindFloat
	KindBool   = logs.KindBool

	IDLen = logs.IDLen
)

// Levels lists the levels in ascending order of severity.
var Levels = logs.Levels

// String, Int, Float and Bool make field values.
func String(s string) Value { return logs.String(s) }
func Int(n int64) Value     { return logs.Int(n) }
func Float(f float64) Value { return logs.Float(f) }
func Bool(b bool) Value     { return logs.Bool(b) }

// LevelFromSeverity maps an OpenTelemetry severity number onto a level.
func LevelFromSeverity(n int) (Level, bool) { return logs.LevelFromSeverity(n) }

// ParseLevelName maps a level name of a common logger onto a level.
func ParseLevelName(s string) (Level, bool) { return logs.ParseLevelName(s) }

// ParseID parses the 26-character form of an ID.
func ParseID(s string) (ID, error) { return logs.ParseID(s) }

// IDFromBytes is the inverse of ID.Bytes.
func IDFromBytes(b []byte) ID { return logs.IDFromBytes(b) }

// SortIDs sorts ids ascending.
func SortIDs(ids []ID) { logs.SortIDs(ids) }

// DayOf returns the UTC day containing t (nanoseconds since the epoch).
func DayOf(nanos int64) Day { return logs.DayOf(nanos) }

// ParseDay parses YYYY-MM-DD.
func ParseDay(s string) (Day, error) { return logs.ParseDay(s) }
