package storage

// # Why the store reads Badger's logs before Badger does
//
// Badger replays its write-ahead logs (<n>.mem, one per memtable not yet
// flushed into a table) when it opens, and reads the last value log
// (<n>.vlog) to its end. Both are sequences of entries, each with a CRC-32C,
// and Badger takes the first entry that fails its checksum for the torn
// end of a write cut short by a crash: it truncates the file there, without
// a word. A damaged entry in the middle of a log therefore drops every
// commit after it, acknowledged ones included, and the store opens as if
// they had never been.
//
// A write cut short by a crash of the process is the last thing in its
// log: nothing was written after it, and the entry itself is torn, not
// whole (Go copies a long entry's first 32 bytes last, so a torn one
// usually starts with the zeros Badger left for the next entry's header,
// followed by part of its body). Badger (v4.9.6) copies entries into its
// logs one at a time; were several copied at once, whole ones could stand
// inside the torn copy, but its end would be missing. A damaged entry, on
// the other hand, is followed by the whole entries written after it, up to
// the log's clean end (the zeroed place of the next entry). So before
// Badger opens, checkLogs walks each of these logs the way Badger will;
// where the walk stops before the end, it looks for a whole entry (its
// checksum right) further on, and when the walk from there reaches the
// clean end, the log is damaged and the store refuses to open, naming the
// file. A damaged last entry looks like a torn write and is dropped by
// Badger: one commit, and the damage this cannot tell; so is damage
// followed by a torn write.
//
// A power loss (not a crash of the process) can look like damage: the
// pages of unsynced writes reach the disk in any order, so a lost page may
// be followed by whole entries. Those entries were never acknowledged, and
// Options.TruncateDamagedLogs (serve --truncate-damaged-logs) opens the
// store anyway; the message says so.
//
// The check is skipped when another process holds Badger's directory
// lock: its logs are being written, and Badger refuses to open anyway,
// saying why. Empty logs are removed only under the same condition.
//
// Cost: one read of the logs' written part (up to three memtables, 32 MiB
// each by default) at open, which Badger reads again right after; the rest
// of a log file is a hole that is skipped where the system says where
// data is (SEEK_DATA).

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/logengine/logengine/internal/sparse"
)

// logHeaderSize is the header at the start of every Badger log file
// (an encryption key id and a nonce).
const logHeaderSize = 20

// maxLogHeader is the longest entry header: two bytes and three uvarints.
const maxLogHeader = 2 + 3*binary.MaxVarintLen64

// maxLogValue bounds the values wholeEntryAfter reads to check: a length
// from bytes that are no header must not make it read the whole file. A
// whole entry with a longer value is missed, and the next one found.
const maxLogValue = 64 << 20

// maxLogKey is the longest key Badger writes; a longer one means the
// entry's header is damaged.
const maxLogKey = 1 << 16

// checkLogs checks the write-ahead logs and the last value log in dir,
// after removing the empty write-ahead logs a crash can leave.
func checkLogs(dir string) error {
	if dirInUse(dir) {
		return nil
	}
	mems, err := removeEmptyLogs(dir)
	if err != nil {
		return err
	}
	vlogs, err := filepath.Glob(filepath.Join(dir, "*.vlog"))
	if err != nil {
		return err
	}
	// Badger reads only the last value log at open: the others are read
	// value by value, and a damaged value fails its read with an error.
	if len(vlogs) > 0 {
		slices.SortFunc(vlogs, func(a, b string) int { return logID(a) - logID(b) })
		mems = append(mems, vlogs[len(vlogs)-1])
	}
	for _, name := range mems {
		at, follows, err := checkLog(name)
		if err != nil {
			return fmt.Errorf("check %s: %w", name, err)
		}
		if at >= 0 {
			return fmt.Errorf("%w: log %s: its entries stop at byte %d (an entry there is zeroed, does not decode or fails its checksum), but more was written after it, at byte %d; opening the store would drop everything from there on, acknowledged commits included. If the disk is damaged, keep the data directory as it is and restore the last backup into a new one (`logengine restore`); `logengine verify --data-dir` lists what else is damaged. If the machine lost power (not a crash of logengine alone), the entries after the bad one may be writes that were never acknowledged: start with --truncate-damaged-logs to drop them",
				ErrDamaged, name, at, follows)
		}
	}
	return nil
}

// removeEmptyLogs removes the write-ahead logs of no bytes in dir and
// returns the others. Badger refuses to open on one ("Create a new file"),
// yet a crash leaves one in two places: Badger deletes the log of a
// flushed memtable by truncating it to nothing and then removing it, and
// creates a new log by creating the file and then sizing it. Killed
// between the two steps, the file is empty and holds nothing to replay:
// its memtable is in a table already, or never took a write.
func removeEmptyLogs(dir string) ([]string, error) {
	mems, err := filepath.Glob(filepath.Join(dir, "*.mem"))
	if err != nil {
		return nil, err
	}
	var kept []string
	for _, name := range mems {
		fi, err := os.Stat(name)
		if err != nil {
			return nil, err
		}
		if fi.Size() > 0 {
			kept = append(kept, name)
			continue
		}
		if err := os.Remove(name); err != nil {
			return nil, fmt.Errorf("remove the empty write-ahead log %s: %w", name, err)
		}
	}
	return kept, nil
}

// logID is the number in a log file's name.
func logID(name string) int {
	n, _ := strconv.Atoi(strings.TrimSuffix(filepath.Base(name), filepath.Ext(name)))
	return n
}

// checkLog walks a log's entries the way Badger does when it opens. It
// returns -1 when the walk ends at the end of what was written or at a
// torn write, else the offset of the entry where it stopped and of the
// first whole entry written after it.
func checkLog(name string) (at, follows int64, err error) {
	f, err := os.Open(name)
	if err != nil {
		return 0, 0, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return 0, 0, err
	}
	size := fi.Size()
	first, next, err := walkLog(f, logHeaderSize, size)
	if err != nil {
		return 0, 0, err
	}
	stop := first
	for {
		if clean, err := cleanEnd(f, stop, next, size); err != nil || clean {
			return -1, 0, err
		}
		whole, err := wholeEntryAfter(f, stop+1, size)
		if err != nil || whole < 0 {
			return -1, 0, err
		}
		if stop, next, err = walkLog(f, whole, size); err != nil {
			return 0, 0, err
		}
		if clean, err := cleanEnd(f, stop, next, size); err != nil || clean {
			return first, whole, err
		}
	}
}

// cleanEnd tells whether a walk that stopped at stop (with the entry there
// reaching to next) ended at the end of what was written: a zeroed header
// or the end of the file, with nothing but zeros after.
func cleanEnd(f *os.File, stop, next, size int64) (bool, error) {
	if stop != next && next < size {
		return false, nil
	}
	nz, err := firstNonZero(f, next, size)
	return nz < 0, err
}

// wholeEntryAfter returns the offset of the first entry at or after from
// that decodes and passes its checksum, or -1. Every key Badger writes
// ends in a version of 8 bytes, the bitwise complement of a commit
// timestamp, so its first bytes are 0xff: looking for those first keeps
// the checksums computed to a few.
func wholeEntryAfter(f *os.File, from, size int64) (int64, error) {
	const chunk = 4 << 20
	const overlap = maxLogHeader + maxLogKey
	buf := make([]byte, min(chunk+overlap, size-from))
	var entry []byte
	for off := from; off < size; {
		nz, err := firstNonZero(f, off, size)
		if err != nil || nz < 0 {
			return -1, err
		}
		// An entry may start with zeros (its meta bytes): start the chunk
		// a header before the first non-zero byte.
		off = max(off, nz-2)
		n, err := f.ReadAt(buf[:min(int64(len(buf)), size-off)], off)
		if err != nil && !errors.Is(err, io.EOF) {
			return 0, err
		}
		b := buf[:n]
		starts := min(n, chunk)
		for i := range starts {
			hlen, klen, vlen, ok := entryHeader(b[i:])
			if !ok || klen < 8 {
				continue
			}
			version := i + hlen + int(klen) - 8
			if version+3 > n || b[version] != 0xff || b[version+1] != 0xff || b[version+2] != 0xff {
				continue
			}
			total := int64(hlen) + int64(klen) + int64(vlen) + crc32.Size
			if vlen > maxLogValue || off+int64(i)+total > size {
				continue
			}
			if int64(cap(entry)) < total {
				entry = make([]byte, total)
			}
			entry = entry[:total]
			if _, err := f.ReadAt(entry, off+int64(i)); err != nil {
				return 0, err
			}
			if crc32.Checksum(entry[:total-crc32.Size], castagnoli) == binary.BigEndian.Uint32(entry[total-crc32.Size:]) {
				return off + int64(i), nil
			}
		}
		off += int64(starts)
	}
	return -1, nil
}

// entryHeader decodes the header of an entry at the start of b: its
// length and the key's and value's.
func entryHeader(b []byte) (hlen int, klen, vlen uint64, ok bool) {
	if len(b) < 2 {
		return 0, 0, 0, false
	}
	klen, n1 := binary.Uvarint(b[2:])
	if n1 <= 0 || klen > maxLogKey {
		return 0, 0, 0, false
	}
	vlen, n2 := binary.Uvarint(b[2+n1:])
	if n2 <= 0 {
		return 0, 0, 0, false
	}
	_, n3 := binary.Uvarint(b[2+n1+n2:])
	if n3 <= 0 {
		return 0, 0, 0, false
	}
	return 2 + n1 + n2 + n3, klen, vlen, true
}

// walkLog reads the entries of a log until one does not decode or fails
// its checksum. It returns where that entry starts, and where it ends as
// far as its header tells (so that anything written beyond was written
// after it).
func walkLog(f *os.File, from, size int64) (stop, next int64, err error) {
	if size <= from {
		return size, size, nil
	}
	r := bufio.NewReaderSize(io.NewSectionReader(f, from, size-from), 1<<20)
	off := from
	var buf []byte
	for {
		head, _ := r.Peek(maxLogHeader)
		if len(head) < 2 {
			return off, size, nil // a header cut off by the file's end
		}
		n, klen, vlen, ok := entryHeader(head)
		if !ok {
			return off, off + maxLogHeader, nil
		}
		if klen == 0 && vlen == 0 && head[0] == 0 && head[1] == 0 {
			return off, off, nil // the zeroed place of the next entry
		}
		hlen := int64(n)
		total := hlen + int64(klen) + int64(vlen) + crc32.Size
		if off+total > size {
			return off, off + hlen, nil
		}
		if int64(cap(buf)) < total {
			buf = make([]byte, total)
		}
		buf = buf[:total]
		if _, err := io.ReadFull(r, buf); err != nil {
			return 0, 0, err
		}
		body := buf[:total-crc32.Size]
		if crc32.Checksum(body, castagnoli) != binary.BigEndian.Uint32(buf[total-crc32.Size:]) {
			return off, off + total, nil
		}
		off += total
	}
}

// firstNonZero returns the offset of the first byte of f at or after off
// (and before size) that is not zero, or -1.
func firstNonZero(f *os.File, off, size int64) (int64, error) {
	buf := make([]byte, 1<<20)
	for off < size {
		d, err := sparse.SeekData(f, off)
		if errors.Is(err, sparse.ErrNoData) {
			return -1, nil
		}
		if err != nil {
			return 0, err
		}
		off = d
		n, err := f.ReadAt(buf[:min(int64(len(buf)), size-off)], off)
		if err != nil && !errors.Is(err, io.EOF) {
			return 0, err
		}
		if n == 0 {
			return -1, nil
		}
		for i, b := range buf[:n] {
			if b != 0 {
				return off + int64(i), nil
			}
		}
		off += int64(n)
	}
	return -1, nil
}
