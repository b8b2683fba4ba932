//go:build unix

package storage

import "syscall"

// cpuTime returns the CPU time the process has used, in nanoseconds, so
// that benchmarks can report CPU per entry on a machine shared with other
// work, where wall time says little.
func cpuTime() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}
