package search

import (
	"container/heap"
	"context"
	"fmt"
	"math"
	"strconv"

	"github.com/logengine/logengine/storage"
)

// Group keys are counted in their encoded form: one component per group-by
// field, each a tag byte and, for numbers and strings, the text (see
// appendKeyText).
// A string stays a string however it looks ("404", "true",
// "9007199254740993"); numbers are one group per text form, so the integer
// 404 and the float 404.0, which JSON writes alike, are one group keyed
// 404. A float that JSON cannot write (NaN, ±Inf) is keyed by its text, as
// entries show it. The encoding is also the order of keys with equal
// counts: missing, false, true, numbers, strings, then by text.
const (
	keyMissing byte = iota
	keyFalse
	keyTrue
	keyNumber
	keyString
)

// appendKeyText appends a tag and a text that sorts as the text does: its
// bytes with 0 escaped as 0 0xFF, ended by 0 0. A length prefix would put
// "web" before "auth" among groups of equal counts.
func appendKeyText(dst []byte, tag byte, s string) []byte {
	dst = append(dst, tag)
	for i := 0; i < len(s); i++ {
		if s[i] == 0 {
			dst = append(dst, 0, 0xFF)
		} else {
			dst = append(dst, s[i])
		}
	}
	return append(dst, 0, 0)
}

// appendStringKey appends the key of a string.
func appendStringKey(dst []byte, s string) []byte { return appendKeyText(dst, keyString, s) }

// appendValueKey appends the key of a field value.
func appendValueKey(dst []byte, v storage.Value) []byte {
	switch v.Kind {
	case storage.KindInt:
		dst = append(dst, keyNumber)
		dst = strconv.AppendInt(dst, v.Int, 10) // no zero byte to escape
		return append(dst, 0, 0)
	case storage.KindFloat:
		if math.IsInf(v.Float, 0) || math.IsNaN(v.Float) {
			return appendKeyText(dst, keyString, v.Text())
		}
		return appendKeyText(dst, keyNumber, v.Text())
	case storage.KindBool:
		if v.Bool {
			return append(dst, keyTrue)
		}
		return append(dst, keyFalse)
	}
	return appendKeyText(dst, keyString, v.Str)
}

// appendTextKey appends the key of a value a secondary index keys by its
// text (Value.Text), for a field whose values in range are all strings
// (strings) or none (!strings). Without strings the text tells the kind:
// a number's text is a number, a bool's true or false, and the text of a
// float JSON cannot write is a string key anyway.
func appendTextKey(dst []byte, text string, strings bool) []byte {
	if strings {
		return appendStringKey(dst, text)
	}
	switch text {
	case "true":
		return append(dst, keyTrue)
	case "false":
		return append(dst, keyFalse)
	}
	if n, err := strconv.ParseInt(text, 10, 64); err == nil && strconv.FormatInt(n, 10) == text {
		return appendKeyText(dst, keyNumber, text)
	}
	if f, err := strconv.ParseFloat(text, 64); err == nil && !math.IsInf(f, 0) && !math.IsNaN(f) && strconv.FormatFloat(f, 'g', -1, 64) == text {
		return appendKeyText(dst, keyNumber, text)
	}
	return appendStringKey(dst, text)
}

// decodeKey turns an encoded key back into its components: nil, a bool, an
// int64 (a number whose text is an integer), a float64 or a string.
func decodeKey(k string) ([]any, error) {
	var out []any
	for len(k) > 0 {
		tag := k[0]
		k = k[1:]
		switch tag {
		case keyMissing:
			out = append(out, nil)
			continue
		case keyFalse:
			out = append(out, false)
			continue
		case keyTrue:
			out = append(out, true)
			continue
		case keyNumber, keyString:
		default:
			return nil, fmt.Errorf("BUG: group key tag %d", tag)
		}
		var b []byte
		ended := false
		for len(k) >= 2 {
			if k[0] != 0 {
				b = append(b, k[0])
				k = k[1:]
				continue
			}
			if k[1] == 0xFF {
				b = append(b, 0)
				k = k[2:]
				continue
			}
			k, ended = k[2:], true
			break
		}
		if !ended {
			return nil, fmt.Errorf("BUG: group key cut short")
		}
		text := string(b)
		if tag == keyString {
			out = append(out, text)
			continue
		}
		if i, err := strconv.ParseInt(text, 10, 64); err == nil && strconv.FormatInt(i, 10) == text {
			out = append(out, i) // not "-0", a float's
		} else if f, err := strconv.ParseFloat(text, 64); err == nil {
			out = append(out, f)
		} else {
			return nil, fmt.Errorf("BUG: group key number %q", text)
		}
	}
	return out, nil
}

// EncodeGroupKey returns a group key (as Group.Key holds them) as a string
// that identifies it and sorts the way groups of equal counts are listed:
// missing, false, true, numbers, strings, then by text. Merging the groups
// of several nodes needs both.
func EncodeGroupKey(key []any) string { return string(appendAnyKey(nil, key)) }

// appendAnyKey appends the encoded form of a decoded key (the inverse of
// decodeKey); a component of another type is keyed by its printed text.
func appendAnyKey(dst []byte, key []any) []byte {
	for _, k := range key {
		switch k := k.(type) {
		case nil:
			dst = append(dst, keyMissing)
		case bool:
			dst = appendValueKey(dst, storage.Bool(k))
		case int64:
			dst = appendValueKey(dst, storage.Int(k))
		case float64:
			dst = appendValueKey(dst, storage.Float(k))
		case string:
			dst = appendStringKey(dst, k)
		default:
			dst = appendStringKey(dst, fmt.Sprint(k))
		}
	}
	return dst
}

// keyText is a one-component key as histograms name groups in Groups:
// strings and numbers by their text, bools as true and false.
func keyText(k any) string {
	switch k := k.(type) {
	case nil:
		return ""
	case string:
		return k
	case int64:
		return strconv.FormatInt(k, 10)
	case float64:
		return strconv.FormatFloat(k, 'g', -1, 64)
	}
	return fmt.Sprint(k)
}

// groupOverhead is what one group costs besides its key's bytes: the map
// slot (a string header and an index, 24 bytes; the count, 8, is in a
// slice), the map's spare capacity and the old table while it grows, and
// the key's allocation rounded up to its size class. BenchmarkGroupMemory measures 135 bytes of heap per
// group of a 32-character id (a 34-byte key), which this charges as 146.
const groupOverhead = 112

// DefaultMaxGroupBytes is the default bound of a group-by's memory: some
// 1.8 million groups keyed by a 32-character trace id, room for a day of
// one million distinct values.
const DefaultMaxGroupBytes = 256 << 20

// LimitError is a query that needs more memory than the configuration
// allows. It answers 422 over HTTP: the request is valid, but must be
// narrowed (or the limit raised) to be answered.
type LimitError struct{ Msg string }

func (e *LimitError) Error() string { return e.Msg }

// TooLarge marks the error as a request too large to answer.
func (e *LimitError) TooLarge() bool { return true }

// groupBudget bounds the memory a group-by's groups take. When they would
// take more, it records a LimitError and cancels the query's context so
// that a scan feeding the groups stops at once.
type groupBudget struct {
	max    int64
	used   int64
	groups int64
	what   string // the group-by, for the error
	cancel context.CancelFunc
	err    error
}

// charge accounts for one more group of n bytes and reports whether it
// fits. Once it does not, nothing fits any more.
func (b *groupBudget) charge(n int64) bool {
	if b.err != nil {
		return false
	}
	b.used += n
	b.groups++
	if b.used <= b.max {
		return true
	}
	b.err = &LimitError{Msg: fmt.Sprintf(
		"%s has more distinct keys than limits.max_group_bytes (%s) allows: over %d groups in this range; "+
			"narrow the query with a shorter from..to or a filter in q, or raise limits.max_group_bytes",
		b.what, formatBytes(b.max), b.groups)}
	if b.cancel != nil {
		b.cancel()
	}
	return false
}

// check returns the budget's error, if any, in place of err: a scan
// stopped by the budget's cancel reports context.Canceled.
func (b *groupBudget) check(err error) error {
	if b.err != nil {
		return b.err
	}
	return err
}

func formatBytes(n int64) string {
	if n >= 1<<20 && n%(1<<20) == 0 {
		return strconv.FormatInt(n>>20, 10) + " MiB"
	}
	return strconv.FormatInt(n, 10) + " bytes"
}

// groupCounter is the hash aggregation of a group-by: counts by encoded
// key, within a budget. The map holds each key's index in counts rather
// than its count, so that adding to a known key is a lookup, which Go does
// without converting the key to a string: m[string(key)] += n would
// allocate the string on every call (10% of a top-10 hosts query).
type groupCounter struct {
	index  map[string]int
	counts []int64
	budget *groupBudget
}

func newGroupCounter(b *groupBudget) *groupCounter {
	return &groupCounter{index: map[string]int{}, budget: b}
}

// add counts n more entries under key, and reports false once the budget
// is spent (the count is then lost: the query fails).
func (c *groupCounter) add(key []byte, n int64) bool {
	if i, ok := c.index[string(key)]; ok { // no allocation for the lookup
		c.counts[i] += n
		return true
	}
	if !c.budget.charge(int64(len(key)) + groupOverhead) {
		return false
	}
	c.index[string(key)] = len(c.counts)
	c.counts = append(c.counts, n)
	return true
}

// top returns the limit largest groups, ties in key order, and the sum
// of the counts of the others: a heap of limit groups, so that a million
// groups are not sorted to list ten.
func (c *groupCounter) top(limit int) ([]Group, int64, error) {
	h := make(groupHeap, 0, min(limit, len(c.counts)))
	var other int64
	for k, i := range c.index {
		n := c.counts[i]
		other += n
		g := countedKey{k, n}
		switch {
		case len(h) < limit:
			heap.Push(&h, g)
		case before(g, h[0]):
			h[0] = g
			heap.Fix(&h, 0)
		}
	}
	if len(h) == 0 {
		return nil, other, nil
	}
	groups := make([]Group, len(h))
	for i := len(h) - 1; i >= 0; i-- {
		g := heap.Pop(&h).(countedKey)
		key, err := decodeKey(g.key)
		if err != nil {
			return nil, 0, err
		}
		groups[i] = Group{Key: key, Count: g.count}
		other -= g.count
	}
	return groups, other, nil
}

type countedKey struct {
	key   string
	count int64
}

// before reports whether a is listed before b: larger count, then key.
func before(a, b countedKey) bool {
	if a.count != b.count {
		return a.count > b.count
	}
	return a.key < b.key
}

// groupHeap is a heap whose root is the group listed last.
type groupHeap []countedKey

func (h groupHeap) Len() int           { return len(h) }
func (h groupHeap) Less(i, j int) bool { return before(h[j], h[i]) }
func (h groupHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *groupHeap) Push(x any)        { *h = append(*h, x.(countedKey)) }
func (h *groupHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}
