package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/klauspost/compress/snappy"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	logspb "go.opentelemetry.io/proto/otlp/logs/v1"
	resourcepb "go.opentelemetry.io/proto/otlp/resource/v1"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	"github.com/logengine/logengine/internal/loggen"
)

// The same generated logs in the protocols of other log systems, so that
// each protocol's throughput can be compared with native NDJSON.

// protocol says how one batch is encoded and where it goes.
type protocol struct {
	path        string
	contentType string
	encode      func(logs []loggen.Log) []byte
	// stream marks syslog: frames written to sockets, not HTTP requests.
	stream bool
	// name is the flag's value; syslogAddr is where syslog goes.
	name, syslogAddr string
}

var protocols = map[string]protocol{
	"ndjson":        {"/api/v1/logs", "application/x-ndjson", encodeNDJSON, false, "", ""},
	"es-bulk":       {"/_bulk", "application/x-ndjson", encodeBulk, false, "", ""},
	"loki-json":     {"/loki/api/v1/push", "application/json", encodeLokiJSON, false, "", ""},
	"loki-protobuf": {"/loki/api/v1/push", "application/x-protobuf", encodeLokiProtobuf, false, "", ""},
	"otlp-protobuf": {"/v1/logs", "application/x-protobuf", encodeOTLPProtobuf, false, "", ""},
	"otlp-json":     {"/v1/logs", "application/json", encodeOTLPJSON, false, "", ""},
	"syslog-tcp":    {"", "", encodeSyslog, true, "", ""},
	"syslog-udp":    {"", "", encodeSyslog, true, "", ""},
}

func protocolNames() string {
	return "ndjson, es-bulk, loki-json, loki-protobuf, otlp-protobuf, otlp-json, syslog-tcp, syslog-udp"
}

// generate returns n logs spread evenly over [start, start+span).
func generate(g *loggen.Generator, n int, start time.Time, span time.Duration) []loggen.Log {
	out := make([]loggen.Log, n)
	for i := range out {
		out[i] = g.Next(loggen.At(start, span, i, n))
	}
	return out
}

func encodeNDJSON(logs []loggen.Log) []byte {
	b := make([]byte, 0, len(logs)*220)
	for i := range logs {
		b = logs[i].AppendJSON(b)
		b = append(b, '\n')
	}
	return b
}

func encodeBulk(logs []loggen.Log) []byte {
	b := make([]byte, 0, len(logs)*260)
	for i := range logs {
		b = append(b, `{"create":{"_index":"logs-loadgen"}}`+"\n"...)
		b = logs[i].AppendJSON(b)
		b = append(b, '\n')
	}
	return b
}

// lokiStreams groups logs by source and level, the labels a Loki client
// would use; host, status and latency go as structured metadata.
func lokiStreams(logs []loggen.Log) (keys []string, groups map[string][]loggen.Log) {
	groups = map[string][]loggen.Log{}
	for _, l := range logs {
		k := l.Source + "\x00" + l.Level
		if _, ok := groups[k]; !ok {
			keys = append(keys, k)
		}
		groups[k] = append(groups[k], l)
	}
	return keys, groups
}

func encodeLokiJSON(logs []loggen.Log) []byte {
	keys, groups := lokiStreams(logs)
	var b bytes.Buffer
	b.WriteString(`{"streams":[`)
	for i, k := range keys {
		if i > 0 {
			b.WriteByte(',')
		}
		g := groups[k]
		fmt.Fprintf(&b, `{"stream":{"service_name":%q,"level":%q},"values":[`, g[0].Source, g[0].Level)
		for j, l := range g {
			if j > 0 {
				b.WriteByte(',')
			}
			fmt.Fprintf(&b, `["%d",%q,{"host":%q,"status":"%d","latency_ms":"%d"}]`, l.Time.UnixNano(), l.Message, l.Host, l.Status, l.Latency)
		}
		b.WriteString(`]}`)
	}
	b.WriteString(`]}`)
	return b.Bytes()
}

func encodeLokiProtobuf(logs []loggen.Log) []byte {
	keys, groups := lokiStreams(logs)
	var b []byte
	for _, k := range keys {
		g := groups[k]
		var s []byte
		s = protowire.AppendTag(s, 1, protowire.BytesType)
		s = protowire.AppendString(s, fmt.Sprintf(`{service_name=%q, level=%q}`, g[0].Source, g[0].Level))
		for _, l := range g {
			var ts, e []byte
			ts = protowire.AppendTag(ts, 1, protowire.VarintType)
			ts = protowire.AppendVarint(ts, uint64(l.Time.Unix()))
			ts = protowire.AppendTag(ts, 2, protowire.VarintType)
			ts = protowire.AppendVarint(ts, uint64(l.Time.Nanosecond()))
			e = protowire.AppendTag(e, 1, protowire.BytesType)
			e = protowire.AppendBytes(e, ts)
			e = protowire.AppendTag(e, 2, protowire.BytesType)
			e = protowire.AppendString(e, l.Message)
			for _, kv := range [][2]string{{"host", l.Host}, {"status", strconv.Itoa(l.Status)}, {"latency_ms", strconv.Itoa(l.Latency)}} {
				var m []byte
				m = protowire.AppendTag(m, 1, protowire.BytesType)
				m = protowire.AppendString(m, kv[0])
				m = protowire.AppendTag(m, 2, protowire.BytesType)
				m = protowire.AppendString(m, kv[1])
				e = protowire.AppendTag(e, 3, protowire.BytesType)
				e = protowire.AppendBytes(e, m)
			}
			s = protowire.AppendTag(s, 2, protowire.BytesType)
			s = protowire.AppendBytes(s, e)
		}
		b = protowire.AppendTag(b, 1, protowire.BytesType)
		b = protowire.AppendBytes(b, s)
	}
	return snappy.Encode(nil, b)
}

var otlpSeverity = map[string]logspb.SeverityNumber{
	"debug": logspb.SeverityNumber_SEVERITY_NUMBER_DEBUG, "info": logspb.SeverityNumber_SEVERITY_NUMBER_INFO,
	"warn": logspb.SeverityNumber_SEVERITY_NUMBER_WARN, "error": logspb.SeverityNumber_SEVERITY_NUMBER_ERROR,
	"fatal": logspb.SeverityNumber_SEVERITY_NUMBER_FATAL,
}

// otlpData groups logs into one resource per source, as SDKs send them.
func otlpData(logs []loggen.Log) *logspb.LogsData {
	str := func(k, v string) *commonpb.KeyValue {
		return &commonpb.KeyValue{Key: k, Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: v}}}
	}
	num := func(k string, v int) *commonpb.KeyValue {
		return &commonpb.KeyValue{Key: k, Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_IntValue{IntValue: int64(v)}}}
	}
	bySource := map[string]*logspb.ScopeLogs{}
	data := &logspb.LogsData{}
	for _, l := range logs {
		sl, ok := bySource[l.Source]
		if !ok {
			sl = &logspb.ScopeLogs{Scope: &commonpb.InstrumentationScope{Name: "loadgen"}}
			bySource[l.Source] = sl
			data.ResourceLogs = append(data.ResourceLogs, &logspb.ResourceLogs{
				Resource:  &resourcepb.Resource{Attributes: []*commonpb.KeyValue{str("service.name", l.Source)}},
				ScopeLogs: []*logspb.ScopeLogs{sl},
			})
		}
		sl.LogRecords = append(sl.LogRecords, &logspb.LogRecord{
			TimeUnixNano: uint64(l.Time.UnixNano()), SeverityNumber: otlpSeverity[l.Level], SeverityText: l.Level,
			Body:       &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: l.Message}},
			Attributes: []*commonpb.KeyValue{str("host", l.Host), num("status", l.Status), num("latency_ms", l.Latency)},
		})
	}
	return data
}

func encodeOTLPProtobuf(logs []loggen.Log) []byte {
	b, err := proto.Marshal(otlpData(logs))
	if err != nil {
		panic("BUG: " + err.Error())
	}
	return b
}

func encodeOTLPJSON(logs []loggen.Log) []byte {
	b, err := protojson.Marshal(otlpData(logs))
	if err != nil {
		panic("BUG: " + err.Error())
	}
	return b
}

var syslogSeverity = map[string]int{"debug": 7, "info": 6, "warn": 4, "error": 3, "fatal": 2}

// encodeSyslog writes RFC 5424 messages, octet-counted (RFC 6587), with
// the host, status and latency as structured data.
func encodeSyslog(logs []loggen.Log) []byte {
	var b bytes.Buffer
	for _, l := range logs {
		msg := fmt.Sprintf("<%d>1 %s %s %s - - [req status=\"%d\" latency_ms=\"%d\"] %s",
			16*8+syslogSeverity[l.Level], l.Time.UTC().Format(time.RFC3339Nano), l.Host, l.Source, l.Status, l.Latency, l.Message)
		fmt.Fprintf(&b, "%d %s", len(msg), msg)
	}
	return b.Bytes()
}

// committed reads the daemon's count of entries ever stored.
func committed(ctx context.Context, client *http.Client, server, key string) (int64, error) {
	f, err := metric(ctx, client, server, key, "logengine_committed_sequence")
	return int64(f), err
}

// metric reads one unlabelled metric from the daemon's /metrics.
func metric(ctx context.Context, client *http.Client, server, key, name string) (float64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimRight(server, "/")+"/metrics", nil)
	if err != nil {
		return 0, err
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(body), "\n") {
		if v, ok := strings.CutPrefix(line, name+" "); ok {
			return strconv.ParseFloat(strings.TrimSpace(v), 64)
		}
	}
	return 0, fmt.Errorf("no %s in /metrics", name)
}

// sendSyslog writes the batches to conc connections (TCP) or sockets
// (UDP, one datagram per message) and waits until the daemon has stored
// as many entries as were sent, or stops growing. Syslog has no
// acknowledgement: the rate is the rate of storing, read from /metrics.
func sendSyslog(ctx context.Context, proto, addr, server, key string, batches [][]byte, nBatches, batch, conc int) (sent int64, stored int64, elapsed time.Duration, err error) {
	client := &http.Client{}
	before, err := committed(ctx, client, server, key)
	if err != nil {
		return 0, 0, 0, err
	}
	network := "tcp"
	if proto == "syslog-udp" {
		network = "udp"
	}
	start := time.Now()
	var sentUDP atomic.Int64
	errs := make(chan error, conc)
	next := make(chan int, nBatches)
	for i := 0; i < nBatches; i++ {
		next <- i
	}
	close(next)
	for c := 0; c < conc; c++ {
		go func() {
			conn, err := net.Dial(network, addr)
			if err != nil {
				errs <- err
				return
			}
			defer conn.Close()
			for i := range next {
				body := batches[i%len(batches)]
				if network == "tcp" {
					if _, err := conn.Write(body); err != nil {
						errs <- err
						return
					}
					continue
				}
				// UDP has no flow control: wait until the daemon has
				// stored all but two batches of what was sent, so the
				// rate measured is one it sustains without loss.
				for {
					n, err := committed(ctx, client, server, key)
					if err != nil {
						errs <- err
						return
					}
					if n >= before+sentUDP.Load()-int64(2*batch) {
						break
					}
					time.Sleep(time.Millisecond)
				}
				sentUDP.Add(int64(batch))
				// One datagram per message: strip the octet counts.
				for len(body) > 0 {
					sp := bytes.IndexByte(body, ' ')
					n, _ := strconv.Atoi(string(body[:sp]))
					if _, err := conn.Write(body[sp+1 : sp+1+n]); err != nil {
						errs <- err
						return
					}
					body = body[sp+1+n:]
				}
			}
			errs <- nil
		}()
	}
	for c := 0; c < conc; c++ {
		if e := <-errs; e != nil && err == nil {
			err = e
		}
	}
	want := before + int64(nBatches*batch)
	last, lastChange := before, time.Now()
	for {
		n, cerr := committed(ctx, client, server, key)
		if cerr != nil {
			return int64(nBatches * batch), last - before, time.Since(start), cerr
		}
		if n != last {
			last, lastChange = n, time.Now()
		}
		if n >= want || time.Since(lastChange) > 3*time.Second {
			elapsed = lastChange.Sub(start)
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	return int64(nBatches * batch), last - before, elapsed, err
}
