package httpapi

import (
	"context"
	"io"
	"net/http"
	"strconv"

	"github.com/labstack/echo/v4"
)

// Health reports readiness and the figures of /api/v1/stats.
type Health interface {
	// Ready returns nil when storage is open and migrations are done, and
	// details worth showing (index lag and the like) either way.
	Ready() (details map[string]any, err error)
	Stats(ctx context.Context) (map[string]any, error)
}

// Admin runs the operator's actions.
type Admin interface {
	Backup(ctx context.Context, w io.Writer, since uint64, start func(next uint64)) (next uint64, err error)
	Retention(ctx context.Context) (map[string]any, error)
	Reindex(ctx context.Context) error
}

func (s *Server) healthz(c echo.Context) error {
	return c.JSON(http.StatusOK, map[string]any{"status": "ok", "version": s.opts.Version})
}

func (s *Server) readyz(c echo.Context) error {
	details, err := s.deps.Health.Ready()
	if details == nil {
		details = map[string]any{}
	}
	if err != nil {
		details["status"] = "not ready"
		details["error"] = err.Error()
		return c.JSON(http.StatusServiceUnavailable, details)
	}
	details["status"] = "ready"
	return c.JSON(http.StatusOK, details)
}

func (s *Server) stats(c echo.Context) error {
	st, err := s.deps.Health.Stats(c.Request().Context())
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, st)
}

func (s *Server) backup(c echo.Context) error {
	since, err := uintParam(c, "since")
	if err != nil {
		return err
	}
	w := c.Response()
	started := false
	_, err = s.deps.Admin.Backup(c.Request().Context(), w, since, func(next uint64) {
		started = true
		w.Header().Set(echo.HeaderContentType, "application/octet-stream")
		w.Header().Set("Content-Disposition", `attachment; filename="logengine.backup"`)
		w.Header().Set("X-Backup-Version", strconv.FormatUint(next, 10))
		w.WriteHeader(http.StatusOK)
	})
	if err != nil && !started {
		return err
	}
	if err != nil {
		// The status is sent; the cut stream fails to load, which the
		// client sees, and the log says why.
		s.opts.Logger.Error("backup failed", "err", err)
	}
	return nil
}

func (s *Server) retention(c echo.Context) error {
	res, err := s.deps.Admin.Retention(c.Request().Context())
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, res)
}

func (s *Server) reindex(c echo.Context) error {
	if err := s.deps.Admin.Reindex(c.Request().Context()); err != nil {
		return err
	}
	return c.JSON(http.StatusAccepted, map[string]string{"status": "reindexing"})
}

func uintParam(c echo.Context, name string) (uint64, error) {
	v := c.QueryParam(name)
	if v == "" {
		return 0, nil
	}
	n, err := strconv.ParseUint(v, 10, 64)
	if err != nil {
		return 0, errorf(http.StatusBadRequest, "%s=%q is not a non-negative integer", name, v)
	}
	return n, nil
}
