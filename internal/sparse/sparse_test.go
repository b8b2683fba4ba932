package sparse

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// TestCopy: a copy has the original's size and bytes, wherever its data
// and holes are.
func TestCopy(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		name string
		size int64
		data map[int64][]byte // offset -> bytes written there
	}{
		{"empty", 0, nil},
		{"all hole", 5 << 20, nil},
		{"data at the start", 3 << 20, map[int64][]byte{0: []byte("header")}},
		{"data between holes", 9 << 20, map[int64][]byte{4<<20 + 17: bytes.Repeat([]byte("x"), 70000)}},
		{"data at the end", 2<<20 + 5, map[int64][]byte{2<<20 + 1: []byte("tail")}},
	} {
		from, to := filepath.Join(dir, tc.name), filepath.Join(dir, tc.name+".copy")
		f, err := os.Create(from)
		if err != nil {
			t.Fatal(err)
		}
		if err := f.Truncate(tc.size); err != nil {
			t.Fatal(err)
		}
		for off, b := range tc.data {
			if _, err := f.WriteAt(b, off); err != nil {
				t.Fatal(err)
			}
		}
		f.Close()
		if err := Copy(from, to); err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		want, _ := os.ReadFile(from)
		got, err := os.ReadFile(to)
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("%s: the copy differs (%d bytes, want %d): %v", tc.name, len(got), len(want), err)
		}
	}
}
