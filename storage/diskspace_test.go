package storage

import (
	"bytes"
	"errors"
	"io"
	"strings"
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

func TestReserveWriter(t *testing.T) {
	const mib = int64(1 << 20)
	// A 4 GiB filesystem keeps 320 MiB free with 128 MiB memtables.
	free := 400 * mib
	var out bytes.Buffer
	w := &reserveWriter{w: &out, what: "spool backup", dir: "/data", memTable: 128 * mib,
		space: func() (int64, int64, error) { return free, 4 << 30, nil }}
	chunk := make([]byte, mib)
	written := 0
	for i := 0; i < 200; i++ {
		n, err := w.Write(chunk)
		written += n
		free -= int64(n) // the file takes the space it is given
		if err != nil {
			if !errors.Is(err, ErrDiskFull) || !strings.Contains(err.Error(), "spool backup") || !strings.Contains(err.Error(), "kept free") {
				t.Fatalf("error %q: want ErrDiskFull naming what was written and the reserve", err)
			}
			break
		}
	}
	// 80 MiB were above the reserve; a look every 8 MiB may stop short of
	// it by one look, never past it.
	if free < 320*mib || free >= 320*mib+2*spoolCheckBytes {
		t.Errorf("stopped with %d MiB free after %d MiB written, want it stopped just above the 320 MiB reserve", free/mib, written/int(mib))
	}
	if out.Len() != written {
		t.Errorf("%d bytes reached the file, Write reported %d", out.Len(), written)
	}

	// A single write larger than the room left is refused whole.
	free = 330 * mib
	w = &reserveWriter{w: &out, what: "spool backup", memTable: 128 * mib,
		space: func() (int64, int64, error) { return free, 4 << 30, nil }}
	if n, err := w.Write(make([]byte, 20*mib)); n != 0 || !errors.Is(err, ErrDiskFull) {
		t.Errorf("a 20 MiB write with 10 MiB above the reserve: wrote %d, %v; want 0, ErrDiskFull", n, err)
	}

	// When the free space cannot be read, writes go through.
	w = &reserveWriter{w: io.Discard, space: func() (int64, int64, error) { return 0, 0, errors.New("statfs: not supported") }}
	if _, err := w.Write(chunk); err != nil {
		t.Errorf("free space unknown: %v", err)
	}
}
