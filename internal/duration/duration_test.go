package duration

import (
	"math"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestParseFormat(t *testing.T) {
	cases := []struct {
		in   string
		want time.Duration
		out  string
	}{
		{"0", 0, "0"},
		{"90s", 90 * time.Second, "90s"},
		{"15m", 15 * time.Minute, "15m"},
		{"2h", 2 * time.Hour, "2h"},
		{"7d", 7 * 24 * time.Hour, "7d"},
		{"2w", 14 * 24 * time.Hour, "14d"},
		{"1.5d", 36 * time.Hour, "36h"},
		{"1h30m", 90 * time.Minute, "90m"},
		{"250ms", 250 * time.Millisecond, "250ms"},
	}
	for _, c := range cases {
		t.Run(c.in, func(t *testing.T) {
			got, err := Parse(c.in)
			if err != nil || got != c.want {
				t.Fatalf("Parse(%q) = %v, %v; want %v", c.in, got, err, c.want)
			}
			if f := Format(got); f != c.out {
				t.Fatalf("Format(%v) = %q, want %q", got, f, c.out)
			}
		})
	}
	for _, bad := range []string{"", "d", "7x", "abc", "1..2d", "5 minutes"} {
		if _, err := Parse(bad); err == nil {
			t.Errorf("Parse(%q): want an error", bad)
		}
	}
}

// FuzzParse checks Parse against its promises: it accepts every Go
// duration, as time.ParseDuration reads it; a number of days or weeks is
// that many times 24h or 7×24h (to the nanosecond, within float rounding),
// so it must fit in a time.Duration and be a number at all; a duration
// without a minus sign is not negative; and whatever Parse accepts, Format
// prints in a form Parse reads back as the same duration.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"0", "90s", "15m", "1h30m", "250ms", "7d", "2w", "1.5d", " 3d ", "-1d", "-1h", "+2h", "1e3d", "0x1p4d",
		"106751d", "106752d", "15250w", "17000w", "NaNd", "Infw", "-Infd", "d", "1..2d", "5 minutes", "2562047h47m16.854775807s",
		"-2562047h47m16.854775808s", "1.0000000001d", ".5w", "1_0d",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := Parse(s)
		if g, gerr := time.ParseDuration(s); gerr == nil && (err != nil || d != g) {
			t.Fatalf("Parse(%q) = %v, %v; time.ParseDuration reads it as %v", s, d, err, g)
		}
		if err != nil {
			return
		}
		trimmed := strings.TrimSpace(s)
		if d < 0 && !strings.HasPrefix(trimmed, "-") {
			t.Fatalf("Parse(%q) = %v, negative without a minus sign", s, d)
		}
		for _, u := range []struct {
			suffix string
			unit   time.Duration
		}{{"d", 24 * time.Hour}, {"w", 7 * 24 * time.Hour}} {
			n, ok := strings.CutSuffix(trimmed, u.suffix)
			if !ok {
				continue
			}
			x, ferr := strconv.ParseFloat(n, 64)
			want := x * float64(u.unit)
			if ferr != nil || math.IsNaN(want) || want < math.MinInt64 || want >= math.MaxInt64 || math.Abs(float64(d)-want) >= 1 {
				t.Fatalf("Parse(%q) = %v (%d ns), want %s × %v", s, d, int64(d), n, u.unit)
			}
		}
		out := Format(d)
		if back, err := Parse(out); err != nil || back != d {
			t.Fatalf("Parse(%q) = %v, printed %q, which parses as %v, %v", s, d, out, back, err)
		}
	})
}
