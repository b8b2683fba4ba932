package storage

import (
	"bytes"
	"context"
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// backupChain returns a full backup and an incremental one on top of it,
// and the number of entries they hold together.
func backupChain(t *testing.T) (full, incr []byte, entries int) {
	t.Helper()
	s := openTestStore(t, t.TempDir())
	defer s.Close()
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(1, 2))
	if _, err := s.Append(ctx, makeEntries(rng, 3000, t0, time.Hour)); err != nil {
		t.Fatal(err)
	}
	var f, i bytes.Buffer
	next, err := s.Backup(ctx, &f, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Append(ctx, makeEntries(rng, 1000, t0.Add(2*time.Hour), time.Hour)); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Backup(ctx, &i, next); err != nil {
		t.Fatal(err)
	}
	return f.Bytes(), i.Bytes(), 4000
}

// countEntries opens the store in dir and counts its entries.
func countEntries(t *testing.T, dir string) int {
	t.Helper()
	s := openTestStore(t, dir)
	defer s.Close()
	n := 0
	if err := s.Scan(context.Background(), MinID, MaxID, false, func(*Entry) bool { n++; return true }); err != nil {
		t.Fatal(err)
	}
	return n
}

// dirState describes what is at path: "missing", or the sorted names in it.
func dirState(t *testing.T, path string) string {
	t.Helper()
	entries, err := os.ReadDir(path)
	if os.IsNotExist(err) {
		return "missing"
	}
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return "[" + strings.Join(names, " ") + "]"
}

func TestRestoreChecksTheWholeStream(t *testing.T) {
	full, incr, want := backupChain(t)
	stream := append(append([]byte{}, full...), incr...)

	dir := filepath.Join(t.TempDir(), "data", "db")
	sum, err := Restore(dir, bytes.NewReader(stream))
	if err != nil {
		t.Fatal(err)
	}
	if sum.Backups != 2 || sum.UncheckedRecords != 0 {
		t.Fatalf("summary %+v: want 2 backups, all checked", sum)
	}
	if got := countEntries(t, dir); got != want {
		t.Fatalf("restored %d entries, want %d", got, want)
	}
	if _, err := os.Stat(RestoreMarker(dir)); !os.IsNotExist(err) {
		t.Fatalf("the restore marker is still there after a restore: %v", err)
	}
}

// TestRestoreTruncated: a stream cut anywhere but between two whole backups
// is refused and the target is left as it was, missing or empty.
func TestRestoreTruncated(t *testing.T) {
	full, incr, _ := backupChain(t)
	stream := append(append([]byte{}, full...), incr...)
	endLen := len(encodeMarker(backupMarker{Kind: "end", Format: backupFormat}))
	cuts := map[string]int{
		"nothing but a byte":          1,
		"inside the first length":     5,
		"after the begin marker":      len(encodeMarker(backupMarker{Kind: "begin", Format: backupFormat})),
		"a third of the full backup":  len(full) / 3,
		"two thirds of the full":      2 * len(full) / 3,
		"before the full's end":       len(full) - endLen - 10,
		"just before the end marker":  len(full) - endLen - 80, // inside the end marker or the record before
		"one byte short of the full":  len(full) - 1,
		"half of the incremental":     len(full) + len(incr)/2,
		"one byte short of the chain": len(stream) - 1,
	}
	for name, cut := range cuts {
		t.Run(name, func(t *testing.T) {
			for _, existing := range []bool{false, true} {
				parent := filepath.Join(t.TempDir(), "data")
				if existing {
					if err := os.Mkdir(parent, 0o750); err != nil {
						t.Fatal(err)
					}
				}
				before := dirState(t, parent)
				_, err := Restore(filepath.Join(parent, "db"), bytes.NewReader(stream[:cut]))
				if !errors.Is(err, ErrBackupTruncated) && !errors.Is(err, ErrBackupCorrupt) {
					t.Fatalf("restore of %d of %d bytes: %v; want a truncated backup", cut, len(stream), err)
				}
				if !strings.Contains(err.Error(), "the backup ends early: it is truncated or still being written") &&
					!strings.Contains(err.Error(), "corrupted") {
					t.Fatalf("error %q says neither truncated nor corrupted", err)
				}
				if after := dirState(t, parent); after != before {
					t.Fatalf("the target changed: %s before, %s after", before, after)
				}
			}
		})
	}

	// A cut on a record boundary: Badger's stream alone would look whole.
	t.Run("record boundary before the end marker", func(t *testing.T) {
		parent := filepath.Join(t.TempDir(), "data")
		_, err := Restore(filepath.Join(parent, "db"), bytes.NewReader(full[:len(full)-endLen]))
		if !errors.Is(err, ErrBackupTruncated) {
			t.Fatalf("got %v, want %v", err, ErrBackupTruncated)
		}
		if got := dirState(t, parent); got != "missing" {
			t.Fatalf("target %s, want missing", got)
		}
	})
}

// TestRestoreFlippedBytes: a byte changed anywhere is found, the target left
// as it was.
func TestRestoreFlippedBytes(t *testing.T) {
	full, incr, _ := backupChain(t)
	stream := append(append([]byte{}, full...), incr...)
	rng := rand.New(rand.NewPCG(3, 4))
	positions := []int{0, 8, 9, 30, len(full) - 20, len(full) - 3, len(full) + 40, len(stream) - 5}
	for i := 0; i < 12; i++ {
		positions = append(positions, rng.IntN(len(stream)))
	}
	for _, pos := range positions {
		damaged := append([]byte{}, stream...)
		damaged[pos] ^= 0x5a
		parent := t.TempDir()
		_, err := Restore(filepath.Join(parent, "db"), bytes.NewReader(damaged))
		if err == nil {
			t.Fatalf("byte %d of %d flipped: restore succeeded", pos, len(stream))
		}
		if !errors.Is(err, ErrBackupCorrupt) && !errors.Is(err, ErrBackupTruncated) {
			t.Fatalf("byte %d flipped: %v; want corrupted or truncated", pos, err)
		}
		if got := dirState(t, parent); got != "[]" {
			t.Fatalf("byte %d flipped: target holds %s, want it empty", pos, got)
		}
	}
}

// TestRestoreUnframedBackup: a backup written before the markers existed,
// Badger's stream alone, still restores and says it could not be checked.
func TestRestoreUnframedBackup(t *testing.T) {
	s := openTestStore(t, t.TempDir())
	rng := rand.New(rand.NewPCG(5, 6))
	if _, err := s.Append(context.Background(), makeEntries(rng, 500, t0, time.Hour)); err != nil {
		t.Fatal(err)
	}
	var old bytes.Buffer
	if _, err := s.db.NewStream().Backup(&old, 0); err != nil {
		t.Fatal(err)
	}
	s.Close()
	dir := filepath.Join(t.TempDir(), "db")
	sum, err := Restore(dir, &old)
	if err != nil {
		t.Fatal(err)
	}
	if sum.UncheckedRecords == 0 || sum.Backups != 0 {
		t.Fatalf("summary %+v: want unchecked records and no framed backup", sum)
	}
	if got := countEntries(t, dir); got != 500 {
		t.Fatalf("restored %d entries, want 500", got)
	}
}

func TestRestoreChain(t *testing.T) {
	full, incr, _ := backupChain(t)
	sum, err := CheckBackup(bytes.NewReader(full))
	if err != nil {
		t.Fatal(err)
	}
	// An empty incremental backup that starts past the end of the full one.
	late := sum.Version + 100
	gap := append(encodeMarker(backupMarker{Kind: "begin", Format: backupFormat, Since: late}),
		encodeMarker(backupMarker{Kind: "end", Format: backupFormat, Since: late, Version: late})...)
	for name, stream := range map[string][]byte{
		"incremental alone":         incr,
		"full then a gap":           append(append([]byte{}, full...), gap...),
		"full twice, the first cut": append(append([]byte{}, full[:len(full)-5]...), full...),
	} {
		t.Run(name, func(t *testing.T) {
			parent := t.TempDir()
			_, err := Restore(filepath.Join(parent, "db"), bytes.NewReader(stream))
			if err == nil {
				t.Fatal("restore succeeded")
			}
			if got := dirState(t, parent); got != "[]" {
				t.Fatalf("target holds %s, want it empty", got)
			}
		})
	}
}

// TestOpenRefusesInterruptedRestore: a restore killed before its end leaves
// the marker, and the store does not open.
func TestOpenRefusesInterruptedRestore(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "db")
	if err := os.WriteFile(RestoreMarker(dir), []byte("x"), 0o640); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(DefaultOptions(dir)); !errors.Is(err, ErrInterruptedRestore) {
		t.Fatalf("open: %v, want %v", err, ErrInterruptedRestore)
	}
	if _, err := Restore(dir, bytes.NewReader(nil)); !errors.Is(err, ErrInterruptedRestore) {
		t.Fatalf("restore: %v, want %v", err, ErrInterruptedRestore)
	}
}

func TestCheckBackup(t *testing.T) {
	full, incr, _ := backupChain(t)
	sum, err := CheckBackup(bytes.NewReader(append(append([]byte{}, full...), incr...)))
	if err != nil || sum.Backups != 2 || sum.Version == 0 {
		t.Fatalf("check: %+v, %v", sum, err)
	}
	if _, err := CheckBackup(bytes.NewReader(full[:len(full)/2])); !errors.Is(err, ErrBackupTruncated) {
		t.Fatalf("check of half a backup: %v", err)
	}
}
