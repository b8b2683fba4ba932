package cluster

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/logengine/logengine/internal/entryjson"
	"github.com/logengine/logengine/storage"
)

// Tailer follows this node's committed entries (search.Engine.Tail).
type Tailer interface {
	Tail(ctx context.Context, query string, fn func(*storage.Entry) error) error
}

// Tail follows the entries of every node.
type Tail struct {
	c     *Cluster
	local Tailer
	// retry is the wait before following a peer again after its stream
	// broke.
	retry time.Duration
}

// Tailer returns the live tail of the cluster over this node's.
func (c *Cluster) Tailer(local Tailer) *Tail {
	return &Tail{c: c, local: local, retry: 2 * time.Second}
}

// Tail calls fn with each matching entry committed on any node from now
// on, one call at a time, until ctx ends or fn fails. Entries of one node
// come in its commit order; the nodes' streams interleave as they arrive.
// A peer that cannot be followed is tried again every few seconds; peers
// that appear later (a DNS name resolving anew) join the next tail.
func (t *Tail) Tail(ctx context.Context, query string, fn func(*storage.Entry) error) error {
	if IsPeerCall(ctx) {
		return t.local.Tail(ctx, query, fn)
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var mu sync.Mutex
	call := func(e *storage.Entry) error {
		mu.Lock()
		defer mu.Unlock()
		return fn(e)
	}
	var wg sync.WaitGroup
	for _, p := range t.c.peers() {
		wg.Go(func() { t.follow(ctx, p, query, call, cancel) })
	}
	err := t.local.Tail(ctx, query, call)
	cancel(err)
	wg.Wait()
	if cause := context.Cause(ctx); err != nil && errors.Is(err, context.Canceled) && cause != nil && !errors.Is(cause, context.Canceled) {
		return cause // a peer's entry could not be handed on
	}
	return err
}

// errHandOff wraps fn's error: the tail's client is gone.
type errHandOff struct{ err error }

func (e *errHandOff) Error() string { return e.err.Error() }
func (e *errHandOff) Unwrap() error { return e.err }

// follow streams one peer's tail into fn until ctx ends, again after each
// break; fn failing ends the whole tail through stop.
func (t *Tail) follow(ctx context.Context, peer, query string, fn func(*storage.Entry) error, stop context.CancelCauseFunc) {
	for ctx.Err() == nil {
		err := t.stream(ctx, peer, query, fn)
		var ho *errHandOff
		switch {
		case errors.As(err, &ho):
			stop(ho.err)
			return
		case errors.Is(err, errSelf):
			t.c.markSelf(peer)
			return
		case ctx.Err() != nil:
			return
		}
		t.c.opts.Logger.Warn("cluster peer tail broke; following it again", "peer", peer, "err", err, "in", t.retry)
		select {
		case <-ctx.Done():
		case <-time.After(t.retry):
		}
	}
}

// stream reads one peer's Server-Sent Events until they end.
func (t *Tail) stream(ctx context.Context, peer, query string, fn func(*storage.Entry) error) error {
	hctx, cancel := context.WithCancel(ctx)
	defer cancel()
	timer := time.AfterFunc(t.c.opts.Timeout, cancel) // until the headers come
	params := url.Values{}
	if query != "" {
		params.Set("q", query)
	}
	_, resp, err := t.c.get(hctx, peer, "/api/v1/tail", params)
	if !timer.Stop() && err == nil {
		resp.Body.Close()
		return errors.New("no answer within the peer timeout")
	}
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	event := ""
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "":
			event = ""
		case strings.HasPrefix(line, "event: "):
			event = strings.TrimPrefix(line, "event: ")
		case strings.HasPrefix(line, "data: ") && event == "log":
			var j entryjson.Entry
			if err := decodeJSON(strings.NewReader(strings.TrimPrefix(line, "data: ")), &j); err != nil {
				return fmt.Errorf("read an entry: %w", err)
			}
			e, err := entryjson.Parse(j)
			if err != nil {
				return err
			}
			if err := fn(&e); err != nil {
				return &errHandOff{err}
			}
		case strings.HasPrefix(line, "data: ") && event == "end":
			return fmt.Errorf("its tail ended: %s", strings.TrimPrefix(line, "data: "))
		}
	}
	if err := sc.Err(); err != nil {
		return err
	}
	return errors.New("its tail ended")
}
