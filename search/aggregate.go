package search

import (
	"cmp"
	"context"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/logengine/logengine/storage"
)

// groupField is one group-by name resolved: a built-in (level, source, tag)
// or a field, and whether a secondary index can answer it.
type groupField struct {
	name    string
	kind    storage.IndexKind
	indexed bool
}

func (e *Engine) groupFields(names []string) ([]groupField, error) {
	out := make([]groupField, len(names))
	for i, n := range names {
		switch n {
		case FieldLevel, FieldSeverity:
			out[i] = groupField{name: FieldLevel, kind: storage.IndexLevel, indexed: true}
		case FieldSource:
			out[i] = groupField{name: n, kind: storage.IndexSource, indexed: true}
		case FieldTag, "tags":
			out[i] = groupField{name: FieldTag, kind: storage.IndexTag, indexed: true}
		case FieldMessage, FieldTimestamp, "time", FieldID:
			return nil, &InputError{Msg: fmt.Sprintf("group_by=%s: cannot group by %s; use level, source, tag or a field name (or the histogram for time)", n, n)}
		default:
			out[i] = groupField{name: n, kind: storage.IndexField, indexed: e.store.IsIndexedField(n)}
		}
	}
	return out, nil
}

// entryKeys returns the group keys of one field of an entry: one per tag
// for tag (nil key without tags), the value for others (nil when missing).
func entryKeys(f groupField, e *storage.Entry) []any {
	switch f.name {
	case FieldLevel:
		return []any{e.Level.String()}
	case FieldSource:
		return []any{e.Source}
	case FieldTag:
		if len(e.Tags) == 0 {
			return []any{nil}
		}
		keys := make([]any, 0, len(e.Tags))
		for i, t := range e.Tags {
			if !slices.Contains(e.Tags[:i], t) {
				keys = append(keys, t)
			}
		}
		return keys
	}
	if v, ok := e.Field(f.name); ok {
		return []any{v.Interface()}
	}
	return []any{nil}
}

// Aggregate counts the matching entries by the group-by fields, largest
// groups first. When the query and the group-by fields can be answered
// from the secondary and keyword indexes, no entry is read.
func (e *Engine) Aggregate(ctx context.Context, req AggRequest) (*AggResult, error) {
	ctx, cancel := context.WithTimeout(ctx, e.opts.Timeout)
	defer cancel()
	if len(req.GroupBy) == 0 {
		return nil, &InputError{Msg: "group_by is required"}
	}
	if req.Limit <= 0 {
		req.Limit = 10
	}
	fields, err := e.groupFields(req.GroupBy)
	if err != nil {
		return nil, err
	}
	lo, hi := bounds(req.From, req.To)
	q, err := e.newQuery(ctx, req.Query, lo, hi, false)
	if err != nil {
		return nil, err
	}
	counts := map[string]*Group{}
	var total int64
	add := func(key []any) {
		k := groupKey(key)
		g := counts[k]
		if g == nil {
			g = &Group{Key: key}
			counts[k] = g
		}
		g.Count++
	}

	_, matchAll := q.node.(*MatchAll)
	var set *idSet
	if matchAll && len(fields) == 1 && fields[0].indexed {
		// Counting everything by an indexed field needs no id set at all.
		set = &idSet{all: true, exact: true}
	} else if set, err = q.plan(ctx, q.node, true); err != nil {
		return nil, err
	}
	switch {
	case set.exact && len(fields) == 1 && fields[0].indexed:
		// The common case, with no map per entry: count each index value's
		// ids that are in the set.
		f := fields[0]
		if set.all && set.ids == nil {
			if total, err = q.count(ctx); err != nil {
				return nil, err
			}
		} else {
			total = int64(len(set.ids))
		}
		seen := int64(0)
		err := q.e.store.IndexValues(ctx, f.kind, f.name, q.lo, q.hi, func(value string, vids []storage.ID) error {
			n := int64(len(vids))
			if !set.all {
				n = int64(set.countIn(vids))
			}
			if n > 0 {
				key := []any{indexKey(f, value)}
				k := groupKey(key)
				g := counts[k]
				if g == nil {
					g = &Group{Key: key}
					counts[k] = g
				}
				g.Count += n
				seen += n
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
		if f.kind == storage.IndexField || f.kind == storage.IndexTag {
			// Entries without the field (or without tags) form the nil
			// group, as they do when entries are read.
			if missing := total - seen; missing > 0 && f.kind == storage.IndexField {
				counts[groupKey([]any{nil})] = &Group{Key: []any{nil}, Count: missing}
			} else if f.kind == storage.IndexTag {
				if set.ids == nil {
					if set.ids, err = q.all(ctx); err != nil {
						return nil, err
					}
				}
				if err := q.countUntagged(ctx, set, counts); err != nil {
					return nil, err
				}
			}
		}
	case set.exact && allIndexed(fields):
		total = int64(len(set.ids))
		if err := q.groupFromIndexes(ctx, set.ids, fields, add); err != nil {
			return nil, err
		}
	default:
		err := q.forEachMatch(ctx, set, func(en *storage.Entry) {
			total++
			forEachKey(fields, en, nil, add)
		})
		if err != nil {
			return nil, err
		}
	}

	groups := make([]Group, 0, len(counts))
	for _, g := range counts {
		groups = append(groups, *g)
	}
	slices.SortFunc(groups, func(a, b Group) int {
		if c := cmp.Compare(b.Count, a.Count); c != 0 {
			return c
		}
		return strings.Compare(groupKey(a.Key), groupKey(b.Key))
	})
	res := &AggResult{Total: total}
	for i, g := range groups {
		if i < req.Limit {
			res.Groups = append(res.Groups, g)
		} else {
			res.Other += g.Count
		}
	}
	return res, nil
}

func allIndexed(fields []groupField) bool {
	for _, f := range fields {
		if !f.indexed {
			return false
		}
	}
	return true
}

func groupKey(key []any) string {
	var b strings.Builder
	for _, k := range key {
		fmt.Fprintf(&b, "%T:%v\x00", k, k)
	}
	return b.String()
}

// forEachKey calls add with every composite key of an entry: the cross
// product of its keys per field (an entry with two tags counts in both).
func forEachKey(fields []groupField, e *storage.Entry, prefix []any, add func([]any)) {
	if len(fields) == 0 {
		add(slices.Clone(prefix))
		return
	}
	for _, k := range entryKeys(fields[0], e) {
		forEachKey(fields[1:], e, append(prefix, k), add)
	}
}

// forEachMatch calls fn with every entry in range matching the query:
// candidates from set when there is one, else a scan.
func (q *query) forEachMatch(ctx context.Context, set *idSet, fn func(*storage.Entry)) error {
	if set == nil {
		return q.e.store.Scan(ctx, q.lo, q.hi, false, func(e *storage.Entry) bool {
			if Match(q.node, e) {
				fn(e)
			}
			return true
		})
	}
	return q.e.store.GetMany(ctx, set.ids, func(e *storage.Entry) bool {
		if set.exact || Match(q.node, e) {
			fn(e)
		}
		return true
	})
}

// groupFromIndexes groups ids by index values without reading entries.
func (q *query) groupFromIndexes(ctx context.Context, ids []storage.ID, fields []groupField, add func([]any)) error {
	// keys[i][id] lists the values of field i for the entry id.
	keys := make([]map[storage.ID][]any, len(fields))
	for i, f := range fields {
		m, err := q.keysByID(ctx, ids, f)
		if err != nil {
			return err
		}
		keys[i] = m
	}
	var prefix []any
	var walk func(id storage.ID, i int)
	walk = func(id storage.ID, i int) {
		if i == len(fields) {
			add(slices.Clone(prefix))
			return
		}
		vals := keys[i][id]
		if len(vals) == 0 {
			vals = []any{nil}
		}
		for _, v := range vals {
			prefix = append(prefix, v)
			walk(id, i+1)
			prefix = prefix[:len(prefix)-1]
		}
	}
	for _, id := range ids {
		walk(id, 0)
	}
	return nil
}

// typedKey recovers a number from an indexed field's text. The index keeps
// only text, so an indexed field whose values are numbers groups as
// numbers; its string values that look like numbers would too, which is
// why aggregations by indexed fields should be on fields of one type.
func typedKey(s string) any {
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		return n
	}
	return s
}

// Histogram counts matching entries per time bucket.
func (e *Engine) Histogram(ctx context.Context, req HistRequest) (*HistResult, error) {
	ctx, cancel := context.WithTimeout(ctx, e.opts.Timeout)
	defer cancel()
	lo, hi := bounds(req.From, req.To)
	q, err := e.newQuery(ctx, req.Query, lo, hi, false)
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
	_, matchAll := q.node.(*MatchAll)
	var set *idSet
	if matchAll && (field == nil || field.indexed) {
		set = &idSet{all: true, exact: true} // ids come from the level index below
	} else if set, err = q.plan(ctx, q.node, true); err != nil {
		return nil, err
	}
	type point struct {
		nanos int64
		keys  []any
	}
	var points []point
	var keyed []keyedPoint // with a group-by taken from an index
	if set.exact && (field == nil || field.indexed) {
		if set.all && set.ids == nil {
			// Every entry has one level: the level lists hold every id, in
			// no particular order, which bucketing does not need.
			err := q.e.store.IndexValues(ctx, storage.IndexLevel, "", q.lo, q.hi, func(_ string, vids []storage.ID) error {
				for _, id := range vids {
					points = append(points, point{nanos: id.Nanos})
				}
				return nil
			})
			if err != nil {
				return nil, err
			}
		} else {
			points = make([]point, len(set.ids))
			for i, id := range set.ids {
				points[i] = point{nanos: id.Nanos}
			}
		}
		if field != nil {
			f := *field
			err := q.e.store.IndexValues(ctx, f.kind, f.name, q.lo, q.hi, func(value string, vids []storage.ID) error {
				key := keyText(indexKey(f, value))
				for _, id := range vids {
					if set.all || set.has(id) {
						keyed = append(keyed, keyedPoint{id.Nanos, key})
					}
				}
				return nil
			})
			if err != nil {
				return nil, err
			}
		}
	} else {
		err := q.forEachMatch(ctx, set, func(en *storage.Entry) {
			p := point{nanos: en.ID.Nanos}
			if field != nil {
				p.keys = entryKeys(*field, en)
			}
			points = append(points, p)
		})
		if err != nil {
			return nil, err
		}
	}

	// The range: the request's, or the span of the matches.
	from, to := req.From, req.To
	if from.IsZero() || to.IsZero() {
		minN, maxN := int64(math.MaxInt64), int64(math.MinInt64)
		for _, p := range points {
			minN, maxN = min(minN, p.nanos), max(maxN, p.nanos)
		}
		if len(points) == 0 {
			now := e.opts.Now()
			minN, maxN = now.Add(-time.Hour).UnixNano(), now.UnixNano()
		}
		if from.IsZero() {
			from = time.Unix(0, minN)
		}
		if to.IsZero() {
			to = time.Unix(0, maxN+1)
		}
	}
	interval := req.Interval
	if interval <= 0 {
		interval = autoInterval(to.Sub(from))
	}
	first := floorTo(from.UnixNano(), int64(interval))
	n := (to.UnixNano() - first + int64(interval) - 1) / int64(interval)
	if n > maxBuckets {
		return nil, &InputError{Msg: fmt.Sprintf("interval %s gives %d buckets over this range, more than %d: choose a larger interval", interval, n, maxBuckets)}
	}
	buckets := make([]HistBucket, n)
	for i := range buckets {
		buckets[i].Start = time.Unix(0, first+int64(i)*int64(interval)).UTC()
	}
	bucketOf := func(nanos int64) *HistBucket {
		i := (nanos - first) / int64(interval)
		if i < 0 || i >= n || nanos < from.UnixNano() || nanos >= to.UnixNano() {
			return nil
		}
		return &buckets[i]
	}
	addGroup := func(b *HistBucket, key string) {
		if b.Groups == nil {
			b.Groups = map[string]int64{}
		}
		b.Groups[key]++
	}
	for _, p := range points {
		b := bucketOf(p.nanos)
		if b == nil {
			continue
		}
		b.Count++
		for _, k := range p.keys {
			addGroup(b, keyText(k))
		}
	}
	for _, p := range keyed {
		if b := bucketOf(p.nanos); b != nil {
			addGroup(b, p.key)
		}
	}
	return &HistResult{Interval: interval, Buckets: buckets}, nil
}

const maxBuckets = 100000

type keyedPoint struct {
	nanos int64
	key   string
}

// indexKey is the group key of an index value: typed for fields.
func indexKey(f groupField, value string) any {
	if f.kind == storage.IndexField {
		return typedKey(value)
	}
	return value
}

// countUntagged adds the entries of the set without tags to the nil group.
func (q *query) countUntagged(ctx context.Context, set *idSet, counts map[string]*Group) error {
	var tagged []storage.ID
	err := q.e.store.IndexValues(ctx, storage.IndexTag, "", q.lo, q.hi, func(_ string, vids []storage.ID) error {
		tagged = append(tagged, vids...)
		return nil
	})
	if err != nil {
		return err
	}
	storage.SortIDs(tagged)
	tagged = slices.Compact(tagged)
	tset := &idSet{ids: tagged}
	if n := len(set.ids) - tset.countIn(set.ids); n > 0 {
		counts[groupKey([]any{nil})] = &Group{Key: []any{nil}, Count: int64(n)}
	}
	return nil
}

// count returns the number of entries in range, from the level index's
// list lengths.
func (q *query) count(ctx context.Context) (int64, error) {
	var n int64
	err := q.e.store.IndexValues(ctx, storage.IndexLevel, "", q.lo, q.hi, func(_ string, vids []storage.ID) error {
		n += int64(len(vids))
		return nil
	})
	return n, err
}

// has reports whether the set holds id. Sequences are unique, so a bitmap
// of the set's sequences answers in constant time; it is built on first
// use (a set spanning too many sequences falls back to binary search).
func (s *idSet) has(id storage.ID) bool {
	if s.bits == nil && len(s.ids) > 0 {
		minSeq, maxSeq := s.ids[0].Seq, s.ids[0].Seq
		for _, x := range s.ids {
			minSeq, maxSeq = min(minSeq, x.Seq), max(maxSeq, x.Seq)
		}
		if maxSeq-minSeq < 1<<28 {
			s.base = minSeq
			s.bits = make([]uint64, (maxSeq-minSeq)/64+1)
			for _, x := range s.ids {
				o := x.Seq - minSeq
				s.bits[o/64] |= 1 << (o % 64)
			}
		}
	}
	if s.bits == nil {
		_, found := slices.BinarySearchFunc(s.ids, id, storage.ID.Compare)
		return found
	}
	if id.Seq < s.base || (id.Seq-s.base)/64 >= uint64(len(s.bits)) {
		return false
	}
	// A sequence belongs to one entry of the store, so it decides alone.
	o := id.Seq - s.base
	return s.bits[o/64]&(1<<(o%64)) != 0
}

// countIn counts the ids (in any order) that the set holds.
func (s *idSet) countIn(ids []storage.ID) int {
	n := 0
	for _, id := range ids {
		if s.has(id) {
			n++
		}
	}
	return n
}

// keysByID maps each id onto its values of an indexed field.
func (q *query) keysByID(ctx context.Context, ids []storage.ID, f groupField) (map[storage.ID][]any, error) {
	member := make(map[storage.ID]struct{}, len(ids))
	for _, id := range ids {
		member[id] = struct{}{}
	}
	m := make(map[storage.ID][]any, len(ids))
	err := q.e.store.IndexValues(ctx, f.kind, f.name, q.lo, q.hi, func(value string, vids []storage.ID) error {
		var key any = value
		if f.kind == storage.IndexField {
			key = typedKey(value)
		}
		for _, id := range vids {
			if _, ok := member[id]; ok {
				m[id] = append(m[id], key)
			}
		}
		return nil
	})
	return m, err
}

func keyText(k any) string {
	if k == nil {
		return ""
	}
	return fmt.Sprint(k)
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
