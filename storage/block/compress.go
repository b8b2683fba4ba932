package block

import (
	"encoding/binary"
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

// frameRows is how many rows a frame of a framed column holds, and
// minFramedRows the fewest rows a framed column has: a smaller column is
// one frame.
//
// Why frames. A point read of one entry of a merged block (a keyword-index
// candidate: its filter said a request id may be among 256 entries)
// decompressed the block's whole messages column, ~1.6 MB for 8,000
// entries, to check a few hundred; a 12M-log day's needle did that for
// some 40 blocks whose filters erred. In frames of 1,024 rows it
// decompresses one or two. zstd finds most of a log line's matches in the
// lines just before it, so frames of ~200 KB cost little ratio (measured
// in the README's block section).
// Variables so that tests can frame small blocks; the rows per frame are
// stored with each framed column.
var (
	frameRows     = 1024
	minFramedRows = 2 * frameRows
)

// Why rows grouped by source. A merged block holds the logs of every
// source that wrote in its span, interleaved, and a frame of 1,024
// interleaved rows gives zstd only a few lines of each source to match
// against. Real logs are alike within a source and unlike across sources:
// on the Loghub samples of eight systems interleaved in blocks of 8,192,
// the messages took 14.5 bytes per entry in row order and 8.7 grouped by
// source, against 8.0 in blocks of one source each (BenchmarkStreamLayout).
// Only the messages are grouped, where nearly all of that gain is, and
// the order is not stored: it follows from the sources column, which
// costs a byte per row and which a read of whole entries decodes anyway.
// The other columns stay in row (ID) order, so that IDs stay deltas,
// sequence lookups and merges are unchanged, and rows keep one index.
// A block is grouped only where it pays (groupingPays): grouped, the rows
// of a span of time lie in every frame, so a read of a few recent rows
// decompresses them all.

// sourceOrder returns the rows of a block in source order: the rows whose
// source has dictionary index 0 in row order, then index 1, and so on,
// for a sources column of d sources whose index gives each row's.
func sourceOrder(index []byte, d int) []int32 {
	start := make([]int32, d+1)
	for _, x := range index {
		start[int(x)+1]++
	}
	for i := 1; i <= d; i++ {
		start[i] += start[i-1]
	}
	order := make([]int32, len(index))
	for row, x := range index {
		order[start[x]] = int32(row)
		start[x]++
	}
	return order
}

// frame is one frame of a framed column.
type frame struct {
	stored    []byte // in the body
	rawLength int
	codec     Codec
}

// appendFramed appends a framed column to body: the rows per frame, then
// per frame its stored length, raw length and codec, then the frames, each
// compressed on its own (appendColumn). raws holds each frame's raw bytes.
// It returns the body and the column's raw length (the frames' together).
func appendFramed(body []byte, rows int, raws [][]byte) ([]byte, int) {
	// The table comes first and holds the stored lengths, so the frames
	// are compressed one after the other into frames first.
	var frames []byte
	ends := make([]int, len(raws))
	codecs := make([]Codec, len(raws))
	for i, raw := range raws {
		frames, codecs[i] = appendColumn(frames, raw)
		ends[i] = len(frames)
	}
	body = binary.AppendUvarint(body, uint64(rows))
	total, start := 0, 0
	for i := range raws {
		body = binary.AppendUvarint(body, uint64(ends[i]-start))
		body = binary.AppendUvarint(body, uint64(len(raws[i])))
		body = append(body, byte(codecs[i]))
		total += len(raws[i])
		start = ends[i]
	}
	return append(body, frames...), total
}

// framesOf returns the rows per frame and the frames of framed column c of
// a block of count rows, checked against the column's lengths.
func framesOf(c *Column, body []byte, count int) (int, []frame, error) {
	if c.Offset < 0 || c.Length < 0 || c.Offset > len(body) || c.Length > len(body)-c.Offset {
		return 0, nil, fmt.Errorf("%w: %s column %q at %d+%d past the body's %d bytes", ErrCorrupt, c.Kind, c.Name, c.Offset, c.Length, len(body))
	}
	r := reader{b: body[c.Offset : c.Offset+c.Length : c.Offset+c.Length]}
	rows := r.count(MaxEntries)
	if r.err == nil && rows == 0 {
		r.fail("frames of no rows")
	}
	if r.err != nil {
		return 0, nil, fmt.Errorf("%s column: %w", c.Kind, r.err)
	}
	n := (count + rows - 1) / rows
	// A frame's table entry takes at least 3 bytes.
	if n > r.len()/3 {
		return 0, nil, fmt.Errorf("%w: %s column of %d bytes for %d frames", ErrCorrupt, c.Kind, c.Length, n)
	}
	frames := make([]frame, n)
	lengths := make([]int, n)
	total, raw := 0, 0
	for i := range frames {
		lengths[i] = r.count(c.Length)
		frames[i].rawLength = r.count(c.RawLength)
		frames[i].codec = Codec(r.byte())
		total += lengths[i]
		raw += frames[i].rawLength
	}
	if r.err == nil && (total != r.len() || raw != c.RawLength) {
		r.fail(fmt.Sprintf("frames of %d bytes (%d raw) in %d bytes (%d raw)", total, raw, r.len(), c.RawLength))
	}
	if r.err != nil {
		return 0, nil, fmt.Errorf("%s column: %w", c.Kind, r.err)
	}
	rest := r.b
	for i := range frames {
		frames[i].stored, rest = rest[:lengths[i]:lengths[i]], rest[lengths[i]:]
		f := &frames[i]
		switch f.codec {
		case CodecRaw:
			if f.rawLength != lengths[i] {
				return 0, nil, fmt.Errorf("%w: raw frame %d of %d bytes claims %d", ErrCorrupt, i, lengths[i], f.rawLength)
			}
		case CodecZstd:
		default:
			return 0, nil, fmt.Errorf("%w: frame %d has codec %d", ErrCorrupt, i, f.codec)
		}
	}
	return rows, frames, nil
}

// frameBytes returns the raw bytes of f, decompressed into dst's array
// when it is large enough.
func frameBytes(c *Column, f *frame, dst []byte) ([]byte, error) {
	fc := Column{Kind: c.Kind, Name: c.Name, Codec: f.codec, Length: len(f.stored), RawLength: f.rawLength}
	if f.codec == CodecZstd && f.rawLength > len(f.stored)<<15 {
		return nil, fmt.Errorf("%w: %s column: a frame of %d bytes claims %d once decompressed", ErrCorrupt, c.Kind, len(f.stored), f.rawLength)
	}
	return columnBytesInto(&fc, f.stored, dst)
}
