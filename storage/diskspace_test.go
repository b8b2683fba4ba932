package storage

import (
	"errors"
	"testing"
)

func TestDiskReserve(t *testing.T) {
	const mib, gib = int64(1 << 20), int64(1 << 30)
	for _, tc := range []struct {
		name            string
		total, memTable int64
		want            int64
	}{
		{"tiny filesystem keeps half", 64 * mib, 128 * mib, 32 * mib},
		{"small filesystem keeps half", 256 * mib, 128 * mib, 128 * mib},
		{"two memtables and a margin", 4 * gib, 128 * mib, 320 * mib},
		{"5% of a large filesystem", 100 * gib, 128 * mib, 5 * gib},
		{"smaller memtable", 4 * gib, 16 * mib, 4 * gib / 20},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := diskReserve(tc.total, tc.memTable); got != tc.want {
				t.Errorf("diskReserve(%d MiB, %d MiB) = %d MiB, want %d MiB", tc.total/mib, tc.memTable/mib, got/mib, tc.want/mib)
			}
		})
	}
}

func TestCheckDiskSpace(t *testing.T) {
	dir := t.TempDir()
	free, total, err := diskSpace(dir)
	if err != nil {
		t.Skipf("free space unknown here: %v", err)
	}
	s := &Store{opts: Options{Dir: dir, MemTableBytes: 128 << 20}}
	reserve := diskReserve(total, s.opts.MemTableBytes)
	if free-appendBytes(1, 200) < reserve {
		t.Skipf("%s has too little free space for this test", dir)
	}
	if err := s.checkDiskSpace(1, 200); err != nil {
		t.Errorf("one small entry: %v", err)
	}
	err = s.checkDiskSpace(1, int(free-reserve))
	if !errors.Is(err, ErrDiskFull) {
		t.Errorf("an entry as large as the space above the reserve: got %v, want ErrDiskFull", err)
	}
}
