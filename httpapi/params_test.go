package httpapi

import (
	"errors"
	"math"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/logengine/logengine/internal/duration"
)

// FuzzParseTime checks parseTime against its doc: empty is no time; now
// and now±duration are that far from now, in that direction; digits are
// epoch milliseconds; anything else is RFC 3339. Every time it accepts is
// one the API can write back (RFC 3339 and JSON, which need years 0 to
// 9999 in UTC, as the alert state stores a mute's end), and prints in a
// form it reads back as the same instant. Refusals are 400s.
func FuzzParseTime(f *testing.F) {
	for _, s := range []string{
		"", " ", "now", "now-15m", "now+1h", "now-7d", " now-2w ", "now-", "now*5m", "now--5m", "nowx",
		"1764151200123", "-1", "0", "+17", "2026-11-26T10:00:00Z", "2026-11-26T10:00:00.123456789+05:30",
		"2026-11-26", "0000-01-01T00:00:00Z", "9999-12-31T23:59:59.999999999Z", "2026-11-26T10:00:00",
		"9999-12-31T23:59:59-01:00", "0000-01-01T00:00:00+01:00", "253402300799999", "253402300800000",
		"now--2562047h47m16.854775808s", "now+-2562047h47m16.854775808s", "now-2562047h47m16.854775807s",
	} {
		f.Add(s)
	}
	now := time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, v string) {
		got, err := parseTime("from", v, now)
		if err != nil {
			var e *apiError
			if !errors.As(err, &e) || e.status != http.StatusBadRequest {
				t.Fatalf("parseTime(%q): error %T %v, want a 400", v, err, err)
			}
			return
		}
		trimmed := strings.TrimSpace(v)
		if trimmed == "" {
			if !got.IsZero() {
				t.Fatalf("parseTime(%q) = %v, want no time", v, got)
			}
			return
		}
		if _, err := got.UTC().MarshalJSON(); err != nil {
			t.Fatalf("parseTime(%q) = %v, which the API cannot write: %v", v, got, err)
		}
		switch rest, isNow := strings.CutPrefix(trimmed, "now"); {
		case isNow && rest == "":
			if !got.Equal(now) {
				t.Fatalf("parseTime(%q) = %v, want now (%v)", v, got, now)
			}
		case isNow:
			d, err := duration.Parse(rest[1:])
			if err != nil || rest[0] != '-' && rest[0] != '+' {
				t.Fatalf("parseTime(%q) = %v, but %q is not ±duration", v, got, rest)
			}
			// later and earlier as written, without negating d (which
			// would overflow for the most negative duration)
			later := rest[0] == '+' && d > 0 || rest[0] == '-' && d < 0
			earlier := rest[0] == '+' && d < 0 || rest[0] == '-' && d > 0
			if later != got.After(now) || earlier != got.Before(now) {
				t.Fatalf("parseTime(%q) = %v, on the wrong side of now (%v)", v, got, now)
			}
			if d != math.MinInt64 && got.Sub(now).Abs() != d.Abs() {
				t.Fatalf("parseTime(%q) = %v, %v from now (%v), want %v", v, got, got.Sub(now), now, d.Abs())
			}
		default:
			if n, err := strconv.ParseInt(trimmed, 10, 64); err == nil && !got.Equal(time.UnixMilli(n)) {
				t.Fatalf("parseTime(%q) = %v, want epoch milliseconds %v", v, got, time.UnixMilli(n))
			}
		}
		s := got.Format(time.RFC3339Nano)
		if again, err := parseTime("from", s, now); err != nil || !again.Equal(got) {
			t.Fatalf("parseTime(%q) = %v, printed %q, which parses as %v, %v", v, got, s, again, err)
		}
	})
}
