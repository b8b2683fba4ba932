package logs

import (
	"encoding/binary"
	"fmt"
	"math"
	"time"
)

// MinID and MaxID bound every ID; use them for open time ranges.
var (
	MinID = ID{Nanos: 0, Seq: 0}
	MaxID = ID{Nanos: math.MaxInt64, Seq: math.MaxUint64}
)

// ID identifies an entry: its timestamp in nanoseconds since the Unix epoch
// and the sequence number the store gave it. IDs compare like primary keys,
// so sorting by ID is sorting by time, ties broken by arrival.
type ID struct {
	Nanos int64
	Seq   uint64
}

// IDLen is the length of an ID's text form.
const IDLen = 26

// crockford is Crockford's base32 alphabet; it is in ASCII order, so the text
// form of IDs sorts exactly like the IDs (what Bleve's _id ordering needs).
const crockford = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

var crockfordIndex = func() [256]int8 {
	var t [256]int8
	for i := range t {
		t[i] = -1
	}
	for i := 0; i < len(crockford); i++ {
		t[crockford[i]] = int8(i)
		t[crockford[i]|0x20] = int8(i) // lower case too
	}
	return t
}()

// Time returns the entry time of the ID.
func (id ID) Time() time.Time { return time.Unix(0, id.Nanos).UTC() }

// Compare orders IDs by time, then sequence.
func (id ID) Compare(o ID) int {
	switch {
	case id.Nanos < o.Nanos:
		return -1
	case id.Nanos > o.Nanos:
		return 1
	case id.Seq < o.Seq:
		return -1
	case id.Seq > o.Seq:
		return 1
	}
	return 0
}

// Bytes returns the 16-byte big-endian form used in keys.
func (id ID) Bytes() [16]byte {
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], uint64(id.Nanos))
	binary.BigEndian.PutUint64(b[8:], id.Seq)
	return b
}

// IDFromBytes is the inverse of Bytes.
func IDFromBytes(b []byte) ID {
	return ID{Nanos: int64(binary.BigEndian.Uint64(b[:8])), Seq: binary.BigEndian.Uint64(b[8:16])}
}

// String returns the 26-character text form: the 128 bits of Bytes in
// Crockford base32, most significant first (like a ULID).
func (id ID) String() string {
	b := id.Bytes()
	hi := binary.BigEndian.Uint64(b[:8])
	lo := binary.BigEndian.Uint64(b[8:])
	var out [IDLen]byte
	// 130 bits of output for 128 bits of input: the first character holds
	// the top 3 bits.
	for i := IDLen - 1; i >= 0; i-- {
		out[i] = crockford[lo&31]
		lo = lo>>5 | hi<<59
		hi >>= 5
	}
	return string(out[:])
}

// ParseID parses the text form of an ID.
func ParseID(s string) (ID, error) {
	if len(s) != IDLen {
		return ID{}, fmt.Errorf("id %q: want %d characters, got %d", s, IDLen, len(s))
	}
	var hi, lo uint64
	for i := 0; i < IDLen; i++ {
		v := crockfordIndex[s[i]]
		if v < 0 {
			return ID{}, fmt.Errorf("id %q: character %q at position %d is not base32", s, s[i], i+1)
		}
		if i == 0 && v > 7 {
			return ID{}, fmt.Errorf("id %q: out of range", s)
		}
		hi = hi<<5 | lo>>59
		lo = lo<<5 | uint64(v)
	}
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], hi)
	binary.BigEndian.PutUint64(b[8:], lo)
	return IDFromBytes(b[:]), nil
}
