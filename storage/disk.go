package storage

import (
	"io/fs"
	"path/filepath"
	"syscall"
)

// DiskBytes returns the bytes the database's files occupy on disk, counted
// in allocated blocks: Badger preallocates value-log files sparsely, and its
// own Size() is refreshed only once a minute.
func (s *Store) DiskBytes() int64 {
	var n int64
	_ = filepath.WalkDir(s.opts.Dir, func(_ string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return nil
		}
		if st, ok := info.Sys().(*syscall.Stat_t); ok {
			n += st.Blocks * 512
		} else {
			n += info.Size()
		}
		return nil
	})
	return n
}
