package httpapi

import (
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/logengine/logengine/ingest"
	"github.com/logengine/logengine/internal/duration"
	"github.com/logengine/logengine/internal/entryjson"
	"github.com/logengine/logengine/search"
	"github.com/logengine/logengine/storage"
)

// Ingester validates, enriches and durably stores a batch of logs.
type Ingester interface {
	Ingest(ctx context.Context, req ingest.Request) (ingest.Response, error)
}

// Searcher answers searches and aggregations.
type Searcher interface {
	Search(ctx context.Context, req search.Request) (*search.Result, error)
	Get(ctx context.Context, id storage.ID) (storage.Entry, error)
	Aggregate(ctx context.Context, req search.AggRequest) (*search.AggResult, error)
	Histogram(ctx context.Context, req search.HistRequest) (*search.HistResult, error)
	// WaitIndexed blocks until the keyword index covers sequence seq.
	WaitIndexed(ctx context.Context, seq uint64) error
}

type ingestResponse struct {
	Accepted int                `json:"accepted"`
	Rejected int                `json:"rejected"`
	Errors   []ingest.LineError `json:"errors"`
}

func (s *Server) ingest(c echo.Context) error {
	r := c.Request()
	format, err := formatOf(r.Header.Get(echo.HeaderContentType))
	if err != nil {
		return err
	}
	body, err := s.readBody(r)
	if err != nil {
		return err
	}
	req := ingest.Request{Format: format, Body: body, Source: c.QueryParam("source")}
	if t := c.QueryParam("tags"); t != "" {
		req.Tags = strings.Split(t, ",")
	}
	wait := c.QueryParam("wait")
	if wait != "" && wait != "indexed" {
		return errorf(http.StatusBadRequest, "wait=%q: the only value is wait=indexed", wait)
	}
	res, err := s.deps.Ingester.Ingest(r.Context(), req)
	if err != nil {
		return err
	}
	out := ingestResponse{Accepted: res.Accepted, Rejected: res.Rejected, Errors: res.Errors}
	if out.Errors == nil {
		out.Errors = []ingest.LineError{}
	}
	if res.Accepted == 0 {
		if res.Rejected == 0 {
			return errorf(http.StatusBadRequest, "the body holds no log entries")
		}
		return c.JSON(http.StatusBadRequest, map[string]any{
			"error":    fmt.Sprintf("no entry was accepted: %d rejected, see errors", res.Rejected),
			"accepted": 0, "rejected": res.Rejected, "errors": out.Errors,
		})
	}
	if wait == "indexed" {
		if err := s.deps.Searcher.WaitIndexed(r.Context(), res.LastSeq); err != nil {
			return fmt.Errorf("wait for the index (the entries are stored): %w", err)
		}
	}
	return c.JSON(http.StatusOK, out)
}

// formatOf maps a Content-Type onto a body format. A missing type, and the
// form type that curl -d sends by default, are sniffed from the body: a
// new user's first curl should work.
func formatOf(contentType string) (ingest.Format, error) {
	if contentType == "" {
		return ingest.FormatAuto, nil
	}
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		return 0, errorf(http.StatusUnsupportedMediaType, "Content-Type %q does not parse: %v", contentType, err)
	}
	switch mt {
	case "application/json":
		return ingest.FormatJSON, nil
	case "application/x-ndjson", "application/jsonl", "application/x-jsonlines", "application/jsonlines", "application/json-seq":
		return ingest.FormatNDJSON, nil
	case "text/plain":
		return ingest.FormatText, nil
	case "application/x-www-form-urlencoded":
		return ingest.FormatAuto, nil
	}
	return 0, errorf(http.StatusUnsupportedMediaType,
		"Content-Type %q is not supported: use application/json, application/x-ndjson or text/plain", mt)
}

// readBody reads the whole body, gunzipping it when it says so, and answers
// 413 past the limit.
func (s *Server) readBody(r *http.Request) ([]byte, error) {
	var rd io.Reader = r.Body
	switch enc := strings.ToLower(r.Header.Get("Content-Encoding")); enc {
	case "", "identity":
	case "gzip", "x-gzip":
		zr, err := gzip.NewReader(r.Body)
		if err != nil {
			return nil, errorf(http.StatusBadRequest, "Content-Encoding gzip: %v", err)
		}
		defer zr.Close()
		rd = zr
	default:
		return nil, errorf(http.StatusUnsupportedMediaType, "Content-Encoding %q is not supported: use gzip or none", enc)
	}
	limit := s.opts.MaxBodyBytes
	if r.ContentLength > limit {
		return nil, errorf(http.StatusRequestEntityTooLarge, "the body has %d bytes, more than the limit of %d: send smaller batches", r.ContentLength, limit)
	}
	buf := make([]byte, 0, min(max(r.ContentLength, 4096), limit)+1)
	body, err := readAllInto(buf, io.LimitReader(rd, limit+1))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, errorf(http.StatusRequestEntityTooLarge, "the body is larger than %d bytes: send smaller batches", limit)
		}
		return nil, errorf(http.StatusBadRequest, "read the body: %v", err)
	}
	if int64(len(body)) > limit {
		return nil, errorf(http.StatusRequestEntityTooLarge, "the body is larger than the limit of %d bytes (after decompression): send smaller batches", limit)
	}
	return body, nil
}

func readAllInto(b []byte, r io.Reader) ([]byte, error) {
	for {
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)]
		}
		n, err := r.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		if err == io.EOF {
			return b, nil
		}
		if err != nil {
			return b, err
		}
	}
}

// searchParams is the search request (README.md, "HTTP API"), from a query
// string or a JSON body.
type searchParams struct {
	Q      string   `json:"q" query:"q"`
	From   timeText `json:"from" query:"from"`
	To     timeText `json:"to" query:"to"`
	Sort   string   `json:"sort" query:"sort"`
	Limit  *int     `json:"limit" query:"limit"`
	Cursor string   `json:"cursor" query:"cursor"`
	Wait   string   `json:"wait" query:"wait"`
	// Partial is allow (the default) or deny: see partialParam.
	Partial string `json:"partial" query:"partial"`
}

func (s *Server) search(c echo.Context) error {
	p := searchParams{
		Q: c.QueryParam("q"), From: timeText(c.QueryParam("from")), To: timeText(c.QueryParam("to")),
		Sort: c.QueryParam("sort"), Cursor: c.QueryParam("cursor"), Wait: c.QueryParam("wait"),
		Partial: c.QueryParam("partial"),
	}
	if v := c.QueryParam("limit"); v != "" {
		n, err := intParam("limit", v)
		if err != nil {
			return err
		}
		p.Limit = &n
	}
	return s.runSearch(c, p)
}

// searchPost reads the parameters from a JSON body, whatever the
// Content-Type says: curl -d sends a form type, and a body that was
// silently ignored would answer with every log.
func (s *Server) searchPost(c echo.Context) error {
	var p searchParams
	if err := decodeStrict(c, &p); err != nil {
		return err
	}
	return s.runSearch(c, p)
}

// timeText is a time bound as the query string has it. In a JSON body it
// may also be a number: epoch milliseconds, as in the query string.
type timeText string

func (t *timeText) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err == nil {
		*t = timeText(s)
		return nil
	}
	var n json.Number
	if err := json.Unmarshal(b, &n); err != nil {
		return fmt.Errorf("a time must be a string (RFC 3339, now-1h) or a number of epoch milliseconds, not %s", b)
	}
	*t = timeText(n.String())
	return nil
}

func (s *Server) runSearch(c echo.Context, p searchParams) error {
	now := time.Now()
	req := search.Request{Query: p.Q, Cursor: p.Cursor, Limit: search.DefaultLimit}
	var err error
	if req.From, req.To, err = timeRange(string(p.From), string(p.To), now); err != nil {
		return err
	}
	if req.Sort, err = search.ParseSort(p.Sort); err != nil {
		return err
	}
	if p.Limit != nil {
		if *p.Limit < 1 || *p.Limit > search.MaxLimit {
			return errorf(http.StatusBadRequest, "limit=%d: use 1 to %d and follow next_cursor for more", *p.Limit, search.MaxLimit)
		}
		req.Limit = *p.Limit
	}
	switch p.Wait {
	case "":
	case "indexed":
		req.WaitIndexed = true
	default:
		return errorf(http.StatusBadRequest, "wait=%q: the only value is wait=indexed", p.Wait)
	}
	deny, err := parsePartial(p.Partial)
	if err != nil {
		return err
	}
	res, err := s.deps.Searcher.Search(c.Request().Context(), req)
	if err != nil {
		return err
	}
	pa, err := checkPartial(deny, res.Missing)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, searchResponse{
		Logs:          entryjson.FromAll(res.Entries),
		NextCursor:    res.NextCursor,
		TookMS:        res.Took.Milliseconds(),
		partialAnswer: pa,
	})
}

type searchResponse struct {
	Logs       []entryjson.Entry `json:"logs"`
	NextCursor string            `json:"next_cursor,omitempty"`
	TookMS     int64             `json:"took_ms"`
	partialAnswer
}

func (s *Server) getLog(c echo.Context) error {
	id, err := storage.ParseID(c.Param("id"))
	if err != nil {
		return errorf(http.StatusBadRequest, "%v", err)
	}
	e, err := s.deps.Searcher.Get(c.Request().Context(), id)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, entryjson.From(&e))
}

func (s *Server) aggregate(c echo.Context) error {
	req := search.AggRequest{Query: c.QueryParam("q"), Limit: 10}
	var err error
	if req.From, req.To, err = timeRange(c.QueryParam("from"), c.QueryParam("to"), time.Now()); err != nil {
		return err
	}
	gb := c.QueryParam("group_by")
	if gb == "" {
		return errorf(http.StatusBadRequest, "group_by is required: level, source, tag or a field name (comma-separated for composite keys)")
	}
	for _, f := range strings.Split(gb, ",") {
		if f = strings.TrimSpace(f); f == "" {
			return errorf(http.StatusBadRequest, "group_by=%q has an empty name", gb)
		}
		req.GroupBy = append(req.GroupBy, f)
	}
	if v := c.QueryParam("limit"); v != "" {
		if req.Limit, err = intParam("limit", v); err != nil {
			return err
		}
		if req.Limit < 1 || req.Limit > search.MaxLimit {
			return errorf(http.StatusBadRequest, "limit=%d: use 1 to %d", req.Limit, search.MaxLimit)
		}
	}
	deny, err := partialParam(c)
	if err != nil {
		return err
	}
	res, err := s.deps.Searcher.Aggregate(c.Request().Context(), req)
	if err != nil {
		return err
	}
	pa, err := checkPartial(deny, res.Missing)
	if err != nil {
		return err
	}
	type bucket struct {
		Key   any   `json:"key"`
		Count int64 `json:"count"`
	}
	out := struct {
		Buckets []bucket `json:"buckets"`
		Total   int64    `json:"total"`
		Other   int64    `json:"other"`
		// Exact is false, and only there, when a cluster cannot prove
		// its top groups exact (see cluster.mergeGroups).
		Exact *bool `json:"exact,omitempty"`
		partialAnswer
	}{Buckets: []bucket{}, Total: res.Total, Other: res.Other, partialAnswer: pa}
	if res.Inexact {
		out.Exact = new(bool)
	}
	for _, g := range res.Groups {
		var key any = g.Key
		if len(g.Key) == 1 {
			key = g.Key[0]
		}
		out.Buckets = append(out.Buckets, bucket{Key: key, Count: g.Count})
	}
	return c.JSON(http.StatusOK, out)
}

func (s *Server) histogram(c echo.Context) error {
	req := search.HistRequest{Query: c.QueryParam("q"), GroupBy: c.QueryParam("group_by")}
	if strings.Contains(req.GroupBy, ",") {
		return errorf(http.StatusBadRequest, "group_by=%q: a histogram splits by one field; for composite keys use /api/v1/aggregate", req.GroupBy)
	}
	var err error
	if req.From, req.To, err = timeRange(c.QueryParam("from"), c.QueryParam("to"), time.Now()); err != nil {
		return err
	}
	if v := c.QueryParam("interval"); v != "" {
		if req.Interval, err = duration.Parse(v); err != nil || req.Interval <= 0 {
			return errorf(http.StatusBadRequest, "interval=%q is not a positive duration such as 30s, 5m, 1h or 1d", v)
		}
	}
	deny, err := partialParam(c)
	if err != nil {
		return err
	}
	res, err := s.deps.Searcher.Histogram(c.Request().Context(), req)
	if err != nil {
		return err
	}
	pa, err := checkPartial(deny, res.Missing)
	if err != nil {
		return err
	}
	type keyCount struct {
		Key   any   `json:"key"`
		Count int64 `json:"count"`
	}
	// groups names each group by its key's text, as JSON object keys must
	// be; by_key keeps the key's type ("200" and 200 apart).
	type bucket struct {
		Start  string           `json:"start"`
		Count  int64            `json:"count"`
		Groups map[string]int64 `json:"groups,omitempty"`
		ByKey  []keyCount       `json:"by_key,omitempty"`
	}
	out := struct {
		Interval string   `json:"interval"`
		Buckets  []bucket `json:"buckets"`
		partialAnswer
	}{Interval: duration.Format(res.Interval), Buckets: []bucket{}, partialAnswer: pa}
	for _, b := range res.Buckets {
		o := bucket{Start: b.Start.UTC().Format(time.RFC3339Nano), Count: b.Count, Groups: b.Groups}
		for _, kc := range b.ByKey {
			o.ByKey = append(o.ByKey, keyCount{Key: kc.Key, Count: kc.Count})
		}
		out.Buckets = append(out.Buckets, o)
	}
	return c.JSON(http.StatusOK, out)
}
