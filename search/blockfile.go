package search

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"os"
	"sync"
	"sync/atomic"

	"github.com/logengine/logengine/storage"
)

// blockFileName is the file in a shard's directory that lists its blocks.
//
// A shard indexes blocks of entries, not entries: a Bleve document per block
// holds the block's words, and this file holds, per block, the ids of its
// entries and the filter of its value tokens (see blockfilter.go). The
// Bleve document's id is the block's number here. Records are appended and
// fsynced before the Bleve batch that refers to them, so every block Bleve
// knows is on disk. A crash between the two leaves records no document
// refers to: their entries are indexed again by the next step (as new
// blocks), and a filter search that finds the orphans only finds candidates
// it checks against storage anyway. A record torn by a crash is cut off when
// the file is opened.
const blockFileName = "blocks"

// Record layout: a 52-byte header, then the ids, the filter and the entry
// lists.
//
//	crc32c(header[4:] + body):4 idsLen:4 filterLen:4 count:4 min:16 max:16 listsLen:4
//
// The ids are ascending: per id, the nanos as an unsigned delta from the
// previous id's (the first from min) and the sequence as a signed delta
// from the previous one's (the first from zero). The entry lists say which
// entries hold each word that only some of them hold: a table of slots,
// sorted by the word's 16-bit hash (listHash), each with the offset of its
// list in the data that follows (ambiguousList for words sharing a hash),
// then the lists, each the ascending indexes of the entries as bytes; a
// list's length is the word's frequency in Bleve. The narrow form, written
// when the lists' data is under 64 KiB, has two-byte offsets behind a
// two-byte mark (see narrowLists); the wide form is still read.
//
//	wide:   slots:uvarint (hash:2 offset:4)... data
//	narrow: 0x00 0x01 slots:uvarint (hash:2 offset:2)... data
const blockHeaderLen = 52

// verifyTail is how many bytes at the end of the file are checked against
// their checksums at open: only the last append can be torn (each one is
// fsynced before the next), and checking a large file whole would make the
// first query of a day read all of it.
const verifyTail = 8 << 20

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// blockMeta is what a shard keeps in memory per block: ~60 bytes, so a day
// of 12M entries in blocks of 256 keeps under 3 MB.
type blockMeta struct {
	off       int64  // of the record's body
	n         uint32 // the block's number, for blockChecks
	min, max  storage.ID
	count     uint32
	idsLen    uint32
	filterLen uint32
	listsLen  uint32
}

// blockMapReserve is the address space a block list's mapping reserves:
// a day of 60M entries at ~45 bytes each. Past it, reads use pread.
const blockMapReserve = 4 << 30

// blockFile is a shard's block list. Appends come from one writer at a time
// (the shard's writer); reads run concurrently with them. Reads go through
// a read-only mapping of the file: a search reads a few small parts of
// thousands of blocks, and a system call each cost more than the reading.
type blockFile struct {
	f      *os.File
	mapped []byte // nil where the platform or the kernel would not map

	mu    sync.RWMutex
	metas []blockMeta // guarded by mu
	size  int64       // end of the last record; guarded by mu

	// checked says which records were verified against their checksum:
	// only the tail is at open (see verifyTail), the others on first read.
	checked blockChecks
}

// blockChecks is a set of block numbers safe for concurrent use, sized for
// the most blocks a mapping can hold; past that every read is verified.
type blockChecks struct {
	chunks [maxBlocks/checkChunkBlocks + 1]atomic.Pointer[[checkChunkBlocks / 64]atomic.Uint64]
}

const (
	// maxBlocks is the most records blockMapReserve holds: each has a
	// header and at least one id (2 bytes) and a filter word (8 bytes).
	maxBlocks        = blockMapReserve / (blockHeaderLen + 10)
	checkChunkBlocks = 1 << 16
)

func (c *blockChecks) has(n uint32) bool {
	i := int(n / checkChunkBlocks)
	if i >= len(c.chunks) {
		return false
	}
	ch := c.chunks[i].Load()
	if ch == nil {
		return false
	}
	bit := n % checkChunkBlocks
	return ch[bit/64].Load()&(1<<(bit%64)) != 0
}

func (c *blockChecks) add(n uint32) {
	i := int(n / checkChunkBlocks)
	if i >= len(c.chunks) {
		return
	}
	ch := c.chunks[i].Load()
	if ch == nil {
		c.chunks[i].CompareAndSwap(nil, new([checkChunkBlocks / 64]atomic.Uint64))
		ch = c.chunks[i].Load()
	}
	bit := n % checkChunkBlocks
	ch[bit/64].Or(1 << (bit % 64))
}

// openBlockFile opens (or creates) the block list in dir, cutting off a
// torn last append.
func openBlockFile(dir string) (*blockFile, error) {
	f, err := os.OpenFile(dir+string(os.PathSeparator)+blockFileName, os.O_RDWR|os.O_CREATE, 0o640)
	if err != nil {
		return nil, fmt.Errorf("open block list: %w", err)
	}
	// Mapped first, so that loading reads the headers from memory rather
	// than with a system call per block.
	bf := &blockFile{f: f, mapped: mapBlockFile(f)}
	if err := bf.load(); err != nil {
		_ = bf.close()
		return nil, err
	}
	return bf, nil
}

func (bf *blockFile) load() error {
	st, err := bf.f.Stat()
	if err != nil {
		return fmt.Errorf("open block list: %w", err)
	}
	// Only bytes below end are read: the mapping faults past the file.
	end := st.Size()
	var off int64
	for off+blockHeaderLen <= end {
		hdr, err := bf.read(off, blockHeaderLen)
		if err != nil {
			return fmt.Errorf("read block list at %d: %w", off, err)
		}
		m := blockMeta{
			off:       off + blockHeaderLen,
			n:         uint32(len(bf.metas)),
			idsLen:    binary.BigEndian.Uint32(hdr[4:]),
			filterLen: binary.BigEndian.Uint32(hdr[8:]),
			count:     binary.BigEndian.Uint32(hdr[12:]),
			min:       storage.IDFromBytes(hdr[16:32]),
			max:       storage.IDFromBytes(hdr[32:48]),
			listsLen:  binary.BigEndian.Uint32(hdr[48:]),
		}
		next := m.off + int64(m.idsLen) + int64(m.filterLen) + int64(m.listsLen)
		// A record that cannot be a block ends the list like a torn one;
		// blocks Bleve refers to past it make the shard be rebuilt.
		if next > end || m.count == 0 || m.count > blockSize || m.min.Compare(m.max) > 0 {
			break
		}
		if end-off <= verifyTail {
			body, err := bf.read(m.off, int(next-m.off))
			if err != nil {
				return fmt.Errorf("read block list at %d: %w", off, err)
			}
			sum := crc32.Update(crc32.Checksum(hdr[4:], castagnoli), castagnoli, body)
			if sum != binary.BigEndian.Uint32(hdr[:4]) {
				break
			}
			bf.checked.add(m.n)
		}
		bf.metas = append(bf.metas, m)
		off = next
	}
	if off < end {
		// A torn append: no Bleve document refers to it (see blockFileName).
		if err := bf.f.Truncate(off); err != nil {
			return fmt.Errorf("cut torn block list at %d: %w", off, err)
		}
	}
	bf.size = off
	return nil
}

// builtBlock is one block ready to be written: its sorted ids, its filter
// and its entry lists.
type builtBlock struct {
	ids    []storage.ID
	filter blockFilter
	lists  []byte
}

// appendBlocks writes the blocks durably and returns the number of the
// first one; the others follow in order.
func (bf *blockFile) appendBlocks(blocks []*builtBlock) (int, error) {
	bf.mu.RLock()
	start, first := bf.size, len(bf.metas)
	bf.mu.RUnlock()
	var buf []byte
	metas := make([]blockMeta, 0, len(blocks))
	for _, b := range blocks {
		at := len(buf)
		buf = append(buf, make([]byte, blockHeaderLen)...)
		buf = appendBlockIDs(buf, b.ids)
		idsLen := len(buf) - at - blockHeaderLen
		buf = b.filter.appendTo(buf)
		filterLen := len(buf) - at - blockHeaderLen - idsLen
		buf = append(buf, b.lists...)
		hdr := buf[at : at+blockHeaderLen]
		binary.BigEndian.PutUint32(hdr[4:], uint32(idsLen))
		binary.BigEndian.PutUint32(hdr[8:], uint32(filterLen))
		binary.BigEndian.PutUint32(hdr[12:], uint32(len(b.ids)))
		lo, hi := b.ids[0].Bytes(), b.ids[len(b.ids)-1].Bytes()
		copy(hdr[16:], lo[:])
		copy(hdr[32:], hi[:])
		binary.BigEndian.PutUint32(hdr[48:], uint32(len(b.lists)))
		binary.BigEndian.PutUint32(hdr[:4], crc32.Checksum(buf[at+4:], castagnoli))
		metas = append(metas, blockMeta{
			off: start + int64(at) + blockHeaderLen, n: uint32(first + len(metas)), min: b.ids[0], max: b.ids[len(b.ids)-1],
			count: uint32(len(b.ids)), idsLen: uint32(idsLen), filterLen: uint32(filterLen),
			listsLen: uint32(len(b.lists)),
		})
	}
	if _, err := bf.f.WriteAt(buf, start); err != nil {
		return 0, fmt.Errorf("append %d blocks: %w", len(blocks), err)
	}
	if err := bf.f.Sync(); err != nil {
		return 0, fmt.Errorf("append %d blocks: %w", len(blocks), err)
	}
	for _, m := range metas {
		bf.checked.add(m.n) // written from memory just now
	}
	bf.mu.Lock()
	bf.metas = append(bf.metas, metas...)
	bf.size = start + int64(len(buf))
	bf.mu.Unlock()
	return first, nil
}

// snapshot returns the blocks known now; the slice is never written again
// (appends go past its length).
func (bf *blockFile) snapshot() []blockMeta {
	bf.mu.RLock()
	defer bf.mu.RUnlock()
	return bf.metas[:len(bf.metas):len(bf.metas)]
}

// read returns the n bytes at off, from the mapping when it reaches them,
// else read. The result must not be written to: it may be the mapping.
func (bf *blockFile) read(off int64, n int) ([]byte, error) {
	if end := off + int64(n); end <= int64(len(bf.mapped)) {
		return bf.mapped[off:end:end], nil
	}
	buf := make([]byte, n)
	if _, err := bf.f.ReadAt(buf, off); err != nil {
		return nil, err
	}
	return buf, nil
}

// verify checks the block's record against its checksum the first time
// any part of it is read. Records before the tail checked at open may have
// rotted since they were written: a flipped bit in an id or a filter would
// otherwise make a wrong answer, not an error.
func (bf *blockFile) verify(m *blockMeta) error {
	if bf.checked.has(m.n) {
		return nil
	}
	rec, err := bf.read(m.off-blockHeaderLen, blockHeaderLen+int(m.idsLen)+int(m.filterLen)+int(m.listsLen))
	if err != nil {
		return fmt.Errorf("read block %d: %w", m.n, err)
	}
	if crc32.Checksum(rec[4:], castagnoli) != binary.BigEndian.Uint32(rec[:4]) {
		return fmt.Errorf("%w: block %d at %d fails its checksum", errBlockDamaged, m.n, m.off-blockHeaderLen)
	}
	bf.checked.add(m.n)
	return nil
}

// readIDs appends the ids of the block's first n entries to dst.
func (bf *blockFile) readIDs(m *blockMeta, n int, dst []storage.ID) ([]storage.ID, error) {
	if err := bf.verify(m); err != nil {
		return dst, err
	}
	b, err := bf.read(m.off, int(m.idsLen))
	if err != nil {
		return dst, fmt.Errorf("read block ids: %w", err)
	}
	return decodeBlockIDs(b, m.min, min(n, int(m.count)), dst)
}

// readFilter returns the block's encoded filter (not to be written to).
func (bf *blockFile) readFilter(m *blockMeta) ([]byte, error) {
	if err := bf.verify(m); err != nil {
		return nil, err
	}
	b, err := bf.read(m.off+int64(m.idsLen), int(m.filterLen))
	if err != nil {
		return nil, fmt.Errorf("read block filter: %w", err)
	}
	return b, nil
}

// readLists returns the block's entry lists (not to be written to).
func (bf *blockFile) readLists(m *blockMeta) ([]byte, error) {
	if err := bf.verify(m); err != nil {
		return nil, err
	}
	b, err := bf.read(m.off+int64(m.idsLen)+int64(m.filterLen), int(m.listsLen))
	if err != nil {
		return nil, fmt.Errorf("read block entry lists: %w", err)
	}
	return b, nil
}

func (bf *blockFile) close() error {
	var err error
	if bf.mapped != nil {
		err = unmapBlockFile(bf.mapped)
		bf.mapped = nil
	}
	if cerr := bf.f.Close(); cerr != nil {
		err = errors.Join(err, cerr)
	}
	if err != nil {
		return fmt.Errorf("close block list: %w", err)
	}
	return nil
}

func appendBlockIDs(b []byte, ids []storage.ID) []byte {
	prevNanos, prevSeq := ids[0].Nanos, uint64(0)
	for _, id := range ids {
		b = binary.AppendUvarint(b, uint64(id.Nanos-prevNanos))
		b = binary.AppendVarint(b, int64(id.Seq-prevSeq))
		prevNanos, prevSeq = id.Nanos, id.Seq
	}
	return b
}

func decodeBlockIDs(b []byte, min storage.ID, n int, dst []storage.ID) ([]storage.ID, error) {
	nanos, seq := min.Nanos, uint64(0)
	for range n {
		dn, k := binary.Uvarint(b)
		if k <= 0 {
			return dst, fmt.Errorf("%w: block ids truncated", errBlockDamaged)
		}
		b = b[k:]
		ds, k := binary.Varint(b)
		if k <= 0 {
			return dst, fmt.Errorf("%w: block ids truncated", errBlockDamaged)
		}
		b = b[k:]
		nanos += int64(dn)
		seq += uint64(ds)
		dst = append(dst, storage.ID{Nanos: nanos, Seq: seq})
	}
	return dst, nil
}
