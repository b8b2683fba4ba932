package alerting

import (
	"sync/atomic"

	"github.com/logengine/logengine/internal/handoff"
	"github.com/logengine/logengine/storage"
)

// recent holds entries the ingest path committed and the evaluator has not
// evaluated yet (see handoff). Nothing is kept while no rule is enabled.
type recent struct {
	enabled atomic.Bool
	handoff.Ring[*storage.Entry]
}

// Committed hands the evaluator a batch the ingest path has just
// committed, so that it need not read the entries back. The entries must
// not change afterwards (the ingest service does not change them).
func (m *Manager) Committed(entries []storage.Entry) {
	if m.recent.enabled.Load() {
		m.recent.Put(entries, func(e *storage.Entry) (*storage.Entry, int) { return e, e.MemSize() })
	}
}
