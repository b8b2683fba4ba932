package search

import (
	"context"
	"slices"

	"github.com/logengine/logengine/storage"
)

// bySourceLevel reports whether an aggregation can be counted from the
// blocks' per-source level counts: it groups by level and source only and
// its query decides an entry by its level and source alone (`level:error`,
// `source:api -level:info`, or everything). "Top sources of errors" is the
// most asked of these; answered from posting lists it decodes every list
// of every source over the range and intersects it with the errors.
func bySourceLevel(node Node, fields []groupField) bool {
	if len(fields) == 0 || len(fields) > 2 {
		return false
	}
	source := false
	for _, f := range fields {
		switch f.name {
		case FieldSource:
			source = true
		case FieldLevel:
		default:
			return false
		}
	}
	// By level alone, the level posting lists' headers answer faster.
	return source && onlySourceLevel(node)
}

// onlySourceLevel reports whether n reads nothing of an entry but its level
// and source.
func onlySourceLevel(n Node) bool {
	return readsOnly(n, FieldLevel, FieldSeverity, FieldSource)
}

// readsOnly reports whether n reads nothing of an entry but the named own
// fields (so that it can be decided on an entry that has only those).
func readsOnly(n Node, fields ...string) bool {
	switch n := n.(type) {
	case *MatchAll:
		return true
	case *Exists:
		return slices.Contains(fields, n.Field)
	case *Equal:
		return slices.Contains(fields, n.Field)
	case *ValuePrefix:
		return slices.Contains(fields, n.Field)
	case *Compare:
		return slices.Contains(fields, n.Field)
	case *Not:
		return readsOnly(n.Node, fields...)
	case *And:
		for _, c := range n.Nodes {
			if !readsOnly(c, fields...) {
				return false
			}
		}
		return true
	case *Or:
		for _, c := range n.Nodes {
			if !readsOnly(c, fields...) {
				return false
			}
		}
		return true
	}
	return false
}

// countBySourceLevel counts the matching entries by level and source from
// the store's per-source level counts: the query is decided once for each
// source and level, on an entry that has only those. It returns the number
// of matching entries, or false when the store cannot count the range so
// (and add was not called).
func (q *query) countBySourceLevel(ctx context.Context, fields []groupField, counter *groupCounter) (int64, bool, error) {
	counts, ok, err := q.e.store.SourceLevelCounts(ctx, q.lo, q.hi)
	if err != nil || !ok {
		return 0, false, err
	}
	var total int64
	probe := storage.Entry{}
	var key []byte
	for src, byLevel := range counts {
		for i, n := range byLevel {
			if n == 0 {
				continue
			}
			probe.Source, probe.Level = src, storage.Levels[i]
			if !Match(q.node, &probe) {
				continue
			}
			key = key[:0]
			for _, f := range fields {
				if f.name == FieldLevel {
					key = appendStringKey(key, probe.Level.String())
				} else {
					key = appendStringKey(key, src)
				}
			}
			counter.add(key, n)
			total += n
		}
	}
	return total, true, nil
}
