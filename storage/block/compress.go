package block

import (
	"fmt"
	"sync"

	"github.com/klauspost/compress/zstd"
)

// minCompress is the smallest column worth a zstd frame: below it the
// frame's header and checksum (~13 bytes) eat what compression saves.
const minCompress = 64

// The shared zstd encoder and decoder, built on first use: building one
// costs far more than a block's columns, and their EncodeAll and DecodeAll
// are safe for concurrent use.
var (
	zstdEncoder = sync.OnceValue(func() *zstd.Encoder {
		enc, err := zstd.NewWriter(nil,
			zstd.WithEncoderLevel(zstd.SpeedFastest),
			// A block is at most MaxRawBytes; a window as large as a
			// typical column is all matches can use anyway.
			zstd.WithWindowSize(1<<20),
			zstd.WithEncoderCRC(true))
		if err != nil {
			panic(fmt.Sprintf("BUG: zstd encoder options: %v", err))
		}
		return enc
	})
	zstdDecoder = sync.OnceValue(func() *zstd.Decoder {
		dec, err := zstd.NewReader(nil,
			zstd.WithDecoderConcurrency(0),
			// Decode allocates exactly the header's raw length and
			// zstd must not write past it.
			zstd.WithDecodeAllCapLimit(true),
			zstd.WithDecoderMaxMemory(MaxRawBytes))
		if err != nil {
			panic(fmt.Sprintf("BUG: zstd decoder options: %v", err))
		}
		return dec
	})
)

// appendColumn appends raw to body, compressed when that saves bytes, and
// returns the body with the column's codec.
func appendColumn(body, raw []byte) ([]byte, Codec) {
	if len(raw) >= minCompress {
		start := len(body)
		out := zstdEncoder().EncodeAll(raw, body)
		if len(out)-start < len(raw) {
			return out, CodecZstd
		}
		body = out[:start]
	}
	return append(body, raw...), CodecRaw
}

// columnBytes returns the raw bytes of column c of body: decompressed into
// a new buffer, or a sub-slice of body when stored raw.
func columnBytes(c *Column, body []byte) ([]byte, error) {
	return columnBytesInto(c, body, nil)
}

// columnBytesInto is columnBytes decompressing into dst's array when it is
// large enough (a raw column is still a sub-slice of body).
func columnBytesInto(c *Column, body []byte, dst []byte) ([]byte, error) {
	if c.Offset < 0 || c.Length < 0 || c.Offset > len(body) || c.Length > len(body)-c.Offset {
		return nil, fmt.Errorf("%w: %s column %q at %d+%d past the body's %d bytes", ErrCorrupt, c.Kind, c.Name, c.Offset, c.Length, len(body))
	}
	stored := body[c.Offset : c.Offset+c.Length : c.Offset+c.Length]
	switch c.Codec {
	case CodecRaw:
		if c.RawLength != c.Length {
			return nil, fmt.Errorf("%w: raw %s column %q of %d bytes claims %d", ErrCorrupt, c.Kind, c.Name, c.Length, c.RawLength)
		}
		return stored, nil
	case CodecZstd:
		// The header's check bounded RawLength by what a frame of Length
		// bytes can expand to; a frame that states another size is
		// refused before that much is allocated. (Small frames state
		// none: the decoder's cap limit bounds them.)
		var fh zstd.Header
		if err := fh.Decode(stored); err != nil || (fh.HasFCS && fh.FrameContentSize != uint64(c.RawLength)) {
			return nil, fmt.Errorf("%w: %s column %q: frame header does not match %d bytes", ErrCorrupt, c.Kind, c.Name, c.RawLength)
		}
		if cap(dst) < c.RawLength {
			dst = make([]byte, 0, c.RawLength)
		}
		raw, err := zstdDecoder().DecodeAll(stored, dst[:0:c.RawLength])
		if err != nil {
			return nil, fmt.Errorf("%w: %s column %q: %v", ErrCorrupt, c.Kind, c.Name, err)
		}
		if len(raw) != c.RawLength {
			return nil, fmt.Errorf("%w: %s column %q: %d bytes once decompressed, header says %d", ErrCorrupt, c.Kind, c.Name, len(raw), c.RawLength)
		}
		return raw, nil
	}
	return nil, fmt.Errorf("%w: %s column %q has codec %d", ErrCorrupt, c.Kind, c.Name, c.Codec)
}
