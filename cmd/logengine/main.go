// Command logengine is the log analytics daemon and its command-line client:
// serve, ingest, query, backup, restore, migrate, verify and version.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

const usage = `logengine — a log analytics daemon

Usage:
  logengine serve    [--data-dir ./data] [--listen 127.0.0.1:8080] [--config FILE]
  logengine ingest   [--server URL] [--format auto|jsonl|text] [--source NAME] FILE... ("-" = stdin)
  logengine query    [--server URL] [--from] [--to] [--limit] [--output table|json] [--all] QUERY
  logengine export   [--server URL] [--from] [--to] [--format ndjson|csv] [--fields a,b] [--out FILE] QUERY
  logengine backup   (--server URL | --data-dir DIR) --out FILE [--since N]
  logengine restore  --data-dir DIR --in FILE
  logengine migrate  --data-dir DIR [--dry-run]
  logengine verify   --data-dir DIR   (checks a stopped daemon's data; exit 1 when damaged)
  logengine healthcheck [--server URL | --config FILE]   (exit 0 when the daemon answers /healthz;
                        without --server, the address and TLS of serve's configuration)
  logengine version

Run "logengine COMMAND --help" for the flags of a command. Every flag can also
be set as LOGENGINE_<FLAG> in the environment (LOGENGINE_DATA_DIR, ...).
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	if err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "logengine:", err)
		}
		var ee exitError
		if errors.As(err, &ee) {
			os.Exit(int(ee))
		}
		os.Exit(1)
	}
}

// exitError carries an exit status other than 1 (2 for usage errors).
type exitError int

func (e exitError) Error() string { return fmt.Sprintf("exit status %d", int(e)) }

func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return exitError(2)
	}
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "serve":
		return runServe(ctx, rest, stdout, stderr)
	case "ingest":
		return runIngest(ctx, rest, stdin, stdout, stderr)
	case "query":
		return runQuery(ctx, rest, stdout, stderr)
	case "export":
		return runExport(ctx, rest, stdout, stderr)
	case "backup":
		return runBackup(ctx, rest, stdout, stderr)
	case "restore":
		return runRestore(ctx, rest, stdout, stderr)
	case "migrate":
		return runMigrate(ctx, rest, stdout, stderr)
	case "verify":
		return runVerify(ctx, rest, stdout, stderr)
	case "healthcheck":
		return runHealthcheck(ctx, rest, stdout, stderr)
	case "version", "--version", "-v":
		fmt.Fprintln(stdout, "logengine", version)
		return nil
	case "help", "--help", "-h":
		fmt.Fprint(stdout, usage)
		return nil
	}
	fmt.Fprintf(stderr, "unknown command %q\n\n%s", cmd, usage)
	return exitError(2)
}

// newFlagSet returns a flag set that reports errors instead of exiting and
// fills unset flags from LOGENGINE_* environment variables after parsing.
func newFlagSet(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("logengine "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return fs
}

// parseFlags parses args, then sets every flag not given on the command line
// from its LOGENGINE_<NAME> environment variable, so flags win over the
// environment. It returns the names set either way.
func parseFlags(fs *flag.FlagSet, args []string) (map[string]bool, error) {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil, err
		}
		return nil, exitError(2)
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	var err error
	fs.VisitAll(func(f *flag.Flag) {
		if set[f.Name] || err != nil {
			return
		}
		env := envName(fs.Name(), f.Name)
		if v, ok := os.LookupEnv(env); ok {
			if e := fs.Set(f.Name, v); e != nil {
				err = fmt.Errorf("%s=%q: %v", env, v, e)
				return
			}
			set[f.Name] = true
		}
	})
	return set, err
}
