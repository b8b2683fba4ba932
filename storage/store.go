// Package storage owns everything logengine keeps on disk in Badger: the key
// layout, the binary entry codec, the append path with its journal, the scans
// the query engine reads from, retention and backups. It imports no other
// package of the project.
package storage

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"

	"github.com/dgraph-io/badger/v4"
	"github.com/dgraph-io/badger/v4/options"
	"github.com/logengine/logengine/storage/block"
)

// Errors callers can test for.
var (
	ErrNotFound   = errors.New("not found")
	ErrOverloaded = errors.New("write path saturated")
	ErrDiskFull   = errors.New("no space left on device")
	ErrClosed     = errors.New("store closed")
	// ErrTooLarge: a request written with puts (AppendWith) does not fit
	// in one transaction, so it is not stored; its caller stores it in
	// smaller parts, each with its own puts.
	ErrTooLarge = errors.New("request too large for one transaction")
)

// Options configures a Store. DefaultOptions gives the production values.
type Options struct {
	// Dir is the Badger directory (<data-dir>/db).
	Dir string
	// SyncWrites makes every commit wait for fsync, so an acknowledged append
	// survives a power cut. Off only for benchmarks and throw-away stores.
	SyncWrites bool
	// IndexedFields names the fields (besides level, source and tags) that
	// get secondary index keys.
	IndexedFields []string
	// MaxQueuedAppends is how many appends may wait for the write path before
	// Append fails fast with ErrOverloaded. Zero means 512: waiting appends
	// are cheap, since they share the next group commit, and the bytes of
	// requests in flight are bounded before they reach the store.
	MaxQueuedAppends int
	// MemTableBytes is Badger's memtable size; zero means 32 MiB
	// (defaultMemTable: 128 MiB on a filesystem under 4 GiB). Blocks
	// are large values (tens to hundreds of KB), and the flush of a
	// memtable holds about four times its size: Badger's table builder
	// copies every value and compresses it into a buffer of its own, from
	// an allocator that doubles its chunks. With 128 MiB a flush took
	// ~840 MB of heap and peak RSS reached 1 GB at 2M logs.
	MemTableBytes int64
	// BlockCacheBytes is Badger's block cache; zero means 256 MiB (16 MiB made
	// point reads 2.5x slower).
	BlockCacheBytes int64
	// NoPointCache turns off the cache of decoded blocks that point reads
	// keep, so that every point read decodes: for tests of the decoders
	// behind them, which the cache would otherwise answer for.
	NoPointCache bool
	// TruncateDamagedLogs opens a store whose write-ahead log has a bad
	// entry before whole ones (see logcheck.go), letting Badger drop
	// everything from that entry on, with a warning. The way out after a
	// power loss, whose unsynced pages may reach the disk in any order:
	// what is dropped then was never acknowledged.
	TruncateDamagedLogs bool
	// Logger receives Badger's warnings and errors; nil discards them.
	Logger *slog.Logger
	// Observer, when set, is told of every group commit.
	Observer CommitObserver
}

// DefaultOptions returns the options the daemon runs with.
func DefaultOptions(dir string) Options {
	return Options{Dir: dir, SyncWrites: true, MaxQueuedAppends: 512}
}

// tableCompression is how Badger compresses its table blocks. The table
// check (tablecheck.go) opens tables with it too: Badger records each
// table's compression in its manifest, which the check does not read, so a
// change here needs the check to read it.
const tableCompression = options.Snappy

// maxCommitBytes bounds one Badger transaction below Badger's own limit
// (15% of the memtable: 4.8 MiB with 32 MiB memtables, a value of 1 MB or
// more counting as a pointer; and 52,428 keys), so a large request is
// split into a few commits instead of failing with ErrTxnTooBig. It counts
// entries before encoding, which blocks shrink several times.
const maxCommitBytes = 4 << 20

// Store is logengine's durable state in one Badger database.
type Store struct {
	db      *badger.DB
	opts    Options
	indexed map[string]bool

	// queue admits appends to the write path; a full queue means overload.
	queue chan struct{}

	// Group commit (commit.go): Append hands its entries to the committer
	// goroutine through reqs and waits; the committer takes every request
	// waiting, commits them together and acknowledges each. One writer
	// makes sequences visible in order: a journal consumer that has seen
	// sequence n has seen everything below. closeMu keeps Close from
	// stopping the committer while an Append is handing a request over.
	reqs          chan *appendReq
	closeMu       sync.RWMutex
	stopCommit    chan struct{}
	committerDone chan struct{}
	nextSeq       uint64 // owned by the committer
	// postings and blockBuf are the committer's scratch space, reused
	// from one commit to the next.
	postings commitPostings
	blockBuf []Entry
	blockIdx []int

	// vlog fsyncs Badger's value log after writes (vlogsync.go); nil
	// when writes are not synced.
	vlog *valueLogSyncer

	high    atomic.Uint64 // highest committed sequence
	notifyM sync.Mutex
	notify  chan struct{} // closed on every commit, then replaced; guarded by notifyM

	// delMu runs deletions (DeleteSource, finishing unfinished ones,
	// DropDay) one at a time: each rewrites posting lists it has read, and
	// must not write back what another deleted. tombLast is the stamp of the last deletion, so that two in the
	// same nanosecond do not share records; guarded by delMu.
	delMu    sync.Mutex
	tombLast int64
	// unfinished holds the days of deletions FinishDeletes could not
	// finish; guarded by delMu.
	unfinished map[Day]bool
	// handMu runs Tombstones one call at a time.
	handMu sync.Mutex
	// hookDeleteScanned, set by tests, runs in a deletion between reading
	// the posting lists and writing them back; deleteStep, set by tests,
	// replaces the entries per deletion step (tombstonesPerKey).
	hookDeleteScanned func()
	deleteStep        int
	// hookCommit, set by tests, runs in the committer before each commit
	// of a group and fails it when it returns an error.
	hookCommit func(entries int) error
	// hookMigratedRun, set by tests, runs after each block MigrateToBlocks
	// writes.
	hookMigratedRun func()
	// hookMerge, set by tests, runs in a merge's transaction before it
	// commits, and fails the merge when it returns an error.
	hookMerge func(parts int) error

	// mergeMu guards merge, what MergeBlocks remembers between passes.
	mergeMu sync.Mutex
	merge   mergeState

	// blocks keeps recently decoded blocks for point reads (blocks.go).
	blocks blockCache
	// tables remembers which table blocks reads have checked
	// (tablecheck.go).
	tables *tableCheck

	closed atomic.Bool
}

// checksumMode is how Badger checks its tables' checksums. OnBlockRead
// checks a block's CRC when it is read from disk (not from the block
// cache), so a damaged table gives an error naming it instead of
// decompressing garbage; it cost nothing measurable on a full scan with a
// small cache (BenchmarkChecksumMode). Not OnTableRead: it reads every
// table whole at open (start-up time growing with the store), and Badger
// v4.9's check panics, in a goroutine of Open that no recover reaches, on
// a table that fails it; `logengine verify` checks tables whole instead.
// A variable so that the benchmark can compare.
var checksumMode = options.OnBlockRead

// checkTables turns the reads' own check of table blocks (tablecheck.go)
// on; a variable so that BenchmarkTableCheck can compare.
var checkTables = true

// checkKeys makes sure the table blocks that hold keys with the prefix are
// sound before a read iterates them: Badger's iterators end silently at a
// damaged block (tablecheck.go).
func (s *Store) checkKeys(prefix []byte) error {
	if !checkTables {
		return nil
	}
	return s.tables.checkPrefix(s.db, prefix)
}

// checkKeysFrom is checkKeys for the keys with the prefix from key on.
func (s *Store) checkKeysFrom(prefix, key []byte) error {
	return s.checkKeyRange(key, prefixEnd(prefix))
}

// checkKeyRange is checkKeys for the keys in [lo, hi).
func (s *Store) checkKeyRange(lo, hi []byte) error {
	if !checkTables {
		return nil
	}
	return s.tables.check(s.db, lo, hi)
}

// Open opens (or creates) the store in opts.Dir.
func Open(opts Options) (*Store, error) {
	if opts.Dir == "" {
		return nil, errors.New("open store: no directory given")
	}
	if opts.MaxQueuedAppends <= 0 {
		opts.MaxQueuedAppends = 512
	}
	if opts.BlockCacheBytes <= 0 {
		opts.BlockCacheBytes = 256 << 20
	}
	// A restore killed half way leaves a partial store: never serve it.
	if err := CheckNoInterruptedRestore(opts.Dir); err != nil {
		return nil, fmt.Errorf("open store %s: %w", opts.Dir, err)
	}
	if err := os.MkdirAll(opts.Dir, 0o750); err != nil {
		return nil, fmt.Errorf("open store: %w", err)
	}
	if opts.MemTableBytes <= 0 {
		opts.MemTableBytes = defaultMemTable(opts.Dir)
	}
	var vlog *valueLogSyncer
	if opts.SyncWrites {
		vlog = newValueLogSyncer(opts.Dir)
	}
	// Why these options: sync writes make a 200 mean durable; conflict
	// detection is useless with one serialised writer and costs CPU per key;
	// Badger's own metrics are replaced by ours; Snappy compression with a
	// block cache keeps reads fast (ZSTD saved 25% disk but halved fetch
	// speed); values stay inline in the LSM (default threshold) because
	// entries are small.
	bo := badger.DefaultOptions(opts.Dir).
		WithSyncWrites(opts.SyncWrites).
		WithDetectConflicts(false).
		WithMetricsEnabled(false).
		WithMemTableSize(opts.MemTableBytes).
		// Three memtables instead of five bound what waits for flushing.
		WithNumMemtables(3).
		// A clean stop compacts level 0 into the level below: a memtable
		// flush keeps every version of a key, so the blocks the merger
		// joined and deleted stay on disk until a compaction reaches
		// them, which a short-lived or lightly loaded daemon's level 0
		// (up to five tables) may never see. Costs the stop a pass over
		// level 0 (~1 s per 100 MB here).
		WithCompactL0OnClose(true).
		WithCompression(tableCompression).
		WithBlockCacheSize(opts.BlockCacheBytes).
		WithChecksumVerificationMode(checksumMode).
		WithLogger(badgerLogger{l: opts.Logger, vlog: vlog})
	// Before Badger, which truncates a damaged log silently (logcheck.go).
	if err := checkLogs(opts.Dir); err != nil {
		if !opts.TruncateDamagedLogs || !errors.Is(err, ErrDamaged) {
			return nil, fmt.Errorf("open store %s: %w", opts.Dir, err)
		}
		if opts.Logger != nil {
			opts.Logger.Warn("opening a store whose write-ahead log has a bad entry: everything from it on is dropped", "err", err)
		}
	}
	db, err := openBadgerRecovered(bo)
	if err != nil {
		return nil, fmt.Errorf("open badger in %s: %w", opts.Dir, damagedAtOpen(err))
	}
	if vlog != nil {
		if err := vlog.start(); err != nil {
			_ = db.Close()
			return nil, fmt.Errorf("open store %s: %w", opts.Dir, err)
		}
	}
	s := &Store{
		db:            db,
		blocks:        blockCache{off: opts.NoPointCache},
		opts:          opts,
		indexed:       make(map[string]bool),
		unfinished:    make(map[Day]bool),
		queue:         make(chan struct{}, opts.MaxQueuedAppends),
		reqs:          make(chan *appendReq, opts.MaxQueuedAppends),
		stopCommit:    make(chan struct{}),
		committerDone: make(chan struct{}),
		notify:        make(chan struct{}),
		tables:        newTableCheck(opts.Dir, opts.Logger),
	}
	s.vlog = vlog
	for _, f := range opts.IndexedFields {
		s.indexed[f] = true
	}
	seq, err := s.loadSeq()
	if err != nil {
		_ = db.Close()
		return nil, err
	}
	s.nextSeq = seq + 1
	s.high.Store(seq)
	// The first merge pass may merge every block committed before.
	s.merge = newMergeState(seq)
	go s.runCommitter()
	return s, nil
}

// damagedAtOpen marks an error of Badger's Open that names one of its files
// (a table whose index fails its checksum, a MANIFEST that does not decode)
// as damage, and says what to do.
func damagedAtOpen(err error) error {
	file := badgerFileIn(err, "")
	if file == "" || errors.Is(err, os.ErrPermission) {
		return err
	}
	return fmt.Errorf("%w: %s does not read (%w): keep the data directory as it is and restore the last backup into a new one (`logengine restore`); `logengine verify --data-dir` lists what else is damaged",
		ErrDamaged, file, err)
}

// Close flushes and closes the database. Appends after Close fail.
func (s *Store) Close() error {
	if s.closed.Swap(true) {
		return nil
	}
	// After closeMu, no Append is between its check of closed and its
	// hand-over; the committer finishes its group, fails what still
	// waits and exits.
	s.closeMu.Lock()
	close(s.stopCommit)
	s.closeMu.Unlock()
	<-s.committerDone
	err := s.db.Close()
	if s.vlog != nil {
		s.vlog.stop()
	}
	if err != nil {
		return fmt.Errorf("close badger: %w", err)
	}
	return nil
}

// write runs fn in a read-write transaction and then fsyncs the value
// log, which Badger does without returning its error (vlogsync.go). Every
// write that may hold a value of Badger's value threshold (1 MB) goes
// through it or flushBatch, but the append path's (commit syncs itself);
// deletions of keys and small records need not.
func (s *Store) write(fn func(txn *badger.Txn) error) error {
	if err := s.db.Update(fn); err != nil {
		return err
	}
	return s.syncValueLog()
}

// flushBatch is write for a write batch.
func (s *Store) flushBatch(wb *badger.WriteBatch) error {
	if err := wb.Flush(); err != nil {
		return err
	}
	return s.syncValueLog()
}

// syncValueLog fsyncs Badger's newest value log after a write (vlogsync.go).
func (s *Store) syncValueLog() error {
	if s.vlog == nil {
		return nil
	}
	return s.vlog.sync()
}

// Dir returns the store's directory.
func (s *Store) Dir() string { return s.opts.Dir }

// IsIndexedField reports whether the field has secondary index keys.
func (s *Store) IsIndexedField(name string) bool { return s.indexed[name] }

var seqMetaName = "seq"

func (s *Store) loadSeq() (uint64, error) {
	var seq uint64
	err := s.view(func(txn *badger.Txn) error {
		item, err := txn.Get(metaKey(seqMetaName))
		if errors.Is(err, badger.ErrKeyNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		return item.Value(func(v []byte) error {
			if len(v) != 8 {
				return fmt.Errorf("sequence record has %d bytes, want 8", len(v))
			}
			seq = binary.BigEndian.Uint64(v)
			return nil
		})
	})
	if err != nil {
		return 0, fmt.Errorf("load sequence: %w", err)
	}
	return seq, nil
}

// HighSeq returns the highest committed sequence number.
func (s *Store) HighSeq() uint64 { return s.high.Load() }

// Changed returns a channel that is closed at the next commit.
func (s *Store) Changed() <-chan struct{} {
	s.notifyM.Lock()
	defer s.notifyM.Unlock()
	return s.notify
}

func (s *Store) broadcast() {
	s.notifyM.Lock()
	close(s.notify)
	s.notify = make(chan struct{})
	s.notifyM.Unlock()
}

// Append stores entries durably and gives each its ID (also written into
// entries[i].ID). It returns only after the commit; with SyncWrites that
// means the entries are on disk. Appends that arrive together share one
// commit and its sync (commit.go). When too many appends are already
// waiting it fails at once with ErrOverloaded rather than queueing without
// bound.
func (s *Store) Append(ctx context.Context, entries []Entry) ([]ID, error) {
	return s.AppendWith(ctx, entries, nil)
}

// Put is a record of a bucket that AppendWith writes together with the
// entries of the request.
type Put struct {
	Bucket *Bucket
	Key    string
	Value  []byte
}

// AppendWith is Append that also writes puts in the same transaction as
// the request's entries, so that a reader of those records (a consumer's
// position in its source) never sees them without the entries or the
// entries without them. A request with puts that Badger finds too large
// for one transaction (more keys than its bound, as when every entry
// holds several distinct indexed values) is not stored: the error wraps
// ErrTooLarge, and the caller stores smaller parts, each with its own
// puts. With no entries it writes the puts alone, in order with the
// appends around it.
func (s *Store) AppendWith(ctx context.Context, entries []Entry, puts []Put) ([]ID, error) {
	if len(entries) == 0 && len(puts) == 0 {
		return nil, nil
	}
	if s.closed.Load() {
		return nil, ErrClosed
	}
	// Admission first, so that an overloaded store refuses before spending
	// CPU on the entries.
	select {
	case s.queue <- struct{}{}:
	default:
		return nil, ErrOverloaded
	}
	defer func() { <-s.queue }()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	// Validate and size in the request's goroutine; blocks are encoded by
	// the committer, where the entries of one day are gathered.
	r := &appendReq{ctx: ctx, entries: entries, sizes: make([]int, len(entries)), puts: puts, done: make(chan error, 1)}
	for i := range entries {
		if err := entries[i].Validate(); err != nil {
			return nil, fmt.Errorf("append entry %d: %w", i, err)
		}
		r.sizes[i] = entries[i].MemSize()
		r.size += r.sizes[i]
	}
	s.closeMu.RLock()
	if s.closed.Load() {
		s.closeMu.RUnlock()
		return nil, ErrClosed
	}
	s.reqs <- r // never blocks: queue admits at most cap(reqs) appends
	s.closeMu.RUnlock()
	if err := <-r.done; err != nil {
		return nil, err
	}
	return r.ids, nil
}

type postingKey struct {
	day   Day
	kind  byte
	name  string
	value string
}

// commit writes one transaction: the entries' blocks, their posting
// lists, the journal record, the sequence and the puts. Called by the
// committer.
func (s *Store) commit(entries []Entry, ids []ID, puts []Put) error {
	first := s.nextSeq
	txn := s.db.NewTransaction(true)
	defer txn.Discard()
	// In request order, so that a later put of the same key wins.
	for _, p := range puts {
		if err := txn.SetEntry(badger.NewEntry(p.Bucket.key(p.Key), p.Value)); err != nil {
			return wrapWriteErr("append", err)
		}
	}
	if len(entries) == 0 {
		if err := txn.Commit(); err != nil {
			return wrapWriteErr("commit", err)
		}
		return wrapSyncErr(s.syncValueLog())
	}
	runs := assignIDs(entries, ids, first)
	if err := s.writeBlocks(txn, entries, runs); err != nil {
		return wrapWriteErr("append", err)
	}
	p := &s.postings
	p.collect(entries, runs, s.indexed)
	defer p.release()
	last := first + uint64(len(entries)) - 1
	var seqBuf [8]byte
	binary.BigEndian.PutUint64(seqBuf[:], first)
	for i, k := range p.keys {
		key := append(postingPrefix(k.day, k.kind, k.name, k.value), seqBuf[:]...)
		if err := txn.SetEntry(badger.NewEntry(key, encodePostings(p.lists[i], first))); err != nil {
			return wrapWriteErr("append", err)
		}
	}
	for _, r := range runs {
		if err := txn.SetEntry(badger.NewEntry(dayKey(r.day), nil)); err != nil {
			return wrapWriteErr("append", err)
		}
	}
	if err := txn.SetEntry(badger.NewEntry(journalKey(last), encodeJournal(first, idsBySeq(ids)))); err != nil {
		return wrapWriteErr("append", err)
	}
	binary.BigEndian.PutUint64(seqBuf[:], last)
	if err := txn.SetEntry(badger.NewEntry(metaKey(seqMetaName), seqBuf[:])); err != nil {
		return wrapWriteErr("append", err)
	}
	if err := txn.Commit(); err != nil {
		return wrapWriteErr("commit", err)
	}
	s.nextSeq = last + 1
	s.high.Store(last)
	s.broadcast()
	return wrapSyncErr(s.syncValueLog())
}

// wrapSyncErr says what a failed fsync after a commit means for the
// request: it is stored (readers see it), but whether it survives a crash
// is unknown.
func wrapSyncErr(err error) error {
	if err == nil {
		return nil
	}
	return wrapWriteErr("commit", &syncFailure{err})
}

// syncFailure is an fsync that failed after a commit, so that the
// requests of the group that were never written can be told the cause
// without being told they were stored.
type syncFailure struct{ err error }

func (f *syncFailure) Error() string {
	return "the request is stored but may not survive a crash: " + f.err.Error()
}

func (f *syncFailure) Unwrap() error { return f.err }

// levelValues holds the one-byte index values of each level, so that the
// append path does not allocate them per entry.
var levelValues = func() (t [256]string) {
	for i := range t {
		t[i] = string([]byte{byte(i)})
	}
	return t
}()

func levelValue(l Level) string { return levelValues[l] }

func wrapWriteErr(op string, err error) error {
	if errors.Is(err, syscall.ENOSPC) {
		return fmt.Errorf("%s: %w: %v", op, ErrDiskFull, err)
	}
	return fmt.Errorf("%s: %w", op, err)
}

// Get returns the entry with the given id, or ErrNotFound.
func (s *Store) Get(id ID) (Entry, error) {
	var e Entry
	found := false
	err := s.getIDs(context.Background(), []ID{id}, func(got *Entry) bool {
		e, found = *got, true
		return false
	})
	if err != nil {
		return Entry{}, err
	}
	if !found {
		return Entry{}, fmt.Errorf("entry %s: %w", id, ErrNotFound)
	}
	return e, nil
}

// GetMany calls fn for each id that exists, in the order given, within one
// consistent read. Missing ids (dropped by retention) are skipped. fn may
// keep the entry; returning false stops.
func (s *Store) GetMany(ctx context.Context, ids []ID, fn func(e *Entry) bool) error {
	return s.getIDs(ctx, ids, fn)
}

// GetSorted calls fn for each of ids that exists, in ID order, within one
// consistent read; it sorts ids in place. fn may keep the entry; returning
// false stops. Ids close together, such as the entries of recent commits,
// share their blocks' reads.
func (s *Store) GetSorted(ctx context.Context, ids []ID, fn func(e *Entry) bool) error {
	slices.SortFunc(ids, ID.Compare)
	return s.getIDs(ctx, ids, fn)
}

// GetSortedWith is GetSorted for entries that hold their messages and of
// their fields at least those named (each with all its values; a block the
// point reads' cache holds comes whole): what checking message words and
// those fields needs. Blocks are decoded so for the call only, not kept
// for later point reads: the keyword index's candidates for a request id
// are mostly entries of blocks that do not hold it, each decoded for a few
// hundred of its thousands of entries, and only those entries are made.
// fn must not keep the entry's fields past its call.
func (s *Store) GetSortedWith(ctx context.Context, ids []ID, fields []string, fn func(e *Entry) bool) error {
	slices.SortFunc(ids, ID.Compare)
	decode := func(dst []Entry, bufs *block.Buffers, h *block.Header, body []byte, want []ID) ([]Entry, error) {
		return block.DecodeRowsWith(dst, bufs, h, body, fields, want)
	}
	return s.getIDsWith(ctx, ids, decode, fn)
}

// GetSortedMessages is GetSortedWith for entries with their IDs, times and
// messages only (no level, source, tags or fields): enough to check a query
// of message words alone, and a point read then decodes nothing else of
// the blocks its ids fall in (a block the point reads' cache holds still
// comes whole). fn may keep the entry.
func (s *Store) GetSortedMessages(ctx context.Context, ids []ID, fn func(e *Entry) bool) error {
	slices.SortFunc(ids, ID.Compare)
	decode := func(dst []Entry, _ *block.Buffers, h *block.Header, body []byte, want []ID) ([]Entry, error) {
		return block.DecodeRowMessages(dst, h, body, want)
	}
	return s.getIDsWith(ctx, ids, decode, fn)
}

// Size returns the bytes the database takes on disk (LSM and value log).
func (s *Store) Size() (lsm, vlog int64) { return s.db.Size() }

// RunValueLogGC reclaims value-log space until Badger finds nothing more to
// rewrite. discardRatio is Badger's: 0.5 rewrites files at least half stale.
func (s *Store) RunValueLogGC(ctx context.Context, discardRatio float64) error {
	for ctx.Err() == nil {
		err := s.db.RunValueLogGC(discardRatio)
		if errors.Is(err, badger.ErrNoRewrite) || errors.Is(err, badger.ErrRejected) {
			return nil
		}
		if err == nil {
			// What GC moved is in the newest log, and the file it
			// came from is gone: a failed fsync now is data lost.
			err = s.syncValueLog()
		}
		if err != nil {
			return fmt.Errorf("value log gc: %w", err)
		}
	}
	return ctx.Err()
}

// DataDirFromDB returns the data directory that holds a store directory.
func DataDirFromDB(dir string) string { return filepath.Dir(dir) }

type badgerLogger struct {
	l *slog.Logger
	// vlog is told of a failed fsync of the value log, which Badger only
	// logs (vlogsync.go); nil when writes are not synced.
	vlog *valueLogSyncer
}

func (b badgerLogger) Errorf(f string, a ...any) {
	if b.vlog != nil && strings.HasPrefix(f, "Error while curlf sync") {
		b.vlog.fail(fmt.Errorf(f, a...))
	}
	if b.l != nil {
		b.l.Error(fmt.Sprintf(f, a...), "component", "badger")
	}
}
func (b badgerLogger) Warningf(f string, a ...any) {
	if b.l != nil {
		b.l.Warn(fmt.Sprintf(f, a...), "component", "badger")
	}
}
func (badgerLogger) Infof(string, ...any)  {}
func (badgerLogger) Debugf(string, ...any) {}
