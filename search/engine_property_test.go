package search

import (
	"cmp"
	"context"
	"fmt"
	"math"
	"math/bits"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/logengine/logengine/patterns"
	"github.com/logengine/logengine/storage"
)

// The property test checks the engine against a brute-force reference: it
// stores random entries in a real Badger store and Bleve index, runs random
// queries through Engine.Search (following every cursor), Engine.Aggregate
// and Engine.Histogram, and compares every answer with what Match computes
// over the entries kept in memory.
//
// The default run takes a few seconds. For longer runs:
//
//	LOGENGINE_PROPERTY_SEEDS=50 go test ./search -run TestEngineProperty -timeout 1h
//
// LOGENGINE_PROPERTY_SEED picks the first seed (a failure names its seed).

// propIndexedFields are the fields besides level, source and tags that the
// store keeps posting lists for.
// host holds only strings, latency only numbers, code every kind: the
// index answers group-bys on the first two, and the entries on code.
var propIndexedFields = []string{"host", "code", "latency"}

// propEnv is a store, a keyword index and an indexer that can be stopped,
// plus every entry appended, as the reference sees them.
type propEnv struct {
	t       testing.TB
	store   *storage.Store
	index   *Index
	ix      *Indexer
	cancel  context.CancelFunc
	done    chan error
	entries []storage.Entry
}

func newPropEnv(t testing.TB) *propEnv {
	return newPropEnvCache(t, true)
}

// newPropEnvCache is newPropEnv with or without the store's cache of
// decoded blocks: without it every point read of the index's candidates
// decodes the rows it needs (storage.Store.GetSortedMessages and
// GetSortedWith), which the cache would otherwise answer for.
func newPropEnvCache(t testing.TB, pointCache bool) *propEnv {
	t.Helper()
	dir := t.TempDir()
	opts := storage.DefaultOptions(filepath.Join(dir, "db"))
	opts.NoPointCache = !pointCache
	opts.SyncWrites = false
	opts.IndexedFields = propIndexedFields
	opts.MemTableBytes = 16 << 20
	opts.BlockCacheBytes = 16 << 20
	s, err := storage.Open(opts)
	if err != nil {
		t.Fatal(err)
	}
	idx, err := OpenIndex(filepath.Join(dir, "index"), nil)
	if err != nil {
		t.Fatal(err)
	}
	env := &propEnv{t: t, store: s, index: idx, ix: NewIndexer(s, idx, IndexerOptions{BatchSize: 500})}
	t.Cleanup(func() {
		env.stopIndexer()
		if err := idx.Close(); err != nil {
			t.Error(err)
		}
		if err := s.Close(); err != nil {
			t.Error(err)
		}
	})
	return env
}

func (env *propEnv) startIndexer() {
	ctx, cancel := context.WithCancel(context.Background())
	env.cancel, env.done = cancel, make(chan error, 1)
	go func() { env.done <- env.ix.Run(ctx) }()
}

func (env *propEnv) stopIndexer() {
	if env.cancel == nil {
		return
	}
	env.cancel()
	if err := <-env.done; err != nil {
		env.t.Errorf("indexer: %v", err)
	}
	env.cancel = nil
}

func (env *propEnv) waitIndexed() {
	env.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := env.ix.WaitIndexed(ctx, env.store.HighSeq()); err != nil {
		env.t.Fatalf("wait for the index: %v", err)
	}
}

func (env *propEnv) append(entries []storage.Entry) {
	env.t.Helper()
	if _, err := env.store.Append(context.Background(), entries); err != nil {
		env.t.Fatal(err)
	}
	env.entries = append(env.entries, entries...)
}

// propBase is the first day of the generated entries; they span three days.
var propBase = time.Date(2026, 11, 24, 0, 0, 0, 0, time.UTC)

// propClock is the engine's clock: after every generated entry.
var propClock = func() time.Time { return propBase.Add(96 * time.Hour) }

var (
	propWords = []string{"timeout", "connection", "reset", "error", "user", "login", "failed", "payment", "disk", "full", "retry", "GET", "api", "v1", "orders", "été", "Ünïcode", "x_y", "42", "404", "10", "web", "time", "timer", "tim", "peer",
		// Value tokens (longer, with a digit): the keyword index keeps them in
		// per-block filters, whose candidates are checked against storage.
		"a1b2c3d4", "4711", "v2026"}
	propSeps    = []string{" ", " ", " ", "-", ".", ", ", "/", ": ", "="}
	propSources = []string{"api", "auth", "db", "api-gw", "mail", ""}
	propTags    = []string{"prod", "test", "eu", "p", "canary"}
	propHosts   = []string{"web-1", "web-10", "web-2", "db-1", "Web-1"}
	propUsers   = []string{"alice", "bob", "Alice", "carol"}
	// codes mixes every kind, numbers whose text forms differ by kind,
	// strings that look like numbers and bools, and integers beyond 2^53
	// as strings and as numbers.
	propCodes = []storage.Value{
		storage.Int(404), storage.Int(404), storage.Int(500), storage.Int(2000000), storage.Int(0), storage.Int(-3),
		storage.Float(404), storage.Float(0.5), storage.Float(2e6), storage.Float(math.Copysign(0, -1)), storage.Float(12.25),
		storage.String("404"), storage.String("007"), storage.String("abc"), storage.String("2e+06"),
		storage.Bool(true), storage.Bool(false), storage.Float(math.NaN()), storage.Float(math.Inf(1)), storage.String("NaN"),
		storage.String("true"), storage.String("false"), storage.String("9007199254740993"), storage.Int(9007199254740993),
		storage.Float(9007199254740992), storage.String("0.5"),
	}
	propStatus = []storage.Value{storage.Int(200), storage.Int(404), storage.Int(500), storage.String("404"), storage.Float(503),
		storage.String("200"), storage.Bool(true), storage.String("true")}
	propLatency = []storage.Value{storage.Float(0.5), storage.Float(12.25), storage.Float(100), storage.Int(20), storage.Int(7)}
)

// propGen makes random entries and queries about them.
type propGen struct {
	rng   *rand.Rand
	times []time.Time // timestamps used so far, reused for ties
	env   *propEnv
	// fieldsOnly makes queries of terms on levels, sources and fields
	// only, and group-bys without tag and pattern: what the column path
	// reads (columnPlan).
	fieldsOnly bool
}

func (g *propGen) pick(n int) int { return g.rng.IntN(n) }

func (g *propGen) chance(p float64) bool { return g.rng.Float64() < p }

func (g *propGen) timestamp() time.Time {
	if len(g.times) > 0 && g.chance(0.3) {
		return g.times[g.pick(len(g.times))] // a tie
	}
	var t time.Time
	switch g.pick(10) {
	case 0: // around midnight, where days split
		day := propBase.Add(time.Duration(1+g.pick(2)) * 24 * time.Hour)
		t = day.Add(time.Duration(g.rng.Int64N(int64(2*time.Second))) - time.Second)
	case 1: // whole seconds
		t = propBase.Add(time.Duration(g.rng.Int64N(3*24*3600)) * time.Second)
	default:
		t = propBase.Add(time.Duration(g.rng.Int64N(int64(72 * time.Hour))))
	}
	g.times = append(g.times, t)
	return t
}

func (g *propGen) word() string {
	w := propWords[g.pick(len(propWords))]
	switch g.pick(6) {
	case 0:
		return strings.ToUpper(w)
	case 1:
		return strings.ToUpper(w[:1]) + w[1:]
	}
	return w
}

func (g *propGen) entry() storage.Entry {
	e := storage.Entry{
		Time:   g.timestamp(),
		Level:  storage.Levels[g.pick(len(storage.Levels))],
		Source: propSources[g.pick(len(propSources))],
	}
	var msg strings.Builder
	for i, n := 0, 1+g.pick(7); i < n; i++ {
		if i > 0 {
			msg.WriteString(propSeps[g.pick(len(propSeps))])
		}
		msg.WriteString(g.word())
	}
	if g.chance(0.05) {
		msg.WriteString(" !!") // punctuation only at the end
	}
	e.Message = msg.String()
	for i, n := 0, g.pick(4); i < n; i++ {
		e.Tags = append(e.Tags, propTags[g.pick(len(propTags))]) // duplicates too
	}
	add := func(p float64, name string, v storage.Value) {
		if g.chance(p) {
			e.Fields = append(e.Fields, storage.Field{Name: name, Value: v})
		}
	}
	add(0.8, "host", storage.String(propHosts[g.pick(len(propHosts))]))
	add(0.7, "code", propCodes[g.pick(len(propCodes))])
	add(0.6, "status", propStatus[g.pick(len(propStatus))])
	add(0.5, "latency", propLatency[g.pick(len(propLatency))])
	add(0.3, "user", storage.String(propUsers[g.pick(len(propUsers))]))
	e.Pattern = uint32(g.pick(8)) // 0: none; some ids are aliases (propAliases)
	g.rng.Shuffle(len(e.Fields), func(i, j int) { e.Fields[i], e.Fields[j] = e.Fields[j], e.Fields[i] })
	return e
}

// appendBatches appends n entries in commits of random sizes. Timestamps
// are random over three days, so every commit holds late arrivals for the
// commits before it.
func (g *propGen) appendBatches(n int) {
	for n > 0 {
		size := min(n, 1+g.pick(150))
		batch := make([]storage.Entry, size)
		for i := range batch {
			batch[i] = g.entry()
		}
		g.env.append(batch)
		n -= size
	}
}

// someEntry returns a stored entry.
func (g *propGen) someEntry() *storage.Entry {
	return &g.env.entries[g.pick(len(g.env.entries))]
}

func (g *propGen) someTime() time.Time {
	if g.chance(0.7) {
		return g.someEntry().Time
	}
	return propBase.Add(time.Duration(g.rng.Int64N(int64(80*time.Hour))) - 4*time.Hour)
}

// query returns a random query in the query language.
func (g *propGen) query() string {
	switch g.pick(20) {
	case 0:
		return ""
	case 1:
		return "*"
	}
	return g.expr(3)
}

func (g *propGen) expr(depth int) string {
	if depth == 0 {
		return g.term()
	}
	switch g.pick(10) {
	case 0, 1:
		sep := " "
		if g.chance(0.3) {
			sep = " AND "
		}
		return g.expr(depth-1) + sep + g.expr(depth-1)
	case 2, 3:
		return g.expr(depth-1) + " OR " + g.expr(depth-1)
	case 4:
		return g.negate(g.operand(depth - 1))
	case 5:
		return "(" + g.expr(depth-1) + ")"
	}
	return g.term()
}

// operand is a term or a parenthesised expression: what NOT applies to.
func (g *propGen) operand(depth int) string {
	if g.chance(0.4) {
		return "(" + g.expr(depth) + ")"
	}
	return g.term()
}

func (g *propGen) negate(s string) string {
	if g.chance(0.5) {
		return "-" + s
	}
	return "NOT " + s
}

func (g *propGen) term() string {
	for g.fieldsOnly {
		t := g.anyTerm()
		n, err := Parse(t)
		if err != nil {
			panic(fmt.Sprintf("BUG: generated term %q: %v", t, err))
		}
		if _, ok := compileColumns(n, func(Node) bool { return false }); ok {
			return t
		}
	}
	return g.anyTerm()
}

func (g *propGen) anyTerm() string {
	switch g.pick(16) {
	case 0, 1, 2:
		return g.word()
	case 3:
		if g.chance(0.3) {
			// A bare word of several tokens is a phrase too: web-10, api/v1.
			return g.word() + []string{"-", ".", "/"}[g.pick(3)] + g.word()
		}
		return g.phrase()
	case 4:
		w := propWords[g.pick(len(propWords))]
		if w == "été" || w == "Ünïcode" {
			return "ét*"
		}
		return w[:1+g.pick(min(4, len(w)))] + "*"
	case 5:
		return "message:" + g.word()
	case 6:
		return g.builtinEqual()
	case 7, 8:
		return g.fieldEqual()
	case 9:
		fields := []string{"level", "source", "tag", "message", "host", "code", "status", "latency", "user", "nothing", "timestamp", "severity", "id"}
		return fields[g.pick(len(fields))] + ":*"
	case 10:
		return g.valuePrefix()
	case 11, 12, 13:
		return g.comparison()
	case 14:
		return "timestamp:" + g.someEntry().Time.Format(time.RFC3339Nano)
	}
	return "id:" + g.someEntry().ID.String()
}

// phrase returns a quoted run of tokens, taken from a stored message when
// possible so that it matches something.
func (g *propGen) phrase() string {
	toks := Tokenize(g.someEntry().Message, nil)
	if len(toks) >= 2 && g.chance(0.8) {
		n := 2 + g.pick(min(2, len(toks)-1))
		i := g.pick(len(toks) - n + 1)
		return `"` + strings.Join(toks[i:i+n], " ") + `"`
	}
	return `"` + g.word() + " " + g.word() + `"`
}

func (g *propGen) builtinEqual() string {
	switch g.pick(6) {
	case 5:
		if g.chance(0.2) {
			return "pattern:*"
		}
		return "pattern:" + patterns.FormatID(uint64(1+g.pick(8)))
	case 0:
		names := []string{"trace", "debug", "info", "warn", "warning", "error", "ERR", "fatal", "critical", "notice"}
		return "level:" + names[g.pick(len(names))]
	case 1:
		vals := []string{"1", "5", "9", "13", "17", "21", "10", "9.0", `"17"`, "1.7e1", "0"}
		return "severity:" + vals[g.pick(len(vals))]
	case 2:
		s := propSources[g.pick(len(propSources))]
		if s == "" {
			return `source:""`
		}
		return "source:" + s
	case 3:
		return "tags:" + propTags[g.pick(len(propTags))]
	}
	return "tag:" + propTags[g.pick(len(propTags))]
}

func (g *propGen) fieldEqual() string {
	switch g.pick(5) {
	case 0:
		return "host:" + propHosts[g.pick(len(propHosts))]
	case 1:
		return "user:" + propUsers[g.pick(len(propUsers))]
	case 2:
		vals := []string{"404", "200", "500", `"404"`, "503", "503.0"}
		return "status:" + vals[g.pick(len(vals))]
	case 3:
		vals := []string{"0.5", "12.25", "100", "20", "7.0", "1e2"}
		return "latency:" + vals[g.pick(len(vals))]
	}
	vals := []string{"404", "404.0", `"404"`, "2000000", "2e6", "2e+06", "007", "0.5", "true", "false", "abc", "-3", "0", "-0", "12.25", "4.04e2", "NaN", "+Inf"}
	return "code:" + vals[g.pick(len(vals))]
}

func (g *propGen) valuePrefix() string {
	switch g.pick(9) {
	case 0:
		return "host:" + []string{"web", "web-1", "d", "W"}[g.pick(4)] + "*"
	case 1:
		return "source:" + []string{"a", "api", "m"}[g.pick(3)] + "*"
	case 2:
		return "tag:" + []string{"p", "c", "te"}[g.pick(3)] + "*"
	case 3:
		return "level:" + []string{"e", "IN", "f", "w"}[g.pick(4)] + "*"
	case 4:
		return "code:" + []string{"40", "2", "t", "0"}[g.pick(4)] + "*"
	case 5:
		return "status:" + []string{"4", "50"}[g.pick(2)] + "*"
	case 6:
		return "timestamp:" + g.someEntry().Time.Format(time.RFC3339Nano)[:10+g.pick(10)] + "*"
	case 7:
		return "id:" + g.someEntry().ID.String()[:4+g.pick(12)] + "*"
	}
	return "user:" + []string{"al", "A", "b"}[g.pick(3)] + "*"
}

func (g *propGen) comparison() string {
	ops := []string{">", ">=", "<", "<="}
	op := ops[g.pick(len(ops))]
	if g.chance(0.1) {
		op = ":" + op // status:>=500, as Elasticsearch writes it
	}
	switch g.pick(11) {
	case 0:
		return "severity" + op + []string{"13", "9", "17", "12.5", "1", "21"}[g.pick(6)]
	case 1:
		return "level" + op + []string{"warn", "info", "error", "debug", "trace", "fatal"}[g.pick(6)]
	case 2:
		return "status" + op + []string{"404", "500", "200", "403.5"}[g.pick(4)]
	case 3:
		return "latency" + op + []string{"20", "12.25", "0.5", "100"}[g.pick(4)]
	case 4:
		return "code" + op + []string{"100", "404", "0.5", "0", "abc", "2000000"}[g.pick(6)]
	case 5:
		return "timestamp" + op + g.someTime().Format(time.RFC3339Nano)
	case 6:
		return "time" + op + g.someTime().Format(time.DateOnly)
	case 7:
		return "host" + op + propHosts[g.pick(len(propHosts))]
	case 8:
		return "source" + op + []string{"api", "m", "auth"}[g.pick(3)]
	case 9:
		return "tag" + op + propTags[g.pick(len(propTags))]
	}
	return "id" + op + g.someEntry().ID.String()
}

// timeRange returns a random [from, to): open, half open or closed, often
// with ends on entry timestamps (from is inclusive, to exclusive).
func (g *propGen) timeRange() (from, to time.Time) {
	switch g.pick(5) {
	case 0:
		return time.Time{}, time.Time{}
	case 1:
		return g.someTime(), time.Time{}
	case 2:
		return time.Time{}, g.someTime()
	}
	a, b := g.someTime(), g.someTime()
	if b.Before(a) {
		a, b = b, a
	}
	if !a.Before(b) {
		b = a.Add(time.Nanosecond)
	}
	return a, b
}

// propMatches returns the entries in [from, to) matching q, in id order.
func propMatches(entries []storage.Entry, node Node, from, to time.Time) []*storage.Entry {
	var out []*storage.Entry
	for i := range entries {
		e := &entries[i]
		if !from.IsZero() && e.Time.Before(from) || !to.IsZero() && !e.Time.Before(to) {
			continue
		}
		// Stored template ids resolve to live ones; the engine resolves
		// them in the query instead (Equal.resolve).
		c := *e
		c.Pattern = propResolve(e.Pattern)
		if Match(propResolvedQuery(node), &c) {
			out = append(out, e)
		}
	}
	slices.SortFunc(out, func(a, b *storage.Entry) int { return a.ID.Compare(b.ID) })
	return out
}

// propSorted orders matches as sort asks: by time or by severity, ties by
// id in the same direction.
func propSorted(matches []*storage.Entry, sort Sort) []storage.ID {
	m := slices.Clone(matches)
	slices.SortFunc(m, func(a, b *storage.Entry) int { return propOrder(a, b, sort) })
	ids := make([]storage.ID, len(m))
	for i, e := range m {
		ids[i] = e.ID
	}
	return ids
}

// propKeys returns the group keys of one group-by name for an entry, the
// reference semantics of aggregations: the level name; the source; each
// distinct tag; a field's value keeping its type (a string stays a string
// however it looks; a number is an int64 when its text is an integer, else
// a float64; a float JSON cannot write is the string of its text). nil
// stands for an entry without the field.
func propKeys(name string, e *storage.Entry) []any {
	switch name {
	case "pattern":
		if e.Pattern == 0 {
			return []any{nil}
		}
		return []any{patterns.FormatID(uint64(propResolve(e.Pattern)))}
	case "level", "severity":
		return []any{e.Level.String()}
	case "source":
		return []any{e.Source}
	case "tag", "tags":
		if len(e.Tags) == 0 {
			return []any{nil}
		}
		var keys []any
		for _, t := range e.Tags {
			if !slices.Contains(keys, any(t)) {
				keys = append(keys, t)
			}
		}
		return keys
	}
	v, ok := e.Field(name)
	if !ok {
		return []any{nil}
	}
	switch v.Kind {
	case storage.KindString:
		return []any{v.Str}
	case storage.KindBool:
		return []any{v.Bool}
	case storage.KindInt:
		return []any{v.Int}
	}
	if math.IsNaN(v.Float) || math.IsInf(v.Float, 0) {
		return []any{v.Text()}
	}
	if n, err := strconv.ParseInt(v.Text(), 10, 64); err == nil && strconv.FormatInt(n, 10) == v.Text() {
		return []any{n}
	}
	return []any{v.Float}
}

// propKeyOrder is the order of keys with equal counts: by component,
// missing, false, true, numbers, strings, then by text (each text after
// its length).
func propKeyOrder(key []any) string {
	var b []byte
	for _, k := range key {
		switch k := k.(type) {
		case nil:
			b = append(b, 0)
		case bool:
			if k {
				b = append(b, 2)
			} else {
				b = append(b, 1)
			}
		case int64, float64:
			t := fmt.Sprint(k)
			if f, ok := k.(float64); ok {
				t = strconv.FormatFloat(f, 'g', -1, 64)
			}
			b = append(b, 3)
			b = append(b, strings.ReplaceAll(t, "\x00", "\x00\xff")...)
			b = append(b, 0, 0)
		case string:
			// Text order: a string's bytes (0 escaped), then an end that
			// sorts before any byte.
			b = append(b, 4)
			b = append(b, strings.ReplaceAll(k, "\x00", "\x00\xff")...)
			b = append(b, 0, 0)
		}
	}
	return string(b)
}

func propAggregate(matches []*storage.Entry, groupBy []string, limit int) *AggResult {
	counts := map[string]*Group{}
	var walk func(e *storage.Entry, i int, key []any)
	walk = func(e *storage.Entry, i int, key []any) {
		if i == len(groupBy) {
			k := propKeyOrder(key)
			if counts[k] == nil {
				counts[k] = &Group{Key: slices.Clone(key)}
			}
			counts[k].Count++
			return
		}
		for _, v := range propKeys(groupBy[i], e) {
			walk(e, i+1, append(key, v))
		}
	}
	for _, e := range matches {
		walk(e, 0, nil)
	}
	var groups []Group
	for _, g := range counts {
		groups = append(groups, *g)
	}
	slices.SortFunc(groups, func(a, b Group) int {
		if c := cmp.Compare(b.Count, a.Count); c != 0 {
			return c
		}
		return strings.Compare(propKeyOrder(a.Key), propKeyOrder(b.Key))
	})
	if limit <= 0 {
		limit = 10
	}
	res := &AggResult{Total: int64(len(matches))}
	for i, g := range groups {
		if i < limit {
			res.Groups = append(res.Groups, g)
		} else {
			res.Other += g.Count
		}
	}
	return res
}

func propHistogram(matches []*storage.Entry, req HistRequest, now time.Time) *HistResult {
	from, to := req.From, req.To
	if from.IsZero() || to.IsZero() {
		if len(matches) == 0 {
			switch {
			case from.IsZero() && to.IsZero():
				from, to = now.Add(-time.Hour), now
			case from.IsZero():
				from = to.Add(-time.Hour)
			case now.After(from):
				to = now
			default:
				to = from.Add(time.Hour)
			}
		} else {
			if from.IsZero() {
				from = matches[0].ID.Time()
			}
			if to.IsZero() {
				to = matches[len(matches)-1].ID.Time().Add(1)
				if !req.From.IsZero() && now.After(to) {
					to = now
				}
			}
		}
	}
	interval := req.Interval
	if interval <= 0 {
		interval = autoInterval(to.Sub(from))
	}
	res := &HistResult{Interval: interval}
	step := int64(interval)
	first := from.UnixNano() - ((from.UnixNano()%step)+step)%step
	for start := first; start < to.UnixNano(); start += step {
		res.Buckets = append(res.Buckets, HistBucket{Start: time.Unix(0, start).UTC()})
	}
	byKey := make([]map[string]*KeyCount, len(res.Buckets))
	for _, e := range matches {
		n := e.ID.Nanos
		if n < from.UnixNano() || n >= to.UnixNano() {
			continue
		}
		i := (n - first) / step
		b := &res.Buckets[i]
		b.Count++
		if req.GroupBy == "" {
			continue
		}
		for _, k := range propKeys(req.GroupBy, e) {
			if k == nil {
				continue // entries without the field are in no group
			}
			if b.Groups == nil {
				b.Groups = map[string]int64{}
				byKey[i] = map[string]*KeyCount{}
			}
			text := fmt.Sprint(k)
			if f, ok := k.(float64); ok {
				text = strconv.FormatFloat(f, 'g', -1, 64)
			}
			b.Groups[text]++
			o := propKeyOrder([]any{k})
			if byKey[i][o] == nil {
				byKey[i][o] = &KeyCount{Key: k}
			}
			byKey[i][o].Count++
		}
	}
	for i, m := range byKey {
		for _, kc := range m {
			res.Buckets[i].ByKey = append(res.Buckets[i].ByKey, *kc)
		}
		slices.SortFunc(res.Buckets[i].ByKey, func(a, b KeyCount) int {
			if c := cmp.Compare(b.Count, a.Count); c != 0 {
				return c
			}
			return strings.Compare(propKeyOrder([]any{a.Key}), propKeyOrder([]any{b.Key}))
		})
	}
	return res
}

// propCase is one engine under test, named for failure messages.
type propCase struct {
	name string
	eng  *Engine
}

// propChecker runs random requests against one engine and compares them
// with the reference.
type propChecker struct {
	t    testing.TB
	g    *propGen
	c    propCase
	seed uint64
	// onColumns and counted are how many aggregations and histograms
	// were read on columns, of those checked.
	onColumns, counted int
}

// countColumns notes whether the query just answered by the case's engine
// was read on columns, given the engine's count before it.
func (pc *propChecker) countColumns(before int64) {
	pc.counted++
	if pc.c.eng.columnReads.Load() > before {
		pc.onColumns++
	}
}

func (pc *propChecker) fail(format string, args ...any) {
	pc.t.Helper()
	pc.t.Fatalf("seed %d, %s: %s", pc.seed, pc.c.name, fmt.Sprintf(format, args...))
}

func (pc *propChecker) parse(q string) Node {
	pc.t.Helper()
	node, err := Parse(q)
	if err != nil {
		pc.fail("generated query %q does not parse: %v", q, err)
	}
	return node
}

func describeRange(from, to time.Time) string {
	f := func(t time.Time) string {
		if t.IsZero() {
			return "-"
		}
		return t.Format(time.RFC3339Nano)
	}
	return "[" + f(from) + ", " + f(to) + ")"
}

func (pc *propChecker) checkSearch() {
	pc.t.Helper()
	g := pc.g
	q := g.query()
	node := pc.parse(q)
	from, to := g.timeRange()
	sort := Sort(g.pick(4))
	want := propSorted(propMatches(g.env.entries, node, from, to), sort)
	// Small pages where that stays a few pages; always some paging.
	limit := []int{1, 2, 3, 7, 10, 50, 100}[g.pick(7)]
	limit = max(limit, len(want)/12)
	what := fmt.Sprintf("search q=%q (%s) range %s sort %s limit %d", q, node, describeRange(from, to), sort, limit)

	var got []storage.ID
	cursor := ""
	for pages := 0; ; pages++ {
		if pages > len(want)/limit+2 {
			pc.fail("%s: more pages than entries", what)
		}
		res, err := pc.c.eng.Search(context.Background(), Request{Query: q, From: from, To: to, Sort: sort, Limit: limit, Cursor: cursor})
		if err != nil {
			pc.fail("%s: %v", what, err)
		}
		if len(res.Entries) > limit {
			pc.fail("%s: page of %d entries", what, len(res.Entries))
		}
		if res.NextCursor != "" && len(res.Entries) != limit {
			pc.fail("%s: page %d has %d entries and a next cursor", what, pages, len(res.Entries))
		}
		for i := range res.Entries {
			e := &res.Entries[i]
			got = append(got, e.ID)
			if want := pc.entry(e.ID); want != nil && (want.Message != e.Message || want.Level != e.Level) {
				pc.fail("%s: entry %s came back as %+v, stored %+v", what, e.ID, *e, *want)
			}
		}
		if res.NextCursor == "" {
			break
		}
		cursor = res.NextCursor
	}
	if !slices.Equal(got, want) {
		pc.fail("%s:\n%s", what, pc.diffIDs(got, want))
	}
}

func (pc *propChecker) entry(id storage.ID) *storage.Entry {
	for i := range pc.g.env.entries {
		if pc.g.env.entries[i].ID == id {
			return &pc.g.env.entries[i]
		}
	}
	return nil
}

// diffIDs describes how got differs from want.
func (pc *propChecker) diffIDs(got, want []storage.ID) string {
	var b strings.Builder
	fmt.Fprintf(&b, "got %d ids, want %d\n", len(got), len(want))
	inGot := map[storage.ID]int{}
	for _, id := range got {
		inGot[id]++
	}
	inWant := map[storage.ID]bool{}
	for _, id := range want {
		inWant[id] = true
	}
	show := func(label string, id storage.ID) {
		e := pc.entry(id)
		fmt.Fprintf(&b, "  %s %s %s level=%s source=%q msg=%q tags=%q fields=%v\n", label, id, e.Time.Format(time.RFC3339Nano), e.Level, e.Source, e.Message, e.Tags, e.Fields)
	}
	n := 0
	for _, id := range want {
		if inGot[id] == 0 && n < 10 {
			show("missing", id)
			n++
		}
	}
	for id, c := range inGot {
		if !inWant[id] && n < 20 {
			show("extra", id)
			n++
		}
		if c > 1 && n < 20 {
			show(fmt.Sprintf("repeated %dx", c), id)
			n++
		}
	}
	if n == 0 {
		for i := range min(len(got), len(want)) {
			if got[i] != want[i] {
				fmt.Fprintf(&b, "  first difference at %d\n", i)
				show("got ", got[i])
				show("want", want[i])
				break
			}
		}
	}
	return b.String()
}

// groupName returns a random group-by name.
func (g *propGen) groupName() string {
	for {
		name := propGroupNames[g.pick(len(propGroupNames))]
		if !g.fieldsOnly || name != "tag" && name != "pattern" {
			return name
		}
	}
}

var propGroupNames = []string{"level", "source", "tag", "host", "code", "status", "latency", "user", "nothing", "severity", "pattern"}

// propAliases are template ids merged into others, as the miner's merges
// leave them.
var propAliases = map[uint32]uint32{5: 2, 7: 3, 6: 5} // 6 → 5 → 2

func propResolve(id uint32) uint32 {
	for {
		live, ok := propAliases[id]
		if !ok {
			return id
		}
		id = live
	}
}

// propTemplates resolves ids through propAliases and names none.
type propTemplates struct{}

func (propTemplates) Resolve(id uint64) (uint64, bool) {
	return uint64(propResolve(uint32(id))), true
}

func (propTemplates) Template(uint64) (patterns.Template, bool) { return patterns.Template{}, false }

func (pc *propChecker) checkAggregate() {
	pc.t.Helper()
	g := pc.g
	q := g.query()
	node := pc.parse(q)
	from, to := g.timeRange()
	groupBy := []string{g.groupName()}
	if g.chance(0.3) {
		groupBy = append(groupBy, g.groupName())
	}
	limit := []int{0, 1, 2, 3, 5, 1000}[g.pick(6)]
	what := fmt.Sprintf("aggregate q=%q (%s) range %s group_by %v limit %d", q, node, describeRange(from, to), groupBy, limit)
	want := propAggregate(propMatches(g.env.entries, node, from, to), groupBy, limit)
	before := pc.c.eng.columnReads.Load()
	got, err := pc.c.eng.Aggregate(context.Background(), AggRequest{Query: q, From: from, To: to, GroupBy: groupBy, Limit: limit})
	if err != nil {
		pc.fail("%s: %v", what, err)
	}
	pc.countColumns(before)
	if got.Total != want.Total || got.Other != want.Other || !reflect.DeepEqual(got.Groups, want.Groups) {
		pc.fail("%s:\n got  total %d other %d groups %s\n want total %d other %d groups %s", what,
			got.Total, got.Other, describeGroups(got.Groups), want.Total, want.Other, describeGroups(want.Groups))
	}
}

func describeGroups(gs []Group) string {
	var b strings.Builder
	for _, g := range gs {
		b.WriteString("[")
		for i, k := range g.Key {
			if i > 0 {
				b.WriteString(" ")
			}
			fmt.Fprintf(&b, "%T(%v)", k, k)
		}
		fmt.Fprintf(&b, "]=%d ", g.Count)
	}
	return b.String()
}

func describeKeyCounts(kcs []KeyCount) string {
	var b strings.Builder
	for _, kc := range kcs {
		fmt.Fprintf(&b, "%T(%v)=%d ", kc.Key, kc.Key, kc.Count)
	}
	return b.String()
}

func (pc *propChecker) checkHistogram() {
	pc.t.Helper()
	g := pc.g
	q := g.query()
	node := pc.parse(q)
	from, to := g.timeRange()
	req := HistRequest{Query: q, From: from, To: to}
	req.Interval = []time.Duration{0, 0, time.Minute, 10 * time.Minute, time.Hour, 3 * time.Hour, 24 * time.Hour, 7 * time.Second}[g.pick(8)]
	if req.Interval < 10*time.Minute && (from.IsZero() || to.IsZero() || to.Sub(from) > 24*time.Hour) {
		req.Interval = time.Hour // keep the bucket count reasonable
	}
	if g.chance(0.5) {
		req.GroupBy = g.groupName()
	}
	what := fmt.Sprintf("histogram q=%q (%s) range %s interval %s group_by %q", q, node, describeRange(from, to), req.Interval, req.GroupBy)
	want := propHistogram(propMatches(g.env.entries, node, from, to), req, propClock())
	before := pc.c.eng.columnReads.Load()
	got, err := pc.c.eng.Histogram(context.Background(), req)
	if err != nil {
		pc.fail("%s: %v", what, err)
	}
	pc.countColumns(before)
	if got.Interval != want.Interval || len(got.Buckets) != len(want.Buckets) {
		pc.fail("%s: got interval %s with %d buckets, want %s with %d", what, got.Interval, len(got.Buckets), want.Interval, len(want.Buckets))
	}
	for i := range want.Buckets {
		gb, wb := got.Buckets[i], want.Buckets[i]
		if len(gb.Groups) == 0 {
			gb.Groups = nil
		}
		for k, v := range gb.Groups {
			if v == 0 {
				delete(gb.Groups, k) // zero groups may be omitted
			}
		}
		if !gb.Start.Equal(wb.Start) || gb.Count != wb.Count || !reflect.DeepEqual(gb.Groups, wb.Groups) {
			pc.fail("%s: bucket %d: got %s %d %v, want %s %d %v", what, i, gb.Start, gb.Count, gb.Groups, wb.Start, wb.Count, wb.Groups)
		}
		if !reflect.DeepEqual(gb.ByKey, wb.ByKey) {
			pc.fail("%s: bucket %d: got typed groups %s, want %s", what, i, describeKeyCounts(gb.ByKey), describeKeyCounts(wb.ByKey))
		}
	}
}

func (pc *propChecker) run(searches, aggs, hists int) {
	pc.t.Helper()
	for range searches {
		pc.checkSearch()
	}
	for range aggs {
		pc.checkAggregate()
	}
	for range hists {
		pc.checkHistogram()
	}
}

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil {
		return v
	}
	return def
}

func propLeaks(t *testing.T) {
	t.Helper()
	opts := []goleak.Option{
		goleak.IgnoreCurrent(),
		goleak.IgnoreAnyFunction("github.com/blevesearch/bleve_index_api.AnalysisWorker"),
	}
	t.Cleanup(func() { goleak.VerifyNone(t, opts...) })
}

// TestEngineProperty compares the engine with the brute-force reference,
// first with the keyword index caught up, then with the indexer stopped and
// entries stored since (answered from the journal tail, or, past MaxTail,
// by scanning).
func TestEngineProperty(t *testing.T) {
	first := uint64(envInt("LOGENGINE_PROPERTY_SEED", 1))
	seeds := envInt("LOGENGINE_PROPERTY_SEEDS", 2)
	for seed := first; seed < first+uint64(seeds); seed++ {
		t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) {
			propLeaks(t)
			// Odd seeds without the point reads' cache of decoded blocks.
			env := newPropEnvCache(t, seed%2 == 0)
			g := &propGen{rng: rand.New(rand.NewPCG(seed, 0x5eed)), env: env}
			env.startIndexer()
			g.appendBatches(600 + g.pick(400))
			env.waitIndexed()

			caughtUp := NewEngine(env.store, env.index, env.ix, EngineOptions{Templates: propTemplates{}, Now: propClock})
			pc := &propChecker{t: t, g: g, c: propCase{"index caught up", caughtUp}, seed: seed}
			pc.run(150, 60, 40)
			g.fieldsOnly = true
			pc.run(0, 40, 30)
			// Aggregations on columns with a day's few blocks shared
			// among many workers (Store.EachBlockParallel), one block
			// each at least.
			parallel := NewEngine(env.store, env.index, env.ix, EngineOptions{Templates: propTemplates{}, Now: propClock})
			parallel.colWorkers, parallel.colMinBlocks = 5, 1
			pc.c = propCase{"index caught up, column aggregations on 5 workers", parallel}
			pc.run(0, 60, 0)
			if seen := bits.OnesCount64(parallel.colWorkersSeen.Load()); seen < 2 {
				t.Errorf("column aggregations on 5 workers: %d of them counted blocks, want the blocks shared", seen)
			}
			pc.c = propCase{"index caught up", caughtUp}
			g.fieldsOnly = false
			planned := NewEngine(env.store, env.index, env.ix, EngineOptions{Templates: propTemplates{}, Now: propClock})
			planned.scanFirst = 0
			pc.c = propCase{"index caught up, no scan before planning", planned}
			pc.run(100, 0, 0)
			// Narrow windows: most pages span several of them.
			narrow := NewEngine(env.store, env.index, env.ix, EngineOptions{Templates: propTemplates{}, Now: propClock})
			narrow.scanFirst, narrow.firstWindows = 0, 5000
			pc.c = propCase{"index caught up, no scan before planning, narrow windows", narrow}
			pc.run(100, 0, 0)

			// Stop the indexer: what is stored from now on is only in the
			// journal's tail.
			env.stopIndexer()
			g.appendBatches(200 + g.pick(200))
			if env.ix.IndexedSeq() >= env.store.HighSeq() {
				t.Fatal("the indexer was stopped but covers everything")
			}
			pc.c = propCase{"index lagging, tail checked by hand", NewEngine(env.store, env.index, env.ix, EngineOptions{Templates: propTemplates{}, Now: propClock})}
			pc.run(100, 40, 25)
			g.fieldsOnly = true
			pc.run(0, 25, 15)
			g.fieldsOnly = false
			lagging := NewEngine(env.store, env.index, env.ix, EngineOptions{Templates: propTemplates{}, Now: propClock})
			lagging.scanFirst = 0
			pc.c = propCase{"index lagging, no scan before planning", lagging}
			pc.run(80, 0, 0)
			lagging.firstWindows = 5000
			pc.c = propCase{"index lagging, no scan before planning, narrow windows", lagging}
			pc.run(80, 0, 0)
			pc.c = propCase{"index lagging past MaxTail, scanned", NewEngine(env.store, env.index, env.ix, EngineOptions{Templates: propTemplates{}, Now: propClock, MaxTail: 20})}
			pc.run(60, 25, 15)
			g.fieldsOnly = true
			pc.run(0, 25, 15)
			g.fieldsOnly = false

			// The queries must exercise the column path (columnPlan), or
			// its answers would go unchecked.
			t.Logf("%d of %d aggregations and histograms read on columns", pc.onColumns, pc.counted)
			if pc.onColumns < pc.counted/4 {
				t.Errorf("only %d of %d aggregations and histograms were read on columns: the generated queries miss that path", pc.onColumns, pc.counted)
			}
		})
	}
}

// TestEnginePagingWhileIngesting pages through results while new entries
// arrive between pages, many of them with the timestamp of the entry the
// last page ended on: no entry is repeated, none that existed when paging
// started is skipped, and every page is in order.
func TestEnginePagingWhileIngesting(t *testing.T) {
	propLeaks(t)
	env := newPropEnv(t)
	g := &propGen{rng: rand.New(rand.NewPCG(7, 7)), env: env}
	// Few distinct timestamps: ties everywhere.
	for range 20 {
		g.times = append(g.times, propBase.Add(time.Duration(g.rng.Int64N(int64(48*time.Hour)))))
	}
	newEntry := func(tie time.Time) storage.Entry {
		e := g.entry()
		switch g.pick(3) {
		case 0:
			e.Time = tie
		case 1:
			e.Time = g.times[g.pick(len(g.times))]
		}
		return e
	}
	batch := make([]storage.Entry, 300)
	for i := range batch {
		batch[i] = newEntry(g.times[0])
	}
	env.append(batch)
	env.startIndexer()
	eng := NewEngine(env.store, env.index, env.ix, EngineOptions{Templates: propTemplates{}, Now: propClock})

	for _, q := range []string{"", "level>=info", "timeout OR error OR user", "-tag:prod"} {
		for sort := SortTimeDesc; sort <= SortSeverityAsc; sort++ {
			node, err := Parse(q)
			if err != nil {
				t.Fatal(err)
			}
			before := propSorted(propMatches(env.entries, node, time.Time{}, time.Time{}), sort)
			seen := map[storage.ID]bool{}
			var got []storage.ID
			cursor := ""
			var last *storage.Entry
			for page := 0; ; page++ {
				res, err := eng.Search(context.Background(), Request{Query: q, Sort: sort, Limit: 9, Cursor: cursor})
				if err != nil {
					t.Fatal(err)
				}
				for i := range res.Entries {
					e := &res.Entries[i]
					if seen[e.ID] {
						t.Fatalf("q=%q sort %s page %d: %s repeated", q, sort, page, e.ID)
					}
					seen[e.ID] = true
					got = append(got, e.ID)
					if !Match(node, e) {
						t.Fatalf("q=%q sort %s: %s does not match", q, sort, e.ID)
					}
					if last != nil && propOrder(last, e, sort) >= 0 {
						t.Fatalf("q=%q sort %s page %d: %s after %s", q, sort, page, e.ID, last.ID)
					}
					last = e
				}
				if res.NextCursor == "" {
					break
				}
				cursor = res.NextCursor
				if page >= 40 {
					continue // new entries after the cursor would never let paging end
				}
				// New entries: some tie with the last one returned.
				more := make([]storage.Entry, 5)
				for i := range more {
					more[i] = newEntry(last.Time)
				}
				env.append(more)
			}
			for _, id := range before {
				if !seen[id] {
					t.Fatalf("q=%q sort %s: %s skipped", q, sort, id)
				}
			}
			// The entries that existed come in the order they had.
			var old []storage.ID
			for _, id := range got {
				if slices.Contains(before, id) {
					old = append(old, id)
				}
			}
			if !slices.Equal(old, before) {
				t.Fatalf("q=%q sort %s: order changed", q, sort)
			}
		}
	}
}

// propOrder compares two entries in the order of sort: negative when a
// comes first.
func propOrder(a, b *storage.Entry, sort Sort) int {
	c := 0
	if sort == SortSeverityAsc || sort == SortSeverityDesc {
		c = cmp.Compare(a.Level, b.Level)
	}
	if c == 0 {
		c = a.ID.Compare(b.ID)
	}
	if sort == SortTimeDesc || sort == SortSeverityDesc {
		c = -c
	}
	return c
}

// propResolvedQuery returns node with the template ids of its pattern terms
// resolved, as the engine resolves them: a merged id names its template.
func propResolvedQuery(node Node) Node {
	switch n := node.(type) {
	case *Equal:
		if n.Field == FieldPattern {
			c := *n
			c.Value.Int = int64(propResolve(uint32(n.Value.Int)))
			return &c
		}
	case *And:
		c := &And{}
		for _, x := range n.Nodes {
			c.Nodes = append(c.Nodes, propResolvedQuery(x))
		}
		return c
	case *Or:
		c := &Or{}
		for _, x := range n.Nodes {
			c.Nodes = append(c.Nodes, propResolvedQuery(x))
		}
		return c
	case *Not:
		return &Not{Node: propResolvedQuery(n.Node)}
	}
	return node
}
