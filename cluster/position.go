package cluster

import (
	"cmp"
	"encoding/base64"
	"fmt"
	"math"
	"unicode/utf8"

	"github.com/logengine/logengine/search"
	"github.com/logengine/logengine/storage"
)

// A cluster search orders entries as one node does (the sort key, then
// the id, in the sort's direction) and entries with one key and one id,
// which two nodes may both hold since each numbers its own entries, by
// node name. That is a total order over the cluster, so one position in
// it (the last entry of a page and its node) gives every node's position
// exactly: a node continues after its entries that sort before it, which
// is the node's own cursor, moved by one id when its name sorts after the
// position's node. A single position also stays right when the peers
// change between pages (a DNS name resolving anew, a peer back up).

// position is the last entry of a page in the cluster order.
type position struct {
	sort  search.Sort
	level storage.Level
	id    storage.ID
	node  string
}

// positionVersion tells a cluster cursor from a node's (version 1).
const positionVersion = 2

// maxNodeName bounds a node name, so a cursor stays short.
const maxNodeName = 255

func (p position) encode() string {
	id := p.id.Bytes()
	b := make([]byte, 0, 3+len(id)+len(p.node))
	b = append(b, positionVersion, byte(p.sort), byte(p.level))
	b = append(b, id[:]...)
	b = append(b, p.node...)
	return base64.RawURLEncoding.EncodeToString(b)
}

func decodePosition(s string, sort search.Sort) (position, error) {
	invalid := &search.InputError{Msg: "cursor is not valid: pass the next_cursor of the previous page unchanged"}
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || len(b) < 20 || len(b) > 19+maxNodeName || b[0] != positionVersion {
		return position{}, invalid
	}
	p := position{sort: search.Sort(b[1]), level: storage.Level(b[2]), id: storage.IDFromBytes(b[3:19]), node: string(b[19:])}
	if !utf8.ValidString(p.node) {
		return position{}, invalid
	}
	if p.sort != sort {
		return position{}, &search.InputError{Msg: fmt.Sprintf("cursor belongs to sort=%s: repeat the same q, from, to, sort and limit with the cursor", p.sort)}
	}
	return p, nil
}

// descending reports whether ids run from the newest in sort.
func descending(sort search.Sort) bool {
	return sort == search.SortTimeDesc || sort == search.SortSeverityDesc
}

// localCursor is the cursor of node's own search that continues after p:
// after p's entry itself, or at it when node sorts after p's node (the
// node's entry with p's key and id, if any, comes after p).
func localCursor(p position, node string) string {
	id := p.id
	if node > p.node {
		if descending(p.sort) {
			id = nextID(id)
		} else {
			id = prevID(id)
		}
	}
	return search.EncodeCursor(p.sort, p.level, id)
}

// nextID and prevID are the ids just after and before id; the ends of the
// id space stay put (no entry has them: sequences start at 1).
func nextID(id storage.ID) storage.ID {
	switch {
	case id.Seq != math.MaxUint64:
		return storage.ID{Nanos: id.Nanos, Seq: id.Seq + 1}
	case id.Nanos == math.MaxInt64:
		return id
	}
	return storage.ID{Nanos: id.Nanos + 1}
}

func prevID(id storage.ID) storage.ID {
	switch {
	case id.Seq != 0:
		return storage.ID{Nanos: id.Nanos, Seq: id.Seq - 1}
	case id.Nanos == math.MinInt64:
		return id
	}
	return storage.ID{Nanos: id.Nanos - 1, Seq: math.MaxUint64}
}

// nodeEntry is an entry and the node holding it.
type nodeEntry struct {
	node  string
	entry storage.Entry
}

// compare orders a and b as a cluster search of sort lists them.
func compare(sort search.Sort, a, b *nodeEntry) int {
	var c int
	switch sort {
	case search.SortSeverityDesc:
		c = cmp.Compare(int(b.entry.Level), int(a.entry.Level))
	case search.SortSeverityAsc:
		c = cmp.Compare(int(a.entry.Level), int(b.entry.Level))
	}
	if c == 0 {
		c = a.entry.ID.Compare(b.entry.ID)
		if descending(sort) {
			c = -c
		}
	}
	if c == 0 {
		c = cmp.Compare(a.node, b.node)
	}
	return c
}
