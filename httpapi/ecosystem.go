package httpapi

import (
	"context"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/logengine/logengine/ingest"
	"github.com/logengine/logengine/storage"
)

// The endpoints of other log systems' ingest APIs, so that their shippers
// can send to logengine unchanged: Elasticsearch _bulk, Loki push and
// OpenTelemetry logs over HTTP. Each translates its protocol into one call
// of the ingest service, which validates, enriches and durably stores the
// entries like POST /api/v1/logs does; a success answer means stored.

// ProtocolIngester stores logs sent in the protocols of other log systems.
type ProtocolIngester interface {
	IngestBulk(ctx context.Context, req ingest.BulkRequest) (*ingest.BulkBatch, ingest.Response, error)
	IngestLoki(ctx context.Context, req ingest.LokiRequest) (ingest.Response, error)
	IngestOTLP(ctx context.Context, req ingest.OTLPRequest) (ingest.Response, error)
}

// esVersion is the Elasticsearch version GET / reports. Shippers that
// check it (Beats, Logstash) want 8.x for the bulk format sent here:
// no _type, "create" and "index" actions.
const esVersion = "8.11.0"

// elasticProduct marks every answer as Elasticsearch's: the official
// clients refuse a 2xx answer without this header.
func elasticProduct(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		c.Response().Header().Set("X-Elastic-Product", "Elasticsearch")
		return next(c)
	}
}

// esInfo answers GET / like an Elasticsearch node, for the clients that
// probe it for the version.
func (s *Server) esInfo(c echo.Context) error {
	host, _ := os.Hostname()
	return c.JSON(http.StatusOK, map[string]any{
		"name":         host,
		"cluster_name": "logengine",
		"cluster_uuid": "logengine",
		"version": map[string]any{
			"number":                              esVersion,
			"build_flavor":                        "default",
			"build_type":                          "logengine",
			"build_snapshot":                      false,
			"lucene_version":                      "9.8.0",
			"minimum_wire_compatibility_version":  "7.17.0",
			"minimum_index_compatibility_version": "7.0.0",
			"logengine_version":                   s.opts.Version,
		},
		"tagline": "You Know, for Search",
	})
}

// esBulkItem is one item of a bulk answer: exactly one of the fields is
// set, named after the action.
type esBulkItem struct {
	Index  *esItemResult `json:"index,omitempty"`
	Create *esItemResult `json:"create,omitempty"`
	Update *esItemResult `json:"update,omitempty"`
	Delete *esItemResult `json:"delete,omitempty"`
}

type esItemResult struct {
	Index       string       `json:"_index"`
	ID          *string      `json:"_id"`
	Version     int          `json:"_version,omitempty"`
	Result      string       `json:"result,omitempty"`
	Shards      *esShards    `json:"_shards,omitempty"`
	SeqNo       *uint64      `json:"_seq_no,omitempty"`
	PrimaryTerm int          `json:"_primary_term,omitempty"`
	Status      int          `json:"status"`
	Error       *esItemError `json:"error,omitempty"`
}

type esShards struct {
	Total      int `json:"total"`
	Successful int `json:"successful"`
	Failed     int `json:"failed"`
}

type esItemError struct {
	Type   string `json:"type"`
	Reason string `json:"reason"`
}

type esBulkResponse struct {
	Took   int64        `json:"took"`
	Errors bool         `json:"errors"`
	Items  []esBulkItem `json:"items"`
}

var oneShard = &esShards{Total: 1, Successful: 1}

// esBulk serves POST /_bulk and /{index}/_bulk. Every action gets an item
// in the answer, in order; documents that are not valid logs get status
// 400 with the reason, and the answer's errors flag is set, as
// Elasticsearch does. refresh=wait_for (or true) answers once the entries
// are searchable, like wait=indexed.
func (s *Server) esBulk(c echo.Context) error {
	start := time.Now()
	r := c.Request()
	body, err := s.readBody(r)
	if err != nil {
		return err
	}
	parse, err := boolParam(c, "parse_message")
	if err != nil {
		return err
	}
	wait, err := esWait(c)
	if err != nil {
		return err
	}
	req := ingest.BulkRequest{Body: body, Index: c.Param("index"), Source: c.QueryParam("source"), ParseMessage: parse}
	if t := c.QueryParam("tags"); t != "" {
		req.Tags = strings.Split(t, ",")
	}
	batch, res, err := s.deps.Protocols.IngestBulk(r.Context(), req)
	if err != nil {
		return err
	}
	if wait && res.Accepted > 0 {
		if err := s.deps.Searcher.WaitIndexed(r.Context(), res.LastSeq); err != nil {
			return fmt.Errorf("wait for the index (the entries are stored): %w", err)
		}
	}
	out := esBulkResponse{Items: make([]esBulkItem, len(batch.Actions))}
	for i, a := range batch.Actions {
		item := &esItemResult{Index: a.Index}
		if a.DocID != "" {
			id := a.DocID
			item.ID = &id
		}
		var rerr error
		var rr *ingest.Result
		if a.Err != nil {
			rerr = a.Err
		} else {
			rr = &batch.Results[a.Result]
			rerr = rr.Err
		}
		switch {
		case rerr != nil:
			out.Errors = true
			item.Status = http.StatusBadRequest
			item.Error = &esItemError{Type: esErrorType(rerr), Reason: rerr.Error()}
		case rr.Dropped:
			item.Status, item.Result, item.Version = http.StatusOK, "noop", 1
		case rr.Entry.ID == storage.ID{}:
			// A gateway node wrote it to Kafka: the node that stores it
			// gives it an id, so there is none to answer.
			item.Status, item.Result, item.Version = http.StatusCreated, "created", 1
			item.Shards, item.PrimaryTerm = oneShard, 1
		default:
			if item.ID == nil {
				id := rr.Entry.ID.String()
				item.ID = &id
			}
			seq := rr.Entry.ID.Seq
			item.Status, item.Result, item.Version = http.StatusCreated, "created", 1
			item.Shards, item.SeqNo, item.PrimaryTerm = oneShard, &seq, 1
		}
		switch a.Op {
		case "create":
			out.Items[i].Create = item
		case "update":
			out.Items[i].Update = item
		case "delete":
			out.Items[i].Delete = item
		default:
			out.Items[i].Index = item
		}
	}
	out.Took = time.Since(start).Milliseconds()
	return c.JSON(http.StatusOK, out)
}

func esErrorType(err error) string {
	switch {
	case errors.Is(err, ingest.ErrUnsupportedAction):
		return "action_request_validation_exception"
	case errors.Is(err, ingest.ErrSyntax):
		return "document_parsing_exception"
	}
	return "illegal_argument_exception"
}

// esWait reads refresh (Elasticsearch's) or wait (logengine's).
func esWait(c echo.Context) (bool, error) {
	if w := c.QueryParam("wait"); w != "" {
		if w != "indexed" {
			return false, errorf(http.StatusBadRequest, "wait=%q: the only value is wait=indexed", w)
		}
		return true, nil
	}
	switch v := c.QueryParam("refresh"); v {
	case "", "false":
		return false, nil
	case "true", "wait_for":
		return true, nil
	default:
		return false, errorf(http.StatusBadRequest, "refresh=%q: use true, wait_for or false", v)
	}
}

// lokiPush serves POST /loki/api/v1/push: snappy-compressed protobuf (the
// default of Loki's clients) or JSON, told by the Content-Type as Loki
// does. A push with rejected entries answers 400 after storing the valid
// ones, as Loki does, so that clients do not send the whole batch again.
func (s *Server) lokiPush(c echo.Context) error {
	r := c.Request()
	body, err := s.readBody(r)
	if err != nil {
		return err
	}
	parse, err := boolParam(c, "parse_message")
	if err != nil {
		return err
	}
	wait := c.QueryParam("wait")
	if wait != "" && wait != "indexed" {
		return errorf(http.StatusBadRequest, "wait=%q: the only value is wait=indexed", wait)
	}
	mt, _, _ := mime.ParseMediaType(r.Header.Get(echo.HeaderContentType))
	req := ingest.LokiRequest{
		Body: body, Protobuf: mt != "application/json", MaxBytes: s.opts.MaxBodyBytes,
		Source: c.QueryParam("source"), ParseMessage: parse,
	}
	if mt == "" && len(body) > 0 && body[0] == '{' {
		req.Protobuf = false
	}
	if t := c.QueryParam("tags"); t != "" {
		req.Tags = strings.Split(t, ",")
	}
	res, err := s.deps.Protocols.IngestLoki(r.Context(), req)
	if err != nil {
		return err
	}
	if wait == "indexed" && res.Accepted > 0 {
		if err := s.deps.Searcher.WaitIndexed(r.Context(), res.LastSeq); err != nil {
			return fmt.Errorf("wait for the index (the entries are stored): %w", err)
		}
	}
	if res.Rejected > 0 {
		errs := res.Errors
		if errs == nil {
			errs = []ingest.LineError{}
		}
		return c.JSON(http.StatusBadRequest, map[string]any{
			"error":    fmt.Sprintf("%d entries rejected (%d stored): %s", res.Rejected, res.Accepted, errs[0].Error),
			"accepted": res.Accepted, "rejected": res.Rejected, "errors": errs,
		})
	}
	return c.NoContent(http.StatusNoContent)
}

// otlpLogs serves POST /v1/logs, OTLP/HTTP in protobuf or JSON. Records
// that are not valid logs are reported in partial_success with a 200, as
// the specification asks (the client must not send them again); errors
// answer a google.rpc.Status in the request's encoding.
func (s *Server) otlpLogs(c echo.Context) error {
	r := c.Request()
	mt, _, _ := mime.ParseMediaType(r.Header.Get(echo.HeaderContentType))
	asJSON := mt == "application/json"
	if !asJSON && mt != "application/x-protobuf" && mt != "application/protobuf" {
		return s.otlpError(c, errorf(http.StatusUnsupportedMediaType,
			"Content-Type %q is not OTLP: use application/x-protobuf or application/json", mt), false)
	}
	body, err := s.readBody(r)
	if err != nil {
		return s.otlpError(c, err, asJSON)
	}
	req := ingest.OTLPRequest{Body: body, JSON: asJSON, Source: c.QueryParam("source")}
	if t := c.QueryParam("tags"); t != "" {
		req.Tags = strings.Split(t, ",")
	}
	res, err := s.deps.Protocols.IngestOTLP(r.Context(), req)
	if err != nil {
		return s.otlpError(c, err, asJSON)
	}
	if c.QueryParam("wait") == "indexed" && res.Accepted > 0 {
		if err := s.deps.Searcher.WaitIndexed(r.Context(), res.LastSeq); err != nil {
			return s.otlpError(c, fmt.Errorf("wait for the index (the entries are stored): %w", err), asJSON)
		}
	}
	if asJSON {
		return c.Blob(http.StatusOK, "application/json", ingest.OTLPResponse(res, true))
	}
	return c.Blob(http.StatusOK, "application/x-protobuf", ingest.OTLPResponse(res, false))
}

// otlpError answers an error as OTLP/HTTP clients expect: the status code
// (429 and 503 with Retry-After, which they honour) and a google.rpc.Status
// body.
func (s *Server) otlpError(c echo.Context, err error, asJSON bool) error {
	code := status(err)
	msg := err.Error()
	var ae *apiError
	switch {
	case code == http.StatusTooManyRequests && errors.As(err, &ae) && ae.retryAfter > 0:
		c.Response().Header().Set("Retry-After", strconv.Itoa(ae.retryAfter))
	case code == http.StatusTooManyRequests, code == http.StatusServiceUnavailable:
		c.Response().Header().Set("Retry-After", "1")
	case code == http.StatusInternalServerError:
		s.opts.Logger.Error("request failed", "method", c.Request().Method, "path", c.Path(), "err", err)
	}
	ct := "application/x-protobuf"
	if asJSON {
		ct = "application/json"
	}
	return c.Blob(code, ct, ingest.OTLPStatus(code, msg, asJSON))
}

// boolParam reads an optional true/false query parameter.
func boolParam(c echo.Context, name string) (bool, error) {
	v := c.QueryParam(name)
	if v == "" {
		return false, nil
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		return false, errorf(http.StatusBadRequest, "%s=%q: use true or false", name, v)
	}
	return b, nil
}
