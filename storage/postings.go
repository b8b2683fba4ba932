package storage

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"

	"github.com/dgraph-io/badger/v4"
)

// Secondary indexes are posting lists: one key per index value per commit,
// holding the sorted IDs of that commit's entries with the value. One key
// per commit instead of one per entry is what keeps the append path fast
// (3.5 index keys per entry cut Badger's write rate four-fold).
//
// Value layout (the delta-sequence form, written since format 2 of the
// lists): a zero byte, then count, minNanos, maxNanos-minNanos, then per
// ID, ascending, the nanos delta from the previous ID (the first from
// minNanos) as a uvarint and the sequence minus the previous ID's (the
// first's minus the commit's first sequence, which is in the key) as a
// zig-zag varint.
//
// Why the sequence as a delta. The entries of a commit mostly arrive in
// time order, so that the next ID of a list is mostly the next sequence of
// that list too: a delta of one byte where the offset from the commit's
// first sequence took two in a commit of more than 128 entries, and (with
// the nanos delta before it) a pair that repeats when entries come evenly
// spaced, which Badger's Snappy then finds. It halved the posting lists'
// bytes on disk on the side-by-side load (README, "Storage by block").
//
// The form written before (the offset form) has no leading zero byte: it
// starts with count, which is never zero. It is still read; the
// per-ID nanos delta is the same, the sequence an offset from the commit's
// first sequence as a uvarint.
const postingsDeltaSeq = 0

func encodePostings(ids []ID, firstSeq uint64) []byte {
	slices.SortFunc(ids, ID.Compare)
	b := make([]byte, 0, 9+len(ids)*4)
	minN, maxN := ids[0].Nanos, ids[len(ids)-1].Nanos
	b = append(b, postingsDeltaSeq)
	b = binary.AppendUvarint(b, uint64(len(ids)))
	b = binary.AppendUvarint(b, uint64(minN))
	b = binary.AppendUvarint(b, uint64(maxN-minN))
	prevN, prevSeq := minN, firstSeq
	for _, id := range ids {
		b = binary.AppendUvarint(b, uint64(id.Nanos-prevN))
		// Two's complement difference: any two sequences round-trip.
		b = binary.AppendVarint(b, int64(id.Seq-prevSeq))
		prevN, prevSeq = id.Nanos, id.Seq
	}
	return b
}

// postingHead is what precedes a posting list's IDs.
type postingHead struct {
	count      int
	minN, maxN int64
	deltaSeq   bool // the delta-sequence form, not the offset form
}

// postingHeader reads a posting list's header without decoding its IDs,
// and returns the encoded IDs after it.
func postingHeader(v []byte) (h postingHead, rest []byte, err error) {
	d := decoder{b: v}
	if len(v) > 0 && v[0] == postingsDeltaSeq {
		h.deltaSeq = true
		d.byte()
	}
	h.count = int(d.uvarint())
	h.minN = int64(d.uvarint())
	h.maxN = h.minN + int64(d.uvarint())
	if d.err != nil {
		return postingHead{}, nil, fmt.Errorf("posting list header: %w", d.err)
	}
	return h, d.b, nil
}

// postingCursor decodes the IDs of a posting list's body one at a time, in
// either form.
type postingCursor struct {
	b        []byte
	nanos    int64
	seq      uint64 // the previous ID's (delta form) or the commit's first (offset form)
	deltaSeq bool
}

func newPostingCursor(h postingHead, body []byte, firstSeq uint64) postingCursor {
	return postingCursor{b: body, nanos: h.minN, seq: firstSeq, deltaSeq: h.deltaSeq}
}

// next returns the next ID; ok is false when the body ends or is corrupt.
func (c *postingCursor) next() (id ID, ok bool) {
	delta, k := fastUvarint(c.b)
	if k <= 0 {
		return ID{}, false
	}
	c.b = c.b[k:]
	s, k := fastUvarint(c.b)
	if k <= 0 {
		return ID{}, false
	}
	c.b = c.b[k:]
	c.nanos += int64(delta)
	if !c.deltaSeq {
		return ID{Nanos: c.nanos, Seq: c.seq + s}, true
	}
	// Zig-zag decoding, as binary.Varint does.
	c.seq += uint64(int64(s>>1) ^ -int64(s&1))
	return ID{Nanos: c.nanos, Seq: c.seq}, true
}

// decodePostings appends the IDs of the list that fall in [lo, hi).
func decodePostings(dst []ID, v []byte, firstSeq uint64, lo, hi ID) ([]ID, error) {
	h, rest, err := postingHeader(v)
	if err != nil {
		return dst, err
	}
	if h.maxN < lo.Nanos || h.minN > hi.Nanos {
		return dst, nil
	}
	c := newPostingCursor(h, rest, firstSeq)
	for i := 0; i < h.count; i++ {
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

// IndexKind names a secondary index.
type IndexKind byte

// The secondary indexes every entry has, and the one for configured fields.
const (
	IndexLevel  = IndexKind(kindLevel)
	IndexSource = IndexKind(kindSource)
	IndexTag    = IndexKind(kindTag)
	IndexField  = IndexKind(kindField)
)

// IndexValue names one value of a secondary index. For IndexLevel the value
// is the level's canonical name; for IndexField, Name is the field and Value
// its Value.Text().
type IndexValue struct {
	Kind  IndexKind
	Name  string
	Value string
}

func (iv IndexValue) storedValue() (string, error) {
	if iv.Kind != IndexLevel {
		return iv.Value, nil
	}
	l, ok := ParseLevelName(iv.Value)
	if !ok {
		return "", fmt.Errorf("unknown level %q", iv.Value)
	}
	return levelValue(l), nil
}

// Postings returns, sorted ascending, the IDs of the entries with the index
// value whose IDs fall in [lo, hi).
func (s *Store) Postings(ctx context.Context, iv IndexValue, lo, hi ID) ([]ID, error) {
	if iv.Kind == IndexField && !s.indexed[iv.Name] {
		return nil, fmt.Errorf("field %q is not indexed", iv.Name)
	}
	value, err := iv.storedValue()
	if err != nil {
		return nil, err
	}
	days, err := s.Days(lo.Nanos, hi.Nanos)
	if err != nil {
		return nil, err
	}
	var ids []ID
	err = s.view(func(txn *badger.Txn) error {
		for _, day := range days {
			prefix := postingPrefix(day, byte(iv.Kind), iv.Name, value)
			n := len(ids)
			err := s.checkKeys(prefix)
			if err == nil {
				err = iterate(ctx, txn, prefix, func(k, v []byte) error {
					first := binary.BigEndian.Uint64(k[len(k)-8:])
					var err error
					ids, err = decodePostings(ids, v, first, lo, hi)
					return err
				})
			}
			if err != nil {
				return fmt.Errorf("postings %c %s=%q on %s: %w", iv.Kind, iv.Name, iv.Value, day, err)
			}
			// Lists of different commits overlap in time when old logs
			// arrive late; sort the day's part only.
			SortIDs(ids[n:])
		}
		return nil
	})
	return ids, err
}

// IndexValues calls fn for every posting list of an index in [lo, hi): the
// value (level values as canonical names) and the IDs of one commit that
// have it, in no particular order across calls (values come in key order
// per day; one value spans several calls). The slice is reused after fn
// returns. Aggregations use it to count by level, source or tag without
// reading a single entry, and without materialising a value's whole list.
func (s *Store) IndexValues(ctx context.Context, kind IndexKind, name string, lo, hi ID, fn func(value string, ids []ID) error) error {
	if kind == IndexField && !s.indexed[name] {
		return fmt.Errorf("field %q is not indexed", name)
	}
	days, err := s.Days(lo.Nanos, hi.Nanos)
	if err != nil {
		return err
	}
	var ids []ID
	return s.view(func(txn *badger.Txn) error {
		for _, day := range days {
			prefix := append(postingDayPrefix(day), byte(kind))
			if kind == IndexField {
				prefix = appendString(prefix, name)
			}
			var lastRaw, lastValue string
			if err := s.checkKeys(prefix); err != nil {
				return fmt.Errorf("index values on %s: %w", day, err)
			}
			err := iterate(ctx, txn, prefix, func(k, v []byte) error {
				d := decoder{b: k[len(prefix) : len(k)-8]}
				raw := d.string()
				if d.err != nil {
					return fmt.Errorf("posting key: %w", d.err)
				}
				if raw != lastRaw || lastValue == "" {
					lastRaw, lastValue = raw, raw
					if kind == IndexLevel && len(raw) == 1 {
						lastValue = Level(raw[0]).String()
					}
				}
				var err error
				ids, err = decodePostings(ids[:0], v, binary.BigEndian.Uint64(k[len(k)-8:]), lo, hi)
				if err != nil || len(ids) == 0 {
					return err
				}
				return fn(lastValue, ids)
			})
			if err != nil {
				return fmt.Errorf("index values on %s: %w", day, err)
			}
		}
		return nil
	})
}

// iterate calls fn for every key with the prefix, in key order. k and v are
// valid only during the call.
func iterate(ctx context.Context, txn *badger.Txn, prefix []byte, fn func(k, v []byte) error) error {
	return iterateFrom(ctx, txn, prefix, prefix, fn)
}

// errStopIteration, returned by the fn of iterateFrom, ends the iteration
// early without an error.
var errStopIteration = errors.New("stop iteration")

// iterateFrom is iterate from the key start on (within prefix); fn may
// return errStopIteration to end it there.
func iterateFrom(ctx context.Context, txn *badger.Txn, prefix, start []byte, fn func(k, v []byte) error) error {
	// No prefetching: it copies every value into new memory, and fn sees
	// each value only during its call anyway. Values are inline in the LSM
	// tree, so Value hands out the table block's bytes as they are: a
	// needle's search copied its day's block headers (25 KB each, with a
	// merged block's bloom filters) twice otherwise.
	opts := badger.DefaultIteratorOptions
	opts.Prefix = prefix
	opts.PrefetchValues = false
	it := txn.NewIterator(opts)
	defer it.Close()
	n := 0
	for it.Seek(start); it.ValidForPrefix(prefix); it.Next() {
		if n++; n%1024 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		item := it.Item()
		if err := item.Value(func(v []byte) error { return fn(item.Key(), v) }); err != nil {
			if errors.Is(err, errStopIteration) {
				return nil
			}
			return err
		}
	}
	return nil
}
