package main

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/mattn/go-isatty"
	"github.com/schollz/progressbar/v3"
)

// ingestTotals is the summary of an ingest run.
type ingestTotals struct {
	mu       sync.Mutex
	lines    int
	accepted int
	rejected int
	shown    int
}

type ingestBatch struct {
	file      string
	firstLine int // file line number of the batch's first line
	format    string
	source    string
	body      []byte
	lines     int
}

func runIngest(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := newFlagSet("ingest", stderr)
	server, key := addClientFlags(fs)
	format := fs.String("format", "auto", "auto, jsonl or text (auto: JSON lines when the first line starts with '{')")
	source := fs.String("source", "", "source of entries that name none (default: the file's base name)")
	batchSize := fs.Int("batch-size", 1000, "lines per request")
	workers := fs.Int("concurrency", 2, "requests in flight")
	quiet := fs.Bool("quiet", false, "no progress bar")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "Usage: logengine ingest [flags] FILE... (\"-\" reads standard input; .gz files are decompressed)")
		fs.PrintDefaults()
	}
	if _, err := parseFlags(fs, args); err != nil {
		return err
	}
	files := fs.Args()
	if len(files) == 0 {
		fs.Usage()
		return fmt.Errorf("name at least one file to ingest, or - for standard input")
	}
	switch *format {
	case "auto", "jsonl", "ndjson", "text":
	default:
		return fmt.Errorf("--format %q: use auto, jsonl or text", *format)
	}
	if *batchSize < 1 || *workers < 1 {
		return fmt.Errorf("--batch-size and --concurrency must be at least 1")
	}
	c := newClient(*server, *key)

	var total int64
	for _, f := range files {
		if f == "-" {
			total = -1
			break
		}
		st, err := os.Stat(f)
		if err != nil {
			return fmt.Errorf("ingest %s: %w", f, err)
		}
		total += st.Size()
	}
	var bar *progressbar.ProgressBar
	if !*quiet && isTerminal(stderr) {
		bar = progressbar.NewOptions64(total,
			progressbar.OptionSetWriter(stderr),
			progressbar.OptionShowBytes(true),
			progressbar.OptionSetDescription("ingesting"),
			progressbar.OptionThrottle(100*time.Millisecond),
			progressbar.OptionClearOnFinish())
	}

	start := time.Now()
	tot := &ingestTotals{}
	batches := make(chan ingestBatch, *workers)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	var sendErr error
	var errOnce sync.Once
	for i := 0; i < *workers; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for b := range batches {
				if err := sendBatch(ctx, c, b, tot, stderr); err != nil {
					errOnce.Do(func() { sendErr = err; cancel() })
				}
			}
		}()
	}
	readErr := func() error {
		defer close(batches)
		for _, f := range files {
			if err := readFile(ctx, f, stdin, *format, *source, *batchSize, bar, batches); err != nil {
				return err
			}
		}
		return nil
	}()
	wg.Wait()
	if bar != nil {
		_ = bar.Finish()
	}
	elapsed := time.Since(start)
	rate := float64(tot.lines) / max(elapsed.Seconds(), 1e-9)
	fmt.Fprintf(stdout, "%d lines, %d accepted, %d rejected in %s (%.0f lines/s)\n",
		tot.lines, tot.accepted, tot.rejected, elapsed.Round(time.Millisecond), rate)
	if sendErr != nil {
		return sendErr
	}
	if readErr != nil {
		return readErr
	}
	if tot.rejected > 0 {
		return fmt.Errorf("%d lines were rejected (see above)", tot.rejected)
	}
	return nil
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && isatty.IsTerminal(f.Fd())
}

// readFile splits a file into batches of whole lines.
func readFile(ctx context.Context, name string, stdin io.Reader, format, source string, batchSize int, bar *progressbar.ProgressBar, out chan<- ingestBatch) error {
	var r io.Reader = stdin
	if name != "-" {
		f, err := os.Open(name)
		if err != nil {
			return fmt.Errorf("ingest %s: %w", name, err)
		}
		defer f.Close()
		r = f
	}
	if bar != nil {
		pr := progressbar.NewReader(r, bar)
		r = &pr
	}
	br := bufio.NewReaderSize(r, 1<<20)
	if magic, _ := br.Peek(2); len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return fmt.Errorf("ingest %s: gzip: %w", name, err)
		}
		defer zr.Close()
		br = bufio.NewReaderSize(zr, 1<<20)
	}
	if source == "" {
		source = sourceFromName(name)
	}
	var buf bytes.Buffer
	lines, first, lineNo := 0, 1, 0
	flush := func() error {
		if lines == 0 {
			return nil
		}
		f := format
		if f == "auto" {
			f = sniffFormat(buf.Bytes())
		}
		b := ingestBatch{file: name, firstLine: first, format: f, source: source, body: bytes.Clone(buf.Bytes()), lines: lines}
		select {
		case out <- b:
		case <-ctx.Done():
			return ctx.Err()
		}
		buf.Reset()
		lines, first = 0, lineNo+1
		return nil
	}
	for {
		line, err := br.ReadBytes('\n')
		if len(line) > 0 {
			lineNo++
			lines++
			buf.Write(line)
			if line[len(line)-1] != '\n' {
				buf.WriteByte('\n')
			}
			if lines >= batchSize || buf.Len() >= 4<<20 {
				if err := flush(); err != nil {
					return err
				}
			}
		}
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fmt.Errorf("ingest %s: line %d: %w", name, lineNo+1, err)
		}
	}
	return flush()
}

func sourceFromName(name string) string {
	if name == "-" {
		return ""
	}
	base := filepath.Base(name)
	for _, ext := range []string{".gz", ".log", ".jsonl", ".ndjson", ".json", ".txt"} {
		base = strings.TrimSuffix(base, ext)
	}
	return base
}

func sniffFormat(b []byte) string {
	for _, line := range bytes.SplitN(b, []byte("\n"), 16) {
		line = bytes.TrimSpace(line)
		if len(line) == 0 {
			continue
		}
		if line[0] == '{' {
			return "jsonl"
		}
		return "text"
	}
	return "text"
}

func sendBatch(ctx context.Context, c *client, b ingestBatch, tot *ingestTotals, stderr io.Writer) error {
	ct := "text/plain"
	if b.format == "jsonl" || b.format == "ndjson" {
		ct = "application/x-ndjson"
	}
	path := "/api/v1/logs"
	if b.source != "" {
		path += "?source=" + url.QueryEscape(b.source)
	}
	var res struct {
		Accepted int `json:"accepted"`
		Rejected int `json:"rejected"`
		Errors   []struct {
			Line  int    `json:"line"`
			Error string `json:"error"`
		} `json:"errors"`
	}
	resp, err := c.do(ctx, http.MethodPost, path, ct, b.body)
	var se *statusError
	switch {
	case errors.As(err, &se) && se.code == http.StatusBadRequest:
		// Nothing in the batch was accepted; the body says why per line.
		if json.Unmarshal(se.body, &res) != nil || res.Rejected == 0 {
			res.Rejected = b.lines
			fmt.Fprintf(stderr, "%s:%d-%d: %s\n", b.file, b.firstLine, b.firstLine+b.lines-1, se.msg)
		}
	case err != nil:
		return fmt.Errorf("send %s lines %d-%d: %w", b.file, b.firstLine, b.firstLine+b.lines-1, err)
	default:
		err := json.NewDecoder(resp.Body).Decode(&res)
		resp.Body.Close()
		if err != nil {
			return fmt.Errorf("send %s lines %d-%d: decode the answer: %w", b.file, b.firstLine, b.firstLine+b.lines-1, err)
		}
	}
	tot.mu.Lock()
	defer tot.mu.Unlock()
	tot.lines += b.lines
	tot.accepted += res.Accepted
	tot.rejected += res.Rejected
	for _, e := range res.Errors {
		if tot.shown < 20 {
			fmt.Fprintf(stderr, "%s:%d: %s\n", b.file, b.firstLine+e.Line-1, e.Error)
		}
		tot.shown++
	}
	return nil
}
