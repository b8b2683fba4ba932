package webui

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestHandler(t *testing.T) {
	h := New()
	get := func(path string, headers ...string) *httptest.ResponseRecorder {
		t.Helper()
		req := httptest.NewRequest(http.MethodGet, path, nil)
		for i := 0; i+1 < len(headers); i += 2 {
			req.Header.Set(headers[i], headers[i+1])
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec
	}

	page := get("/")
	if page.Code != http.StatusOK || !strings.Contains(page.Body.String(), `<script type="module" src="/ui/js/app.js">`) {
		t.Fatalf("GET /: %d %.200s", page.Code, page.Body)
	}
	if csp := page.Header().Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") {
		t.Errorf("the page's Content-Security-Policy is %q", csp)
	}

	// Every asset the page names is served with its type.
	for _, tt := range []struct{ path, contentType string }{
		{"/ui/app.css", "text/css"},
		{"/ui/favicon.svg", "image/svg+xml"},
		{"/ui/js/app.js", "text/javascript"},
		{"/ui/js/table.js", "text/javascript"},
	} {
		rec := get(tt.path)
		if rec.Code != http.StatusOK || !strings.HasPrefix(rec.Header().Get("Content-Type"), tt.contentType) {
			t.Errorf("GET %s: %d %q", tt.path, rec.Code, rec.Header().Get("Content-Type"))
		}
		if !strings.Contains(page.Body.String(), tt.path) && !strings.HasSuffix(tt.path, "table.js") {
			t.Errorf("the page does not name %s", tt.path)
		}
	}

	// A revalidation with the ETag answers 304.
	rec := get("/ui/js/app.js")
	etag := rec.Header().Get("ETag")
	if etag == "" {
		t.Fatal("no ETag")
	}
	if again := get("/ui/js/app.js", "If-None-Match", etag); again.Code != http.StatusNotModified {
		t.Errorf("If-None-Match: %d, want 304", again.Code)
	}

	for _, p := range []string{"/ui/", "/ui/missing.js", "/ui/../webui.go"} {
		if rec := get(p); rec.Code != http.StatusNotFound {
			t.Errorf("GET %s: %d, want 404", p, rec.Code)
		}
	}
	req := httptest.NewRequest(http.MethodPost, "/", nil)
	post := httptest.NewRecorder()
	h.ServeHTTP(post, req)
	if post.Code != http.StatusMethodNotAllowed {
		t.Errorf("POST /: %d, want 405", post.Code)
	}
}
