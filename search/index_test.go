package search

import (
	"context"
	"fmt"
	"maps"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/blevesearch/bleve/v2"
	bquery "github.com/blevesearch/bleve/v2/search/query"
	bleveindex "github.com/blevesearch/bleve_index_api"

	"github.com/logengine/logengine/storage"
)

// kwDay0 is the first day of the test data.
var kwDay0 = time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC)

// kwTemplates are service log lines of about 200 bytes with ids, addresses
// and numbers, some with upper-case and non-ASCII words, so that the
// vocabulary has frequent words, rare words and many unique tokens. The
// last one holds the rare marker word "deadlock" and is used for ~1% of
// messages.
var kwTemplates = []string{
	"request GET /api/v1/orders/%d completed status=200 duration=%dms bytes=%d client=%s trace_id=%016x user_agent=Mozilla/5.0 (X11; Linux x86_64) env=prod",
	"request POST /api/v1/payments/%d completed status=201 duration=%dms bytes=%d client=%s trace_id=%016x idempotency_key=%x region=eu-west-1",
	"Connection reset by peer while reading response header from upstream %s:%d, request id %d after %dms (retry %x), client closed keepalive connection",
	"payment %d failed: Timeout after %dms talking to gateway %s (attempt %d, merchant %x), will retry with exponential backoff, circuit breaker closed",
	"cache miss for key session:%d on node %s, loaded from database in %dms, size %d bytes, ttl %x seconds, eviction policy lru, hit ratio below target",
	"worker-%d processed %d jobs from queue email-outbound in %dms, node %s, last job id %x, 0 failures reported, queue depth back under the warning level",
	"ERROR slow query took %dms on replica %s: SELECT * FROM orders WHERE customer_id=%d AND status IN ('paid','shipped') LIMIT %d /* %x */",
	"Réservation %d confirmée pour le client %s à l'hôtel Été, montant %d EUR, durée du traitement %dms, référence %x, canal de vente partenaire",
	"user %d logged in from %s using OAuth provider github, session %x created, mfa=%d, took %dms, previous login from a different country",
	"DEADLOCK detected on table inventory: transaction %d rolled back by %s after %dms, lock wait %d, victim %x, retrying the transaction once more",
}

// kwMessage returns a message made from template i with random values.
func kwMessage(rng *rand.Rand, i int) string {
	ip := fmt.Sprintf("10.%d.%d.%d", rng.IntN(256), rng.IntN(256), rng.IntN(256))
	return fmt.Sprintf(kwTemplates[i], rng.IntN(1_000_000), rng.IntN(5000), ip, rng.IntN(100000), rng.Uint64())
}

// kwPick picks a template: the rare one for about 1% of messages.
func kwPick(rng *rand.Rand) int {
	if rng.IntN(100) == 0 {
		return len(kwTemplates) - 1
	}
	return rng.IntN(len(kwTemplates) - 1)
}

// kwEntry is what the brute force knows of an indexed entry.
type kwEntry struct {
	id   storage.ID
	msg  string
	toks map[string]bool
}

func kwNewEntry(id storage.ID, msg string) kwEntry {
	toks := map[string]bool{}
	for _, t := range Tokenize(msg, nil) {
		toks[t] = true
	}
	return kwEntry{id: id, msg: msg, toks: toks}
}

// kwBrute answers a search by looking at every entry: the ids in [lo, hi)
// that match q, ascending.
func kwBrute(all []kwEntry, q Keywords, lo, hi storage.ID) []storage.ID {
	var out []storage.ID
	for _, e := range all {
		if e.id.Compare(lo) < 0 || e.id.Compare(hi) >= 0 || !kwMatches(e, q) {
			continue
		}
		out = append(out, e.id)
	}
	slices.SortFunc(out, storage.ID.Compare)
	return out
}

func kwMatches(e kwEntry, q Keywords) bool {
	for _, t := range q.Terms {
		if !e.toks[t] {
			return false
		}
	}
	for _, p := range q.Prefixes {
		found := false
		for t := range e.toks {
			if strings.HasPrefix(t, p) {
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	return true
}

var kwQueries = []Keywords{
	{},
	{Terms: []string{"request"}},
	{Terms: []string{"deadlock"}},
	{Terms: []string{"timeout"}}, // upper-case in the message
	{Terms: []string{"été"}},     // lowered from "Été"
	{Terms: []string{"réservation", "hôtel"}},
	{Terms: []string{"completed", "201"}},
	{Terms: []string{"nosuchword"}},
	{Prefixes: []string{"conn"}},
	{Prefixes: []string{"dead"}},
	{Terms: []string{"request"}, Prefixes: []string{"pay"}},
	{Prefixes: []string{"worker", "jo"}},
	{Terms: []string{"status"}, Prefixes: []string{"nosuch"}},
}

// kwCheck checks every query of kwQueries, and queries for value tokens
// and prefixes taken from random entries, over several ranges against the
// brute force: every match is a candidate, every sure candidate matches,
// and the candidates are in range, sorted, without duplicates.
func kwCheck(t *testing.T, x *Index, all []kwEntry, rng *rand.Rand) {
	t.Helper()
	ctx := context.Background()
	day := func(n int) storage.ID {
		return storage.ID{Nanos: kwDay0.Add(time.Duration(n) * 24 * time.Hour).UnixNano()}
	}
	at := func(d time.Duration) storage.ID {
		return storage.ID{Nanos: kwDay0.Add(d).UnixNano(), Seq: rng.Uint64N(uint64(len(all)) + 1)}
	}
	ranges := [][2]storage.ID{
		{storage.MinID, storage.MaxID},
		{day(1), day(3)},
		{at(5 * time.Hour), at(30 * time.Hour)},
		{at(time.Duration(rng.Int64N(int64(96 * time.Hour)))), storage.MaxID},
		{storage.MinID, at(time.Duration(rng.Int64N(int64(96 * time.Hour))))},
		{at(50 * time.Hour), at(50 * time.Hour)}, // empty
	}
	queries := slices.Clone(kwQueries)
	if len(all) > 0 {
		// Bounds exactly on existing ids: lo is inclusive, hi exclusive.
		ranges = append(ranges, [2]storage.ID{all[len(all)/3].id, all[len(all)/2].id})
		for range 4 {
			e := all[rng.IntN(len(all))]
			for tok := range e.toks {
				if isValueToken(tok) {
					queries = append(queries,
						Keywords{Terms: []string{tok}},
						Keywords{Prefixes: []string{tok[:len(tok)-1]}},
						Keywords{Prefixes: []string{tok[:2]}})
					break
				}
			}
		}
	}
	indexed := map[storage.ID]bool{}
	for _, e := range all {
		indexed[e.id] = true
	}
	for _, q := range queries {
		for _, r := range ranges {
			lo, hi := r[0], r[1]
			want := kwBrute(all, q, lo, hi)
			c, err := x.Search(ctx, q, lo, hi)
			if err != nil {
				t.Fatalf("Search(%+v, %v, %v): %v", q, lo, hi, err)
			}
			kwCheckCandidates(t, q, lo, hi, c, want, indexed)
			// Words are answered from the blocks' entry lists: only words
			// sharing a 16-bit hash in a block leave its entries unsure.
			wordsOnly := len(q.Prefixes) == 0 && !slices.ContainsFunc(q.Terms, isValueToken)
			if wordsOnly && len(c.Maybe) > (len(c.Sure)+len(c.Maybe))/20+blockSize {
				t.Fatalf("Search(%+v, %v, %v): %d unsure candidates of %d for words alone", q, lo, hi, len(c.Maybe), len(c.Sure)+len(c.Maybe))
			}
		}
	}
}

// kwCheckCandidates checks one answer of Search against the brute force's
// matches (want, ascending) and the indexed entries.
func kwCheckCandidates(t *testing.T, q Keywords, lo, hi storage.ID, c Candidates, want []storage.ID, indexed map[storage.ID]bool) {
	t.Helper()
	for _, l := range [][]storage.ID{c.Sure, c.Maybe} {
		for i, id := range l {
			if i > 0 && l[i-1].Compare(id) >= 0 {
				t.Fatalf("Search(%+v, %v, %v): candidates not ascending and distinct at %v", q, lo, hi, id)
			}
			if id.Compare(lo) < 0 || id.Compare(hi) >= 0 {
				t.Fatalf("Search(%+v, %v, %v): candidate %v out of range", q, lo, hi, id)
			}
			if !indexed[id] {
				t.Fatalf("Search(%+v, %v, %v): candidate %v was never indexed", q, lo, hi, id)
			}
		}
	}
	if len(intersect(c.Sure, c.Maybe)) > 0 {
		t.Fatalf("Search(%+v, %v, %v): an id both sure and maybe", q, lo, hi)
	}
	if missed := difference(want, union(c.Sure, c.Maybe)); len(missed) > 0 {
		t.Fatalf("Search(%+v, %v, %v): %d of %d matches are not candidates, e.g. %v", q, lo, hi, len(missed), len(want), missed[0])
	}
	if wrong := difference(c.Sure, want); len(wrong) > 0 {
		t.Fatalf("Search(%+v, %v, %v): %d sure candidates do not match, e.g. %v", q, lo, hi, len(wrong), wrong[0])
	}
}

// kwWrite indexes entries directly, grouped by day, in batches of size.
func kwWrite(t testing.TB, x *Index, entries []kwEntry, size int) {
	t.Helper()
	for start := 0; start < len(entries); start += size {
		byDay := map[storage.Day][]bleveDoc{}
		for _, e := range entries[start:min(start+size, len(entries))] {
			d := storage.DayOf(e.id.Nanos)
			byDay[d] = append(byDay[d], bleveDoc{id: e.id, msg: e.msg})
		}
		for _, d := range slices.Sorted(maps.Keys(byDay)) {
			docs := byDay[d]
			if err := x.write(d, docs, docs[len(docs)-1].id.Seq); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// kwMakeEntries makes n entries over four days, in sequence order, with
// times out of order (late entries) like real ingest.
func kwMakeEntries(rng *rand.Rand, n int, firstSeq uint64) []kwEntry {
	out := make([]kwEntry, n)
	for i := range out {
		at := kwDay0.Add(time.Duration(rng.Int64N(int64(4 * 24 * time.Hour))))
		id := storage.ID{Nanos: at.UnixNano(), Seq: firstSeq + uint64(i)}
		out[i] = kwNewEntry(id, kwMessage(rng, kwPick(rng)))
	}
	return out
}

func kwOpenIndex(t testing.TB, dir string) *Index {
	t.Helper()
	x, err := OpenIndex(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	return x
}

func TestIndexSearchMatchesBruteForce(t *testing.T) {
	dir := t.TempDir()
	rng := rand.New(rand.NewPCG(1, 2))
	x := kwOpenIndex(t, dir)
	all := kwMakeEntries(rng, 3000, 1)
	kwWrite(t, x, all, 700)
	if got := len(x.Days()); got != 4 {
		t.Fatalf("Days() = %v, want 4 days", x.Days())
	}
	kwCheck(t, x, all, rng)

	// Reopened, the shards open lazily and answer the same.
	if err := x.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := x.Search(context.Background(), Keywords{}, storage.MinID, storage.MaxID); err != ErrIndexClosed {
		t.Fatalf("Search after Close: %v, want ErrIndexClosed", err)
	}
	x = kwOpenIndex(t, dir)
	defer x.Close()
	kwCheck(t, x, all, rng)

	// Re-indexing entries (as after a crash) changes nothing.
	kwWrite(t, x, all[:500], 200)
	kwCheck(t, x, all, rng)

	// Dropping a day removes its entries and its directory.
	drop := x.Days()[1]
	if err := x.DropDay(drop); err != nil {
		t.Fatal(err)
	}
	all = slices.DeleteFunc(all, func(e kwEntry) bool { return storage.DayOf(e.id.Nanos) == drop })
	if slices.Contains(x.Days(), drop) {
		t.Fatalf("day %s still listed after DropDay", drop)
	}
	kwCheck(t, x, all, rng)
	// A late entry for the dropped day makes a new, clean shard.
	late := kwNewEntry(storage.ID{Nanos: drop.Start() + 5, Seq: 99999}, "late arrival of a deadlock report")
	kwWrite(t, x, []kwEntry{late}, 1)
	all = append(all, late)
	kwCheck(t, x, all, rng)
}

func TestKeywordsMustBeTokens(t *testing.T) {
	x := kwOpenIndex(t, t.TempDir())
	defer x.Close()
	ctx := context.Background()
	for _, q := range []Keywords{
		{Terms: []string{"Timeout"}},
		{Terms: []string{"two words"}},
		{Terms: []string{""}},
		{Prefixes: []string{""}},
		{Prefixes: []string{"a-b"}},
	} {
		if _, err := x.Search(ctx, q, storage.MinID, storage.MaxID); err == nil {
			t.Errorf("Search(%+v): want an error", q)
		}
	}
}

// The indexer counts a block's tokens itself (blockBuilder); the
// registered analyzer, which Bleve uses for anything it analyses, must
// agree with it and with Tokenize.
func TestMessageFieldMatchesAnalyzer(t *testing.T) {
	if err := bleveSetup(); err != nil {
		t.Fatal(err)
	}
	an, err := bleve.Config.Cache.AnalyzerNamed(analyzerName)
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(5, 6))
	msgs := []string{"", "!!!", "a", "GET /api/v1/users 10.0.0.1 web-1 ÉTÉ été été", "Timeout timeout TIMEOUT x_y"}
	for i := range kwTemplates {
		msgs = append(msgs, kwMessage(rng, i))
	}
	for _, msg := range msgs {
		var b blockBuilder
		bd := b.build([]bleveDoc{{msg: msg}})
		ts := an.Analyze([]byte(msg))
		if bd.nToks != len(ts) {
			t.Errorf("%q: length %d, analyzer %d", msg, bd.nToks, len(ts))
		}
		// A one-entry block holds each of the analyzer's words once, and
		// its filter each of its value tokens.
		want := map[string]int{}
		for _, tok := range ts {
			if term := string(tok.Term); !isValueToken(term) {
				want[term] = 1
			} else if !mayHoldEncoded(bd.built.filter.appendTo(nil), filterHash(term)) {
				t.Errorf("%q: value token %q not in the block's filter", msg, term)
			}
		}
		if !reflect.DeepEqual(kwFreqs(bd.words), want) {
			t.Errorf("%q:\n block    %v\n analyzer %v", msg, kwFreqs(bd.words), want)
		}
		var toks []string
		for _, tok := range ts {
			toks = append(toks, string(tok.Term))
		}
		if ref := Tokenize(msg, nil); !slices.Equal(toks, ref) {
			t.Errorf("%q: analyzer %q, Tokenize %q", msg, toks, ref)
		}
	}
}

func kwFreqs(m bleveindex.TokenFrequencies) map[string]int {
	out := map[string]int{}
	for k, v := range m {
		out[k] = v.Frequency()
	}
	return out
}

// A shard's stored mapping names the logengine analyzer, so a query that
// Bleve analyses (a match query) finds what a term query finds, after a
// reopen too.
func TestShardMappingUsesAnalyzer(t *testing.T) {
	dir := t.TempDir()
	x := kwOpenIndex(t, dir)
	id := storage.ID{Nanos: kwDay0.UnixNano(), Seq: 1}
	kwWrite(t, x, []kwEntry{kwNewEntry(id, "Payment FAILED: Timeout at gateway-7 (Été)")}, 1)
	if err := x.Close(); err != nil {
		t.Fatal(err)
	}
	x = kwOpenIndex(t, dir)
	defer x.Close()
	ok, err := x.use(storage.DayOf(id.Nanos), false, func(sh *shard) error {
		for _, text := range []string{"TIMEOUT", "gateway-7", "été failed"} {
			mq := bleve.NewMatchQuery(text)
			mq.SetField(wordsFieldName)
			mq.SetOperator(bquery.MatchQueryOperatorAnd)
			res, err := sh.idx.Search(bleve.NewSearchRequest(mq))
			if err != nil {
				return err
			}
			if res.Total != 1 {
				return fmt.Errorf("match %q: %d hits, want 1", text, res.Total)
			}
		}
		return nil
	})
	if err != nil || !ok {
		t.Fatalf("ok=%v err=%v", ok, err)
	}
}

// A large write is cut into blocks of at most blockSize entries, and the
// sequence is recorded with them.
func TestIndexLargeWrite(t *testing.T) {
	dir := t.TempDir()
	rng := rand.New(rand.NewPCG(3, 4))
	x := kwOpenIndex(t, dir)
	all := make([]kwEntry, 7500)
	for i := range all {
		at := kwDay0.Add(time.Duration(rng.Int64N(int64(24 * time.Hour))))
		all[i] = kwNewEntry(storage.ID{Nanos: at.UnixNano(), Seq: uint64(i + 1)}, kwMessage(rng, kwPick(rng)))
	}
	kwWrite(t, x, all, len(all))
	kwMust(t, x.Close())
	x = kwOpenIndex(t, dir)
	defer x.Close()
	kwCheck(t, x, all, rng)
	ok, err := x.use(storage.DayOf(kwDay0.UnixNano()), false, func(sh *shard) error {
		if got := sh.seq.Load(); got != uint64(len(all)) {
			return fmt.Errorf("recorded sequence %d, want %d", got, len(all))
		}
		metas := sh.blocks.snapshot()
		if want := (len(all) + blockSize - 1) / blockSize; len(metas) != want {
			return fmt.Errorf("%d blocks, want %d", len(metas), want)
		}
		for i, m := range metas {
			if m.count > blockSize || i > 0 && metas[i-1].max.Compare(m.min) >= 0 {
				return fmt.Errorf("block %d: %d entries from %v to %v", i, m.count, m.min, m.max)
			}
		}
		return nil
	})
	if err != nil || !ok {
		t.Fatalf("ok=%v err=%v", ok, err)
	}
}
