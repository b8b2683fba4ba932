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
	if len(problems) > 0 || len(damaged) > 0 {
		return errors.New("verify: problems found (listed above)")
	}
	fmt.Fprintf(stdout, "%s: no problems found\n", *dataDir)
	return nil
}
