package storage

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
)

// Values of Badger's value threshold (1 MB) or more are written to its
// value log instead of its write-ahead log: the block bodies of large
// commits, merges and deletion rewrites, full tombstone records, large
// bucket values, and what value-log GC moves. With synced writes Badger
// v4.9.6 fsyncs the value log after each write but only logs a failure
// (valueLog.write's deferred Sync), so such a value would be acknowledged
// though the disk refused it, and a restart would find its key pointing
// at lost bytes.
//
// So after every write that may have put a value there, the store fsyncs
// the newest value log itself, on a descriptor of its own opened when the
// store opens (Badger has just started a new, empty log then), and fails
// the write when that reports an error. Since Linux 4.13 a writeback error
// is reported to every open file of the inode that was open when it
// happened, so this descriptor sees a failure of Badger's own fsync too;
// and Badger's logged failure is caught as well (badgerLogger). Older logs
// are synced by Badger, with errors returned, when it moves to a new one.
// A file with nothing to write back syncs in microseconds.
//
// A failure is sticky: after a failed fsync the kernel may have dropped
// the pages and reports the error once, so which write lost data is not
// known. Every later write fails too, until the daemon restarts (as
// databases do after a failed fsync).
type valueLogSyncer struct {
	dir string
	mu  sync.Mutex
	fid int // of f
	f   *os.File
	// failed is the first failure; every sync returns it from then on.
	failed  error
	stopped bool
	// syncFile is f.Sync; tests make it fail.
	syncFile func(*os.File) error
}

func newValueLogSyncer(dir string) *valueLogSyncer {
	return &valueLogSyncer{dir: dir, syncFile: (*os.File).Sync}
}

// sync fsyncs the newest value log.
func (v *valueLogSyncer) sync() error {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.stopped {
		return nil
	}
	if v.failed != nil {
		return v.failed
	}
	if err := v.syncNewest(); err != nil {
		v.failed = fmt.Errorf("%w (writes fail from now on: restart the daemon once the disk is sound)", err)
		return v.failed
	}
	return nil
}

// fail records a failure seen elsewhere (Badger's log), so that the next
// write fails.
func (v *valueLogSyncer) fail(err error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.failed == nil {
		v.failed = fmt.Errorf("sync value log: %w (writes fail from now on: restart the daemon once the disk is sound)", err)
	}
}

// start opens the newest value log, right after Badger opened.
func (v *valueLogSyncer) start() error {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.openNewest()
}

func (v *valueLogSyncer) syncNewest() error {
	if v.f == nil {
		if err := v.openNewest(); err != nil || v.f == nil {
			return err
		}
	}
	// Badger moves to the next log when one is full.
	for {
		next := v.fid + 1
		if _, err := os.Stat(valueLogPath(v.dir, next)); err != nil {
			if v.unlinked() {
				// GC removed the file held and the one after it:
				// find the newest again.
				v.close()
				if err := v.openNewest(); err != nil || v.f == nil {
					return err
				}
				continue
			}
			break
		}
		if err := v.syncOpen(); err != nil {
			return err
		}
		v.close()
		if err := v.open(next); err != nil {
			return err
		}
	}
	return v.syncOpen()
}

// unlinked reports whether the file held was deleted.
func (v *valueLogSyncer) unlinked() bool {
	fi, err := v.f.Stat()
	if err != nil {
		return false
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	return ok && st.Nlink == 0
}

func (v *valueLogSyncer) syncOpen() error {
	if err := v.syncFile(v.f); err != nil {
		return fmt.Errorf("sync value log %s: %w", v.f.Name(), err)
	}
	return nil
}

// openNewest opens the newest value log; none is no error.
func (v *valueLogSyncer) openNewest() error {
	fid, err := newestValueLog(v.dir)
	if err != nil || fid == 0 {
		return err
	}
	return v.open(fid)
}

func (v *valueLogSyncer) open(fid int) error {
	f, err := os.Open(valueLogPath(v.dir, fid))
	if err != nil {
		return fmt.Errorf("open value log to sync it: %w", err)
	}
	v.f, v.fid = f, fid
	return nil
}

// stop closes the log, after Badger has closed (whose Close syncs and
// returns its errors): syncs after it do nothing.
func (v *valueLogSyncer) stop() {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.stopped = true
	v.close()
}

func (v *valueLogSyncer) close() {
	if v.f != nil {
		_ = v.f.Close()
		v.f = nil
	}
}

// valueLogPath is the name Badger gives value log fid.
func valueLogPath(dir string, fid int) string {
	return filepath.Join(dir, fmt.Sprintf("%06d.vlog", fid))
}

// newestValueLog returns the highest file number of dir's value logs, or
// zero when there is none.
func newestValueLog(dir string) (int, error) {
	des, err := os.ReadDir(dir)
	if err != nil {
		return 0, fmt.Errorf("list value logs: %w", err)
	}
	newest := 0
	for _, de := range des {
		name, ok := strings.CutSuffix(de.Name(), ".vlog")
		if !ok {
			continue
		}
		if fid, err := strconv.Atoi(name); err == nil && fid > newest {
			newest = fid
		}
	}
	return newest, nil
}
