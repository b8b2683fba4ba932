// Package metrics owns logengine's own Prometheus metrics: their names,
// units and labels (all bounded), and the registry /metrics serves.
package metrics

import (
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Metrics holds the daemon's collectors.
type Metrics struct {
	reg *prometheus.Registry

	ingestedEntries prometheus.Counter
	ingestedBytes   prometheus.Counter
	droppedEntries  prometheus.Counter
	rejected        *prometheus.CounterVec
	ingestBatches   *prometheus.CounterVec
	queryDuration   *prometheus.HistogramVec
	httpRequests    *prometheus.CounterVec
	commits         *prometheus.CounterVec
	commitRequests  prometheus.Histogram
	commitDuration  prometheus.Histogram
	peerCalls       *prometheus.CounterVec
	peerDuration    *prometheus.HistogramVec
}

// New returns metrics registered in a fresh registry with the Go runtime
// and process collectors.
func New() *Metrics {
	reg := prometheus.NewRegistry()
	m := &Metrics{
		reg: reg,
		ingestedEntries: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "logengine_ingested_entries_total", Help: "Log entries stored durably (acknowledged).",
		}),
		ingestedBytes: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "logengine_ingested_bytes_total", Help: "Bytes of ingest request bodies received.",
		}),
		droppedEntries: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "logengine_ingest_dropped_total", Help: "Entries dropped on purpose by the pipeline's filters.",
		}),
		rejected: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "logengine_ingest_rejected_total", Help: "Log records rejected at ingest, by reason.",
		}, []string{"reason"}),
		ingestBatches: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "logengine_ingest_batches_total", Help: "Ingest requests handled, by body format.",
		}, []string{"format"}),
		queryDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "logengine_query_duration_seconds",
			Help:    "Time to answer searches and aggregations, by endpoint.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
		}, []string{"endpoint"}),
		httpRequests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "logengine_http_requests_total", Help: "HTTP requests answered, by route and status code.",
		}, []string{"route", "code"}),
		commits: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "logengine_commits_total", Help: "Group commits of the append path, by result (ok or failed).",
		}, []string{"result"}),
		commitRequests: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "logengine_commit_requests",
			Help:    "Append requests acknowledged by one group commit: above 1 when concurrent requests share a sync.",
			Buckets: []float64{1, 2, 4, 8, 16, 32, 64, 128, 256},
		}),
		commitDuration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "logengine_commit_duration_seconds",
			Help:    "Time one group commit takes to write and sync.",
			Buckets: []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, 1},
		}),
		peerCalls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "logengine_peer_requests_total", Help: "Calls to cluster peers, by endpoint and result (ok or failed: down, slow past the timeout, or refused).",
		}, []string{"endpoint", "result"}),
		peerDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "logengine_peer_request_duration_seconds",
			Help:    "Time cluster peers take to answer, by endpoint.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
		}, []string{"endpoint"}),
	}
	reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		m.ingestedEntries, m.ingestedBytes, m.droppedEntries, m.rejected, m.ingestBatches,
		m.queryDuration, m.httpRequests, m.commits, m.commitRequests, m.commitDuration,
		m.peerCalls, m.peerDuration,
	)
	return m
}

// ObserveCommit records one group commit of the store (requests 0: it
// failed).
func (m *Metrics) ObserveCommit(requests, _ int, d time.Duration) {
	if requests == 0 {
		m.commits.WithLabelValues("failed").Inc()
		return
	}
	m.commits.WithLabelValues("ok").Inc()
	m.commitRequests.Observe(float64(requests))
	m.commitDuration.Observe(d.Seconds())
}

// Handler serves the registry in the Prometheus text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}

// Register adds collectors owned elsewhere (gauges read at scrape time).
func (m *Metrics) Register(cs ...prometheus.Collector) { m.reg.MustRegister(cs...) }

// GaugeFunc registers a gauge whose value fn gives at scrape time.
func (m *Metrics) GaugeFunc(name, help string, fn func() float64) {
	m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help}, fn))
}

// CounterFunc registers a counter whose value fn gives at scrape time.
func (m *Metrics) CounterFunc(name, help string, fn func() float64) {
	m.reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{Name: name, Help: help}, fn))
}

// ObserveIngest records one ingest batch. format is a short name (json,
// ndjson, text); reasons counts rejected records by reason.
func (m *Metrics) ObserveIngest(format string, bytes, accepted, dropped int, reasons map[string]int) {
	m.ingestBatches.WithLabelValues(format).Inc()
	m.ingestedBytes.Add(float64(bytes))
	m.ingestedEntries.Add(float64(accepted))
	m.droppedEntries.Add(float64(dropped))
	for r, n := range reasons {
		m.rejected.WithLabelValues(r).Add(float64(n))
	}
}

// ObserveRejected counts records rejected for a reason outside a batch
// (a whole request refused).
func (m *Metrics) ObserveRejected(reason string, n int) {
	m.rejected.WithLabelValues(reason).Add(float64(n))
}

// ObserveQuery records the duration of one query at an endpoint.
func (m *Metrics) ObserveQuery(endpoint string, d time.Duration) {
	m.queryDuration.WithLabelValues(endpoint).Observe(d.Seconds())
}

// ObservePeerCall records one call to a cluster peer.
func (m *Metrics) ObservePeerCall(endpoint string, failed bool, d time.Duration) {
	result := "ok"
	if failed {
		result = "failed"
	}
	m.peerCalls.WithLabelValues(endpoint, result).Inc()
	m.peerDuration.WithLabelValues(endpoint).Observe(d.Seconds())
}

// ObserveHTTP counts one answered request. route is the route pattern,
// never the raw path, so the label stays bounded.
func (m *Metrics) ObserveHTTP(route string, code int) {
	m.httpRequests.WithLabelValues(route, codeText(code)).Inc()
}

func codeText(code int) string {
	if code < 100 || code > 599 {
		return "other"
	}
	b := []byte{byte('0' + code/100), byte('0' + code/10%10), byte('0' + code%10)}
	return string(b)
}
