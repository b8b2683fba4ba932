package storage

import (
	"context"
	"fmt"
	"io"
	"os"
	"runtime"
)

// Backup writes a consistent online backup of everything changed since
// version since (0: everything) and returns the version to pass as since
// for the next incremental backup. Appends go on while it runs. The version
// is known only at the end: one read before the snapshot was seen to skip a
// concurrent commit in the next incremental backup.
func (s *Store) Backup(ctx context.Context, w io.Writer, since uint64) (uint64, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	stream := s.db.NewStream()
	stream.NumGo = max(1, runtime.NumCPU()/2)
	stream.LogPrefix = "backup"
	stream.SinceTs = since
	ew := &firstErrWriter{w: w}
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
	return max(next, since), nil
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
func Restore(dir string, r io.Reader) error {
	if err := requireEmptyDir(dir); err != nil {
		return err
	}
	opts := DefaultOptions(dir)
	opts.SyncWrites = false // one sync at Close is enough for a bulk load
	s, err := Open(opts)
	if err != nil {
		return err
	}
	if err := s.db.Load(r, 256); err != nil {
		_ = s.Close()
		return fmt.Errorf("restore into %s: %w", dir, err)
	}
	if err := s.db.Sync(); err != nil {
		_ = s.Close()
		return fmt.Errorf("restore into %s: sync: %w", dir, err)
	}
	return s.Close()
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
