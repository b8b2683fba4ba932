package search

import (
	"fmt"

	"github.com/logengine/logengine/storage"
)

// Delete removes the documents of entries deleted from storage inside a
// day (per-source retention), so keyword counts, which are taken from the
// index without reading entries, stay exact.
func (x *Index) Delete(ids []storage.ID) error {
	byDay := map[storage.Day][]storage.ID{}
	for _, id := range ids {
		d := storage.DayOf(id.Nanos)
		byDay[d] = append(byDay[d], id)
	}
	for day, list := range byDay {
		_, err := x.use(day, false, func(sh *shard) error {
			// Batches of a bounded size: a deletion can be millions of ids.
			for rest := list; len(rest) > 0; {
				part := rest[:min(len(rest), 10000)]
				rest = rest[len(part):]
				b := sh.idx.NewBatch()
				for _, id := range part {
					b.Delete(id.String())
				}
				if err := sh.idx.Batch(b); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("delete %d documents from %s: %w", len(list), day, err)
		}
	}
	return nil
}
