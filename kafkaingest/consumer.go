// Package kafkaingest consumes logs from Kafka topics as a member of a
// consumer group and stores them through the same decoders, pipeline and
// durable append as POST /api/v1/logs.
//
// # DESIGN: exactly once per node
//
// The offset after the last record of each partition a batch holds is
// written in the same Badger transaction as the batch's entries
// (storage.Store.AppendWith), under the partition's key in the
// "kafka_offsets" bucket. So after a crash at any moment the store holds
// either a batch and its offsets, or neither. When the group assigns a
// partition, the consumer starts from the larger of the offset the group
// has committed and the one this node stored (AdjustFetchOffsetsFn): the
// node's own position when it stored more than it could commit before it
// died, the group's when another node consumed the partition meanwhile.
// Offsets are committed to the group only once they are durable here, so a
// partition that moves resumes where its last owner stopped.
//
// Batches are bounded (MaxBatchBytes) far below the bytes one transaction
// holds, so a batch is never split and its offsets can never be stored
// with part of it only. Its entries can still need more keys than a
// transaction holds (many distinct indexed values each); the store then
// refuses it whole (storage.ErrTooLarge) and the consumer stores it in
// halves, each with its own offsets. Only a single record too large alone
// is stored in parts with its offset after them.
//
// The group's rebalances wait while a polled batch is being stored
// (BlockRebalanceOnPoll), and a revocation commits the stored offsets
// synchronously (after any commit still in flight): a partition is never
// given to another node between the moment this one read its records and
// the moment the group holds the offsets it stored. What remains is the case no consumer
// can close: a node killed after its commit to Badger and before its
// commit to the group, whose partitions move to another node before it
// returns; that node then stores the last batch again. A node restarted
// within the session timeout keeps its partitions when it has an
// instance_id (static membership), and resumes from its own offsets.
//
// Back-pressure: when the store refuses a batch (its queue is full, or the
// disk reserve is reached), the consumer rewinds the batch's partitions to
// the first record not stored, lets the group rebalance, and waits before
// it polls again: it neither drops the records nor holds a rebalance while
// the disk stays full.
package kafkaingest

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/logengine/logengine/ingest"
	"github.com/logengine/logengine/internal/kafkaclient"
	"github.com/logengine/logengine/storage"
)

// OffsetsBucket is the storage bucket of the consumed offsets: key
// "<topic>/<partition>", value the next offset to consume (8 bytes, big
// endian).
const OffsetsBucket = "kafka_offsets"

// Options configures a Consumer.
type Options struct {
	// Topics are the topics to consume.
	Topics []string
	// Group is the consumer group the node joins.
	Group string
	// InstanceID makes the node a static member of the group: restarted
	// within the session timeout, it gets its partitions back without a
	// rebalance. Empty means a dynamic member.
	InstanceID string
	// Format is how a record's value is decoded: FormatAuto (a JSON object
	// or array, NDJSON, or text lines, told apart record by record),
	// FormatJSON, FormatNDJSON or FormatText.
	Format ingest.Format
	// Source is the source of entries that name none; empty means
	// "unknown".
	Source string
	// ParseMessage reads a timestamp and level at the start of the
	// message of JSON records (text lines are always read so).
	ParseMessage bool
	// Headers names the record headers that become fields of the record's
	// entries (a field the entry has already is kept).
	Headers []string
	// MaxBatchRecords and MaxBatchBytes bound one stored batch; zero means
	// 10000 records and 1 MiB of record values.
	MaxBatchRecords int
	MaxBatchBytes   int
	// SessionTimeout is how long the group waits for a silent node before
	// it moves the node's partitions; zero means 45s (Kafka's default).
	SessionTimeout time.Duration
	Logger         *slog.Logger
	// Observer, when set, receives the consumer's metrics.
	Observer Observer
}

// Observer receives the consumer's metrics.
type Observer interface {
	Consumed(topic string, n int)
	Lag(topic string, partition int32, lag int64)
	Forget(topic string, partition int32)
	Rebalance(event string)
	DecodeErrors(topic string, n int)
	Stalled()
}

// Ingester decodes and stores records: ingest.Service.
type Ingester interface {
	NewBodyDecoder(d ingest.Defaults, parseMessage bool) *ingest.BodyDecoder
	IngestResultsWith(ctx context.Context, format ingest.Format, size int, results []ingest.Result, puts []storage.Put) (ingest.Response, error)
}

var _ Ingester = (*ingest.Service)(nil)

// Consumer consumes the configured topics into the store. Run drives it.
type Consumer struct {
	opts    Options
	svc     Ingester
	offsets *storage.Bucket
	client  *kgo.Client
	log     *slog.Logger
	obs     Observer

	// mu guards uncommitted: offsets durable in the store that the group
	// has not acknowledged yet. The poll loop adds to it, the loop and the
	// revoke callback commit it.
	mu          sync.Mutex
	uncommitted map[string]map[int32]kgo.EpochOffset
}

// New returns a consumer of the topics in opts over the connection conn;
// it connects when Run starts.
func New(conn kafkaclient.Config, opts Options, svc Ingester, offsets *storage.Bucket) (*Consumer, error) {
	if len(opts.Topics) == 0 {
		return nil, errors.New("kafka consumer: no topics")
	}
	if opts.Group == "" {
		return nil, errors.New("kafka consumer: no consumer group")
	}
	if opts.MaxBatchRecords <= 0 {
		opts.MaxBatchRecords = 10000
	}
	if opts.MaxBatchBytes <= 0 {
		opts.MaxBatchBytes = 1 << 20
	}
	if opts.SessionTimeout <= 0 {
		opts.SessionTimeout = 45 * time.Second
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Observer == nil {
		opts.Observer = nopObserver{}
	}
	c := &Consumer{opts: opts, svc: svc, offsets: offsets, log: opts.Logger, obs: opts.Observer,
		uncommitted: map[string]map[int32]kgo.EpochOffset{}}
	kopts, err := conn.Opts()
	if err != nil {
		return nil, fmt.Errorf("kafka consumer: %w", err)
	}
	kopts = append(kopts,
		kgo.ConsumerGroup(opts.Group),
		kgo.ConsumeTopics(opts.Topics...),
		kgo.DisableAutoCommit(),
		kgo.BlockRebalanceOnPoll(),
		kgo.SessionTimeout(opts.SessionTimeout),
		// A partition without a committed or stored offset is read from
		// its first record: logs are not skipped.
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.AdjustFetchOffsetsFn(c.adjustOffsets),
		kgo.OnPartitionsAssigned(c.assigned),
		kgo.OnPartitionsRevoked(c.revoked),
		kgo.OnPartitionsLost(c.lost),
		kgo.WithLogger(kgoLogger{c.log}),
	)
	if opts.InstanceID != "" {
		kopts = append(kopts, kgo.InstanceID(opts.InstanceID))
	}
	if c.client, err = kgo.NewClient(kopts...); err != nil {
		return nil, fmt.Errorf("kafka consumer: %w", err)
	}
	return c, nil
}

// Run consumes until ctx ends, then commits what it stored to the group
// and closes the client. A batch being stored when ctx ends is either
// stored with its offsets or not at all.
func (c *Consumer) Run(ctx context.Context) error {
	defer c.client.Close()
	c.log.Info("kafka consumer started", "topics", c.opts.Topics, "group", c.opts.Group, "instance_id", c.opts.InstanceID)
	stall := 0
	for ctx.Err() == nil {
		fetches := c.client.PollRecords(ctx, c.opts.MaxBatchRecords)
		if fetches.IsClientClosed() || ctx.Err() != nil {
			// Leaving the group revokes, which waits for this.
			c.client.AllowRebalance()
			break
		}
		fetches.EachError(func(topic string, p int32, err error) {
			if !errors.Is(err, context.Canceled) {
				c.log.Warn("kafka fetch", "topic", topic, "partition", p, "err", err)
			}
		})
		err := c.storeFetches(ctx, fetches)
		switch {
		case err == nil:
			stall = 0
			c.commit(ctx)
			c.client.AllowRebalance()
		case ctx.Err() != nil || errors.Is(err, storage.ErrClosed):
			c.client.AllowRebalance()
		default:
			// Rewound: what was not stored is fetched again after the
			// pause, and the group may rebalance meanwhile.
			c.commit(ctx)
			c.client.AllowRebalance()
			c.obs.Stalled()
			if stall == 0 {
				c.log.Warn("kafka consumption paused: the store refused a batch; it is read again when the store accepts", "err", err)
			}
			stall++
			select {
			case <-time.After(min(time.Duration(stall)*200*time.Millisecond, 2*time.Second)):
			case <-ctx.Done():
			}
		}
	}
	// The last offsets stored go to the group, so that partitions that
	// move while this node is away start after them.
	cctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c.commit(cctx)
	c.log.Info("kafka consumer stopped")
	return nil
}

// batch is records of one or more partitions stored in one append.
type batch struct {
	records []*kgo.Record
	bytes   int
}

// storeFetches stores the polled records in batches. When the store
// refuses one, it rewinds every partition to its first record not stored
// and returns the error.
func (c *Consumer) storeFetches(ctx context.Context, fetches kgo.Fetches) error {
	var (
		batches []batch
		cur     batch
	)
	fetches.EachPartition(func(p kgo.FetchTopicPartition) {
		for _, r := range p.Records {
			if len(cur.records) > 0 && (len(cur.records) >= c.opts.MaxBatchRecords || cur.bytes+len(r.Value) > c.opts.MaxBatchBytes) {
				batches = append(batches, cur)
				cur = batch{}
			}
			cur.records = append(cur.records, r)
			cur.bytes += len(r.Value)
		}
		if n := len(p.Records); n > 0 {
			c.obs.Lag(p.Topic, p.Partition, max(p.HighWatermark-p.Records[n-1].Offset-1, 0))
		}
	})
	if len(cur.records) > 0 {
		batches = append(batches, cur)
	}
	for i := 0; i < len(batches); i++ {
		b := batches[i]
		err := c.store(ctx, b, true)
		if errors.Is(err, storage.ErrTooLarge) && len(b.records) > 1 {
			// Entries with many distinct indexed values can need more
			// keys than a transaction holds: each half goes with its
			// own offsets, so a batch is still stored with its offsets
			// or not at all.
			half := len(b.records) / 2
			first, second := batch{records: b.records[:half]}, batch{records: b.records[half:]}
			for _, r := range first.records {
				first.bytes += len(r.Value)
			}
			second.bytes = b.bytes - first.bytes
			batches = slices.Concat(batches[:i], []batch{first, second}, batches[i+1:])
			i--
			continue
		}
		if errors.Is(err, storage.ErrTooLarge) {
			c.log.Warn("a kafka record holds more entries than one transaction can: they are stored in parts and its offset after them, so a crash in between may store its first parts again",
				"topic", b.records[0].Topic, "partition", b.records[0].Partition, "offset", b.records[0].Offset)
			err = c.store(ctx, b, false)
		}
		if err != nil {
			c.rewind(batches[i:])
			return err
		}
	}
	return nil
}

// rewind sets every partition of bs back to its first record in them.
func (c *Consumer) rewind(bs []batch) {
	to := map[string]map[int32]kgo.EpochOffset{}
	for _, b := range bs {
		for _, r := range b.records {
			if to[r.Topic] == nil {
				to[r.Topic] = map[int32]kgo.EpochOffset{}
			}
			if o, ok := to[r.Topic][r.Partition]; !ok || r.Offset < o.Offset {
				to[r.Topic][r.Partition] = kgo.EpochOffset{Epoch: -1, Offset: r.Offset}
			}
		}
	}
	c.client.SetOffsets(to)
}

// store decodes and stores one batch with the offsets after its records:
// in one transaction when whole, else the entries first (which the store
// may split) and the offsets after them.
func (c *Consumer) store(ctx context.Context, b batch, whole bool) error {
	results := make([]ingest.Result, 0, len(b.records))
	// owner[i] is the record of results[i].
	owner := make([]*kgo.Record, 0, len(b.records))
	next := map[string]map[int32]kgo.EpochOffset{}
	decodeErrs := map[string]int{}
	dec := c.svc.NewBodyDecoder(ingest.Defaults{Source: c.opts.Source}, c.opts.ParseMessage)
	for _, r := range b.records {
		if next[r.Topic] == nil {
			next[r.Topic] = map[int32]kgo.EpochOffset{}
		}
		next[r.Topic][r.Partition] = kgo.EpochOffset{Epoch: r.LeaderEpoch, Offset: r.Offset + 1}
		n0 := len(results)
		var err error
		// An entry without a timestamp takes its record's.
		results, err = dec.Append(results, c.opts.Format, r.Value, r.Timestamp)
		if err != nil {
			decodeErrs[r.Topic]++
			c.log.Warn("kafka record skipped", "topic", r.Topic, "partition", r.Partition, "offset", r.Offset, "err", err)
			continue
		}
		for i := n0; i < len(results); i++ {
			owner = append(owner, r)
			if results[i].Err == nil && len(c.opts.Headers) > 0 {
				results[i].Err = addHeaders(&results[i].Entry, r.Headers, c.opts.Headers)
			}
		}
	}
	puts := make([]storage.Put, 0, len(b.records))
	for topic, ps := range next {
		for p, o := range ps {
			puts = append(puts, storage.Put{Bucket: c.offsets, Key: offsetKey(topic, p), Value: binary.BigEndian.AppendUint64(nil, uint64(o.Offset))})
		}
	}
	if whole {
		if _, err := c.svc.IngestResultsWith(ctx, ingest.FormatKafka, b.bytes, results, puts); err != nil {
			return err
		}
	} else {
		if _, err := c.svc.IngestResultsWith(ctx, ingest.FormatKafka, b.bytes, results, nil); err != nil {
			return err
		}
		if _, err := c.svc.IngestResultsWith(ctx, ingest.FormatKafka, 0, nil, puts); err != nil {
			return err
		}
	}
	// Rejected records are logged now that they will not be read again.
	logged := 0
	for i := range results {
		if results[i].Err == nil {
			continue
		}
		r := owner[i]
		decodeErrs[r.Topic]++
		if logged < 10 {
			c.log.Warn("kafka record skipped", "topic", r.Topic, "partition", r.Partition, "offset", r.Offset, "line", results[i].Line, "err", results[i].Err)
		}
		logged++
	}
	if logged > 10 {
		c.log.Warn("kafka records skipped, more than logged", "skipped", logged)
	}
	for topic, n := range decodeErrs {
		c.obs.DecodeErrors(topic, n)
	}
	counts := map[string]int{}
	for _, r := range b.records {
		counts[r.Topic]++
	}
	for topic, n := range counts {
		c.obs.Consumed(topic, n)
	}
	c.mu.Lock()
	for topic, ps := range next {
		if c.uncommitted[topic] == nil {
			c.uncommitted[topic] = map[int32]kgo.EpochOffset{}
		}
		for p, o := range ps {
			c.uncommitted[topic][p] = o
		}
	}
	c.mu.Unlock()
	return nil
}

// addHeaders adds the named headers of a record as string fields of e,
// and checks the entry again.
func addHeaders(e *storage.Entry, headers []kgo.RecordHeader, names []string) error {
	added := false
	for _, n := range names {
		for _, h := range headers {
			if h.Key != n || hasField(e, n) {
				continue
			}
			e.Fields = append(e.Fields, storage.Field{Name: n, Value: storage.String(string(h.Value))})
			added = true
			break
		}
	}
	if !added {
		return nil
	}
	if err := e.Validate(); err != nil {
		return fmt.Errorf("with the record's headers: %w", err)
	}
	return nil
}

func hasField(e *storage.Entry, name string) bool {
	for _, f := range e.Fields {
		if f.Name == name {
			return true
		}
	}
	return false
}

// commit commits the stored offsets to the group; a failure is logged and
// retried with the next commit (this node's own offsets are durable).
// Commits are synchronous: asynchronous ones, tried, left the group behind
// this node's store for longer, and a node killed then whose partitions
// moved (a kill during a rebalance) had its last batches stored again by
// their next owner, as the cluster test saw.
func (c *Consumer) commit(ctx context.Context) {
	c.mu.Lock()
	todo := c.uncommitted
	c.uncommitted = map[string]map[int32]kgo.EpochOffset{}
	c.mu.Unlock()
	if len(todo) == 0 {
		return
	}
	onDone := func(_ *kgo.Client, _ *kmsg.OffsetCommitRequest, resp *kmsg.OffsetCommitResponse, err error) {
		if err == nil && resp != nil {
			err = partitionCommitError(resp)
		}
		if err == nil {
			return
		}
		if ctx.Err() == nil {
			c.log.Warn("kafka offset commit to the group failed; it is retried with the next one", "err", err)
		}
		c.mu.Lock()
		for topic, ps := range todo {
			if c.uncommitted[topic] == nil {
				c.uncommitted[topic] = map[int32]kgo.EpochOffset{}
			}
			for p, o := range ps {
				if cur, ok := c.uncommitted[topic][p]; !ok || cur.Offset < o.Offset {
					c.uncommitted[topic][p] = o
				}
			}
		}
		c.mu.Unlock()
	}
	c.client.CommitOffsetsSync(ctx, todo, onDone)
}

// partitionCommitError returns the first partition error of a commit.
func partitionCommitError(resp *kmsg.OffsetCommitResponse) error {
	for _, t := range resp.Topics {
		for _, p := range t.Partitions {
			if err := kerr.ErrorForCode(p.ErrorCode); err != nil {
				return fmt.Errorf("commit %s/%d: %w", t.Topic, p.Partition, err)
			}
		}
	}
	return nil
}

// adjustOffsets starts each assigned partition at the larger of the
// group's committed offset and this node's stored one.
func (c *Consumer) adjustOffsets(_ context.Context, offsets map[string]map[int32]kgo.Offset) (map[string]map[int32]kgo.Offset, error) {
	for topic, ps := range offsets {
		for p, o := range ps {
			stored, ok, err := c.storedOffset(topic, p)
			if err != nil {
				return nil, err
			}
			group := o.EpochOffset().Offset // negative: none committed
			if ok && stored > group {
				c.log.Info("kafka partition resumes from this node's stored offset", "topic", topic, "partition", p, "offset", stored, "group_offset", group)
				ps[p] = kgo.NewOffset().At(stored).WithEpoch(-1)
			}
		}
	}
	return offsets, nil
}

func (c *Consumer) storedOffset(topic string, p int32) (int64, bool, error) {
	v, err := c.offsets.Get(offsetKey(topic, p))
	if errors.Is(err, storage.ErrNotFound) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, fmt.Errorf("read the stored offset of %s/%d: %w", topic, p, err)
	}
	if len(v) != 8 {
		return 0, false, fmt.Errorf("stored offset of %s/%d has %d bytes, want 8", topic, p, len(v))
	}
	return int64(binary.BigEndian.Uint64(v)), true, nil
}

func offsetKey(topic string, p int32) string { return topic + "/" + strconv.Itoa(int(p)) }

func (c *Consumer) assigned(_ context.Context, _ *kgo.Client, ps map[string][]int32) {
	c.obs.Rebalance("assigned")
	c.log.Info("kafka partitions assigned", "partitions", ps)
}

// revoked commits what was stored before the partitions go to another
// node: the poll loop has stored every batch it polled (rebalances wait
// for it), so the group then holds this node's last offsets.
func (c *Consumer) revoked(ctx context.Context, _ *kgo.Client, ps map[string][]int32) {
	if len(ps) == 0 {
		return
	}
	c.obs.Rebalance("revoked")
	c.log.Info("kafka partitions revoked", "partitions", ps)
	c.commit(ctx)
	c.forget(ps)
}

// lost forgets partitions the group took away without a revocation (this
// node was too slow, or the group failed); their stored offsets stay
// valid for this node.
func (c *Consumer) lost(_ context.Context, _ *kgo.Client, ps map[string][]int32) {
	if len(ps) == 0 {
		return
	}
	c.obs.Rebalance("lost")
	c.log.Warn("kafka partitions lost", "partitions", ps)
	c.mu.Lock()
	for topic, parts := range ps {
		for _, p := range parts {
			delete(c.uncommitted[topic], p)
		}
	}
	c.mu.Unlock()
	c.forget(ps)
}

func (c *Consumer) forget(ps map[string][]int32) {
	for topic, parts := range ps {
		for _, p := range parts {
			c.obs.Forget(topic, p)
		}
	}
}

type nopObserver struct{}

func (nopObserver) Consumed(string, int)     {}
func (nopObserver) Lag(string, int32, int64) {}
func (nopObserver) Forget(string, int32)     {}
func (nopObserver) Rebalance(string)         {}
func (nopObserver) DecodeErrors(string, int) {}
func (nopObserver) Stalled()                 {}

// kgoLogger passes the client's warnings and errors to the daemon's log.
type kgoLogger struct{ l *slog.Logger }

func (kgoLogger) Level() kgo.LogLevel { return kgo.LogLevelWarn }

func (k kgoLogger) Log(level kgo.LogLevel, msg string, keyvals ...any) {
	switch level {
	case kgo.LogLevelError:
		k.l.Error("kafka: "+msg, keyvals...)
	case kgo.LogLevelWarn:
		k.l.Warn("kafka: "+msg, keyvals...)
	}
}
