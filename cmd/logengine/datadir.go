package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
)

// prepareDataDir creates the data directory and proves it writable before
// the store opens, so that a container started on a root-owned volume or
// bind mount is told what to change instead of getting a bare mkdir error
// from deep inside the store.
func prepareDataDir(dir string) error {
	err := os.MkdirAll(dir, 0o750)
	if err == nil {
		var f *os.File
		if f, err = os.CreateTemp(dir, ".write-probe-*"); err == nil {
			name := f.Name()
			if cerr := f.Close(); cerr != nil {
				return fmt.Errorf("data directory %s: %w", dir, cerr)
			}
			if rerr := os.Remove(name); rerr != nil {
				return fmt.Errorf("data directory %s: %w", dir, rerr)
			}
			return nil
		}
	}
	if errors.Is(err, fs.ErrPermission) {
		return notWritableError(dir, os.Getuid(), os.Getgid(), err)
	}
	return fmt.Errorf("data directory %s: %w", dir, err)
}

func notWritableError(dir string, uid, gid int, err error) error {
	return fmt.Errorf("data directory %s is not writable by uid %d (gid %d), which logengine runs as (%w); "+
		"give the directory to that user: for a bind mount run on the host `chown -R %d:%d HOST_PATH`, "+
		"for a named volume made by an older image run once `docker run --rm --user 0 -v VOLUME:/data busybox chown -R %d:%d /data`; "+
		"or point --data-dir (LOGENGINE_DATA_DIR) at a writable directory",
		dir, uid, gid, err, uid, gid, uid, gid)
}
