package search

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"runtime"
	"slices"
	"sort"
	"sync"
	"sync/atomic"

	"github.com/blevesearch/bleve/v2/document"
	bleveindex "github.com/blevesearch/bleve_index_api"
	"github.com/cespare/xxhash/v2"

	"github.com/logengine/logengine/storage"
)

// Fields of a block's Bleve document.
const (
	// wordsFieldName holds the block's words, each with the number of the
	// block's entries that hold it as its frequency: a word held by every
	// entry of a block needs no entry read to know they all match.
	wordsFieldName = "w"
	// leadsFieldName holds the leads of the block's value tokens (valueLead).
	leadsFieldName = "l"
)

// blockSize is how many entries a block holds at most. Larger blocks cost
// less per entry to index (a Bleve document costs ~15 µs before it holds a
// term) but make every candidate block more entries to check: 256 measured
// 5.7 CPU-µs per entry against 6.3 for 64 and 5.1 for 1,024.
const blockSize = 256

// mergeFloorDocs is the size, in documents, under which Bleve's merge
// planner counts every segment as equally small. Bleve's default (2,000)
// is meant for a document per log: with a document per block it is 512,000
// logs, more than a day shard holds at most rates, and the planner, which
// then wants the whole shard in about one segment, merged the growing big
// segment again with every few new small ones, rewriting the whole shard
// over and over: a third of the daemon's CPU while ingesting 1M logs.
// 256 blocks (about 65,000 logs, tens of megabytes of text, the size
// Bleve's floor stands for with small documents) made merges 5x cheaper
// (4.0 to 0.8 CPU-s per million logs) and left 3 to 10 segments in a day
// shard of 500,000 logs instead of 1 to 2; 64 saved a little more CPU for
// more segments for every query to visit; 16 left 15 to 19.
const mergeFloorDocs = 256

// Entry lists name a block's entries by a byte: a larger blockSize does not
// compile.
const _ = uint8(blockSize - 1)

// blockDoc is one block built from its entries: what goes to the block list
// and what goes to Bleve.
type blockDoc struct {
	built builtBlock
	words bleveindex.TokenFrequencies
	leads bleveindex.TokenFrequencies
	nToks int
}

// splitBlocks cuts docs, sorted by id, into blocks of at most blockSize
// entries of even size, so that a write of 300 entries gives two blocks of
// 150 rather than one of 256 and one of 44.
func splitBlocks(docs []bleveDoc) [][]bleveDoc {
	n := (len(docs) + blockSize - 1) / blockSize
	out := make([][]bleveDoc, 0, n)
	for i := range n {
		out = append(out, docs[i*len(docs)/n:(i+1)*len(docs)/n])
	}
	return out
}

// buildBlocks builds the blocks of docs (sorted by id), in parallel.
func buildBlocks(docs []bleveDoc) []*blockDoc {
	parts := splitBlocks(docs)
	out := make([]*blockDoc, len(parts))
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(runtime.NumCPU(), len(parts)) {
		wg.Go(func() {
			var b blockBuilder
			for k := int(next.Add(1) - 1); k < len(parts); k = int(next.Add(1) - 1) {
				out[k] = b.build(parts[k])
			}
		})
	}
	wg.Wait()
	return out
}

// blockBuilder holds scratch space reused across the blocks it builds.
type blockBuilder struct {
	toks   []string
	words  map[string]int32 // word -> index in counts
	counts []wordCount
	occ    []uint64 // word index << 8 | entry index, in entry order
	values map[string]struct{}
	leads  map[string]struct{}
	seen   map[uint64]uint32 // entryLists' lists by hash
}

type wordCount struct {
	n    int
	last int // the entry that counted it last, so it counts once per entry
}

func (b *blockBuilder) build(docs []bleveDoc) *blockDoc {
	if b.words == nil {
		b.words = make(map[string]int32, 1024)
		b.values = make(map[string]struct{}, 1024)
		b.leads = make(map[string]struct{}, 16)
	}
	clear(b.words)
	clear(b.values)
	clear(b.leads)
	b.counts, b.occ = b.counts[:0], b.occ[:0]
	bd := &blockDoc{built: builtBlock{ids: make([]storage.ID, len(docs))}}
	for i := range docs {
		bd.built.ids[i] = docs[i].id
		b.toks = Tokenize(docs[i].msg, b.toks[:0])
		bd.nToks += len(b.toks)
		for _, t := range b.toks {
			if isValueToken(t) {
				b.values[t] = struct{}{}
				b.leads[valueLead(t)] = struct{}{}
				continue
			}
			w, ok := b.words[t]
			if !ok {
				w = int32(len(b.counts))
				b.words[t] = w
				b.counts = append(b.counts, wordCount{last: -1})
			}
			if wc := &b.counts[w]; wc.last != i {
				wc.n++
				wc.last = i
				b.occ = append(b.occ, uint64(w)<<8|uint64(i))
			}
		}
	}
	clear(b.toks)
	bd.built.filter = newBlockFilter(len(b.values))
	for t := range b.values {
		bd.built.filter.add(filterHash(t))
	}
	bd.built.lists = b.entryLists(len(docs))
	bd.words = termFrequencies(b.words, func(w int32) int { return b.counts[w].n })
	bd.leads = termFrequencies(b.leads, func(struct{}) int { return 1 })
	return bd
}

// entryLists encodes, for every word only some of the block's n entries
// hold, which ones (see blockfile.go for the layout), so that a word's
// matches in a block are known without reading an entry. Words of one
// message template are held by the same entries: their lists are stored
// once.
func (b *blockBuilder) entryLists(n int) []byte {
	// Counting sort of the occurrences by word, stable: each word's
	// entries stay ascending.
	start := make([]int, len(b.counts)+1)
	for w, c := range b.counts {
		start[w+1] = start[w] + c.n
	}
	sorted := make([]byte, len(b.occ))
	next := slices.Clone(start[:len(b.counts)])
	for _, o := range b.occ {
		w := o >> 8
		sorted[next[w]] = byte(o)
		next[w]++
	}
	type slot struct {
		hash uint16
		off  uint32
	}
	var slots []slot
	var data []byte
	// Lists seen, by a hash of their bytes (a string key was an allocation
	// per distinct list); a list whose hash meets another list is stored
	// again, which costs bytes, never a wrong list.
	if b.seen == nil {
		b.seen = make(map[uint64]uint32)
	}
	clear(b.seen)
	for t, w := range b.words {
		c := b.counts[w].n
		if c == n {
			continue // held by every entry: its frequency says so
		}
		list := sorted[start[w]:start[w+1]]
		h := xxhash.Sum64(list)
		off, ok := b.seen[h]
		if !ok || int(off)+len(list) > len(data) || !bytes.Equal(data[off:int(off)+len(list)], list) {
			off = uint32(len(data))
			data = append(data, list...)
			if !ok {
				b.seen[h] = off
			}
		}
		slots = append(slots, slot{hash: listHash(t), off: off})
	}
	slices.SortFunc(slots, func(a, b slot) int { return int(a.hash) - int(b.hash) })
	// Words sharing a hash cannot be told apart: their slot says so, and
	// their blocks are then checked entry by entry.
	for i := 1; i < len(slots); i++ {
		if slots[i].hash == slots[i-1].hash {
			slots[i].off, slots[i-1].off = ambiguousList, ambiguousList
		}
	}
	slots = slices.CompactFunc(slots, func(a, b slot) bool { return a.hash == b.hash })
	// Two-byte offsets whenever the data allows, which it nearly always
	// does (a block's distinct lists hold a few hundred bytes): the table
	// is most of the lists' bytes, and this takes a third off it.
	if len(slots) > 0 && len(data) < int(narrowAmbiguous) {
		out := append(make([]byte, 0, 10+4*len(slots)+len(data)), 0, narrowLists)
		out = binary.AppendUvarint(out, uint64(len(slots)))
		for _, s := range slots {
			off := uint16(s.off)
			if s.off == ambiguousList {
				off = narrowAmbiguous
			}
			out = binary.BigEndian.AppendUint16(out, s.hash)
			out = binary.BigEndian.AppendUint16(out, off)
		}
		return append(out, data...)
	}
	out := binary.AppendUvarint(make([]byte, 0, 8+6*len(slots)+len(data)), uint64(len(slots)))
	for _, s := range slots {
		out = binary.BigEndian.AppendUint16(out, s.hash)
		out = binary.BigEndian.AppendUint32(out, s.off)
	}
	return append(out, data...)
}

// termFrequencies copies the terms of m into Bleve's form, in one arena:
// the block's messages must not stay pinned by the index writer.
func termFrequencies[V any](m map[string]V, freq func(V) int) bleveindex.TokenFrequencies {
	size := 0
	for t := range m {
		size += len(t)
	}
	arena := make([]byte, 0, size)
	slab := make([]bleveindex.TokenFreq, 0, len(m))
	out := make(bleveindex.TokenFrequencies, len(m))
	for t, v := range m {
		start := len(arena)
		arena = append(arena, t...)
		term := arena[start:len(arena):len(arena)]
		slab = append(slab, bleveindex.TokenFreq{Term: term})
		tf := &slab[len(slab)-1]
		tf.SetFrequency(freq(v))
		out[string(term)] = tf
	}
	return out
}

// document returns the block's Bleve document, numbered n.
func (bd *blockDoc) document(n int) *document.Document {
	d := document.NewDocument(blockDocID(n))
	d.Fields = slices.Grow(d.Fields, 3) // and the _id field Bleve adds
	d.Fields = append(d.Fields,
		&blockTerms{name: wordsFieldName, freqs: bd.words, length: bd.nToks},
		&blockTerms{name: leadsFieldName, freqs: bd.leads, length: len(bd.leads)})
	return d
}

// blockTerms is a field of a block document with its terms counted already.
// Its Analyze does nothing: Bleve would otherwise recount the terms from the
// field's (empty) text and index none.
type blockTerms struct {
	name   string
	freqs  bleveindex.TokenFrequencies
	length int
}

func (f *blockTerms) Analyze()                                              {}
func (f *blockTerms) Name() string                                          { return f.name }
func (f *blockTerms) ArrayPositions() []uint64                              { return nil }
func (f *blockTerms) Options() bleveindex.FieldIndexingOptions              { return messageOptions }
func (f *blockTerms) Value() []byte                                         { return nil }
func (f *blockTerms) NumPlainTextBytes() uint64                             { return 0 }
func (f *blockTerms) EncodedFieldType() byte                                { return 't' }
func (f *blockTerms) AnalyzedLength() int                                   { return f.length }
func (f *blockTerms) AnalyzedTokenFrequencies() bleveindex.TokenFrequencies { return f.freqs }

// Size estimates the memory the field holds, for Bleve's accounting.
func (f *blockTerms) Size() int { return 64 + f.freqs.Size() }

// bleveDoc is one entry to index: its id and message.
type bleveDoc struct {
	id  storage.ID
	msg string
}

// ambiguousList marks the slot of words that share a hash in one block.
const ambiguousList = ^uint32(0)

// The narrow form of the entry lists starts with these two bytes and has
// two-byte offsets, narrowAmbiguous for ambiguousList. The wide form (four-
// byte offsets: what blocks with more list data use, and all blocks
// indexed before the narrow form) starts with the table's size, a zero
// only when the table is empty, and then the lists are that one byte.
const (
	narrowLists     = 1
	narrowAmbiguous = ^uint16(0)
)

// listHash is a word's hash in a block's entry lists. Sixteen bits keep
// the table small; collisions only cost a check of the block's entries.
func listHash(word string) uint16 { return uint16(xxhash.Sum64String(word) >> 48) }

// entryList returns the indexes of the block's entries that hold word, a
// word some but not all of them hold, tf of them. ok is false when the
// block's lists cannot tell it from another word.
func entryList(lists []byte, word string, tf int) (idx []byte, ok bool, err error) {
	slot := 6 // hash:2 offset:4
	if len(lists) > 1 && lists[0] == 0 {
		if lists[1] != narrowLists {
			return nil, false, fmt.Errorf("%w: entry lists: unknown form %d", errBlockDamaged, lists[1])
		}
		slot, lists = 4, lists[2:]
	}
	n, k := binary.Uvarint(lists)
	if k <= 0 || n > uint64(len(lists)-k)/uint64(slot) {
		return nil, false, fmt.Errorf("%w: entry lists: bad table size", errBlockDamaged)
	}
	table, data := lists[k:k+slot*int(n)], lists[k+slot*int(n):]
	h := listHash(word)
	i := sort.Search(int(n), func(m int) bool { return binary.BigEndian.Uint16(table[slot*m:]) >= h })
	if i == int(n) || binary.BigEndian.Uint16(table[slot*i:]) != h {
		return nil, false, fmt.Errorf("%w: entry lists: word %q missing", errBlockDamaged, word)
	}
	var off uint32
	if slot == 4 {
		off = uint32(binary.BigEndian.Uint16(table[slot*i+2:]))
		if off == uint32(narrowAmbiguous) {
			off = ambiguousList
		}
	} else {
		off = binary.BigEndian.Uint32(table[slot*i+2:])
	}
	if off == ambiguousList {
		return nil, false, nil
	}
	if uint64(off)+uint64(tf) > uint64(len(data)) {
		return nil, false, fmt.Errorf("%w: entry lists: list of %q out of bounds", errBlockDamaged, word)
	}
	return data[off : int(off)+tf], true, nil
}
