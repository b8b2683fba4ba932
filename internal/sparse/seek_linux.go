package sparse

import (
	"errors"
	"os"
	"syscall"
)

// SeekData returns the offset of the first data (not a hole) of f at or
// after off: Badger's log files are mostly holes, which need not be read.
func SeekData(f *os.File, off int64) (int64, error) {
	const seekData = 3 // SEEK_DATA
	d, err := f.Seek(off, seekData)
	if errors.Is(err, syscall.ENXIO) {
		return 0, ErrNoData
	}
	if errors.Is(err, syscall.EINVAL) {
		return off, nil // a file system that does not know holes
	}
	return d, err
}
