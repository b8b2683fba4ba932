package search

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/logengine/logengine/patterns"
	"github.com/logengine/logengine/storage"
)

// groupField is one group-by name resolved: a built-in (level, source, tag)
// or a field, and whether a secondary index can answer it.
type groupField struct {
	name    string
	kind    storage.IndexKind
	indexed bool
	// resolve maps stored template ids onto live ones, for pattern.
	resolve func(uint64) (uint64, bool)
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
		case FieldPattern:
			out[i] = groupField{name: n, resolve: e.resolver()}
		case FieldMessage, FieldTimestamp, "time", FieldID:
			return nil, &InputError{Msg: fmt.Sprintf("group_by=%s: cannot group by %s; use level, source, tag or a field name (or the histogram for time)", n, n)}
		default:
			out[i] = groupField{name: n, kind: storage.IndexField, indexed: e.store.IsIndexedField(n)}
		}
	}
	return out, nil
}

// appendEntryKeys calls add with every composite key of an entry, encoded
// after key: the cross product of its keys per field (an entry with two
// tags counts in both). A key is the level name, the source, each distinct
// tag, or a field's value keeping its type; an entry without the field (or
// without tags) has the missing key, null in answers. add must copy the
// key to keep it.
func appendEntryKeys(fields []groupField, e *storage.Entry, key []byte, add func([]byte)) {
	if len(fields) == 0 {
		add(key)
		return
	}
	rest := fields[1:]
	switch fields[0].name {
	case FieldLevel:
		appendEntryKeys(rest, e, appendStringKey(key, e.Level.String()), add)
	case FieldSource:
		appendEntryKeys(rest, e, appendStringKey(key, e.Source), add)
	case FieldPattern:
		if e.Pattern == 0 {
			appendEntryKeys(rest, e, append(key, keyMissing), add)
		} else {
			appendEntryKeys(rest, e, appendStringKey(key, patterns.FormatID(resolvePattern(fields[0].resolve, e.Pattern))), add)
		}
	case FieldTag:
		if len(e.Tags) == 0 {
			appendEntryKeys(rest, e, append(key, keyMissing), add)
		}
		for i, t := range e.Tags {
			if !slices.Contains(e.Tags[:i], t) {
				appendEntryKeys(rest, e, appendStringKey(key, t), add)
			}
		}
	default:
		if v, ok := userField(e, fields[0].name); ok {
			appendEntryKeys(rest, e, appendValueKey(key, v), add)
		} else {
			appendEntryKeys(rest, e, append(key, keyMissing), add)
		}
	}
}

// indexKeys tells how to key the values of each field's secondary index,
// which keeps a value's text and not its type, and reports false when the
// text does not tell: a field whose values in range include both strings
// and other kinds, where "404" may be the string or the number. strs[i] is
// set when field i's values are all strings (built-ins always are).
func (q *query) indexKeys(ctx context.Context, fields []groupField) (strs []bool, ok bool, err error) {
	strs = make([]bool, len(fields))
	for i, f := range fields {
		if f.kind != storage.IndexField {
			strs[i] = true
			continue
		}
		kinds, err := q.e.store.FieldKinds(ctx, f.name, q.lo, q.hi)
		if err != nil {
			return nil, false, err
		}
		others := kinds.Has(storage.KindInt) || kinds.Has(storage.KindFloat) || kinds.Has(storage.KindBool)
		if kinds.Has(storage.KindString) && others {
			return nil, false, nil
		}
		strs[i] = !others
	}
	return strs, true, nil
}

// appendIndexKey appends the key of an index value of f (see indexKeys).
func appendIndexKey(dst []byte, f groupField, value string, str bool) []byte {
	if f.kind != storage.IndexField {
		return appendStringKey(dst, value)
	}
	return appendTextKey(dst, value, str)
}

// groupBudget returns the budget of one group-by, which cancel stops.
func (e *Engine) groupBudget(what string, cancel context.CancelFunc) *groupBudget {
	return &groupBudget{max: e.opts.MaxGroupBytes, what: what, cancel: cancel}
}

// Aggregate counts the matching entries by the group-by fields, largest
// groups first, ties in the order of their keys. When the query and the
// group-by fields can be answered from the secondary and keyword indexes,
// no entry is read. The groups are counted in a hash table bounded by
// MaxGroupBytes: beyond it the answer is a LimitError.
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
	budget := e.groupBudget("group_by="+strings.Join(req.GroupBy, ","), cancel)
	counter := newGroupCounter(budget)
	var total int64
	counted := false
	if bySourceLevel(q.node, fields) {
		// From block headers: no posting list, no entry.
		if total, counted, err = q.countBySourceLevel(ctx, fields, counter); err != nil {
			return nil, err
		}
	}
	var set *idSet
	var strs []bool
	fromIndex := false
	if !counted {
		if set, err = q.plan(ctx, q.node, true); err != nil {
			return nil, err
		}
		fromIndex = set != nil && set.exact && allIndexed(fields) && len(fields) <= maxIndexGroupFields
		if fromIndex {
			if strs, fromIndex, err = q.indexKeys(ctx, fields); err != nil {
				return nil, err
			}
		}
	}
	var cols *colPlan
	if !counted && !fromIndex {
		cols = q.columnPlan(set, fields)
	}
	switch {
	case counted:
	case fromIndex && len(fields) == 1:
		// The common case: count each index value's ids that are in the
		// set, with no map per entry and no entry read.
		total, err = q.countByIndex(ctx, set, fields[0], strs[0], counter)
	case fromIndex:
		if _, err = q.list(ctx, set); err == nil {
			total = int64(len(set.ids))
			err = q.groupFromIndexes(ctx, set, fields, strs, counter)
		}
	case cols != nil:
		// Terms and keys on levels, sources and fields: evaluated on
		// each block's columns, no entry built.
		total, err = q.aggregateColumns(ctx, cols, counter)
	default:
		key := make([]byte, 0, 256) // reused while keys fit
		add := func(k []byte) { counter.add(k, 1) }
		err = q.forEachMatch(ctx, set, groupFieldNames(fields), func(en *storage.Entry) {
			total++
			appendEntryKeys(fields, en, key[:0], add)
		})
	}
	if err = budget.check(err); err != nil {
		return nil, err
	}
	groups, other, err := counter.top(req.Limit)
	if err != nil {
		return nil, err
	}
	return &AggResult{Groups: groups, Total: total, Other: other}, nil
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
func (q *query) countByIndex(ctx context.Context, set *idSet, f groupField, str bool, counter *groupCounter) (int64, error) {
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
	var seen int64 // ids counted in some group
	var buf []storage.ID
	var key []byte
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
		if n == 0 {
			return nil
		}
		seen += n
		key = appendIndexKey(key[:0], f, l.Value, str)
		if !counter.add(key, n) {
			return counter.budget.err
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	switch f.kind {
	case storage.IndexLevel:
		if set.all {
			total = seen // every entry has one level
		}
	case storage.IndexField:
		// Entries without the field form the missing group, as they do
		// when entries are read. An entry has at most one value of a field.
		if missing := total - seen; missing > 0 {
			counter.add([]byte{keyMissing}, missing)
		}
	case storage.IndexTag:
		// An entry with several tags is in several lists: count those
		// with any tag once.
		tagged, err := q.tagged(ctx, set)
		if err != nil {
			return 0, err
		}
		if missing := total - tagged; missing > 0 {
			counter.add([]byte{keyMissing}, missing)
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
	if set == nil || set.all {
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
func (q *query) groupFromIndexes(ctx context.Context, set *idSet, fields []groupField, strs []bool, counter *groupCounter) error {
	cols := make([]*valueColumn, len(fields))
	for i, f := range fields {
		c, err := q.column(ctx, set, f, strs[i])
		if err != nil {
			return err
		}
		cols[i] = c
	}
	// The tuples are groups too: each new one is charged to the budget,
	// as the composite key it becomes.
	counts := map[[maxIndexGroupFields]uint32]int64{}
	var key [maxIndexGroupFields]uint32
	var walk func(seq uint64, i int) bool
	walk = func(seq uint64, i int) bool {
		if i == len(cols) {
			if _, ok := counts[key]; !ok && !counter.budget.charge(groupOverhead) {
				return false
			}
			counts[key]++
			return true
		}
		first, more := cols[i].get(seq)
		key[i] = first
		if !walk(seq, i+1) {
			return false
		}
		for _, v := range more {
			key[i] = v
			if !walk(seq, i+1) {
				return false
			}
		}
		return true
	}
	for _, id := range set.ids {
		if !walk(id.Seq, 0) {
			return counter.budget.err
		}
	}
	var buf []byte
	for k, n := range counts {
		buf = buf[:0]
		for i, c := range cols {
			if k[i] == 0 {
				buf = append(buf, keyMissing)
			} else {
				buf = append(buf, c.dict[k[i]-1]...)
			}
		}
		if !counter.add(buf, n) {
			return counter.budget.err
		}
	}
	return nil
}

// valueColumn maps the sequences of a set's entries onto the numbers of
// their values of one field: 0 for none, else 1 + the value's place in
// dict, which holds their encoded keys. Entries with several values (tags)
// have the others in more.
type valueColumn struct {
	dict   [][]byte
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
func (q *query) column(ctx context.Context, set *idSet, f groupField, str bool) (*valueColumn, error) {
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
					c.dict = append(c.dict, appendIndexKey(nil, f, l.Value, str))
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
