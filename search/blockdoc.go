package search

import (
	"runtime"
	"slices"
	"sync"

	"github.com/blevesearch/bleve/v2/document"
	bleveindex "github.com/blevesearch/bleve_index_api"

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
	workers := min(runtime.NumCPU(), len(parts))
	var next sync.Mutex
	i := 0
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			var b blockBuilder
			for {
				next.Lock()
				k := i
				i++
				next.Unlock()
				if k >= len(parts) {
					return
				}
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
	words  map[string]*wordCount
	values map[string]struct{}
	leads  map[string]struct{}
	counts []wordCount
}

type wordCount struct {
	n    int
	last int // the entry that counted it last, so it counts once per entry
}

func (b *blockBuilder) build(docs []bleveDoc) *blockDoc {
	if b.words == nil {
		b.words = make(map[string]*wordCount, 1024)
		b.values = make(map[string]struct{}, 1024)
		b.leads = make(map[string]struct{}, 16)
	}
	clear(b.words)
	clear(b.values)
	clear(b.leads)
	b.counts = b.counts[:0]
	bd := &blockDoc{built: builtBlock{ids: make([]storage.ID, len(docs))}}
	// Counts live in one slab, grown in chunks so pointers into it stay valid.
	slabs := [][]wordCount{make([]wordCount, 0, 512)}
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
			if wc := b.words[t]; wc != nil {
				if wc.last != i {
					wc.n++
					wc.last = i
				}
				continue
			}
			s := &slabs[len(slabs)-1]
			if len(*s) == cap(*s) {
				slabs = append(slabs, make([]wordCount, 0, 512))
				s = &slabs[len(slabs)-1]
			}
			*s = append(*s, wordCount{n: 1, last: i})
			b.words[t] = &(*s)[len(*s)-1]
		}
	}
	clear(b.toks)
	bd.built.filter = newBlockFilter(len(b.values))
	for t := range b.values {
		bd.built.filter.add(filterHash(t))
	}
	bd.words = termFrequencies(b.words, func(w *wordCount) int { return w.n })
	bd.leads = termFrequencies(b.leads, func(struct{}) int { return 1 })
	return bd
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
