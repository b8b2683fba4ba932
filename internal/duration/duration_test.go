package duration

import (
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
