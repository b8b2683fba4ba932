package ingest

import (
	"bytes"
	"encoding/binary"
	"math"
	"net/netip"
	"os"
	"sort"
	"testing"

	"github.com/oschwald/maxminddb-golang/v2"
)

// This file writes MaxMind DB files for the geoip tests, following the
// format's specification (maxmind.github.io/MaxMind-DB): a binary search
// tree over the address bits with 32-bit records, 16 zero bytes, a data
// section of typed values, then a marker and a metadata map. Real
// databases cannot be shipped with the tests (their licences), and the
// reader is best checked against bytes it did not write itself.

// mmdbNetwork is one network of a test database and its record.
type mmdbNetwork struct {
	prefix string // "81.2.69.0/24" or "2001:4860::/32"
	record map[string]any
}

// writeMMDB writes an IPv6 database (IPv4 networks sit under ::/96, as in
// MaxMind's own files) to path.
func writeMMDB(tb testing.TB, path, dbType string, networks []mmdbNetwork) {
	tb.Helper()
	if err := os.WriteFile(path, buildMMDB(tb, dbType, networks), 0o644); err != nil {
		tb.Fatal(err)
	}
}

type mmdbNode struct {
	child [2]*mmdbNode
	data  [2]int // 1 + offset in the data section; 0 for none
}

func buildMMDB(tb testing.TB, dbType string, networks []mmdbNetwork) []byte {
	tb.Helper()
	root := &mmdbNode{}
	var data bytes.Buffer
	for _, n := range networks {
		p := netip.MustParsePrefix(n.prefix).Masked()
		addr, bits := p.Addr(), p.Bits()
		if addr.Is4() {
			addr, bits = netip.AddrFrom16(addr.As16()), bits+96
			// AddrFrom16 of a 4-byte address gives ::ffff:a.b.c.d; the
			// tree keeps IPv4 under ::a.b.c.d.
			b := addr.As16()
			b[10], b[11] = 0, 0
			addr = netip.AddrFrom16(b)
		}
		if bits == 0 {
			tb.Fatalf("network %s: a /0 has no record slot in this writer", n.prefix)
		}
		offset := data.Len()
		mmdbEncode(tb, &data, n.record)
		ip := addr.As16()
		node := root
		for i := 0; i < bits; i++ {
			bit := (ip[i/8] >> (7 - i%8)) & 1
			if i == bits-1 {
				node.data[bit] = offset + 1
				break
			}
			if node.child[bit] == nil {
				node.child[bit] = &mmdbNode{}
			}
			node = node.child[bit]
		}
	}

	// Number the nodes breadth first from the root.
	var nodes []*mmdbNode
	index := map[*mmdbNode]uint32{}
	for queue := []*mmdbNode{root}; len(queue) > 0; queue = queue[1:] {
		n := queue[0]
		index[n] = uint32(len(nodes))
		nodes = append(nodes, n)
		for _, c := range n.child {
			if c != nil {
				queue = append(queue, c)
			}
		}
	}
	count := uint32(len(nodes))
	var out bytes.Buffer
	for _, n := range nodes {
		for bit := range 2 {
			rec := count // no data
			switch {
			case n.child[bit] != nil:
				rec = index[n.child[bit]]
			case n.data[bit] > 0:
				rec = count + 16 + uint32(n.data[bit]-1)
			}
			_ = binary.Write(&out, binary.BigEndian, rec)
		}
	}
	out.Write(make([]byte, 16))
	out.Write(data.Bytes())
	out.WriteString("\xAB\xCD\xEFMaxMind.com")
	mmdbEncode(tb, &out, map[string]any{
		"node_count":                  uint32Value(count),
		"record_size":                 uint16Value(32),
		"ip_version":                  uint16Value(6),
		"database_type":               dbType,
		"languages":                   []any{"en", "de"},
		"binary_format_major_version": uint16Value(2),
		"binary_format_minor_version": uint16Value(0),
		"build_epoch":                 uint64(1764151200),
		"description":                 map[string]any{"en": "logengine test database"},
	})
	return out.Bytes()
}

// uint16Value and uint32Value choose the encoding of a number; a plain
// uint64 is written as uint64 and a float64 as a double.
type (
	uint16Value uint16
	uint32Value uint32
)

// Data section types.
const (
	mmdbString = 2
	mmdbDouble = 3
	mmdbUint16 = 5
	mmdbUint32 = 6
	mmdbMap    = 7
	mmdbUint64 = 9
	mmdbArray  = 11
)

func mmdbControl(buf *bytes.Buffer, typ, size int) {
	var ctrl byte
	var ext []byte
	if typ > 7 {
		ext = []byte{byte(typ - 7)}
	} else {
		ctrl = byte(typ) << 5
	}
	var extra []byte
	switch {
	case size < 29:
		ctrl |= byte(size)
	case size < 29+256:
		ctrl |= 29
		extra = []byte{byte(size - 29)}
	case size < 285+65536:
		ctrl |= 30
		extra = binary.BigEndian.AppendUint16(nil, uint16(size-285))
	default:
		ctrl |= 31
		v := size - 65821
		extra = []byte{byte(v >> 16), byte(v >> 8), byte(v)}
	}
	buf.WriteByte(ctrl)
	buf.Write(ext)
	buf.Write(extra)
}

// mmdbUint writes an unsigned integer in as few bytes as it needs.
func mmdbUint(buf *bytes.Buffer, typ int, v uint64) {
	b := binary.BigEndian.AppendUint64(nil, v)
	b = bytes.TrimLeft(b, "\x00")
	mmdbControl(buf, typ, len(b))
	buf.Write(b)
}

func mmdbEncode(tb testing.TB, buf *bytes.Buffer, v any) {
	tb.Helper()
	switch v := v.(type) {
	case string:
		mmdbControl(buf, mmdbString, len(v))
		buf.WriteString(v)
	case float64:
		mmdbControl(buf, mmdbDouble, 8)
		_ = binary.Write(buf, binary.BigEndian, math.Float64bits(v))
	case uint16Value:
		mmdbUint(buf, mmdbUint16, uint64(v))
	case uint32Value:
		mmdbUint(buf, mmdbUint32, uint64(v))
	case uint64:
		mmdbUint(buf, mmdbUint64, v)
	case map[string]any:
		mmdbControl(buf, mmdbMap, len(v))
		keys := make([]string, 0, len(v))
		for k := range v {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			mmdbEncode(tb, buf, k)
			mmdbEncode(tb, buf, v[k])
		}
	case []any:
		mmdbControl(buf, mmdbArray, len(v))
		for _, e := range v {
			mmdbEncode(tb, buf, e)
		}
	default:
		tb.Fatalf("mmdb: cannot encode %T", v)
	}
}

// cityRecord is a record shaped like GeoLite2-City's, trimmed to what the
// geoip step reads.
func cityRecord(iso, country, city string, lat, lon float64) map[string]any {
	rec := map[string]any{
		"country": map[string]any{
			"iso_code":   iso,
			"geoname_id": uint32Value(1),
			"names":      map[string]any{"en": country, "de": country + " (de)"},
		},
		"location": map[string]any{"latitude": lat, "longitude": lon, "accuracy_radius": uint16Value(100)},
	}
	if city != "" {
		rec["city"] = map[string]any{"names": map[string]any{"en": city, "de": city + " (de)"}}
	}
	return rec
}

// asnRecord is a record shaped like GeoLite2-ASN's.
func asnRecord(asn uint32, org string) map[string]any {
	return map[string]any{"autonomous_system_number": uint32Value(asn), "autonomous_system_organization": org}
}

func TestMMDBWriterRoundTrip(t *testing.T) {
	// The writer is test code: check it against the reader once, so that a
	// failing geoip test points at the step, not at the database.
	b := buildMMDB(t, "Test-City", []mmdbNetwork{
		{"81.2.69.0/24", cityRecord("GB", "United Kingdom", "London", 51.5, -0.1)},
		{"2001:4860::/32", asnRecord(15169, "GOOGLE")},
	})
	r, err := maxminddb.OpenBytes(b)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Verify(); err != nil {
		t.Fatalf("verify: %v", err)
	}
	var city struct {
		Country struct {
			ISO string `maxminddb:"iso_code"`
		} `maxminddb:"country"`
	}
	if err := r.Lookup(netip.MustParseAddr("81.2.69.160")).Decode(&city); err != nil || city.Country.ISO != "GB" {
		t.Errorf("81.2.69.160: %+v %v", city, err)
	}
	var asn struct {
		Number uint `maxminddb:"autonomous_system_number"`
	}
	if err := r.Lookup(netip.MustParseAddr("2001:4860:4860::8888")).Decode(&asn); err != nil || asn.Number != 15169 {
		t.Errorf("2001:4860:4860::8888: %+v %v", asn, err)
	}
	if res := r.Lookup(netip.MustParseAddr("81.2.70.1")); res.Found() || res.Err() != nil {
		t.Errorf("81.2.70.1 found: %v", res.Err())
	}
}
