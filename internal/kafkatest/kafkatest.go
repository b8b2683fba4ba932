// Package kafkatest starts an in-process Kafka-protocol cluster for tests:
// several brokers on loopback ports that real clients (franz-go, librdkafka
// through kcat, syslog-ng, rsyslog) connect to like any Kafka cluster.
package kafkatest

import (
	"testing"

	"github.com/twmb/franz-go/pkg/kfake"
)

// Options shape the cluster; the zero value is three brokers, no topics.
type Options struct {
	// Brokers is the number of brokers; zero means 3.
	Brokers int
	// Topics are created with Partitions partitions each (zero means 3).
	Topics     []string
	Partitions int32
	// SASL, when Mechanism is set (PLAIN, SCRAM-SHA-256, SCRAM-SHA-512),
	// makes the cluster require that user.
	SASLMechanism, SASLUser, SASLPassword string
}

// Start runs a cluster until the test ends and returns it; its seed
// brokers are c.ListenAddrs().
func Start(t testing.TB, o Options) *kfake.Cluster {
	t.Helper()
	if o.Brokers == 0 {
		o.Brokers = 3
	}
	if o.Partitions == 0 {
		o.Partitions = 3
	}
	opts := []kfake.Opt{kfake.NumBrokers(o.Brokers)}
	if len(o.Topics) > 0 {
		opts = append(opts, kfake.SeedTopics(o.Partitions, o.Topics...))
	}
	if o.SASLMechanism != "" {
		opts = append(opts, kfake.EnableSASL(), kfake.Superuser(o.SASLMechanism, o.SASLUser, o.SASLPassword))
	}
	c, err := kfake.NewCluster(opts...)
	if err != nil {
		t.Fatalf("start kafka test cluster: %v", err)
	}
	t.Cleanup(c.Close)
	return c
}
