// Package retention owns how long logs are kept. A run drops the whole UTC
// days older than the retention period, from storage and from the keyword
// index, in the one order that cannot bring a dropped day back into the
// index; then it deletes, entry by entry inside the days kept, the sources
// kept for a shorter time, and hands those deletions to the keyword index
// through storage's tombstones. The daemon decides when to run it (a cron
// schedule, an operator's request); this package decides what a run does.
package retention

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/logengine/logengine/internal/duration"
	"github.com/logengine/logengine/storage"
)

// DayStore is the storage retention drops whole days from.
type DayStore interface {
	// Days returns, ascending, the days holding entries in [from, to)
	// (Unix nanoseconds).
	Days(from, to int64) ([]storage.Day, error)
	DropDay(day storage.Day) error
	RunValueLogGC(ctx context.Context, discardRatio float64) error
}

// SourceStore is the storage retention deletes single sources from. A
// deletion records its entries as tombstones, which the keyword indexer
// reads once the deletion is complete.
type SourceStore interface {
	DeleteSource(ctx context.Context, source string, lo, hi storage.ID) (int, error)
	// FinishDeletes finishes the deletions a failure or a crash left
	// unfinished; until then their days are skipped by DeleteSource.
	FinishDeletes(ctx context.Context) error
}

// Index is the keyword index, one shard per day.
type Index interface {
	DropDay(day storage.Day) error
}

// Indexer keeps the keyword index up to date with storage.
type Indexer interface {
	// ForgetRecent drops the entries handed over at commit and not yet
	// indexed, so that the indexer reads them back from storage instead.
	ForgetRecent()
	// ApplyDeletes hands storage's tombstones to the keyword index, so
	// that it counts no deleted entry, and waits until it has, or ctx ends.
	ApplyDeletes(ctx context.Context) error
}

// Deps are the parts a run works on.
type Deps struct {
	Days    DayStore
	Sources SourceStore
	Index   Index
	Indexer Indexer
}

// Config is the retention policy.
type Config struct {
	// Period is how long logs are kept: a run drops every UTC day that
	// ends before now minus Period, whole. Zero keeps logs forever.
	Period time.Duration
	// BySource keeps the named sources for a shorter time than Period,
	// entry by entry inside the days kept. Each must be positive and,
	// when Period is set, shorter than it.
	BySource map[string]time.Duration
	// IndexWait is how long a run waits for the keyword index to remove
	// the entries it deleted by source; zero means a minute.
	IndexWait time.Duration
	// Logger receives what each run dropped and deleted; nil discards it.
	Logger *slog.Logger
	// Now is the clock the cutoffs are taken from; nil means time.Now.
	Now func() time.Time
}

// Validate reports the first setting a run could not apply.
func (c Config) Validate() error {
	if c.Period < 0 {
		return errors.New("retention: period must be 0 (keep forever) or positive")
	}
	for _, src := range sortedSources(c.BySource) {
		d := c.BySource[src]
		if d <= 0 || (c.Period > 0 && d >= c.Period) {
			return fmt.Errorf("retention of source %s: %s must be positive and shorter than the retention period (%s), which already applies to every source",
				src, duration.Format(d), duration.Format(c.Period))
		}
	}
	return nil
}

// Enabled reports whether a run has anything to do.
func (c Config) Enabled() bool { return c.Period > 0 || len(c.BySource) > 0 }

// Policy applies a Config to storage and the keyword index. Runs may
// overlap (the schedule and an operator's request): every step finds done
// what another run did first, and does nothing more.
type Policy struct {
	cfg  Config
	deps Deps
	log  *slog.Logger
	now  func() time.Time
}

// New returns the policy of cfg over deps; cfg is taken as valid (see
// Validate).
func New(cfg Config, deps Deps) *Policy {
	if cfg.IndexWait <= 0 {
		cfg.IndexWait = time.Minute
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Policy{cfg: cfg, deps: deps, log: cfg.Logger, now: cfg.Now}
}

// Result is what one run did.
type Result struct {
	// Period is the retention period the run applied; zero: forever.
	Period time.Duration
	// DroppedDays are the whole days dropped, oldest first.
	DroppedDays []storage.Day
	// DeletedBySource counts the entries deleted for each source of
	// Config.BySource, every one of them present.
	DeletedBySource map[string]int
	// Errors are the failures the run went on after; what was done stands.
	Errors []error
}

// Run applies the policy once and returns what it did. A failure to drop
// a day ends the run with an error; a failure of one source is reported in
// Result.Errors and the other sources go on.
func (p *Policy) Run(ctx context.Context) (Result, error) {
	now := p.now()
	res := Result{Period: p.cfg.Period, DroppedDays: []storage.Day{}, DeletedBySource: map[string]int{}}
	// Whole days first: they free the most, and the per-source deletions
	// then need not rewrite days about to go.
	if p.cfg.Period > 0 {
		dropped, err := p.dropDays(ctx, storage.DayOf(now.Add(-p.cfg.Period).UnixNano()))
		res.DroppedDays = dropped
		if err != nil {
			return res, err
		}
	}
	if len(p.cfg.BySource) > 0 {
		res.Errors = p.deleteSources(ctx, now, res.DeletedBySource)
	}
	if len(res.DroppedDays) > 0 {
		// A dropped day leaves its values behind in the value log until
		// garbage collection rewrites the files they share.
		if err := p.deps.Days.RunValueLogGC(ctx, 0.5); err != nil {
			p.log.Warn("value log gc after retention failed", "err", err)
		}
	}
	return res, nil
}

// dropDays drops every day before keep from storage and from the keyword
// index, oldest first, and returns those it dropped.
//
// The order is what keeps a dropped day out of the index. Storage goes
// first: from then on, an indexer that reads the day's entries back finds
// none and skips them. The indexer's hand-over ring goes second: it may
// still hold entries of the day, committed before the drop and not yet
// indexed, and would index them without reading storage, making a new
// shard for a day storage no longer has; it is cleared after the storage
// drop, since entries committed before it would fill it again. The shard
// goes last: dropped any earlier, the indexer, still behind on the day,
// would build it again from the entries storage still had. A step of the
// indexer already under way can still write the day's shard; the indexer
// drops shards of days storage does not have when it starts.
func (p *Policy) dropDays(ctx context.Context, keep storage.Day) ([]storage.Day, error) {
	days, err := p.deps.Days.Days(0, keep.Start())
	if err != nil {
		return nil, fmt.Errorf("retention: list days: %w", err)
	}
	dropped := []storage.Day{}
	for _, day := range days {
		if err := ctx.Err(); err != nil {
			return dropped, err
		}
		if err := p.deps.Days.DropDay(day); err != nil {
			return dropped, fmt.Errorf("retention: %w", err)
		}
		p.deps.Indexer.ForgetRecent()
		if err := p.deps.Index.DropDay(day); err != nil {
			return dropped, fmt.Errorf("retention: %w", err)
		}
		p.log.Info("retention dropped a day", "day", day.String())
		dropped = append(dropped, day)
	}
	return dropped, nil
}

// deleteSources deletes the entries older than their source's retention,
// counting them in deleted, and returns the failures: one source's does
// not stop the others.
func (p *Policy) deleteSources(ctx context.Context, now time.Time, deleted map[string]int) []error {
	var errs []error
	// Deletions a failure or a crash left unfinished, once per run: their
	// days are skipped by DeleteSource until they are finished, and the
	// index learns of them only then.
	if err := p.deps.Sources.FinishDeletes(ctx); err != nil {
		p.log.Error("per-source retention: an earlier deletion could not be finished; its days are skipped until it is", "err", err)
		errs = append(errs, err)
	}
	for _, src := range sortedSources(p.cfg.BySource) {
		ret := p.cfg.BySource[src]
		cutoff := storage.ID{Nanos: now.Add(-ret).UnixNano()}
		n, err := p.deps.Sources.DeleteSource(ctx, src, storage.MinID, cutoff)
		if err != nil {
			p.log.Error("per-source retention failed", "source", src, "deleted", n, "err", err)
			errs = append(errs, err)
		}
		if n > 0 {
			p.log.Info("per-source retention deleted entries", "source", src, "entries", n, "retention", duration.Format(ret))
		}
		deleted[src] = n
	}
	// The deletions are recorded in storage, and the keyword index follows
	// them between two indexer steps, so that a step holding entries read
	// before a deletion cannot index them again after it. Waiting a little
	// lets the answer mean that keyword counts are exact already; nothing
	// depends on it, since the tombstones stay until the index has used
	// them, at the latest when the indexer next starts.
	wctx, cancel := context.WithTimeout(ctx, p.cfg.IndexWait)
	err := p.deps.Indexer.ApplyDeletes(wctx)
	cancel()
	if err != nil {
		p.log.Warn("the keyword index has not removed the deleted entries yet; it will", "err", err)
	}
	return errs
}

// FinishInterrupted finishes the per-source deletions a crash interrupted.
// The daemon calls it when it starts, before the keyword indexer runs, so
// that the index learns of them at once rather than at the next run. A
// failure need not keep the daemon from starting: the days of such a
// deletion are skipped by per-source retention until it can be finished.
func (p *Policy) FinishInterrupted(ctx context.Context) error {
	if err := p.deps.Sources.FinishDeletes(ctx); err != nil {
		return fmt.Errorf("retention: finish interrupted deletions: %w", err)
	}
	return nil
}

// sortedSources returns the sources of bySource in name order, so that
// runs and their logs are the same from one run to the next.
func sortedSources(bySource map[string]time.Duration) []string {
	srcs := make([]string, 0, len(bySource))
	for src := range bySource {
		srcs = append(srcs, src)
	}
	slices.Sort(srcs)
	return srcs
}
