package ingest

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	logspb "go.opentelemetry.io/proto/otlp/logs/v1"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	"github.com/logengine/logengine/storage"
)

// OTLPRequest is the body of an OpenTelemetry logs export over HTTP
// (POST /v1/logs): an ExportLogsServiceRequest.
type OTLPRequest struct {
	Body []byte
	// JSON says the body is OTLP/JSON; otherwise it is protobuf.
	JSON bool
	// Source and Tags are the defaults for resources without service.name.
	Source string
	Tags   []string
}

// IngestOTLP decodes and stores an OTLP logs export. Records are numbered
// by their position in the request, counting from 1.
func (s *Service) IngestOTLP(ctx context.Context, req OTLPRequest) (Response, error) {
	d := Defaults{Source: req.Source, Tags: req.Tags, Now: s.now}
	var results []Result
	var err error
	if req.JSON {
		results, err = DecodeOTLPJSON(req.Body, d, s.limits)
	} else {
		results, err = DecodeOTLPProtobuf(req.Body, d, s.limits)
	}
	if err != nil {
		return Response{}, &BodyError{Msg: err.Error()}
	}
	return s.IngestResults(ctx, FormatOTLP, len(req.Body), results)
}

// DecodeOTLPProtobuf decodes a protobuf ExportLogsServiceRequest. It is
// decoded as LogsData, which has the same fields and numbers and, unlike
// the collector package, does not bring gRPC along.
func DecodeOTLPProtobuf(body []byte, d Defaults, l Limits) ([]Result, error) {
	var data logspb.LogsData
	if err := proto.Unmarshal(body, &data); err != nil {
		return nil, fmt.Errorf("invalid OTLP protobuf (send Content-Type: application/json for OTLP/JSON): %w", err)
	}
	return otlpResults(&data, d, l), nil
}

// DecodeOTLPJSON decodes an OTLP/JSON ExportLogsServiceRequest. Unknown
// fields are ignored, as the OTLP specification asks of receivers.
func DecodeOTLPJSON(body []byte, d Defaults, l Limits) ([]Result, error) {
	var data logspb.LogsData
	if err := (protojson.UnmarshalOptions{DiscardUnknown: true}).Unmarshal(body, &data); err != nil {
		return nil, fmt.Errorf("invalid OTLP/JSON: %w", err)
	}
	// OTLP/JSON writes trace and span ids in hex where protobuf's JSON
	// mapping expects base64. Hex digits are base64 digits too, so protojson
	// decoded the 32 (16) hex digits as 24 (12) bytes of base64: encoding
	// them again gives the hex text back. Ids a sender wrote in base64 came
	// out as 16 (8) bytes, the right ones.
	for _, rl := range data.ResourceLogs {
		for _, sl := range rl.ScopeLogs {
			for _, lr := range sl.LogRecords {
				lr.TraceId = fromHexAsBase64(lr.TraceId, 16)
				lr.SpanId = fromHexAsBase64(lr.SpanId, 8)
			}
		}
	}
	return otlpResults(&data, d, l), nil
}

// fromHexAsBase64 recovers an id of size bytes from hex text that was
// decoded as base64.
func fromHexAsBase64(b []byte, size int) []byte {
	if len(b) != size*3/2 {
		return b
	}
	id, err := hex.DecodeString(base64.StdEncoding.EncodeToString(b))
	if err != nil {
		return b
	}
	return id
}

// otlpResults turns log records into results. Resource attributes, the
// scope's name and version and the record's attributes become fields (the
// record's win a name clash); service.name gives the source, the severity
// number (or else the severity text) the level, the body the message;
// trace and span ids are kept in hex as trace_id and span_id.
func otlpResults(data *logspb.LogsData, d Defaults, l Limits) []Result {
	dc := newDecoder(d, l)
	var out []Result
	n := 0
	for _, rl := range data.ResourceLogs {
		res := rl.GetResource().GetAttributes()
		for _, sl := range rl.ScopeLogs {
			scope := sl.GetScope()
			for _, lr := range sl.LogRecords {
				n++
				e, err := dc.otlpEntry(res, scope, lr)
				out = append(out, Result{Line: n, Entry: e, Err: err})
			}
		}
	}
	return out
}

func (dc *decoder) otlpEntry(res []*commonpb.KeyValue, scope *commonpb.InstrumentationScope, lr *logspb.LogRecord) (storage.Entry, error) {
	dc.begin()
	for _, kv := range res {
		dc.anyField(kv.GetKey(), kv.GetValue(), 0)
	}
	if name := scope.GetName(); name != "" {
		dc.addField("scope.name", storage.String(name), true)
	}
	if v := scope.GetVersion(); v != "" {
		dc.addField("scope.version", storage.String(v), true)
	}
	for _, kv := range lr.GetAttributes() {
		dc.anyField(kv.GetKey(), kv.GetValue(), 0)
	}
	if id := lr.GetTraceId(); len(id) > 0 && !allZero(id) {
		dc.addField("trace_id", storage.String(hex.EncodeToString(id)), false)
	}
	if id := lr.GetSpanId(); len(id) > 0 && !allZero(id) {
		dc.addField("span_id", storage.String(hex.EncodeToString(id)), false)
	}
	if name := lr.GetEventName(); name != "" {
		dc.addField("event.name", storage.String(name), true)
	}

	var r record
	if v, ok := dc.takeField("service.name"); ok {
		r.source = v.Text()
	}
	ns := lr.GetTimeUnixNano()
	if ns == 0 {
		ns = lr.GetObservedTimeUnixNano()
	}
	if ns > math.MaxInt64 {
		return storage.Entry{}, fmt.Errorf("timeUnixNano %d is out of range", ns)
	}
	if ns > 0 {
		r.time, r.hasTime = time.Unix(0, int64(ns)).UTC(), true
	}
	if n := lr.GetSeverityNumber(); n != logspb.SeverityNumber_SEVERITY_NUMBER_UNSPECIFIED {
		if l, ok := storage.LevelFromSeverity(int(n)); ok {
			r.level, r.hasLevel = l, true
		}
	}
	if text := strings.TrimSpace(lr.GetSeverityText()); !r.hasLevel && text != "" {
		if l, ok := ParseLevel(text); ok {
			r.level, r.hasLevel = l, true
		} else {
			dc.addField("level_raw", storage.String(text), true)
		}
	}
	r.msg = anyText(lr.GetBody())
	return dc.protoEntry(r)
}

func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

// anyField adds an attribute value: scalars keep their type, key-value
// lists are flattened into dotted names like JSON objects, arrays are kept
// as JSON text, bytes as base64.
func (dc *decoder) anyField(name string, v *commonpb.AnyValue, depth int) {
	switch x := v.GetValue().(type) {
	case *commonpb.AnyValue_StringValue:
		dc.addField(name, storage.String(x.StringValue), true)
	case *commonpb.AnyValue_BoolValue:
		dc.addField(name, storage.Bool(x.BoolValue), false)
	case *commonpb.AnyValue_IntValue:
		dc.addField(name, storage.Int(x.IntValue), false)
	case *commonpb.AnyValue_DoubleValue:
		dc.addField(name, storage.Float(x.DoubleValue), false)
	case *commonpb.AnyValue_BytesValue:
		dc.addField(name, storage.String(base64.StdEncoding.EncodeToString(x.BytesValue)), false)
	case *commonpb.AnyValue_ArrayValue:
		dc.addField(name, storage.String(anyJSON(v)), true)
	case *commonpb.AnyValue_KvlistValue:
		if depth >= maxNesting {
			dc.addField(name, storage.String(anyJSON(v)), true)
			return
		}
		for _, kv := range x.KvlistValue.GetValues() {
			dc.anyField(name+"."+kv.GetKey(), kv.GetValue(), depth+1)
		}
	}
}

// anyText renders a body as the message: a string as it is, anything else
// as JSON.
func anyText(v *commonpb.AnyValue) string {
	switch x := v.GetValue().(type) {
	case nil:
		return ""
	case *commonpb.AnyValue_StringValue:
		return x.StringValue
	}
	return anyJSON(v)
}

func anyJSON(v *commonpb.AnyValue) string {
	b, err := json.Marshal(anyGo(v, 0))
	if err != nil {
		return ""
	}
	return string(b)
}

// anyGo converts a value for encoding/json.
func anyGo(v *commonpb.AnyValue, depth int) any {
	if depth > maxNesting {
		return nil
	}
	switch x := v.GetValue().(type) {
	case *commonpb.AnyValue_StringValue:
		return x.StringValue
	case *commonpb.AnyValue_BoolValue:
		return x.BoolValue
	case *commonpb.AnyValue_IntValue:
		return x.IntValue
	case *commonpb.AnyValue_DoubleValue:
		if math.IsInf(x.DoubleValue, 0) || math.IsNaN(x.DoubleValue) {
			return fmt.Sprint(x.DoubleValue)
		}
		return x.DoubleValue
	case *commonpb.AnyValue_BytesValue:
		return x.BytesValue // base64 in JSON
	case *commonpb.AnyValue_ArrayValue:
		out := make([]any, 0, len(x.ArrayValue.GetValues()))
		for _, e := range x.ArrayValue.GetValues() {
			out = append(out, anyGo(e, depth+1))
		}
		return out
	case *commonpb.AnyValue_KvlistValue:
		out := make(map[string]any, len(x.KvlistValue.GetValues()))
		for _, kv := range x.KvlistValue.GetValues() {
			out[kv.GetKey()] = anyGo(kv.GetValue(), depth+1)
		}
		return out
	}
	return nil
}

// OTLPResponse encodes the ExportLogsServiceResponse of an export:
// empty when every record was stored, else a partial_success with the
// number of records rejected and why.
func OTLPResponse(res Response, asJSON bool) []byte {
	var msg string
	if res.Rejected > 0 {
		parts := make([]string, 0, min(len(res.Errors), 5))
		for _, e := range res.Errors[:min(len(res.Errors), 5)] {
			parts = append(parts, fmt.Sprintf("record %d: %s", e.Line, e.Error))
		}
		msg = strings.Join(parts, "; ")
	}
	if asJSON {
		if res.Rejected == 0 {
			return []byte("{}")
		}
		b, _ := json.Marshal(map[string]any{"partialSuccess": map[string]any{
			"rejectedLogRecords": strconv.Itoa(res.Rejected), "errorMessage": msg,
		}})
		return b
	}
	if res.Rejected == 0 {
		return []byte{}
	}
	var ps []byte
	ps = protowire.AppendTag(ps, 1, protowire.VarintType)
	ps = protowire.AppendVarint(ps, uint64(res.Rejected))
	ps = protowire.AppendTag(ps, 2, protowire.BytesType)
	ps = protowire.AppendString(ps, msg)
	var b []byte
	b = protowire.AppendTag(b, 1, protowire.BytesType)
	return protowire.AppendBytes(b, ps)
}

// OTLPStatus encodes the google.rpc.Status body that OTLP/HTTP answers
// errors with, for an HTTP status code.
func OTLPStatus(httpStatus int, msg string, asJSON bool) []byte {
	code := 13 // INTERNAL
	switch {
	case httpStatus == 400 || httpStatus == 415:
		code = 3 // INVALID_ARGUMENT
	case httpStatus == 401:
		code = 16 // UNAUTHENTICATED
	case httpStatus == 403:
		code = 7 // PERMISSION_DENIED
	case httpStatus == 404:
		code = 5 // NOT_FOUND
	case httpStatus == 413 || httpStatus == 429 || httpStatus == 507:
		code = 8 // RESOURCE_EXHAUSTED
	case httpStatus == 503:
		code = 14 // UNAVAILABLE
	}
	if asJSON {
		b, _ := json.Marshal(map[string]any{"code": code, "message": msg})
		return b
	}
	var b []byte
	b = protowire.AppendTag(b, 1, protowire.VarintType)
	b = protowire.AppendVarint(b, uint64(code))
	b = protowire.AppendTag(b, 2, protowire.BytesType)
	return protowire.AppendString(b, msg)
}
