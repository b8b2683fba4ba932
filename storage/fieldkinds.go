package storage

import (
	"context"
	"fmt"

	"github.com/dgraph-io/badger/v4"

	"github.com/logengine/logengine/storage/block"
)

// KindSet is a set of value kinds (see block.KindSet).
type KindSet = block.KindSet

// FieldKinds returns the kinds of the values the named field takes in the
// blocks that meet [lo, hi), from their headers alone. It is a superset of
// the kinds of the entries in range: a block counts whole, and so do its
// deleted entries. A secondary index keys a value by its text, where the
// string "404" and the number 404 look alike; this tells a caller whether
// it may read the type back from that text or must read the entries.
func (s *Store) FieldKinds(ctx context.Context, name string, lo, hi ID) (KindSet, error) {
	var kinds KindSet
	if lo.Compare(hi) >= 0 {
		return 0, nil
	}
	days, err := s.Days(lo.Nanos, hi.Nanos)
	if err != nil {
		return 0, err
	}
	err = s.view(func(txn *badger.Txn) error {
		for _, day := range days {
			if err := s.checkKeys(headerDayPrefix(day)); err != nil {
				return fmt.Errorf("field %s kinds on %s: %w", name, day, err)
			}
			refs, err := dayHeaders(ctx, txn, day, lo, hi, true)
			if err != nil {
				return fmt.Errorf("field %s kinds on %s: %w", name, day, err)
			}
			for i := range refs {
				h, err := refs[i].header()
				if err != nil {
					return fmt.Errorf("field %s kinds: %w", name, err)
				}
				if c := h.Field(name); c != nil {
					kinds |= c.Kinds
				}
			}
		}
		return nil
	})
	return kinds, err
}
