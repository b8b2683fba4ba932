// Package journal is how the daemon's parts consume storage's journal (the
// list, per commit, of the entries it added; see storage/journal.go): the
// loop that steps a consumer, waits for the next commit when it has caught
// up and retries a failed step with backoff; the fetch of a step's entries
// from the in-memory handoff first and storage for the rest; and the
// trimmer that deletes the journal behind the slowest durable checkpoint.
//
// What a consumer does with the entries, and where and when it records how
// far it got, stays with the consumer, because that is where they differ:
// the keyword indexer moves its checkpoint in storage only once its shards
// are on disk, the alert evaluator writes its checkpoint in its own bucket
// atomically with the alert states it changed, and live tail has no
// durable checkpoint at all and starts at the newest commit. A durable
// consumer tells the trimmer its checkpoint through Checkpointer.
package journal

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/logengine/logengine/storage"
)

// MinRetry and MaxRetry bound the wait before retrying a failed step.
const (
	MinRetry = 100 * time.Millisecond
	MaxRetry = 30 * time.Second
)

// Backoff returns the wait before the next retry when the previous one
// waited prev (zero after a success): twice as long, from MinRetry up to
// MaxRetry. A store that fails for a while (a full disk, a compaction
// stall) is then asked again within a fraction of a second at first, and
// at most every half minute once the failure persists.
func Backoff(prev time.Duration) time.Duration {
	return min(max(2*prev, MinRetry), MaxRetry)
}

// Sleep waits d, or until ctx ends; it reports whether d passed.
func Sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// Step does a consumer's next piece of work, typically reading the journal
// after its position and consuming what it lists. It returns how many
// journal entries it consumed: after a step that consumed some, more may be
// waiting and the loop steps again at once; after one that consumed none,
// it waits for the next commit.
type Step func(ctx context.Context) (int, error)

// Wait blocks until changed is closed (something was committed since the
// step began), ctx ends, or something else the consumer serves while idle
// arrives (the consumer serves it before returning).
type Wait func(ctx context.Context, changed <-chan struct{})

// Loop runs a consumer's steps until its context ends.
type Loop struct {
	Store *storage.Store
	// Name is the consumer in the log line of a failed step
	// ("<Name> failed; retrying").
	Name string
	// Log receives failed steps; nil discards them.
	Log *slog.Logger
	// Fatal reports whether a step's error ends Run instead of being
	// retried; storage.ErrClosed always ends it. Nil retries every other
	// error.
	Fatal func(error) bool
}

// Run calls step until ctx ends, then returns nil. A step that fails is
// retried after Backoff, unless its error is fatal: then Run returns it.
// When a step consumed nothing, Run waits with wait (nil: for the next
// commit or the end of ctx). The changed channel is taken before each step,
// so a commit made while the step runs is never waited for.
func (l Loop) Run(ctx context.Context, step Step, wait Wait) error {
	if wait == nil {
		wait = waitCommit
	}
	log := l.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	var backoff time.Duration
	for {
		changed := l.Store.Changed()
		n, err := step(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			if errors.Is(err, storage.ErrClosed) || (l.Fatal != nil && l.Fatal(err)) {
				return err
			}
			backoff = Backoff(backoff)
			log.Error(l.Name+" failed; retrying", "err", err, "retry_in", backoff)
			if !Sleep(ctx, backoff) {
				return nil
			}
			continue
		}
		backoff = 0
		if n > 0 {
			continue // more may be waiting
		}
		wait(ctx, changed)
		if ctx.Err() != nil {
			return nil
		}
	}
}

func waitCommit(ctx context.Context, changed <-chan struct{}) {
	select {
	case <-changed:
	case <-ctx.Done():
	}
}
