package ingest

import (
	"context"
	"encoding/hex"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/klauspost/compress/snappy"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	logspb "go.opentelemetry.io/proto/otlp/logs/v1"
	resourcepb "go.opentelemetry.io/proto/otlp/resource/v1"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	"github.com/logengine/logengine/storage"
)

// memStore is an Appender that keeps entries in memory.
type memStore struct {
	mu      sync.Mutex
	entries []storage.Entry
	err     error
}

func (m *memStore) Append(_ context.Context, entries []storage.Entry) ([]storage.ID, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.err != nil {
		return nil, m.err
	}
	ids := make([]storage.ID, len(entries))
	for i := range entries {
		// Like the store, IDs are also written into the entries.
		ids[i] = storage.ID{Nanos: entries[i].Time.UnixNano(), Seq: uint64(len(m.entries) + 1)}
		entries[i].ID = ids[i]
		m.entries = append(m.entries, entries[i])
	}
	return ids, nil
}

// TestOnCommit: the committed entries, with their IDs, reach every
// OnCommit function in order; a batch that was not stored reaches none.
func TestOnCommit(t *testing.T) {
	st := &memStore{}
	var calls []string
	var got []storage.Entry
	svc := NewService(st, ServiceOptions{Now: func() time.Time { return testNow }, OnCommit: []func([]storage.Entry){
		func(es []storage.Entry) { calls = append(calls, "first"); got = append(got, es...) },
		func([]storage.Entry) { calls = append(calls, "second") },
	}})
	ctx := context.Background()
	body := "{\"message\":\"a\"}\nnot json\n{\"message\":\"b\"}\n"
	res, err := svc.Ingest(ctx, Request{Body: []byte(body), Format: FormatNDJSON})
	if err != nil || res.Accepted != 2 {
		t.Fatalf("Ingest: %+v %v", res, err)
	}
	if !slices.Equal(calls, []string{"first", "second"}) || len(got) != 2 {
		t.Fatalf("calls %v with %d entries", calls, len(got))
	}
	for i, e := range got {
		if want := st.all()[i]; e.ID != want.ID || e.ID.Seq == 0 || e.Message != want.Message {
			t.Errorf("entry %d handed over as %+v, stored as %+v", i, e, want)
		}
	}
	calls = nil
	st.err = errors.New("disk on fire")
	if _, err := svc.Ingest(ctx, Request{Body: []byte(body), Format: FormatNDJSON}); err == nil {
		t.Fatal("a failed append was not reported")
	}
	st.err = nil
	if res, err := svc.Ingest(ctx, Request{Body: []byte("not json\n"), Format: FormatNDJSON}); err != nil || res.Accepted != 0 {
		t.Fatalf("a body with no valid line: %+v %v", res, err)
	}
	if len(calls) != 0 {
		t.Fatalf("OnCommit called for batches not stored: %v", calls)
	}
}

func (m *memStore) all() []storage.Entry {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]storage.Entry(nil), m.entries...)
}

// wantEntry compares the parts of an entry a test names; zero parts are
// not checked, except that fields are compared whole when given.
type wantEntry struct {
	time    string
	level   storage.Level
	source  string
	message string
	fields  map[string]any
	err     string
}

func checkResult(tb testing.TB, r Result, w wantEntry) {
	tb.Helper()
	if w.err != "" {
		if r.Err == nil || !strings.Contains(r.Err.Error(), w.err) {
			tb.Fatalf("error %v, want one containing %q", r.Err, w.err)
		}
		return
	}
	if r.Err != nil {
		tb.Fatalf("unexpected error: %v", r.Err)
	}
	e := r.Entry
	if w.time != "" {
		if got := e.Time.UTC().Format(time.RFC3339Nano); got != w.time {
			tb.Errorf("time %s, want %s", got, w.time)
		}
	}
	if w.level != 0 && e.Level != w.level {
		tb.Errorf("level %s, want %s", e.Level, w.level)
	}
	if w.source != "" && e.Source != w.source {
		tb.Errorf("source %q, want %q", e.Source, w.source)
	}
	if w.message != "" && e.Message != w.message {
		tb.Errorf("message %q, want %q", e.Message, w.message)
	}
	if w.fields != nil {
		got := fieldMap(e)
		if len(got) != len(w.fields) {
			tb.Errorf("fields %v, want %v", got, w.fields)
		}
		for k, v := range w.fields {
			if got[k] != v {
				tb.Errorf("field %s = %#v, want %#v (all: %v)", k, got[k], v, got)
			}
		}
	}
	checkEntry(tb, e, Limits{}, "\t\n")
}

func TestDecodeBulk(t *testing.T) {
	tests := []struct {
		name  string
		body  string
		index string
		parse bool
		ops   []string
		want  []wantEntry // one per action with a document, in order
	}{{
		name: "syslog-ng elasticsearch-http default template",
		body: `{"index":{"_index":"logs-hdfs"}}
{"PRIORITY":"notice","MESSAGE":"081109 203615 148 INFO dfs.DataNode$PacketResponder: PacketResponder 1 for block blk_38865049064139660 terminating","ISODATE":"2026-11-26T17:10:42+00:00","HOST":"vm","FACILITY":"user","@timestamp":"2026-11-26T17:10:42+00:00"}
`,
		ops: []string{"index"},
		want: []wantEntry{{
			time: "2026-11-26T17:10:42Z", level: storage.LevelInfo, source: "logs-hdfs",
			message: "081109 203615 148 INFO dfs.DataNode$PacketResponder: PacketResponder 1 for block blk_38865049064139660 terminating",
			fields:  map[string]any{"ISODATE": "2026-11-26T17:10:42+00:00", "HOST": "vm", "FACILITY": "user", "index": "logs-hdfs"},
		}},
	}, {
		name: "syslog-ng template with parse_message takes the line's time and level",
		body: `{"index":{"_index":"logs-hdfs"}}
{"PRIORITY":"notice","MESSAGE":"081109 203615 148 WARN dfs.DataNode: slow","@timestamp":"2026-11-26T17:10:42+00:00"}
`,
		parse: true,
		ops:   []string{"index"},
		want: []wantEntry{{
			time: "2008-11-09T20:36:15Z", level: storage.LevelWarn, source: "logs-hdfs", message: "dfs.DataNode: slow",
		}},
	}, {
		name: "parse_message keeps the header fields walked over to reach the level",
		body: `{"index":{"_index":"logs-java"}}
{"MESSAGE":"2026-11-26 10:00:00,123 [http-nio-8080-exec-7] 4711 ERROR com.acme.OrderService - timeout","@timestamp":"2026-11-26T17:10:42+00:00"}
`,
		parse: true,
		ops:   []string{"index"},
		want: []wantEntry{{
			time: "2026-11-26T10:00:00.123Z", level: storage.LevelError, source: "logs-java", message: "com.acme.OrderService - timeout",
			fields: map[string]any{"index": "logs-java", "pid": int64(4711), "header": "[http-nio-8080-exec-7]"},
		}},
	}, {
		name: "rsyslog omelasticsearch: blank lines, escaped slashes, CR kept",
		body: "{\"index\":{\"_index\": \"logs-rsyslog\",\"_type\":\"events\"}}\n" +
			`{"@timestamp":"2026-11-26T17:13:20.042289+00:00", "host":"vm", "source":"hdfs", "severity":"info", "message":"17\/06\/09 20:10:40 INFO x\r"}` + "\n\n",
		ops: []string{"index"},
		want: []wantEntry{{
			time: "2026-11-26T17:13:20.042289Z", level: storage.LevelInfo, source: "hdfs", message: "17/06/09 20:10:40 INFO x",
			fields: map[string]any{"host": "vm", "index": "logs-rsyslog"},
		}},
	}, {
		name: "ECS names, nested and dotted",
		body: `{"create":{"_index":"logs-app","_id":"a1"}}
{"@timestamp":1795713369650,"log":{"level":"ERROR","logger":"db"},"service.name":"api","message":"timeout","http":{"response":{"status_code":504}},"tags":["prod","eu"]}
`,
		ops: []string{"create"},
		want: []wantEntry{{
			time: "2026-11-26T17:16:09.65Z", level: storage.LevelError, source: "api", message: "timeout",
			fields: map[string]any{"log.logger": "db", "http.response.status_code": int64(504), "index": "logs-app"},
		}},
	}, {
		name:  "index of the path, unsupported actions, invalid documents",
		index: "from-path",
		body: `{"index":{}}
{"msg":"one","level":"warn"}
{"delete":{"_id":"x"}}
{"update":{"_id":"y"}}
{"doc":{"a":1}}
{"index":{}}
{"level":"info"}
{"index":{}}
[1,2]
{"index":{}}
{"message":"bad json",
{"index":{}}
{"message":"bad time","@timestamp":"yesterday"}
{"index":{}}
{"message":"odd level","level":"loud","index":"mine"}
`,
		ops: []string{"index", "delete", "update", "index", "index", "index", "index", "index"},
		want: []wantEntry{
			{level: storage.LevelWarn, source: "from-path", message: "one", fields: map[string]any{"index": "from-path"}},
			{err: "message is missing"},
			{err: "must be a JSON object"},
			{err: "unexpected end of JSON"},
			{err: "@timestamp"},
			{level: storage.LevelInfo, message: "odd level", fields: map[string]any{"level_raw": "loud", "index": "mine"}},
		},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := DecodeBulk([]byte(tt.body), tt.index, testDefaults(), Limits{}, FieldMapping{}, tt.parse)
			if err != nil {
				t.Fatal(err)
			}
			if len(b.Actions) != len(tt.ops) {
				t.Fatalf("%d actions, want %d", len(b.Actions), len(tt.ops))
			}
			for i, a := range b.Actions {
				if a.Op != tt.ops[i] {
					t.Errorf("action %d is %s, want %s", i, a.Op, tt.ops[i])
				}
				if (a.Op == "update" || a.Op == "delete") != (a.Err != nil) || (a.Err == nil) != (a.Result >= 0) {
					t.Errorf("action %d: err %v result %d", i, a.Err, a.Result)
				}
			}
			if len(b.Results) != len(tt.want) {
				t.Fatalf("%d results, want %d", len(b.Results), len(tt.want))
			}
			for i, w := range tt.want {
				checkResult(t, b.Results[i], w)
			}
		})
	}
}

func TestDecodeBulkMalformed(t *testing.T) {
	for _, body := range []string{
		`{"index":{}}`,                    // no document
		"{\"index\":{}}\n\n\n",            // no document
		`{"frobnicate":{}}` + "\n{}\n",    // unknown action
		`["index"]` + "\n{}\n",            // not an object
		`{"index":{},"create":{}}` + "\n", // two actions
		`{"index":"x"}` + "\n{}\n",
		"{\"index\":{} \n",
	} {
		if _, err := DecodeBulk([]byte(body), "", testDefaults(), Limits{}, FieldMapping{}, false); err == nil {
			t.Errorf("%q: no error", body)
		}
	}
}

func TestDecodeBulkMapping(t *testing.T) {
	m := FieldMapping{Timestamp: []string{"when"}, Level: []string{"sev"}, Source: []string{"svc"}, Message: []string{"text"}}
	body := `{"index":{"_index":"i"}}` + "\n" + `{"when":"2026-11-01T00:00:00Z","sev":3,"svc":"pay","text":"hi","message":"stays a field"}` + "\n"
	b, err := DecodeBulk([]byte(body), "", testDefaults(), Limits{}, m, false)
	if err != nil {
		t.Fatal(err)
	}
	checkResult(t, b.Results[0], wantEntry{time: "2026-11-01T00:00:00Z", level: storage.LevelError, source: "pay", message: "hi",
		fields: map[string]any{"message": "stays a field", "index": "i"}})
	if err := (FieldMapping{Level: []string{"a"}, Source: []string{"a"}}).Validate(); err == nil {
		t.Error("a name in two roles is valid")
	}
}

func TestIngestBulkStoresAndMarks(t *testing.T) {
	st := &memStore{}
	p, err := NewPipeline(PipelineConfig{{Type: "drop", Regex: "^noise"}})
	if err != nil {
		t.Fatal(err)
	}
	svc := NewService(st, ServiceOptions{Pipeline: p, Now: func() time.Time { return testNow }, Retention: 24 * time.Hour})
	body := `{"index":{}}
{"message":"kept"}
{"index":{}}
{"message":"noise here"}
{"index":{}}
{"message":"too old","@timestamp":"2001-01-01T00:00:00Z"}
`
	b, res, err := svc.IngestBulk(context.Background(), BulkRequest{Body: []byte(body), Index: "x"})
	if err != nil {
		t.Fatal(err)
	}
	if res.Accepted != 1 || res.Dropped != 1 || res.Rejected != 1 {
		t.Fatalf("response %+v", res)
	}
	if r := b.Results[0]; r.Err != nil || r.Dropped || r.Entry.ID.Seq != 1 {
		t.Errorf("kept: %+v", r)
	}
	if !b.Results[1].Dropped {
		t.Error("dropped entry not marked")
	}
	if b.Results[2].Err == nil {
		t.Error("entry outside retention not marked")
	}
	if got := st.all(); len(got) != 1 || got[0].Message != "kept" || got[0].Source != "x" {
		t.Errorf("stored %+v", got)
	}
	if _, _, err := svc.IngestBulk(context.Background(), BulkRequest{Body: []byte(`{"nope":{}}` + "\n{}\n")}); err == nil {
		t.Error("malformed body accepted")
	}
}

func TestParseLokiLabels(t *testing.T) {
	got, err := parseLokiLabels(`{level="info",job="winston-test", source="open\"ssh" ,host="LabSZ"}`)
	if err != nil {
		t.Fatal(err)
	}
	want := [][2]string{{"level", "info"}, {"job", "winston-test"}, {"source", `open"ssh`}, {"host", "LabSZ"}}
	if len(got) != len(want) {
		t.Fatalf("%v", got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("label %d: %v, want %v", i, got[i], want[i])
		}
	}
	for _, bad := range []string{`level="info"`, `{level=info}`, `{="x"}`, `{a="1" b="2"}`, `{a="1}`} {
		if _, err := parseLokiLabels(bad); err == nil {
			t.Errorf("%s: no error", bad)
		}
	}
	if got, err := parseLokiLabels("{}"); err != nil || len(got) != 0 {
		t.Errorf("{}: %v %v", got, err)
	}
}

func TestDecodeLokiJSON(t *testing.T) {
	// What winston-loki sends with json: true.
	body := `{"streams":[
 {"stream":{"level":"info","job":"winston-test","source":"openssh","host":"LabSZ"},
  "values":[["1795713369650000000","Invalid user webmaster from 173.234.31.186 {\"level\":\"info\"}",{"level":"info"}]]},
 {"stream":{"level":"error","job":"winston-test"},
  "values":[["1795713369651000000","Failed password for root",{"pid":"24200","level":"warn"}],
            ["1795713369651000001"],
            ["x","bad time"]]},
 {"labels":"{service_name=\"legacy\"}","entries":[{"ts":"2026-11-26T10:00:00Z","line":"old format"}]}]}`
	rs, err := DecodeLokiJSON([]byte(body), testDefaults(), Limits{}, false)
	if err != nil {
		t.Fatal(err)
	}
	if len(rs) != 5 {
		t.Fatalf("%d results", len(rs))
	}
	checkResult(t, rs[0], wantEntry{time: "2026-11-26T17:16:09.65Z", level: storage.LevelInfo, source: "openssh",
		message: `Invalid user webmaster from 173.234.31.186 {"level":"info"}`, fields: map[string]any{"job": "winston-test", "host": "LabSZ"}})
	// Structured metadata wins over the stream's labels.
	checkResult(t, rs[1], wantEntry{level: storage.LevelWarn, source: "winston-test", fields: map[string]any{"pid": "24200"}})
	checkResult(t, rs[2], wantEntry{err: "want [timestamp, line]"})
	checkResult(t, rs[3], wantEntry{err: "streams[1].values[2]"})
	checkResult(t, rs[4], wantEntry{time: "2026-11-26T10:00:00Z", source: "legacy", message: "old format"})
	for i, r := range rs {
		if r.Line != i+1 {
			t.Errorf("result %d has line %d", i, r.Line)
		}
	}
	if _, err := DecodeLokiJSON([]byte(`{"streams":[{"stream":{"a":1}}]}`), testDefaults(), Limits{}, false); err == nil {
		t.Error("numeric label accepted")
	}
}

// lokiPush builds a logproto.PushRequest.
func lokiPush(streams ...lokiStream) []byte {
	var b []byte
	for _, s := range streams {
		var sb []byte
		sb = protowire.AppendTag(sb, 1, protowire.BytesType)
		sb = protowire.AppendString(sb, s.labels)
		for _, e := range s.entries {
			var ts []byte
			ts = protowire.AppendTag(ts, 1, protowire.VarintType)
			ts = protowire.AppendVarint(ts, uint64(e.t.Unix()))
			ts = protowire.AppendTag(ts, 2, protowire.VarintType)
			ts = protowire.AppendVarint(ts, uint64(e.t.Nanosecond()))
			var eb []byte
			eb = protowire.AppendTag(eb, 1, protowire.BytesType)
			eb = protowire.AppendBytes(eb, ts)
			eb = protowire.AppendTag(eb, 2, protowire.BytesType)
			eb = protowire.AppendString(eb, e.line)
			for _, m := range e.meta {
				var mb []byte
				mb = protowire.AppendTag(mb, 1, protowire.BytesType)
				mb = protowire.AppendString(mb, m[0])
				mb = protowire.AppendTag(mb, 2, protowire.BytesType)
				mb = protowire.AppendString(mb, m[1])
				eb = protowire.AppendTag(eb, 3, protowire.BytesType)
				eb = protowire.AppendBytes(eb, mb)
			}
			sb = protowire.AppendTag(sb, 2, protowire.BytesType)
			sb = protowire.AppendBytes(sb, eb)
		}
		sb = protowire.AppendTag(sb, 3, protowire.VarintType) // hash, ignored
		sb = protowire.AppendVarint(sb, 12345)
		b = protowire.AppendTag(b, 1, protowire.BytesType)
		b = protowire.AppendBytes(b, sb)
	}
	return b
}

type lokiStream struct {
	labels  string
	entries []lokiLine
}

type lokiLine struct {
	t    time.Time
	line string
	meta [][2]string
}

func TestDecodeLokiProtobuf(t *testing.T) {
	t0 := time.Date(2026, 11, 26, 17, 16, 12, 363000000, time.UTC)
	pb := lokiPush(
		lokiStream{`{level="info",job="winston-test",source="openssh",host="LabSZ"}`, []lokiLine{
			{t0, "Invalid user webmaster from 173.234.31.186", nil},
			{t0.Add(time.Millisecond), "second\r\n", [][2]string{{"trace_id", "abc"}}},
		}},
		lokiStream{`{app="web", level="WARNING"}`, []lokiLine{{t0, "2026-11-26T10:00:00Z ERROR from the line", nil}}},
	)
	rs, err := DecodeLokiProtobuf(pb, testDefaults(), Limits{}, true)
	if err != nil {
		t.Fatal(err)
	}
	if len(rs) != 3 {
		t.Fatalf("%d results", len(rs))
	}
	checkResult(t, rs[0], wantEntry{time: "2026-11-26T17:16:12.363Z", level: storage.LevelInfo, source: "openssh",
		message: "Invalid user webmaster from 173.234.31.186", fields: map[string]any{"job": "winston-test", "host": "LabSZ"}})
	checkResult(t, rs[1], wantEntry{message: "second", fields: map[string]any{"job": "winston-test", "host": "LabSZ", "trace_id": "abc"}})
	// parse_message: the line's own time and level win.
	checkResult(t, rs[2], wantEntry{time: "2026-11-26T10:00:00Z", level: storage.LevelError, source: "web", message: "from the line"})

	st := &memStore{}
	svc := NewService(st, ServiceOptions{Now: func() time.Time { return testNow }})
	res, err := svc.IngestLoki(context.Background(), LokiRequest{Body: snappy.Encode(nil, pb), Protobuf: true})
	if err != nil || res.Accepted != 3 {
		t.Fatalf("IngestLoki: %+v %v", res, err)
	}
	if _, err := svc.IngestLoki(context.Background(), LokiRequest{Body: pb, Protobuf: true}); err == nil {
		t.Error("uncompressed protobuf accepted")
	}
	if _, err := svc.IngestLoki(context.Background(), LokiRequest{Body: snappy.Encode(nil, pb), Protobuf: true, MaxBytes: 10}); err == nil {
		t.Error("body over the limit accepted")
	}
	if _, err := DecodeLokiProtobuf([]byte{0x0a, 0x05, 1}, testDefaults(), Limits{}, false); err == nil {
		t.Error("truncated protobuf accepted")
	}
}

func otlpString(k, v string) *commonpb.KeyValue {
	return &commonpb.KeyValue{Key: k, Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: v}}}
}

func TestDecodeOTLPProtobuf(t *testing.T) {
	traceID, _ := hex.DecodeString("5b8efff798038103d269b633813fc60c")
	spanID, _ := hex.DecodeString("eee19b7ec3c1b174")
	ts := uint64(time.Date(2026, 11, 26, 10, 0, 0, 5, time.UTC).UnixNano())
	data := &logspb.LogsData{ResourceLogs: []*logspb.ResourceLogs{{
		Resource: &resourcepb.Resource{Attributes: []*commonpb.KeyValue{otlpString("service.name", "checkout"), otlpString("host.name", "h1")}},
		ScopeLogs: []*logspb.ScopeLogs{{
			Scope: &commonpb.InstrumentationScope{Name: "lib", Version: "2"},
			LogRecords: []*logspb.LogRecord{
				{
					TimeUnixNano: ts, SeverityNumber: logspb.SeverityNumber_SEVERITY_NUMBER_WARN2, SeverityText: "whatever",
					Body:       &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: "card declined"}},
					Attributes: []*commonpb.KeyValue{{Key: "amount", Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_DoubleValue{DoubleValue: 9.5}}}, otlpString("host.name", "h2")},
					TraceId:    traceID, SpanId: spanID,
				},
				{ObservedTimeUnixNano: ts, SeverityText: "Error", Body: &commonpb.AnyValue{Value: &commonpb.AnyValue_KvlistValue{KvlistValue: &commonpb.KeyValueList{
					Values: []*commonpb.KeyValue{otlpString("event", "login")}}}}},
				{SeverityText: "loud", Body: &commonpb.AnyValue{Value: &commonpb.AnyValue_IntValue{IntValue: 42}}},
				{},
			},
		}},
	}}}
	body, err := proto.Marshal(data)
	if err != nil {
		t.Fatal(err)
	}
	rs, err := DecodeOTLPProtobuf(body, testDefaults(), Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if len(rs) != 4 {
		t.Fatalf("%d results", len(rs))
	}
	checkResult(t, rs[0], wantEntry{time: "2026-11-26T10:00:00.000000005Z", level: storage.LevelWarn, source: "checkout", message: "card declined",
		fields: map[string]any{"host.name": "h2", "amount": 9.5, "scope.name": "lib", "scope.version": "2",
			"trace_id": "5b8efff798038103d269b633813fc60c", "span_id": "eee19b7ec3c1b174"}})
	checkResult(t, rs[1], wantEntry{time: "2026-11-26T10:00:00.000000005Z", level: storage.LevelError, message: `{"event":"login"}`})
	checkResult(t, rs[2], wantEntry{level: storage.LevelInfo, message: "42", fields: map[string]any{
		"host.name": "h1", "scope.name": "lib", "scope.version": "2", "level_raw": "loud"}})
	checkResult(t, rs[3], wantEntry{err: "message is empty"})
	if _, err := DecodeOTLPProtobuf([]byte("not protobuf"), testDefaults(), Limits{}); err == nil {
		t.Error("garbage accepted")
	}
}

func TestDecodeOTLPJSON(t *testing.T) {
	// The example of the OTLP specification, trimmed.
	body := `{"resourceLogs":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"my.service"}}]},
 "scopeLogs":[{"scope":{"name":"my.library","version":"1.0.0"},
  "logRecords":[{"timeUnixNano":"1544712660300000000","observedTimeUnixNano":1544712660300000000,
   "severityNumber":10,"severityText":"Information","traceId":"5b8efff798038103d269b633813fc60c","spanId":"eee19b7ec3c1b174",
   "body":{"stringValue":"Example log record"},"unknownField":1,
   "attributes":[{"key":"int.attribute","value":{"intValue":"10"}},{"key":"bool.attribute","value":{"boolValue":true}},
    {"key":"array.attribute","value":{"arrayValue":{"values":[{"stringValue":"many"},{"stringValue":"values"}]}}}]},
   {"severityNumber":"SEVERITY_NUMBER_FATAL","body":{"stringValue":"enum by name"},"traceId":"W47/95gDgQPSabYzgT/GDA=="}]}]}]}`
	rs, err := DecodeOTLPJSON([]byte(body), testDefaults(), Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if len(rs) != 2 {
		t.Fatalf("%d results", len(rs))
	}
	checkResult(t, rs[0], wantEntry{time: "2018-12-13T14:51:00.3Z", level: storage.LevelInfo, source: "my.service", message: "Example log record",
		fields: map[string]any{"int.attribute": int64(10), "bool.attribute": true, "array.attribute": `["many","values"]`,
			"scope.name": "my.library", "scope.version": "1.0.0",
			"trace_id": "5b8efff798038103d269b633813fc60c", "span_id": "eee19b7ec3c1b174"}})
	// A trace id sent in base64 (as protobuf's JSON mapping writes it).
	checkResult(t, rs[1], wantEntry{level: storage.LevelFatal, message: "enum by name",
		fields: map[string]any{"scope.name": "my.library", "scope.version": "1.0.0", "trace_id": "5b8efff798038103d269b633813fc60c"}})
	if _, err := DecodeOTLPJSON([]byte(`{"resourceLogs":{}}`), testDefaults(), Limits{}); err == nil {
		t.Error("malformed body accepted")
	}
}

func TestOTLPResponses(t *testing.T) {
	if b := OTLPResponse(Response{Accepted: 2}, false); len(b) != 0 {
		t.Errorf("full success: % x", b)
	}
	if b := OTLPResponse(Response{Accepted: 2}, true); string(b) != "{}" {
		t.Errorf("full success: %s", b)
	}
	res := Response{Accepted: 1, Rejected: 2, Errors: []LineError{{Line: 2, Error: "message is empty"}}}
	if b := string(OTLPResponse(res, true)); !strings.Contains(b, `"rejectedLogRecords":"2"`) || !strings.Contains(b, "record 2: message is empty") {
		t.Errorf("partial: %s", b)
	}
	var rejected uint64
	var msg string
	if err := eachField(OTLPResponse(res, false), func(num protowire.Number, _ protowire.Type, v []byte, _ uint64) error {
		if num == 1 {
			return eachField(v, func(num protowire.Number, _ protowire.Type, v []byte, x uint64) error {
				if num == 1 {
					rejected = x
				} else {
					msg = string(v)
				}
				return nil
			})
		}
		return nil
	}); err != nil || rejected != 2 || msg == "" {
		t.Errorf("partial protobuf: %d %q %v", rejected, msg, err)
	}
	if b := string(OTLPStatus(429, "slow down", true)); b != `{"code":8,"message":"slow down"}` {
		t.Errorf("status: %s", b)
	}
}

// Cleaning turns each invalid byte into a three-byte U+FFFD, so a name or
// value under the limit as sent can be over it as stored: the limit holds
// for what is stored.
func TestLimitsHoldAfterCleaning(t *testing.T) {
	t0 := time.Date(2026, 11, 26, 17, 16, 12, 0, time.UTC)
	lim := Limits{MaxFieldNameBytes: 24, MaxValueBytes: 16}
	tests := []struct {
		name string
		meta [2]string
		err  string
	}{
		{"clean name at the limit", [2]string{"000000000000000000000000", "v"}, ""},
		{"name grows past the limit", [2]string{"0000000000\xff0000\xff00000", "v"}, "field name"},
		{"value grows past the limit", [2]string{"k", "00000000000000\xff"}, `field "k"`},
		{"value fits after cleaning", [2]string{"k", "0000000000\xff"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pb := lokiPush(lokiStream{`{job="x"}`, []lokiLine{{t0, "line", [][2]string{tt.meta}}}})
			rs, err := DecodeLokiProtobuf(pb, testDefaults(), lim, false)
			if err != nil || len(rs) != 1 {
				t.Fatalf("%d results, %v", len(rs), err)
			}
			if tt.err == "" {
				if rs[0].Err != nil {
					t.Fatalf("rejected: %v", rs[0].Err)
				}
				checkEntry(t, rs[0].Entry, lim, "\t\n")
				return
			}
			if rs[0].Err == nil || !strings.Contains(rs[0].Err.Error(), tt.err) {
				t.Fatalf("error %v, want one about %s", rs[0].Err, tt.err)
			}
		})
	}
}
