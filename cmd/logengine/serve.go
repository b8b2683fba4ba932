package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/pprof"
	"os"
	"path/filepath"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/robfig/cron/v3"
	"golang.org/x/sync/errgroup"

	"github.com/logengine/logengine/alerting"
	"github.com/logengine/logengine/cluster"
	"github.com/logengine/logengine/gateway"
	"github.com/logengine/logengine/httpapi"
	"github.com/logengine/logengine/ingest"
	"github.com/logengine/logengine/internal/journal"
	"github.com/logengine/logengine/kafkaingest"
	"github.com/logengine/logengine/metrics"
	"github.com/logengine/logengine/migrations"
	"github.com/logengine/logengine/patterns"
	"github.com/logengine/logengine/retention"
	"github.com/logengine/logengine/saved"
	"github.com/logengine/logengine/search"
	"github.com/logengine/logengine/storage"
)

func newLogger(cfg Config, w io.Writer) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(cfg.LogLevel))
	opts := &slog.HandlerOptions{Level: level}
	if cfg.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

func runServe(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cfg, printOnly, err := serveConfig(args, stderr)
	if err != nil {
		return err
	}
	if printOnly {
		fmt.Fprint(stdout, cfg.masked())
		return nil
	}
	log := newLogger(cfg, stderr)
	if _, set := os.LookupEnv("GOMEMLIMIT"); !set && cfg.MemoryLimit > 0 {
		debug.SetMemoryLimit(cfg.MemoryLimit)
	}
	if _, set := os.LookupEnv("GOGC"); !set {
		debug.SetGCPercent(cfg.GCPercent)
	}
	d, err := openDaemon(ctx, cfg, log)
	if err != nil {
		return err
	}
	return d.run(ctx)
}

// daemon is the wired daemon: every long-lived part and the order in which
// they stop.
type daemon struct {
	cfg     Config
	log     *slog.Logger
	store   *storage.Store
	index   *search.Index
	indexer *search.Indexer
	engine  *search.Engine
	http    *httpapi.Server
	cron    *cron.Cron
	metrics *metrics.Metrics
	// merged, mergedParts and mergedEntries add up what mergeJob did.
	merged, mergedParts, mergedEntries atomic.Int64

	syslog *ingest.SyslogServer  // nil when no syslog listener is configured
	kafka  *kafkaingest.Consumer // nil when no Kafka topics are configured
	// gateway is set in gateway mode (kafka.produce): received entries go
	// to Kafka instead of store.
	gateway *gateway.Producer
	alerts  *alerting.Manager
	// retention runs from cron and from the admin endpoint.
	retention *retention.Policy
	trimmer   *journal.Trimmer
	// miner and patternSaver are nil when patterns are disabled. The
	// saver runs until stopPatterns; close saves once more after ingest
	// has stopped and before Badger closes.
	miner        *patterns.Miner
	patternSaver *patterns.Saver
	stopPatterns context.CancelFunc
	patternsDone chan struct{}
	rate         rateTracker
	ready        bool
	// cluster is nil on a node without cluster.peer_key.
	cluster *cluster.Cluster

	// Background work (cron jobs, a reindex request) runs on bgCtx: it
	// ends when the daemon stops, before the cron jobs are waited for and
	// the index closes.
	bgCtx      context.Context
	stopBG     context.CancelFunc
	bg         sync.WaitGroup
	reindexing atomic.Bool
}

// The search engine answers alerting's counts and samples, and the HTTP
// API's searches and live tails.
var (
	_ alerting.Querier = (*search.Engine)(nil)
	_ httpapi.Searcher = (*search.Engine)(nil)
	_ httpapi.Tailer   = (*search.Engine)(nil)
	_ httpapi.Explorer = (*search.Engine)(nil)
	_ httpapi.Searcher = (*cluster.Searcher)(nil)
	_ httpapi.Tailer   = (*cluster.Tail)(nil)
	_ httpapi.Explorer = (*cluster.Explorer)(nil)
	_ alerting.Querier = (*cluster.Searcher)(nil)
)

// Retention drops days from storage and the keyword index, and deletes
// sources from storage with the indexer following.
var (
	_ retention.DayStore    = (*storage.Store)(nil)
	_ retention.SourceStore = (*storage.Store)(nil)
	_ retention.Index       = (*search.Index)(nil)
	_ retention.Indexer     = (*search.Indexer)(nil)
)

// The journal's durable consumers, whose checkpoints bound its trimming.
var (
	_ journal.Checkpointer = (*search.Indexer)(nil)
	_ journal.Checkpointer = (*alerting.Manager)(nil)
)

func openDaemon(ctx context.Context, cfg Config, log *slog.Logger) (_ *daemon, err error) {
	d := &daemon{cfg: cfg, log: log, metrics: metrics.New()}
	d.bgCtx, d.stopBG = context.WithCancel(context.Background())
	defer func() {
		if err != nil {
			d.close()
		}
	}()
	if err := prepareDataDir(cfg.DataDir); err != nil {
		return nil, err
	}
	// Checked here, before anything is created in the directory, to say
	// what to do; the store would refuse it too.
	if err := checkRestoreFinished(cfg.DataDir); err != nil {
		return nil, err
	}
	sopts := storage.DefaultOptions(dbDir(cfg.DataDir))
	sopts.SyncWrites = cfg.SyncWrites
	sopts.IndexedFields = cfg.IndexedFields
	sopts.TruncateDamagedLogs = cfg.TruncateDamagedLogs
	sopts.Logger = log
	sopts.Observer = d.metrics
	if d.store, err = storage.Open(sopts); err != nil {
		return nil, err
	}
	if err := migrations.Run(ctx, d.store, log); err != nil {
		return nil, err
	}
	// The configuration may name other indexed fields than last time.
	if err := d.store.SyncIndexedFields(ctx, log); err != nil {
		return nil, err
	}
	if d.index, err = search.OpenIndex(filepath.Join(cfg.DataDir, "index"), log); err != nil {
		return nil, err
	}
	iopts := search.DefaultIndexerOptions()
	iopts.Logger = log
	d.indexer = search.NewIndexer(d.store, d.index, iopts)
	rc := cfg.retentionConfig(log)
	if err := rc.Validate(); err != nil {
		return nil, err
	}
	d.retention = retention.New(rc, retention.Deps{Days: d.store, Sources: d.store, Index: d.index, Indexer: d.indexer})
	// Before the indexer runs, so that it learns of those deletions at
	// once; one that cannot be finished must not keep the daemon from
	// starting.
	if err := d.retention.FinishInterrupted(ctx); err != nil {
		log.Error("an interrupted per-source deletion could not be finished; its days are skipped by per-source retention until it is", "err", err)
	}
	var templates search.Templates
	if cfg.Patterns.Enabled {
		if err := d.openPatterns(); err != nil {
			return nil, err
		}
		templates = d.miner // not a nil *Miner in an interface: only when mining
	}
	d.engine = search.NewEngine(d.store, d.index, d.indexer, search.EngineOptions{
		Timeout:       time.Duration(cfg.Limits.QueryTimeout),
		MaxRange:      time.Duration(cfg.Limits.MaxQueryRange),
		MaxGroupBytes: cfg.Limits.MaxGroupBytes,
		Templates:     templates,
	})
	// With peers, searches, aggregations, histograms, facets, the export,
	// an entry's context, stats and the live tail answer for the whole
	// cluster; peer calls for this node only.
	var searcher httpapi.Searcher = d.engine
	var tailer httpapi.Tailer = d.engine
	var explorer httpapi.Explorer = d.engine
	var health httpapi.Health = d
	nodeName := ""
	if cfg.Cluster.enabled() {
		nodeName = cfg.Cluster.nodeName(cfg.Listen)
		co, err := cfg.Cluster.options(nodeName)
		if err != nil {
			return nil, err
		}
		co.Logger, co.Observer = log, d.metrics
		if d.cluster, err = cluster.New(co); err != nil {
			return nil, err
		}
		if err := d.cluster.Resolve(ctx); err != nil {
			log.Warn("resolve cluster peers (retried every dns_refresh)", "err", err)
		}
		cs := d.cluster.Searcher(d.engine)
		searcher, tailer, explorer = cs, d.cluster.Tailer(d.engine), cs.Explorer(d.engine)
		health = clusterHealth{Health: d, c: d.cluster}
	}

	aopts := alerting.DefaultOptions()
	aopts.RulesFile = cfg.Alerting.RulesFile
	aopts.EvalInterval = time.Duration(cfg.Alerting.EvalInterval)
	aopts.Hosts = alerting.HostPolicy{Allowed: cfg.Alerting.AllowedNotifierHosts}
	aopts.ExternalURL = cfg.Alerting.ExternalURL
	aopts.UserAgent = "logengine/" + version
	aopts.Logger = log
	if d.miner != nil {
		// Not a nil *Miner in an interface: new_pattern rules are refused
		// when patterns are off.
		aopts.Patterns = d.miner
	}
	// Rules with a window count every node's logs on the evaluating
	// node(s) of a cluster, and nowhere else; see alerting.Windowed.
	var alertQuerier alerting.Querier = d.engine
	switch {
	case !cfg.Alerting.evaluates():
		aopts.Windowed = alerting.WindowedElsewhere
	case d.cluster != nil:
		aopts.Windowed, alertQuerier = alerting.WindowedPeriodic, searcher
	}
	if d.alerts, err = alerting.Open(ctx, d.store, alertQuerier, aopts); err != nil {
		return nil, err
	}
	topts := journal.DefaultTrimmerOptions()
	topts.Logger = log
	d.trimmer = journal.NewTrimmer(d.store, []journal.Checkpointer{d.indexer, d.alerts}, topts)

	// The logger hears of geoip databases reloaded, or kept because the
	// new file could not be opened.
	pipeline, err := ingest.OpenPipeline(cfg.Pipeline, ingest.PipelineOptions{Logger: log})
	if err != nil {
		return nil, err
	}
	var minedPatterns ingest.Patterns
	if d.miner != nil {
		minedPatterns = templateMining{d.miner, d.patternSaver}
	}
	// Committed batches go to the alert evaluator and the keyword
	// indexer in memory, so neither reads them back from storage.
	var appender ingest.Appender = d.store
	onCommit := []func([]storage.Entry){d.alerts.Committed, d.indexer.Committed}
	if cfg.Kafka.Produce {
		// Gateway mode: the nodes that consume the topic store, index,
		// mine templates and evaluate per-log rules; this node only
		// decodes, checks and runs the pipeline. Whatever consumes Kafka
		// on this node must append to the store, not through svc, or
		// its records would go back to Kafka.
		d.gateway, err = gateway.New(gateway.Options{
			Kafka:    cfg.Kafka.Config,
			Topic:    cfg.Kafka.ProduceTopic,
			Timeout:  time.Duration(cfg.Kafka.ProduceTimeout),
			Observer: d.metrics.NewGateway(),
		})
		if err != nil {
			return nil, fmt.Errorf("kafka gateway: %w", err)
		}
		appender, onCommit, minedPatterns = d.gateway, nil, nil
		log.Info("gateway mode: received logs are written to kafka, not stored here", "topic", cfg.Kafka.ProduceTopic, "brokers", cfg.Kafka.Brokers)
	}
	svc := ingest.NewService(appender, ingest.ServiceOptions{
		Limits:    cfg.Limits.Ingest,
		Pipeline:  pipeline,
		Retention: time.Duration(cfg.Retention),
		MaxFuture: time.Duration(cfg.Limits.MaxFuture),
		Bulk:      cfg.Elasticsearch,
		Loki:      cfg.Loki,
		OnCommit:  onCommit,
		Observe: func(f ingest.Format, n int, res *ingest.Response, reasons map[string]int) {
			d.metrics.ObserveIngest(f.String(), n, res.Accepted, res.Dropped, reasons)
		},
		Patterns: minedPatterns,
		Logger:   log,
	})
	d.registerGauges()

	d.http, err = httpapi.New(httpapi.Options{
		Listen:        cfg.Listen,
		MaxBodyBytes:  cfg.Limits.MaxBodyBytes,
		TLSCertFile:   cfg.TLS.Cert,
		TLSKeyFile:    cfg.TLS.Key,
		Keys:          cfg.Auth.Keys,
		RatePerSecond: cfg.Limits.RatePerSecond,
		Burst:         cfg.Limits.Burst,
		Logger:        log,
		Version:       version,
		PeerKey:       cfg.Cluster.PeerKey,
		NodeName:      nodeName,
	}, httpapi.Deps{
		Ingester: svc,
		Searcher: searcher,
		Tailer:   tailer,
		Explorer: explorer,
		Saved:    saved.New(d.store),
		Patterns: d.engine,
		Health:   health,
		Admin:    d,
		Metrics:  d.metrics.Handler(),
		Observer: d.metrics,
		// The Elasticsearch, Loki and OpenTelemetry ingest APIs.
		Protocols: svc,
		Alerting:  d.alerts,
	})
	if err != nil {
		return nil, err
	}
	if err := d.http.Listen(); err != nil {
		return nil, err
	}
	if cfg.Syslog.enabled() {
		if d.syslog, err = newSyslogServer(cfg, svc, log); err != nil {
			return nil, err
		}
	}
	d.cron = cron.New(cron.WithLogger(cronLogger{log}))
	if rc.Enabled() {
		// A run that takes longer than the schedule is skipped, not stacked.
		retentionJob := cron.NewChain(cron.SkipIfStillRunning(cronLogger{log})).Then(cron.FuncJob(d.retentionJob))
		if _, err := d.cron.AddJob(cfg.RetentionSchedule, retentionJob); err != nil {
			return nil, fmt.Errorf("retention_schedule %q: %w", cfg.RetentionSchedule, err)
		}
	}
	// Merges run one pass at a time; a pass longer than the schedule
	// delays the next instead of stacking.
	mergeJob := cron.NewChain(cron.SkipIfStillRunning(cronLogger{log})).Then(cron.FuncJob(d.mergeJob))
	if _, err := d.cron.AddJob("@every 2s", mergeJob); err != nil {
		return nil, fmt.Errorf("block merge schedule: %w", err)
	}
	if _, err := d.cron.AddFunc("@every 10m", d.gcJob); err != nil {
		return nil, fmt.Errorf("value log gc schedule: %w", err)
	}
	// A slow evaluation is skipped rather than stacked.
	alertJob := cron.NewChain(cron.SkipIfStillRunning(cronLogger{log})).Then(cron.FuncJob(d.alertJob))
	if _, err := d.cron.AddJob("@every "+time.Duration(cfg.Alerting.EvalInterval).String(), alertJob); err != nil {
		return nil, fmt.Errorf("alerting.eval_interval %s: %w", cfg.Alerting.EvalInterval, err)
	}
	// Last: nothing after it can fail, and Run closes its client.
	if len(cfg.Kafka.Brokers) > 0 && len(cfg.Kafka.Topics) > 0 {
		group := cfg.Kafka.Group
		if group == "" {
			group = "logengine"
		}
		d.kafka, err = kafkaingest.New(cfg.Kafka.Config, kafkaingest.Options{
			Topics: cfg.Kafka.Topics, Group: group, InstanceID: cfg.Kafka.InstanceID,
			SessionTimeout: time.Duration(cfg.Kafka.SessionTimeout),
			Format:         kafkaFormats[cfg.Kafka.Format], Source: cfg.Kafka.Source, Headers: cfg.Kafka.Headers,
			ParseMessage: cfg.Kafka.ParseMessage,
			Logger:       log, Observer: d.metrics.KafkaConsumer(),
		}, svc, d.store.Bucket(kafkaingest.OffsetsBucket))
		if err != nil {
			return nil, err
		}
	}
	d.ready = true
	return d, nil
}

// patternsBucket holds the template miner's state, in the database so
// that backups include it.
const patternsBucket = "patterns"

// templateMining is what ingest needs of the miner and its saver.
type templateMining struct {
	*patterns.Miner
	*patterns.Saver
}

var _ ingest.Patterns = templateMining{}

// openPatterns loads the template miner's state and starts its saver.
func (d *daemon) openPatterns() error {
	m, err := patterns.New(patterns.DefaultConfig())
	if err != nil {
		return err
	}
	b := d.store.Bucket(patternsBucket)
	state, err := b.Get(patterns.StateKey)
	switch {
	case errors.Is(err, storage.ErrNotFound):
		// A new database, or one of a release before patterns.
	case err != nil:
		return fmt.Errorf("load message templates: %w", err)
	default:
		if err := m.UnmarshalBinary(state); err != nil {
			// Starting over would give known ids to new templates: the
			// stored entries would name the wrong ones.
			return fmt.Errorf("load message templates (%d bytes): %w", len(state), err)
		}
	}
	d.miner = m
	d.patternSaver = patterns.NewSaver(m, b, patterns.SaverOptions{Logger: d.log})
	ctx, cancel := context.WithCancel(context.Background())
	d.stopPatterns = cancel
	d.patternsDone = make(chan struct{})
	go func() {
		defer close(d.patternsDone)
		_ = d.patternSaver.Run(ctx)
	}()
	d.registerPatternMetrics()
	return nil
}

// closePatterns stops the saver and saves the templates a last time; ingest
// must have stopped.
func (d *daemon) closePatterns() error {
	if d.patternSaver == nil {
		return nil
	}
	d.stopPatterns()
	<-d.patternsDone
	return d.patternSaver.Save()
}

func (d *daemon) registerPatternMetrics() {
	stat := func(f func(patterns.Stats) float64) func() float64 {
		return func() float64 { return f(d.miner.Stats()) }
	}
	d.metrics.GaugeFunc("logengine_patterns_templates", "Message templates held by the miner, over all sources.", stat(func(s patterns.Stats) float64 { return float64(s.Templates) }))
	d.metrics.GaugeFunc("logengine_patterns_sources", "Sources whose templates are mined apart.", stat(func(s patterns.Stats) float64 { return float64(s.Sources) }))
	d.metrics.CounterFunc("logengine_patterns_created_total", "Message templates started since the daemon started.", stat(func(s patterns.Stats) float64 { return float64(s.Created) }))
	d.metrics.CounterFunc("logengine_patterns_merged_total", "Message templates merged into another (their id is an alias).", stat(func(s patterns.Stats) float64 { return float64(s.Merged) }))
	d.metrics.CounterFunc("logengine_patterns_evicted_total", "Message templates dropped by the per-source bound.", stat(func(s patterns.Stats) float64 { return float64(s.Evicted) }))
	d.metrics.CounterFunc("logengine_patterns_overflow_total", "Messages of sources beyond the bound on sources, mined together.", stat(func(s patterns.Stats) float64 { return float64(s.Overflow) }))
	d.metrics.CounterFunc("logengine_patterns_saves_total", "Saves of the template state.", func() float64 { return float64(d.patternSaver.Stats().Saves) })
	d.metrics.CounterFunc("logengine_patterns_save_failures_total", "Failed saves of the template state (ingest of new templates fails meanwhile).", func() float64 { return float64(d.patternSaver.Stats().Failures) })
}

func (d *daemon) registerGauges() {
	d.metrics.CounterFunc("logengine_blocks_merged_total", "Blocks written by the merger, each joining several small blocks.", func() float64 { return float64(d.merged.Load()) })
	d.metrics.CounterFunc("logengine_blocks_merge_parts_total", "Small blocks the merger joined.", func() float64 { return float64(d.mergedParts.Load()) })
	d.metrics.CounterFunc("logengine_blocks_merge_entries_total", "Entries the merger rewrote.", func() float64 { return float64(d.mergedEntries.Load()) })
	d.metrics.GaugeFunc("logengine_index_lag_entries", "Acknowledged entries the keyword index has not covered yet.", func() float64 {
		n, _ := d.indexer.Lag()
		return float64(n)
	})
	d.metrics.GaugeFunc("logengine_index_lag_seconds", "How long the oldest entry not yet in the keyword index has waited.", func() float64 {
		_, age := d.indexer.Lag()
		return age.Seconds()
	})
	d.metrics.GaugeFunc("logengine_index_shards_damaged", "Days whose keyword index shard was found damaged and is not rebuilt yet (searches over them read storage).", func() float64 {
		return float64(len(d.index.Damaged()))
	})
	d.metrics.GaugeFunc("logengine_storage_tables_damaged", "Storage tables that reads found damaged since the start: reads of their keys fail until the data directory is restored.", func() float64 {
		return float64(len(d.store.DamagedTables()))
	})
	d.metrics.CounterFunc("logengine_index_shard_damage_total", "Times a keyword index shard was found damaged and taken out of service for a rebuild.", func() float64 {
		return float64(d.index.DamagedTotal())
	})
	d.metrics.GaugeFunc("logengine_storage_bytes", "Bytes the Badger database takes on disk.", func() float64 {
		return float64(d.store.DiskBytes())
	})
	d.metrics.GaugeFunc("logengine_committed_sequence", "Highest committed journal sequence: the number of entries ever stored.", func() float64 {
		return float64(d.store.HighSeq())
	})
	d.metrics.GaugeFunc("logengine_journal_entries", "Committed entries the journal still lists; it is trimmed behind the slower of the keyword indexer and the alert evaluator.", func() float64 {
		return float64(d.trimmer.Entries())
	})
	d.registerAlertingMetrics()
}

func (d *daemon) registerAlertingMetrics() {
	stat := func(f func(alerting.Stats) float64) func() float64 {
		return func() float64 { return f(d.alerts.Stats()) }
	}
	d.metrics.GaugeFunc("logengine_alert_rules", "Alert rules defined.", stat(func(s alerting.Stats) float64 { return float64(s.Rules) }))
	d.metrics.GaugeFunc("logengine_alerts_firing", "Alert rules whose alert is firing.", stat(func(s alerting.Stats) float64 { return float64(s.Firing) }))
	d.metrics.GaugeFunc("logengine_alerts_pending", "Alert rules whose alert is pending.", stat(func(s alerting.Stats) float64 { return float64(s.Pending) }))
	d.metrics.CounterFunc("logengine_alert_transitions_total", "Alert state changes.", stat(func(s alerting.Stats) float64 { return float64(s.Transitions) }))
	d.metrics.CounterFunc("logengine_alert_notifications_total", "Notifications queued (one per notifier).", stat(func(s alerting.Stats) float64 { return float64(s.Queued) }))
	d.metrics.CounterFunc("logengine_alert_notifications_delivered_total", "Notifications a receiver accepted.", stat(func(s alerting.Stats) float64 { return float64(s.Delivered) }))
	d.metrics.CounterFunc("logengine_alert_notification_failures_total", "Failed notification delivery attempts (retried).", stat(func(s alerting.Stats) float64 { return float64(s.DeliveryFailures) }))
	d.metrics.CounterFunc("logengine_alert_notifications_dropped_total", "Notifications given up (refused, too old, notifier deleted).", stat(func(s alerting.Stats) float64 { return float64(s.Dropped) }))
	d.metrics.CounterFunc("logengine_alert_evaluation_failures_total", "Periodic evaluations of a rule that failed.", stat(func(s alerting.Stats) float64 { return float64(s.EvalErrors) }))
	d.metrics.CounterFunc("logengine_alert_seen_patterns_forgotten_total", "Patterns new_pattern rules forgot to stay within their bound (they may fire again).", stat(func(s alerting.Stats) float64 { return float64(s.SeenForgotten) }))
	d.metrics.GaugeFunc("logengine_alert_outbox_items", "Notifications waiting for delivery.", stat(func(s alerting.Stats) float64 { return float64(s.OutboxItems) }))
	d.metrics.GaugeFunc("logengine_alert_evaluation_lag_entries", "Committed entries the alert evaluator has not evaluated yet.", func() float64 {
		return float64(d.store.HighSeq() - min(d.alerts.Stats().EvaluatedSeq, d.store.HighSeq()))
	})
}

// run serves until ctx ends, then shuts down in order: HTTP (finishing
// in-flight requests, so every acknowledged batch is committed, and ending
// live tails, which would otherwise last as long as their clients), cron
// (its running jobs end with bgCtx), alerting (its evaluator saves its
// checkpoint; undelivered notifications stay in the outbox), the indexer,
// the template saver (a last save, once nothing ingests), the Bleve index,
// Badger.
func (d *daemon) run(ctx context.Context) error {
	g, gctx := errgroup.WithContext(ctx)
	indexCtx, stopIndexer := context.WithCancel(context.Background())
	defer stopIndexer()
	alertCtx, stopAlerting := context.WithCancel(context.Background())
	defer stopAlerting()
	alertingDone := make(chan struct{})
	g.Go(func() error {
		defer close(alertingDone)
		if err := d.alerts.Run(alertCtx); err != nil {
			return fmt.Errorf("alerting: %w", err)
		}
		return nil
	})
	g.Go(func() error {
		if err := d.indexer.Run(indexCtx); err != nil && !errors.Is(err, context.Canceled) {
			return fmt.Errorf("indexer: %w", err)
		}
		return nil
	})
	g.Go(func() error {
		d.log.Info("logengine listening", "addr", d.http.Addr().String(), "data_dir", d.cfg.DataDir, "version", version)
		return d.http.Serve()
	})
	if d.syslog != nil {
		// Stops with gctx, together with HTTP, and returns once what it
		// has read is stored: before Badger closes.
		g.Go(func() error { return d.syslog.Run(gctx) })
	}
	if d.kafka != nil {
		// Stops with HTTP; a batch being stored is stored with its
		// offsets or not at all, before Badger closes.
		g.Go(func() error { return d.kafka.Run(gctx) })
	}
	d.cron.Start()
	g.Go(func() error {
		d.rate.run(gctx, d.store.HighSeq)
		return nil
	})
	// Stops with HTTP; Badger closes only after g.Wait.
	g.Go(func() error { return d.trimmer.Run(gctx) })
	if d.cluster != nil {
		// Resolves DNS peers again until HTTP stops.
		g.Go(func() error { return d.cluster.Run(gctx) })
	}
	if d.cfg.DebugListen != "" {
		dbg := &http.Server{Addr: d.cfg.DebugListen, Handler: pprofMux(), ReadHeaderTimeout: 10 * time.Second}
		g.Go(func() error {
			if err := dbg.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
				return fmt.Errorf("debug listener: %w", err)
			}
			return nil
		})
		g.Go(func() error {
			<-gctx.Done()
			return dbg.Close()
		})
	}
	g.Go(func() error {
		<-gctx.Done()
		d.log.Info("shutting down")
		sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		err := d.http.Shutdown(sctx)
		// Background work (a retention run waiting for the keyword
		// index, a reindex request) ends before the cron jobs are waited for.
		d.stopBG()
		<-d.cron.Stop().Done()
		stopAlerting()
		<-alertingDone
		stopIndexer()
		return err
	})
	err := g.Wait()
	if cerr := d.close(); err == nil {
		err = cerr
	}
	if err == nil {
		d.log.Info("stopped cleanly")
	}
	return err
}

func (d *daemon) close() error {
	d.stopBG()
	d.bg.Wait()
	var errs []error
	if d.syslog != nil {
		errs = append(errs, d.syslog.Close())
	}
	// After HTTP and syslog: every request has had its answer.
	if d.gateway != nil {
		d.gateway.Close()
	}
	if d.alerts != nil {
		errs = append(errs, d.alerts.Close())
	}
	if d.cluster != nil {
		d.cluster.Close() // after HTTP and alerting: nothing asks the peers now
	}
	// After HTTP and syslog (no more templates), before Badger.
	errs = append(errs, d.closePatterns())
	if d.index != nil {
		errs = append(errs, d.index.Close())
	}
	if d.store != nil {
		errs = append(errs, d.store.Close())
	}
	return errors.Join(errs...)
}

// Ready implements httpapi.Health.
func (d *daemon) Ready() (httpapi.Readiness, error) {
	seqs, age := d.indexer.Lag()
	r := httpapi.Readiness{
		CommittedSeq:    d.store.HighSeq(),
		IndexLagEntries: seqs,
		IndexLagSeconds: age.Seconds(),
	}
	for _, dmg := range d.index.Damaged() {
		r.IndexDamaged = append(r.IndexDamaged, httpapi.DamagedIndexDay{
			Day: dmg.Day.String(), File: dmg.File, Error: dmg.Cause, Since: dmg.Since.UTC(),
		})
	}
	for _, dmg := range d.store.DamagedTables() {
		r.StorageDamaged = append(r.StorageDamaged, httpapi.DamagedTable{File: dmg.File, Error: dmg.Error})
	}
	if !d.ready {
		return r, errors.New("starting")
	}
	return r, nil
}

// Stats implements httpapi.Health.
func (d *daemon) Stats(ctx context.Context) (httpapi.Stats, error) {
	agg, err := d.engine.Aggregate(ctx, search.AggRequest{GroupBy: []string{"level"}, Limit: 10})
	if err != nil {
		return httpapi.Stats{}, err
	}
	perLevel := map[string]int64{}
	for _, g := range agg.Groups {
		perLevel[fmt.Sprint(g.Key[0])] = g.Count
	}
	seqs, age := d.indexer.Lag()
	as := d.alerts.Stats()
	return httpapi.Stats{
		AlertRules:          as.Rules,
		AlertsFiring:        as.Firing,
		AlertsPending:       as.Pending,
		EntriesByLevel:      perLevel,
		EntriesCommitted:    d.store.HighSeq(),
		EntriesTotal:        agg.Total,
		IndexLagEntries:     seqs,
		IndexLagSeconds:     age.Seconds(),
		IngestRatePerSecond: d.rate.perSecond(),
		StorageBytes:        d.store.DiskBytes(),
		Version:             version,
	}, nil
}

// rateTracker keeps the committed sequence every few seconds so that
// /api/v1/stats can report the ingest rate over the last minute.
type rateTracker struct {
	mu      sync.Mutex
	samples []rateSample // guarded by mu; oldest first, at most a minute
}

type rateSample struct {
	at  time.Time
	seq uint64
}

func (r *rateTracker) run(ctx context.Context, seq func() uint64) {
	t := time.NewTicker(5 * time.Second)
	defer t.Stop()
	for {
		r.mu.Lock()
		now := time.Now()
		r.samples = append(r.samples, rateSample{now, seq()})
		for len(r.samples) > 1 && now.Sub(r.samples[0].at) > time.Minute {
			r.samples = r.samples[1:]
		}
		r.mu.Unlock()
		select {
		case <-t.C:
		case <-ctx.Done():
			return
		}
	}
}

func (r *rateTracker) perSecond() float64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.samples) < 2 {
		return 0
	}
	a, b := r.samples[0], r.samples[len(r.samples)-1]
	return float64(b.seq-a.seq) / b.at.Sub(a.at).Seconds()
}

// Backup implements httpapi.Admin.
//
// The stream is spooled to a file in the data directory first: the version
// to pass as the next since is exact only once the backup is complete, and
// HTTP must send it in a header before the body. (A version read before the
// snapshot proved unsafe under concurrent commits: an incremental backup
// from it could miss a batch.)
func (d *daemon) Backup(ctx context.Context, w io.Writer, since uint64, start func(uint64)) (uint64, error) {
	f, err := os.CreateTemp(d.cfg.DataDir, "backup-*.tmp")
	if err != nil {
		return 0, fmt.Errorf("backup: spool file: %w", err)
	}
	defer os.Remove(f.Name())
	defer f.Close()
	next, err := d.store.Backup(ctx, d.store.ReserveWriter(f, "spool the backup"), since)
	if err != nil {
		return 0, err
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return 0, fmt.Errorf("backup: %w", err)
	}
	if start != nil {
		start(next)
	}
	if _, err := io.Copy(w, f); err != nil {
		return 0, fmt.Errorf("backup: send: %w", err)
	}
	return next, nil
}

// Retention implements httpapi.Admin: one run of the retention policy.
func (d *daemon) Retention(ctx context.Context) (retention.Result, error) {
	return d.retention.Run(ctx)
}

// Reindex implements httpapi.Admin: it starts rebuilding the keyword index
// in the background (a large index takes minutes; searches stay exact
// meanwhile) and returns at once.
func (d *daemon) Reindex(context.Context) error {
	if d.reindexing.Swap(true) {
		return conflictError("a reindex is already running: wait for it (the daemon log says when it ends)")
	}
	d.bg.Add(1)
	go func() {
		defer d.bg.Done()
		defer d.reindexing.Store(false)
		start := time.Now()
		d.log.Info("reindex started")
		if err := d.indexer.Reindex(d.bgCtx); err != nil {
			d.log.Error("reindex failed", "err", err)
			return
		}
		d.log.Info("reindex finished", "took", time.Since(start).Round(time.Millisecond))
	}()
	return nil
}

type conflictError string

func (e conflictError) Error() string  { return string(e) }
func (e conflictError) Conflict() bool { return true }

// retentionJob is the scheduled retention run. Like every cron job it runs
// on bgCtx, so that a stop ends it instead of waiting for it: what it
// leaves undone is done at the next run, and the error of an ended run is
// not worth logging.
func (d *daemon) retentionJob() {
	if _, err := d.retention.Run(d.bgCtx); err != nil && d.bgCtx.Err() == nil {
		d.log.Error("retention failed", "err", err)
	}
}

// alertJob is the periodic evaluation of every alert rule.
func (d *daemon) alertJob() {
	ctx, cancel := context.WithTimeout(d.bgCtx, max(2*time.Duration(d.cfg.Alerting.EvalInterval), time.Minute))
	defer cancel()
	if err := d.alerts.EvaluateAll(ctx); err != nil && d.bgCtx.Err() == nil {
		d.log.Warn("periodic alert evaluation", "err", err)
	}
}

// mergeJob joins small blocks into larger ones (storage.Store.MergeBlocks).
func (d *daemon) mergeJob() {
	st, err := d.store.MergeBlocks(d.bgCtx)
	d.merged.Add(int64(st.Merges))
	d.mergedParts.Add(int64(st.Blocks))
	d.mergedEntries.Add(int64(st.Entries))
	if err != nil && d.bgCtx.Err() == nil {
		d.log.Warn("block merge failed; the next pass tries again", "err", err)
	}
}

// gcJob reclaims value-log space.
func (d *daemon) gcJob() {
	if err := d.store.RunValueLogGC(d.bgCtx, 0.5); err != nil && d.bgCtx.Err() == nil {
		d.log.Warn("value log gc failed", "err", err)
	}
}

// pprofMux serves Go's profiles (the debug listener only).
func pprofMux() *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	return mux
}

type cronLogger struct{ l *slog.Logger }

func (c cronLogger) Info(msg string, kv ...any) { c.l.Debug("cron: "+msg, kv...) }
func (c cronLogger) Error(err error, msg string, kv ...any) {
	c.l.Error("cron: "+msg, append(kv, "err", err)...)
}

// newSyslogServer binds the configured syslog listeners.
func newSyslogServer(cfg Config, svc *ingest.Service, log *slog.Logger) (*ingest.SyslogServer, error) {
	opts := ingest.SyslogOptions{
		TCP: cfg.Syslog.TCP, UDP: cfg.Syslog.UDP, TLS: cfg.Syslog.TLS,
		Source: cfg.Syslog.Source, ParseMessage: cfg.Syslog.ParseMessage,
		MaxMessageBytes: cfg.Syslog.MaxMessageBytes, MaxConnections: cfg.Syslog.MaxConnections,
		Logger: log,
	}
	if cfg.Syslog.TLS != "" {
		certFile, keyFile := cfg.Syslog.TLSCert, cfg.Syslog.TLSKey
		if certFile == "" {
			certFile, keyFile = cfg.TLS.Cert, cfg.TLS.Key
		}
		cert, err := tls.LoadX509KeyPair(certFile, keyFile)
		if err != nil {
			return nil, fmt.Errorf("syslog tls certificate: %w", err)
		}
		opts.TLSConfig = &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{cert}}
	}
	srv := ingest.NewSyslogServer(svc, opts)
	if err := srv.Listen(); err != nil {
		_ = srv.Close()
		return nil, err
	}
	return srv, nil
}
