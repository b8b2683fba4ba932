package ingest

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"
)

// serviceLogs returns n NDJSON lines like those of a fleet of services:
// about 200 bytes each, five levels, 50 sources, 200 hosts, 0–2 tags, typed
// fields.
func serviceLogs(n int) []byte {
	r := rand.New(rand.NewPCG(1, 2))
	levels := []string{"debug", "info", "info", "info", "warn", "error"}
	templates := []string{
		"GET /api/v1/orders/%d completed in %dms",
		"upstream timeout after %ds talking to 10.0.%d.7",
		"user %d logged in from 192.168.1.%d",
		"cache miss for key session:%d (%d bytes)",
		"payment %d declined: card expired (attempt %d)",
	}
	var b bytes.Buffer
	base := time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)
	for i := range n {
		ts := base.Add(time.Duration(i) * 1234567 * time.Nanosecond).Format(time.RFC3339Nano)
		msg := fmt.Sprintf(templates[r.IntN(len(templates))], r.IntN(100000), r.IntN(300))
		fmt.Fprintf(&b, `{"timestamp":%q,"level":%q,"service":"svc-%d","host":"web-%d","msg":%q,"status":%d,"latency_ms":%.1f,"trace_id":"%016x"`,
			ts, levels[r.IntN(len(levels))], r.IntN(50), r.IntN(200), msg, 200+100*r.IntN(4), r.Float64()*100, r.Uint64())
		switch r.IntN(3) {
		case 1:
			b.WriteString(`,"tags":["prod"]`)
		case 2:
			b.WriteString(`,"tags":["prod","eu-1"]`)
		}
		b.WriteString("}\n")
	}
	return b.Bytes()
}

func BenchmarkDecodeNDJSON(b *testing.B) {
	body := serviceLogs(1000)
	d := Defaults{Source: "bench", Now: func() time.Time { return testNow }}
	dst := make([]Result, 0, 1000)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		dst = AppendNDJSON(dst[:0], body, d, Limits{})
	}
	b.StopTimer()
	for _, r := range dst {
		if r.Err != nil {
			b.Fatalf("line %d: %v", r.Line, r.Err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/1000, "ns/log")
	b.ReportMetric(float64(len(body))/1000, "bytes/log")
}

func BenchmarkDecodeJSONArray(b *testing.B) {
	lines := bytes.Split(bytes.TrimSpace(serviceLogs(1000)), []byte("\n"))
	body := append(append([]byte("["), bytes.Join(lines, []byte(","))...), ']')
	d := Defaults{Now: func() time.Time { return testNow }}
	dst := make([]Result, 0, 1000)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		var err error
		if dst, err = AppendJSON(dst[:0], body, d, Limits{}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/1000, "ns/log")
}

// textLogs returns n text lines of the common shapes: ISO stamp and level,
// syslog, access lines.
func textLogs(n int) []byte {
	var b bytes.Buffer
	for i := range n {
		switch i % 4 {
		case 0:
			fmt.Fprintf(&b, "2026-11-26T10:00:%02d.%03dZ ERROR [worker-%d] payment %d failed: upstream timeout after 30s\n", i%60, i%1000, i%8, i)
		case 1:
			fmt.Fprintf(&b, "2026-11-26 10:00:%02d,%03d INFO  [main] com.example.OrderService: order %d shipped to warehouse %d\n", i%60, i%1000, i, i%17)
		case 2:
			fmt.Fprintf(&b, "<34>Nov 26 10:00:%02d web-%d sshd[%d]: Failed password for invalid user admin from 203.0.113.%d port 22 ssh2\n", i%60, i%9, 1000+i, i%250)
		case 3:
			fmt.Fprintf(&b, "198.51.100.%d - - [26/Nov/2026:10:00:%02d +0000] \"GET /api/v1/items/%d HTTP/1.1\" %d %d \"-\" \"curl/8.5.0\"\n", i%250, i%60, i, 200+100*(i%4), 512+i)
		}
	}
	return b.Bytes()
}

func BenchmarkDecodeText(b *testing.B) {
	body := textLogs(1000)
	d := Defaults{Now: func() time.Time { return testNow }}
	dst := make([]Result, 0, 1000)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		dst = AppendText(dst[:0], body, d, Limits{})
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/1000, "ns/log")
}

// headerLogs returns n text lines whose time or level stands further into
// the header: after a thread, a logger, a host, a container runtime's
// prefix, or a pid in brackets.
func headerLogs(n int) []byte {
	var b bytes.Buffer
	for i := range n {
		switch i % 4 {
		case 0:
			fmt.Fprintf(&b, "2026-11-26 10:00:%02d,%03d [http-nio-8080-exec-%d] ERROR com.acme.OrderService - order %d failed: upstream timeout\n", i%60, i%1000, i%8, i)
		case 1:
			fmt.Fprintf(&b, "2026-11-26T10:00:%02d.%03dZ stderr F 2026/11/26 10:00:%02d [error] 12#12: *%d connect() failed\n", i%60, i%1000, i%60, i)
		case 2:
			fmt.Fprintf(&b, "web-%d 2026-11-26T10:00:%02dZ kernel: [WARN] thermal throttling on cpu %d\n", i%9, i%60, i%8)
		case 3:
			fmt.Fprintf(&b, "2026-11-26 10:00:%02d.%03d UTC [%d] LOG:  checkpoint complete: wrote %d buffers\n", i%60, i%1000, 1000+i, i)
		}
	}
	return b.Bytes()
}

func BenchmarkDecodeTextHeaders(b *testing.B) {
	body := headerLogs(1000)
	d := Defaults{Now: func() time.Time { return testNow }}
	dst := make([]Result, 0, 1000)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		dst = AppendText(dst[:0], body, d, Limits{})
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/1000, "ns/log")
}
