// Package sparse reads and copies files that are mostly holes, as Badger's
// log files are (sized up front, written from the start): only their data
// is read.
package sparse

import (
	"bytes"
	"errors"
	"os"
)

// ErrNoData is SeekData's answer when nothing but holes follows.
var ErrNoData = errors.New("no data after the offset")

// Copy copies the file from into a new file to of the same size, writing
// only the parts of from that hold data other than zeros, so that the copy
// is as sparse as the original.
func Copy(from, to string) error {
	in, err := os.Open(from)
	if err != nil {
		return err
	}
	defer in.Close()
	fi, err := in.Stat()
	if err != nil {
		return err
	}
	out, err := os.Create(to)
	if err != nil {
		return err
	}
	defer out.Close()
	buf := make([]byte, 1<<20)
	for off := int64(0); off < fi.Size(); {
		d, err := SeekData(in, off)
		if errors.Is(err, ErrNoData) {
			break
		}
		if err != nil {
			return err
		}
		n, err := in.ReadAt(buf[:min(int64(len(buf)), fi.Size()-d)], d)
		if n == 0 {
			return err
		}
		if bytes.ContainsFunc(buf[:n], func(r rune) bool { return r != 0 }) {
			if _, err := out.WriteAt(buf[:n], d); err != nil {
				return err
			}
		}
		off = d + int64(n)
	}
	if err := out.Truncate(fi.Size()); err != nil {
		return err
	}
	return out.Close()
}
