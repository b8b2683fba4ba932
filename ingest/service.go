package ingest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"sync/atomic"
	"time"

	"github.com/logengine/logengine/storage"
)

// Format is the shape of a request body.
type Format int

// The body formats of POST /api/v1/logs.
const (
	// FormatAuto sniffs the body: a JSON array or a single JSON document
	// is JSON, other bodies starting with '{' are NDJSON, the rest text.
	FormatAuto Format = iota
	FormatJSON
	FormatNDJSON
	FormatText
	// The protocols of other log systems, decoded by their own functions
	// and stored with IngestResults.
	FormatBulk   // Elasticsearch _bulk
	FormatLoki   // Loki push, JSON or protobuf
	FormatOTLP   // OpenTelemetry logs over HTTP, protobuf or JSON
	FormatSyslog // syslog over TCP, TLS or UDP
	// FormatKafka names records consumed from Kafka topics in metrics;
	// their values are decoded as JSON, NDJSON or text.
	FormatKafka
)

// Request is one batch to ingest.
type Request struct {
	Format Format
	Body   []byte
	// Source and Tags are the defaults for entries without their own.
	Source string
	Tags   []string
}

// LineError reports one rejected record by its 1-based line (or array
// element) number.
type LineError struct {
	Line  int    `json:"line"`
	Error string `json:"error"`
}

// MaxListedErrors bounds the errors listed in a Response; Rejected counts
// them all.
const MaxListedErrors = 100

// Response is the outcome of a batch. Accepted entries are durable.
type Response struct {
	Accepted int
	Rejected int
	// Dropped counts entries the pipeline filtered out on purpose; they are
	// neither accepted nor errors.
	Dropped int
	Errors  []LineError
	// LastSeq is the highest sequence given to the batch (for wait=indexed).
	LastSeq uint64
}

// Appender stores entries durably.
type Appender interface {
	Append(ctx context.Context, entries []storage.Entry) ([]storage.ID, error)
}

// AtomicAppender is an Appender that also writes other records in the
// transaction of the entries (storage.Store), which IngestResultsWith
// needs.
type AtomicAppender interface {
	AppendWith(ctx context.Context, entries []storage.Entry, puts []storage.Put) ([]storage.ID, error)
}

// append stores entries, with puts when there are any.
func (s *Service) append(ctx context.Context, entries []storage.Entry, puts []storage.Put) ([]storage.ID, error) {
	if len(puts) == 0 {
		return s.store.Append(ctx, entries)
	}
	a, ok := s.store.(AtomicAppender)
	if !ok {
		return nil, fmt.Errorf("BUG: records to write with the entries, but %T cannot write them in one transaction", s.store)
	}
	return a.AppendWith(ctx, entries, puts)
}

// Patterns gives entries the id of their message template.
type Patterns interface {
	// Add returns the id of the template of message in source.
	Add(source, message string) (id uint64, isNew bool)
	// Sync returns once the ids up to id cannot be given to another
	// template after a crash.
	Sync(ctx context.Context, id uint64) error
}

// Service decodes, checks, enriches and stores batches.
type Service struct {
	store    Appender
	pipeline *Pipeline
	limits   Limits
	now      func() time.Time
	// observe, when set, sees each batch's outcome (metrics).
	observe   func(format Format, bytes int, res *Response, rejectReasons map[string]int)
	retention time.Duration
	maxFuture time.Duration
	bulk      BulkOptions
	loki      LokiOptions
	onCommit  []func([]storage.Entry)
	patterns  Patterns
	log       *slog.Logger
	// idOverflow is set once a template id too large for an entry was
	// logged.
	idOverflow atomic.Bool
}

// ServiceOptions configures a Service.
type ServiceOptions struct {
	Limits   Limits
	Pipeline *Pipeline
	Now      func() time.Time
	// Observe, when set, is called after each batch with its outcome and
	// the rejected records counted by reason (for metrics).
	Observe func(format Format, bytes int, res *Response, rejectReasons map[string]int)
	// Retention rejects entries older than this (they would be dropped at
	// the next retention run anyway); zero accepts any age.
	Retention time.Duration
	// MaxFuture rejects entries further in the future than this, which are
	// almost always a wrong clock or time zone; zero means one day.
	MaxFuture time.Duration
	// Bulk and Loki configure the Elasticsearch bulk and Loki push
	// protocols.
	Bulk BulkOptions
	Loki LokiOptions
	// OnCommit are called, in order, with each batch once the store has
	// committed it (IDs set). They may keep the entries: the service does
	// not change them afterwards.
	OnCommit []func(entries []storage.Entry)
	// Patterns, when set, gives every stored entry the id of its message
	// template (Entry.Pattern), mined after the pipeline has run.
	Patterns Patterns
	Logger   *slog.Logger
}

// NewService returns a service that appends to store.
func NewService(store Appender, opts ServiceOptions) *Service {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.MaxFuture <= 0 {
		opts.MaxFuture = 24 * time.Hour
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	return &Service{store: store, pipeline: opts.Pipeline, limits: opts.Limits, now: opts.Now,
		observe: opts.Observe, retention: opts.Retention, maxFuture: opts.MaxFuture,
		bulk: opts.Bulk, loki: opts.Loki, onCommit: opts.OnCommit,
		patterns: opts.Patterns, log: opts.Logger}
}

// Ingest decodes the body and stores every valid entry. Invalid records are
// reported, never fatal to the rest of the batch; an error means nothing
// was stored.
func (s *Service) Ingest(ctx context.Context, req Request) (Response, error) {
	d := Defaults{Source: req.Source, Tags: req.Tags, Now: s.now}
	format := req.Format
	if format == FormatAuto {
		format = sniff(req.Body)
	}
	results, err := s.AppendBody(nil, format, req.Body, d)
	if err != nil {
		return Response{}, err
	}
	return s.IngestResults(ctx, format, len(req.Body), results)
}

// AppendBody decodes a body of the given format with the service's limits
// and appends its results to dst: one JSON object or an array of them,
// NDJSON, or text lines; FormatAuto sniffs which. An error (a *BodyError)
// means the body as a whole is not of the format, and dst is returned
// unchanged.
func (s *Service) AppendBody(dst []Result, format Format, body []byte, d Defaults) ([]Result, error) {
	return newDecoder(d, s.limits).appendBody(dst, format, body)
}

func (dc *decoder) appendBody(dst []Result, format Format, body []byte) ([]Result, error) {
	if format == FormatAuto {
		format = sniff(body)
	}
	switch format {
	case FormatJSON:
		out, err := dc.appendJSON(dst, body)
		if err != nil {
			return dst, &BodyError{Msg: err.Error()}
		}
		return out, nil
	case FormatNDJSON:
		return dc.appendNDJSON(dst, body), nil
	case FormatText:
		return dc.appendText(dst, body), nil
	}
	return dst, fmt.Errorf("BUG: AppendBody of format %s", format)
}

// BodyDecoder decodes many small bodies, such as the records of a Kafka
// fetch, sharing one decoder's scratch space and the chunks its entries'
// fields and tags are cut from: a decoder per record cost more than the
// record's decoding.
type BodyDecoder struct{ dc *decoder }

// NewBodyDecoder returns a decoder with the service's limits and d's
// source and tags; each body gives its own time of arrival. parseMessage
// reads a timestamp and level at the start of JSON entries' messages (see
// BulkOptions.ParseMessage); text lines are always read so.
func (s *Service) NewBodyDecoder(d Defaults, parseMessage bool) *BodyDecoder {
	dc := newDecoder(d, s.limits)
	dc.parseJSON = parseMessage
	return &BodyDecoder{dc: dc}
}

// Append is Service.AppendBody for one body whose entries without a
// timestamp take now.
func (b *BodyDecoder) Append(dst []Result, format Format, body []byte, now time.Time) ([]Result, error) {
	b.dc.now = now.UTC()
	return b.dc.appendBody(dst, format, body)
}

// IngestResults checks, enriches and stores records that a decoder has
// produced: the one path every protocol takes to the store. It sets Err on
// the results it rejects (a timestamp outside what the daemon keeps),
// Dropped on those the pipeline filters out, and Entry.ID on the stored
// ones. size is the bytes received, for metrics. An error means nothing was
// stored.
func (s *Service) IngestResults(ctx context.Context, format Format, size int, results []Result) (Response, error) {
	return s.IngestResultsWith(ctx, format, size, results, nil)
}

// IngestResultsWith is IngestResults that also writes puts in the
// transaction of the stored entries (storage.Store.AppendWith), also when
// every record was rejected or dropped: a consumer's position in its
// source moves with what it stored from there, and past what it did not.
func (s *Service) IngestResultsWith(ctx context.Context, format Format, size int, results []Result, puts []storage.Put) (Response, error) {
	var res Response
	var reasons map[string]int
	entries := make([]storage.Entry, 0, len(results))
	var maxPattern uint64 // the highest template id of the batch
	now := s.now()
	for i := range results {
		r := &results[i]
		if r.Err == nil {
			r.Err = s.checkTime(r.Entry.Time, now)
		}
		if r.Err != nil {
			res.Rejected++
			if len(res.Errors) < MaxListedErrors {
				res.Errors = append(res.Errors, LineError{Line: r.Line, Error: r.Err.Error()})
			}
			if s.observe != nil {
				if reasons == nil {
					reasons = map[string]int{}
				}
				reasons[Reason(r.Err)]++
			}
			continue
		}
		if s.pipeline != nil && !s.pipeline.Apply(&r.Entry) {
			r.Dropped = true
			res.Dropped++
			continue
		}
		if s.patterns != nil {
			var id uint64
			r.Entry.Pattern, id = s.pattern(&r.Entry)
			maxPattern = max(maxPattern, id)
		}
		entries = append(entries, r.Entry)
	}
	if len(entries) == 0 && len(puts) > 0 {
		if _, err := s.append(ctx, nil, puts); err != nil {
			return Response{}, err
		}
	}
	if len(entries) > 0 {
		// An acknowledged entry's template id must survive a crash: the
		// state that holds it is saved before the entry is stored. Ids an
		// earlier save covers return at once.
		if maxPattern > 0 {
			if err := s.patterns.Sync(ctx, maxPattern); err != nil {
				return Response{}, fmt.Errorf("save the message templates of the batch: %w", err)
			}
		}
		ids, err := s.append(ctx, entries, puts)
		if err != nil {
			return Response{}, err
		}
		for _, fn := range s.onCommit {
			fn(entries)
		}
		res.Accepted = len(ids)
		res.LastSeq = ids[len(ids)-1].Seq
		// The k-th stored entry is the k-th result kept above.
		k := 0
		for i := range results {
			if r := &results[i]; r.Err == nil && !r.Dropped && k < len(ids) {
				r.Entry.ID = ids[k]
				k++
			}
		}
	}
	if s.observe != nil {
		s.observe(format, size, &res, reasons)
	}
	return res, nil
}

// pattern mines the template of e and returns the id to store and the id
// the miner gave (0 when it does not fit an entry's 32 bits).
func (s *Service) pattern(e *storage.Entry) (uint32, uint64) {
	id, _ := s.patterns.Add(e.Source, e.Message)
	if id > math.MaxUint32 {
		// Over four billion templates made: entries go on without one
		// rather than with a wrong one.
		if !s.idOverflow.Swap(true) {
			s.log.Error("message template ids exceed 32 bits; new entries are stored without a pattern", "id", id)
		}
		return 0, 0
	}
	return uint32(id), id
}

// ErrTime marks an entry whose timestamp is outside what the daemon keeps.
var ErrTime = errors.New("timestamp out of range")

func (s *Service) checkTime(t, now time.Time) error {
	if s.retention > 0 && t.Before(now.Add(-s.retention)) {
		return fmt.Errorf("%w: %s is older than the retention period (%s) and would be dropped; raise retention (0 keeps logs forever) to import old logs",
			ErrTime, t.UTC().Format(time.RFC3339Nano), formatAge(s.retention))
	}
	if t.After(now.Add(s.maxFuture)) {
		return fmt.Errorf("%w: %s is more than %s in the future; check the sender's clock and time zone",
			ErrTime, t.UTC().Format(time.RFC3339Nano), formatAge(s.maxFuture))
	}
	return nil
}

func formatAge(d time.Duration) string {
	if d%(24*time.Hour) == 0 {
		return fmt.Sprintf("%dd", d/(24*time.Hour))
	}
	return d.String()
}

// sniff guesses the format of a body sent without a usable Content-Type.
func sniff(body []byte) Format {
	b := bytes.TrimLeft(body, " \t\r\n\ufeff")
	switch {
	case len(b) == 0:
		return FormatText
	case b[0] == '[':
		return FormatJSON
	case b[0] == '{':
		if json.Valid(body) {
			return FormatJSON
		}
		return FormatNDJSON
	}
	return FormatText
}

// BodyError blames the request body as a whole (it answers 400).
type BodyError struct{ Msg string }

func (e *BodyError) Error() string { return e.Msg }

// InvalidInput marks the error as the caller's to fix.
func (e *BodyError) InvalidInput() bool { return true }

// String returns the short name used in metrics.
func (f Format) String() string {
	switch f {
	case FormatJSON:
		return "json"
	case FormatNDJSON:
		return "ndjson"
	case FormatText:
		return "text"
	case FormatBulk:
		return "es_bulk"
	case FormatLoki:
		return "loki"
	case FormatOTLP:
		return "otlp"
	case FormatSyslog:
		return "syslog"
	case FormatKafka:
		return "kafka"
	}
	return "auto"
}

// Reason classifies a record's error for the rejected-entries metric, with
// a small fixed set of values.
func Reason(err error) string {
	switch {
	case errors.Is(err, ErrLimit):
		return "limit"
	case errors.Is(err, ErrTime):
		return "time_range"
	case errors.Is(err, ErrSyntax):
		return "syntax"
	}
	return "invalid"
}
