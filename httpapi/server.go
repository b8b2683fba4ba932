// Package httpapi owns logengine's HTTP interface: the Echo routes, request
// and response types, authentication, limits and the one mapping of errors
// to status codes. Handlers translate HTTP into calls of the ingest, search
// and alerting packages and hold no business logic.
package httpapi

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"runtime/debug"
	"time"

	"github.com/labstack/echo/v4"
)

// Options configures the HTTP server.
type Options struct {
	// Listen is the address to listen on, host:port.
	Listen string
	// MaxBodyBytes bounds an ingest request body after decompression; zero
	// means 64 MiB.
	MaxBodyBytes int64
	// MaxInflightBytes bounds the ingest body bytes handled at once; more
	// is answered 429. Zero means 32 MiB.
	MaxInflightBytes int64
	// ReadHeaderTimeout, ReadTimeout, WriteTimeout and IdleTimeout are the
	// http.Server timeouts; zero means 10s, 5m, 5m and 2m.
	ReadHeaderTimeout, ReadTimeout, WriteTimeout, IdleTimeout time.Duration
	// TLSCertFile and TLSKeyFile enable TLS (1.2 at least) when both are set.
	TLSCertFile, TLSKeyFile string
	// Keys are the API keys; none means no authentication, which the caller
	// allows on loopback only.
	Keys []Key
	// RatePerSecond and Burst bound the requests of each API key (each
	// client address without keys); zero RatePerSecond turns it off.
	RatePerSecond float64
	Burst         int
	Logger        *slog.Logger
	// Version is reported by /healthz.
	Version string
	// PeerKey, when set, lets the other nodes of a cluster query this one
	// (see peer.go); NodeName is this node's name in their answers.
	PeerKey, NodeName string
}

func (o *Options) setDefaults() {
	if o.MaxBodyBytes <= 0 {
		o.MaxBodyBytes = 64 << 20
	}
	if o.MaxInflightBytes <= 0 {
		o.MaxInflightBytes = 32 << 20
	}
	if o.ReadHeaderTimeout <= 0 {
		o.ReadHeaderTimeout = 10 * time.Second
	}
	if o.ReadTimeout <= 0 {
		o.ReadTimeout = 5 * time.Minute
	}
	if o.WriteTimeout <= 0 {
		o.WriteTimeout = 5 * time.Minute
	}
	if o.IdleTimeout <= 0 {
		o.IdleTimeout = 2 * time.Minute
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
}

// Deps are the parts of the daemon the handlers call.
type Deps struct {
	Ingester Ingester
	Searcher Searcher
	Health   Health
	Admin    Admin
	// Tailer, when set, serves the live tail (see tail.go); without it
	// /api/v1/tail answers 501.
	Tailer Tailer
	// Metrics serves /metrics; Observer counts requests. Both optional.
	Metrics  http.Handler
	Observer Observer
	// Protocols, when set, serves the ingest APIs of Elasticsearch, Loki
	// and OpenTelemetry (see ecosystem.go).
	Protocols ProtocolIngester
	// Alerting, when set, serves alert rules, notifiers and alerts (see
	// alerts.go).
	Alerting Alerting
	// Explorer, when set, serves the export, an entry's context and the
	// facets of a match (see explore.go).
	Explorer Explorer
	// Saved, when set, keeps the web UI's saved searches (see saved.go).
	Saved SavedSearches
	// Patterns, when set, serves the message templates of a match (see
	// patterns.go).
	Patterns PatternLister
}

// Observer records request counts and query latencies.
type Observer interface {
	ObserveHTTP(route string, code int)
	ObserveQuery(endpoint string, d time.Duration)
}

// Server is the HTTP server.
type Server struct {
	opts  Options
	deps  Deps
	e     *echo.Echo
	srv   *http.Server
	ln    net.Listener
	auth  *authenticator
	limit *limiter
	admit *admission

	// streams ends when Shutdown begins. http.Server.Shutdown waits for
	// every active connection, and an answer that streams until the
	// client leaves (live tail) would otherwise hold the stop until its
	// timeout, and run on while storage closes.
	streams     context.Context
	stopStreams context.CancelFunc
}

// errShuttingDown ends the answers that stream when the server shuts down.
var errShuttingDown = errors.New("the server is shutting down")

// New builds the server and its routes; Listen and Serve start it.
func New(opts Options, deps Deps) (*Server, error) {
	opts.setDefaults()
	auth, err := newAuthenticator(opts.Keys)
	if err != nil {
		return nil, err
	}
	s := &Server{opts: opts, deps: deps, auth: auth, limit: newLimiter(opts.RatePerSecond, opts.Burst),
		admit: &admission{limit: opts.MaxInflightBytes}}
	s.streams, s.stopStreams = context.WithCancel(context.Background())
	s.e = echo.New()
	s.e.HideBanner = true
	s.e.HidePort = true
	s.e.HTTPErrorHandler = s.handleError
	s.e.Use(s.recoverPanic)
	s.e.Use(s.peer)
	if deps.Observer != nil {
		s.e.Use(s.observe)
	}
	s.routes()
	s.srv = &http.Server{
		Handler:           s.e,
		ReadHeaderTimeout: opts.ReadHeaderTimeout,
		ReadTimeout:       opts.ReadTimeout,
		WriteTimeout:      opts.WriteTimeout,
		IdleTimeout:       opts.IdleTimeout,
		ErrorLog:          slog.NewLogLogger(opts.Logger.Handler(), slog.LevelWarn),
	}
	s.srv.RegisterOnShutdown(s.stopStreams)
	return s, nil
}

// recoverPanic answers a request whose handler panicked with a 500 and a
// JSON error, and logs the panic, rather than letting net/http drop the
// connection. The domain packages contain their own faults (a damaged
// index answers ErrShardDamaged); this is the last line.
func (s *Server) recoverPanic(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) (err error) {
		defer func() {
			r := recover()
			if r == nil {
				return
			}
			if r == http.ErrAbortHandler {
				panic(r) // the handler's way to cut a streamed answer
			}
			s.opts.Logger.Error("request panicked", "method", c.Request().Method, "path", c.Path(), "panic", r, "stack", string(debug.Stack()))
			err = errorf(http.StatusInternalServerError, "internal error: the request failed unexpectedly and is logged")
		}()
		return next(c)
	}
}

// streamContext returns the context of an answer that streams until the
// client leaves: it also ends, with errShuttingDown as its cause, when the
// server shuts down. Every such answer runs on one, so that Shutdown waits
// for requests that end on their own only. Call cancel when the answer ends.
func (s *Server) streamContext(req context.Context) (ctx context.Context, cancel context.CancelFunc) {
	ctx, cancelCause := context.WithCancelCause(req)
	stop := context.AfterFunc(s.streams, func() { cancelCause(errShuttingDown) })
	return ctx, func() {
		stop()
		cancelCause(context.Canceled)
	}
}

// Handler returns the routed handler (for tests).
func (s *Server) Handler() http.Handler { return s.e }

// Listen binds the listening socket, so that the caller learns a bad
// address before anything else starts.
func (s *Server) Listen() error {
	ln, err := net.Listen("tcp", s.opts.Listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", s.opts.Listen, err)
	}
	s.ln = ln
	return nil
}

// Addr returns the address the server listens on.
func (s *Server) Addr() net.Addr { return s.ln.Addr() }

// Serve serves until Shutdown; it returns nil after a clean shutdown.
func (s *Server) Serve() error {
	var err error
	if s.opts.TLSCertFile != "" {
		s.srv.TLSConfig = tlsConfig()
		err = s.srv.ServeTLS(s.ln, s.opts.TLSCertFile, s.opts.TLSKeyFile)
	} else {
		err = s.srv.Serve(s.ln)
	}
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

// Shutdown stops accepting connections, ends the answers that stream until
// the client leaves (live tail), and waits for the other requests in
// flight (an ingest request in flight is finished and acknowledged) until
// ctx ends. When it returns nil, no handler runs any more.
func (s *Server) Shutdown(ctx context.Context) error {
	return s.srv.Shutdown(ctx)
}

// queryRoutes are the routes whose latency is the query latency histogram.
var queryRoutes = map[string]string{
	"/api/v1/logs":      "search",
	"/api/v1/search":    "search",
	"/api/v1/aggregate": "aggregate",
	"/api/v1/histogram": "histogram",
}

func (s *Server) observe(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		start := time.Now()
		err := next(c)
		code := c.Response().Status
		if err != nil {
			code = status(err)
		}
		route := c.Path()
		if route == "" || route == "/*" {
			route = "unmatched"
		}
		s.deps.Observer.ObserveHTTP(route, code)
		ingest := route == "/api/v1/logs" && c.Request().Method == http.MethodPost
		if ep, ok := queryRoutes[route]; ok && !ingest && code < 400 {
			s.deps.Observer.ObserveQuery(ep, time.Since(start))
		}
		return err
	}
}
