package search

import (
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/blevesearch/bleve/v2"
	"github.com/blevesearch/bleve/v2/index/scorch"

	"github.com/logengine/logengine/storage"
)

// A shard's files can be damaged while the daemon is stopped (a disk
// hiccup, a bad copy): Bleve's segments (zap files) carry a checksum that
// Bleve does not check, and reading a damaged one panics deep inside zapx
// or, worse, answers wrongly. The index is derived from storage, so a
// damaged shard is never repaired in place: it is marked damaged, taken out
// of service (searches over its day scan storage instead, which is exact
// and slower), and rebuilt from storage by the indexer, the same way a
// missing shard is. Damage is found
//
//   - when the shard opens: the checksums of its segments and of its
//     records (sequence, block count) are verified, and a panic of Bleve
//     opening it is recovered;
//   - at the shard boundary: every call into a shard (searches, counts,
//     writes, deletions) recovers a panic and turns it into ErrShardDamaged;
//   - by Bleve's own background work (merges, persisting), which recovers
//     its panics and reports them through an asynchronous error callback.

// ErrShardDamaged is matched (errors.Is) by the error of any call that
// found a shard damaged. The shard is out of service until rebuilt.
var ErrShardDamaged = errors.New("keyword index shard damaged")

// damagedFileName is written into a shard's directory when the shard is
// found damaged, before any write to it is skipped, so that a restart
// before the rebuild does not take the shard for sound: writes it missed
// would otherwise be missing from it forever.
const damagedFileName = "damaged"

// ShardDamage describes a damaged shard, for /readyz and the log.
type ShardDamage struct {
	Day storage.Day
	// File is the damaged file, relative to the index directory, or the
	// shard's directory when the damage could not be pinned to a file.
	File string
	// Cause is what went wrong, as a message.
	Cause string
	// Since is when the damage was found.
	Since time.Time
}

// shardDamagedError is the error of a call that found a shard damaged.
// It matches ErrShardDamaged and errShardUnusable, so that the engine
// scans storage for the day rather than fail.
type shardDamagedError struct {
	day   storage.Day
	file  string
	cause error
	// recorded is whether the damage is recorded in the shard's directory
	// (damagedFileName), which lets writes to the shard be skipped.
	recorded bool
}

func (e *shardDamagedError) Error() string {
	return fmt.Sprintf("keyword index of %s is damaged (%s): %v; it is being rebuilt from storage, and searches over the day read storage meanwhile (POST /api/v1/admin/reindex rebuilds every day)", e.day, e.file, e.cause)
}

func (e *shardDamagedError) Unwrap() error { return e.cause }

func (e *shardDamagedError) Is(target error) bool {
	return target == ErrShardDamaged || target == errShardUnusable
}

// Unavailable marks the error as a temporary refusal (503) for the HTTP
// layer, when it reaches a request at all.
func (e *shardDamagedError) Unavailable() bool { return true }

// Damaged returns the shards found damaged and not rebuilt yet, by day.
func (x *Index) Damaged() []ShardDamage {
	x.mu.Lock()
	defer x.mu.Unlock()
	out := make([]ShardDamage, 0, len(x.damaged))
	for _, d := range x.damaged {
		out = append(out, d)
	}
	slices.SortFunc(out, func(a, b ShardDamage) int { return int(a.Day - b.Day) })
	return out
}

// DamagedTotal returns how many times a shard was found damaged since the
// index was opened.
func (x *Index) DamagedTotal() uint64 { return x.damagedTotal.Load() }

// damageFound returns a channel that receives when a shard is newly found
// damaged; the indexer rebuilds the days of Damaged then.
func (x *Index) damageFound() <-chan struct{} { return x.damageCh }

// damage marks sh damaged because of cause, found in file (relative to the
// shard's directory; "" when unknown), and returns the error the caller
// should return. It must not take sh.mu: callers may hold it.
func (x *Index) damage(sh *shard, file string, cause error) error {
	if errors.Is(cause, ErrIndexClosed) {
		return cause
	}
	var de *shardDamagedError
	if errors.As(cause, &de) {
		return cause // found damaged before
	}
	if file == "" {
		// A panic does not say which file; the checksums may.
		file = findDamagedFile(sh.dir)
	}
	rel := sh.day.String()
	if file != "" {
		rel = filepath.Join(rel, file)
	}
	if d := sh.damaged.Load(); d != nil {
		return d
	}
	err := &shardDamagedError{day: sh.day, file: rel, cause: cause}
	// Record the damage on disk before it is published: from then on
	// writes to the shard are skipped (see Index.write), which only the
	// rebuild makes up for, also after a restart.
	if werr := writeDamagedMarker(sh.dir, cause); werr != nil {
		x.log.Error("keyword index: cannot record a damaged shard on disk; writes to it will fail until it is rebuilt", "day", sh.day.String(), "err", werr)
	} else {
		err.recorded = true
	}
	if !sh.damaged.CompareAndSwap(nil, err) {
		return sh.damaged.Load()
	}
	x.damagedTotal.Add(1)
	x.log.Error("keyword index shard damaged: taken out of service and rebuilt from storage; searches over the day read storage meanwhile",
		"day", sh.day.String(), "file", rel, "err", cause)
	x.mu.Lock()
	if x.shards[sh.day] == sh {
		x.damaged[sh.day] = ShardDamage{Day: sh.day, File: rel, Cause: cause.Error(), Since: time.Now()}
	}
	x.mu.Unlock()
	x.signalDamage()
	return err
}

// signalDamage wakes the indexer to rebuild the damaged shards.
func (x *Index) signalDamage() {
	select {
	case x.damageCh <- struct{}{}:
	default: // a signal is pending already
	}
}

// recovered turns the value of a recovered panic into an error.
func recovered(r any) error {
	if err, ok := r.(error); ok {
		return fmt.Errorf("panic: %w", err)
	}
	return fmt.Errorf("panic: %v", r)
}

func writeDamagedMarker(dir string, cause error) error {
	path := filepath.Join(dir, damagedFileName)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o640)
	if err != nil {
		return err
	}
	_, err = f.WriteString(cause.Error() + "\n")
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = syncDir(dir)
	}
	return err
}

// readDamagedMarker returns the cause recorded by writeDamagedMarker, or
// "" when the shard was not marked damaged.
func readDamagedMarker(dir string) (string, bool) {
	b, err := os.ReadFile(filepath.Join(dir, damagedFileName))
	if err != nil {
		return "", false
	}
	return strings.TrimSpace(string(b)), true
}

// segmentFile is what zapx segments of every version offer: the file they
// were read from and the checksum in its footer.
type segmentFile interface {
	Path() string
	CRC() uint32
}

// verifySegments checks every segment of idx against the checksum in its
// footer (CRC-32 IEEE of the file up to the checksum itself), which Bleve
// writes and never reads. It returns the name of the damaged file and why.
// Reading a shard's segments whole costs about what reading its files from
// disk costs; it is done once per shard and process, when the shard opens.
func verifySegments(idx bleve.Index) (file string, err error) {
	ai, err := idx.Advanced()
	if err != nil {
		return "", err
	}
	r, err := ai.Reader()
	if err != nil {
		return "", err
	}
	defer func() { _ = r.Close() }()
	snap, ok := r.(*scorch.IndexSnapshot)
	if !ok {
		return "", nil // not scorch: nothing to verify
	}
	for _, ss := range snap.Segments() {
		seg, ok := ss.Segment().(segmentFile)
		if !ok {
			continue // in memory, not yet persisted
		}
		if err := verifySegmentFile(seg.Path(), seg.CRC()); err != nil {
			return filepath.Join("store", filepath.Base(seg.Path())), err
		}
	}
	return "", nil
}

// verifySegmentFile checks the zap file at path against want, the checksum
// of everything before its last 4 bytes.
func verifySegmentFile(path string, want uint32) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("verify segment: %w", err)
	}
	defer func() { _ = f.Close() }()
	st, err := f.Stat()
	if err != nil {
		return fmt.Errorf("verify segment: %w", err)
	}
	if st.Size() < 4 {
		return fmt.Errorf("segment %s is %d bytes: too short", filepath.Base(path), st.Size())
	}
	h := crc32.NewIEEE()
	if _, err := io.Copy(h, io.NewSectionReader(f, 0, st.Size()-4)); err != nil {
		return fmt.Errorf("verify segment: %w", err)
	}
	if got := h.Sum32(); got != want {
		return fmt.Errorf("segment %s fails its checksum (%08x, footer says %08x)", filepath.Base(path), got, want)
	}
	return nil
}

// findDamagedFile returns the first zap file of the shard in dir whose
// checksum fails, for the log and /readyz, or "" when all pass.
func findDamagedFile(dir string) string {
	names, err := filepath.Glob(filepath.Join(dir, "store", "*.zap"))
	if err != nil {
		return ""
	}
	for _, path := range names {
		want, err := segmentFooterCRC(path)
		if err != nil || verifySegmentFile(path, want) != nil {
			return filepath.Join("store", filepath.Base(path))
		}
	}
	return ""
}

// segmentFooterCRC reads the checksum in the last 4 bytes of a zap file.
func segmentFooterCRC(path string) (uint32, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer func() { _ = f.Close() }()
	st, err := f.Stat()
	if err != nil {
		return 0, err
	}
	var b [4]byte
	if _, err := f.ReadAt(b[:], st.Size()-4); err != nil {
		return 0, err
	}
	return uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3]), nil
}

// asyncErrorCallback is the name under which Bleve finds asyncErrors.
const asyncErrorCallback = "logengine"

// asyncShards maps the store directory of every open shard to the function
// that marks it damaged, for errors Bleve reports from its own goroutines.
// Bleve looks its callback up by name in a registry of its package, so
// this one map serves every Index of the process.
var asyncShards sync.Map // store directory -> *asyncTarget

// asyncTarget is the shard an asynchronous error of Bleve is about.
type asyncTarget struct {
	x  *Index
	sh *shard
}

// storeDir is the directory Bleve's scorch keeps the shard's segments in,
// as it names it to asyncError.
func (sh *shard) storeDir() string { return filepath.Clean(filepath.Join(sh.dir, "store")) }

// asyncError receives the errors of Bleve's background work on the index
// at path (its store directory). A recovered panic there means a damaged
// segment; other errors (a full disk while persisting) are Bleve's to
// retry.
func asyncError(err error, path string) {
	if !errors.Is(err, scorch.ErrAsyncPanic) {
		return
	}
	if v, ok := asyncShards.Load(filepath.Clean(path)); ok {
		t := v.(*asyncTarget)
		_ = t.x.damage(t.sh, "", fmt.Errorf("keyword index of %s: background work: %w", t.sh.day, err))
	}
}

// registerAsyncErrors registers asyncError with Bleve; called once.
func registerAsyncErrors() {
	scorch.RegistryAsyncErrorCallbacks[asyncErrorCallback] = asyncError
}

// openConfig is the runtime configuration shards are opened with.
func openConfig() map[string]any {
	return map[string]any{
		"asyncErrorCallbackName": asyncErrorCallback,
		"scorchMergePlanOptions": map[string]any{"FloorSegmentSize": mergeFloorDocs},
	}
}
