package search

import (
	"fmt"
	"runtime"
	"sync"

	"github.com/blevesearch/bleve/v2"
	"github.com/blevesearch/bleve/v2/analysis"
	"github.com/blevesearch/bleve/v2/registry"
	bleveindex "github.com/blevesearch/bleve_index_api"
)

// analyzerName names both the tokenizer and the analyzer registered with
// Bleve. The index mapping refers to it, so it is stored in every shard's
// metadata: renaming it makes existing shards unopenable (they are then
// rebuilt from storage).
const analyzerName = "logengine"

// bleveSetup registers the analysis components and sizes Bleve's analysis
// queue once per process. Both are Bleve globals: the registry must know the
// analyzer before any shard's mapping is validated, and every index captures
// the queue when it opens, so resizing it later would strand open shards on a
// closed queue.
var bleveSetup = sync.OnceValue(func() error {
	if err := registry.RegisterTokenizer(analyzerName, func(map[string]any, *registry.Cache) (analysis.Tokenizer, error) {
		return bleveTokenizer{}, nil
	}); err != nil {
		return fmt.Errorf("register tokenizer %s: %w", analyzerName, err)
	}
	if err := registry.RegisterAnalyzer(analyzerName, func(map[string]any, *registry.Cache) (analysis.Analyzer, error) {
		// No token filters: Tokenize already lower-cases, and anything more
		// (stemming, stop words) would make the index disagree with query
		// words, which go through Tokenize alone.
		return &analysis.DefaultAnalyzer{Tokenizer: bleveTokenizer{}}, nil
	}); err != nil {
		return fmt.Errorf("register analyzer %s: %w", analyzerName, err)
	}
	// Bleve's default of 4 workers oversubscribes small machines; one per
	// CPU measured 13% faster on 2 cores.
	bleve.Config.SetAnalysisQueueSize(runtime.NumCPU())
	return nil
})

// bleveTokenizer adapts Tokenize to Bleve's Tokenizer interface, so that
// the analyzer named in the mapping is the same function the query side
// uses. The indexer does not go through it (see bleveMessage.Analyze); it
// is what Bleve itself would use for any analysed query.
type bleveTokenizer struct{}

// Tokenize returns the tokens of input. Offsets are left at zero: shards
// keep no term vectors, so nothing reads them.
func (bleveTokenizer) Tokenize(input []byte) analysis.TokenStream {
	toks := Tokenize(string(input), nil)
	slab := make([]analysis.Token, len(toks))
	out := make(analysis.TokenStream, len(toks))
	for i, t := range toks {
		slab[i] = analysis.Token{Term: []byte(t), Position: i + 1, Type: analysis.AlphaNumeric}
		out[i] = &slab[i]
	}
	return out
}

// messageOptions indexes the message for term lookups only: no stored value
// (entries are read from storage), no term vectors (phrases are checked on
// the fetched message), no doc values (nothing sorts or facets on the
// message; Bleve's text default builds them and pays for it per document).
const messageOptions = bleveindex.IndexField

// bleveMessage is the message field of one document. The indexer builds it
// itself instead of a document.TextField with the analyzer: analysing
// straight into the term-frequency map skips the token stream Bleve would
// build first, and strings that Tokenize shares with the message serve as
// map keys without copies. It must stay equivalent to the registered
// analyzer (TestMessageFieldMatchesAnalyzer).
type bleveMessage struct {
	text   string
	length int
	freqs  bleveindex.TokenFrequencies
}

// tokenScratch recycles Tokenize's output slices across documents. Analyze
// runs on Bleve's analysis workers, concurrently.
var tokenScratch = sync.Pool{New: func() any { s := make([]string, 0, 64); return &s }}

func (f *bleveMessage) Analyze() {
	sp := tokenScratch.Get().(*[]string)
	toks := Tokenize(f.text, (*sp)[:0])
	f.length = len(toks)
	f.freqs = make(bleveindex.TokenFrequencies, len(toks))
	// One slab for the frequency records and one arena for the term bytes
	// per document, instead of one allocation per distinct token.
	size := 0
	for _, t := range toks {
		size += len(t)
	}
	slab := make([]bleveindex.TokenFreq, 0, len(toks))
	arena := make([]byte, 0, size)
	for _, t := range toks {
		if tf, ok := f.freqs[t]; ok {
			tf.SetFrequency(tf.Frequency() + 1)
			continue
		}
		start := len(arena)
		arena = append(arena, t...)
		slab = append(slab, bleveindex.TokenFreq{Term: arena[start:len(arena):len(arena)]})
		tf := &slab[len(slab)-1]
		tf.SetFrequency(1)
		f.freqs[t] = tf
	}
	clear(toks) // do not pin messages from the pool
	*sp = toks[:0]
	tokenScratch.Put(sp)
}

func (f *bleveMessage) Name() string                                          { return messageFieldName }
func (f *bleveMessage) ArrayPositions() []uint64                              { return nil }
func (f *bleveMessage) Options() bleveindex.FieldIndexingOptions              { return messageOptions }
func (f *bleveMessage) Value() []byte                                         { return []byte(f.text) }
func (f *bleveMessage) NumPlainTextBytes() uint64                             { return uint64(len(f.text)) }
func (f *bleveMessage) EncodedFieldType() byte                                { return 't' }
func (f *bleveMessage) AnalyzedLength() int                                   { return f.length }
func (f *bleveMessage) AnalyzedTokenFrequencies() bleveindex.TokenFrequencies { return f.freqs }

// Size estimates the memory the field holds, for Bleve's accounting.
func (f *bleveMessage) Size() int {
	n := 64 + len(f.text)
	if f.freqs != nil {
		n += f.freqs.Size()
	}
	return n
}
