package loggen

import (
	"testing"
	"time"
)

func TestAtSpreadsWithoutOverflow(t *testing.T) {
	start := time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC)
	const n = 1000000
	prev := start.Add(-1)
	for _, i := range []int{0, 1, 106000, 500000, n - 1} {
		at := At(start, 24*time.Hour, i, n)
		if !at.After(prev) || !at.Before(start.Add(24*time.Hour)) {
			t.Fatalf("At(%d) = %s: outside the day or not increasing", i, at)
		}
		prev = at
	}
	g := New(1)
	l := g.Next(start)
	if b := l.AppendJSON(nil); len(b) < 120 || len(b) > 400 {
		t.Fatalf("a generated log is %d bytes: %s", len(b), b)
	}
}
