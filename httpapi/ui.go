package httpapi

import (
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/logengine/logengine/webui"
)

// uiHandler serves the web UI's pages and assets. They need no API key: the
// page asks for one when the API answers 401 and sends it on each call.
func uiHandler() echo.HandlerFunc { return echo.WrapHandler(webui.New()) }

// wantsPage reports whether a request comes from a browser navigating to a
// page: it asks for HTML, where API clients (and Elasticsearch shippers
// probing GET /) ask for JSON or anything.
func wantsPage(r *http.Request) bool {
	return strings.Contains(r.Header.Get(echo.HeaderAccept), "text/html")
}

// pageOr answers browsers with page and every other request with next, for
// a path that both the web UI and an API share.
func pageOr(page, next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if wantsPage(c.Request()) {
			return page(c)
		}
		return next(c)
	}
}
