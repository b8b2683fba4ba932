package storage

// # Why reads check table blocks themselves
//
// Badger checks a table block's checksum when it reads the block
// (options.OnBlockRead), but what it does with a failure depends on the
// read: its table iterator just becomes invalid, and the iterators above
// it take that for the table's end. A scan over keys in a damaged block
// therefore ends early, or skips the rest of that table and goes on with
// the next one, without an error; a point read (txn.Get) answers "key not
// found". Either way a search, count or export would answer short.
//
// So before a read iterates a key range, tableCheck makes sure that every
// block of every table overlapping that range has been read once with its
// checksum verified, by this process, through a table iterator of its own
// (a one-table iterator that stops early can only mean a bad block). Tables
// are immutable, so a block is checked once per process: the first scan of
// a range pays for reading its blocks twice, later ones pay a lookup per
// table (BenchmarkTableCheck). A block that fails gives ErrDamaged naming
// the table file, so the read fails instead of answering short.
//
// What it cannot see: a block damaged after this process checked it (the
// disk going bad under a running daemon; Badger's own check still fails it
// on a read from disk, silently as above), and damage that a compaction
// merged away before any read checked it: Badger's compactions read their
// input tables with the same iterators, so the keys of a damaged block are
// dropped from the compacted table, which is then sound. `logengine
// verify` reads every table whole.

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime/debug"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/dgraph-io/badger/v4"
	"github.com/dgraph-io/badger/v4/options"
	"github.com/dgraph-io/badger/v4/table"
	"github.com/dgraph-io/ristretto/v2/z"
)

// tableCheck remembers which blocks of which tables were checked.
type tableCheck struct {
	dir string
	// log hears of each damaged table once (nil: nobody).
	log *slog.Logger
	mu  sync.Mutex
	// tables by file id; guarded by mu (each table's own state by its mu).
	tables map[uint64]*checkedTable
}

// Block states.
const (
	blockUnchecked byte = iota
	blockSound
	blockDamaged
)

// checkedTable is one table's block index and what is known of its blocks.
type checkedTable struct {
	id   uint64
	path string
	log  *slog.Logger

	mu      sync.Mutex
	loaded  bool
	first   [][]byte // each block's first key (Badger's key, with its version)
	biggest []byte
	state   []byte // per block
	// unchecked and damaged count the blocks in those states.
	unchecked, damaged int
	// err is set when the table itself cannot be read (its index or last
	// block is damaged): every range it overlaps fails.
	err error
}

func newTableCheck(dir string, log *slog.Logger) *tableCheck {
	return &tableCheck{dir: dir, log: log, tables: make(map[uint64]*checkedTable)}
}

// userKey strips the version Badger appends to every key in its tables.
func userKey(k []byte) []byte {
	if len(k) < 8 {
		return k
	}
	return k[:len(k)-8]
}

// prefixEnd returns the first key after every key with prefix p, or nil
// when there is none.
func prefixEnd(p []byte) []byte {
	end := bytes.Clone(p)
	for i := len(end) - 1; i >= 0; i-- {
		if end[i] < 0xff {
			end[i]++
			return end[:i+1]
		}
	}
	return nil
}

// checkPrefix checks the blocks holding keys with prefix p.
func (c *tableCheck) checkPrefix(db *badger.DB, p []byte) error {
	return c.check(db, p, prefixEnd(p))
}

// check makes sure every block of every table that may hold a key in
// [lo, hi) (hi nil: no end) has been read with its checksum verified, and
// returns ErrDamaged naming the first table and block that failed.
func (c *tableCheck) check(db *badger.DB, lo, hi []byte) error {
	infos := db.Tables()
	for i := range infos {
		ti := &infos[i]
		if hi != nil && bytes.Compare(userKey(ti.Left), hi) >= 0 || bytes.Compare(userKey(ti.Right), lo) < 0 {
			continue
		}
		t := c.table(ti.ID)
		if err := t.check(lo, hi, func() bool { return !tableLive(db, ti.ID) && emptiedFile(t.path) }); err != nil {
			return err
		}
	}
	c.forgetGone(infos)
	return nil
}

// tableLive reports whether Badger still lists table id. Badger removes a
// table a compaction replaced by truncating its file to nothing and then
// deleting it, after taking it off its levels: a table that fails to open
// or read, is no longer listed and is empty or gone was being removed, not
// damaged. (One off the levels but whole that fails is still damage: the
// compaction that replaced it may have dropped keys of its bad block.)
func tableLive(db *badger.DB, id uint64) bool {
	for _, ti := range db.Tables() {
		if ti.ID == id {
			return true
		}
	}
	return false
}

func (c *tableCheck) table(id uint64) *checkedTable {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := c.tables[id]
	if t == nil {
		t = &checkedTable{id: id, path: filepath.Join(c.dir, table.IDToFilename(id)), log: c.log}
		c.tables[id] = t
	}
	return t
}

// forgetGone drops what is known of tables that compactions removed, once
// they are more than a few: their ids are never used again.
func (c *tableCheck) forgetGone(infos []badger.TableInfo) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.tables) <= len(infos)+16 {
		return
	}
	live := make(map[uint64]bool, len(infos))
	for _, ti := range infos {
		live[ti.ID] = true
	}
	for id := range c.tables {
		if !live[id] {
			delete(c.tables, id)
		}
	}
}

// check checks the table's blocks that may hold keys in [lo, hi). gone
// says whether the table was removed meanwhile: a failure then is no
// damage.
func (t *checkedTable) check(lo, hi []byte, gone func() bool) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.err != nil {
		return t.err
	}
	if t.loaded && t.unchecked == 0 && t.damaged == 0 {
		return nil
	}
	// A table file is mapped: a read fault on it must fail this check, not
	// the process.
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	var tbl *table.Table
	var mf *z.MmapFile
	defer func() {
		if mf != nil {
			// Not the table's DecrRef: its last reference deletes the file.
			_ = mf.Close(-1)
		}
	}()
	if !t.loaded {
		var err error
		tbl, mf, err = t.open()
		if errors.Is(err, os.ErrNotExist) || err != nil && gone() {
			return nil // compacted away since the list was taken
		}
		if err != nil {
			t.err = t.fault(fmt.Sprintf("the table does not open (%v)", err))
			if t.log != nil {
				t.log.Error("storage damaged: reads of its keys fail until the data directory is restored", "file", t.path, "err", t.err)
			}
			return t.err
		}
		t.first = nil
		for _, k := range tbl.KeySplits(1<<31-1, nil) {
			t.first = append(t.first, []byte(k))
		}
		t.biggest = bytes.Clone(tbl.Biggest())
		t.state = make([]byte, len(t.first))
		t.unchecked = len(t.first)
		t.loaded = true
	}
	from, to := t.blocks(lo, hi)
	for b := from; b < to; b++ {
		switch t.state[b] {
		case blockDamaged:
			return t.blockDamaged(b)
		case blockSound:
			continue
		}
		if tbl == nil {
			var err error
			tbl, mf, err = t.open()
			if errors.Is(err, os.ErrNotExist) || err != nil && gone() {
				return nil
			}
			if err != nil {
				t.err = t.fault(fmt.Sprintf("the table does not open (%v)", err))
				return t.err
			}
		}
		if !readsBlock(tbl, t.first[b]) {
			if gone() {
				return nil // truncated under the read
			}
			t.unchecked--
			t.state[b] = blockDamaged
			t.damaged++
			err := t.blockDamaged(b)
			if t.log != nil {
				t.log.Error("storage damaged: reads of its keys fail until the data directory is restored", "file", t.path, "err", err)
			}
			return err
		}
		t.unchecked--
		t.state[b] = blockSound
	}
	return nil
}

// blocks returns the blocks [from, to) that may hold a key in [lo, hi):
// block b holds keys from its first key's to the next block's first key's,
// both included (a key's versions may straddle two blocks).
func (t *checkedTable) blocks(lo, hi []byte) (from, to int) {
	n := len(t.first)
	upper := func(b int) []byte {
		if b+1 < n {
			return userKey(t.first[b+1])
		}
		return userKey(t.biggest)
	}
	from = sort.Search(n, func(b int) bool { return bytes.Compare(upper(b), lo) >= 0 })
	to = n
	if hi != nil {
		to = sort.Search(n, func(b int) bool { return bytes.Compare(userKey(t.first[b]), hi) >= 0 })
	}
	return from, max(from, to)
}

// open opens the table file read-only, with Badger's block checksums
// verified on every read, apart from the daemon's own copy of it.
func (t *checkedTable) open() (tbl *table.Table, mf *z.MmapFile, err error) {
	defer func() {
		if r := recover(); r != nil {
			if mf != nil {
				_ = mf.Close(-1)
			}
			tbl, mf, err = nil, nil, fmt.Errorf("panic: %v", r)
		}
	}()
	mf, err = z.OpenMmapFile(t.path, os.O_RDONLY, 0)
	if err != nil && !errors.Is(err, z.NewFile) {
		return nil, nil, err
	}
	bo := badger.DefaultOptions("")
	tbl, err = table.OpenTable(mf, table.Options{
		ReadOnly:    true,
		ChkMode:     options.OnBlockRead,
		Compression: tableCompression,
		BlockSize:   bo.BlockSize,
		TableSize:   uint64(bo.BaseTableSize),
	})
	if err != nil {
		_ = mf.Close(-1)
		return nil, nil, err
	}
	return tbl, mf, nil
}

// readsBlock reports whether the block starting at key reads and passes
// its checksum: a seek to a block's own first key lands in that block, so
// a one-table iterator that is not valid there failed to read it.
func readsBlock(tbl *table.Table, first []byte) (ok bool) {
	defer func() {
		if recover() != nil {
			ok = false
		}
	}()
	it := tbl.NewIterator(table.NOCACHE)
	defer func() { _ = it.Close() }()
	it.Seek(first)
	return it.Valid() && bytes.Equal(it.Key(), first)
}

func (t *checkedTable) blockDamaged(b int) error {
	return t.fault(fmt.Sprintf("block %d of %d (keys from %s) fails its checksum", b+1, len(t.first), describeKey(userKey(t.first[b]))))
}

func (t *checkedTable) fault(what string) error {
	return fmt.Errorf("%w: table %s: %s: stop the daemon, run `logengine verify --data-dir` on its data directory, and restore it from a backup",
		ErrDamaged, t.path, what)
}

// describeKey names a key the way an operator can place it.
func describeKey(k []byte) string {
	if len(k) == 0 {
		return "the first key"
	}
	day := func() string {
		if len(k) < 5 {
			return ""
		}
		return " " + Day(binary.BigEndian.Uint32(k[1:5])).String()
	}
	switch k[0] {
	case nsHeader:
		return "block headers of" + day()
	case nsBlock:
		return "block bodies of" + day()
	case nsPosting:
		return "posting lists of" + day()
	case nsTemplates:
		return "template counts of" + day()
	case nsEntry:
		return "entries of" + day()
	case nsJournal:
		return "the journal"
	case nsDay:
		return "the list of days"
	case nsCheckpoint:
		return "the checkpoints"
	case nsMeta:
		return "metadata"
	case nsBucket:
		return "records of other parts (rules, state, outbox)"
	case nsTombstone:
		return "deletions"
	}
	return fmt.Sprintf("%q", k)
}

// DamagedTable is a table that a read found damaged: reads of the keys it
// holds fail until the data directory is restored.
type DamagedTable struct {
	File  string
	Error string
}

// DamagedTables lists the tables reads have found damaged since the store
// opened (and that compactions have not removed since), for health checks
// and metrics: a damaged table fails only the reads of its keys, so the
// daemon goes on answering the rest.
func (s *Store) DamagedTables() []DamagedTable {
	return s.tables.damagedTables()
}

func (c *tableCheck) damagedTables() []DamagedTable {
	c.mu.Lock()
	tables := make([]*checkedTable, 0, len(c.tables))
	for _, t := range c.tables {
		tables = append(tables, t)
	}
	c.mu.Unlock()
	var out []DamagedTable
	for _, t := range tables {
		t.mu.Lock()
		switch {
		case t.err != nil:
			out = append(out, DamagedTable{File: t.path, Error: t.err.Error()})
		case t.damaged > 0:
			out = append(out, DamagedTable{File: t.path, Error: fmt.Sprintf("%d damaged blocks", t.damaged)})
		}
		t.mu.Unlock()
	}
	slices.SortFunc(out, func(a, b DamagedTable) int { return strings.Compare(a.File, b.File) })
	return out
}

// emptiedFile reports whether the file at path is gone or empty.
func emptiedFile(path string) bool {
	fi, err := os.Stat(path)
	return errors.Is(err, os.ErrNotExist) || err == nil && fi.Size() == 0
}
