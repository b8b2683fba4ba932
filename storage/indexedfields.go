package storage

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/dgraph-io/badger/v4"
)

// indexedFieldsMeta records which fields have posting lists, so that a
// field the configuration newly names as indexed is backfilled (its lists
// would otherwise miss every older entry) and a field no longer named has
// its lists dropped.
const indexedFieldsMeta = "indexed_fields"

// SyncIndexedFields makes the field posting lists match the configured
// indexed fields: it drops the lists of fields no longer configured and
// builds those of newly configured fields from the stored entries. With no
// record (a data directory from before fields were recorded) every
// configured field is rebuilt. Call it at start-up, before appends begin.
func (s *Store) SyncIndexedFields(ctx context.Context, log *slog.Logger) error {
	want := make([]string, 0, len(s.indexed))
	for f := range s.indexed {
		want = append(want, f)
	}
	slices.Sort(want)
	var have []string
	known := true
	v, err := s.Meta(indexedFieldsMeta)
	switch {
	case errors.Is(err, ErrNotFound):
		known = false
	case err != nil:
		return err
	default:
		if err := json.Unmarshal(v, &have); err != nil {
			return fmt.Errorf("indexed fields record: %w", err)
		}
	}
	var build, drop []string
	for _, f := range want {
		if !known || !slices.Contains(have, f) {
			build = append(build, f)
		}
	}
	for _, f := range have {
		if !slices.Contains(want, f) {
			drop = append(drop, f)
		}
	}
	if len(build)+len(drop) > 0 || !known {
		days, err := s.Days(0, MaxID.Nanos)
		if err != nil {
			return err
		}
		if err := s.dropFieldPostings(days, append(slices.Clone(build), drop...)); err != nil {
			return err
		}
		if len(build) > 0 && len(days) > 0 {
			if log != nil {
				log.Info("building secondary indexes of newly indexed fields from stored entries", "fields", build)
			}
			start := time.Now()
			n, err := s.backfillFields(ctx, build)
			if err != nil {
				return err
			}
			if log != nil {
				log.Info("secondary indexes built", "fields", build, "entries", n, "took", time.Since(start).Round(time.Millisecond))
			}
		}
	}
	b, _ := json.Marshal(want)
	return s.db.Update(func(txn *badger.Txn) error { return txn.Set(metaKey(indexedFieldsMeta), b) })
}

func (s *Store) dropFieldPostings(days []Day, fields []string) error {
	var prefixes [][]byte
	for _, d := range days {
		for _, f := range fields {
			prefixes = append(prefixes, appendString(append(postingDayPrefix(d), kindField), f))
		}
	}
	if len(prefixes) == 0 {
		return nil
	}
	if err := s.db.DropPrefix(prefixes...); err != nil {
		return fmt.Errorf("drop field indexes: %w", err)
	}
	return nil
}

// backfillFields writes posting lists of the fields for every stored entry,
// in chunks keyed by their smallest sequence (unique, since chunks are
// disjoint, and below every later commit's first sequence).
func (s *Store) backfillFields(ctx context.Context, fields []string) (int, error) {
	wb := s.db.NewWriteBatch()
	defer wb.Cancel()
	postings := map[postingKey][]ID{}
	n := 0
	flush := func() error {
		for k, ids := range postings {
			first := ids[0].Seq
			for _, id := range ids {
				first = min(first, id.Seq)
			}
			key := binary.BigEndian.AppendUint64(postingPrefix(k.day, k.kind, k.name, k.value), first)
			if err := wb.Set(key, encodePostings(ids, first)); err != nil {
				return err
			}
		}
		clear(postings)
		return nil
	}
	var ferr error
	err := s.Scan(ctx, MinID, MaxID, false, func(e *Entry) bool {
		for _, f := range e.Fields {
			if slices.Contains(fields, f.Name) {
				k := postingKey{DayOf(e.ID.Nanos), kindField, f.Name, f.Value.Text()}
				postings[k] = append(postings[k], e.ID)
			}
		}
		if n++; n%50000 == 0 {
			if ferr = flush(); ferr != nil {
				return false
			}
		}
		return true
	})
	if err == nil {
		err = ferr
	}
	if err == nil {
		err = flush()
	}
	if err == nil {
		err = s.flushBatch(wb)
	}
	if err != nil {
		return n, fmt.Errorf("backfill field indexes: %w", err)
	}
	return n, nil
}
