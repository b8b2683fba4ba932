package search

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/logengine/logengine/storage"
)

// fullyIndexed tells the engine that the index covers everything stored, so
// that its answers come from the index alone, not from the journal's tail.
type fullyIndexed struct{ store *storage.Store }

func (a fullyIndexed) WaitIndexed(context.Context, uint64) error { return nil }
func (a fullyIndexed) IndexedSeq() uint64                        { return a.store.HighSeq() }

// damageQueries are keyword queries over the test data: frequent and rare
// words, a value token (the block filters) and a prefix.
var damageQueries = []string{"request", "deadlock", "payment failed", "retry", "gateway", "cache*", "x86_64", "worker*"}

// damageAnswer is what the engine answers for every damageQuery: the ids
// of a search and the count of an aggregation, or the error.
type damageAnswer struct {
	ids   map[string][]storage.ID
	count map[string]int64
}

// answer asks e every damageQuery. A panic fails the test: it is what
// drops a connection in the daemon.
func damageAsk(t *testing.T, e *Engine) (damageAnswer, error) {
	t.Helper()
	ctx := context.Background()
	a := damageAnswer{ids: map[string][]storage.ID{}, count: map[string]int64{}}
	for _, q := range damageQueries {
		var err error
		func() {
			defer func() {
				if r := recover(); r != nil {
					t.Fatalf("query %q panicked: %v", q, r)
				}
			}()
			var res *Result
			if res, err = e.Search(ctx, Request{Query: q, Limit: MaxLimit}); err != nil {
				return
			}
			for _, en := range res.Entries {
				a.ids[q] = append(a.ids[q], en.ID)
			}
			var agg *AggResult
			if agg, err = e.Aggregate(ctx, AggRequest{Query: q, GroupBy: []string{"level"}}); err != nil {
				return
			}
			a.count[q] = agg.Total
		}()
		if err != nil {
			return a, fmt.Errorf("query %q: %w", q, err)
		}
	}
	return a, nil
}

func (a damageAnswer) diff(b damageAnswer) string {
	for _, q := range damageQueries {
		if !slices.Equal(a.ids[q], b.ids[q]) {
			return fmt.Sprintf("%q: %d ids, want %d", q, len(a.ids[q]), len(b.ids[q]))
		}
		if a.count[q] != b.count[q] {
			return fmt.Sprintf("%q: count %d, want %d", q, a.count[q], b.count[q])
		}
	}
	return ""
}

// damageFiles lists the files of a shard directory, relative to it.
func damageFiles(t *testing.T, dir string) []string {
	t.Helper()
	var files []string
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, err := filepath.Rel(dir, path)
		files = append(files, rel)
		return err
	})
	kwMust(t, err)
	return files
}

// copyTree copies the regular files of src into dst (replaced).
func copyTree(t *testing.T, src, dst string) {
	t.Helper()
	kwMust(t, os.RemoveAll(dst))
	err := filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, path)
		if err != nil {
			return err
		}
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o750)
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), b, 0o640)
	})
	kwMust(t, err)
}

// flipBytes inverts 8 bytes of the file at the fraction at of its length.
func flipBytes(t *testing.T, path string, at float64) {
	t.Helper()
	b, err := os.ReadFile(path)
	kwMust(t, err)
	if len(b) == 0 {
		return
	}
	off := min(int(at*float64(len(b))), len(b)-1)
	for i := off; i < min(off+8, len(b)); i++ {
		b[i] ^= 0xff
	}
	kwMust(t, os.WriteFile(path, b, 0o640))
}

// Bytes flipped at several places of each file of a day's shard, on a
// stopped index: no panic escapes a query, every answer is the one before
// the damage or an error naming the damage, and once the indexer has run,
// the shard is rebuilt and answers from the index again.
func TestDamagedShardFiles(t *testing.T) {
	kwLeaks(t)
	env := kwNewEnv(t)
	rng := rand.New(rand.NewPCG(31, 32))
	all := env.appendDays(rng, 2500, 0, 3)
	env.start()
	env.waitIndexed()
	want, err := damageAsk(t, NewEngine(env.store, env.index, fullyIndexed{env.store}, EngineOptions{}))
	kwMust(t, err)
	if len(want.ids["deadlock"]) == 0 || want.count["request"] == 0 {
		t.Fatalf("test data too thin: %v", want.count)
	}
	day := env.index.Days()[1]
	env.close()
	indexDir := filepath.Join(env.dir, "index")
	pristine := filepath.Join(t.TempDir(), "index")
	copyTree(t, indexDir, pristine)
	shardDir := filepath.Join(indexDir, day.String())

	for _, file := range damageFiles(t, shardDir) {
		for _, at := range []float64{0.02, 0.5, 0.97} {
			name := fmt.Sprintf("%s@%.2f", file, at)
			t.Run(name, func(t *testing.T) {
				copyTree(t, pristine, indexDir)
				flipBytes(t, filepath.Join(shardDir, file), at)
				env.open()
				defer env.close()

				got, err := damageAsk(t, NewEngine(env.store, env.index, fullyIndexed{env.store}, EngineOptions{}))
				if err != nil {
					if !errors.Is(err, ErrShardDamaged) || !strings.Contains(err.Error(), day.String()) {
						t.Fatalf("answer over the damaged shard: %v, want exact or ErrShardDamaged naming %s", err, day)
					}
				} else if d := got.diff(want); d != "" {
					t.Fatalf("answer over the damaged shard differs: %s", d)
				}

				// The indexer rebuilds what was found damaged, at its start
				// or when a query found it.
				env.start()
				env.waitIndexed()
				deadline := time.Now().Add(30 * time.Second)
				for len(env.index.Damaged()) > 0 && time.Now().Before(deadline) {
					time.Sleep(20 * time.Millisecond)
				}
				if d := env.index.Damaged(); len(d) > 0 {
					t.Fatalf("still damaged after the indexer ran: %+v", d)
				}
				if _, err := env.index.Search(context.Background(), Keywords{Terms: []string{"request"}}, storage.MinID, storage.MaxID); err != nil {
					t.Fatalf("index search after the rebuild: %v", err)
				}
				got, err = damageAsk(t, NewEngine(env.store, env.index, fullyIndexed{env.store}, EngineOptions{}))
				kwMust(t, err)
				if d := got.diff(want); d != "" {
					t.Fatalf("answer after the rebuild differs: %s", d)
				}
				env.checkAll(all, rng)
				if _, err := os.Stat(filepath.Join(shardDir, damagedFileName)); err == nil {
					t.Fatalf("the rebuilt shard still has its damage marker")
				}
			})
		}
	}
}

// A segment damaged in a way its checksum does not show (the checksum
// recomputed after the flip) is found where zapx reads it: a panic there
// becomes ErrShardDamaged at the shard boundary, the shard is taken out of
// service (later calls fail the same way without reading it) and the
// engine answers from storage, exactly.
func TestDamagedSegmentPanicIsContained(t *testing.T) {
	kwLeaks(t)
	env := kwNewEnv(t)
	rng := rand.New(rand.NewPCG(33, 34))
	env.appendDays(rng, 1500, 0, 1)
	env.start()
	env.waitIndexed()
	want, err := damageAsk(t, NewEngine(env.store, env.index, fullyIndexed{env.store}, EngineOptions{}))
	kwMust(t, err)
	day := env.index.Days()[0]
	env.close()
	zaps, err := filepath.Glob(filepath.Join(env.dir, "index", day.String(), "store", "*.zap"))
	kwMust(t, err)
	if len(zaps) == 0 {
		t.Fatal("no segment on disk")
	}
	// Wreck the stored-fields index of every segment (where the document
	// ids that name blocks are found: zapx's getDocStoredOffsets), keeping
	// footers and checksums consistent, so that only a search shows it.
	// Footers end, read backwards, with crc:4 version:4 chunkMode:4; then
	// v17 has sectionsIndex:8 storedIndex:8 docs:8, and v16 docValues:8
	// sectionsIndex:8 fieldsIndex:8 storedIndex:8 docs:8.
	for _, path := range zaps {
		b, err := os.ReadFile(path)
		kwMust(t, err)
		at := len(b) - 12
		switch v := binary.BigEndian.Uint32(b[len(b)-8:]); v {
		case 17:
			at -= 16
		case 16:
			at -= 32
		default:
			t.Fatalf("segment version %d: the test knows 16 and 17", v)
		}
		stored := binary.BigEndian.Uint64(b[at:])
		docs := binary.BigEndian.Uint64(b[at-8:])
		for i := stored; i < stored+8*docs; i++ {
			b[i] = 0x7f
		}
		binary.BigEndian.PutUint32(b[len(b)-4:], crc32.ChecksumIEEE(b[:len(b)-4]))
		kwMust(t, os.WriteFile(path, b, 0o640))
	}
	env.open()
	_, serr := env.index.Search(context.Background(), Keywords{Terms: []string{"request"}}, storage.MinID, storage.MaxID)
	if !errors.Is(serr, ErrShardDamaged) || !strings.Contains(serr.Error(), "panic") {
		t.Fatalf("search of a wrecked segment: %v, want ErrShardDamaged from a recovered panic", serr)
	}
	if d := env.index.Damaged(); len(d) != 1 || d[0].Day != day {
		t.Fatalf("Damaged() = %+v, want %s", d, day)
	}
	if env.index.DamagedTotal() != 1 {
		t.Fatalf("DamagedTotal() = %d, want 1", env.index.DamagedTotal())
	}
	if !strings.Contains(env.logs.String(), "keyword index shard damaged") {
		t.Fatalf("the log does not tell the damage:\n%s", env.logs.String())
	}
	got, err := damageAsk(t, NewEngine(env.store, env.index, fullyIndexed{env.store}, EngineOptions{}))
	kwMust(t, err)
	// Out of service: answered from storage, exactly.
	if d := got.diff(want); d != "" {
		t.Fatalf("answer while the shard is damaged differs: %s", d)
	}
	env.start()
	deadline := time.Now().Add(30 * time.Second)
	for len(env.index.Damaged()) > 0 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if d := env.index.Damaged(); len(d) > 0 {
		t.Fatalf("still damaged after the indexer ran: %+v", d)
	}
	got, err = damageAsk(t, NewEngine(env.store, env.index, fullyIndexed{env.store}, EngineOptions{}))
	kwMust(t, err)
	if d := got.diff(want); d != "" {
		t.Fatalf("answer after the rebuild differs: %s", d)
	}
}

// A block record that rots after the shard opened (or outside the tail
// verified at open) is found by its checksum on first read, not decoded
// into wrong ids.
func TestBlockRecordVerifiedOnFirstRead(t *testing.T) {
	dir, x, _ := kwIndexed(t, 3000, 35)
	day := x.Days()[0]
	kwMust(t, x.Close())
	bf, err := openBlockFile(filepath.Join(dir, day.String()))
	kwMust(t, err)
	defer func() { kwMust(t, bf.close()) }()
	metas := bf.snapshot()
	if len(metas) < 2 {
		t.Fatalf("%d blocks, want several", len(metas))
	}
	// Flip a byte of the second block's ids, then forget it was checked,
	// as for a record before the verified tail.
	f, err := os.OpenFile(filepath.Join(dir, day.String(), blockFileName), os.O_RDWR, 0)
	kwMust(t, err)
	var one [1]byte
	_, err = f.ReadAt(one[:], metas[1].off+1)
	kwMust(t, err)
	one[0] ^= 0x55
	_, err = f.WriteAt(one[:], metas[1].off+1)
	kwMust(t, err)
	kwMust(t, f.Close())
	bf.checked = blockChecks{}
	if _, err := bf.readIDs(&metas[0], blockSize, nil); err != nil {
		t.Fatalf("sound block: %v", err)
	}
	if _, err := bf.readIDs(&metas[1], blockSize, nil); !errors.Is(err, errBlockDamaged) {
		t.Fatalf("rotten block ids: %v, want errBlockDamaged", err)
	}
	if _, err := bf.readFilter(&metas[1]); !errors.Is(err, errBlockDamaged) {
		t.Fatalf("rotten block filter: %v, want errBlockDamaged", err)
	}
}

// The sequence and block count records carry a checksum; the 8-byte form
// of earlier releases still reads.
func TestShardRecords(t *testing.T) {
	for _, v := range []uint64{0, 1, 1 << 40} {
		got, err := decodeRecord(encodeRecord(v))
		if err != nil || got != v {
			t.Fatalf("decodeRecord(encodeRecord(%d)) = %d, %v", v, got, err)
		}
		if got, err := decodeRecord(binary.BigEndian.AppendUint64(nil, v)); err != nil || got != v {
			t.Fatalf("8-byte record %d: %d, %v", v, got, err)
		}
		b := encodeRecord(v)
		b[3] ^= 1
		if _, err := decodeRecord(b); err == nil {
			t.Fatalf("flipped record %d decoded", v)
		}
	}
	if _, err := decodeRecord([]byte{1, 2, 3}); err == nil {
		t.Fatal("3-byte record decoded")
	}
}
