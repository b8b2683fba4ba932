package httpapi

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"

	"github.com/labstack/echo/v4"

	"github.com/logengine/logengine/storage"
)

// apiError is an error with the status it answers.
type apiError struct {
	status     int
	msg        string
	retryAfter int // seconds, for 429
}

func (e *apiError) Error() string { return e.msg }

func errorf(status int, format string, args ...any) error {
	return &apiError{status: status, msg: fmt.Sprintf(format, args...)}
}

// invalidInput is implemented by the domain packages' errors that blame the
// request (a malformed query, an unknown field): they answer 400.
type invalidInput interface{ InvalidInput() bool }

// conflict is implemented by the domain packages' errors about a request
// that clashes with what exists (a duplicate name, a notifier in use): they
// answer 409.
type conflict interface{ Conflict() bool }

// unavailable is implemented by the domain packages' errors about a part
// that is out of service for a while (a damaged keyword index being
// rebuilt): they answer 503.
type unavailable interface{ Unavailable() bool }

// tooLarge is implemented by the domain packages' errors about a valid
// request that needs more than the configuration allows (a group-by over
// too many distinct keys): they answer 422, and their message says how to
// narrow the request.
type tooLarge interface{ TooLarge() bool }

// missingPeers is implemented by errors of a cluster answer that could not
// be given without some peers; the error answer names them.
type missingPeers interface{ MissingPeers() []string }

// status maps every error to its HTTP status; it is the only place that
// does.
func status(err error) int {
	var ae *apiError
	var he *echo.HTTPError
	var ii invalidInput
	var cf conflict
	var un unavailable
	var tl tooLarge
	var pe *partialError
	switch {
	case errors.As(err, &ae):
		return ae.status
	case errors.As(err, &pe):
		return http.StatusServiceUnavailable
	case errors.As(err, &he):
		return he.Code
	case errors.As(err, &ii) && ii.InvalidInput():
		return http.StatusBadRequest
	case errors.As(err, &cf) && cf.Conflict():
		return http.StatusConflict
	case errors.As(err, &un) && un.Unavailable():
		return http.StatusServiceUnavailable
	case errors.As(err, &tl) && tl.TooLarge():
		return http.StatusUnprocessableEntity
	case errors.Is(err, storage.ErrNotFound):
		return http.StatusNotFound
	case errors.Is(err, storage.ErrOverloaded):
		return http.StatusTooManyRequests
	case errors.Is(err, storage.ErrDiskFull):
		return http.StatusInsufficientStorage
	case errors.Is(err, storage.ErrClosed):
		return http.StatusServiceUnavailable
	case errors.Is(err, context.DeadlineExceeded):
		return http.StatusServiceUnavailable
	case errors.Is(err, context.Canceled):
		return 499 // client went away; nobody reads the answer
	}
	return http.StatusInternalServerError
}

func (s *Server) handleError(err error, c echo.Context) {
	if c.Response().Committed {
		return
	}
	code := status(err)
	msg := err.Error()
	var he *echo.HTTPError
	if errors.As(err, &he) {
		msg = fmt.Sprint(he.Message)
	}
	var ae *apiError
	switch {
	case code == http.StatusTooManyRequests && errors.As(err, &ae) && ae.retryAfter > 0:
		c.Response().Header().Set("Retry-After", strconv.Itoa(ae.retryAfter))
	case code == http.StatusTooManyRequests:
		c.Response().Header().Set("Retry-After", "1")
		msg = "logengine is at capacity: retry after the delay in Retry-After (" + msg + ")"
	case code == http.StatusInsufficientStorage:
		msg = "the disk is full: nothing of this request was stored; free space and retry (" + msg + ")"
	case code == http.StatusInternalServerError:
		s.opts.Logger.Error("request failed", "method", c.Request().Method, "path", c.Path(), "err", err)
	}
	if c.Request().Method == http.MethodHead {
		_ = c.NoContent(code)
		return
	}
	var mp missingPeers
	if errors.As(err, &mp) {
		_ = c.JSON(code, map[string]any{"error": msg, "missing_peers": mp.MissingPeers()})
		return
	}
	_ = c.JSON(code, map[string]string{"error": msg})
}
