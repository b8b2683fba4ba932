package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strconv"

	"github.com/logengine/logengine/migrations"
	"github.com/logengine/logengine/storage"
)

func dbDir(dataDir string) string { return filepath.Join(dataDir, "db") }

func runBackup(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("backup", stderr)
	server := fs.String("server", "", "URL of a running daemon to back up online")
	key := fs.String("api-key", "", "admin API key for --server")
	dataDir := fs.String("data-dir", "", "data directory of a stopped daemon to back up offline")
	out := fs.String("out", "", "file to write the backup to")
	since := fs.Uint64("since", 0, "make an incremental backup of what changed since this version (printed by the previous backup)")
	if _, err := parseFlags(fs, args); err != nil {
		return err
	}
	if *out == "" || (*server == "") == (*dataDir == "") {
		fs.Usage()
		return errors.New("give --out and exactly one of --server URL or --data-dir DIR")
	}
	tmp := *out + ".partial"
	f, err := os.Create(tmp)
	if err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	defer os.Remove(tmp)
	w := bufio.NewWriterSize(f, 1<<20)
	var next uint64
	checkDownload := false
	if *server != "" {
		c := newClient(*server, *key)
		resp, err := c.do(ctx, http.MethodGet, "/api/v1/admin/backup?since="+strconv.FormatUint(*since, 10), "", nil)
		if err != nil {
			f.Close()
			return fmt.Errorf("backup: %w", err)
		}
		defer resp.Body.Close()
		if _, err := io.Copy(w, resp.Body); err != nil {
			f.Close()
			return fmt.Errorf("backup: download: %w", err)
		}
		next, _ = strconv.ParseUint(resp.Header.Get("X-Backup-Version"), 10, 64)
		checkDownload = true
	} else {
		s, err := openExisting(*dataDir, true)
		if err != nil {
			f.Close()
			return err
		}
		next, err = s.Backup(ctx, w, *since)
		if cerr := s.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			f.Close()
			return fmt.Errorf("backup: %w", err)
		}
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return fmt.Errorf("backup: %w", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("backup: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	// A connection that drops between two records looks like a complete
	// answer to HTTP: read the download through before naming it a backup.
	if checkDownload {
		if err := checkBackupFile(tmp); err != nil {
			return fmt.Errorf("backup: the server's answer: %w; no backup was written", err)
		}
	}
	if err := os.Rename(tmp, *out); err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	fmt.Fprintf(stdout, "backup written to %s; for the next incremental backup use --since %d\n", *out, next)
	return nil
}

func checkBackupFile(name string) error {
	f, err := os.Open(name)
	if err != nil {
		return err
	}
	defer f.Close()
	// The answer of a server older than the end marker passes unchecked.
	_, err = storage.CheckBackup(bufio.NewReaderSize(f, 1<<20))
	return err
}

// openExisting opens the store of a data directory that must exist, for the
// offline commands.
func openExisting(dataDir string, sync bool) (*storage.Store, error) {
	dir := dbDir(dataDir)
	if _, err := os.Stat(dir); err != nil {
		return nil, fmt.Errorf("%s holds no logengine data (%v)", dataDir, err)
	}
	opts := storage.DefaultOptions(dir)
	opts.SyncWrites = sync
	s, err := storage.Open(opts)
	if err != nil {
		return nil, fmt.Errorf("%w (is a daemon running on this data directory? stop it, or use --server)", err)
	}
	return s, nil
}

func runRestore(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("restore", stderr)
	dataDir := fs.String("data-dir", "", "new or empty data directory to restore into")
	in := fs.String("in", "", "backup file to restore (- for standard input)")
	if _, err := parseFlags(fs, args); err != nil {
		return err
	}
	if *dataDir == "" || *in == "" {
		fs.Usage()
		return errors.New("give --data-dir and --in")
	}
	if err := checkRestoreFinished(*dataDir); err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	if entries, err := os.ReadDir(*dataDir); err == nil && len(entries) > 0 {
		return fmt.Errorf("restore: %s is not empty; restore into a new or empty directory (logengine never overwrites data)", *dataDir)
	}
	var r io.Reader = os.Stdin
	if *in != "-" {
		f, err := os.Open(*in)
		if err != nil {
			return fmt.Errorf("restore: %w", err)
		}
		defer f.Close()
		r = f
	}
	// The restore is all or nothing: on any error the data directory is
	// left as it was (new, empty or missing).
	sum, err := storage.Restore(dbDir(*dataDir), bufio.NewReaderSize(r, 1<<20))
	if err != nil {
		return fmt.Errorf("restore: %w; %s is left as it was", err, *dataDir)
	}
	if sum.UncheckedRecords > 0 {
		fmt.Fprintf(stderr, "warning: %d of the %d records restored come from a backup without an end marker (written by an older logengine): "+
			"it could not be checked for truncation or damage; if that backup may be incomplete, restore an older one or take a new backup\n",
			sum.UncheckedRecords, sum.Records)
	}
	fmt.Fprintf(stdout, "restored %d backups (%d records) into %s; start the daemon on it and the keyword index is rebuilt\n", sum.Backups, sum.Records, *dataDir)
	_ = ctx
	return nil
}

// checkRestoreFinished refuses a data directory that an interrupted restore
// left, and says what to do with it.
func checkRestoreFinished(dataDir string) error {
	if err := storage.CheckNoInterruptedRestore(dbDir(dataDir)); err != nil {
		return fmt.Errorf("data directory %s: %w; it must not be served: delete the directory and run `logengine restore --data-dir %s --in BACKUP` again, or start on another --data-dir",
			dataDir, err, dataDir)
	}
	return nil
}

func runMigrate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("migrate", stderr)
	dataDir := fs.String("data-dir", "", "data directory to migrate (the daemon must be stopped)")
	dryRun := fs.Bool("dry-run", false, "only print the steps that would run")
	if _, err := parseFlags(fs, args); err != nil {
		return err
	}
	if *dataDir == "" {
		fs.Usage()
		return errors.New("give --data-dir")
	}
	s, err := openExisting(*dataDir, true)
	if err != nil {
		return err
	}
	defer s.Close()
	todo, from, err := migrations.Plan(s)
	if err != nil {
		return err
	}
	if len(todo) == 0 {
		fmt.Fprintf(stdout, "%s is at schema version %d, the current one: nothing to do\n", *dataDir, from)
		return nil
	}
	for _, st := range todo {
		fmt.Fprintf(stdout, "step to version %d: %s\n", st.To, st.Description)
	}
	if *dryRun {
		fmt.Fprintf(stdout, "dry run: %d steps would take %s from version %d to %d\n", len(todo), *dataDir, from, migrations.Current)
		return nil
	}
	log := slog.New(slog.NewTextHandler(stderr, nil))
	if err := migrations.Run(ctx, s, log); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s migrated from version %d to %d\n", *dataDir, from, migrations.Current)
	return nil
}
