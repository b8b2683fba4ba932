package httpapi

import (
	"bufio"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/logengine/logengine/internal/entryjson"
	"github.com/logengine/logengine/patterns"
	"github.com/logengine/logengine/search"
	"github.com/logengine/logengine/storage"
)

// Explorer serves what the web UI offers around a search: the export of a
// whole match, an entry's context and the fields of a match.
type Explorer interface {
	Export(ctx context.Context, req search.ExportRequest, fn func(*storage.Entry) error) error
	Context(ctx context.Context, id storage.ID, before, after int) (*search.ContextResult, error)
	Facets(ctx context.Context, req search.FacetRequest) (*search.FacetResult, error)
}

// exportWriteTimeout drops an export whose client stops reading; it
// replaces the server's WriteTimeout, which would cut a long export.
const exportWriteTimeout = 30 * time.Second

// baseCSVColumns are the CSV columns of every export; fields= adds more
// (a client field, or id, severity, tags, pattern, or fields for all the client
// fields as one JSON object).
var baseCSVColumns = []string{"timestamp", "level", "source", "message"}

// export streams every matching entry, oldest first, as NDJSON (the entry
// objects of a search answer) or CSV.
func (s *Server) export(c echo.Context) error {
	req := search.ExportRequest{Query: c.QueryParam("q")}
	var err error
	if req.From, req.To, err = timeRange(c.QueryParam("from"), c.QueryParam("to"), time.Now()); err != nil {
		return err
	}
	if _, err := search.Parse(req.Query); err != nil {
		return err
	}
	format := c.QueryParam("format")
	switch format {
	case "":
		format = "ndjson"
	case "ndjson", "csv":
	default:
		return errorf(http.StatusBadRequest, "format=%q: use ndjson or csv", format)
	}
	// CSV: the base columns and the fields asked for; NDJSON: whole entry
	// objects, their fields narrowed to those asked for.
	columns := slices.Clone(baseCSVColumns)
	var only map[string]bool
	if v := c.QueryParam("fields"); v != "" {
		only = map[string]bool{}
		for _, f := range strings.Split(v, ",") {
			if f = strings.TrimSpace(f); f == "" {
				return errorf(http.StatusBadRequest, "fields=%q has an empty name", v)
			}
			only[f] = true
			if !slices.Contains(columns, f) {
				columns = append(columns, f)
			}
		}
	}

	w := c.Response()
	rc := http.NewResponseController(w)
	bw := bufio.NewWriterSize(w, 64<<10)
	var cw *csv.Writer
	if format == "csv" {
		cw = csv.NewWriter(bw)
		cw.UseCRLF = true // RFC 4180
	}
	started := false
	start := func() error {
		started = true
		ext, ct := "ndjson", "application/x-ndjson"
		if format == "csv" {
			ext, ct = "csv", "text/csv; charset=utf-8"
		}
		w.Header().Set(echo.HeaderContentType, ct)
		w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="logengine-%s.%s"`, time.Now().UTC().Format("20060102T150405Z"), ext))
		w.Header().Set("Cache-Control", "no-store")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		w.WriteHeader(http.StatusOK)
		if cw != nil {
			return cw.Write(columns)
		}
		return nil
	}
	// flush hands what is buffered to the client, waiting for it at most
	// exportWriteTimeout: the client's reading paces the export.
	ctx, cancel := s.streamContext(c.Request().Context())
	defer cancel()
	// A client that stops reading holds a write until its deadline: when
	// the client goes away or the daemon shuts down, end it at once.
	stopWrites := context.AfterFunc(ctx, func() { _ = rc.SetWriteDeadline(time.Now()) })
	defer stopWrites()
	flush := func() error {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := rc.SetWriteDeadline(time.Now().Add(exportWriteTimeout)); err != nil && !errors.Is(err, http.ErrNotSupported) {
			return err
		}
		if cw != nil {
			cw.Flush()
			if err := cw.Error(); err != nil {
				return err
			}
		}
		if err := bw.Flush(); err != nil {
			return err
		}
		return rc.Flush()
	}
	n := 0
	row := make([]string, len(columns))
	err = s.deps.Explorer.Export(ctx, req, func(e *storage.Entry) error {
		if !started {
			if err := start(); err != nil {
				return err
			}
		}
		var err error
		switch {
		case cw != nil:
			for i, col := range columns {
				row[i] = csvCell(e, col)
			}
			err = cw.Write(row)
		default:
			j := entryjson.From(e)
			if only != nil {
				for k := range j.Fields {
					if !only[k] {
						delete(j.Fields, k)
					}
				}
			}
			err = writeJSONLine(bw, j)
		}
		if err != nil {
			return err
		}
		if n++; n%1000 == 0 {
			return flush()
		}
		return nil
	})
	if err == nil && !started {
		err = start() // no match: the header row alone, or nothing
	}
	if err == nil {
		err = flush()
	}
	if err != nil && !started {
		return err
	}
	if err != nil {
		// Part of the export is sent: end the connection without the last
		// chunk, so that the client sees a broken download rather than a
		// short file that looks whole.
		if !errors.Is(err, context.Canceled) {
			s.opts.Logger.Warn("export ended early", "after", n, "err", err)
		}
		panic(http.ErrAbortHandler)
	}
	return nil
}

func writeJSONLine(w *bufio.Writer, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode an entry: %w", err)
	}
	if _, err := w.Write(b); err != nil {
		return err
	}
	return w.WriteByte('\n')
}

// csvCell is one column of an entry as CSV text, neutralised against
// spreadsheet formulas (see neutralise).
func csvCell(e *storage.Entry, col string) string {
	var s string
	switch col {
	case "id":
		s = e.ID.String()
	case "timestamp":
		s = e.Time.UTC().Format(time.RFC3339Nano)
	case "level":
		s = e.Level.String()
	case "severity":
		s = strconv.Itoa(int(e.Level))
	case "source":
		s = e.Source
	case "message":
		s = e.Message
	case "tags":
		s = strings.Join(e.Tags, ",")
	case "pattern":
		if e.Pattern != 0 {
			s = patterns.FormatID(uint64(e.Pattern))
		}
	case "fields":
		m := make(map[string]any, len(e.Fields))
		for _, f := range e.Fields {
			m[f.Name] = f.Value.Interface()
		}
		b, _ := json.Marshal(m) // values are JSON's kinds
		s = string(b)
	default:
		if v, ok := e.Field(col); ok {
			s = v.Text()
		}
	}
	return neutralise(s)
}

// neutralise puts an apostrophe before a cell that a spreadsheet would
// read as a formula: one starting with = + - @, a tab or a carriage
// return. A number (-3, -0.5) is left as it is: a spreadsheet reads it as
// the number, which runs nothing.
func neutralise(s string) string {
	if s == "" {
		return s
	}
	switch s[0] {
	case '=', '+', '-', '@', '\t', '\r':
		if s[0] == '-' || s[0] == '+' {
			if _, err := strconv.ParseFloat(s, 64); err == nil && !strings.ContainsAny(s, "xXpP") {
				return s
			}
		}
		return "'" + s
	}
	return s
}

// logContext answers an entry with its neighbours from the same source.
func (s *Server) logContext(c echo.Context) error {
	id, err := storage.ParseID(c.Param("id"))
	if err != nil {
		return errorf(http.StatusBadRequest, "%v", err)
	}
	count := func(name string) (int, error) {
		v := c.QueryParam(name)
		if v == "" {
			return 20, nil
		}
		n, err := intParam(name, v)
		if err != nil {
			return 0, err
		}
		if n < 0 || n > search.MaxContext {
			return 0, errorf(http.StatusBadRequest, "%s=%d: use 0 to %d", name, n, search.MaxContext)
		}
		return n, nil
	}
	before, err := count("before")
	if err != nil {
		return err
	}
	after, err := count("after")
	if err != nil {
		return err
	}
	deny, err := partialParam(c)
	if err != nil {
		return err
	}
	res, err := s.deps.Explorer.Context(c.Request().Context(), id, before, after)
	if err != nil {
		return err
	}
	pa, err := checkPartial(deny, res.Missing)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, struct {
		Before     []entryjson.Entry `json:"before"`
		Entry      entryjson.Entry   `json:"entry"`
		After      []entryjson.Entry `json:"after"`
		MoreBefore bool              `json:"more_before"`
		MoreAfter  bool              `json:"more_after"`
		partialAnswer
	}{entryjson.FromAll(res.Before), entryjson.From(&res.Entry), entryjson.FromAll(res.After), res.MoreBefore, res.MoreAfter, pa})
}

// facets answers the fields of the matching entries with their top values.
func (s *Server) facets(c echo.Context) error {
	req := search.FacetRequest{Query: c.QueryParam("q"), Limit: 10}
	var err error
	if req.From, req.To, err = timeRange(c.QueryParam("from"), c.QueryParam("to"), time.Now()); err != nil {
		return err
	}
	if v := c.QueryParam("fields"); v != "" {
		for _, f := range strings.Split(v, ",") {
			if f = strings.TrimSpace(f); f == "" {
				return errorf(http.StatusBadRequest, "fields=%q has an empty name", v)
			}
			req.Fields = append(req.Fields, f)
		}
	}
	if v := c.QueryParam("limit"); v != "" {
		if req.Limit, err = intParam("limit", v); err != nil {
			return err
		}
		if req.Limit < 1 || req.Limit > 100 {
			return errorf(http.StatusBadRequest, "limit=%d: use 1 to 100 values per field", req.Limit)
		}
	}
	deny, err := partialParam(c)
	if err != nil {
		return err
	}
	res, err := s.deps.Explorer.Facets(c.Request().Context(), req)
	if err != nil {
		return err
	}
	pa, err := checkPartial(deny, res.Missing)
	if err != nil {
		return err
	}
	type value struct {
		Value any   `json:"value"`
		Count int64 `json:"count"`
	}
	type field struct {
		Field     string  `json:"field"`
		Count     int64   `json:"count"`
		Values    []value `json:"values"`
		Other     int64   `json:"other"`
		Truncated bool    `json:"truncated,omitempty"`
	}
	out := struct {
		Total           int64   `json:"total"`
		Fields          []field `json:"fields"`
		FieldsTruncated bool    `json:"fields_truncated,omitempty"`
		partialAnswer
	}{Total: res.Total, Fields: []field{}, FieldsTruncated: res.FieldsTruncated, partialAnswer: pa}
	for _, f := range res.Facets {
		o := field{Field: f.Field, Count: f.Count, Values: []value{}, Other: f.Other, Truncated: f.Truncated}
		for _, v := range f.Values {
			o.Values = append(o.Values, value{Value: v.Key[0], Count: v.Count})
		}
		out.Fields = append(out.Fields, o)
	}
	return c.JSON(http.StatusOK, out)
}
