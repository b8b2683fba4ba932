package search

import (
	"cmp"
	"context"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/logengine/logengine/storage"
)

// maxBuckets bounds the buckets of one histogram.
const maxBuckets = 100000

// Histogram counts matching entries per time bucket. Buckets start at
// multiples of the interval since the Unix epoch and cover [From, To); an
// open end is the time of the first or last match. Groups are keyed as in
// aggregations (ByKey) and named by the key's text (Groups); entries
// without the group-by field are in no group. The groups of all buckets
// are bounded by MaxGroupBytes, as an aggregation's.
func (e *Engine) Histogram(ctx context.Context, req HistRequest) (*HistResult, error) {
	ctx, cancel := context.WithTimeout(ctx, e.opts.Timeout)
	defer cancel()
	budget := e.groupBudget("group_by="+req.GroupBy+" (histogram)", cancel)
	q, err := e.rangeQuery(ctx, req.Query, req.From, req.To)
	if err != nil {
		return nil, err
	}
	var field *groupField
	if req.GroupBy != "" {
		fs, err := e.groupFields([]string{req.GroupBy})
		if err != nil {
			return nil, err
		}
		field = &fs[0]
	}
	set, err := q.plan(ctx, q.node, true)
	if err != nil {
		return nil, err
	}
	// From the indexes alone when the set is exact and the group-by field
	// (if any) indexed, with index values whose text tells their type;
	// else from the matching entries.
	fromIndex := set != nil && set.exact && (field == nil || field.indexed)
	str := false
	if fromIndex && field != nil {
		var strs []bool
		if strs, fromIndex, err = q.indexKeys(ctx, []groupField{*field}); err != nil {
			return nil, err
		}
		if fromIndex {
			str = strs[0]
		}
	}
	keys := &keyDict{ids: map[string]uint32{}, budget: budget}
	// With both ends given the buckets are known before any match is read,
	// and matches are counted as they stream: memory holds the groups, not
	// the matches.
	var h *histogram
	if !req.From.IsZero() && !req.To.IsZero() {
		if h, err = newHistogram(req.From, req.To, histInterval(req.Interval, req.From, req.To)); err != nil {
			return nil, err
		}
		h.budget = budget
	}

	var points []int64     // times of the matches read, without h
	var keyed []keyedPoint // times and group keys of the matches read, without h
	minN, maxN, found := int64(math.MaxInt64), int64(math.MinInt64), false
	if !fromIndex {
		var names []string
		var fields []groupField
		if field != nil {
			names, fields = []string{field.name}, []groupField{*field}
		}
		count := func(nanos int64) {
			if h != nil {
				h.add(nanos, 1)
			} else {
				points = append(points, nanos)
			}
		}
		countKey := func(nanos int64, id uint32) {
			if h != nil {
				h.addGroup(nanos, id, 1)
			} else {
				keyed = append(keyed, keyedPoint{nanos, id})
			}
		}
		var err error
		if cols := q.columnPlan(set, fields); cols != nil {
			err = q.histogramColumns(ctx, cols, keys, count, countKey)
		} else {
			key := make([]byte, 0, 256)
			err = q.forEachMatch(ctx, set, names, func(en *storage.Entry) {
				count(en.ID.Nanos)
				if field == nil {
					return
				}
				appendEntryKeys(fields, en, key[:0], func(k []byte) {
					if k[0] == keyMissing {
						return
					}
					// Past the budget, the budget has stopped the scan.
					if id, ok := keys.id(k); ok {
						countKey(en.ID.Nanos, id)
					}
				})
			})
		}
		if err = budget.check(err); err != nil {
			return nil, err
		}
		for _, p := range points {
			minN, maxN, found = min(minN, p), max(maxN, p), true
		}
	} else if req.From.IsZero() || req.To.IsZero() {
		if minN, maxN, found, err = q.span(ctx, set); err != nil {
			return nil, err
		}
	}

	var first, last time.Time
	if found {
		first, last = time.Unix(0, minN), time.Unix(0, maxN)
	}
	from, to := HistogramRange(req.From, req.To, first, last, found, e.opts.Now())
	if h == nil {
		if h, err = newHistogram(from, to, histInterval(req.Interval, from, to)); err != nil {
			return nil, err
		}
		h.budget = budget
	}

	if !fromIndex {
		for _, p := range points {
			h.add(p, 1)
		}
		for _, p := range keyed {
			if !h.addGroup(p.nanos, p.key, 1) {
				return nil, budget.err
			}
		}
		return h.result(keys)
	}
	if set.all {
		// Every entry has one level: the level lists hold every id.
		err = q.e.store.PostingLists(ctx, storage.IndexLevel, "", q.lo, q.hi, func(l *storage.PostingList) error {
			return h.addList(l, q.lo, q.hi, -1)
		})
	} else {
		for _, id := range set.ids {
			h.add(id.Nanos, 1)
		}
	}
	if err == nil && field != nil {
		f := *field
		var key uint32
		var last string
		var buf []byte
		first := true
		err = q.e.store.PostingLists(ctx, f.kind, f.name, q.lo, q.hi, func(l *storage.PostingList) error {
			if first || l.Value != last {
				first, last = false, l.Value
				var ok bool
				if key, ok = keys.id(appendIndexKey(buf[:0], f, l.Value, str)); !ok {
					return budget.err
				}
			}
			if set.all {
				return h.addList(l, q.lo, q.hi, int64(key))
			}
			var err error
			if h.buf, err = l.AppendIDs(h.buf[:0], q.lo, q.hi); err != nil {
				return err
			}
			for _, id := range h.buf {
				if set.has(id) && !h.addGroup(id.Nanos, key, 1) {
					return budget.err
				}
			}
			return nil
		})
	}
	if err = budget.check(err); err != nil {
		return nil, err
	}
	return h.result(keys)
}

// histInterval is the interval asked for, or one chosen for the range.
func histInterval(interval time.Duration, from, to time.Time) time.Duration {
	if interval > 0 {
		return interval
	}
	return autoInterval(to.Sub(from))
}

// span returns the times of the first and last entry of an exact set, and
// false when it is empty.
func (q *query) span(ctx context.Context, set *idSet) (minN, maxN int64, found bool, err error) {
	if !set.all {
		if len(set.ids) == 0 {
			return 0, 0, false, nil
		}
		return set.ids[0].Nanos, set.ids[len(set.ids)-1].Nanos, true, nil
	}
	minN, maxN = math.MaxInt64, math.MinInt64
	var buf []storage.ID
	err = q.e.store.PostingLists(ctx, storage.IndexLevel, "", q.lo, q.hi, func(l *storage.PostingList) error {
		if l.Within(q.lo, q.hi) {
			minN, maxN, found = min(minN, l.MinNanos), max(maxN, l.MaxNanos), true
			return nil
		}
		var err error
		if buf, err = l.AppendIDs(buf[:0], q.lo, q.hi); err != nil {
			return err
		}
		for _, id := range buf {
			minN, maxN, found = min(minN, id.Nanos), max(maxN, id.Nanos), true
		}
		return nil
	})
	return minN, maxN, found, err
}

type keyedPoint struct {
	nanos int64
	key   uint32 // in the histogram's keyDict
}

// keyDict numbers the distinct encoded keys of a histogram's groups, each
// charged to the budget once.
type keyDict struct {
	ids    map[string]uint32
	keys   []string
	budget *groupBudget
}

// id returns the number of key, and false when the budget is spent.
func (d *keyDict) id(key []byte) (uint32, bool) {
	if id, ok := d.ids[string(key)]; ok {
		return id, true
	}
	if !d.budget.charge(int64(len(key)) + groupOverhead) {
		return 0, false
	}
	id := uint32(len(d.keys))
	d.keys = append(d.keys, string(key))
	d.ids[d.keys[id]] = id
	return id, true
}

// bucketKey is one group of one bucket.
type bucketKey struct {
	bucket int
	key    uint32
}

// histogram is a histogram being counted.
type histogram struct {
	interval    time.Duration
	first, step int64 // start of the first bucket, and the interval
	fromN, toN  int64 // the range counted
	buckets     []HistBucket
	groups      map[bucketKey]int64 // each charged to budget
	budget      *groupBudget
	buf         []storage.ID // reused to decode posting lists
}

func newHistogram(from, to time.Time, interval time.Duration) (*histogram, error) {
	h := &histogram{interval: interval, step: int64(interval), fromN: unixNanos(from), toN: unixNanos(to)}
	h.first = floorTo(h.fromN, h.step)
	span := h.toN - h.first
	n := span / h.step
	if span%h.step != 0 {
		n++
	}
	if n > maxBuckets {
		return nil, &InputError{Msg: fmt.Sprintf("interval %s gives %d buckets over this range, more than %d: choose a larger interval", interval, n, maxBuckets)}
	}
	h.buckets = make([]HistBucket, max(n, 0))
	for i := range h.buckets {
		h.buckets[i].Start = time.Unix(0, h.first+int64(i)*h.step).UTC()
	}
	return h, nil
}

// bucketIndex returns the bucket of a time, -1 outside the range.
func (h *histogram) bucketIndex(nanos int64) int {
	if nanos < h.fromN || nanos >= h.toN {
		return -1
	}
	return int((nanos - h.first) / h.step)
}

func (h *histogram) add(nanos, n int64) {
	if i := h.bucketIndex(nanos); i >= 0 {
		h.buckets[i].Count += n
	}
}

// addGroup counts n entries of the group key at a time, and reports false
// once the budget is spent.
func (h *histogram) addGroup(nanos int64, key uint32, n int64) bool {
	i := h.bucketIndex(nanos)
	if i < 0 {
		return true
	}
	bk := bucketKey{i, key}
	if h.groups == nil {
		h.groups = map[bucketKey]int64{}
	}
	if _, ok := h.groups[bk]; !ok && !h.budget.charge(groupOverhead) {
		return false
	}
	h.groups[bk] += n
	return true
}

// addList counts the ids of a posting list in [lo, hi) into the counts, or
// into the group key when it is not negative. A list wholly in one bucket
// (most are: a commit's entries arrive together) counts from its header.
func (h *histogram) addList(l *storage.PostingList, lo, hi storage.ID, key int64) error {
	add := func(nanos, n int64) error {
		if key < 0 {
			h.add(nanos, n)
		} else if !h.addGroup(nanos, uint32(key), n) {
			return h.budget.err
		}
		return nil
	}
	if l.Within(lo, hi) {
		if b := h.bucketIndex(l.MinNanos); b >= 0 && b == h.bucketIndex(l.MaxNanos) {
			return add(l.MinNanos, int64(l.Count))
		}
	}
	var err error
	if h.buf, err = l.AppendIDs(h.buf[:0], lo, hi); err != nil {
		return err
	}
	for _, id := range h.buf {
		if err := add(id.Nanos, 1); err != nil {
			return err
		}
	}
	return nil
}

// result returns the buckets with their groups: typed in ByKey, largest
// first, ties in key order; by text in Groups, where keys of different
// types with one text ("404" and 404) add up.
func (h *histogram) result(keys *keyDict) (*HistResult, error) {
	decoded := make([]any, len(keys.keys))
	for i, k := range keys.keys {
		key, err := decodeKey(k)
		if err != nil {
			return nil, err
		}
		decoded[i] = key[0]
	}
	type counted struct {
		key   uint32
		count int64
	}
	byBucket := map[int][]counted{}
	for bk, n := range h.groups {
		b := &h.buckets[bk.bucket]
		if b.Groups == nil {
			b.Groups = map[string]int64{}
		}
		b.Groups[keyText(decoded[bk.key])] += n
		byBucket[bk.bucket] = append(byBucket[bk.bucket], counted{bk.key, n})
	}
	for i, gs := range byBucket {
		slices.SortFunc(gs, func(x, y counted) int {
			if c := cmp.Compare(y.count, x.count); c != 0 {
				return c
			}
			return strings.Compare(keys.keys[x.key], keys.keys[y.key])
		})
		b := &h.buckets[i]
		b.ByKey = make([]KeyCount, len(gs))
		for j, g := range gs {
			b.ByKey[j] = KeyCount{Key: decoded[g.key], Count: g.count}
		}
	}
	return &HistResult{Interval: h.interval, Buckets: h.buckets}, nil
}

func floorTo(n, step int64) int64 {
	r := n % step
	if r < 0 {
		r += step
	}
	return n - r
}

// autoInterval picks a round interval giving about 60 buckets.
func autoInterval(span time.Duration) time.Duration {
	steps := []time.Duration{
		time.Millisecond, 10 * time.Millisecond, 100 * time.Millisecond,
		time.Second, 5 * time.Second, 10 * time.Second, 30 * time.Second,
		time.Minute, 5 * time.Minute, 10 * time.Minute, 30 * time.Minute,
		time.Hour, 3 * time.Hour, 6 * time.Hour, 12 * time.Hour,
		24 * time.Hour, 7 * 24 * time.Hour, 30 * 24 * time.Hour, 365 * 24 * time.Hour,
	}
	target := span / 60
	for _, s := range steps {
		if s >= target {
			return s
		}
	}
	return steps[len(steps)-1]
}

// HistogramRange is the range a histogram covers: the request's from and
// to, with an open end closed at the first or last match (found, at first
// and last), or, without matches, an hour before or after the given end or
// the hour up to now. A range with only a start ("the last hour") runs to
// now, empty buckets included, or to the last match when one is stamped
// later. Nodes of a cluster close a range the same way over all of their
// matches.
func HistogramRange(from, to, first, last time.Time, found bool, now time.Time) (time.Time, time.Time) {
	start := from
	switch {
	case !from.IsZero() && !to.IsZero():
	case found:
		if from.IsZero() {
			from = first
		}
		if to.IsZero() {
			to = last.Add(1)
			if !start.IsZero() && now.After(to) {
				to = now
			}
		}
	case from.IsZero() && to.IsZero():
		to = now
		from = to.Add(-time.Hour)
	case from.IsZero():
		from = to.Add(-time.Hour)
	case now.After(from):
		to = now
	default:
		to = from.Add(time.Hour)
	}
	return from, to
}
