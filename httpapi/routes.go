package httpapi

import (
	"net/http"

	"github.com/labstack/echo/v4"
)

// routes is the one place that lists every endpoint and the role it needs.
func (s *Server) routes() {
	e := s.e
	e.GET("/healthz", s.healthz)
	e.GET("/readyz", s.readyz)

	ingest := s.require(RoleIngest)
	query := s.require(RoleQuery)
	admin := s.require(RoleAdmin)

	e.POST("/api/v1/logs", s.ingest, ingest)
	e.GET("/api/v1/logs", s.search, query)
	e.POST("/api/v1/search", s.searchPost, query)
	e.GET("/api/v1/logs/:id", s.getLog, query)
	e.GET("/api/v1/tail", s.tail, query)
	e.GET("/api/v1/aggregate", s.aggregate, query)
	e.GET("/api/v1/histogram", s.histogram, query)
	e.GET("/api/v1/stats", s.stats, query)
	if s.deps.Metrics != nil {
		e.GET("/metrics", echo.WrapHandler(s.deps.Metrics), query)
	}

	e.GET("/api/v1/admin/backup", s.backup, admin)
	e.POST("/api/v1/admin/retention", s.retention, admin)
	e.POST("/api/v1/admin/reindex", s.reindex, admin)

	e.RouteNotFound("/*", func(c echo.Context) error {
		return errorf(http.StatusNotFound, "no such endpoint: %s %s (see the API overview in the README)", c.Request().Method, c.Request().URL.Path)
	})
}
