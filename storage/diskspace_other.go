//go:build !(linux || darwin || freebsd)

package storage

import "errors"

// diskSpace is not implemented here; checkDiskSpace then lets every append
// through.
func diskSpace(string) (free, total int64, err error) {
	return 0, 0, errors.New("free space: not supported on this platform")
}
