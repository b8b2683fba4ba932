// Command diskusage says where the bytes of a stopped logengine's data
// directory go: per Badger key namespace (posting lists per index kind,
// other packages' records per bucket), the keys' and values' bytes and an
// estimate of what they take on disk (Snappy over 4 KiB runs of records in
// key order, as Badger's tables compress them), then the keyword index's
// block lists by part and its Bleve stores. It opens Badger read-only: stop
// the daemon first.
//
//	go run ./cmd/diskusage <data-dir> <lines stored>
package main

import (
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"

	badger "github.com/dgraph-io/badger/v4"
	"github.com/dgraph-io/badger/v4/options"
	"github.com/golang/snappy"
)

// cat is one namespace's records: counts, raw bytes, and the Snappy
// estimate of the runs flushed so far.
type cat struct {
	n, keyB, valB int64
	comp          int64
	buf           []byte
}

func (c *cat) add(k, v []byte) {
	c.n++
	c.keyB += int64(len(k))
	c.valB += int64(len(v))
	c.buf = append(c.buf, k...)
	c.buf = append(c.buf, v...)
	if len(c.buf) >= 4096 {
		c.flush()
	}
}

func (c *cat) flush() {
	if len(c.buf) > 0 {
		c.comp += int64(len(snappy.Encode(nil, c.buf)))
		c.buf = c.buf[:0]
	}
}

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: diskusage <data-dir> <lines stored>")
		os.Exit(2)
	}
	dir := os.Args[1]
	lines, err := strconv.ParseInt(os.Args[2], 10, 64)
	if err != nil || lines <= 0 {
		fmt.Fprintln(os.Stderr, "diskusage: lines must be a positive number")
		os.Exit(2)
	}
	bo := badger.DefaultOptions(filepath.Join(dir, "db")).WithReadOnly(true).WithCompression(options.Snappy).WithLogger(nil)
	db, err := badger.Open(bo)
	if err != nil {
		fmt.Fprintln(os.Stderr, "diskusage:", err)
		os.Exit(1)
	}
	cats := map[string]*cat{}
	get := func(s string) *cat {
		if cats[s] == nil {
			cats[s] = &cat{}
		}
		return cats[s]
	}
	err = db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{PrefetchValues: false})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			item := it.Item()
			k := item.KeyCopy(nil)
			v, err := item.ValueCopy(nil)
			if err != nil {
				return err
			}
			name := string(k[:1])
			if k[0] == 'i' && len(k) > 5 {
				name = "i" + string(k[5:6])
			}
			if k[0] == 'b' {
				for j := 1; j < len(k); j++ {
					if k[j] == 0 {
						name = "b:" + string(k[1:j])
						break
					}
				}
			}
			get(name).add(k, v)
		}
		return nil
	})
	_ = db.Close()
	if err != nil {
		fmt.Fprintln(os.Stderr, "diskusage:", err)
		os.Exit(1)
	}
	var names []string
	var tk, tv, tc int64
	for n, c := range cats {
		c.flush()
		names = append(names, n)
		tk += c.keyB
		tv += c.valB
		tc += c.comp
	}
	sort.Slice(names, func(i, j int) bool { return cats[names[i]].comp > cats[names[j]].comp })
	fmt.Printf("%-16s %10s %12s %12s %12s %8s\n", "badger prefix", "records", "key B", "value B", "snappy B", "B/line")
	for _, n := range names {
		c := cats[n]
		fmt.Printf("%-16s %10d %12d %12d %12d %8.2f\n", n, c.n, c.keyB, c.valB, c.comp, float64(c.comp)/float64(lines))
	}
	fmt.Printf("%-16s %10s %12d %12d %12d %8.2f\n", "total", "", tk, tv, tc, float64(tc)/float64(lines))

	// The keyword index: per day, the block list (see search/blockfile.go
	// for the record layout) and the Bleve store.
	var ids, filt, lists, hdrs, bleve, nblocks int64
	days, _ := filepath.Glob(filepath.Join(dir, "index", "*"))
	for _, d := range days {
		b, err := os.ReadFile(filepath.Join(d, "blocks"))
		if err == nil {
			for off := 0; off+52 <= len(b); {
				h := b[off:]
				il := int64(binary.BigEndian.Uint32(h[4:]))
				fl := int64(binary.BigEndian.Uint32(h[8:]))
				ll := int64(binary.BigEndian.Uint32(h[48:]))
				ids += il
				filt += fl
				lists += ll
				hdrs += 52
				nblocks++
				off += 52 + int(il+fl+ll)
			}
		}
		filepath.Walk(filepath.Join(d, "store"), func(p string, fi os.FileInfo, err error) error {
			if err == nil && !fi.IsDir() {
				bleve += fi.Size()
			}
			return nil
		})
	}
	per := func(x int64) float64 { return float64(x) / float64(lines) }
	fmt.Printf("index blocks file: %d records; headers %d (%.2f B/line), ids %d (%.2f), filters %d (%.2f), entry lists %d (%.2f)\n",
		nblocks, hdrs, per(hdrs), ids, per(ids), filt, per(filt), lists, per(lists))
	fmt.Printf("index bleve stores: %d (%.2f B/line)\n", bleve, per(bleve))
}
