//go:build !linux

package sparse

import "os"

// SeekData returns off: without SEEK_DATA every byte is read.
func SeekData(_ *os.File, off int64) (int64, error) { return off, nil }
