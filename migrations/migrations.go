// Package migrations owns the on-disk format's schema version and the
// numbered steps that upgrade an older data directory. Start-up runs them;
// so does "logengine migrate".
package migrations

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"

	"github.com/logengine/logengine/storage"
)

// Store is what the steps need of the store.
type Store interface {
	Meta(name string) ([]byte, error)
	SetMeta(name string, value []byte) error
	SyncIndexedFields(ctx context.Context, log *slog.Logger) error
	MigrateToBlocks(ctx context.Context, log *slog.Logger) (int, error)
}

// Step upgrades a data directory from version To-1 to To.
type Step struct {
	To          int
	Description string
	Run         func(ctx context.Context, s Store, log *slog.Logger) error
}

// steps lists every step in order; the last one's To is Current.
var steps = []Step{
	{To: 1, Description: "record the schema version of the first on-disk layout",
		Run: func(context.Context, Store, *slog.Logger) error { return nil }},
	// Version 1 did not record which fields had secondary indexes, so a
	// field indexed by the configuration could lack lists for older
	// entries: build the lists of every configured field from the entries
	// and record the set (from then on each start reconciles changes).
	// The backfill reads entries as this build stores them, in blocks, so
	// it moves them there first (step 3 then finds nothing left to move).
	{To: 2, Description: "backfill the secondary indexes of configured fields and record them",
		Run: func(ctx context.Context, s Store, log *slog.Logger) error {
			if err := toBlocks(ctx, s, log); err != nil {
				return err
			}
			return s.SyncIndexedFields(ctx, log)
		}},
	// One Badger key per entry becomes compressed blocks of many entries
	// (storage/blocks.go); IDs are kept, so nothing else changes.
	{To: 3, Description: "store entries in compressed blocks instead of one key each",
		Run: toBlocks},
	// Posting lists (sequences as deltas), block headers (version 3:
	// denser template counts) and the keyword index's entry lists (two-
	// byte offsets) are written in denser forms. This build reads the
	// older forms as they are, so there is nothing to convert; the version
	// is raised so that an older build refuses the directory instead of
	// misreading the new forms (it would take a new posting list for an
	// empty one).
	{To: 4, Description: "write posting lists, block headers and keyword entry lists in denser forms (older ones still read)",
		Run: func(context.Context, Store, *slog.Logger) error { return nil }},
	// The messages of merged blocks are stored in frames (block codecs 2
	// and 3: in row order, or grouped by source), and the keyword index's
	// value filters set their bits by enhanced double hashing. Older
	// blocks and filters are read as they are; an older build would take
	// a block with frames for a damaged one and misread a new filter, so
	// the version is raised for it to refuse the directory instead.
	{To: 5, Description: "store the messages of merged blocks in frames grouped by source, and keyword filters with fewer false positives (older ones still read)",
		Run: func(context.Context, Store, *slog.Logger) error { return nil }},
}

func toBlocks(ctx context.Context, s Store, log *slog.Logger) error {
	n, err := s.MigrateToBlocks(ctx, log)
	if err != nil {
		return err
	}
	if n > 0 {
		log.Info("entries moved into blocks", "entries", n)
	}
	return nil
}

// Current is the schema version this build writes.
var Current = steps[len(steps)-1].To

const versionKey = "schema_version"

// Version returns the data directory's schema version: 0 for a store that
// never recorded one (a new one, or one from before versions existed).
func Version(s Store) (int, error) {
	v, err := s.Meta(versionKey)
	if errors.Is(err, storage.ErrNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("read schema version: %w", err)
	}
	if len(v) != 4 {
		return 0, fmt.Errorf("read schema version: corrupt record (%d bytes)", len(v))
	}
	return int(binary.BigEndian.Uint32(v)), nil
}

// Plan returns the steps that would bring the store to Current, or an error
// when the store is newer than this build.
func Plan(s Store) ([]Step, int, error) {
	v, err := Version(s)
	if err != nil {
		return nil, 0, err
	}
	if v > Current {
		return nil, v, fmt.Errorf("the data directory has schema version %d, newer than version %d that this build of logengine knows: run a newer logengine (downgrades are not supported)", v, Current)
	}
	var todo []Step
	for _, st := range steps {
		if st.To > v {
			todo = append(todo, st)
		}
	}
	return todo, v, nil
}

// Run applies the pending steps in order, recording the version after each
// so that an interrupted run resumes where it stopped.
func Run(ctx context.Context, s Store, log *slog.Logger) error {
	todo, from, err := Plan(s)
	if err != nil {
		return err
	}
	for _, st := range todo {
		if err := ctx.Err(); err != nil {
			return err
		}
		log.Info("migrating data directory", "from", from, "to", st.To, "step", st.Description)
		if err := st.Run(ctx, s, log); err != nil {
			return fmt.Errorf("migration to version %d (%s): %w", st.To, st.Description, err)
		}
		if err := s.SetMeta(versionKey, binary.BigEndian.AppendUint32(nil, uint32(st.To))); err != nil {
			return fmt.Errorf("record schema version %d: %w", st.To, err)
		}
		from = st.To
	}
	return nil
}
