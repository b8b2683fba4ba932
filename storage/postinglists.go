package storage

import (
	"context"
	"encoding/binary"
	"fmt"

	"github.com/dgraph-io/badger/v4"
)

// PostingList is one commit's posting list of one index value, read lazily:
// its header (Count and the time span) costs nothing to look at, AppendIDs
// decodes the IDs. Aggregations count from headers wherever a whole list
// falls in one range or one histogram bucket, which is most lists, since a
// commit holds entries that arrived together. A PostingList is valid only
// during the callback that receives it.
type PostingList struct {
	Value    string // the index value; level values as canonical names
	Count    int    // IDs in the list, whatever the range asked for
	MinNanos int64  // the time of the list's earliest ID
	MaxNanos int64  // the time of the list's latest ID
	FirstSeq uint64 // the commit's first sequence: every ID's Seq is at or above it

	head postingHead
	body []byte // the encoded IDs after the header
}

// Within reports whether every ID of the list is in [lo, hi).
func (l *PostingList) Within(lo, hi ID) bool {
	return ID{Nanos: l.MinNanos, Seq: l.FirstSeq}.Compare(lo) >= 0 && l.MaxNanos < hi.Nanos
}

// AppendIDs appends the list's IDs that fall in [lo, hi) to dst, ascending.
func (l *PostingList) AppendIDs(dst []ID, lo, hi ID) ([]ID, error) {
	if l.Within(lo, hi) {
		lo, hi = MinID, MaxID // no comparison per ID
	}
	c := newPostingCursor(l.head, l.body, l.FirstSeq)
	for range l.Count {
		id, ok := c.next()
		if !ok {
			return dst, fmt.Errorf("posting list: %w", errCorrupt)
		}
		if id.Compare(lo) >= 0 && id.Compare(hi) < 0 {
			dst = append(dst, id)
		}
	}
	return dst, nil
}

// fastUvarint is binary.Uvarint with the one-byte case inlined: sequence
// deltas (and offsets, in the older form) are mostly one byte.
func fastUvarint(b []byte) (uint64, int) {
	if len(b) > 0 && b[0] < 0x80 {
		return uint64(b[0]), 1
	}
	return binary.Uvarint(b)
}

// PostingLists calls fn with every posting list of an index (kind; name for
// IndexField) whose time span overlaps [lo, hi), day by day, values in key
// order within a day; one value spans several calls. Lists wholly outside
// the range are skipped unread.
func (s *Store) PostingLists(ctx context.Context, kind IndexKind, name string, lo, hi ID, fn func(l *PostingList) error) error {
	if kind == IndexField && !s.indexed[name] {
		return fmt.Errorf("field %q is not indexed", name)
	}
	if lo.Compare(hi) >= 0 {
		return nil
	}
	days, err := s.Days(lo.Nanos, hi.Nanos)
	if err != nil {
		return err
	}
	return s.view(func(txn *badger.Txn) error {
		for _, day := range days {
			prefix := append(postingDayPrefix(day), byte(kind))
			if kind == IndexField {
				prefix = appendString(prefix, name)
			}
			if err := s.dayPostingLists(ctx, txn, kind, prefix, lo, hi, fn); err != nil {
				return fmt.Errorf("posting lists on %s: %w", day, err)
			}
		}
		return nil
	})
}

func (s *Store) dayPostingLists(ctx context.Context, txn *badger.Txn, kind IndexKind, prefix []byte, lo, hi ID, fn func(l *PostingList) error) error {
	// Values are small and inline in the LSM tree: prefetching them would
	// only start a goroutine per key.
	if err := s.checkKeys(prefix); err != nil {
		return err
	}
	opts := badger.DefaultIteratorOptions
	opts.Prefix = prefix
	opts.PrefetchValues = false
	it := txn.NewIterator(opts)
	defer it.Close()
	var l PostingList
	var lastRaw []byte
	n := 0
	for it.Seek(prefix); it.ValidForPrefix(prefix); it.Next() {
		if n++; n%1024 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		item := it.Item()
		k := item.Key()
		raw := k[len(prefix) : len(k)-8]
		if lastRaw == nil || string(raw) != string(lastRaw) {
			d := decoder{b: raw}
			v := d.string()
			if d.err != nil {
				return fmt.Errorf("posting key: %w", d.err)
			}
			l.Value = v
			if kind == IndexLevel && len(v) == 1 {
				l.Value = Level(v[0]).String()
			}
			lastRaw = append(lastRaw[:0], raw...)
		}
		l.FirstSeq = binary.BigEndian.Uint64(k[len(k)-8:])
		err := item.Value(func(v []byte) error {
			h, rest, err := postingHeader(v)
			if err != nil {
				return err
			}
			if h.maxN < lo.Nanos || h.minN > hi.Nanos {
				return nil
			}
			l.Count, l.MinNanos, l.MaxNanos, l.head, l.body = h.count, h.minN, h.maxN, h, rest
			return fn(&l)
		})
		if err != nil {
			return err
		}
	}
	return nil
}
