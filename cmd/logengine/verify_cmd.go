package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/logengine/logengine/search"
	"github.com/logengine/logengine/storage"
)

// runVerify checks the data directory of a stopped daemon and exits 1 when
// anything is wrong, after saying what and what to do about it.
func runVerify(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("verify", stderr)
	dataDir := fs.String("data-dir", "", "data directory of a stopped daemon to check")
	if _, err := parseFlags(fs, args); err != nil {
		return err
	}
	if *dataDir == "" {
		fs.Usage()
		return errors.New("give --data-dir")
	}
	if _, err := os.Stat(dbDir(*dataDir)); err != nil {
		if err := checkRestoreFinished(*dataDir); err != nil {
			return err
		}
		return fmt.Errorf("verify: %s holds no logengine data (%v)", *dataDir, err)
	}

	problems, err := storage.Verify(ctx, dbDir(*dataDir))
	if err != nil {
		return fmt.Errorf("verify: %w", err)
	}
	if len(problems) == 0 {
		fmt.Fprintf(stdout, "storage (%s): ok: table checksums, values, blocks, journal and checkpoints\n", dbDir(*dataDir))
	} else {
		fmt.Fprintf(stdout, "storage (%s): %d problems:\n", dbDir(*dataDir), len(problems))
		for _, p := range problems {
			fmt.Fprintf(stdout, "  %s\n", p)
		}
		fmt.Fprintf(stdout, "  what to do: the stored logs are damaged and cannot be rebuilt from anything else; "+
			"restore the last backup into a new directory (logengine restore --data-dir NEW --in BACKUP) and start the daemon on it\n")
	}

	indexDir := filepath.Join(*dataDir, "index")
	damaged, err := search.VerifyIndex(indexDir)
	if err != nil {
		return fmt.Errorf("verify: %w", err)
	}
	if len(damaged) == 0 {
		fmt.Fprintf(stdout, "keyword index (%s): ok\n", indexDir)
	} else {
		fmt.Fprintf(stdout, "keyword index (%s): %d damaged shards:\n", indexDir, len(damaged))
		for _, d := range damaged {
			fmt.Fprintf(stdout, "  %s (%s): %s\n", d.Day, d.File, d.Cause)
		}
		fmt.Fprintf(stdout, "  what to do: nothing to restore: the index is derived from storage and the daemon rebuilds a damaged shard from it when it starts (searches of that day stay exact meanwhile)\n")
	}
	var differ []search.IndexMismatch
	if len(problems) == 0 {
		if differ, err = compareIndex(ctx, stdout, dbDir(*dataDir), indexDir); err != nil {
			return fmt.Errorf("verify: compare the keyword index with storage: %w", err)
		}
	} else {
		fmt.Fprintf(stdout, "keyword index against storage: not compared, storage is damaged\n")
	}
	if len(problems) > 0 || len(damaged) > 0 || len(differ) > 0 {
		return errors.New("verify: problems found (listed above)")
	}
	fmt.Fprintf(stdout, "%s: no problems found\n", *dataDir)
	return nil
}

// compareIndex compares each day's keyword index shard with the day's
// stored entries and prints what differs and what to do.
func compareIndex(ctx context.Context, stdout io.Writer, db, indexDir string) ([]search.IndexMismatch, error) {
	st, err := storage.OpenStored(db)
	if err != nil {
		return nil, err
	}
	defer st.Close()
	upTo, err := st.Checkpoint(search.IndexCheckpoint)
	if err != nil {
		return nil, err
	}
	deleting, err := st.Deleting(ctx)
	if err != nil {
		return nil, err
	}
	days, err := st.Days(ctx)
	if err != nil {
		return nil, err
	}
	var differ []search.IndexMismatch
	entries := 0
	for _, day := range days {
		ids, err := st.DayIDs(ctx, day)
		if err != nil {
			return nil, err
		}
		entries += len(ids)
		m, err := search.CompareIndex(indexDir, day, ids, upTo, deleting)
		if err != nil {
			return nil, err
		}
		if m != nil {
			differ = append(differ, *m)
		}
	}
	if len(differ) == 0 {
		fmt.Fprintf(stdout, "keyword index against storage: ok (%d days, %d entries, indexed up to sequence %d)\n", len(days), entries, upTo)
		return nil, nil
	}
	fmt.Fprintf(stdout, "keyword index against storage: %d days differ:\n", len(differ))
	lost := false
	for _, m := range differ {
		fmt.Fprintf(stdout, "  %s\n", m)
		lost = lost || m.Extra > 0
	}
	fmt.Fprintf(stdout, "  what to do: the index is derived from storage: with the daemon stopped, delete the shards of these days (%s/<day>) and start it, which rebuilds them from storage; or, while it runs, POST /api/v1/admin/reindex rebuilds every day\n", indexDir)
	if lost {
		fmt.Fprintf(stdout, "  entries the index holds and storage does not were in storage once: unless they were deleted, storage lost them; restore the last backup into a new directory (logengine restore --data-dir NEW --in BACKUP)\n")
	}
	return differ, nil
}
