package httpapi

import (
	"bytes"
	"encoding/json"
	"io"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/logengine/logengine/internal/duration"
)

// timeRange parses from and to; empty leaves that end open.
func timeRange(from, to string, now time.Time) (time.Time, time.Time, error) {
	f, err := parseTime("from", from, now)
	if err != nil {
		return time.Time{}, time.Time{}, err
	}
	t, err := parseTime("to", to, now)
	if err != nil {
		return time.Time{}, time.Time{}, err
	}
	if !f.IsZero() && !t.IsZero() && !f.Before(t) {
		return time.Time{}, time.Time{}, errorf(http.StatusBadRequest, "from (%s) must be before to (%s)", f.Format(time.RFC3339Nano), t.Format(time.RFC3339Nano))
	}
	return f, t, nil
}

// parseTime accepts RFC 3339, epoch milliseconds, and now, now-15m, now+1h,
// now-7d.
func parseTime(name, v string, now time.Time) (time.Time, error) {
	v = strings.TrimSpace(v)
	if v == "" {
		return time.Time{}, nil
	}
	if rest, ok := strings.CutPrefix(v, "now"); ok {
		if rest == "" {
			return now, nil
		}
		sign := rest[0]
		if sign != '-' && sign != '+' {
			return time.Time{}, errorf(http.StatusBadRequest, "%s=%q: write now, now-15m, now-2h or now-7d", name, v)
		}
		d, err := duration.Parse(rest[1:])
		if err != nil {
			return time.Time{}, errorf(http.StatusBadRequest, "%s=%q: %v", name, v, err)
		}
		if sign == '-' {
			if d == math.MinInt64 { // -d overflows to itself
				return time.Time{}, errorf(http.StatusBadRequest, "%s=%q: the duration is out of range", name, v)
			}
			d = -d
		}
		return now.Add(d), nil
	}
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		return inYearRange(name, v, time.UnixMilli(n).UTC())
	}
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		return time.Time{}, errorf(http.StatusBadRequest, "%s=%q is not RFC 3339 (2026-11-26T10:00:00Z), epoch milliseconds or now-15m", name, v)
	}
	return inYearRange(name, v, t)
}

// inYearRange refuses a time outside the years 0000 to 9999 in UTC, which
// RFC 3339 and JSON cannot write: the API writes times back, and a mute's
// end is stored as JSON.
func inYearRange(name, v string, t time.Time) (time.Time, error) {
	if y := t.UTC().Year(); y < 0 || y > 9999 {
		return time.Time{}, errorf(http.StatusBadRequest, "%s=%q is outside the years 0000 to 9999 (UTC)", name, v)
	}
	return t, nil
}

func intParam(name, v string) (int, error) {
	n, err := strconv.Atoi(v)
	if err != nil {
		return 0, errorf(http.StatusBadRequest, "%s=%q is not an integer", name, v)
	}
	return n, nil
}

// maxJSONBody bounds the JSON body of search, rule and notifier requests.
const maxJSONBody = 1 << 20

// decodeStrict decodes a JSON body, whatever the Content-Type says, and
// refuses unknown keys: a misspelt "treshold" must not silently become a
// threshold of zero, nor a misspelt "q" a search for everything.
func decodeStrict(c echo.Context, v any) error {
	body, err := io.ReadAll(io.LimitReader(c.Request().Body, maxJSONBody+1))
	if err != nil {
		return errorf(http.StatusBadRequest, "read the body: %v", err)
	}
	if len(body) > maxJSONBody {
		return errorf(http.StatusRequestEntityTooLarge, "the body is larger than %d bytes", maxJSONBody)
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return errorf(http.StatusBadRequest, "the body is empty: send a JSON object")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return errorf(http.StatusBadRequest, "the JSON body does not parse: %v", err)
	}
	return nil
}
