package storage

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"runtime/debug"
	"strings"

	"github.com/dgraph-io/badger/v4"
	"github.com/dgraph-io/badger/v4/options"
	"github.com/dgraph-io/badger/v4/table"
	"github.com/dgraph-io/ristretto/v2/z"

	"github.com/logengine/logengine/storage/block"
)

// Problem is one thing Verify found wrong.
type Problem struct {
	// Where names the damaged file (000012.sst, 000003.vlog, MANIFEST) when
	// Badger says which, else the key or key range (block 2026-11-26/4096).
	Where string
	// What is the fault, as a message.
	What string
}

func (p Problem) String() string { return p.Where + ": " + p.What }

// maxProblems bounds what Verify lists: a store damaged throughout would
// otherwise print one line per block.
const maxProblems = 100

// badgerFile finds the name of a Badger file in one of its errors.
var badgerFile = regexp.MustCompile(`[0-9]+\.(sst|vlog|mem)|MANIFEST|DISCARD|KEYREGISTRY`)

// Verify checks the store in dir, which no process may have open, end to
// end: Badger's checksums of every table and of every value read, and
// every record logengine wrote (block headers and bodies, journal,
// checkpoints). It opens Badger read-only and changes nothing. It returns
// the problems found, at most maxProblems; an error means the check could
// not run at all (the directory is missing or in use).
func Verify(ctx context.Context, dir string) ([]Problem, error) {
	if err := CheckNoInterruptedRestore(dir); err != nil {
		return []Problem{{Where: dir, What: err.Error()}}, nil
	}
	var problems []Problem
	add := func(where, what string) bool {
		problems = append(problems, Problem{Where: where, What: what})
		return len(problems) < maxProblems
	}
	// Tables are checked one file at a time, before Badger opens them:
	// Badger's own check (on open, or db.VerifyChecksum) panics on some
	// damage, in a goroutine of its own when opening, and names no file.
	if err := verifyTables(dir, add); err != nil {
		return nil, fmt.Errorf("verify %s: %w", dir, err)
	}
	// Read-only: a check must not repair, truncate or compact what it
	// checks. Value checksums are verified on every read.
	bo := badger.DefaultOptions(dir).
		WithReadOnly(true).
		WithVerifyValueChecksum(true).
		WithCompression(options.Snappy).
		WithLogger(nil)
	db, err := openBadgerRecovered(bo)
	if err != nil {
		if strings.Contains(err.Error(), "Another process is using") || errors.Is(err, badger.ErrWindowsNotSupported) {
			return nil, fmt.Errorf("verify %s: %w (stop the daemon first)", dir, err)
		}
		add(fileIn(err, dir), "Badger does not open: "+err.Error())
		return problems, nil
	}
	defer db.Close()
	if err := verifyRecords(ctx, db, add); err != nil {
		add(fileIn(err, dir), err.Error())
	}
	return problems, nil
}

// verifyTables checks the block checksums of every table (.sst) in dir.
func verifyTables(dir string, add func(where, what string) bool) error {
	names, err := filepath.Glob(filepath.Join(dir, "*.sst"))
	if err != nil {
		return err
	}
	for _, name := range names {
		if err := verifyTable(name); err != nil {
			if !add(filepath.Base(name), "table checksum: "+err.Error()) {
				return nil
			}
		}
	}
	return nil
}

// verifyTable opens one table read-only with its checksums verified (the
// options logengine writes tables with: Snappy, Badger's block size).
func verifyTable(name string) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("the table does not decode: %v", r)
		}
	}()
	mf, err := z.OpenMmapFile(name, os.O_RDONLY, 0)
	if err != nil && !errors.Is(err, z.NewFile) {
		return err
	}
	bo := badger.DefaultOptions("")
	_, err = table.OpenTable(mf, table.Options{
		ReadOnly:    true,
		ChkMode:     options.OnTableRead,
		Compression: options.Snappy,
		BlockSize:   bo.BlockSize,
		TableSize:   uint64(bo.BaseTableSize),
	})
	if err != nil {
		return err
	}
	// Not the table's DecrRef: its last reference deletes the file.
	return mf.Close(-1)
}

// openBadgerRecovered opens Badger, turning a panic on damaged files (some
// of its decoders trust lengths) into an error.
func openBadgerRecovered(bo badger.Options) (db *badger.DB, err error) {
	defer func() {
		if r := recover(); r != nil {
			db, err = nil, fmt.Errorf("panic: %v", r)
		}
	}()
	return badger.Open(bo)
}

// fileIn names the Badger file err mentions, else fallback.
func fileIn(err error, fallback string) string {
	if m := badgerFile.FindString(err.Error()); m != "" {
		return m
	}
	return fallback
}

// verifyRecords reads every key and value and decodes what logengine wrote.
// It stops at the first error of Badger itself (a value or block that fails
// its checksum ends the iteration) and returns it; decoding faults are
// passed to add, which returns false once enough were found.
func verifyRecords(ctx context.Context, db *badger.DB, add func(where, what string) bool) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("reading the store panicked: %v", r)
		}
	}()
	return db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{PrefetchValues: false})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			if err := ctx.Err(); err != nil {
				return err
			}
			item := it.Item()
			key := item.KeyCopy(nil)
			v, err := item.ValueCopy(nil)
			if err != nil {
				return fmt.Errorf("key %x: read value: %w", key, err)
			}
			where, fault := checkRecord(txn, key, v)
			if fault != nil && !add(where, fault.Error()) {
				return nil
			}
		}
		return nil
	})
}

// checkRecord decodes one record; it returns where a fault is and the fault.
func checkRecord(txn *badger.Txn, key, v []byte) (string, error) {
	if len(key) == 0 {
		return "empty key", errors.New("a key without a namespace")
	}
	switch key[0] {
	case nsHeader:
		r, err := decodeHeaderRecord(key, v)
		if err != nil {
			return fmt.Sprintf("block header %x", key), err
		}
		where := fmt.Sprintf("block %s/%d (sequences %d-%d)", r.day, r.last, r.first, r.last)
		entries, err := readBlock(txn, &r)
		if err != nil {
			return where, err
		}
		if len(entries) != r.count {
			return where, fmt.Errorf("decodes to %d entries, its header says %d", len(entries), r.count)
		}
	case nsTemplates:
		if len(key) != 13 {
			return fmt.Sprintf("template counts key %x", key), errors.New("want 13 bytes")
		}
		day, last := Day(binary.BigEndian.Uint32(key[1:5])), binary.BigEndian.Uint64(key[5:13])
		where := fmt.Sprintf("template counts of block %s/%d", day, last)
		item, err := txn.Get(blockHeaderKey(day, last))
		if err != nil {
			return where, fmt.Errorf("its block header: %w", err)
		}
		err = item.Value(func(hv []byte) error {
			r, err := decodeHeaderRecord(item.Key(), hv)
			if err != nil {
				return err
			}
			_, _, err = block.EachTemplateLevelOf(r.raw, v, func(uint32, block.TemplateLevel) {})
			return err
		})
		if err != nil {
			return where, err
		}
	case nsJournal:
		if len(key) != 9 {
			return fmt.Sprintf("journal key %x", key), errors.New("want 9 bytes")
		}
		last := binary.BigEndian.Uint64(key[1:])
		ids, err := decodeJournal(v, 0, nil)
		if err != nil {
			return fmt.Sprintf("journal record %d", last), err
		}
		if len(ids) > 0 && ids[len(ids)-1].Seq != last {
			return fmt.Sprintf("journal record %d", last), fmt.Errorf("ends at sequence %d", ids[len(ids)-1].Seq)
		}
	case nsCheckpoint:
		if _, n := binary.Uvarint(v); n <= 0 || n != len(v) {
			return fmt.Sprintf("checkpoint %q", key[1:]), errors.New("not one sequence number")
		}
	}
	return "", nil
}

// ErrDamaged is the error of a read that found a storage file damaged.
var ErrDamaged = errors.New("storage is damaged")

// view runs fn in a read transaction. It is the storage boundary for
// reads: Badger trusts its files, and a damaged one can make it panic (or
// fault on mapped memory) in the reading goroutine. That must fail the
// request with an error naming the file and the way out, not crash the
// daemon.
func (s *Store) view(fn func(txn *badger.Txn) error) error {
	err := s.guardRead(func() error { return s.db.View(fn) })
	// Badger answers "not found" for a key in a damaged table block.
	var missing missingKeyError
	if errors.As(err, &missing) {
		if derr := s.checkKeyRange(missing.key, append(bytes.Clone(missing.key), 0)); derr != nil {
			return fmt.Errorf("%w (%v)", derr, err)
		}
	}
	return err
}

// guardRead runs fn, a read of the store on the calling goroutine, so that
// a fault on a damaged memory-mapped file or Badger's own panic on a table
// it cannot read is an error (readPanicError), not a crash.
func (s *Store) guardRead(fn func() error) (err error) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if r := recover(); r != nil {
			err = s.readPanicError(r)
		}
	}()
	return fn()
}

// readPanicError is the error of a read that panicked: a fault on a
// damaged memory-mapped file (SetPanicOnFault) or Badger's own panic on a
// table it cannot read. A goroutine that reads within view's transaction
// runs its reads in guardRead, as view does.
func (s *Store) readPanicError(r any) error {
	perr := fmt.Errorf("panic: %v", r)
	return fmt.Errorf("%w: reading %s failed (%v): stop the daemon, run `logengine verify --data-dir` on its data directory, and restore from a backup",
		ErrDamaged, filepath.Join(s.opts.Dir, badgerFileIn(perr, "a table or value log")), perr)
}

// missingKeyError is the error of a read that did not find a key that
// another record says exists.
type missingKeyError struct{ key []byte }

func (e missingKeyError) Error() string { return fmt.Sprintf("key %x not found", e.key) }
func (e missingKeyError) Unwrap() error { return badger.ErrKeyNotFound }

// badgerFileIn returns the name of the Badger file an error mentions, or
// def when it names none.
func badgerFileIn(err error, def string) string {
	for _, w := range strings.FieldsFunc(err.Error(), func(r rune) bool {
		return r == ' ' || r == ':' || r == ',' || r == '"' || r == '(' || r == ')' || r == '\''
	}) {
		base := filepath.Base(w)
		if strings.HasSuffix(base, ".sst") || strings.HasSuffix(base, ".vlog") || strings.HasSuffix(base, ".mem") || base == "MANIFEST" || base == "KEYREGISTRY" {
			return base
		}
	}
	// Badger names its manifest in several spellings ("MANIFEST",
	// "manifest", "Manifest file might be corrupted").
	if strings.Contains(strings.ToLower(err.Error()), "manifest") {
		return "MANIFEST"
	}
	return def
}
