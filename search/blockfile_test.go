package search

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/blevesearch/bleve/v2"

	"github.com/logengine/logengine/storage"
)

func kwRandomIDs(rng *rand.Rand, n int) []storage.ID {
	ids := make([]storage.ID, n)
	base := kwDay0.UnixNano()
	for i := range ids {
		ids[i] = storage.ID{Nanos: base + rng.Int64N(int64(24*3600e9)), Seq: rng.Uint64N(1 << 40)}
	}
	slices.SortFunc(ids, storage.ID.Compare)
	return slices.Compact(ids)
}

func TestBlockIDsRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	for _, n := range []int{1, 2, 255, 256} {
		ids := kwRandomIDs(rng, n)
		got, err := decodeBlockIDs(appendBlockIDs(nil, ids), ids[0], len(ids), nil)
		if err != nil || !slices.Equal(got, ids) {
			t.Fatalf("%d ids: err %v, round trip differs", n, err)
		}
	}
	// Ties in time, sequences going down: both are allowed in a block.
	ids := []storage.ID{{Nanos: 5, Seq: 9}, {Nanos: 5, Seq: 10}, {Nanos: 6, Seq: 1}, {Nanos: 1 << 62, Seq: 1 << 63}}
	got, err := decodeBlockIDs(appendBlockIDs(nil, ids), ids[0], len(ids), nil)
	if err != nil || !slices.Equal(got, ids) {
		t.Fatalf("got %v, %v; want %v", got, err, ids)
	}
}

func FuzzDecodeBlockIDs(f *testing.F) {
	f.Add(appendBlockIDs(nil, []storage.ID{{Nanos: 1, Seq: 2}, {Nanos: 3, Seq: 1}}), int64(1), 2)
	f.Add([]byte{0xff, 0xff}, int64(0), 5)
	f.Fuzz(func(t *testing.T, b []byte, min int64, n int) {
		if n < 0 || n > 1024 {
			return
		}
		ids, err := decodeBlockIDs(b, storage.ID{Nanos: min}, n, nil)
		if err == nil && len(ids) != n {
			t.Fatalf("%d ids decoded, want %d", len(ids), n)
		}
	})
}

// A crash can tear the last append; the list opens without it, and
// appends go on after the last whole block.
func TestBlockFileCutsTornAppend(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	for _, tear := range []string{"half a header", "half a body", "flipped byte", "zeros"} {
		t.Run(tear, func(t *testing.T) {
			dir := t.TempDir()
			bf, err := openBlockFile(dir)
			kwMust(t, err)
			blocks := []*builtBlock{
				{ids: kwRandomIDs(rng, 100), filter: newBlockFilter(10)},
				{ids: kwRandomIDs(rng, 3), filter: newBlockFilter(1)},
			}
			_, err = bf.appendBlocks(blocks)
			kwMust(t, err)
			good := bf.size
			last := &builtBlock{ids: kwRandomIDs(rng, 50), filter: newBlockFilter(40)}
			_, err = bf.appendBlocks([]*builtBlock{last})
			kwMust(t, err)
			end := bf.size
			kwMust(t, bf.close())

			path := filepath.Join(dir, blockFileName)
			data, err := os.ReadFile(path)
			kwMust(t, err)
			switch tear {
			case "half a header":
				data = data[:good+blockHeaderLen/2]
			case "half a body":
				data = data[:good+(end-good)/2]
			case "flipped byte":
				data[end-3] ^= 0x40
			case "zeros":
				clear(data[good+blockHeaderLen : end])
			}
			kwMust(t, os.WriteFile(path, data, 0o640))

			bf, err = openBlockFile(dir)
			kwMust(t, err)
			defer bf.close()
			metas := bf.snapshot()
			if len(metas) != 2 || bf.size != good {
				t.Fatalf("%d blocks up to %d after a torn append, want 2 up to %d", len(metas), bf.size, good)
			}
			for i, m := range metas {
				ids, err := bf.readIDs(&m, blockSize, nil)
				if err != nil || !slices.Equal(ids, blocks[i].ids) {
					t.Fatalf("block %d: %v, ids differ", i, err)
				}
			}
			n, err := bf.appendBlocks([]*builtBlock{last})
			kwMust(t, err)
			ids, err := bf.readIDs(&bf.snapshot()[n], blockSize, nil)
			if n != 2 || err != nil || !slices.Equal(ids, last.ids) {
				t.Fatalf("append after the cut: block %d, %v", n, err)
			}
		})
	}
}

// A filter holds every token added, and few others: about 0.01% at the
// designed 20 bits per token and 14 probes. A filter written before the
// probe count was stored (6 probes, no trailing byte) is read with 6, and
// one written with another count (11, at 16 bits per token) with its own.
func TestBlockFilter(t *testing.T) {
	for _, n := range []int{0, 1, 100, 3000} {
		f := newBlockFilter(n)
		for i := range n {
			f.add(filterHash(fmt.Sprintf("req-%d", i)))
		}
		enc := f.appendTo(nil)
		if len(enc)%8 != 1 || enc[len(enc)-1] != filterProbes|enhancedProbes {
			t.Fatalf("n=%d: encoded filter of %d bytes does not end with its probe count", n, len(enc))
		}
		for i := range n {
			h := filterHash(fmt.Sprintf("req-%d", i))
			if !mayHoldEncoded(enc, h) {
				t.Fatalf("n=%d: token %d added but not found", n, i)
			}
		}
		fp := 0
		const probes = 100000
		for i := range probes {
			if mayHoldEncoded(enc, filterHash(fmt.Sprintf("other-%d", i))) {
				fp++
			}
		}
		if n >= 100 && fp > probes/5000 {
			t.Fatalf("n=%d: %d false positives in %d, want under 0.02%%", n, fp, probes)
		}
	}
	// A filter of the first format: 6 probes set, words only.
	legacy := newBlockFilter(200)
	for i := range 200 {
		h := filterHash(fmt.Sprintf("req-%d", i))
		m := uint64(len(legacy)) * 64
		for p := range uint64(legacyProbes) {
			bit := probeBit(h, m, p)
			legacy[bit/64] |= 1 << (bit % 64)
		}
	}
	enc := legacy.appendTo(nil)
	enc = enc[:len(enc)-1]
	for i := range 200 {
		if !mayHoldEncoded(enc, filterHash(fmt.Sprintf("req-%d", i))) {
			t.Fatalf("a filter of 6 probes without a probe count misses token %d", i)
		}
	}
	// A filter of 16 bits per token and 11 probes, with its count.
	words := make(blockFilter, (200*16+63)/64)
	for i := range 200 {
		h := filterHash(fmt.Sprintf("req-%d", i))
		m := uint64(len(words)) * 64
		for p := range uint64(11) {
			bit := probeBit(h, m, p)
			words[bit/64] |= 1 << (bit % 64)
		}
	}
	enc = append(words.appendTo(nil)[:len(words)*8], 11)
	fp := 0
	for i := range 20000 {
		if i < 200 && !mayHoldEncoded(enc, filterHash(fmt.Sprintf("req-%d", i))) {
			t.Fatalf("a filter of 11 probes misses token %d", i)
		}
		if mayHoldEncoded(enc, filterHash(fmt.Sprintf("other-%d", i))) {
			fp++
		}
	}
	// Read with 14 probes, about a quarter of its bits would be missed
	// for its tokens; read with its 11, about 0.05% false positives.
	if fp > 40 {
		t.Fatalf("a filter of 11 probes: %d false positives in 20,000", fp)
	}
}

// A shard written by the release that kept a document per entry does not
// open; the indexer then rebuilds it from storage (recover).
func TestIndexRefusesOldFormatShard(t *testing.T) {
	dir := t.TempDir()
	kwMust(t, bleveSetup())
	day := storage.DayOf(kwDay0.UnixNano())
	old, err := bleve.New(filepath.Join(dir, day.String()), newIndexMapping())
	kwMust(t, err)
	kwMust(t, old.Index("x", map[string]any{messageFieldName: "a document per entry"}))
	kwMust(t, old.Close())
	x := kwOpenIndex(t, dir)
	defer x.Close()
	if _, err := x.check(day); !errors.Is(err, errShardFormat) {
		t.Fatalf("check of an old shard: %v, want errShardFormat", err)
	}
}

// Blocks a shard's documents refer to but its list lost make the shard
// refuse to open, so that it is rebuilt instead of silently missing them.
func TestIndexRefusesLostBlocks(t *testing.T) {
	dir, x, _ := kwIndexed(t, 500, 11)
	days := x.Days()
	kwMust(t, x.Close())
	kwMust(t, os.Truncate(filepath.Join(dir, days[0].String(), blockFileName), 0))
	x = kwOpenIndex(t, dir)
	defer x.Close()
	if _, err := x.check(days[0]); err == nil {
		t.Fatal("a shard whose block list lost its blocks opened")
	}
	if ok, err := x.check(days[1]); !ok || err != nil {
		t.Fatalf("an intact shard: ok=%v err=%v", ok, err)
	}
}

// Every word only some of a block's entries hold is listed with exactly
// those entries, unless another word of the block shares its hash.
func TestBlockEntryLists(t *testing.T) {
	rng := rand.New(rand.NewPCG(13, 14))
	for round := range 20 {
		n := 1 + rng.IntN(blockSize)
		docs := make([]bleveDoc, n)
		for i := range docs {
			docs[i] = bleveDoc{id: storage.ID{Nanos: int64(i), Seq: uint64(i)}, msg: kwMessage(rng, kwPick(rng))}
		}
		var b blockBuilder
		bd := b.build(docs)
		holders := map[string][]byte{}
		for i, d := range docs {
			seen := map[string]bool{}
			for _, tok := range Tokenize(d.msg, nil) {
				if !isValueToken(tok) && !seen[tok] {
					seen[tok] = true
					holders[tok] = append(holders[tok], byte(i))
				}
			}
		}
		if len(bd.words) != len(holders) {
			t.Fatalf("round %d: %d words indexed, want %d", round, len(bd.words), len(holders))
		}
		ambiguous := 0
		for word, want := range holders {
			tf := bd.words[word].Frequency()
			if tf != len(want) {
				t.Fatalf("round %d: %q frequency %d, want %d", round, word, tf, len(want))
			}
			if tf == n {
				continue
			}
			got, ok, err := entryList(bd.built.lists, word, tf)
			if err != nil {
				t.Fatalf("round %d: %q: %v", round, word, err)
			}
			if !ok {
				ambiguous++
				continue
			}
			if !slices.Equal(got, want) {
				t.Fatalf("round %d: %q held by entries %v, listed %v", round, word, want, got)
			}
		}
		if ambiguous > len(holders)/20+2 {
			t.Fatalf("round %d: %d of %d words ambiguous", round, ambiguous, len(holders))
		}
	}
}

func FuzzEntryList(f *testing.F) {
	var b blockBuilder
	bd := b.build([]bleveDoc{{msg: "a b"}, {msg: "a c"}})
	f.Add(bd.built.lists, "b", 1)
	f.Add([]byte{1, 0, 0, 0, 0, 0, 0, 1}, "b", 1) // the wide form
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0x0f}, "x", 3)
	f.Fuzz(func(t *testing.T, lists []byte, word string, tf int) {
		if tf < 0 || tf > blockSize {
			return
		}
		idx, ok, err := entryList(lists, word, tf)
		if err == nil && ok && len(idx) != tf {
			t.Fatalf("list of %d entries for frequency %d", len(idx), tf)
		}
	})
}

// Deleted entries stay out of the answers across a reopen; a torn last
// chunk of the list is cut off and the chunks before it kept.
func TestIndexDeletedEntries(t *testing.T) {
	dir, x, all := kwIndexed(t, 800, 15)
	first, second := []storage.ID{all[0].id, all[5].id}, []storage.ID{all[9].id, all[10].id, all[11].id}
	kwMust(t, x.Delete(first))
	kwMust(t, x.Delete(second))
	kwMust(t, x.Close())

	check := func(gone []storage.ID) {
		t.Helper()
		x := kwOpenIndex(t, dir)
		defer x.Close()
		c, err := x.Search(context.Background(), Keywords{}, storage.MinID, storage.MaxID)
		kwMust(t, err)
		if got, want := len(c.Sure)+len(c.Maybe), len(all)-len(gone); got != want {
			t.Fatalf("%d entries found, want %d", got, want)
		}
		for _, id := range gone {
			if _, found := slices.BinarySearchFunc(c.Sure, id, storage.ID.Compare); found {
				t.Fatalf("deleted entry %v found", id)
			}
		}
	}
	check(append(slices.Clone(first), second...))

	day := storage.DayOf(all[9].id.Nanos)
	path := filepath.Join(dir, day.String(), deletedFileName)
	st, err := os.Stat(path)
	kwMust(t, err)
	kwMust(t, os.Truncate(path, st.Size()-7))
	var kept []storage.ID
	for _, id := range append(slices.Clone(first), second...) {
		if storage.DayOf(id.Nanos) != day || slices.Contains(first, id) && storage.DayOf(id.Nanos) == day {
			kept = append(kept, id)
		}
	}
	check(kept)
}

// A block header whose count exceeds blockSize (bit rot in a record older
// than the verified tail, where no checksum is checked) must not panic a
// query. Here the checksum is recomputed to stand for a record outside the
// last 8 MiB.
func TestIndexRefusesImpossibleBlockCount(t *testing.T) {
	dir, x, _ := kwIndexed(t, 300, 21)
	day := x.Days()[0]
	kwMust(t, x.Close())
	path := filepath.Join(dir, day.String(), blockFileName)
	b, err := os.ReadFile(path)
	kwMust(t, err)
	binary.BigEndian.PutUint32(b[12:], 300) // count of the first block
	idsLen := binary.BigEndian.Uint32(b[4:])
	filterLen := binary.BigEndian.Uint32(b[8:])
	listsLen := binary.BigEndian.Uint32(b[48:])
	end := blockHeaderLen + int(idsLen+filterLen+listsLen)
	binary.BigEndian.PutUint32(b[:4], crc32.Checksum(b[4:end], castagnoli))
	kwMust(t, os.WriteFile(path, b, 0o640))
	x = kwOpenIndex(t, dir)
	var panicked any
	func() {
		defer func() { panicked = recover() }()
		_, err = x.Search(context.Background(), Keywords{Terms: []string{"request"}}, storage.MinID, storage.MaxID)
	}()
	if panicked != nil {
		t.Fatalf("query panicked on a corrupt block count: %v (and the shard stays read-locked: Close would hang)", panicked)
	}
	if !errors.Is(err, errShardUnusable) {
		t.Fatalf("search of a shard with an impossible block: %v, want errShardUnusable", err)
	}
	kwMust(t, x.Close())
}

// Bytes of a chunk a failed write left behind must not hide the chunk of
// the Delete that succeeds after it (storage then releases its tombstones):
// chunks are written at the end of the last whole one.
func TestIndexDeletedAfterTornChunk(t *testing.T) {
	dir, x, all := kwIndexed(t, 400, 23)
	day := storage.DayOf(all[0].id.Nanos)
	var victim storage.ID
	for _, e := range all[1:] {
		if storage.DayOf(e.id.Nanos) == day {
			victim = e.id
			break
		}
	}
	// What a write that failed after 11 bytes leaves (Delete returned an
	// error; the tombstones stay and are handed over again).
	f, err := os.OpenFile(filepath.Join(dir, day.String(), deletedFileName), os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o640)
	kwMust(t, err)
	_, err = f.Write([]byte{0, 0, 0, 1, 0xde, 0xad, 0xbe, 0xef, 1, 2, 3})
	kwMust(t, err)
	kwMust(t, f.Close())
	// The retry succeeds.
	kwMust(t, x.Delete([]storage.ID{all[0].id, victim}))
	kwMust(t, x.Close())

	x = kwOpenIndex(t, dir)
	defer x.Close()
	c, err := x.Search(context.Background(), Keywords{}, storage.MinID, storage.MaxID)
	kwMust(t, err)
	for _, id := range []storage.ID{all[0].id, victim} {
		if _, found := slices.BinarySearchFunc(c.Sure, id, storage.ID.Compare); found {
			t.Errorf("entry %v, deleted (Delete returned nil), is a sure candidate after a reopen", id)
		}
	}
}

func TestFirstEntries(t *testing.T) {
	for _, n := range []int{0, 1, 63, 64, 65, 128, 200, blockSize} {
		s := firstEntries(n)
		for i := range blockSize {
			if s.has(i) != (i < n) {
				t.Fatalf("firstEntries(%d) has entry %d: %v", n, i, s.has(i))
			}
		}
		if got := (&blockSel{sure: s}).last(); got != n-1 {
			t.Fatalf("firstEntries(%d): last %d, want %d", n, got, n-1)
		}
	}
}

// kwIndexed writes n entries made from seed into a new index, in one write,
// and returns its directory, the open index and the entries.
func kwIndexed(t *testing.T, n int, seed uint64) (string, *Index, []kwEntry) {
	t.Helper()
	dir := t.TempDir()
	x := kwOpenIndex(t, dir)
	all := kwMakeEntries(rand.New(rand.NewPCG(seed, seed+1)), n, 1)
	kwWrite(t, x, all, n)
	return dir, x, all
}

// A block whose record does not decode makes its shard unusable, which
// the engine answers by scanning, and the error says how to rebuild it.
func TestDamagedBlockIsUnusable(t *testing.T) {
	dir, x, _ := kwIndexed(t, 300, 25)
	day := x.Days()[0]
	kwMust(t, x.Close())
	path := filepath.Join(dir, day.String(), blockFileName)
	b, err := os.ReadFile(path)
	kwMust(t, err)
	// The first block's ids made a varint that never ends; its checksum
	// recomputed, as for a record older than the verified tail.
	idsLen := binary.BigEndian.Uint32(b[4:])
	for i := blockHeaderLen; i < blockHeaderLen+int(idsLen); i++ {
		b[i] = 0x80
	}
	end := blockHeaderLen + int(idsLen+binary.BigEndian.Uint32(b[8:])+binary.BigEndian.Uint32(b[48:]))
	binary.BigEndian.PutUint32(b[:4], crc32.Checksum(b[4:end], castagnoli))
	kwMust(t, os.WriteFile(path, b, 0o640))
	x = kwOpenIndex(t, dir)
	defer x.Close()
	_, err = x.Search(context.Background(), Keywords{}, storage.MinID, storage.MaxID)
	if !errors.Is(err, errShardUnusable) || !strings.Contains(err.Error(), "reindex") {
		t.Fatalf("search over a damaged block: %v, want errShardUnusable naming the reindex", err)
	}
}

// wideLists rewrites narrow entry lists in the wide form (four-byte
// offsets), the form of blocks indexed before the narrow one.
func wideLists(t *testing.T, narrow []byte) []byte {
	t.Helper()
	if len(narrow) < 2 || narrow[0] != 0 || narrow[1] != narrowLists {
		t.Fatalf("lists %x are not narrow", narrow)
	}
	n, k := binary.Uvarint(narrow[2:])
	table, data := narrow[2+k:2+k+4*int(n)], narrow[2+k+4*int(n):]
	out := binary.AppendUvarint(nil, n)
	for i := range int(n) {
		off := uint32(binary.BigEndian.Uint16(table[4*i+2:]))
		if off == uint32(narrowAmbiguous) {
			off = ambiguousList
		}
		out = binary.BigEndian.AppendUint16(out, binary.BigEndian.Uint16(table[4*i:]))
		out = binary.BigEndian.AppendUint32(out, off)
	}
	return append(out, data...)
}

// Both forms of the entry lists give every word the same answer; a block
// whose words all are in every entry has the one-byte empty table.
func TestEntryListForms(t *testing.T) {
	rng := rand.New(rand.NewPCG(15, 16))
	docs := make([]bleveDoc, blockSize)
	for i := range docs {
		docs[i] = bleveDoc{id: storage.ID{Nanos: int64(i), Seq: uint64(i)}, msg: kwMessage(rng, kwPick(rng))}
	}
	var b blockBuilder
	bd := b.build(docs)
	narrow := bd.built.lists
	wide := wideLists(t, narrow)
	if len(wide) <= len(narrow) {
		t.Fatalf("wide lists %d bytes, narrow %d", len(wide), len(narrow))
	}
	// The entries that hold each word, from the messages themselves.
	holders := map[string][]byte{}
	for i := range docs {
		for _, tok := range Tokenize(docs[i].msg, nil) {
			if l := holders[tok]; !isValueToken(tok) && (len(l) == 0 || l[len(l)-1] != byte(i)) {
				holders[tok] = append(l, byte(i))
			}
		}
	}
	checked := map[string]int{}
	eligible := 0
	for word, tf := range bd.words {
		if tf.Frequency() == len(docs) {
			continue
		}
		eligible++
		for _, tc := range []struct {
			name  string
			lists []byte
		}{{"narrow", narrow}, {"wide", wide}} {
			got, ok, err := entryList(tc.lists, word, tf.Frequency())
			if err != nil {
				t.Fatalf("%s: %q: %v", tc.name, word, err)
			}
			if !ok {
				continue // its hash meets another word's: the block is checked instead
			}
			if !slices.Equal(got, holders[word]) {
				t.Fatalf("%s: %q: entries %v, the messages say %v", tc.name, word, got, holders[word])
			}
			checked[tc.name]++
		}
	}
	// Every word but the few whose hashes meet another's, in each form.
	for _, form := range []string{"narrow", "wide"} {
		if ambiguous := eligible - checked[form]; eligible == 0 || ambiguous > eligible/20+2 {
			t.Fatalf("%s: %d of %d words' lists checked", form, checked[form], eligible)
		}
	}
	var b2 blockBuilder
	if got := b2.build([]bleveDoc{{msg: "a b"}, {msg: "a b"}}).built.lists; !bytes.Equal(got, []byte{0}) {
		t.Fatalf("lists of words every entry holds: %x, want 00", got)
	}
}
