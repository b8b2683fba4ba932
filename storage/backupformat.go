package storage

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"hash/crc32"
	"io"
)

// A backup is Badger's backup stream, records of an 8-byte little-endian
// length and a protobuf KVList, framed by two records of our own: a begin
// marker before the first and an end marker (the trailer) after the last,
// which counts the records and bytes between them and carries their CRC-32C.
// Badger's stream alone ends cleanly at any record boundary, so without the
// trailer a backup cut there would restore as if complete.
//
// The markers are KVList messages holding only field 15, which KVList does
// not define: a Badger Load (and any older logengine restore) decodes them
// as empty lists and skips them, so new backups still restore with old
// binaries. Incremental backups are concatenated after the full one, so a
// stream is a sequence of framed backups; bytes outside any frame come from
// backups written before the trailer existed and cannot be checked.

// ErrBackupTruncated says the stream stopped before a backup's end marker.
var ErrBackupTruncated = errors.New("the backup ends early: it is truncated or still being written")

// ErrBackupCorrupt says the bytes of a backup are not the ones written.
var ErrBackupCorrupt = errors.New("the backup is corrupted")

const (
	// markerTag is the protobuf key of field 15 with wire type 2 (bytes).
	markerTag = 15<<3 | 2
	// backupFormat is the version of the markers' content.
	backupFormat = 1
	// maxBackupRecord bounds one record's length. Badger's stream cuts
	// batches near 100 MiB; a larger length is a damaged length prefix and
	// must not become a huge allocation.
	maxBackupRecord = 1 << 30
)

// markerMagic starts the content of every marker, so that a KVList that
// happens to use field 15 one day is not taken for one.
var markerMagic = []byte(`{"logengine_backup":`)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// backupMarker is the JSON content of a begin or end marker.
type backupMarker struct {
	Kind   string `json:"logengine_backup"` // "begin" or "end"
	Format int    `json:"format"`
	// Since is the version the backup starts after (0: a full backup).
	Since uint64 `json:"since"`
	// End marker only: the version to pass as since for the next backup,
	// and the records, bytes and CRC-32C of what lies between the markers.
	Version uint64 `json:"version,omitempty"`
	Records uint64 `json:"records,omitempty"`
	Bytes   uint64 `json:"bytes,omitempty"`
	CRC32C  uint32 `json:"crc32c,omitempty"`
}

// encodeMarker returns m as one framed record.
func encodeMarker(m backupMarker) []byte {
	payload, err := json.Marshal(m)
	if err != nil {
		panic("BUG: encode backup marker: " + err.Error())
	}
	body := []byte{markerTag}
	body = binary.AppendUvarint(body, uint64(len(payload)))
	body = append(body, payload...)
	rec := binary.LittleEndian.AppendUint64(nil, uint64(len(body)))
	return append(rec, body...)
}

// decodeMarker tells whether body is one of our markers and decodes it. A
// body that starts like a marker but does not decode is damage.
func decodeMarker(body []byte) (backupMarker, bool, error) {
	var m backupMarker
	if len(body) == 0 || body[0] != markerTag {
		return m, false, nil
	}
	n, k := binary.Uvarint(body[1:])
	if k <= 0 || uint64(len(body)-1-k) != n {
		return m, false, nil
	}
	payload := body[1+k:]
	if !bytes.HasPrefix(payload, markerMagic) {
		return m, false, nil
	}
	if err := json.Unmarshal(payload, &m); err != nil {
		return m, true, fmt.Errorf("marker %q: %w", payload, err)
	}
	if (m.Kind != "begin" && m.Kind != "end") || m.Format != backupFormat {
		return m, true, fmt.Errorf("unknown marker %q", payload)
	}
	return m, true, nil
}

// framedWriter writes Badger's backup stream to w between a begin and an end
// marker, counting and summing the records as they go by.
type framedWriter struct {
	w     io.Writer
	since uint64
	crc   hash.Hash32
	bytes uint64
	// Record counting follows the framing across arbitrary writes: left is
	// what remains of the current record's body; hdr collects its length.
	records uint64
	left    uint64
	hdr     []byte
}

func newFramedWriter(w io.Writer, since uint64) (*framedWriter, error) {
	if _, err := w.Write(encodeMarker(backupMarker{Kind: "begin", Format: backupFormat, Since: since})); err != nil {
		return nil, err
	}
	return &framedWriter{w: w, since: since, crc: crc32.New(castagnoli)}, nil
}

func (f *framedWriter) Write(p []byte) (int, error) {
	n, err := f.w.Write(p)
	f.crc.Write(p[:n])
	f.bytes += uint64(n)
	for rest := p[:n]; len(rest) > 0; {
		if f.left > 0 {
			k := min(f.left, uint64(len(rest)))
			f.left -= k
			rest = rest[k:]
			continue
		}
		k := min(8-len(f.hdr), len(rest))
		f.hdr = append(f.hdr, rest[:k]...)
		rest = rest[k:]
		if len(f.hdr) == 8 {
			f.left = binary.LittleEndian.Uint64(f.hdr)
			f.hdr = f.hdr[:0]
			f.records++
		}
	}
	return n, err
}

// finish writes the end marker, once Badger's stream is complete.
func (f *framedWriter) finish(version uint64) error {
	if f.left > 0 || len(f.hdr) > 0 {
		return fmt.Errorf("BUG: backup stream stopped inside a record")
	}
	_, err := f.w.Write(encodeMarker(backupMarker{
		Kind: "end", Format: backupFormat, Since: f.since, Version: version,
		Records: f.records, Bytes: f.bytes, CRC32C: f.crc.Sum32(),
	}))
	return err
}

// BackupSummary describes a backup stream that was read to its end.
type BackupSummary struct {
	// Backups is the number of framed backups (a full one, then incrementals).
	Backups int
	// Version is the since for the next incremental backup, from the last
	// end marker; 0 when there is none.
	Version uint64
	// UncheckedRecords counts records outside any frame: written before
	// backups had an end marker, so their truncation cannot be detected.
	UncheckedRecords uint64
	// Records and Bytes count every Badger record of the stream.
	Records uint64
	Bytes   uint64
}

// framedReader reads a backup stream, checks every frame and passes Badger's
// own records on, markers removed, so that Badger's Load sees the stream it
// knows. A damaged or truncated stream ends with an error instead of io.EOF.
type framedReader struct {
	r io.Reader
	// chain is set when the stream must be a whole chain (a restore): it
	// must start with a full backup.
	chain bool

	off uint64 // bytes of r consumed, for messages

	pending []byte // what Read still has to hand out
	err     error  // sticky: io.EOF or the first fault

	sum     BackupSummary
	open    bool         // inside a frame: a begin marker without its end yet
	begin   backupMarker // the open frame's begin marker
	crc     hash.Hash32
	records uint64
	bytes   uint64
	ended   bool   // some frame has ended
	lastVer uint64 // version of the last end marker
}

func newFramedReader(r io.Reader, chain bool) *framedReader {
	return &framedReader{r: r, chain: chain, crc: crc32.New(castagnoli)}
}

func (f *framedReader) Read(p []byte) (int, error) {
	for len(f.pending) == 0 {
		if f.err != nil {
			return 0, f.err
		}
		f.pending, f.err = f.next()
	}
	n := copy(p, f.pending)
	f.pending = f.pending[n:]
	return n, nil
}

// fault returns the error that stopped the stream, nil at a clean end.
func (f *framedReader) fault() error {
	if f.err == io.EOF {
		return nil
	}
	return f.err
}

// next reads one record and returns the bytes to hand on (none for a
// marker), io.EOF at a clean end, or what is wrong.
func (f *framedReader) next() ([]byte, error) {
	start := f.off
	rec := make([]byte, 8)
	n, err := io.ReadFull(f.r, rec)
	f.off += uint64(n)
	if err == io.EOF {
		if f.open {
			return nil, f.truncated(start)
		}
		return nil, io.EOF
	}
	if err != nil {
		return nil, f.readFault(start, err)
	}
	size := binary.LittleEndian.Uint64(rec)
	if size > maxBackupRecord {
		return nil, fmt.Errorf("%w: the record at byte %d claims %d bytes, more than a backup ever writes", ErrBackupCorrupt, start, size)
	}
	rec = append(rec, make([]byte, size)...)
	n, err = io.ReadFull(f.r, rec[8:])
	f.off += uint64(n)
	if err != nil {
		return nil, f.readFault(start, err)
	}
	m, isMarker, err := decodeMarker(rec[8:])
	if err != nil {
		return nil, fmt.Errorf("%w: at byte %d: %v", ErrBackupCorrupt, start, err)
	}
	if isMarker {
		return nil, f.marker(m, start)
	}
	f.sum.Records++
	f.sum.Bytes += uint64(len(rec))
	if f.open {
		f.crc.Write(rec)
		f.records++
		f.bytes += uint64(len(rec))
	} else {
		f.sum.UncheckedRecords++
	}
	return rec, nil
}

func (f *framedReader) readFault(at uint64, err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return f.truncated(at)
	}
	return fmt.Errorf("read backup at byte %d: %w", at, err)
}

func (f *framedReader) truncated(at uint64) error {
	if f.open {
		return fmt.Errorf("%w (backup %d of the stream, since %d, stops at byte %d before its end marker)",
			ErrBackupTruncated, f.sum.Backups+1, f.begin.Since, at)
	}
	return fmt.Errorf("%w (the stream stops inside a record at byte %d)", ErrBackupTruncated, at)
}

func (f *framedReader) marker(m backupMarker, at uint64) error {
	switch m.Kind {
	case "begin":
		if f.open {
			// A backup cut short, then the next one of the chain.
			return f.truncated(at)
		}
		if f.ended && m.Since > f.lastVer {
			return fmt.Errorf("the backups do not follow on: backup %d starts after version %d but the one before it ends at %d; a backup in between is missing",
				f.sum.Backups+1, m.Since, f.lastVer)
		}
		if f.chain && !f.ended && f.sum.Records == 0 && m.Since > 0 {
			return fmt.Errorf("the stream starts with an incremental backup (since %d): give the full backup first, then the incremental ones in order (cat full.bak incr.bak | logengine restore --in -)", m.Since)
		}
		f.open, f.begin = true, m
		f.crc.Reset()
		f.records, f.bytes = 0, 0
		return nil
	case "end":
		if !f.open {
			return fmt.Errorf("%w: an end marker at byte %d has no beginning", ErrBackupCorrupt, at)
		}
		if m.Since != f.begin.Since || m.Records != f.records || m.Bytes != f.bytes || m.CRC32C != f.crc.Sum32() {
			return fmt.Errorf("%w: backup %d of the stream (since %d) does not match its end marker: read %d records, %d bytes, CRC-32C %08x; written %d records, %d bytes, CRC-32C %08x",
				ErrBackupCorrupt, f.sum.Backups+1, f.begin.Since, f.records, f.bytes, f.crc.Sum32(), m.Records, m.Bytes, m.CRC32C)
		}
		f.open, f.ended = false, true
		f.lastVer = m.Version
		f.sum.Backups++
		f.sum.Version = m.Version
		return nil
	}
	return fmt.Errorf("BUG: marker kind %q passed decodeMarker", m.Kind)
}

// CheckBackup reads a backup stream to its end and checks it as a restore
// would, without loading it anywhere; an incremental backup alone passes.
func CheckBackup(r io.Reader) (BackupSummary, error) {
	f := newFramedReader(r, false)
	if _, err := io.Copy(io.Discard, f); err != nil {
		return f.sum, err
	}
	return f.sum, nil
}
