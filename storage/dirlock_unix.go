//go:build unix

package storage

import (
	"os"
	"syscall"
)

// dirInUse reports whether another Badger holds its lock on dir (a flock
// of the directory itself, exclusive for a writer, shared for a reader).
func dirInUse(dir string) bool {
	f, err := os.Open(dir)
	if err != nil {
		return false // Badger will say what is wrong with it
	}
	defer f.Close()
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		return true
	}
	_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
	return false
}
