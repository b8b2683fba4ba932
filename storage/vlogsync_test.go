package storage

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
)

// TestValueLogSyncedAfterWrites: with synced writes, a commit whose block
// body goes to Badger's value log (1 MB or more) is followed by an fsync
// of that log, and a failed fsync fails the append instead of being only
// logged, as Badger does.
func TestValueLogSyncedAfterWrites(t *testing.T) {
	dir := t.TempDir()
	opts := DefaultOptions(dir) // synced writes
	s, err := Open(opts)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var synced []string
	var fail error
	s.vlog.syncFile = func(f *os.File) error {
		synced = append(synced, filepath.Base(f.Name()))
		return fail
	}
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(9, 9))
	// 200 logs of 16 KB of hex: a body of ~1.6 MB, past Badger's value
	// threshold.
	big := makeEntries(rng, 200, t0, 1)
	noise := make([]byte, 8<<10)
	for i := range big {
		for j := range noise {
			noise[j] = byte(rng.Uint32())
		}
		big[i].Message = fmt.Sprintf("%x", noise)
	}
	if _, err := s.Append(ctx, big); err != nil {
		t.Fatal(err)
	}
	newest, err := newestValueLog(dir)
	if err != nil || newest == 0 {
		t.Fatalf("no value log in %s: %v", dir, err)
	}
	if want := filepath.Base(valueLogPath(dir, newest)); !slices.Contains(synced, want) {
		t.Fatalf("after a commit of a 1.6 MB body: synced %v, want %s", synced, want)
	}
	// Badger sizes a new value log as a sparse file: the blocks it
	// allocates are what was written.
	info, err := os.Stat(valueLogPath(dir, newest))
	if err != nil {
		t.Fatal(err)
	}
	if n := info.Sys().(*syscall.Stat_t).Blocks * 512; n < 1<<20 {
		t.Fatalf("value log %s holds %d bytes: the body did not go there, and this test checks nothing", info.Name(), n)
	}

	fail = errors.New("input/output error")
	_, err = s.Append(ctx, makeEntries(rng, 5, t0, 1))
	if err == nil || !strings.Contains(err.Error(), "input/output error") || !strings.Contains(err.Error(), "may not survive a crash") {
		t.Fatalf("append whose value log fsync fails: %v, want the fsync's error", err)
	}
	// Sticky: the kernel reports a writeback error once, and which write
	// lost data is not known.
	fail = nil
	if _, err := s.Append(ctx, makeEntries(rng, 5, t0, 1)); err == nil || !strings.Contains(err.Error(), "restart the daemon") {
		t.Fatalf("append after a failed fsync: %v, want every write to fail until a restart", err)
	}
}

// TestValueLogSyncFailureLoggedByBadger: a failed fsync that Badger only
// logs fails the next write.
func TestValueLogSyncFailureLoggedByBadger(t *testing.T) {
	opts := DefaultOptions(t.TempDir())
	s, err := Open(opts)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(1, 9))
	if _, err := s.Append(ctx, makeEntries(rng, 5, t0, 1)); err != nil {
		t.Fatal(err)
	}
	// What Badger's valueLog.write logs when its deferred Sync fails.
	badgerLogger{vlog: s.vlog}.Errorf("Error while curlf sync: %v\n", errors.New("input/output error"))
	if _, err := s.Append(ctx, makeEntries(rng, 5, t0, 1)); err == nil || !strings.Contains(err.Error(), "input/output error") {
		t.Fatalf("append after Badger logged a failed fsync: %v, want that error", err)
	}
}

// TestValueLogSyncerFollowsNewLogs: when Badger moves on to a new value
// log, the syncer syncs the one it had once more and then the new one.
func TestValueLogSyncerFollowsNewLogs(t *testing.T) {
	dir := t.TempDir()
	touch := func(fid int) {
		t.Helper()
		if err := os.WriteFile(valueLogPath(dir, fid), []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	v := newValueLogSyncer(dir)
	var synced []string
	v.syncFile = func(f *os.File) error {
		synced = append(synced, filepath.Base(f.Name()))
		return nil
	}
	if err := v.sync(); err != nil || len(synced) != 0 {
		t.Fatalf("no value log yet: synced %v, %v", synced, err)
	}
	touch(1)
	touch(2)
	if err := v.sync(); err != nil {
		t.Fatal(err)
	}
	touch(3)
	touch(4)
	if err := v.sync(); err != nil {
		t.Fatal(err)
	}
	// GC deletes the log held and the next: the newest is found again.
	touch(5)
	touch(6)
	for _, fid := range []int{4, 5} {
		if err := os.Remove(valueLogPath(dir, fid)); err != nil {
			t.Fatal(err)
		}
	}
	if err := v.sync(); err != nil {
		t.Fatal(err)
	}
	want := []string{"000002.vlog", "000002.vlog", "000003.vlog", "000004.vlog", "000006.vlog"}
	if !slices.Equal(synced, want) {
		t.Fatalf("synced %v, want %v", synced, want)
	}
	v.stop()
	if err := v.sync(); err != nil || len(synced) != len(want) {
		t.Fatalf("after stop: synced %v, %v", synced, err)
	}
}
