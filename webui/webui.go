// Package webui holds logengine's web interface: plain HTML, CSS and
// JavaScript modules embedded in the binary, served without a build step.
// The page talks to the HTTP API like any other client; it needs no key to
// load, and asks for one when the API answers 401.
package webui

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strings"
	"time"
)

//go:embed static
var static embed.FS

// Pages are the paths that answer with the application's page; the page
// picks its view from the path.
var Pages = []string{"/", "/alerts"}

// Prefix is where the assets are served from.
const Prefix = "/ui/"

// contentSecurityPolicy allows nothing but this origin: no inline scripts,
// no third-party hosts. Log data is only ever put into the page as text.
const contentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; font-src 'self'; form-action 'none'; frame-ancestors 'none'; base-uri 'none'"

type asset struct {
	body        []byte
	etag        string
	contentType string
}

// Handler serves the page at each of Pages and the assets under Prefix.
type Handler struct {
	assets  map[string]asset // by path under Prefix, and "index.html"
	started time.Time
}

// New reads the embedded assets and hashes them for their ETags.
func New() *Handler {
	h := &Handler{assets: map[string]asset{}, started: time.Now()}
	err := fs.WalkDir(static, "static", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := static.ReadFile(p)
		if err != nil {
			return fmt.Errorf("read %s: %w", p, err)
		}
		sum := sha256.Sum256(b)
		ct := mime.TypeByExtension(path.Ext(p))
		switch path.Ext(p) {
		case ".js", ".mjs":
			ct = "text/javascript; charset=utf-8"
		case ".svg":
			ct = "image/svg+xml"
		case "":
			ct = "text/plain; charset=utf-8"
		}
		if ct == "" {
			ct = "application/octet-stream"
		}
		h.assets[strings.TrimPrefix(p, "static/")] = asset{
			body:        b,
			etag:        `"` + hex.EncodeToString(sum[:12]) + `"`,
			contentType: ct,
		}
		return nil
	})
	// The files are compiled in: failing to read them is a broken build.
	if err != nil {
		panic("BUG: read the embedded web UI: " + err.Error())
	}
	if _, ok := h.assets["index.html"]; !ok {
		panic("BUG: the embedded web UI has no index.html")
	}
	return h
}

// ServeHTTP answers GET and HEAD for the pages and the assets; anything
// else under Prefix is a 404.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	name := "index.html"
	if p, ok := strings.CutPrefix(r.URL.Path, Prefix); ok {
		name = p
	}
	a, ok := h.assets[name]
	if !ok || name == "" {
		http.NotFound(w, r)
		return
	}
	hd := w.Header()
	hd.Set("Content-Type", a.contentType)
	hd.Set("ETag", a.etag)
	// Revalidate every time: the answer is a 304 when nothing changed, and
	// a new binary's assets are picked up at once.
	hd.Set("Cache-Control", "no-cache")
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("Referrer-Policy", "no-referrer")
	if name == "index.html" {
		hd.Set("Content-Security-Policy", contentSecurityPolicy)
		hd.Set("X-Frame-Options", "DENY")
	}
	http.ServeContent(w, r, name, h.started, bytes.NewReader(a.body))
}
