package search

import (
	"fmt"

	"github.com/logengine/logengine/storage"
)

// Delete takes note of entries deleted from storage inside a day (per-source
// retention). Their blocks still list them, and a block's word counts still
// count them, so the days they were in are marked: from then on none of
// their candidates is sure, and each is checked against storage, which no
// longer has the deleted ones. Answers stay exact; keyword searches over
// such a day read more entries until the day is rebuilt (Reindex).
func (x *Index) Delete(ids []storage.ID) error {
	days := map[storage.Day]bool{}
	for _, id := range ids {
		days[storage.DayOf(id.Nanos)] = true
	}
	for day := range days {
		_, err := x.use(day, false, func(sh *shard) error {
			if sh.tainted.Load() {
				return nil
			}
			if err := sh.idx.SetInternal([]byte(taintedInternalKey), []byte{1}); err != nil {
				return err
			}
			sh.tainted.Store(true)
			return nil
		})
		if err != nil {
			return fmt.Errorf("mark deletions in keyword index of %s: %w", day, err)
		}
	}
	return nil
}
