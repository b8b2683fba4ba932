package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/schollz/progressbar/v3"
)

func runExport(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("export", stderr)
	server, key := addClientFlags(fs)
	from := fs.String("from", "", "start of the range: RFC 3339, epoch ms or now-15m (inclusive)")
	to := fs.String("to", "", "end of the range (exclusive)")
	format := fs.String("format", "ndjson", "ndjson (the form POST /api/v1/logs takes back) or csv")
	fields := fs.String("fields", "", "comma-separated columns (id, timestamp, level, severity, source, message, tags or a field)")
	out := fs.String("out", "-", "file to write; - is standard output")
	quiet := fs.Bool("quiet", false, "no progress")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "Usage: logengine export [flags] QUERY   (e.g. logengine export --format csv --out errors.csv --from now-1d level:error)")
		fs.PrintDefaults()
	}
	words, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if *format != "ndjson" && *format != "csv" {
		return fmt.Errorf("--format %q: use ndjson or csv", *format)
	}
	params := url.Values{"q": {strings.Join(words, " ")}, "format": {*format}}
	for name, v := range map[string]string{"from": *from, "to": *to, "fields": *fields} {
		if v != "" {
			params.Set(name, v)
		}
	}
	start := time.Now()
	c := newClient(*server, *key)
	// An export takes as long as it takes: no overall timeout, ctx ends it.
	c.http = &http.Client{}
	resp, err := c.do(ctx, http.MethodGet, "/api/v1/export?"+params.Encode(), "", nil)
	if err != nil {
		return fmt.Errorf("export: %w", err)
	}
	defer resp.Body.Close()

	w, commit, abort, err := openOutput(*out, stdout)
	if err != nil {
		return err
	}
	var bar *progressbar.ProgressBar
	if !*quiet && isTerminal(stderr) {
		bar = progressbar.NewOptions64(-1,
			progressbar.OptionSetWriter(stderr),
			progressbar.OptionSetDescription("exporting"),
			progressbar.OptionSetItsString("logs"),
			progressbar.OptionShowIts(),
			progressbar.OptionShowCount(),
			progressbar.OptionThrottle(200*time.Millisecond),
			progressbar.OptionClearOnFinish())
	}
	counter := &recordCounter{csv: *format == "csv"}
	buf := make([]byte, 256<<10)
	var copyErr error
	for {
		n, rerr := resp.Body.Read(buf)
		if n > 0 {
			before := counter.records
			counter.count(buf[:n])
			if bar != nil {
				_ = bar.Add64(counter.records - before)
			}
			if _, err := w.Write(buf[:n]); err != nil {
				copyErr = fmt.Errorf("write %s: %w", *out, err)
				break
			}
		}
		if rerr == io.EOF {
			break
		}
		if rerr != nil {
			// The daemon breaks the connection when an export fails part
			// way: the file is not whole.
			copyErr = fmt.Errorf("export ended early after %d logs (the daemon's log says why): %w", counter.records, rerr)
			break
		}
	}
	if bar != nil {
		_ = bar.Finish()
	}
	if copyErr != nil {
		abort()
		return copyErr
	}
	if err := commit(); err != nil {
		return err
	}
	logs := counter.records
	if counter.csv && logs > 0 {
		logs-- // the header row
	}
	if !*quiet {
		d := time.Since(start)
		fmt.Fprintf(stderr, "exported %d logs in %s (%.0f logs/s)\n", logs, d.Round(time.Millisecond), float64(logs)/max(d.Seconds(), 1e-3))
	}
	return nil
}

// openOutput opens where the export goes. A file is written beside its
// name and renamed into place once whole, so that a failed export leaves
// no file that looks complete.
func openOutput(name string, stdout io.Writer) (w io.Writer, commit func() error, abort func(), err error) {
	if name == "-" {
		return stdout, func() error { return nil }, func() {}, nil
	}
	f, err := os.CreateTemp(filepath.Dir(name), "."+filepath.Base(name)+".*.partial")
	if err != nil {
		return nil, nil, nil, fmt.Errorf("create the output: %w", err)
	}
	commit = func() error {
		if err := f.Sync(); err != nil {
			_ = f.Close()
			_ = os.Remove(f.Name())
			return fmt.Errorf("write %s: %w", name, err)
		}
		if err := f.Close(); err != nil {
			_ = os.Remove(f.Name())
			return fmt.Errorf("write %s: %w", name, err)
		}
		if err := os.Rename(f.Name(), name); err != nil {
			_ = os.Remove(f.Name())
			return fmt.Errorf("move the export to %s: %w", name, err)
		}
		return nil
	}
	abort = func() {
		_ = f.Close()
		_ = os.Remove(f.Name())
	}
	return f, commit, abort, nil
}

// recordCounter counts the records of an NDJSON or CSV stream as it
// passes: lines, and for CSV only the line ends outside quotes (a quoted
// message may hold line breaks; an escaped quote toggles twice).
type recordCounter struct {
	csv     bool
	quoted  bool
	records int64
}

func (c *recordCounter) count(b []byte) {
	for _, ch := range b {
		switch {
		case ch == '"' && c.csv:
			c.quoted = !c.quoted
		case ch == '\n' && !c.quoted:
			c.records++
		}
	}
}
