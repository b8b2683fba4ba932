// Package block is the format of a block of log entries: the entries of one
// stream and one UTC day, sorted by ID, stored column by column and
// compressed, with a small header kept apart from the body. It owns the
// format and nothing else (no Badger types, keys or I/O), so that its
// property and fuzz tests need no database. Storage decides which entries
// form a block and where its header and body are kept.
//
// # DESIGN
//
// Why columns. A query on status or trace_id must read those values and not
// one byte of message, and values of one kind compress far better side by
// side than rows do: timestamps become small deltas, a host name repeated
// 4,000 times becomes a dictionary of a few entries and one byte each, and
// messages of the same templates sit next to each other. Row-wise zstd over
// 4,096 lines kept ~43 B per line; VictoriaLogs' columns keep ~34.
//
// Why zstd, one frame per column. klauspost's zstd is already in the module
// graph through Badger, decodes at GB/s and its entropy stage takes what the
// column encodings leave (the skew of levels, the digits of ids). Each column
// is its own frame so that one column decompresses without the others; the
// frame's checksum catches a corrupt column; a column too small to gain is
// stored raw. The fastest level: on blocks of 4,096 loggen entries it cost
// ~30% less CPU than the default for 3% more bytes (20.2 against 19.6 B per
// entry, header included; today's per-entry codec writes 116 B before
// Badger compresses it). The encoder and decoder are shared by the package:
// they are expensive to build and their EncodeAll and DecodeAll are safe
// for concurrent use. The exception is a messages column of more than 256
// distinct values in a block of 2,048 entries or more (a merged block): it
// is stored in frames of 1,024 rows, each a string stream compressed on its
// own (CodecFrames, see frameRows), so that a point read of a few entries
// decompresses one frame instead of megabytes; in a block of several
// sources whose lines are alike within a source, the frames hold the rows
// grouped by source (CodecFramesBySource, see sourceOrder and
// groupingPays), where zstd finds far more to match.
//
// Why a header apart. Planning, counts and histograms must not touch bodies.
// The header (Header, encoded by Header.Marshal) holds the entry count, the
// first and last ID (so the time range), the count of each level, the
// distinct tags, and for every column its byte range in the body, the kinds
// of its values, the min and max of its numbers and, for a column of few
// distinct values, those values: a block is skipped for level:error,
// status:500 or host:web-1 from its header alone, and a query on status
// decompresses the status column and nothing else. Storage keeps headers
// where scanning them is cheap; bodies are read only for the blocks a query
// must see.
//
// The columns, in header and body order:
//
//	ids        first time and sequence, then the time deltas (uvarint, never
//	           negative as entries are sorted), then the sequence deltas
//	           (zig-zag: a later time may carry an older sequence)
//	levels     one byte per entry; empty when the block has one level, which
//	           the header's counts name
//	sources    a string stream (below); usually one value for the block
//	messages   a string stream
//	tags       per entry a count and indexes into the header's sorted tags
//	layouts    the distinct sequences of field columns the entries have, then
//	           per entry which one (nothing when there is one): each entry's
//	           field order, missing fields and repeated names come back exact
//	templates  optional, absent when every template id is 0: one uvarint per
//	           entry (0 = none), for pattern mining
//	fields     one column per field name, in first-seen order: the values of
//	           the entries that have it, in entry order. A kind byte per value
//	           only when kinds mix in the column, then the ints (zig-zag
//	           varints), the floats (8 little-endian bytes of their bits, so
//	           NaN payloads and -0 survive), the bools (a byte each) and the
//	           strings (a string stream)
//
// A string stream is a dictionary when its values are at most 256 distinct
// ones (the values, then one index byte per entry, or nothing when there is
// one value), else the byte length of the lengths, the lengths as uvarints,
// then the bytes of all values: lengths apart from text compress better than
// interleaved.
//
// Everything Decode reads is bounded before it allocates: counts by the
// limits below and by the bytes actually present, decompressed sizes by the
// header and by what zstd can expand a frame to, so corrupt input returns an
// error wrapping ErrCorrupt and never panics or allocates gigabytes.
package block

import (
	"errors"
	"fmt"
	"math"

	"github.com/logengine/logengine/storage/logs"
)

// Limits of one block. Encode refuses a larger block and Decode a header that
// claims one, so that a corrupt count cannot make it allocate more than a
// few hundred MB. Storage keeps its blocks well below them.
const (
	// MaxEntries bounds the entries of a block.
	MaxEntries = 1 << 16
	// MaxValues bounds the tags plus the field values of a block, all
	// entries together.
	MaxValues = 1 << 21
	// MaxRawBytes bounds the size of all columns of a block before
	// compression.
	MaxRawBytes = 128 << 20
)

// Header statistics limits: they keep headers small whatever the data.
const (
	// MaxSetValues is the most distinct values a column's Set lists.
	MaxSetValues = 16
	// MaxSetValueBytes is the longest string value a Set lists; a column
	// with a longer distinct value has no Set.
	MaxSetValueBytes = 64
	// MaxDistinct is the most distinct values a column counts exactly.
	MaxDistinct = 256
)

// ErrCorrupt is wrapped by every error about an undecodable header or body.
var ErrCorrupt = errors.New("corrupt block")

// Encode encodes entries as one block: they must belong to one UTC day, be
// sorted by ID (time, then sequence) with no ID twice, and have each Time
// agree with their ID, as storage hands them out. templates is either nil
// (the entries' Pattern ids are stored) or holds one template id per entry
// (0 = none), which Decode gives back as the entries' Pattern. The header and the body are
// returned apart; the body's columns are located by the header.
func Encode(entries []logs.Entry, templates []uint32) (Header, []byte, error) {
	if err := validate(entries, templates); err != nil {
		return Header{}, nil, fmt.Errorf("encode block: %w", err)
	}
	var b builder
	h, body, err := b.build(entries, templates)
	if err != nil {
		return Header{}, nil, fmt.Errorf("encode block of %d entries from %s: %w", len(entries), entries[0].ID, err)
	}
	return h, body, nil
}

func validate(entries []logs.Entry, templates []uint32) error {
	if len(entries) == 0 {
		return errors.New("no entries")
	}
	if len(entries) > MaxEntries {
		return fmt.Errorf("%d entries, more than %d", len(entries), MaxEntries)
	}
	if templates != nil && len(templates) != len(entries) {
		return fmt.Errorf("%d template ids for %d entries", len(templates), len(entries))
	}
	day := logs.DayOf(entries[0].ID.Nanos)
	for i := range entries {
		e := &entries[i]
		if e.ID.Nanos < 0 {
			return fmt.Errorf("entry %d: id %s is before 1970", i, e.ID)
		}
		if e.Time.UnixNano() != e.ID.Nanos {
			return fmt.Errorf("entry %d: time %s does not match id %s", i, e.Time.Format("2006-01-02T15:04:05.999999999Z07:00"), e.ID)
		}
		if d := logs.DayOf(e.ID.Nanos); d != day {
			return fmt.Errorf("entry %d: id %s is on %s, the block's first entry on %s", i, e.ID, d, day)
		}
		if i > 0 && e.ID.Compare(entries[i-1].ID) <= 0 {
			return fmt.Errorf("entry %d: id %s does not follow %s: entries must be sorted by time and sequence, each id once", i, e.ID, entries[i-1].ID)
		}
		if !e.Level.Valid() {
			return fmt.Errorf("entry %d (%s): level %d is not one of 1, 5, 9, 13, 17, 21", i, e.ID, e.Level)
		}
		for _, f := range e.Fields {
			if f.Value.Kind < logs.KindString || f.Value.Kind > logs.KindBool {
				return fmt.Errorf("entry %d (%s): field %q has kind %d", i, e.ID, f.Name, f.Value.Kind)
			}
		}
	}
	return nil
}

// levelIndex maps a valid level onto its place in logs.Levels: the
// levels are 1, 5, 9, ... 21.
func levelIndex(l logs.Level) int { return (int(l) - 1) / 4 }

// KindSet is a set of value kinds.
type KindSet uint8

// Has reports whether k is in the set.
func (s KindSet) Has(k logs.Kind) bool { return s&kindBit(k) != 0 }

func kindBit(k logs.Kind) KindSet { return 1 << k }

// allKinds is the set of every valid kind.
const allKinds = KindSet(1<<logs.KindString | 1<<logs.KindInt | 1<<logs.KindFloat | 1<<logs.KindBool)

// floatMinMax widens [lo, hi] to hold f; NaNs are left out of min and max.
func floatMinMax(lo, hi, f float64) (float64, float64) {
	if math.IsNaN(f) {
		return lo, hi
	}
	return math.Min(lo, f), math.Max(hi, f)
}
