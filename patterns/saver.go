package patterns

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
)

// StateKey is the key a Saver stores the state under.
const StateKey = "state"

// StateStore keeps the state of a Miner durably (storage.Bucket is one).
type StateStore interface {
	Put(key string, value []byte) error
}

// SaverOptions configures a Saver.
type SaverOptions struct {
	// Interval is how often the state is saved when templates changed
	// without anyone waiting for it (counts, merges, evictions); zero
	// means one minute.
	Interval time.Duration
	Logger   *slog.Logger
}

// ErrSaverStopped is what Sync returns once the saver no longer runs.
var ErrSaverStopped = errors.New("patterns: the template saver is stopped")

// Saver saves the state of a Miner so that template ids survive restarts
// and crashes. The ids an entry carries must not be given to another
// template after a crash, so a caller about to store entries with an id
// the saved state does not cover calls Sync first. Saves are coalesced: one
// goroutine (Run) marshals and stores the state for every caller that asked
// before it started.
type Saver struct {
	miner    *Miner
	store    StateStore
	interval time.Duration
	log      *slog.Logger

	// savedNext is the next id of the last saved state: an id below it can
	// never be handed out again after a restart.
	savedNext atomic.Uint64

	// wake asks Run for a save; it holds at most one pending request.
	wake chan struct{}
	// stopped is closed when Run returns.
	stopped  chan struct{}
	stopOnce sync.Once

	// mu guards the generations, lastErr and saved. A caller takes the
	// generation requested+1; a save covers every generation requested
	// before it started.
	mu        sync.Mutex
	requested uint64
	attempted uint64 // the generation the last save covered
	done      uint64 // the generation the last successful save covered
	lastErr   error  // of the save that covered attempted
	// saved is closed and replaced when a save ends, waking the callers.
	saved chan struct{}

	saves, failures atomic.Uint64
}

// NewSaver returns a saver of m into store. The state of m must be the one
// store holds: new and empty, or just loaded from it.
func NewSaver(m *Miner, store StateStore, opts SaverOptions) *Saver {
	if opts.Interval <= 0 {
		opts.Interval = time.Minute
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	s := &Saver{
		miner: m, store: store, interval: opts.Interval, log: opts.Logger,
		wake: make(chan struct{}, 1), stopped: make(chan struct{}), saved: make(chan struct{}),
	}
	m.mu.RLock()
	s.savedNext.Store(m.nextID + 1)
	m.mu.RUnlock()
	return s
}

// Sync returns once id is covered by a saved state: at once for an id the
// last save covered (the common case, one atomic load), else after a save
// that started after the call. An error means the id may not survive a
// crash and the entries carrying it must not be acknowledged.
func (s *Saver) Sync(ctx context.Context, id uint64) error {
	if id < s.savedNext.Load() {
		return nil
	}
	s.mu.Lock()
	s.requested++
	gen := s.requested
	s.mu.Unlock()
	select {
	case s.wake <- struct{}{}:
	default: // a save is asked for already; it will see gen
	}
	for {
		s.mu.Lock()
		done, attempted, err, saved := s.done, s.attempted, s.lastErr, s.saved
		s.mu.Unlock()
		switch {
		case done >= gen:
			return nil
		case attempted >= gen:
			return err
		}
		select {
		case <-saved:
		case <-ctx.Done():
			return fmt.Errorf("wait for the template state to be saved: %w", ctx.Err())
		case <-s.stopped:
			return ErrSaverStopped
		}
	}
}

// Run saves the state when Sync asks for it and every interval, until ctx
// ends. It does not save at the end: the owner calls Save once nothing
// adds templates any more (after ingest has stopped), before the store
// closes.
func (s *Saver) Run(ctx context.Context) error {
	defer s.stopOnce.Do(func() { close(s.stopped) })
	t := time.NewTicker(s.interval)
	defer t.Stop()
	var lastCreated, lastMerged, lastEvicted uint64
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-s.wake:
			s.saveRequested()
		case <-t.C:
			// Skip the periodic save of a state whose templates did not
			// change; counts alone are not worth a write every minute
			// unless something else changed too.
			c, m, e := s.miner.created.Load(), s.miner.merged.Load(), s.miner.evicted.Load()
			if c == lastCreated && m == lastMerged && e == lastEvicted {
				continue
			}
			lastCreated, lastMerged, lastEvicted = c, m, e
			s.saveRequested()
		}
	}
}

// saveRequested saves once for every generation requested so far and
// wakes their callers.
func (s *Saver) saveRequested() {
	s.mu.Lock()
	gen := s.requested
	s.mu.Unlock()
	err := s.Save()
	if err != nil {
		s.log.Error("saving the message templates failed; ingest of new templates fails until a save succeeds", "err", err)
	}
	s.mu.Lock()
	s.attempted, s.lastErr = gen, err
	if err == nil {
		s.done = gen
	}
	close(s.saved)
	s.saved = make(chan struct{})
	s.mu.Unlock()
}

// Save marshals and stores the state now. Run calls it; the owner calls it
// once more at shutdown.
func (s *Saver) Save() error {
	data, err := s.miner.MarshalBinary()
	if err != nil {
		return fmt.Errorf("save templates: %w", err)
	}
	// The state starts with the next id: every id below it was handed out
	// before the state was read, so none of them can be reused from it.
	next, n := binary.Uvarint(data[len(stateMagic):])
	if n <= 0 {
		return errors.New("BUG: save templates: the state does not start with the next id")
	}
	if err := s.store.Put(StateKey, data); err != nil {
		s.failures.Add(1)
		return fmt.Errorf("save templates (%d bytes): %w", len(data), err)
	}
	s.saves.Add(1)
	// nextID is the last id handed out: ids up to it are covered.
	for {
		old := s.savedNext.Load()
		if next+1 <= old || s.savedNext.CompareAndSwap(old, next+1) {
			break
		}
	}
	return nil
}

// SaverStats counts the saves of a Saver, for metrics.
type SaverStats struct {
	Saves, Failures uint64
}

// Stats returns the counters of s.
func (s *Saver) Stats() SaverStats {
	return SaverStats{Saves: s.saves.Load(), Failures: s.failures.Load()}
}
