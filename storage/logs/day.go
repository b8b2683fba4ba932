package logs

import "time"

// NanosPerDay is the length of a UTC day in Unix time.
const NanosPerDay = int64(24 * time.Hour)

// Day is a UTC calendar day counted from the Unix epoch.
type Day uint32

// DayOf returns the UTC day containing t (nanoseconds since the epoch).
func DayOf(nanos int64) Day { return Day(nanos / NanosPerDay) }

// Start returns the first nanosecond of the day.
func (d Day) Start() int64 { return int64(d) * NanosPerDay }

// String returns the day as YYYY-MM-DD.
func (d Day) String() string { return time.Unix(0, d.Start()).UTC().Format(time.DateOnly) }

// ParseDay parses YYYY-MM-DD.
func ParseDay(s string) (Day, error) {
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		return 0, err
	}
	return DayOf(t.UnixNano()), nil
}
