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
	// Bleve's background work on a damaged segment panics; Bleve recovers
	// and reports it through this callback (damage.go).
	registerAsyncErrors()
	return nil
})

// bleveTokenizer adapts Tokenize to Bleve's Tokenizer interface, so that
// the analyzer named in the mapping is the same function the query side
// uses. The indexer does not go through it (blockBuilder counts a block's
// tokens itself); it is what Bleve would use for any analysed query.
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

// messageOptions indexes a block's terms for lookups only: no stored value
// (entries are read from storage), no term vectors (phrases are checked on
// the fetched message), no doc values (nothing sorts or facets on them;
// Bleve's text default builds them and pays for it per document).
const messageOptions = bleveindex.IndexField
