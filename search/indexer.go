package search

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"slices"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/logengine/logengine/internal/handoff"
	"github.com/logengine/logengine/internal/journal"
	"github.com/logengine/logengine/storage"
)

// checkpointName is the indexer's name as a journal consumer in storage.
const checkpointName = "indexer"

// IndexerOptions configures an Indexer.
type IndexerOptions struct {
	// BatchSize is how many journal entries one step reads at most (whole
	// commits, so a step may hold a few more). A step takes what is there
	// and never waits for more, so batches are small when ingest is light
	// and grow to BatchSize when the indexer falls behind. Zero means
	// 10,000, where Bleve's per-batch costs stop mattering.
	BatchSize int
	// Logger receives rebuilds and errors; nil discards them.
	Logger *slog.Logger
	// Now is the clock of Lag; nil means time.Now.
	Now func() time.Time
}

// DefaultIndexerOptions returns the options the daemon runs with.
func DefaultIndexerOptions() IndexerOptions {
	return IndexerOptions{BatchSize: 10000}
}

// Indexer keeps the keyword index up to date with storage. It tails the
// journal from its durable checkpoint, fetches the entries and indexes their
// messages, one Bleve batch per day per step; each batch records its highest
// sequence (see writeBatch) and the checkpoint moves only after every batch
// of the step is on disk. After a crash the step is simply done again:
// documents are keyed by entry id, so indexing one twice replaces it.
type Indexer struct {
	store *storage.Store
	index *Index
	opts  IndexerOptions
	log   *slog.Logger

	running atomic.Bool
	reindex chan chan error // Reindex's requests, served by Run
	// nudge asks Run to apply storage's tombstones (ApplyDeletes).
	nudge chan struct{}
	// waiters counts the WaitIndexed calls waiting; wake, sent to when one
	// starts, ends a gathering wait (see gatherFor) at once.
	waiters atomic.Int32
	wake    chan struct{}
	// gatherSince is when the entries Run lets gather started to (see
	// gatherFor); Run's only.
	gatherSince time.Time

	// indexed is the sequence up to which every entry is searchable; zero
	// until Run has checked the shards against storage.
	indexed atomic.Uint64

	mu       sync.Mutex
	advanced chan struct{} // closed and replaced when indexed grows; guarded by mu
	seen     []seqSeen     // ascending; when sequences above indexed were first seen committed; guarded by mu
	// applyStarted and applyDone count the applications of tombstones
	// started and completed (the number of the last one completed), and
	// applied is closed and replaced whenever one completes or Run ends,
	// for ApplyDeletes to wait on. Guarded by mu.
	applyStarted, applyDone uint64
	applyErr                error
	applied                 chan struct{}

	// groups is the per-day grouping of one step, reused; Run's only.
	groups map[storage.Day][]bleveDoc
	// recent holds committed messages handed over by the ingest path.
	recent handoff.Ring[bleveDoc]
	// fetch takes a step's messages from recent, or storage; Run's only.
	fetch *journal.Fetcher[bleveDoc]
	// gone holds, ascending, the ids of deleted entries the indexer had not
	// reached when their deletion was applied, until it is past goneUntil,
	// the highest of their sequences: the handoff may still hand them over,
	// and they must not be indexed again. Run's only.
	gone      []storage.ID
	goneUntil uint64

	// beforeCheckpoint, when set (by tests), runs after a step's shards are
	// written and before the checkpoint is stored; an error ends Run there,
	// which is what a kill at that moment leaves on disk.
	beforeCheckpoint func(last uint64) error
}

type seqSeen struct {
	seq uint64
	at  time.Time
}

// NewIndexer returns an indexer that keeps index up to date with store.
func NewIndexer(store *storage.Store, index *Index, opts IndexerOptions) *Indexer {
	if opts.BatchSize <= 0 {
		opts.BatchSize = 10000
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	ix := &Indexer{
		store:    store,
		index:    index,
		opts:     opts,
		log:      opts.Logger,
		reindex:  make(chan chan error),
		nudge:    make(chan struct{}, 1),
		wake:     make(chan struct{}, 1),
		applied:  make(chan struct{}),
		advanced: make(chan struct{}),
		groups:   make(map[storage.Day][]bleveDoc),
		// Room for ~15 s of a 35,000 logs/s load: Bleve's merges and
		// Badger's compactions take the CPU from indexing for seconds at a
		// time, and an indexer that falls out of the ring reads entries
		// back from Badger at several times the cost, which at such rates
		// it did not catch up from. At most 64 MiB of messages, so that a
		// lagging indexer adds little to the daemon's memory under overload.
		recent: handoff.Ring[bleveDoc]{Size: 1 << 19, MaxBytes: 64 << 20},
	}
	ix.fetch = journal.NewFetcher(store, &ix.recent)
	return ix
}

// Run indexes until ctx ends, then returns nil. It first checks the shards
// against storage: a day with entries whose shard is missing or does not
// open is rebuilt from storage, and a shard of a day storage no longer has
// is dropped. Failed steps are logged and retried with backoff; Run returns
// an error only when the store or the index is closed under it. Whoever
// calls Run owns it: no goroutine the Indexer starts outlives a call.
func (ix *Indexer) Run(ctx context.Context) error {
	if !ix.running.CompareAndSwap(false, true) {
		return errors.New("keyword indexer: already running")
	}
	defer func() {
		ix.running.Store(false)
		ix.mu.Lock()
		close(ix.applied) // ApplyDeletes stops waiting
		ix.applied = make(chan struct{})
		ix.mu.Unlock()
	}()

	var cp uint64
	recovered := false
	var gathering time.Duration // how long the next wait lets entries gather
	loop := journal.Loop{
		Store: ix.store,
		Name:  "keyword indexer",
		Log:   ix.log,
		Fatal: func(err error) bool { return errors.Is(err, ErrIndexClosed) || errors.Is(err, errKilled) },
	}
	return loop.Run(ctx, func(ctx context.Context) (int, error) {
		ix.observe()
		if !recovered {
			var err error
			cp, err = ix.recover(ctx)
			recovered = err == nil
			return 1, err // then tail at once
		}
		select {
		case done := <-ix.reindex:
			err := ix.rebuildAll(ctx, &cp)
			done <- err
			return 1, err // then tail at once: commits may wait that no signal will announce
		case <-ix.nudge:
			ix.serveDeletes(ctx, cp)
			return 1, nil
		case <-ix.index.damageFound():
			return 1, ix.rebuildDamaged(ctx)
		default:
			if gathering = ix.gatherFor(cp); gathering > 0 {
				return 0, nil
			}
			return ix.step(ctx, &cp)
		}
	}, func(ctx context.Context, changed <-chan struct{}) {
		var gathered <-chan time.Time
		if gathering > 0 {
			t := time.NewTimer(gathering)
			defer t.Stop()
			gathered = t.C
		}
		select {
		case <-gathered:
		case <-ix.wake:
		case <-changed:
		case done := <-ix.reindex:
			err := ix.rebuildAll(ctx, &cp)
			done <- err
			if err != nil && ctx.Err() == nil {
				ix.log.Error("keyword index rebuild failed", "err", err)
			}
		case <-ix.nudge:
			ix.serveDeletes(ctx, cp)
		case <-ix.index.damageFound():
			if err := ix.rebuildDamaged(ctx); err != nil && ctx.Err() == nil {
				ix.log.Error("keyword index: rebuilding a damaged shard failed; will retry", "err", err)
			}
		case <-ctx.Done():
		}
	})
}

// rebuildDamaged rebuilds from storage the shards found damaged, the way
// recover rebuilds a missing one. It runs in Run, between steps, like
// every write to the index: the entries of the steps that skipped the
// damaged shard (see Index.write) are in storage, and so in the rebuild.
// When a rebuild fails the damage is signalled again, so that Run retries
// it after its backoff (step) or at its next wake.
func (ix *Indexer) rebuildDamaged(ctx context.Context) error {
	for _, d := range ix.index.Damaged() {
		ix.log.Warn("rebuilding damaged keyword index shard from storage", "day", d.Day.String(), "file", d.File)
		if err := ix.rebuildDay(ctx, d.Day); err != nil {
			ix.index.signalDamage()
			return err
		}
	}
	return nil
}

// gatherDelay is how long a few committed entries wait for more before they
// are indexed. Each write makes at least one block per day, and a block
// costs a Bleve document however few entries it holds: indexing each small
// commit at once would, under light load, make a block per commit. Waiting
// bounds the blocks to a few per second while searches stay exact (entries
// not yet indexed are checked directly) and WaitIndexed does not wait it.
const gatherDelay = 250 * time.Millisecond

// gatherFor returns how long to let the entries after cp gather before a
// step indexes them: zero when there are none, enough for a full block,
// someone waits for them (WaitIndexed), or the oldest has waited
// gatherDelay.
func (ix *Indexer) gatherFor(cp uint64) time.Duration {
	pending := ix.store.HighSeq() - min(cp, ix.store.HighSeq())
	if pending == 0 || pending >= blockSize || ix.waiters.Load() > 0 {
		ix.gatherSince = time.Time{}
		return 0
	}
	if ix.gatherSince.IsZero() {
		ix.gatherSince = time.Now()
	}
	d := gatherDelay - time.Since(ix.gatherSince)
	if d <= 0 {
		ix.gatherSince = time.Time{}
		return 0
	}
	return d
}

// Committed hands the indexer a batch the ingest path has just committed,
// so that it need not read the entries back (see handoff).
func (ix *Indexer) Committed(entries []storage.Entry) {
	ix.recent.Put(entries, func(e *storage.Entry) (bleveDoc, int) {
		return bleveDoc{id: e.ID, msg: e.Message}, int(unsafe.Sizeof(bleveDoc{})) + len(e.Message)
	})
}

// ForgetRecent drops the messages handed over and not indexed yet, so that
// the indexer reads them from storage and skips those deleted there. Call
// it after dropping a day from storage and before dropping its shard.
func (ix *Indexer) ForgetRecent() { ix.recent.Clear() }

// ApplyDeletes asks Run to remove from the index the entries deleted from
// storage inside a day (storage.Store.DeleteSource), so that keyword
// counts, which are taken from the index without reading entries, stay
// exact, and waits until it has, or ctx ends, or Run stops. Run does the
// work between two steps, so that a step holding entries read before the
// deletion cannot index them again after it. The deletions are recorded in
// storage: when Run is not running, or ctx ends first, they are applied
// later (at the latest when Run starts), and ApplyDeletes returns nil or
// ctx's error.
func (ix *Indexer) ApplyDeletes(ctx context.Context) error {
	if !ix.running.Load() {
		return nil
	}
	ix.mu.Lock()
	after := ix.applyStarted
	ix.mu.Unlock()
	select {
	case ix.nudge <- struct{}{}:
	default: // a nudge is pending; it is served after this call
	}
	for {
		ix.mu.Lock()
		done, err, ch := ix.applyDone, ix.applyErr, ix.applied
		ix.mu.Unlock()
		if done > after {
			return err
		}
		if !ix.running.Load() {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// serveDeletes applies the tombstones for ApplyDeletes. A failure is
// logged and returned to the callers waiting; the tombstones stay and are
// applied at the next request or start.
func (ix *Indexer) serveDeletes(ctx context.Context, cp uint64) {
	ix.mu.Lock()
	ix.applyStarted++
	n := ix.applyStarted
	ix.mu.Unlock()
	err := ix.applyDeletes(ctx, cp)
	if err != nil && ctx.Err() == nil {
		ix.log.Error("keyword index: removing deleted entries failed; will retry", "err", err)
	}
	ix.mu.Lock()
	ix.applyDone, ix.applyErr = n, err
	close(ix.applied)
	ix.applied = make(chan struct{})
	ix.mu.Unlock()
}

// applyDeletes removes the documents of storage's tombstones, one record
// at a time, each released once its documents are gone: a crash in between
// leaves the record, and the next start removes the documents again. cp is
// the indexer's checkpoint: deleted entries above it are remembered in
// gone, as the handoff may still hand them over.
func (ix *Indexer) applyDeletes(ctx context.Context, cp uint64) error {
	total := 0
	err := ix.store.Tombstones(ctx, func(ids []storage.ID) error {
		if err := ix.index.Delete(ids); err != nil {
			return err
		}
		for _, id := range ids {
			if id.Seq > cp {
				ix.gone = append(ix.gone, id)
				ix.goneUntil = max(ix.goneUntil, id.Seq)
			}
		}
		total += len(ids)
		return nil
	})
	slices.SortFunc(ix.gone, storage.ID.Compare)
	ix.gone = slices.Compact(ix.gone)
	if err != nil {
		return fmt.Errorf("keyword indexer: remove deleted entries: %w", err)
	}
	if total > 0 {
		ix.log.Info("deleted entries removed from the keyword index", "entries", total)
	}
	return nil
}

// dropGone removes from docs the entries deleted before they were handed
// over (see gone).
func (ix *Indexer) dropGone(docs []bleveDoc) []bleveDoc {
	return slices.DeleteFunc(docs, func(d bleveDoc) bool {
		_, found := slices.BinarySearchFunc(ix.gone, d.id, storage.ID.Compare)
		return found
	})
}

// errKilled is what a beforeCheckpoint hook returns to end Run at once.
var errKilled = errors.New("keyword indexer: killed by test hook")

// step indexes the next journal entries after *cp, at most about BatchSize,
// and moves the checkpoint past them. It returns how many journal entries
// it consumed (0: the journal is exhausted).
func (ix *Indexer) step(ctx context.Context, cp *uint64) (int, error) {
	ids, err := ix.store.ReadJournal(ctx, *cp, ix.opts.BatchSize)
	if err != nil || len(ids) == 0 {
		return 0, err
	}
	last := ids[len(ids)-1].Seq
	for d, docs := range ix.groups {
		clear(docs) // let the messages of the previous step go
		ix.groups[d] = docs[:0]
	}
	// Most entries were handed over at commit; the rest are read back.
	group := func(doc bleveDoc) {
		d := storage.DayOf(doc.id.Nanos)
		ix.groups[d] = append(ix.groups[d], doc)
	}
	err = ix.fetch.Fetch(ctx, ids, group, func(e *storage.Entry) bool {
		group(bleveDoc{id: e.ID, msg: e.Message})
		return true
	})
	if err != nil {
		return 0, fmt.Errorf("keyword indexer: fetch entries after %d: %w", *cp, err)
	}
	days := make([]storage.Day, 0, len(ix.groups))
	for d, docs := range ix.groups {
		if len(ix.gone) > 0 {
			docs = ix.dropGone(docs)
			ix.groups[d] = docs
		}
		if len(docs) > 0 {
			days = append(days, d)
		} else {
			delete(ix.groups, d) // a day seen once, maybe long ago
		}
	}
	slices.Sort(days)
	for _, d := range days {
		docs := ix.groups[d]
		var seq uint64
		for _, doc := range docs {
			seq = max(seq, doc.id.Seq)
		}
		if err := ix.index.write(d, docs, seq); err != nil {
			return 0, fmt.Errorf("keyword indexer: %w", err)
		}
	}
	if ix.beforeCheckpoint != nil {
		if err := ix.beforeCheckpoint(last); err != nil {
			return 0, err
		}
	}
	if err := ix.store.SetCheckpoint(checkpointName, last); err != nil {
		return 0, fmt.Errorf("keyword indexer: %w", err)
	}
	*cp = last
	if last >= ix.goneUntil {
		ix.gone = nil
	}
	ix.advance(last)
	return len(ids), nil
}

// recover checks every day storage has against the shards, rebuilds those
// missing or damaged, drops shards of days storage no longer has, and
// returns the checkpoint to tail from.
func (ix *Indexer) recover(ctx context.Context) (uint64, error) {
	cp, err := ix.store.Checkpoint(checkpointName)
	if err != nil {
		return 0, fmt.Errorf("keyword indexer: %w", err)
	}
	// Read the high sequence before listing days: every entry up to it is
	// then in a listed day and seen by the scans of a rebuild.
	high := ix.store.HighSeq()
	days, err := ix.store.Days(0, math.MaxInt64)
	if err != nil {
		return 0, fmt.Errorf("keyword indexer: %w", err)
	}
	rebuilt := 0
	for _, day := range days {
		ok, err := ix.index.check(day)
		switch {
		case errors.Is(err, ErrIndexClosed):
			return 0, err
		case err != nil:
			ix.log.Warn("keyword index shard does not open; rebuilding it from storage", "day", day.String(), "err", err)
		case !ok:
			ix.log.Warn("keyword index shard missing; rebuilding it from storage", "day", day.String())
		default:
			continue
		}
		if err := ix.rebuildDay(ctx, day); err != nil {
			return 0, err
		}
		rebuilt++
	}
	if err := ix.dropOrphans(); err != nil {
		return 0, err
	}
	if rebuilt > 0 && rebuilt == len(days) && high > cp {
		// Every shard was just built from storage, which held everything
		// up to high: tailing from cp would index those entries twice.
		if err := ix.store.SetCheckpoint(checkpointName, high); err != nil {
			return 0, fmt.Errorf("keyword indexer: %w", err)
		}
		cp = high
	}
	// Deletions a crash or a stop kept from the index. One that fails here
	// must not hold up indexing: its tombstones stay for the next request.
	if err := ix.applyDeletes(ctx, cp); err != nil {
		if errors.Is(err, storage.ErrClosed) || errors.Is(err, ErrIndexClosed) || ctx.Err() != nil {
			return 0, err
		}
		ix.log.Error("keyword index: removing deleted entries failed; will retry at the next retention run", "err", err)
	}
	ix.advance(cp)
	return cp, nil
}

// dropOrphans drops the shards of days storage no longer has: retention
// removed them from storage while the shard stayed, for instance because
// the process stopped in between. Storage's days are listed afresh: a
// shard is only ever made for entries found in storage, so a day listed
// now covers every shard the tail may have just made.
func (ix *Indexer) dropOrphans() error {
	days, err := ix.store.Days(0, math.MaxInt64)
	if err != nil {
		return fmt.Errorf("keyword indexer: %w", err)
	}
	for _, d := range ix.index.Days() {
		if _, found := slices.BinarySearch(days, d); found {
			continue
		}
		ix.log.Info("dropping keyword index shard of a day storage no longer has", "day", d.String())
		if err := ix.index.DropDay(d); err != nil {
			return err
		}
	}
	return nil
}

// rebuildDay rebuilds the shard of day from a scan of storage.
func (ix *Indexer) rebuildDay(ctx context.Context, day storage.Day) error {
	start := ix.opts.Now()
	n := 0
	err := ix.index.rebuild(day, func(write func([]bleveDoc, uint64) error) error {
		docs := make([]bleveDoc, 0, ix.opts.BatchSize)
		var seq uint64
		var werr error
		flush := func() {
			if len(docs) > 0 && werr == nil {
				werr = write(docs, seq)
				n += len(docs)
				clear(docs)
				docs = docs[:0]
			}
		}
		err := ix.store.Scan(ctx, dayStartID(day), dayStartID(day+1), false, func(e *storage.Entry) bool {
			docs = append(docs, bleveDoc{id: e.ID, msg: e.Message})
			seq = max(seq, e.ID.Seq)
			if len(docs) >= ix.opts.BatchSize {
				flush()
			}
			return werr == nil
		})
		if err != nil {
			return err
		}
		flush()
		return werr
	})
	if err != nil {
		return fmt.Errorf("keyword indexer: %w", err)
	}
	ix.log.Info("rebuilt keyword index shard from storage", "day", day.String(), "entries", n, "took", ix.opts.Now().Sub(start))
	return nil
}

// rebuildAll rebuilds every shard from storage, one day at a time, tailing
// the journal between days so that new entries stay searchable.
func (ix *Indexer) rebuildAll(ctx context.Context, cp *uint64) error {
	high := ix.store.HighSeq() // before listing days, as in recover
	days, err := ix.store.Days(0, math.MaxInt64)
	if err != nil {
		return fmt.Errorf("keyword indexer: %w", err)
	}
	ix.log.Info("rebuilding the keyword index from storage", "days", len(days))
	for _, day := range days {
		if err := ix.rebuildDay(ctx, day); err != nil {
			return err
		}
		target := ix.store.HighSeq()
		for *cp < target {
			n, err := ix.step(ctx, cp)
			if err != nil {
				return err
			}
			if n == 0 {
				break
			}
		}
	}
	if err := ix.dropOrphans(); err != nil {
		return err
	}
	if high > *cp {
		if err := ix.store.SetCheckpoint(checkpointName, high); err != nil {
			return fmt.Errorf("keyword indexer: %w", err)
		}
		*cp = high
		ix.advance(high)
	}
	return nil
}

// Reindex rebuilds every shard from storage and returns when done. Searches
// keep working on the old shards until each day's new one replaces it. The
// rebuild runs in Run and goes on if ctx ends first.
func (ix *Indexer) Reindex(ctx context.Context) error {
	if !ix.running.Load() {
		return errors.New("reindex: the keyword indexer is not running")
	}
	done := make(chan error, 1)
	select {
	case ix.reindex <- done:
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// IndexedSeq returns the sequence up to which every entry is searchable in
// the keyword index (0 while Run has not yet checked the shards).
func (ix *Indexer) IndexedSeq() uint64 { return ix.indexed.Load() }

// Checkpoint returns the sequence up to which the indexer no longer needs
// the journal (see journal.Trimmer): its durable checkpoint, or IndexedSeq
// when that is lower, because searches read the entries above IndexedSeq
// from the journal. It is IndexedSeq (0) while Run has not checked the
// shards, so nothing is trimmed before a rebuild has had its chance.
func (ix *Indexer) Checkpoint() (uint64, error) {
	// IndexedSeq first: it is never above the durable checkpoint for
	// long, and both only grow, so reading it first errs on the low side.
	indexed := ix.IndexedSeq()
	cp, err := ix.store.Checkpoint(checkpointName)
	if err != nil {
		return 0, fmt.Errorf("keyword indexer: %w", err)
	}
	return min(cp, indexed), nil
}

// WaitIndexed blocks until every entry up to sequence seq is searchable in
// the keyword index, or ctx ends.
func (ix *Indexer) WaitIndexed(ctx context.Context, seq uint64) error {
	if ix.indexed.Load() >= seq {
		return nil
	}
	ix.waiters.Add(1)
	defer ix.waiters.Add(-1)
	select {
	case ix.wake <- struct{}{}: // index what gathers now
	default:
	}
	for {
		ix.mu.Lock()
		ch := ix.advanced
		ix.mu.Unlock()
		if ix.indexed.Load() >= seq {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// Lag returns how many committed sequences are not yet searchable and for
// how long the oldest of them has been waiting (as first observed by Run or
// a call of Lag).
func (ix *Indexer) Lag() (seqs uint64, age time.Duration) {
	ix.observe()
	high, done := ix.store.HighSeq(), ix.indexed.Load()
	if done >= high {
		return 0, 0
	}
	ix.mu.Lock()
	defer ix.mu.Unlock()
	for _, s := range ix.seen {
		if s.seq > done {
			return high - done, ix.opts.Now().Sub(s.at)
		}
	}
	return high - done, 0
}

// maxSeen bounds the observations kept while the indexer is stuck; the
// oldest ones, which give the age, are kept.
const maxSeen = 1024

// observe notes when the current high sequence was first seen, for Lag.
func (ix *Indexer) observe() {
	high := ix.store.HighSeq()
	if high <= ix.indexed.Load() {
		return
	}
	ix.mu.Lock()
	defer ix.mu.Unlock()
	if n := len(ix.seen); (n == 0 || ix.seen[n-1].seq < high) && n < maxSeen {
		ix.seen = append(ix.seen, seqSeen{seq: high, at: ix.opts.Now()})
	}
}

// advance publishes that everything up to seq is searchable.
func (ix *Indexer) advance(seq uint64) {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	if seq > ix.indexed.Load() {
		ix.indexed.Store(seq)
		close(ix.advanced)
		ix.advanced = make(chan struct{})
	}
	i := 0
	for i < len(ix.seen) && ix.seen[i].seq <= seq {
		i++
	}
	ix.seen = append(ix.seen[:0], ix.seen[i:]...)
}
