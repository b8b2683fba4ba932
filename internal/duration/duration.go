// Package duration parses and prints the durations users write in flags,
// config files and query parameters: Go's forms plus days and weeks.
package duration

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

var units = []struct {
	suffix string
	unit   time.Duration
}{{"d", 24 * time.Hour}, {"w", 7 * 24 * time.Hour}}

// Parse accepts Go durations (90s, 15m, 1h30m), days and weeks (7d, 2w,
// 1.5d) and a bare 0.
func Parse(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if s == "0" {
		return 0, nil
	}
	for _, u := range units {
		if n, ok := strings.CutSuffix(s, u.suffix); ok {
			f, err := strconv.ParseFloat(n, 64)
			if err != nil || f < 0 && n[0] != '-' || math.IsNaN(f) {
				return 0, fmt.Errorf("%q is not a duration such as 90s, 15m, 2h or 7d", s)
			}
			// Converting a float out of int64's range gives any value.
			v := f * float64(u.unit)
			if v < math.MinInt64 || v >= math.MaxInt64 {
				return 0, fmt.Errorf("%q is out of range: a duration is at most about 292 years", s)
			}
			return time.Duration(v), nil
		}
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("%q is not a duration such as 90s, 15m, 2h or 7d", s)
	}
	return d, nil
}

// Format prints the shortest exact form: 0, 7d, 2h, 5m, 30s, else Go's.
func Format(d time.Duration) string {
	switch {
	case d == 0:
		return "0"
	case d%(24*time.Hour) == 0:
		return strconv.FormatInt(int64(d/(24*time.Hour)), 10) + "d"
	case d%time.Hour == 0:
		return strconv.FormatInt(int64(d/time.Hour), 10) + "h"
	case d%time.Minute == 0:
		return strconv.FormatInt(int64(d/time.Minute), 10) + "m"
	case d%time.Second == 0:
		return strconv.FormatInt(int64(d/time.Second), 10) + "s"
	}
	return d.String()
}
