package search

import (
	"context"
	"math"
	"runtime"
	"slices"
	"sync"

	"github.com/logengine/logengine/storage"
	"github.com/logengine/logengine/storage/block"
)

// colPlan is a query and its group-by fields as the column path runs them
// (see the DESIGN note of colpred.go).
type colPlan struct {
	pred   *colNode
	fields []groupField
}

// maxColumnGroupFields is how many group-by fields the column path combines.
const maxColumnGroupFields = 4

// columnPlan decides whether the matches of q, grouped by fields, are read
// on columns: when the query would otherwise be checked entry by entry over
// a scan of the range (no candidate set narrower than the range), every term
// has a column check and every group-by field a column key. nil means the
// row path. This is the one place that decides.
func (q *query) columnPlan(set *idSet, fields []groupField) *colPlan {
	if set != nil && !set.all {
		return nil // candidates from the indexes: fetching them is cheaper
	}
	if len(fields) > maxColumnGroupFields {
		return nil
	}
	for _, f := range fields {
		if f.name == FieldTag || f.name == FieldPattern {
			return nil
		}
	}
	pred, ok := compileColumns(q.node, q.alwaysTrue)
	if !ok {
		return nil
	}
	q.e.columnReads.Add(1)
	return &colPlan{pred: pred, fields: fields}
}

// colKey numbers the key of one group-by field of each row of a block: the
// same number is the same key within the block (one number per dictionary
// string), and key appends a number's encoded key.
type colKey struct {
	field groupField
	codes []uint32 // by row
	card  int      // numbers are below card

	src           *colSourceKeys
	first, second *colField // a user field's columns
	firstN        int       // numbers taken by first's values
}

type colSourceKeys struct {
	dict   []string
	values []string
}

// levelCode is a level's number among group keys: its index in
// storage.Levels, looked up in a table rather than searched for row by row.
var levelCode = func() (index [256]uint32) {
	for j, l := range storage.Levels {
		index[l] = uint32(j)
	}
	return index
}()

// load numbers the rows of block b.
func (k *colKey) load(b *colBlock) error {
	n := b.n
	k.codes = slices.Grow(k.codes[:0], n)[:n]
	k.src = nil
	switch k.field.name {
	case FieldLevel:
		levels, err := b.levelColumn()
		if err != nil {
			return err
		}
		for i, l := range levels {
			k.codes[i] = levelCode[l]
		}
		k.card = len(storage.Levels)
		return nil
	case FieldSource:
		src, err := b.sourceColumn()
		if err != nil {
			return err
		}
		if src.Dict != nil {
			for i, x := range src.Codes {
				k.codes[i] = uint32(x)
			}
			k.src, k.card = &colSourceKeys{dict: src.Dict}, len(src.Dict)
			return nil
		}
		for i := range k.codes {
			k.codes[i] = uint32(i)
		}
		k.src, k.card = &colSourceKeys{values: src.Values}, n
		return nil
	}
	// A user field: 0 for none, then first's dictionary and values, then
	// second's, as userField picks the value.
	first, second, err := b.userColumns(k.field.name)
	if err != nil {
		return err
	}
	k.first, k.second = first, second
	k.firstN = span(first)
	k.card = 1 + k.firstN + span(second)
	if second == nil && first != nil && first.Kinds == nil && first.Dict != nil {
		// One column of dictionary strings: the number is the code.
		off := first.Offsets
		for i := range k.codes {
			if off[i] == off[i+1] {
				k.codes[i] = 0
			} else {
				k.codes[i] = 1 + uint32(first.Codes[off[i]])
			}
		}
		return nil
	}
	for i := range k.codes {
		var code uint32
		if first != nil {
			if v, ok := first.First(i); ok {
				code = 1 + valueCode(first, v)
			}
		}
		if code == 0 && second != nil {
			if v, ok := second.First(i); ok {
				code = 1 + uint32(k.firstN) + valueCode(second, v)
			}
		}
		k.codes[i] = code
	}
	return nil
}

// span is how many numbers a column's values take: one per dictionary
// string and one per value.
func span(f *colField) int {
	if f == nil {
		return 0
	}
	return len(f.Dict) + f.Len()
}

// valueCode numbers value v of a column: its dictionary index for a string
// of a dictionary, else len(Dict) + v.
func valueCode(f *colField, v int) uint32 {
	if f.Dict != nil && f.KindOf(v) == storage.KindString {
		return uint32(f.Codes[v])
	}
	return uint32(len(f.Dict) + v)
}

// appendKey appends the encoded key of a number.
func (k *colKey) appendKey(dst []byte, code uint32) []byte {
	switch k.field.name {
	case FieldLevel:
		return appendStringKey(dst, storage.Levels[code].String())
	case FieldSource:
		if k.src.dict != nil {
			return appendStringKey(dst, k.src.dict[code])
		}
		return appendStringKey(dst, k.src.values[code])
	}
	if code == 0 {
		return append(dst, keyMissing)
	}
	code--
	f := k.first
	if int(code) >= k.firstN {
		f, code = k.second, code-uint32(k.firstN)
	}
	if int(code) < len(f.Dict) {
		return appendStringKey(dst, f.Dict[code])
	}
	return appendValueKey(dst, f.Value(int(code)-len(f.Dict)))
}

// colWorker is what one worker of aggregateColumns keeps from block to
// block: the columns it decoded, and its buffers.
type colWorker struct {
	b      colBlock
	keys   []colKey
	counts []int64                                // by number, one field
	multi  map[[maxColumnGroupFields]uint32]int64 // by numbers, several
	key    []byte
	blocks int // read, for Engine.colWorkersSeen
}

// aggregateColumns counts the matches of plan in range by its group-by
// fields into counter, block by block, and returns how many matched. The
// blocks are shared among one worker per core (Store.EachBlockParallel):
// each evaluates and counts its blocks with its own columns and buffers,
// and adds a block's counts to counter under a lock, once per distinct key
// of the block. Counts are sums, so the answer does not depend on which
// worker counted what.
func (q *query) aggregateColumns(ctx context.Context, plan *colPlan, counter *groupCounter) (int64, error) {
	n := q.e.colWorkers
	if n <= 0 {
		n = runtime.GOMAXPROCS(0)
	}
	workers := make([]colWorker, n)
	for w := range workers {
		workers[w].keys = make([]colKey, len(plan.fields))
		for i, f := range plan.fields {
			workers[w].keys[i].field = f
		}
		workers[w].multi = map[[maxColumnGroupFields]uint32]int64{}
	}
	var mu sync.Mutex // guards counter and total
	var total int64
	err := q.e.store.EachBlockParallel(ctx, q.lo, q.hi, headerFilter(q.node), len(workers), q.e.colMinBlocks, func(w int, br *storage.BlockRows) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		cw := &workers[w]
		cw.blocks++
		b, keys := &cw.b, cw.keys
		b.reset(br.Header, br.Body)
		sel, err := b.selectRows(plan.pred, br.From, br.To)
		if err != nil {
			return err
		}
		n := countRows(sel)
		if n == 0 {
			return nil
		}
		for i := range keys {
			if err := keys[i].load(b); err != nil {
				return err
			}
		}
		if len(keys) == 1 {
			k := &keys[0]
			counts := slices.Grow(cw.counts[:0], k.card)[:k.card]
			cw.counts = counts
			clear(counts)
			codes := k.codes
			eachRow(sel, func(i int) { counts[codes[i]]++ })
			mu.Lock()
			defer mu.Unlock()
			total += int64(n)
			for code, c := range counts {
				if c == 0 {
					continue
				}
				cw.key = k.appendKey(cw.key[:0], uint32(code))
				if !counter.add(cw.key, c) {
					return counter.budget.err
				}
			}
			return nil
		}
		multi := cw.multi
		clear(multi)
		eachRow(sel, func(i int) {
			var t [maxColumnGroupFields]uint32
			for j := range keys {
				t[j] = keys[j].codes[i]
			}
			multi[t]++
		})
		mu.Lock()
		defer mu.Unlock()
		total += int64(n)
		for t, c := range multi {
			cw.key = cw.key[:0]
			for j := range keys {
				cw.key = keys[j].appendKey(cw.key, t[j])
			}
			if !counter.add(cw.key, c) {
				return counter.budget.err
			}
		}
		return nil
	})
	for w := range min(len(workers), 64) {
		if workers[w].blocks > 0 {
			q.e.colWorkersSeen.Or(1 << w)
		}
	}
	return total, err
}

// histogramColumns calls count with the time of each match of plan in
// range, and countKey with its time and group key (numbered by keys) when
// plan has a group-by field and the match has the field, block by block.
func (q *query) histogramColumns(ctx context.Context, plan *colPlan, keys *keyDict, count func(nanos int64), countKey func(nanos int64, id uint32)) error {
	var b colBlock
	var gk *colKey
	if len(plan.fields) == 1 {
		gk = &colKey{field: plan.fields[0]}
	}
	var ids []uint32 // by number of gk: 1 + the key's number in keys, 0 not yet, and maxUint32 for missing
	var key []byte
	return q.e.store.EachBlock(ctx, q.lo, q.hi, headerFilter(q.node), func(br *storage.BlockRows) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		b.reset(br.Header, br.Body)
		sel, err := b.selectRows(plan.pred, br.From, br.To)
		if err != nil || allZero(sel) {
			return err
		}
		times := br.IDs
		if times == nil {
			if times, err = block.DecodeIDs(br.Header, br.Body); err != nil {
				return err
			}
		}
		if gk == nil {
			eachRow(sel, func(i int) { count(times[i].Nanos) })
			return nil
		}
		if err := gk.load(&b); err != nil {
			return err
		}
		ids = slices.Grow(ids[:0], gk.card)[:gk.card]
		clear(ids)
		var stop error
		eachRow(sel, func(i int) {
			nanos := times[i].Nanos
			count(nanos)
			if stop != nil {
				return
			}
			code := gk.codes[i]
			if ids[code] == 0 {
				key = gk.appendKey(key[:0], code)
				if key[0] == keyMissing {
					ids[code] = math.MaxUint32
				} else if id, ok := keys.id(key); ok {
					ids[code] = 1 + id
				} else {
					stop = keys.budget.err
					return
				}
			}
			if ids[code] != math.MaxUint32 {
				countKey(nanos, ids[code]-1)
			}
		})
		return stop
	})
}
