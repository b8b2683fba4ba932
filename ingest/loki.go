package ingest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/klauspost/compress/snappy"
	"google.golang.org/protobuf/encoding/protowire"

	"github.com/logengine/logengine/storage"
)

// LokiOptions configures the Loki push protocol.
type LokiOptions struct {
	// ParseMessage reads a timestamp and level at the start of each line
	// (see BulkOptions.ParseMessage); ?parse_message=true turns it on for
	// one request.
	ParseMessage bool `yaml:"parse_message" json:"parse_message"`
}

// LokiRequest is the body of a Loki push request
// (POST /loki/api/v1/push).
type LokiRequest struct {
	Body []byte
	// Protobuf says the body is a snappy-compressed logproto.PushRequest
	// (what Promtail, Grafana Alloy and winston-loki send by default);
	// otherwise it is JSON.
	Protobuf bool
	// MaxBytes bounds the body once decompressed; zero means 64 MiB.
	MaxBytes int64
	// Source and Tags are the defaults for streams that name no source.
	Source string
	Tags   []string
	// ParseMessage turns on LokiOptions.ParseMessage for this request.
	ParseMessage bool
}

// The stream labels and structured metadata that give an entry's level and
// source, in order of precedence. They are not kept as fields; every other
// label is.
var (
	lokiLevelLabels  = []string{"level", "detected_level", "severity", "lvl", "loglevel"}
	lokiSourceLabels = []string{"service_name", "source", "service", "app", "application", "job"}
)

// IngestLoki decodes and stores a Loki push body. Records are numbered by
// their position in the request, counting from 1 across streams.
func (s *Service) IngestLoki(ctx context.Context, req LokiRequest) (Response, error) {
	d := Defaults{Source: req.Source, Tags: req.Tags, Now: s.now}
	parse := req.ParseMessage || s.loki.ParseMessage
	var results []Result
	var err error
	if req.Protobuf {
		limit := req.MaxBytes
		if limit <= 0 {
			limit = 64 << 20
		}
		var pb []byte
		if pb, err = decodeSnappy(req.Body, limit); err == nil {
			results, err = DecodeLokiProtobuf(pb, d, s.limits, parse)
		}
	} else {
		results, err = DecodeLokiJSON(req.Body, d, s.limits, parse)
	}
	if err != nil {
		return Response{}, &BodyError{Msg: err.Error()}
	}
	return s.IngestResults(ctx, FormatLoki, len(req.Body), results)
}

// decodeSnappy decodes a snappy block, refusing one that would exceed limit.
func decodeSnappy(b []byte, limit int64) ([]byte, error) {
	n, err := snappy.DecodedLen(b)
	if err != nil {
		return nil, fmt.Errorf("the body is not snappy-compressed protobuf (send Content-Type: application/json for JSON): %w", err)
	}
	if int64(n) > limit {
		return nil, fmt.Errorf("the body decompresses to %d bytes, more than the limit of %d: send smaller batches", n, limit)
	}
	out, err := snappy.Decode(nil, b)
	if err != nil {
		return nil, fmt.Errorf("snappy: %w", err)
	}
	return out, nil
}

// lokiEntry builds the entry of one pushed line: labels and structured
// metadata become fields (metadata wins a name clash), the level and source
// labels give the entry's own.
func (dc *decoder) lokiEntry(n int, labels [][2]string, meta [][2]string, t time.Time, line string, parse bool) Result {
	if len(line) > dc.lim.MaxLineBytes {
		return Result{Line: n, Err: limitErrorf("line is %d bytes, the limit is %d", len(line), dc.lim.MaxLineBytes)}
	}
	dc.begin()
	for _, l := range labels {
		dc.addField(l[0], storage.String(l[1]), true)
	}
	for _, m := range meta {
		dc.addField(m[0], storage.String(m[1]), true)
	}
	r := record{msg: line, time: t, hasTime: !t.IsZero(), parse: parse}
	if _, v, ok := dc.takeFirst(lokiLevelLabels); ok {
		if l, ok := levelOf(v); ok {
			r.level, r.hasLevel = l, true
		} else {
			dc.addField("level_raw", v, false)
		}
	}
	if _, v, ok := dc.takeFirst(lokiSourceLabels); ok {
		r.source = v.Text()
	}
	e, err := dc.protoEntry(r)
	return Result{Line: n, Entry: e, Err: err}
}

// lokiTime reads a pushed timestamp: Unix nanoseconds as a string (Loki's
// form), or any epoch number or RFC 3339 string the native API takes.
func lokiTime(raw json.RawMessage) (time.Time, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) > 0 && raw[0] == '"' {
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return time.Time{}, err
		}
		t, err := parseTimestampString(strings.TrimSpace(s))
		if err != nil {
			return time.Time{}, err
		}
		return t, nil
	}
	if t, ok := parseEpoch(string(raw)); ok {
		return t, nil
	}
	return time.Time{}, fmt.Errorf("timestamp %s is not Unix nanoseconds", shorten(string(raw)))
}

type lokiJSONBody struct {
	Streams []struct {
		Stream map[string]string   `json:"stream"`
		Values [][]json.RawMessage `json:"values"`
		// The push format of Loki before 2.0.
		Labels  string `json:"labels"`
		Entries []struct {
			Ts   json.RawMessage `json:"ts"`
			Line string          `json:"line"`
		} `json:"entries"`
	} `json:"streams"`
}

// DecodeLokiJSON decodes a Loki push body in JSON:
// {"streams": [{"stream": {"job": "api"}, "values": [["<ns>", "line", {"meta": "v"}]]}]}.
// The older {"labels": "{job=\"api\"}", "entries": [{"ts": ..., "line": ...}]}
// form is accepted too. An error means the body as a whole is malformed.
func DecodeLokiJSON(body []byte, d Defaults, l Limits, parse bool) ([]Result, error) {
	var b lokiJSONBody
	if err := json.Unmarshal(body, &b); err != nil {
		return nil, fmt.Errorf("invalid Loki push JSON: %w", err)
	}
	dc := newDecoder(d, l)
	var out []Result
	n := 0
	for si, st := range b.Streams {
		var labels [][2]string
		if st.Labels != "" {
			var err error
			if labels, err = parseLokiLabels(st.Labels); err != nil {
				return nil, fmt.Errorf("streams[%d].labels: %w", si, err)
			}
		}
		for _, k := range slices.Sorted(maps.Keys(st.Stream)) {
			labels = append(labels, [2]string{k, st.Stream[k]})
		}
		for vi, v := range st.Values {
			n++
			if len(v) < 2 || len(v) > 3 {
				out = append(out, Result{Line: n, Err: fmt.Errorf("streams[%d].values[%d]: want [timestamp, line] or [timestamp, line, metadata], got %d elements", si, vi, len(v))})
				continue
			}
			t, err := lokiTime(v[0])
			if err != nil {
				out = append(out, Result{Line: n, Err: fmt.Errorf("streams[%d].values[%d]: %w", si, vi, err)})
				continue
			}
			var line string
			if err := json.Unmarshal(v[1], &line); err != nil {
				out = append(out, Result{Line: n, Err: fmt.Errorf("streams[%d].values[%d]: the line must be a string", si, vi)})
				continue
			}
			var meta [][2]string
			if len(v) == 3 {
				if meta, err = lokiMetadata(v[2]); err != nil {
					out = append(out, Result{Line: n, Err: fmt.Errorf("streams[%d].values[%d]: %w", si, vi, err)})
					continue
				}
			}
			out = append(out, dc.lokiEntry(n, labels, meta, t, line, parse))
		}
		for ei, e := range st.Entries {
			n++
			t, err := lokiTime(e.Ts)
			if err != nil {
				out = append(out, Result{Line: n, Err: fmt.Errorf("streams[%d].entries[%d]: %w", si, ei, err)})
				continue
			}
			out = append(out, dc.lokiEntry(n, labels, nil, t, e.Line, parse))
		}
	}
	return out, nil
}

// lokiMetadata reads the structured metadata object of a pushed line. Loki
// wants string values; numbers and booleans are taken as their text.
func lokiMetadata(raw json.RawMessage) ([][2]string, error) {
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, errors.New("structured metadata must be an object of names to strings")
	}
	out := make([][2]string, 0, len(m))
	for _, k := range slices.Sorted(maps.Keys(m)) {
		switch v := m[k].(type) {
		case string:
			out = append(out, [2]string{k, v})
		case float64, bool:
			out = append(out, [2]string{k, fmt.Sprint(v)})
		case nil:
		default:
			return nil, fmt.Errorf("structured metadata %q must be a string", k)
		}
	}
	return out, nil
}

// parseLokiLabels parses a label set in selector syntax, {a="1", b="x\"y"}.
func parseLokiLabels(s string) ([][2]string, error) {
	s = strings.TrimSpace(s)
	if len(s) < 2 || s[0] != '{' || s[len(s)-1] != '}' {
		return nil, fmt.Errorf("labels %q must be written {name=\"value\", ...}", shorten(s))
	}
	s = s[1 : len(s)-1]
	var out [][2]string
	for {
		s = strings.TrimLeft(s, " \t,")
		if s == "" {
			return out, nil
		}
		eq := strings.IndexByte(s, '=')
		if eq <= 0 {
			return nil, fmt.Errorf("label %q has no =\"value\"", shorten(s))
		}
		name := strings.TrimSpace(s[:eq])
		rest := strings.TrimLeft(s[eq+1:], " \t")
		q, err := strconv.QuotedPrefix(rest)
		if err != nil {
			return nil, fmt.Errorf("label %s: the value must be a quoted string", shorten(name))
		}
		v, err := strconv.Unquote(q)
		if err != nil {
			return nil, fmt.Errorf("label %s: %w", shorten(name), err)
		}
		if name == "" {
			return nil, errors.New("a label name is empty")
		}
		out = append(out, [2]string{name, v})
		s = rest[len(q):]
		if t := strings.TrimLeft(s, " \t"); t != "" && t[0] != ',' {
			return nil, fmt.Errorf("expected ',' after label %s", shorten(name))
		}
	}
}

// DecodeLokiProtobuf decodes an uncompressed logproto.PushRequest:
//
//	PushRequest { repeated Stream streams = 1; }
//	Stream      { string labels = 1; repeated Entry entries = 2; uint64 hash = 3; }
//	Entry       { google.protobuf.Timestamp timestamp = 1; string line = 2;
//	              repeated LabelPair structuredMetadata = 3; }
//	LabelPair   { string name = 1; string value = 2; }
//
// Loki's own Go module is far too large to import for four messages. An
// error means the body as a whole is malformed.
func DecodeLokiProtobuf(buf []byte, d Defaults, l Limits, parse bool) ([]Result, error) {
	dc := newDecoder(d, l)
	var out []Result
	n := 0
	err := eachField(buf, func(num protowire.Number, typ protowire.Type, v []byte, _ uint64) error {
		if num != 1 || typ != protowire.BytesType {
			return nil
		}
		var labelText string
		var entries [][]byte
		err := eachField(v, func(num protowire.Number, typ protowire.Type, v []byte, _ uint64) error {
			switch {
			case num == 1 && typ == protowire.BytesType:
				labelText = string(v)
			case num == 2 && typ == protowire.BytesType:
				entries = append(entries, v)
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("stream: %w", err)
		}
		var labels [][2]string
		if strings.TrimSpace(labelText) != "" {
			if labels, err = parseLokiLabels(labelText); err != nil {
				return err
			}
		}
		for _, ev := range entries {
			n++
			t, line, meta, err := lokiProtoEntry(ev)
			if err != nil {
				return fmt.Errorf("entry %d: %w", n, err)
			}
			out = append(out, dc.lokiEntry(n, labels, meta, t, line, parse))
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("invalid Loki push protobuf: %w", err)
	}
	return out, nil
}

func lokiProtoEntry(b []byte) (t time.Time, line string, meta [][2]string, err error) {
	err = eachField(b, func(num protowire.Number, typ protowire.Type, v []byte, _ uint64) error {
		switch {
		case num == 1 && typ == protowire.BytesType:
			var sec, nanos int64
			if err := eachField(v, func(num protowire.Number, typ protowire.Type, _ []byte, x uint64) error {
				if typ == protowire.VarintType {
					switch num {
					case 1:
						sec = int64(x)
					case 2:
						nanos = int64(int32(x))
					}
				}
				return nil
			}); err != nil {
				return fmt.Errorf("timestamp: %w", err)
			}
			if sec < 0 || sec > 9e9 || nanos < 0 || nanos >= 1e9 {
				return fmt.Errorf("timestamp %d.%09d is out of range", sec, nanos)
			}
			t = time.Unix(sec, nanos).UTC()
		case num == 2 && typ == protowire.BytesType:
			line = string(v)
		case num == 3 && typ == protowire.BytesType:
			var name, value string
			if err := eachField(v, func(num protowire.Number, typ protowire.Type, v []byte, _ uint64) error {
				if typ == protowire.BytesType {
					switch num {
					case 1:
						name = string(v)
					case 2:
						value = string(v)
					}
				}
				return nil
			}); err != nil {
				return fmt.Errorf("structured metadata: %w", err)
			}
			meta = append(meta, [2]string{name, value})
		}
		return nil
	})
	return t, line, meta, err
}

// eachField calls fn for every field of a protobuf message: v is the
// payload of a length-delimited field, x the value of a varint or fixed
// one. Groups are skipped.
func eachField(b []byte, fn func(num protowire.Number, typ protowire.Type, v []byte, x uint64) error) error {
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return protowire.ParseError(n)
		}
		b = b[n:]
		var v []byte
		var x uint64
		switch typ {
		case protowire.VarintType:
			x, n = protowire.ConsumeVarint(b)
		case protowire.Fixed32Type:
			var x32 uint32
			x32, n = protowire.ConsumeFixed32(b)
			x = uint64(x32)
		case protowire.Fixed64Type:
			x, n = protowire.ConsumeFixed64(b)
		case protowire.BytesType:
			v, n = protowire.ConsumeBytes(b)
		default:
			n = protowire.ConsumeFieldValue(num, typ, b)
		}
		if n < 0 {
			return protowire.ParseError(n)
		}
		b = b[n:]
		if err := fn(num, typ, v, x); err != nil {
			return err
		}
	}
	return nil
}
