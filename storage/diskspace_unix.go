//go:build linux || darwin || freebsd

package storage

import "syscall"

// diskSpace returns the bytes available to the daemon and the total size of
// the filesystem that holds dir. Available, not free: the blocks ext4 keeps
// for root are not the daemon's to fill.
func diskSpace(dir string) (free, total int64, err error) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return 0, 0, err
	}
	return int64(st.Bavail) * int64(st.Bsize), int64(st.Blocks) * int64(st.Bsize), nil
}
