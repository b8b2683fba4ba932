package storage

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// crashImage appends commits to a store and copies its directory while it
// is open, as a crash would leave it: the commits are in the write-ahead
// log, not in tables. It returns the copy and the committed sequence.
func crashImage(t *testing.T) (string, uint64) {
	t.Helper()
	ctx := context.Background()
	src := t.TempDir()
	s, err := Open(smallLogOptions(src))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for i := range 20 {
		entries, _ := loggenEntries(200, t0.Add(time.Duration(i)*time.Minute))
		if _, err := s.Append(ctx, entries); err != nil {
			t.Fatal(err)
		}
	}
	img := t.TempDir()
	copyDir(t, src, img)
	return img, s.HighSeq()
}

// smallLogOptions keeps the write-ahead logs small (twice the memtable) so
// that copying them is quick.
func smallLogOptions(dir string) Options {
	opts := DefaultOptions(dir)
	opts.MemTableBytes = 8 << 20
	return opts
}

// TestDamagedLogRefused: a write-ahead log damaged in the middle makes Open
// refuse, naming the file, where Badger would drop the commits after the
// damage; an undamaged crash image opens with every commit.
func TestDamagedLogRefused(t *testing.T) {
	img, high := crashImage(t)
	mems, _ := filepath.Glob(filepath.Join(img, "*.mem"))
	if len(mems) == 0 {
		t.Fatal("the crash image has no write-ahead log")
	}
	var wal string
	var written int64
	for _, m := range mems {
		stop, _, err := checkLog(m)
		if err != nil || stop != -1 {
			t.Fatalf("undamaged log %s: stop %d, %v", m, stop, err)
		}
		f := openFile(t, m)
		end, _, err := walkLog(f, logHeaderSize, fileSize(t, m))
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
		if end > written {
			wal, written = m, end
		}
	}
	t.Run("sound", func(t *testing.T) {
		dir := t.TempDir()
		copyDir(t, img, dir)
		s, err := Open(smallLogOptions(dir))
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		if s.HighSeq() != high {
			t.Fatalf("opened at sequence %d, committed %d", s.HighSeq(), high)
		}
	})
	for _, at := range []int64{written / 4, written / 2, written * 3 / 4} {
		dir := t.TempDir()
		copyDir(t, img, dir)
		name := filepath.Join(dir, filepath.Base(wal))
		flipBytes(t, name, at, 4)
		_, err := Open(smallLogOptions(dir))
		if !errors.Is(err, ErrDamaged) || !strings.Contains(err.Error(), filepath.Base(wal)) || !strings.Contains(err.Error(), "restore") || !strings.Contains(err.Error(), "--truncate-damaged-logs") {
			t.Fatalf("open with %s damaged at byte %d of %d: %v, want ErrDamaged naming it and what to do", filepath.Base(wal), at, written, err)
		}
		// The way out after a power loss: open, dropping the log from
		// the bad entry on, as Badger does.
		opts := smallLogOptions(dir)
		opts.TruncateDamagedLogs = true
		s, err := Open(opts)
		if err != nil {
			t.Fatalf("open with TruncateDamagedLogs: %v", err)
		}
		if s.HighSeq() >= high {
			t.Errorf("opened at sequence %d with the log cut at byte %d, committed %d: nothing dropped?", s.HighSeq(), at, high)
		}
		s.Close()
	}
}

// TestDamagedAtOpenNamesFile: damage Badger finds when it opens (a MANIFEST
// record or a table index that fails its checksum) is ErrDamaged naming
// the file and what to do.
func TestDamagedAtOpenNamesFile(t *testing.T) {
	ctx := context.Background()
	src := t.TempDir()
	s := openTestStore(t, src)
	for i := range 5 {
		entries, _ := loggenEntries(500, t0.Add(time.Duration(i)*time.Minute))
		if _, err := s.Append(ctx, entries); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	tables, _ := filepath.Glob(filepath.Join(src, "*.sst"))
	if len(tables) == 0 {
		t.Fatal("no table written")
	}
	table := filepath.Base(tables[0])
	for _, tc := range []struct {
		file string
		at   func(size int64) int64
	}{
		{"MANIFEST", func(size int64) int64 { return size / 2 }},
		{"MANIFEST", func(size int64) int64 { return size - 6 }},
		{table, func(size int64) int64 { return size - 200 }}, // its index
	} {
		dir := t.TempDir()
		copyDir(t, src, dir)
		name := filepath.Join(dir, tc.file)
		at := tc.at(fileSize(t, name))
		flipBytes(t, name, at, 2)
		s, err := Open(DefaultOptions(dir))
		if err == nil {
			s.Close()
			t.Fatalf("%s damaged at %d: opened", tc.file, at)
		}
		if !errors.Is(err, ErrDamaged) || !strings.Contains(err.Error(), tc.file) || !strings.Contains(err.Error(), "restore") {
			t.Fatalf("%s damaged at %d: %v, want ErrDamaged naming it and what to do", tc.file, at, err)
		}
	}
}

// logEntry encodes an entry as Badger writes it to its logs, its key
// ending in the complement of commit timestamp ts.
func logEntry(key string, ts uint64, value []byte) []byte {
	var b []byte
	b = append(b, 0x40, 0) // meta (part of a transaction), user meta
	b = binary.AppendUvarint(b, uint64(len(key)+8))
	b = binary.AppendUvarint(b, uint64(len(value)))
	b = binary.AppendUvarint(b, 0)
	b = append(b, key...)
	b = binary.BigEndian.AppendUint64(b, math.MaxUint64-ts)
	b = append(b, value...)
	return binary.BigEndian.AppendUint32(b, crc32.Checksum(b, castagnoli))
}

// TestCheckLogTornOrDamaged: what a crash leaves at a log's end (a torn
// entry, or a torn copy of several entries) opens; an entry damaged before
// whole ones does not.
func TestCheckLogTornOrDamaged(t *testing.T) {
	value := func(i int) []byte { return bytes.Repeat([]byte{byte('a' + i)}, 300+i*7) }
	var es [][]byte
	for i := range 6 {
		es = append(es, logEntry(fmt.Sprintf("key-%d", i), uint64(1000+i), value(i)))
	}
	offset := func(n int) int64 {
		off := int64(logHeaderSize)
		for _, e := range es[:n] {
			off += int64(len(e))
		}
		return off
	}
	file := func(edit func(b []byte)) []byte {
		b := make([]byte, logHeaderSize, 1<<16)
		for _, e := range es {
			b = append(b, e...)
		}
		b = append(b, make([]byte, 4096)...)
		edit(b)
		return b
	}
	zero := func(b []byte) {
		for i := range b {
			b[i] = 0
		}
	}
	end := offset(len(es))
	for _, tc := range []struct {
		name        string
		edit        func(b []byte)
		at, follows int64
	}{
		{"whole", func([]byte) {}, -1, 0},
		{"torn last entry", func(b []byte) { zero(b[offset(5) : offset(5)+32]) }, -1, 0},
		{"torn last entry, end missing", func(b []byte) {
			zero(b[offset(5) : offset(5)+32])
			zero(b[end-100 : end])
		}, -1, 0},
		{"torn copy of three entries", func(b []byte) {
			zero(b[offset(3) : offset(3)+32])
			zero(b[end-128 : end])
		}, -1, 0},
		{"damaged value", func(b []byte) { b[offset(2)+100] ^= 0x10 }, offset(2), offset(3)},
		{"damaged key length", func(b []byte) { b[offset(2)+2] ^= 0x40 }, offset(2), offset(3)},
		{"zeroed entry before whole ones", func(b []byte) { zero(b[offset(1) : offset(1)+32]) }, offset(1), offset(2)},
		{"two damaged entries", func(b []byte) {
			b[offset(1)+50] ^= 1
			b[offset(3)+50] ^= 1
		}, offset(1), offset(4)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			name := filepath.Join(t.TempDir(), "000001.mem")
			if err := os.WriteFile(name, file(tc.edit), 0o600); err != nil {
				t.Fatal(err)
			}
			at, follows, err := checkLog(name)
			if err != nil {
				t.Fatal(err)
			}
			if at != tc.at || (at >= 0 && follows != tc.follows) {
				t.Fatalf("checkLog: stop at %d, whole entry at %d; want %d and %d", at, follows, tc.at, tc.follows)
			}
		})
	}
}

// FuzzCheckLog: any log file is walked without a panic, and what checkLog
// reports lies within the file.
func FuzzCheckLog(f *testing.F) {
	f.Add(make([]byte, 64))
	entry := []byte{0, 0, 3, 2, 0, 'k', 'e', 'y', 'v', 'a'}
	sum := crc32.Checksum(entry, castagnoli)
	good := append(append(make([]byte, logHeaderSize), entry...), byte(sum>>24), byte(sum>>16), byte(sum>>8), byte(sum))
	f.Add(append(good, make([]byte, 40)...))
	f.Add(append(append(good, 0xff, 0x01), make([]byte, 40)...))
	f.Fuzz(func(t *testing.T, data []byte) {
		name := filepath.Join(t.TempDir(), "000001.vlog")
		if err := os.WriteFile(name, data, 0o600); err != nil {
			t.Fatal(err)
		}
		at, follows, err := checkLog(name)
		if err != nil {
			t.Fatal(err)
		}
		if at == -1 {
			return
		}
		if at < logHeaderSize || at >= int64(len(data)) || follows <= at || follows >= int64(len(data)) {
			t.Fatalf("stop at %d, data at %d, in %d bytes", at, follows, len(data))
		}
		// What follows the stop is a whole entry.
		hlen, klen, vlen, ok := entryHeader(data[follows:])
		end := follows + int64(hlen) + int64(klen) + int64(vlen) + crc32.Size
		if !ok || end > int64(len(data)) {
			t.Fatalf("the entry at %d does not decode", follows)
		}
		e := data[follows:end]
		if crc32.Checksum(e[:len(e)-crc32.Size], castagnoli) != binary.BigEndian.Uint32(e[len(e)-crc32.Size:]) {
			t.Fatalf("the entry at %d fails its checksum", follows)
		}
	})
}

// TestEmptyLogRemoved: an empty write-ahead log, as a crash while Badger
// creates or deletes one leaves it, does not stop the store from opening,
// and costs no commit.
func TestEmptyLogRemoved(t *testing.T) {
	img, high := crashImage(t)
	mems, _ := filepath.Glob(filepath.Join(img, "*.mem"))
	top := 0
	for _, m := range mems {
		top = max(top, logID(m))
	}
	empty := filepath.Join(img, fmt.Sprintf("%05d.mem", top+1))
	if err := os.WriteFile(empty, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	s, err := Open(smallLogOptions(img))
	if err != nil {
		t.Fatalf("open with an empty write-ahead log: %v", err)
	}
	defer s.Close()
	if s.HighSeq() != high {
		t.Fatalf("opened at sequence %d, committed %d", s.HighSeq(), high)
	}
}

// TestLogsOfOpenStoreLeftAlone: while a store is open, another Open (a
// second daemon started by mistake) neither checks nor removes its logs,
// which are being written, and fails on Badger's lock.
func TestLogsOfOpenStoreLeftAlone(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(smallLogOptions(dir))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	empty := filepath.Join(dir, "99999.mem")
	if err := os.WriteFile(empty, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	defer os.Remove(empty)
	if !dirInUse(dir) {
		t.Fatal("dirInUse: false for an open store's directory")
	}
	if _, err := Open(smallLogOptions(dir)); err == nil || errors.Is(err, ErrDamaged) {
		t.Fatalf("second open: %v, want Badger's lock error", err)
	}
	if _, err := os.Stat(empty); err != nil {
		t.Fatalf("the second open removed a log of the open store: %v", err)
	}
}

// TestDamagedAtOpenNamesTheFile checks that Badger's open errors about
// its files, in the spellings it uses, are reported as damage naming the
// file, and that others are left as they are.
func TestDamagedAtOpenNamesTheFile(t *testing.T) {
	for _, tc := range []struct {
		err  string
		file string // "" when not damage
	}{
		{"Buffer length: 65515 greater than file size: 136. Manifest file might be corrupted", "MANIFEST"},
		{"manifest has bad magic", "MANIFEST"},
		{"while opening MANIFEST: checksum mismatch", "MANIFEST"},
		{"failed to initialize table error: /data/db/000006.sst: checksum mismatch", "000006.sst"},
		{"while opening fid: 3 err: /data/db/000003.vlog: bad header", "000003.vlog"},
		{"cannot acquire directory lock on \"/data/db\"", ""},
	} {
		err := damagedAtOpen(errors.New(tc.err))
		if tc.file == "" {
			if errors.Is(err, ErrDamaged) {
				t.Errorf("%q: reported as damage: %v", tc.err, err)
			}
			continue
		}
		if !errors.Is(err, ErrDamaged) || !strings.Contains(err.Error(), tc.file+" does not read") {
			t.Errorf("%q: %v, want damage naming %s", tc.err, err, tc.file)
		}
	}
}
