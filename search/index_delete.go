package search

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"slices"

	"github.com/logengine/logengine/storage"
)

// deletedFileName is the file in a shard's directory that lists the entries
// deleted from storage after they were indexed (per-source retention).
// Their blocks still list them, so a search leaves them out by this list:
// rewriting the blocks would mean reading all their other entries back.
// Records are chunks of ids, each with its length and checksum:
//
//	count:4 crc32c(ids):4 ids:16*count
//
// A chunk is fsynced before Delete returns, and so before storage releases
// the tombstones it came from; a torn chunk is cut off at open, and its ids
// are handed over again from the tombstones.
const deletedFileName = "deleted"

// Delete makes the index leave out entries deleted from storage inside a
// day (per-source retention), so that no search or count takes them for
// matches, and returns once that is on disk.
func (x *Index) Delete(ids []storage.ID) error {
	byDay := map[storage.Day][]storage.ID{}
	for _, id := range ids {
		d := storage.DayOf(id.Nanos)
		byDay[d] = append(byDay[d], id)
	}
	for day, list := range byDay {
		_, err := x.use(day, false, func(sh *shard) error {
			return sh.addDeleted(list)
		})
		if skipDamaged(err) {
			continue // its rebuild reads storage, where they are gone
		}
		if err != nil {
			return fmt.Errorf("delete %d entries from keyword index of %s: %w", len(list), day, err)
		}
	}
	return nil
}

// addDeleted records ids as deleted, durably, and publishes the new list.
// Called by one writer at a time (the indexer). The chunk is written at
// the end of the last whole one, and cut off again when it fails: a torn
// chunk left in the middle would hide the chunks written after it.
func (sh *shard) addDeleted(ids []storage.ID) error {
	buf := make([]byte, 8, 8+16*len(ids))
	for _, id := range ids {
		b := id.Bytes()
		buf = append(buf, b[:]...)
	}
	binary.BigEndian.PutUint32(buf, uint32(len(ids)))
	binary.BigEndian.PutUint32(buf[4:], crc32.Checksum(buf[8:], castagnoli))
	path := filepath.Join(sh.dir, deletedFileName)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE, 0o640)
	if err != nil {
		return err
	}
	_, err = f.WriteAt(buf, sh.deletedSize)
	if err == nil {
		err = f.Sync()
	}
	if err != nil {
		err = errors.Join(err, f.Truncate(sh.deletedSize))
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil && sh.deletedSize == 0 {
		err = syncDir(sh.dir) // the file is new: make its name durable too
	}
	if err != nil {
		return err
	}
	sh.deletedSize += int64(len(buf))
	old := sh.deletedIDs()
	merged := make([]storage.ID, 0, len(old)+len(ids))
	merged = append(append(merged, old...), ids...)
	slices.SortFunc(merged, storage.ID.Compare)
	merged = slices.Compact(merged)
	sh.deleted.Store(&merged)
	return nil
}

// deletedIDs returns the shard's deleted entries, ascending.
func (sh *shard) deletedIDs() []storage.ID {
	if p := sh.deleted.Load(); p != nil {
		return *p
	}
	return nil
}

// loadDeleted reads the shard's deleted entries, cutting off a torn chunk,
// and returns them with the size of the whole chunks.
func loadDeleted(dir string) ([]storage.ID, int64, error) {
	path := filepath.Join(dir, deletedFileName)
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, 0, nil
	}
	if err != nil {
		return nil, 0, fmt.Errorf("read deleted entries: %w", err)
	}
	ids, off := parseDeleted(data)
	if off < len(data) {
		if err := os.Truncate(path, int64(off)); err != nil {
			return nil, 0, fmt.Errorf("cut torn deleted entries at %d: %w", off, err)
		}
	}
	slices.SortFunc(ids, storage.ID.Compare)
	return slices.Compact(ids), int64(off), nil
}

// parseDeleted decodes the chunks of a shard's deleted entries up to the
// first torn or damaged one, and returns where that one starts.
func parseDeleted(data []byte) ([]storage.ID, int) {
	var ids []storage.ID
	off := 0
	for off+8 <= len(data) {
		n := int(binary.BigEndian.Uint32(data[off:]))
		end := off + 8 + 16*n
		if n == 0 || n > (len(data)-off-8)/16 || crc32.Checksum(data[off+8:end], castagnoli) != binary.BigEndian.Uint32(data[off+4:]) {
			break
		}
		for p := off + 8; p < end; p += 16 {
			ids = append(ids, storage.IDFromBytes(data[p:p+16]))
		}
		off = end
	}
	return ids, off
}
