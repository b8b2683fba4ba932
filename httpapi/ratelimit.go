package httpapi

import (
	"math"
	"net/http"
	"strconv"
	"sync"

	"golang.org/x/time/rate"
)

// limiter holds one token bucket per API key (per client address when no
// keys are configured). The map is bounded: past maxClients it is reset,
// which at worst hands a few clients a fresh burst.
type limiter struct {
	rps   rate.Limit
	burst int
	mu    sync.Mutex
	byKey map[string]*rate.Limiter // guarded by mu
}

const maxClients = 10000

func newLimiter(rps float64, burst int) *limiter {
	if rps <= 0 {
		return nil
	}
	if burst <= 0 {
		burst = int(math.Ceil(rps))
	}
	return &limiter{rps: rate.Limit(rps), burst: burst, byKey: map[string]*rate.Limiter{}}
}

// allow takes a token for the client, or says how long until one is free.
func (l *limiter) allow(client string) (bool, int) {
	if l == nil {
		return true, 0
	}
	l.mu.Lock()
	lim := l.byKey[client]
	if lim == nil {
		if len(l.byKey) >= maxClients {
			l.byKey = map[string]*rate.Limiter{}
		}
		lim = rate.NewLimiter(l.rps, l.burst)
		l.byKey[client] = lim
	}
	l.mu.Unlock()
	r := lim.Reserve()
	if d := r.Delay(); d > 0 {
		r.Cancel()
		return false, int(math.Ceil(d.Seconds()))
	}
	return true, 0
}

func rateLimited(retryAfter int) error {
	return &apiError{status: http.StatusTooManyRequests, msg: "rate limit of this API key exceeded: retry after " + strconv.Itoa(max(retryAfter, 1)) + "s (raise limits.rate_per_second if this is expected traffic)", retryAfter: max(retryAfter, 1)}
}
