package httpapi

import (
	"context"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/logengine/logengine/internal/duration"
	"github.com/logengine/logengine/retention"
)

// Health reports readiness and the figures of /api/v1/stats.
type Health interface {
	// Ready returns nil when storage is open and migrations are done, and
	// the figures worth showing (index lag and the like) either way.
	Ready() (Readiness, error)
	Stats(ctx context.Context) (Stats, error)
}

// Admin runs the operator's actions.
type Admin interface {
	Backup(ctx context.Context, w io.Writer, since uint64, start func(next uint64)) (next uint64, err error)
	Retention(ctx context.Context) (retention.Result, error)
	Reindex(ctx context.Context) error
}

// The answers below keep their fields in the order of their JSON keys:
// they were maps once, which encoding/json sends sorted, and clients see
// the same bytes.

// Readiness is the answer of GET /readyz.
type Readiness struct {
	// CommittedSeq is the highest committed journal sequence.
	CommittedSeq uint64 `json:"committed_seq"`
	// Error says why the daemon is not ready; the handler sets it.
	Error string `json:"error,omitempty"`
	// IndexDamaged lists the days whose keyword index was found damaged
	// and is being rebuilt from storage; the daemon is then "degraded":
	// searches over those days read storage (exact, slower).
	IndexDamaged []DamagedIndexDay `json:"index_damaged,omitempty"`
	// StorageDamaged lists the storage tables reads found damaged: reads
	// of their keys answer a damage error (never a shorter answer) until
	// the data directory is restored; the daemon is "degraded".
	StorageDamaged []DamagedTable `json:"storage_damaged,omitempty"`
	// IndexLagEntries and IndexLagSeconds are how many committed entries
	// the keyword index has not covered yet, and how long the oldest of
	// them has waited.
	IndexLagEntries uint64  `json:"index_lag_entries"`
	IndexLagSeconds float64 `json:"index_lag_seconds"`
	// Status is "ready" or "not ready"; the handler sets it.
	Status string `json:"status"`
}

// DamagedTable is a storage table found damaged.
type DamagedTable struct {
	File  string `json:"file"`
	Error string `json:"error"`
}

// DamagedIndexDay is a day whose keyword index is damaged.
type DamagedIndexDay struct {
	Day   string `json:"day"`
	Error string `json:"error"`
	// File is the damaged file under <data-dir>/index, or the day's
	// directory when the damage was not pinned to one file.
	File  string    `json:"file"`
	Since time.Time `json:"since"`
}

// Stats is the answer of GET /api/v1/stats, totals for dashboards.
type Stats struct {
	// AlertRules, AlertsFiring and AlertsPending count the alert rules
	// defined and those whose alert fires or is pending.
	AlertRules    int `json:"alert_rules"`
	AlertsFiring  int `json:"alerts_firing"`
	AlertsPending int `json:"alerts_pending"`
	// EntriesByLevel counts the stored entries of each level.
	EntriesByLevel map[string]int64 `json:"entries_by_level"`
	// EntriesCommitted is the number of entries ever stored (the highest
	// journal sequence); EntriesTotal those stored now.
	EntriesCommitted uint64  `json:"entries_committed"`
	EntriesTotal     int64   `json:"entries_total"`
	IndexLagEntries  uint64  `json:"index_lag_entries"`
	IndexLagSeconds  float64 `json:"index_lag_seconds"`
	// IngestRatePerSecond is the rate of commits over the last minute.
	IngestRatePerSecond float64 `json:"ingest_rate_per_second"`
	// MissingPeers and Partial: a cluster's figures lack those peers.
	MissingPeers []string `json:"missing_peers,omitempty"`
	// Nodes is how many nodes the figures add up; zero (left out) on a
	// node without peers.
	Nodes   int  `json:"nodes,omitempty"`
	Partial bool `json:"partial,omitempty"`
	// StorageBytes is what the database takes on disk.
	StorageBytes int64  `json:"storage_bytes"`
	Version      string `json:"version"`
}

// Add adds another node's figures to s, for a cluster's: entries, storage,
// ingest rate and index lag add up (the lag in seconds is the largest);
// alert figures stay this node's, since every node evaluates its own rules.
func (s *Stats) Add(o Stats) {
	if s.EntriesByLevel == nil {
		s.EntriesByLevel = map[string]int64{}
	}
	for l, n := range o.EntriesByLevel {
		s.EntriesByLevel[l] += n
	}
	s.EntriesCommitted += o.EntriesCommitted
	s.EntriesTotal += o.EntriesTotal
	s.IndexLagEntries += o.IndexLagEntries
	s.IndexLagSeconds = max(s.IndexLagSeconds, o.IndexLagSeconds)
	s.IngestRatePerSecond += o.IngestRatePerSecond
	s.StorageBytes += o.StorageBytes
}

// retentionResponse is the answer of POST /api/v1/admin/retention.
type retentionResponse struct {
	DeletedBySource map[string]int `json:"deleted_by_source"`
	DroppedDays     []string       `json:"dropped_days"`
	// Errors are what failed while the rest went on; what was done stands.
	Errors    []string `json:"errors,omitempty"`
	Retention string   `json:"retention"`
}

func newRetentionResponse(res retention.Result) retentionResponse {
	r := retentionResponse{
		DeletedBySource: res.DeletedBySource,
		DroppedDays:     make([]string, len(res.DroppedDays)),
		Retention:       "0 (keep forever)",
	}
	if r.DeletedBySource == nil {
		r.DeletedBySource = map[string]int{}
	}
	for i, day := range res.DroppedDays {
		r.DroppedDays[i] = day.String()
	}
	for _, err := range res.Errors {
		r.Errors = append(r.Errors, err.Error())
	}
	if res.Period > 0 {
		r.Retention = duration.Format(res.Period)
	}
	return r
}

func (s *Server) healthz(c echo.Context) error {
	return c.JSON(http.StatusOK, map[string]any{"status": "ok", "version": s.opts.Version})
}

func (s *Server) readyz(c echo.Context) error {
	ready, err := s.deps.Health.Ready()
	if err != nil {
		ready.Status, ready.Error = "not ready", err.Error()
		return c.JSON(http.StatusServiceUnavailable, ready)
	}
	ready.Status, ready.Error = "ready", ""
	if len(ready.IndexDamaged) > 0 || len(ready.StorageDamaged) > 0 {
		// Still 200: every answer stays exact (the damaged days are read
		// from storage), so taking the node out of a load balancer would
		// only move the load; the status and the list tell operators.
		// Damaged storage tables fail only the reads of their keys, with
		// an error saying to restore: the rest is served as before.
		ready.Status = "degraded"
	}
	return c.JSON(http.StatusOK, ready)
}

func (s *Server) stats(c echo.Context) error {
	deny, err := partialParam(c)
	if err != nil {
		return err
	}
	st, err := s.deps.Health.Stats(c.Request().Context())
	if err != nil {
		return err
	}
	if _, err := checkPartial(deny, st.MissingPeers); err != nil {
		return err
	}
	st.Partial = len(st.MissingPeers) > 0
	return c.JSON(http.StatusOK, st)
}

func (s *Server) backup(c echo.Context) error {
	since, err := uintParam(c, "since")
	if err != nil {
		return err
	}
	w := c.Response()
	started := false
	_, err = s.deps.Admin.Backup(c.Request().Context(), w, since, func(next uint64) {
		started = true
		w.Header().Set(echo.HeaderContentType, "application/octet-stream")
		w.Header().Set("Content-Disposition", `attachment; filename="logengine.backup"`)
		w.Header().Set("X-Backup-Version", strconv.FormatUint(next, 10))
		w.WriteHeader(http.StatusOK)
	})
	if err != nil && !started {
		return err
	}
	if err != nil {
		// The status is sent; the cut stream fails to load, which the
		// client sees, and the log says why.
		s.opts.Logger.Error("backup failed", "err", err)
	}
	return nil
}

func (s *Server) retention(c echo.Context) error {
	res, err := s.deps.Admin.Retention(c.Request().Context())
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, newRetentionResponse(res))
}

func (s *Server) reindex(c echo.Context) error {
	if err := s.deps.Admin.Reindex(c.Request().Context()); err != nil {
		return err
	}
	return c.JSON(http.StatusAccepted, map[string]string{"status": "reindexing"})
}

func uintParam(c echo.Context, name string) (uint64, error) {
	v := c.QueryParam(name)
	if v == "" {
		return 0, nil
	}
	n, err := strconv.ParseUint(v, 10, 64)
	if err != nil {
		return 0, errorf(http.StatusBadRequest, "%s=%q is not a non-negative integer", name, v)
	}
	return n, nil
}
