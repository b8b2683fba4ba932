//go:build linux || darwin || freebsd

package search

import (
	"os"
	"syscall"
)

// mapBlockFile maps the block list for reading. The mapping reserves
// address space beyond the file's end, so that appends need no new
// mapping; only bytes below the list's known size are ever read (the
// kernel faults on a page past the end of the file).
func mapBlockFile(f *os.File) []byte {
	b, err := syscall.Mmap(int(f.Fd()), 0, blockMapReserve, syscall.PROT_READ, syscall.MAP_SHARED)
	if err != nil {
		return nil // reads fall back to pread
	}
	return b
}

func unmapBlockFile(b []byte) error { return syscall.Munmap(b) }
