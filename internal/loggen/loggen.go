// Package loggen generates realistic service logs for load tests and
// benchmarks: ~200 bytes of JSON each, 5 levels with a realistic skew, 50
// sources, 200 hosts, 0–3 tags, and messages from templates filled with
// ids, IPs, paths and numbers. It is deterministic for a seed.
package loggen

import (
	"fmt"
	"math/rand/v2"
	"strconv"
	"time"
)

// Log is one generated log.
type Log struct {
	Time    time.Time
	Level   string
	Source  string
	Host    string
	Status  int
	Latency int
	Tags    []string
	Message string
}

// Generator produces logs.
type Generator struct {
	rng     *rand.Rand
	sources []string
	hosts   []string
}

// New returns a generator seeded with seed.
func New(seed uint64) *Generator {
	g := &Generator{rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))}
	names := []string{"api", "auth", "billing", "cart", "catalog", "checkout", "db", "email", "gateway", "inventory"}
	for i := 0; i < 50; i++ {
		g.sources = append(g.sources, fmt.Sprintf("%s-%d", names[i%len(names)], i/len(names)))
	}
	for i := 0; i < 200; i++ {
		g.hosts = append(g.hosts, fmt.Sprintf("web-%d", i))
	}
	return g
}

var tagPool = []string{"prod", "staging", "eu-west", "us-east", "canary", "k8s"}

var templates = []func(r *rand.Rand) string{
	func(r *rand.Rand) string {
		return fmt.Sprintf("GET /api/v1/orders/%d completed in %dms", r.IntN(1e6), r.IntN(900))
	},
	func(r *rand.Rand) string {
		return fmt.Sprintf("user %d logged in from %d.%d.%d.%d", r.IntN(1e5), r.IntN(256), r.IntN(256), r.IntN(256), r.IntN(256))
	},
	func(r *rand.Rand) string {
		return fmt.Sprintf("upstream timeout after %ds calling payment-svc request_id=%016x", 1+r.IntN(30), r.Uint64())
	},
	func(r *rand.Rand) string {
		return fmt.Sprintf("cache miss for key session:%08x, loading from database", r.Uint32())
	},
	func(r *rand.Rand) string {
		return fmt.Sprintf("connection reset by peer %d.%d.%d.%d:%d", r.IntN(256), r.IntN(256), r.IntN(256), r.IntN(256), 1024+r.IntN(60000))
	},
	func(r *rand.Rand) string {
		return fmt.Sprintf("processed batch of %d events in %dms queue_depth=%d", r.IntN(5000), r.IntN(2000), r.IntN(100))
	},
	func(r *rand.Rand) string {
		return fmt.Sprintf("disk usage at %d%% on /var/lib/data volume vol-%06x", 50+r.IntN(50), r.IntN(1<<24))
	},
	func(r *rand.Rand) string {
		return fmt.Sprintf("retrying job %d attempt %d of 5 after error: deadline exceeded", r.IntN(1e6), 1+r.IntN(5))
	},
	func(r *rand.Rand) string {
		return fmt.Sprintf("order %d shipped to warehouse %d with %d items", r.IntN(1e6), r.IntN(40), 1+r.IntN(20))
	},
	func(r *rand.Rand) string {
		return fmt.Sprintf("TLS handshake failed with client %d.%d.%d.%d: certificate expired", r.IntN(256), r.IntN(256), r.IntN(256), r.IntN(256))
	},
}

// Next returns the next log at time t.
func (g *Generator) Next(t time.Time) Log {
	r := g.rng
	l := Log{Time: t, Source: g.sources[r.IntN(len(g.sources))], Host: g.hosts[r.IntN(len(g.hosts))]}
	switch p := r.IntN(100); {
	case p < 10:
		l.Level = "debug"
	case p < 80:
		l.Level = "info"
	case p < 92:
		l.Level = "warn"
	case p < 99:
		l.Level = "error"
	default:
		l.Level = "fatal"
	}
	l.Status = []int{200, 200, 200, 201, 204, 301, 400, 404, 500, 503}[r.IntN(10)]
	l.Latency = r.IntN(2000)
	for i, n := 0, r.IntN(4); i < n; i++ {
		l.Tags = append(l.Tags, tagPool[r.IntN(len(tagPool))])
	}
	l.Message = templates[r.IntN(len(templates))](r)
	return l
}

// AppendJSON appends the log as one JSON object (no newline).
func (l *Log) AppendJSON(b []byte) []byte {
	b = append(b, `{"timestamp":"`...)
	b = l.Time.UTC().AppendFormat(b, time.RFC3339Nano)
	b = append(b, `","level":"`...)
	b = append(b, l.Level...)
	b = append(b, `","source":"`...)
	b = append(b, l.Source...)
	b = append(b, `","message":"`...)
	b = append(b, l.Message...)
	b = append(b, `","host":"`...)
	b = append(b, l.Host...)
	b = append(b, `","status":`...)
	b = strconv.AppendInt(b, int64(l.Status), 10)
	b = append(b, `,"latency_ms":`...)
	b = strconv.AppendInt(b, int64(l.Latency), 10)
	if len(l.Tags) > 0 {
		b = append(b, `,"tags":[`...)
		for i, t := range l.Tags {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, '"')
			b = append(b, t...)
			b = append(b, '"')
		}
		b = append(b, ']')
	}
	return append(b, '}')
}

// NDJSON returns n logs spread evenly over [start, start+span) as NDJSON.
func (g *Generator) NDJSON(n int, start time.Time, span time.Duration) []byte {
	b := make([]byte, 0, n*220)
	for i := 0; i < n; i++ {
		t := At(start, span, i, n)
		l := g.Next(t)
		b = l.AppendJSON(b)
		b = append(b, '\n')
	}
	return b
}

// At returns the time of the i-th of n logs spread evenly over
// [start, start+span). It divides before it multiplies: span*i overflows
// int64 nanoseconds past ~100k logs over a day.
func At(start time.Time, span time.Duration, i, n int) time.Time {
	return start.Add(time.Duration(float64(span) / float64(max(n, 1)) * float64(i)))
}
