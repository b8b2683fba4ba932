package block

import (
	"encoding/binary"
	"fmt"
	"math"

	"github.com/logengine/logengine/storage/logs"
)

// reader reads the primitives of headers and columns. Its error is sticky:
// after the first failure every read returns a zero value, so that decoders
// check once at the end instead of after every read.
type reader struct {
	b   []byte
	err error
}

func (r *reader) fail(what string) {
	if r.err == nil {
		r.err = fmt.Errorf("%w: %s", ErrCorrupt, what)
	}
	r.b = nil
}

func (r *reader) len() int { return len(r.b) }

func (r *reader) byte() byte {
	if len(r.b) < 1 {
		r.fail("unexpected end")
		return 0
	}
	c := r.b[0]
	r.b = r.b[1:]
	return c
}

func (r *reader) uvarint() uint64 {
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.fail("bad uvarint")
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) varint() int64 {
	v, n := binary.Varint(r.b)
	if n <= 0 {
		r.fail("bad varint")
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) uint64() uint64 {
	if len(r.b) < 8 {
		r.fail("unexpected end")
		return 0
	}
	v := binary.LittleEndian.Uint64(r.b)
	r.b = r.b[8:]
	return v
}

// count reads a count or length that must be at most limit; callers pass
// what the rest of the input can hold, so corrupt input cannot make them
// allocate more than its size.
func (r *reader) count(limit int) int {
	n := r.uvarint()
	if limit < 0 || n > uint64(limit) {
		r.fail(fmt.Sprintf("count %d over %d", n, limit))
		return 0
	}
	return int(n)
}

func (r *reader) bytes(n int) []byte {
	if n > len(r.b) {
		r.fail("unexpected end")
		return nil
	}
	b := r.b[:n:n]
	r.b = r.b[n:]
	return b
}

func (r *reader) string() string {
	return string(r.bytes(r.count(len(r.b))))
}

func (r *reader) value() logs.Value {
	switch k := logs.Kind(r.byte()); k {
	case logs.KindString:
		return logs.String(r.string())
	case logs.KindInt:
		return logs.Int(r.varint())
	case logs.KindFloat:
		return logs.Float(math.Float64frombits(r.uint64()))
	case logs.KindBool:
		switch r.byte() {
		case 0:
			return logs.Bool(false)
		case 1:
			return logs.Bool(true)
		}
		r.fail("bad bool")
	default:
		r.fail(fmt.Sprintf("value kind %d", k))
	}
	return logs.Value{}
}

// done fails unless everything was read: a column with bytes left over was
// not written by this format.
func (r *reader) done() error {
	if r.err == nil && len(r.b) != 0 {
		r.fail(fmt.Sprintf("%d bytes left over", len(r.b)))
	}
	return r.err
}
