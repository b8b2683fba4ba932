package journal

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/logengine/logengine/storage"
)

// Checkpointer is a durable consumer of the journal as the Trimmer sees
// it.
type Checkpointer interface {
	// Checkpoint returns the sequence up to which the consumer no longer
	// needs the journal, now or after a restart: at most its durable
	// checkpoint, and zero while it does not know.
	Checkpoint() (uint64, error)
}

// TrimmerOptions configures a Trimmer.
type TrimmerOptions struct {
	// Interval is how often Run trims; zero means one minute. The journal
	// costs a few bytes per entry, so trimming rarely is cheap; trimming
	// often only adds tombstones for Badger to compact.
	Interval time.Duration
	// Logger receives trims and failures; nil discards them.
	Logger *slog.Logger
}

// DefaultTrimmerOptions returns the options the daemon runs with.
func DefaultTrimmerOptions() TrimmerOptions {
	return TrimmerOptions{Interval: time.Minute}
}

// Trimmer deletes the journal behind the slowest of the durable
// consumers, so that it holds what some consumer still has to read and
// not every entry ever committed.
//
// A consumer without a durable checkpoint (live tail) is not waited for:
// it follows the newest commits, and one that falls behind the slowest
// durable consumer and finds its part of the journal gone is told so (see
// search.Engine.Tail) rather than fed a gap.
type Trimmer struct {
	store     *storage.Store
	consumers []Checkpointer
	opts      TrimmerOptions
	log       *slog.Logger

	// mu makes trims run one at a time; trimmed is the sequence up to
	// which the journal was last trimmed. Guarded by mu.
	mu      sync.Mutex
	trimmed uint64
	// start is the lowest sequence the journal lists as of the last trim
	// (zero: not trimmed yet).
	start atomic.Uint64
}

// NewTrimmer returns a trimmer of store's journal that never deletes what
// one of consumers still needs.
func NewTrimmer(store *storage.Store, consumers []Checkpointer, opts TrimmerOptions) *Trimmer {
	if opts.Interval <= 0 {
		opts.Interval = DefaultTrimmerOptions().Interval
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	return &Trimmer{store: store, consumers: consumers, opts: opts, log: opts.Logger}
}

// Run trims at once and then every Interval until ctx ends, then returns
// nil. A failed trim is logged and tried again at the next interval; Run
// returns an error only when the store is closed under it.
func (t *Trimmer) Run(ctx context.Context) error {
	tick := time.NewTicker(t.opts.Interval)
	defer tick.Stop()
	for {
		if _, err := t.Trim(ctx); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			if errors.Is(err, storage.ErrClosed) {
				return err
			}
			t.log.Error("journal trim failed; retrying at the next interval", "err", err, "retry_in", t.opts.Interval)
		}
		select {
		case <-tick.C:
		case <-ctx.Done():
			return nil
		}
	}
}

// Trim deletes the journal records whose entries every consumer has
// passed, and returns how many it deleted. With no consumers it deletes
// nothing: who would read the journal is not known.
func (t *Trimmer) Trim(ctx context.Context) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	upTo, err := t.lowest()
	if err != nil {
		return 0, err
	}
	n := 0
	if upTo > t.trimmed {
		if n, err = t.store.TrimJournal(ctx, upTo); err != nil {
			return n, err
		}
		t.trimmed = upTo
		if n > 0 {
			t.log.Debug("journal trimmed", "up_to", upTo, "records", n)
		}
	}
	start, err := t.store.JournalStart(ctx)
	if err != nil {
		return n, err
	}
	t.start.Store(start)
	return n, nil
}

// lowest returns the lowest checkpoint of the consumers.
func (t *Trimmer) lowest() (uint64, error) {
	if len(t.consumers) == 0 {
		return 0, nil
	}
	low := uint64(0)
	for i, c := range t.consumers {
		cp, err := c.Checkpoint()
		if err != nil {
			return 0, fmt.Errorf("trim journal: consumer checkpoint: %w", err)
		}
		if i == 0 || cp < low {
			low = cp
		}
	}
	return low, nil
}

// Entries returns how many committed entries the journal lists: those
// above the last trim, committed since included. Before the first trim it
// counts every committed entry.
func (t *Trimmer) Entries() uint64 {
	high := t.store.HighSeq()
	start := max(t.start.Load(), 1)
	if start > high {
		return 0
	}
	return high - start + 1
}
