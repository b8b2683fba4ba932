package httpapi

import (
	"net/http"
	"sync"

	"github.com/labstack/echo/v4"
)

// admission bounds the ingest body bytes being read, decoded and stored at
// once. Without it every waiting request holds several times its body in
// memory before the store can refuse it, so memory grows with the number of
// clients and refused requests still cost their decoding. A body larger
// than the limit is admitted only when nothing else is in flight.
type admission struct {
	mu    sync.Mutex
	used  int64 // guarded by mu
	limit int64
}

// unknownLength is what a body without Content-Length is charged.
const unknownLength = 4 << 20

func (a *admission) acquire(n int64) (release func(), err error) {
	if a == nil || a.limit <= 0 {
		return func() {}, nil
	}
	if n <= 0 {
		n = unknownLength
	}
	n = min(n, a.limit)
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.used > 0 && a.used+n > a.limit {
		return nil, &apiError{status: http.StatusTooManyRequests, retryAfter: 1,
			msg: "logengine is at capacity (ingest requests in flight hold the limit of limits.max_inflight_bytes): retry after the delay in Retry-After"}
	}
	a.used += n
	return func() {
		a.mu.Lock()
		a.used -= n
		a.mu.Unlock()
	}, nil
}

// admitBody is the middleware of ingest routes: it reserves the request's
// body bytes before the body is read, and answers 429 when they do not fit.
func (s *Server) admitBody(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		release, err := s.admit.acquire(c.Request().ContentLength)
		if err != nil {
			return err
		}
		defer release()
		return next(c)
	}
}
