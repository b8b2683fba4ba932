package metrics

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Gateway holds the metrics of the producer (gateway) mode, registered
// only on a node that runs it.
type Gateway struct {
	produced prometheus.Counter
	errors   prometheus.Counter
	duration prometheus.Histogram
}

// NewGateway registers the gateway's metrics.
func (m *Metrics) NewGateway() *Gateway {
	g := &Gateway{
		produced: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "logengine_kafka_produced_records_total", Help: "Entries written to Kafka and acknowledged by it (gateway mode).",
		}),
		errors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "logengine_kafka_produce_errors_total", Help: "Batches Kafka did not acknowledge in time or refused; their requests were answered 503 (gateway mode).",
		}),
		duration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "logengine_kafka_produce_duration_seconds",
			Help:    "Time from handing a request's entries to the producer to Kafka's acknowledgement of all of them (gateway mode).",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
		}),
	}
	m.reg.MustRegister(g.produced, g.errors, g.duration)
	return g
}

// ObserveProduce records one batch: its records were acknowledged unless
// err is set.
func (g *Gateway) ObserveProduce(records int, err error, d time.Duration) {
	if err != nil {
		g.errors.Inc()
		return
	}
	g.produced.Add(float64(records))
	g.duration.Observe(d.Seconds())
}
