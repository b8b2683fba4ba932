package search

import (
	"cmp"
	"context"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

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
		n = CanonicalField(n)
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

// entryKeys returns the group keys of one field of an entry: one per
// distinct tag for tag (a nil key without tags), the value for others (nil
// when missing). See typedKey for fields.
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
	if v, ok := userField(e, f.name); ok {
		return []any{typedKey(v.Text())}
	}
	return []any{nil}
}

// indexKey is the group key of an index value: typed for fields.
func indexKey(f groupField, value string) any {
	if f.kind == storage.IndexField {
		return typedKey(value)
	}
	return value
}

// typedKey is the group key of a field value in its text form (Value.Text,
// the form indexes keep): a number for the text of a number, a boolean for
// true and false, else the text. Values group as field:value matches them,
// numbers by value: the integer 404, the float 404.0 and the string "404"
// are one group, keyed 404. It is the same whether the key comes from an
// index or from the entry.
func typedKey(s string) any {
	if n, err := strconv.ParseInt(s, 10, 64); err == nil && storage.Int(n).Text() == s {
		return n
	}
	if f, err := strconv.ParseFloat(s, 64); err == nil && !math.IsInf(f, 0) && !math.IsNaN(f) && storage.Float(f).Text() == s {
		return f
	}
	switch s {
	case "true":
		return true
	case "false":
		return false
	}
	return s
}

// keyText is a group key as histograms name groups.
func keyText(k any) string {
	if k == nil {
		return ""
	}
	return fmt.Sprint(k)
}

func groupKey(key []any) string {
	var b strings.Builder
	for _, k := range key {
		fmt.Fprintf(&b, "%T:%v\x00", k, k)
	}
	return b.String()
}

// Aggregate counts the matching entries by the group-by fields, largest
// groups first, ties in the order of their keys. When the query and the
// group-by fields can be answered from the secondary and keyword indexes,
// no entry is read.
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
	q, err := e.rangeQuery(ctx, req.Query, req.From, req.To)
	if err != nil {
		return nil, err
	}
	counts := map[string]*Group{}
	add := func(key []any, n int64) {
		k := groupKey(key)
		g := counts[k]
		if g == nil {
			g = &Group{Key: key}
			counts[k] = g
		}
		g.Count += n
	}
	var total int64
	counted := false
	if bySourceLevel(q.node, fields) {
		// From block headers: no posting list, no entry.
		if total, counted, err = q.countBySourceLevel(ctx, fields, add); err != nil {
			return nil, err
		}
	}
	var set *idSet
	if !counted {
		if set, err = q.plan(ctx, q.node, true); err != nil {
			return nil, err
		}
	}
	switch {
	case counted:
	case set != nil && set.exact && len(fields) == 1 && fields[0].indexed:
		// The common case: count each index value's ids that are in the
		// set, with no map per entry and no entry read.
		total, err = q.countByIndex(ctx, set, fields[0], add)
	case set != nil && set.exact && allIndexed(fields) && len(fields) <= maxIndexGroupFields:
		if _, err = q.list(ctx, set); err == nil {
			total = int64(len(set.ids))
			err = q.groupFromIndexes(ctx, set, fields, add)
		}
	default:
		err = q.forEachMatch(ctx, set, groupFieldNames(fields), func(en *storage.Entry) {
			total++
			forEachKey(fields, en, nil, func(key []any) { add(key, 1) })
		})
	}
	if err != nil {
		return nil, err
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

// countByIndex counts the entries of an exact set by one indexed field from
// its posting lists, and returns how many entries the set holds. For the
// set of every entry, a list wholly in range counts from its header.
func (q *query) countByIndex(ctx context.Context, set *idSet, f groupField, add func([]any, int64)) (int64, error) {
	var total int64
	switch {
	case !set.all:
		total = int64(len(set.ids))
	case f.kind != storage.IndexLevel:
		var err error
		if total, err = q.count(ctx); err != nil {
			return 0, err
		}
	}
	perValue := map[string]int64{}
	var buf []storage.ID
	err := q.e.store.PostingLists(ctx, f.kind, f.name, q.lo, q.hi, func(l *storage.PostingList) error {
		var n int64
		if set.all && l.Within(q.lo, q.hi) {
			n = int64(l.Count)
		} else {
			var err error
			if buf, err = l.AppendIDs(buf[:0], q.lo, q.hi); err != nil {
				return err
			}
			n = int64(len(buf))
			if !set.all {
				n = int64(set.countIn(buf))
			}
		}
		if n > 0 {
			perValue[l.Value] += n
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	var seen int64 // ids counted in some group
	for v, n := range perValue {
		add([]any{indexKey(f, v)}, n)
		seen += n
	}
	switch f.kind {
	case storage.IndexLevel:
		if set.all {
			total = seen // every entry has one level
		}
	case storage.IndexField:
		// Entries without the field form the nil group, as they do when
		// entries are read. An entry has at most one value of a field.
		if missing := total - seen; missing > 0 {
			add([]any{nil}, missing)
		}
	case storage.IndexTag:
		// An entry with several tags is in several lists: count those
		// with any tag once.
		tagged, err := q.tagged(ctx, set)
		if err != nil {
			return 0, err
		}
		if missing := total - tagged; missing > 0 {
			add([]any{nil}, missing)
		}
	}
	return total, nil
}

// tagged counts the entries of the set that have a tag.
func (q *query) tagged(ctx context.Context, set *idSet) (int64, error) {
	var seen seqSet
	var n int64
	var buf []storage.ID
	err := q.e.store.PostingLists(ctx, storage.IndexTag, "", q.lo, q.hi, func(l *storage.PostingList) error {
		var err error
		if buf, err = l.AppendIDs(buf[:0], q.lo, q.hi); err != nil {
			return err
		}
		for _, id := range buf {
			if (set.all || set.has(id)) && seen.add(id.Seq) {
				n++
			}
		}
		return nil
	})
	return n, err
}

// count returns the number of entries in range, from the level index's
// list headers.
func (q *query) count(ctx context.Context) (int64, error) {
	var n int64
	var buf []storage.ID
	err := q.e.store.PostingLists(ctx, storage.IndexLevel, "", q.lo, q.hi, func(l *storage.PostingList) error {
		if l.Within(q.lo, q.hi) {
			n += int64(l.Count)
			return nil
		}
		var err error
		buf, err = l.AppendIDs(buf[:0], q.lo, q.hi)
		n += int64(len(buf))
		return err
	})
	return n, err
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

func groupFieldNames(fields []groupField) []string {
	names := make([]string, len(fields))
	for i, f := range fields {
		names[i] = f.name
	}
	return names
}

// forEachMatch calls fn with every entry in range matching the query:
// candidates from set when there is one, else a scan. fn reads the entry's
// own fields and the user fields named in fields, no others and not the
// message: a scan may hand it entries with only those.
func (q *query) forEachMatch(ctx context.Context, set *idSet, fields []string, fn func(*storage.Entry)) error {
	cols, partial := scanColumns(q.node, fields)
	return q.eachMatch(ctx, set, cols, partial, fn)
}

// eachMatch is forEachMatch with its scan's columns decided: only cols
// (and no messages) when partial, whole entries otherwise.
func (q *query) eachMatch(ctx context.Context, set *idSet, cols []string, partial bool, fn func(*storage.Entry)) error {
	// Every entry in range, each to be checked: a scan reads them in
	// order, and only the columns the query needs, where fetching each by
	// id would decode its whole block again.
	if set == nil || set.all && !set.exact {
		match := func(e *storage.Entry) bool {
			if Match(q.node, e) {
				fn(e)
			}
			return true
		}
		spec := storage.ScanSpec{Lo: q.lo, Hi: q.hi, Columns: partial, Fields: cols, MayMatch: headerFilter(q.node)}
		return q.e.store.ScanWhere(ctx, spec, match)
	}
	ids, err := q.list(ctx, set)
	if err != nil {
		return err
	}
	return q.e.store.GetMany(ctx, ids, func(e *storage.Entry) bool {
		if set.exact || Match(q.node, e) {
			fn(e)
		}
		return true
	})
}

// maxIndexGroupFields is how many group-by fields groupFromIndexes
// combines; more are grouped from the entries.
const maxIndexGroupFields = 4

// groupFromIndexes counts the entries of a listed set by several indexed
// fields without reading them: each field's posting lists become a column
// of value numbers by sequence, and composite keys are tuples of those.
func (q *query) groupFromIndexes(ctx context.Context, set *idSet, fields []groupField, add func([]any, int64)) error {
	cols := make([]*valueColumn, len(fields))
	for i, f := range fields {
		c, err := q.column(ctx, set, f)
		if err != nil {
			return err
		}
		cols[i] = c
	}
	counts := map[[maxIndexGroupFields]uint32]int64{}
	var key [maxIndexGroupFields]uint32
	var walk func(seq uint64, i int)
	walk = func(seq uint64, i int) {
		if i == len(cols) {
			counts[key]++
			return
		}
		first, more := cols[i].get(seq)
		key[i] = first
		walk(seq, i+1)
		for _, v := range more {
			key[i] = v
			walk(seq, i+1)
		}
	}
	for _, id := range set.ids {
		walk(id.Seq, 0)
	}
	for k, n := range counts {
		keys := make([]any, len(cols))
		for i, c := range cols {
			if k[i] > 0 {
				keys[i] = c.dict[k[i]-1]
			}
		}
		add(keys, n)
	}
	return nil
}

// valueColumn maps the sequences of a set's entries onto the numbers of
// their values of one field: 0 for none, else 1 + the value's place in
// dict. Entries with several values (tags) have the others in more.
type valueColumn struct {
	dict   []any
	base   uint64
	dense  []uint32          // by seq - base, when the set's sequences are dense enough
	sparse map[uint64]uint32 // otherwise
	more   map[uint64][]uint32
}

func (c *valueColumn) get(seq uint64) (uint32, []uint32) {
	var v uint32
	if c.dense != nil {
		v = c.dense[seq-c.base]
	} else {
		v = c.sparse[seq]
	}
	if v == 0 || c.more == nil {
		return v, nil
	}
	return v, c.more[seq]
}

func (c *valueColumn) set(seq uint64, v uint32) {
	var cur uint32
	if c.dense != nil {
		cur = c.dense[seq-c.base]
	} else {
		cur = c.sparse[seq]
	}
	switch {
	case cur == 0 && c.dense != nil:
		c.dense[seq-c.base] = v
	case cur == 0:
		c.sparse[seq] = v
	case cur != v && !slices.Contains(c.more[seq], v):
		if c.more == nil {
			c.more = map[uint64][]uint32{}
		}
		c.more[seq] = append(c.more[seq], v)
	}
}

// column builds the value column of one indexed field for a listed set.
func (q *query) column(ctx context.Context, set *idSet, f groupField) (*valueColumn, error) {
	c := &valueColumn{}
	if len(set.ids) > 0 {
		minSeq, maxSeq := set.ids[0].Seq, set.ids[0].Seq
		for _, id := range set.ids {
			minSeq, maxSeq = min(minSeq, id.Seq), max(maxSeq, id.Seq)
		}
		if maxSeq-minSeq < uint64(max(4*len(set.ids), 1<<20)) {
			c.base, c.dense = minSeq, make([]uint32, maxSeq-minSeq+1)
		}
	}
	if c.dense == nil {
		c.sparse = make(map[uint64]uint32, len(set.ids))
	}
	var buf []storage.ID
	numbers := map[string]uint32{}
	err := q.e.store.PostingLists(ctx, f.kind, f.name, q.lo, q.hi, func(l *storage.PostingList) error {
		var err error
		if buf, err = l.AppendIDs(buf[:0], q.lo, q.hi); err != nil {
			return err
		}
		v := uint32(0)
		for _, id := range buf {
			if !set.has(id) {
				continue
			}
			if v == 0 {
				if v = numbers[l.Value]; v == 0 {
					c.dict = append(c.dict, indexKey(f, l.Value))
					v = uint32(len(c.dict))
					numbers[l.Value] = v
				}
			}
			c.set(id.Seq, v)
		}
		return nil
	})
	return c, err
}

// seqSet is a set of sequence numbers: a bitmap in chunks of 64Ki, so that
// it costs little wherever in the sequence space the entries of a range are.
type seqSet struct {
	chunks map[uint64]*[1024]uint64
}

// add adds seq and reports whether it was new.
func (s *seqSet) add(seq uint64) bool {
	if s.chunks == nil {
		s.chunks = map[uint64]*[1024]uint64{}
	}
	c := s.chunks[seq>>16]
	if c == nil {
		c = new([1024]uint64)
		s.chunks[seq>>16] = c
	}
	o := seq & 0xffff
	w, bit := &c[o/64], uint64(1)<<(o%64)
	if *w&bit != 0 {
		return false
	}
	*w |= bit
	return true
}
