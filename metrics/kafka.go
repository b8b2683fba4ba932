package metrics

import (
	"strconv"

	"github.com/prometheus/client_golang/prometheus"
)

// KafkaConsumer holds the metrics of consuming logs from Kafka; its
// labels are bounded by the configured topics and their partitions.
type KafkaConsumer struct {
	records      *prometheus.CounterVec
	lag          *prometheus.GaugeVec
	rebalances   *prometheus.CounterVec
	decodeErrors *prometheus.CounterVec
	stalls       prometheus.Counter
}

// KafkaConsumer registers the Kafka consumer's metrics; call it once.
func (m *Metrics) KafkaConsumer() *KafkaConsumer {
	k := &KafkaConsumer{
		records: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "logengine_kafka_records_total", Help: "Kafka records consumed and stored (with their offsets), by topic.",
		}, []string{"topic"}),
		lag: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "logengine_kafka_lag_records", Help: "Records of an assigned partition not consumed yet (high watermark minus the next offset), at the last fetch.",
		}, []string{"topic", "partition"}),
		rebalances: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "logengine_kafka_rebalances_total", Help: "Consumer group changes seen by this node, by event (assigned, revoked, lost).",
		}, []string{"event"}),
		decodeErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "logengine_kafka_decode_errors_total", Help: "Kafka records (or their lines) that were not valid logs and were skipped, by topic.",
		}, []string{"topic"}),
		stalls: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "logengine_kafka_backpressure_total", Help: "Times consumption paused because the write path was saturated or the disk reserve reached.",
		}),
	}
	m.reg.MustRegister(k.records, k.lag, k.rebalances, k.decodeErrors, k.stalls)
	return k
}

// Consumed counts records of a topic stored.
func (k *KafkaConsumer) Consumed(topic string, n int) {
	k.records.WithLabelValues(topic).Add(float64(n))
}

// Lag sets the lag of a partition.
func (k *KafkaConsumer) Lag(topic string, partition int32, lag int64) {
	k.lag.WithLabelValues(topic, strconv.Itoa(int(partition))).Set(float64(lag))
}

// Forget drops the lag of a partition no longer assigned.
func (k *KafkaConsumer) Forget(topic string, partition int32) {
	k.lag.DeleteLabelValues(topic, strconv.Itoa(int(partition)))
}

// Rebalance counts a group event.
func (k *KafkaConsumer) Rebalance(event string) { k.rebalances.WithLabelValues(event).Inc() }

// DecodeErrors counts records of a topic skipped as invalid.
func (k *KafkaConsumer) DecodeErrors(topic string, n int) {
	k.decodeErrors.WithLabelValues(topic).Add(float64(n))
}

// Stalled counts a pause for back-pressure.
func (k *KafkaConsumer) Stalled() { k.stalls.Inc() }
