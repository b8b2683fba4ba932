package storage

import "encoding/binary"

// The keyspace. Every key starts with one namespace byte; logs and their
// index keys continue with the UTC day so that retention drops a whole day
// with one DropPrefix instead of a delete per log.
//
//	h <day:4> <lastSeq:8>                                → block header record (blocks.go)
//	k <day:4> <lastSeq:8>                                → block body
//	p <day:4> <lastSeq:8>                                → the block's template counts, apart from its
//	                                                        header (block.TakeTemplateLevels); absent
//	                                                        when the header keeps them or there are none
//	e <day:4> <nanos:8> <seq:8>                          → one encoded entry: the layout before blocks,
//	                                                        read only by MigrateToBlocks
//	i <day:4> <kind:1> <name> <value> <firstSeq:8>       → posting list of one commit
//	d <day:4>                                            → empty: the day has data
//	j <lastSeq:8>                                        → journal record of one commit
//	c <consumer>                                         → checkpoint (uvarint sequence)
//	m <name>                                             → metadata (schema version, sequence)
//	b <bucket> 0x00 <key>                                → other packages' records
//	t <stamp:8> <part:4>                                 → tombstones: IDs of deleted entries (16 bytes each);
//	                                                        part 0xffffffff, empty: that deletion is complete
//
// <name> and <value> are uvarint length-prefixed so that one value is never a
// prefix of another in a scan.
const (
	nsHeader     = 'h'
	nsBlock      = 'k'
	nsTemplates  = 'p'
	nsEntry      = 'e'
	nsPosting    = 'i'
	nsDay        = 'd'
	nsJournal    = 'j'
	nsCheckpoint = 'c'
	nsMeta       = 'm'
	nsBucket     = 'b'
	nsTombstone  = 't'
)

// Index kinds of posting lists.
const (
	kindLevel  byte = 'L'
	kindSource byte = 'S'
	kindTag    byte = 'T'
	kindField  byte = 'F'
)

func appendDay(b []byte, d Day) []byte { return binary.BigEndian.AppendUint32(b, uint32(d)) }

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func entryKey(id ID) []byte {
	b := make([]byte, 0, 21)
	b = append(b, nsEntry)
	b = appendDay(b, DayOf(id.Nanos))
	b = binary.BigEndian.AppendUint64(b, uint64(id.Nanos))
	return binary.BigEndian.AppendUint64(b, id.Seq)
}

func entryDayPrefix(d Day) []byte { return appendDay([]byte{nsEntry}, d) }

func idFromEntryKey(k []byte) ID { return IDFromBytes(k[5:21]) }

// postingPrefix is the prefix of every posting list of one index value on one
// day. name is empty for the built-in kinds.
func postingPrefix(d Day, kind byte, name, value string) []byte {
	b := make([]byte, 0, 8+len(name)+len(value)+4)
	b = append(b, nsPosting)
	b = appendDay(b, d)
	b = append(b, kind)
	if kind == kindField {
		b = appendString(b, name)
	}
	return appendString(b, value)
}

func postingDayPrefix(d Day) []byte { return appendDay([]byte{nsPosting}, d) }

func dayKey(d Day) []byte { return appendDay([]byte{nsDay}, d) }

func journalKey(lastSeq uint64) []byte {
	return binary.BigEndian.AppendUint64([]byte{nsJournal}, lastSeq)
}

func checkpointKey(consumer string) []byte { return append([]byte{nsCheckpoint}, consumer...) }

func metaKey(name string) []byte { return append([]byte{nsMeta}, name...) }

func tombstoneKey(stamp int64, part int) []byte {
	b := binary.BigEndian.AppendUint64([]byte{nsTombstone}, uint64(stamp))
	return binary.BigEndian.AppendUint32(b, uint32(part))
}

func bucketPrefix(bucket string) []byte {
	b := append([]byte{nsBucket}, bucket...)
	return append(b, 0)
}
