package alerting

import (
	"math/rand/v2"
	"testing"
	"time"
)

// TestStep covers every transition of the state machine, with and without
// a for duration.
func TestStep(t *testing.T) {
	now := t0
	cases := []struct {
		name    string
		from    StateName
		active  time.Duration // ActiveAt relative to now (pending, firing)
		holds   bool
		forDur  time.Duration
		want    StateName
		changed bool
	}{
		{"inactive stays inactive", StateInactive, 0, false, 0, StateInactive, false},
		{"inactive fires at once without for", StateInactive, 0, true, 0, StateFiring, true},
		{"inactive becomes pending with for", StateInactive, 0, true, time.Minute, StatePending, true},
		{"pending waits for for", StatePending, -30 * time.Second, true, time.Minute, StatePending, false},
		{"pending fires when for has elapsed", StatePending, -time.Minute, true, time.Minute, StateFiring, true},
		{"pending fires after for", StatePending, -2 * time.Minute, true, time.Minute, StateFiring, true},
		{"pending goes back to inactive", StatePending, -30 * time.Second, false, time.Minute, StateInactive, true},
		{"firing stays firing", StateFiring, -time.Hour, true, time.Minute, StateFiring, false},
		{"firing resolves", StateFiring, -time.Hour, false, time.Minute, StateResolved, true},
		{"firing without for resolves", StateFiring, -time.Hour, false, 0, StateResolved, true},
		{"resolved stays resolved", StateResolved, 0, false, 0, StateResolved, false},
		{"resolved becomes pending again", StateResolved, 0, true, time.Minute, StatePending, true},
		{"resolved fires again without for", StateResolved, 0, true, 0, StateFiring, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := State{State: c.from, Since: now.Add(-time.Hour)}
			if c.from == StatePending || c.from == StateFiring {
				s.ActiveAt = now.Add(c.active)
			}
			from, changed := s.step(c.holds, 7, c.forDur, now)
			if from != c.from || s.State != c.want || changed != c.changed {
				t.Fatalf("step(%v) from %s = %s (changed %v), want %s (changed %v)", c.holds, c.from, s.State, changed, c.want, c.changed)
			}
			if s.Value != 7 {
				t.Errorf("value %v, want 7", s.Value)
			}
			if changed && !s.Since.Equal(now) {
				t.Errorf("since %v, want %v", s.Since, now)
			}
			if !changed && !s.Since.Equal(now.Add(-time.Hour)) {
				t.Errorf("since moved without a change")
			}
			switch s.State {
			case StateFiring:
				if changed && !s.FiredAt.Equal(now) {
					t.Errorf("fired at %v, want %v", s.FiredAt, now)
				}
				if s.ActiveAt.IsZero() {
					t.Error("firing without active_at")
				}
			case StatePending:
				if changed && !s.ActiveAt.Equal(now) {
					t.Errorf("active at %v, want %v", s.ActiveAt, now)
				}
			case StateResolved:
				if changed && !s.ResolvedAt.Equal(now) {
					t.Errorf("resolved at %v, want %v", s.ResolvedAt, now)
				}
			case StateInactive:
				if !s.ActiveAt.IsZero() {
					t.Error("inactive keeps active_at")
				}
			}
		})
	}
}

func TestConditionHolds(t *testing.T) {
	cases := []struct {
		op   Op
		v    float64
		want bool
	}{
		{OpGreater, 10, false}, {OpGreater, 11, true},
		{OpGreaterEqual, 9, false}, {OpGreaterEqual, 10, true},
		{OpLess, 10, false}, {OpLess, 9, true},
		{OpLessEqual, 11, false}, {OpLessEqual, 10, true},
		{OpEqual, 10, true}, {OpEqual, 11, false},
		{OpNotEqual, 10, false}, {OpNotEqual, 0, true},
	}
	for _, c := range cases {
		if got := (Condition{Op: c.op, Threshold: 10}).Holds(c.v); got != c.want {
			t.Errorf("%v %s 10 = %v, want %v", c.v, c.op, got, c.want)
		}
	}
}

// TestWindowLowerBound checks the sliding window against a brute-force
// count: never above the exact count of [now-span, now], and short of it
// only by the logs in the bucket that straddles now-span.
func TestWindowLowerBound(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, span := range []time.Duration{time.Second, 5 * time.Minute, 61 * time.Second, time.Hour} {
		w := newWindow(span)
		var stamps []int64
		now := t0.UnixNano()
		for range 5000 {
			now += rng.Int64N(int64(span) / 50)
			ts := now - rng.Int64N(int64(span)*2) // some too old already
			w.add(ts, 1)
			stamps = append(stamps, ts)
			got := w.count(now)
			var exact, edge int64
			for _, s := range stamps {
				if s >= now-int64(span) && s <= now {
					exact++
					if s < ceilDiv(now-int64(span), w.width)*w.width {
						edge++
					}
				}
			}
			if got > exact || got < exact-edge {
				t.Fatalf("span %s: count %d, exact %d (edge bucket %d)", span, got, exact, edge)
			}
		}
	}
}

func TestWindowSeedRangeMatchesBuckets(t *testing.T) {
	w := newWindow(5 * time.Minute)
	now := t0.Add(1234567 * time.Microsecond).UnixNano()
	from, to, width := w.seedRange(now)
	if from.UnixNano()%int64(width) != 0 {
		t.Errorf("seed range starts at %v, not on a bucket boundary of %v", from, width)
	}
	if from.UnixNano() > now-int64(5*time.Minute) || !to.After(time.Unix(0, now)) {
		t.Errorf("seed range [%v, %v) does not cover the window ending %v", from, to, time.Unix(0, now))
	}
	if width != 5*time.Second {
		t.Errorf("bucket width %v, want 5s", width)
	}
}
