package ingest

import (
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/logengine/logengine/storage"
)

// TestTextHeaderShapes: the time and the level are found wherever a
// line's header puts them, and never taken from the message.
func TestTextHeaderShapes(t *testing.T) {
	const none = storage.Level(0)
	at := time.Date(2024, 3, 1, 12, 0, 0, 0, time.UTC)
	ms := at.Add(123 * time.Millisecond)
	tests := []struct {
		line  string
		time  time.Time // zero: none found
		level storage.Level
	}{
		// Level after other header fields.
		{"2024-03-01 12:00:00,123 - billing.worker - WARNING - retry 3 of 5", ms, storage.LevelWarn},
		{"2024-03-01 12:00:00.123 4711 ERROR svc.api.handler [req-9f2c user-7] upstream reset", ms, storage.LevelError},
		{"2024-03-01 12:00:00,123 [http-nio-8080-exec-7] ERROR com.acme.OrderService - timeout", ms, storage.LevelError},
		{"2024-03-01 12:00:00,123 [main] [INFO ] org.example.App - started", ms, storage.LevelInfo},
		{"2024-03-01 12:00:00,123 INFO [main] started", ms, storage.LevelInfo},
		{"2024-03-01 12:00:00.123 [worker-3] (pool-1) WARN  c.e.Cache: evicted", ms, storage.LevelWarn},
		{"2024-03-01T12:00:00.123Z stderr F 2024/03/01 12:00:00 [error] 12#12: *5 connect() failed", ms, storage.LevelError},
		{"2024-03-01T12:00:00.123Z stdout P INFO partial line", ms, storage.LevelInfo},
		{"2024-03-01T12:00:00Z host-7 app[1234]: ERROR: disk full", at, storage.LevelError},
		{"2024-03-01T12:00:00Z web-1 nginx: [warn] upstream slow", at, storage.LevelWarn},
		{"2024-03-01 12:00:00 | db.pool | CRITICAL | exhausted", at, storage.LevelFatal},
		{"2024-03-01 12:00:00 -- main.go:42 -- DEBUG -- tick", at, storage.LevelDebug},
		{"2024-03-01 12:00:00 1234 5678 8765 ERROR three ids", at, storage.LevelError},
		// Time after other header fields.
		{"app-3 2024-03-01T12:00:00Z kernel: [WARN] thermal throttling", at, storage.LevelWarn},
		{"web-1 2024-03-01 12:00:00 ERROR upstream reset", at, storage.LevelError},
		{"[worker-2] 2024-03-01 12:00:00,123 INFO ready", ms, storage.LevelInfo},
		{"node/a.b 2024-03-01T12:00:00.123Z error: boom", ms, storage.LevelError},
		{"12345 2024-03-01 12:00:00 WARNING low memory", at, storage.LevelWarn},
		{"host-1 app-2 2024-03-01T12:00:00Z started", at, none},
		// Not the header's: time or level words inside the message.
		{"2024-03-01T12:00:00Z user says error is fine", at, none},
		{"2024-03-01T12:00:00Z GET /api ERROR 500", at, none},
		{"2024-03-01T12:00:00Z connection closed. ERROR follows", at, none},
		{"2024-03-01T12:00:00Z the job failed: see WARN above", at, none},
		{"user alice logged in at 2024-03-01T12:00:00Z", time.Time{}, none},
		{"retry later, ERROR 2024-03-01 12:00:00", time.Time{}, none},
		{"just a message", time.Time{}, none},
		{"a b c d e f g h 2024-03-01T12:00:00Z", time.Time{}, none},
	}
	for _, tt := range tests {
		t.Run(tt.line, func(t *testing.T) {
			tl := ParseTextLine(tt.line, testNow)
			if tt.time.IsZero() != !tl.HasTime || tl.HasTime && !tl.Time.Equal(tt.time) {
				t.Errorf("time %v (%v), want %v", tl.Time, tl.HasTime, tt.time)
			}
			if (tt.level != none) != tl.HasLevel || tl.HasLevel && tl.Level != tt.level {
				t.Errorf("level %v (%v), want %v", tl.Level, tl.HasLevel, tt.level)
			}
			if tl.Message == "" {
				t.Errorf("empty message")
			}
		})
	}
}

// TestTextHeaderProperty builds lines from header fields in random order
// around a time and a level, followed by a message of prose that mentions
// levels and times, and checks that the header's time and level are found.
func TestTextHeaderProperty(t *testing.T) {
	rng := rand.New(rand.NewPCG(17, 3))
	at := time.Date(2024, 3, 1, 12, 0, 0, 123_000_000, time.UTC)
	times := []string{"2024-03-01T12:00:00.123Z", "2024-03-01 12:00:00,123", "2024-03-01 12:00:00.123", "[2024-03-01 12:00:00.123]"}
	before := []string{"app-3", "web-1", "[worker-2]", "node/a.b", "12345"}
	between := []string{"-", "|", "4711", "[http-nio-8080-exec-7]", "billing.worker", "kernel:", "host-7", "app[1234]:", "(pool-1)", "stderr F"}
	levels := []struct {
		text  string
		level storage.Level
	}{{"ERROR", storage.LevelError}, {"WARNING", storage.LevelWarn}, {"[warn]", storage.LevelWarn}, {"INFO", storage.LevelInfo},
		{"DEBUG", storage.LevelDebug}, {"[error]", storage.LevelError}, {"error:", storage.LevelError}, {"CRITICAL", storage.LevelFatal}}
	prose := []string{"the", "job", "error", "failed", "warning", "retried", "at", "12:00:00", "returned", "ERROR", "code", "5", "user", "debug"}
	for i := range 2000 {
		var b strings.Builder
		if rng.IntN(3) == 0 {
			b.WriteString(before[rng.IntN(len(before))] + " ")
		}
		b.WriteString(times[rng.IntN(len(times))] + " ")
		for range rng.IntN(3) {
			b.WriteString(between[rng.IntN(len(between))] + " ")
		}
		lv := levels[rng.IntN(len(levels))]
		b.WriteString(lv.text + " ")
		b.WriteString("msg") // a plain word first: the header ends here
		for range 1 + rng.IntN(8) {
			b.WriteString(" " + prose[rng.IntN(len(prose))])
		}
		line := b.String()
		tl := ParseTextLine(line, testNow)
		if !tl.HasTime || !tl.Time.Equal(at) || !tl.HasLevel || tl.Level != lv.level {
			t.Fatalf("line %d %q: time %v (%v) level %v (%v), want %v and %v", i, line, tl.Time, tl.HasTime, tl.Level, tl.HasLevel, at, lv.level)
		}
		if !strings.Contains(tl.Message, "msg") {
			t.Fatalf("line %d %q: message %q lost the text", i, line, tl.Message)
		}
	}
}
