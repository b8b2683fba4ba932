package storage

import (
	"fmt"
	"io"
)

// Why appends stop well before the disk is full.
//
// Badger writes its write-ahead log (the memtable's .mem file), its tables
// and its value log through memory-mapped, sparse files. A write into such a
// mapping on a full filesystem does not return ENOSPC: the kernel sends
// SIGBUS and the whole process dies (seen with ext4 and tmpfs; on tmpfs even
// replaying the log's unwritten tail at start-up faults, so the daemon
// cannot start again until space is freed). wrapWriteErr's ENOSPC case is
// therefore almost never reached. Instead every append first checks the free
// space and fails with ErrDiskFull (HTTP 507) while a reserve remains for
// what Badger and the keyword index write on their own, in the background:
// the flush of a full memtable (an L0 table of up to the memtable's size),
// compactions (new tables are written before the old ones go), and Bleve
// segments.

// diskReserveMargin is added to two memtables in the reserve, for Bleve
// segments and Badger's small files (manifest, discard stats).
const diskReserveMargin = 64 << 20

// diskReserve returns the free bytes an append must leave on a filesystem of
// total bytes when the memtable holds up to memTable bytes. It is the larger
// of two memtables plus a margin and 5% of the filesystem (Elasticsearch's
// flood stage, for compactions of a large database), but at most half of the
// filesystem: on a small one the memtable never fills before the disk does,
// and what a flush writes is then bounded by what the log already holds,
// which is less than the other half.
func diskReserve(total, memTable int64) int64 {
	r := max(2*memTable+diskReserveMargin, total/20)
	return min(r, total/2)
}

// defaultMemTable is the memtable size for a store in dir: 32 MiB
// (Options.MemTableBytes says why), but 128 MiB on a filesystem under 4
// GiB. The disk reserve must hold what Badger writes on its own: a flush
// (a table of up to a memtable) and a level-0 compaction (up to five such
// tables, rewritten before the old ones go). 5% of a filesystem of 4 GiB
// or more holds five 32 MiB tables. A smaller one gets memtables that
// rarely fill before its disk does: few flushes, and too few tables for
// a compaction (the reserve's cap at half the filesystem then holds the
// one flush of what the log already holds). With 32 MiB memtables a 64
// MiB filesystem died of SIGBUS in a flush.
func defaultMemTable(dir string) int64 {
	if _, total, err := diskSpace(dir); err == nil && total > 0 && total < 4<<30 {
		return 128 << 20
	}
	return 32 << 20
}

// appendBytes estimates what an append of n entries whose encoded values
// take encoded bytes adds to the write-ahead log: the values, and per entry
// its key, Badger's header and checksum, its share of the posting lists
// and of the journal record.
func appendBytes(n, encoded int) int64 {
	return int64(encoded) + 128*int64(n) + 64<<10
}

// checkDiskSpace returns an error wrapping ErrDiskFull when appending n
// entries of encoded bytes would leave less than the reserve free on the
// store's filesystem. The committer calls it before it writes a group,
// counting the group's requests before this one, so that appends cannot
// pass it together. When
// the free space cannot be read (an unsupported platform, a statfs error) it
// lets the append through: the check is a guard, not a gate.
func (s *Store) checkDiskSpace(n, encoded int) error {
	free, total, err := diskSpace(s.opts.Dir)
	if err != nil || total <= 0 {
		return nil
	}
	reserve := diskReserve(total, s.opts.MemTableBytes)
	need := appendBytes(n, encoded)
	if free-need < reserve {
		return fmt.Errorf("append %d entries: %w: %s has %d MiB free of %d MiB, and %d MiB are kept free for compaction and the keyword index",
			n, ErrDiskFull, s.opts.Dir, free>>20, total>>20, reserve>>20)
	}
	return nil
}

// spoolCheckBytes is how much a ReserveWriter writes between two looks at
// the free space.
const spoolCheckBytes = 8 << 20

// ReserveWriter wraps w, which writes a file on the store's filesystem
// (what says what, for the error), so that writing fails with ErrDiskFull
// instead of taking the free space below the reserve appends leave: that
// space is what Badger's mapped writes and the keyword index need, and a
// spooled backup that used it up could get the daemon killed (see above).
func (s *Store) ReserveWriter(w io.Writer, what string) io.Writer {
	return &reserveWriter{w: w, what: what, dir: s.opts.Dir, memTable: s.opts.MemTableBytes,
		space: func() (int64, int64, error) { return diskSpace(s.opts.Dir) }}
}

type reserveWriter struct {
	w        io.Writer
	what     string
	dir      string
	memTable int64
	space    func() (free, total int64, err error)

	written int64 // bytes written through w
	room    int64 // bytes that may be written before the next look
}

func (r *reserveWriter) Write(p []byte) (int, error) {
	if int64(len(p)) > r.room {
		need := max(int64(len(p)), spoolCheckBytes)
		if free, total, err := r.space(); err == nil && total > 0 {
			if reserve := diskReserve(total, r.memTable); free-need < reserve {
				return 0, fmt.Errorf("%s: %w: after %d MiB written, %s has %d MiB free of %d MiB, and %d MiB are kept free for the database and the keyword index; free some space, or copy the data directory of a stopped daemon instead",
					r.what, ErrDiskFull, r.written>>20, r.dir, free>>20, total>>20, reserve>>20)
			}
		}
		r.room = need
	}
	n, err := r.w.Write(p)
	r.written += int64(n)
	r.room -= int64(n)
	return n, err
}
