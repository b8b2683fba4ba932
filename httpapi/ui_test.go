package httpapi

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/labstack/echo/v4"
)

// TestUIWithoutKey checks that the web UI loads without an API key while
// the API behind it still asks for one.
func TestUIWithoutKey(t *testing.T) {
	s, _ := newTestServer(t, Options{Keys: []Key{{Name: "ops", Role: RoleAdmin, Secret: "0123456789abcdef-key"}}})
	tests := []struct {
		name, path, accept string
		status             int
		contentType        string
	}{
		{"page", "/", "text/html,application/xhtml+xml", http.StatusOK, "text/html"},
		{"alerts page", "/alerts", "text/html", http.StatusOK, "text/html"},
		{"script", "/ui/js/app.js", "*/*", http.StatusOK, "text/javascript"},
		{"style sheet", "/ui/app.css", "text/css", http.StatusOK, "text/css"},
		{"missing asset", "/ui/nope.js", "*/*", http.StatusNotFound, ""},
		{"api", "/api/v1/logs", "application/json", http.StatusUnauthorized, "application/json"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := request(t, s, http.MethodGet, tt.path, nil, "Accept", tt.accept)
			if rec.Code != tt.status {
				t.Fatalf("GET %s: %d, want %d: %s", tt.path, rec.Code, tt.status, rec.Body)
			}
			if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, tt.contentType) {
				t.Errorf("GET %s: Content-Type %q, want %s", tt.path, ct, tt.contentType)
			}
		})
	}
}

// TestPageOr checks the split of a path shared by the page and an API:
// browsers asking for HTML get the page, other clients the API.
func TestPageOr(t *testing.T) {
	page := func(c echo.Context) error { return c.String(http.StatusOK, "page") }
	api := func(c echo.Context) error { return c.String(http.StatusOK, "api") }
	h := pageOr(page, api)
	for accept, want := range map[string]string{
		"text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8": "page",
		"application/json": "api",
		"application/vnd.elasticsearch+json; compatible-with=8": "api",
		"*/*": "api",
		"":    "api",
	} {
		req := httptest.NewRequest(http.MethodGet, "/", nil)
		if accept != "" {
			req.Header.Set("Accept", accept)
		}
		rec := httptest.NewRecorder()
		if err := h(echo.New().NewContext(req, rec)); err != nil {
			t.Fatal(err)
		}
		if got := rec.Body.String(); got != want {
			t.Errorf("Accept %q: %s, want %s", accept, got, want)
		}
	}
}
