package search

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
	"strings"

	"github.com/blevesearch/bleve/v2"

	"github.com/logengine/logengine/storage"
)

// VerifyIndex checks the keyword index in dir (<data-dir>/index) of a
// stopped daemon without changing it: every shard opens read-only, its
// segments match their checksums and its records decode. It returns the
// damaged shards; the daemon rebuilds them from storage when it starts.
func VerifyIndex(dir string) ([]ShardDamage, error) {
	if err := bleveSetup(); err != nil {
		return nil, err
	}
	entries, err := os.ReadDir(dir)
	if os.IsNotExist(err) {
		return nil, nil // no index yet: built from storage at start
	}
	if err != nil {
		return nil, fmt.Errorf("verify keyword index: %w", err)
	}
	var damaged []ShardDamage
	for _, e := range entries {
		day, err := storage.ParseDay(e.Name())
		if err != nil || day.String() != e.Name() || !e.IsDir() {
			continue
		}
		if file, err := verifyShard(filepath.Join(dir, e.Name())); err != nil {
			damaged = append(damaged, ShardDamage{Day: day, File: filepath.Join(e.Name(), file), Cause: err.Error()})
		}
	}
	return damaged, nil
}

// verifyShard checks one shard directory and names the damaged file, if
// it can, relative to dir.
func verifyShard(dir string) (file string, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = recovered(r)
		}
	}()
	if cause, ok := readDamagedMarker(dir); ok {
		return damagedFileName, fmt.Errorf("marked damaged: %s", cause)
	}
	cfg := openConfig()
	cfg["read_only"] = true
	idx, err := bleve.OpenUsing(dir, cfg)
	if err != nil {
		return "", fmt.Errorf("open: %w", err)
	}
	defer func() {
		if cerr := idx.Close(); err == nil && cerr != nil {
			err = fmt.Errorf("close: %w", cerr)
		}
	}()
	if file, err := verifySegments(idx); err != nil {
		return file, err
	}
	for _, key := range []string{seqInternalKey, blocksInternalKey} {
		v, err := idx.GetInternal([]byte(key))
		if err != nil {
			return "store/root.bolt", fmt.Errorf("read record %s: %w", key, err)
		}
		if len(v) == 0 {
			continue
		}
		if _, err := decodeRecord(v); err != nil {
			return "store/root.bolt", fmt.Errorf("record %s: %w", key, err)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, blockFileName)); errors.Is(err, os.ErrNotExist) {
		return blockFileName, errors.New("the block list is missing")
	}
	return "", nil
}

// IndexCheckpoint is the name under which the keyword indexer keeps its
// journal checkpoint in storage: every entry committed up to it is in the
// index.
const IndexCheckpoint = checkpointName

// IndexMismatch is how one day's keyword index differs from storage.
type IndexMismatch struct {
	Day storage.Day
	// Missing counts the stored entries, committed up to the indexer's
	// checkpoint, that no block of the index holds: keyword searches
	// would not find them.
	Missing      int
	FirstMissing storage.ID
	// Extra counts the entries the index holds that storage does not and
	// no deletion in progress explains: storage lost them, or the index
	// is wrong.
	Extra      int
	FirstExtra storage.ID
}

func (m IndexMismatch) String() string {
	var parts []string
	if m.Missing > 0 {
		parts = append(parts, fmt.Sprintf("%d stored entries are not in the index (the first %s)", m.Missing, m.FirstMissing))
	}
	if m.Extra > 0 {
		parts = append(parts, fmt.Sprintf("the index holds %d entries storage does not (the first %s)", m.Extra, m.FirstExtra))
	}
	return fmt.Sprintf("%s: %s", m.Day, strings.Join(parts, "; "))
}

// CompareIndex compares the shard of day in dir (<data-dir>/index) of a
// stopped daemon, block by block, with the day's stored entries (stored,
// ascending): every entry committed up to indexedUpTo must be in one of
// the blocks the shard's Bleve index refers to, and every entry of those
// blocks must be stored or being deleted. It changes nothing. A shard that
// is missing or marked damaged is not compared (the daemon rebuilds it;
// VerifyIndex reports the damage); nil means the shard matches.
func CompareIndex(dir string, day storage.Day, stored []storage.ID, indexedUpTo uint64, deleting map[storage.ID]bool) (_ *IndexMismatch, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = recovered(r)
		}
	}()
	shardDir := filepath.Join(dir, day.String())
	if _, err := os.Stat(shardDir); errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if _, ok := readDamagedMarker(shardDir); ok {
		return nil, nil
	}
	if err := bleveSetup(); err != nil {
		return nil, err
	}
	cfg := openConfig()
	cfg["read_only"] = true
	idx, err := bleve.OpenUsing(shardDir, cfg)
	if err != nil {
		return nil, fmt.Errorf("open keyword index of %s: %w", day, err)
	}
	v, err := idx.GetInternal([]byte(blocksInternalKey))
	if cerr := idx.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, fmt.Errorf("keyword index of %s: read block count: %w", day, err)
	}
	var blocks uint64
	if len(v) > 0 {
		if blocks, err = decodeRecord(v); err != nil {
			return nil, fmt.Errorf("keyword index of %s: block count record: %w", day, err)
		}
	}
	indexed, err := readBlockListIDs(filepath.Join(shardDir, blockFileName), blocks)
	if err != nil {
		return nil, fmt.Errorf("keyword index of %s: %w", day, err)
	}
	data, err := os.ReadFile(filepath.Join(shardDir, deletedFileName))
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("keyword index of %s: read deleted entries: %w", day, err)
	}
	deleted, _ := parseDeleted(data)
	for _, id := range deleted {
		deleting[id] = true
	}
	slices.SortFunc(indexed, storage.ID.Compare)
	indexed = slices.Compact(indexed)
	m := IndexMismatch{Day: day}
	i := 0
	for _, id := range stored {
		for i < len(indexed) && indexed[i].Compare(id) < 0 {
			m.extra(indexed[i], deleting)
			i++
		}
		if i < len(indexed) && indexed[i] == id {
			i++
			continue
		}
		if id.Seq <= indexedUpTo && !deleting[id] {
			if m.Missing++; m.Missing == 1 {
				m.FirstMissing = id
			}
		}
	}
	for ; i < len(indexed); i++ {
		m.extra(indexed[i], deleting)
	}
	if m.Missing == 0 && m.Extra == 0 {
		return nil, nil
	}
	return &m, nil
}

func (m *IndexMismatch) extra(id storage.ID, deleting map[storage.ID]bool) {
	if deleting[id] {
		return
	}
	if m.Extra++; m.Extra == 1 {
		m.FirstExtra = id
	}
}

// readBlockListIDs reads the ids of the first n blocks of a shard's block
// list, checking each record's checksum, without changing the file.
func readBlockListIDs(path string, n uint64) ([]storage.ID, error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) && n == 0 {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("open block list: %w", err)
	}
	defer f.Close()
	r := bufio.NewReaderSize(f, 1<<20)
	var ids []storage.ID
	var hdr [blockHeaderLen]byte
	var body []byte
	for b := uint64(0); b < n; b++ {
		if _, err := io.ReadFull(r, hdr[:]); err != nil {
			return nil, fmt.Errorf("block list: block %d of %d: %w", b, n, err)
		}
		idsLen := binary.BigEndian.Uint32(hdr[4:])
		count := binary.BigEndian.Uint32(hdr[12:])
		size := int64(idsLen) + int64(binary.BigEndian.Uint32(hdr[8:])) + int64(binary.BigEndian.Uint32(hdr[48:]))
		if count == 0 || count > blockSize || size > 64<<20 {
			return nil, fmt.Errorf("block list: block %d: %w: its header does not decode", b, errBlockDamaged)
		}
		body = slices.Grow(body[:0], int(size))[:size]
		if _, err := io.ReadFull(r, body); err != nil {
			return nil, fmt.Errorf("block list: block %d of %d: %w", b, n, err)
		}
		if crc32.Update(crc32.Checksum(hdr[4:], castagnoli), castagnoli, body) != binary.BigEndian.Uint32(hdr[:4]) {
			return nil, fmt.Errorf("block list: block %d: %w: it fails its checksum", b, errBlockDamaged)
		}
		if ids, err = decodeBlockIDs(body[:idsLen], storage.IDFromBytes(hdr[16:32]), int(count), ids); err != nil {
			return nil, fmt.Errorf("block list: block %d: %w", b, err)
		}
	}
	return ids, nil
}
