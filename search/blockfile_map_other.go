//go:build !(linux || darwin || freebsd)

package search

import "os"

// mapBlockFile does not map on this platform: reads use pread.
func mapBlockFile(*os.File) []byte { return nil }

func unmapBlockFile([]byte) error { return nil }
