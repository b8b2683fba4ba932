package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/logengine/logengine/internal/entryjson"
	"github.com/logengine/logengine/search"
	"github.com/logengine/logengine/storage"
)

// Tailer follows committed entries matching a query (search.Engine.Tail):
// it calls fn with each in commit order until ctx ends or fn fails.
type Tailer interface {
	Tail(ctx context.Context, query string, fn func(*storage.Entry) error) error
}

// tailWriteTimeout drops a client that stops reading: a write that cannot
// finish in this time ends the stream (ingest never waits for a tail).
const tailWriteTimeout = 30 * time.Second

// tail streams matching entries as Server-Sent Events: "log" events with an
// entry each, a comment every 15s to keep proxies from closing the stream,
// and a final "end" event saying why the stream ended.
func (s *Server) tail(c echo.Context) error {
	tailer := s.deps.Tailer
	if tailer == nil {
		return errorf(http.StatusNotImplemented, "live tail is not available")
	}
	q := c.QueryParam("q")
	if _, err := search.Parse(q); err != nil {
		return err
	}
	w := c.Response()
	rc := http.NewResponseController(w)
	w.Header().Set(echo.HeaderContentType, "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	w.Header().Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	write := func(event string, data []byte) error {
		if err := rc.SetWriteDeadline(time.Now().Add(tailWriteTimeout)); err != nil && !errors.Is(err, http.ErrNotSupported) {
			return err
		}
		var err error
		if event == "" {
			_, err = w.Write(data)
		} else {
			_, err = fmt.Fprintf(w, "event: %s\ndata: %s\n\n", event, data)
		}
		if err == nil {
			err = rc.Flush()
		}
		return err
	}
	if err := write("", []byte(": tailing\n\n")); err != nil {
		return nil
	}
	ctx, cancel := s.streamContext(c.Request().Context())
	// Entries come from the tail in a second goroutine, heartbeats from a
	// ticker; only this one writes. It returns once the tail has ended:
	// the daemon closes storage when HTTP has shut down, and no reader of
	// it may outlive that.
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()
	entries := make(chan []byte, 256)
	errc := make(chan error, 1)
	wg.Go(func() {
		errc <- tailer.Tail(ctx, q, func(e *storage.Entry) error {
			b, err := json.Marshal(entryjson.From(e))
			if err != nil {
				return err
			}
			select {
			case entries <- b:
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		})
	})
	ping := time.NewTicker(15 * time.Second)
	defer ping.Stop()
	for {
		select {
		case b := <-entries:
			if err := write("log", b); err != nil {
				return nil // the client is gone or too slow
			}
		case <-ping.C:
			if err := write("", []byte(": ping\n\n")); err != nil {
				return nil
			}
		case err := <-errc:
			reason := "ended"
			switch {
			case errors.Is(context.Cause(ctx), errShuttingDown):
				reason = errShuttingDown.Error()
			case err != nil && !errors.Is(err, context.Canceled):
				reason = err.Error()
			}
			b, _ := json.Marshal(map[string]string{"reason": reason})
			_ = write("end", b)
			return nil
		}
	}
}
