package main

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"

	"github.com/logengine/logengine/internal/entryjson"
)

// queryEntry is an entry as the daemon answers it.
type queryEntry = entryjson.Entry

func runQuery(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("query", stderr)
	server, key := addClientFlags(fs)
	from := fs.String("from", "", "start of the range: RFC 3339, epoch ms or now-15m (inclusive)")
	to := fs.String("to", "", "end of the range (exclusive)")
	limit := fs.Int("limit", 100, "entries per page (at most 10000)")
	sortBy := fs.String("sort", "-timestamp", "-timestamp, timestamp, -severity or severity")
	output := fs.String("output", "table", "table or json (one entry per line)")
	all := fs.Bool("all", false, "follow the cursor to the last page")
	follow := fs.Bool("follow", false, "after the results, stream new matching entries as they arrive (Ctrl-C stops)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "Usage: logengine query [flags] QUERY [flags]   (e.g. logengine query 'level>=warn source:api timeout' --limit 20)")
		fmt.Fprintln(stderr, "A query that starts with '-' goes after --: logengine query -- '-level:debug timeout'")
		fs.PrintDefaults()
	}
	words, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if *output != "table" && *output != "json" {
		return fmt.Errorf("--output %q: use table or json", *output)
	}
	c := newClient(*server, *key)
	params := url.Values{}
	params.Set("q", strings.Join(words, " "))
	params.Set("limit", strconv.Itoa(*limit))
	params.Set("sort", *sortBy)
	if *from != "" {
		params.Set("from", *from)
	}
	if *to != "" {
		params.Set("to", *to)
	}
	color := *output == "table" && isTerminal(stdout)
	if *follow {
		return followTail(ctx, c, params.Get("q"), *output, color, stdout)
	}
	for {
		var page struct {
			Logs       []queryEntry `json:"logs"`
			NextCursor string       `json:"next_cursor"`
		}
		if err := c.getJSON(ctx, "/api/v1/logs?"+params.Encode(), &page); err != nil {
			return err
		}
		for _, e := range page.Logs {
			if *output == "json" {
				b, err := json.Marshal(e)
				if err != nil {
					return err
				}
				fmt.Fprintf(stdout, "%s\n", b)
				continue
			}
			fmt.Fprintln(stdout, formatRow(e, color))
		}
		if !*all || page.NextCursor == "" {
			if page.NextCursor != "" && *output == "table" {
				fmt.Fprintln(stderr, "(more entries: add --all, or narrow the query)")
			}
			return nil
		}
		params.Set("cursor", page.NextCursor)
	}
}

var levelColors = map[string]string{
	"trace": "\x1b[90m", "debug": "\x1b[36m", "info": "\x1b[32m",
	"warn": "\x1b[33m", "error": "\x1b[31m", "fatal": "\x1b[1;35m",
}

// formatRow prints one entry on one line: time, level, source, message,
// then tags and fields sorted by name.
func formatRow(e queryEntry, color bool) string {
	level := fmt.Sprintf("%-5s", strings.ToUpper(e.Level))
	if color {
		level = levelColors[e.Level] + level + "\x1b[0m"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%-30s %s %-12s %s", e.Timestamp, level, e.Source, e.Message)
	if len(e.Tags) > 0 {
		fmt.Fprintf(&b, " tags=%s", strings.Join(e.Tags, ","))
	}
	names := make([]string, 0, len(e.Fields))
	for k := range e.Fields {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		v, _ := json.Marshal(e.Fields[k])
		fmt.Fprintf(&b, " %s=%s", k, v)
	}
	return b.String()
}

// followTail prints entries from the live tail (Server-Sent Events) until
// ctx ends or the daemon ends the stream.
func followTail(ctx context.Context, c *client, q, output string, color bool, stdout io.Writer) error {
	stream := *c
	stream.http = &http.Client{} // no overall timeout: a tail lasts
	resp, err := stream.do(ctx, http.MethodGet, "/api/v1/tail?q="+url.QueryEscape(q), "", nil)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 4<<20)
	event := ""
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "event: "):
			event = strings.TrimPrefix(line, "event: ")
		case strings.HasPrefix(line, "data: "):
			data := strings.TrimPrefix(line, "data: ")
			switch event {
			case "log":
				if output == "json" {
					fmt.Fprintln(stdout, data)
					continue
				}
				var e queryEntry
				if err := json.Unmarshal([]byte(data), &e); err != nil {
					return fmt.Errorf("tail: %w", err)
				}
				fmt.Fprintln(stdout, formatRow(e, color))
			case "end":
				var end struct {
					Reason string `json:"reason"`
				}
				_ = json.Unmarshal([]byte(data), &end)
				if end.Reason != "" && end.Reason != "ended" {
					return fmt.Errorf("the daemon ended the tail: %s", end.Reason)
				}
				return nil
			}
		}
	}
	if ctx.Err() != nil {
		return nil
	}
	return sc.Err()
}

// parseInterspersed parses flags before and after the query's words, as
// people type them ("logengine query level:error --limit 5"). An argument
// after the words counts as a flag only when it names one of fs's flags,
// so "-level:debug" stays a negated term; after "--" everything is a word.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var words []string
	for {
		if _, err := parseFlags(fs, args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		if n := len(args) - len(rest); n > 0 && args[n-1] == "--" {
			return append(words, rest...), nil
		}
		i := 0
		for ; i < len(rest); i++ {
			if rest[i] == "--" {
				return append(words, rest[i+1:]...), nil
			}
			if namesFlag(fs, rest[i]) {
				break
			}
			words = append(words, rest[i])
		}
		if i == len(rest) {
			return words, nil
		}
		args = rest[i:]
	}
}

// namesFlag reports whether arg is -name, --name or --name=value for one
// of fs's flags.
func namesFlag(fs *flag.FlagSet, arg string) bool {
	name, ok := strings.CutPrefix(arg, "-")
	if !ok {
		return false
	}
	name = strings.TrimPrefix(name, "-")
	name, _, _ = strings.Cut(name, "=")
	return name != "" && fs.Lookup(name) != nil
}
