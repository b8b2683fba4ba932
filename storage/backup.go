package storage

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"time"
)

// Backup writes a consistent online backup of everything changed since
// version since (0: everything) and returns the version to pass as since
// for the next incremental backup. Appends go on while it runs. The version
// is known only at the end: one read before the snapshot was seen to skip a
// concurrent commit in the next incremental backup.
//
// The stream is Badger's, between a begin and an end marker
// (backupformat.go), so that a restore can tell a complete backup from one
// cut short.
func (s *Store) Backup(ctx context.Context, w io.Writer, since uint64) (uint64, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	fw, err := newFramedWriter(w, since)
	if err != nil {
		return 0, fmt.Errorf("backup since %d: %w", since, err)
	}
	stream := s.db.NewStream()
	stream.NumGo = max(1, runtime.NumCPU()/2)
	stream.LogPrefix = "backup"
	stream.SinceTs = since
	ew := &firstErrWriter{w: fw}
	next, err := stream.Backup(ew, since)
	if err != nil {
		// When a write fails, Badger's stream cancels its readers and
		// returns what they saw, "context canceled": the write's error is
		// the one that says what to fix.
		if ew.err != nil {
			err = ew.err
		}
		return 0, fmt.Errorf("backup since %d: %w", since, err)
	}
	// Badger answers the highest version it streamed: 0 when nothing
	// changed, which must not send the next backup back to the start.
	next = max(next, since)
	if err := fw.finish(next); err != nil {
		return 0, fmt.Errorf("backup since %d: end marker: %w", since, err)
	}
	return next, nil
}

// firstErrWriter remembers the first error of w.
type firstErrWriter struct {
	w   io.Writer
	err error
}

func (f *firstErrWriter) Write(p []byte) (int, error) {
	n, err := f.w.Write(p)
	if err != nil && f.err == nil {
		f.err = err
	}
	return n, err
}

// Restore loads a backup stream (one full backup, then incrementals in
// order) into a new store in dir, which must be empty or missing.
//
// It is all or nothing: the stream is loaded into a temporary directory
// beside dir and checked to its end (every backup's end marker, counts and
// CRC-32C) before that directory is renamed to dir. On any error dir and its
// parent are left as they were. A marker file beside dir
// (RestoreMarker) exists from the start of the restore to just after the
// rename, so that a restore killed half way leaves a directory that Open
// refuses rather than one that looks like an empty or partial store.
//
// The summary says how much of the stream could be checked: records of
// backups written before the end marker existed cannot be.
func Restore(dir string, r io.Reader) (BackupSummary, error) {
	var sum BackupSummary
	if err := requireEmptyDir(dir); err != nil {
		return sum, err
	}
	_, dirErr := os.Stat(dir)
	dirExisted := dirErr == nil
	parent := filepath.Dir(dir)
	_, statErr := os.Stat(parent)
	createdParent := os.IsNotExist(statErr)
	if err := os.MkdirAll(parent, 0o750); err != nil {
		return sum, fmt.Errorf("restore into %s: %w", dir, err)
	}
	tmp := dir + ".restore-tmp"
	marker := RestoreMarker(dir)
	if _, err := os.Stat(marker); err == nil {
		return sum, fmt.Errorf("restore into %s: %w", dir, interruptedRestoreError(dir))
	}
	if err := writeRestoreMarker(marker, dir, tmp); err != nil {
		return sum, fmt.Errorf("restore into %s: %w", dir, err)
	}
	sum, err := loadInto(tmp, r)
	if err == nil {
		err = swapIn(tmp, dir)
	}
	if err != nil {
		// Put everything back as it was; the marker goes last, so that a
		// crash during the clean-up still leaves a refused directory.
		_ = os.RemoveAll(tmp)
		// Whatever is in dir now is ours: requireEmptyDir found it empty.
		_ = os.RemoveAll(dir)
		if dirExisted {
			_ = os.Mkdir(dir, 0o750)
		}
		_ = os.Remove(marker)
		if createdParent {
			_ = os.Remove(parent)
		}
		_ = syncDir(parent)
		return sum, fmt.Errorf("restore into %s: %w", dir, err)
	}
	if err := os.Remove(marker); err != nil {
		return sum, fmt.Errorf("restore into %s: remove the marker %s: %w", dir, marker, err)
	}
	if err := syncDir(parent); err != nil {
		return sum, fmt.Errorf("restore into %s: %w", dir, err)
	}
	return sum, nil
}

// loadInto loads the checked stream into a new store in dir.
func loadInto(dir string, r io.Reader) (BackupSummary, error) {
	opts := DefaultOptions(dir)
	opts.SyncWrites = false // one sync at Close is enough for a bulk load
	s, err := Open(opts)
	if err != nil {
		return BackupSummary{}, err
	}
	fr := newFramedReader(r, true)
	err = s.db.Load(fr, 256)
	// The reader's fault is the cause when there is one: Badger reports it
	// bare, or as a decoding error of the bytes before it.
	if ferr := fr.fault(); ferr != nil {
		err = ferr
	}
	if err != nil {
		_ = s.Close()
		if !errors.Is(err, ErrBackupTruncated) && !errors.Is(err, ErrBackupCorrupt) {
			err = fmt.Errorf("%w: load the records before byte %d: %v", ErrBackupCorrupt, fr.off, err)
		}
		return fr.sum, err
	}
	if err := s.db.Sync(); err != nil {
		_ = s.Close()
		return fr.sum, fmt.Errorf("sync: %w", err)
	}
	if err := s.Close(); err != nil {
		return fr.sum, fmt.Errorf("close: %w", err)
	}
	return fr.sum, nil
}

// swapIn moves the loaded store at tmp to dir.
func swapIn(tmp, dir string) error {
	// requireEmptyDir allowed an empty dir; rename needs it gone.
	if err := os.Remove(dir); err != nil && !os.IsNotExist(err) {
		return err
	}
	if err := os.Rename(tmp, dir); err != nil {
		return err
	}
	return syncDir(filepath.Dir(dir))
}

// RestoreMarker is the file that says a restore into dir is under way or
// was interrupted.
func RestoreMarker(dir string) string { return dir + ".restore-in-progress" }

// ErrInterruptedRestore says a restore into a store's directory did not end.
var ErrInterruptedRestore = errors.New("a restore into this directory did not finish")

func interruptedRestoreError(dir string) error {
	return fmt.Errorf("%w (marker %s): its data is incomplete", ErrInterruptedRestore, RestoreMarker(dir))
}

// CheckNoInterruptedRestore fails when a restore into dir began and did not
// finish.
func CheckNoInterruptedRestore(dir string) error {
	if _, err := os.Stat(RestoreMarker(dir)); err == nil {
		return interruptedRestoreError(dir)
	} else if !os.IsNotExist(err) {
		return fmt.Errorf("check %s: %w", RestoreMarker(dir), err)
	}
	return nil
}

func writeRestoreMarker(marker, dir, tmp string) error {
	text := fmt.Sprintf("A restore into %s started at %s and has not finished; it loads into %s first.\n"+
		"If no restore is running, it was interrupted: delete this data directory and restore again.\n",
		dir, time.Now().UTC().Format(time.RFC3339), tmp)
	f, err := os.OpenFile(marker, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o640)
	if err != nil {
		return fmt.Errorf("write restore marker: %w", err)
	}
	if _, err := f.WriteString(text); err != nil {
		f.Close()
		return fmt.Errorf("write restore marker: %w", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("write restore marker: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write restore marker: %w", err)
	}
	return syncDir(filepath.Dir(marker))
}

// syncDir makes renames and removals in dir durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("sync directory %s: %w", dir, err)
	}
	if err := d.Sync(); err != nil {
		d.Close()
		return fmt.Errorf("sync directory %s: %w", dir, err)
	}
	return d.Close()
}

func requireEmptyDir(dir string) error {
	entries, err := os.ReadDir(dir)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("restore into %s: %w", dir, err)
	}
	if len(entries) > 0 {
		return fmt.Errorf("restore into %s: the directory is not empty (%d entries); restore into a new or empty directory", dir, len(entries))
	}
	return nil
}
