package httpapi

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/logengine/logengine/webui"
)

// routes is the one place that lists every endpoint and the role it needs.
func (s *Server) routes() {
	e := s.e
	e.GET("/healthz", s.healthz)
	e.GET("/readyz", s.readyz)

	ingest := s.require(RoleIngest)
	query := s.require(RoleQuery)
	admin := s.require(RoleAdmin)

	body := s.admitBody // after auth: bounds the ingest bytes in flight

	e.POST("/api/v1/logs", s.ingest, ingest, body)
	e.GET("/api/v1/logs", s.search, query)
	e.POST("/api/v1/search", s.searchPost, query)
	e.GET("/api/v1/logs/:id", s.getLog, query)
	e.GET("/api/v1/tail", s.tail, query)
	e.GET("/api/v1/aggregate", s.aggregate, query)
	e.GET("/api/v1/histogram", s.histogram, query)
	e.GET("/api/v1/stats", s.stats, query)
	if s.deps.Explorer != nil {
		e.GET("/api/v1/export", s.export, query)
		e.GET("/api/v1/facets", s.facets, query)
		e.GET("/api/v1/logs/:id/context", s.logContext, query)
	}
	if s.deps.Patterns != nil {
		e.GET("/api/v1/patterns", s.patterns, query)
	}
	if s.deps.Metrics != nil {
		e.GET("/metrics", echo.WrapHandler(s.deps.Metrics), query)
	}

	// The web UI, without a key (the page asks for one). GET / is shared
	// with Elasticsearch's node info below: browsers get the page.
	ui := uiHandler()
	e.GET("/", ui)
	e.GET("/alerts", ui)
	e.GET(webui.Prefix+"*", ui)

	if s.deps.Protocols != nil {
		// Other log systems' ingest APIs, with their own auth headers
		// mapped onto the same keys (see presentedKeys).
		e.GET("/", pageOr(ui, elasticProduct(ingest(s.esInfo))))
		e.HEAD("/", s.esInfo, elasticProduct, ingest)
		for _, p := range []string{"/_bulk", "/:index/_bulk"} {
			e.POST(p, s.esBulk, elasticProduct, ingest, body)
			e.PUT(p, s.esBulk, elasticProduct, ingest, body)
		}
		e.POST("/loki/api/v1/push", s.lokiPush, ingest, body)
		e.POST("/v1/logs", s.otlpLogs, ingest, body)
	}

	if s.deps.Alerting != nil {
		e.POST("/api/v1/alert-rules", s.createRule, admin)
		e.GET("/api/v1/alert-rules", s.listRules, query)
		e.GET("/api/v1/alert-rules/:id", s.getRule, query)
		e.PUT("/api/v1/alert-rules/:id", s.updateRule, admin)
		e.DELETE("/api/v1/alert-rules/:id", s.deleteRule, admin)
		e.POST("/api/v1/alert-rules/:id/mute", s.muteRule, admin)
		e.DELETE("/api/v1/alert-rules/:id/mute", s.unmuteRule, admin)
		e.POST("/api/v1/notifiers", s.createNotifier, admin)
		e.GET("/api/v1/notifiers", s.listNotifiers, query)
		e.DELETE("/api/v1/notifiers/:name", s.deleteNotifier, admin)
		e.GET("/api/v1/alerts", s.listAlerts, query)
		e.GET("/api/v1/alerts/history", s.alertHistory, query)
	}

	if s.deps.Saved != nil {
		e.GET("/api/v1/saved-searches", s.listSaved, query)
		e.GET("/api/v1/saved-searches/:name", s.getSaved, query)
		e.PUT("/api/v1/saved-searches/:name", s.putSaved, admin)
		e.DELETE("/api/v1/saved-searches/:name", s.deleteSaved, admin)
	}

	e.GET("/api/v1/admin/backup", s.backup, admin)
	e.POST("/api/v1/admin/retention", s.retention, admin)
	e.POST("/api/v1/admin/reindex", s.reindex, admin)

	e.RouteNotFound("/*", func(c echo.Context) error {
		return errorf(http.StatusNotFound, "no such endpoint: %s %s (see the API overview in the README)", c.Request().Method, c.Request().URL.Path)
	})
}
