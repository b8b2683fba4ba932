package alerting

import "sync/atomic"

// Stats are counters and gauges for the daemon's metrics.
type Stats struct {
	Rules, Enabled   int
	Pending, Firing  int
	MutedRules       int
	Transitions      uint64 // state changes since start
	Queued           uint64 // notifications queued since start (one per notifier)
	Delivered        uint64 // notifications delivered since start
	DeliveryFailures uint64 // failed attempts since start
	Dropped          uint64 // notifications given up since start
	EvalErrors       uint64 // periodic evaluations of a rule that failed
	OutboxItems      int    // notifications waiting (as of the worker's last look)
	EvaluatedSeq     uint64 // journal sequence evaluated on ingest
	// SeenForgotten counts patterns new_pattern rules forgot to stay
	// within their bound (Options.MaxSeenPatterns).
	SeenForgotten uint64
}

type counters struct {
	transitions, queued, delivered, failures, dropped, evalErrors, seenForgotten atomic.Uint64
}

// Stats returns the current counters.
func (m *Manager) Stats() Stats {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.now()
	s := Stats{
		Rules:            len(m.rules),
		Transitions:      m.stats.transitions.Load(),
		Queued:           m.stats.queued.Load(),
		Delivered:        m.stats.delivered.Load(),
		DeliveryFailures: m.stats.failures.Load(),
		Dropped:          m.stats.dropped.Load(),
		EvalErrors:       m.stats.evalErrors.Load(),
		SeenForgotten:    m.stats.seenForgotten.Load(),
		EvaluatedSeq:     m.evaluated.Load(),
		OutboxItems:      int(m.outboxDepth.Load()),
	}
	for id, r := range m.rules {
		if r.Enabled {
			s.Enabled++
		}
		rs := m.states[id]
		if rs == nil {
			continue
		}
		switch rs.State.State {
		case StatePending:
			s.Pending++
		case StateFiring:
			s.Firing++
		}
		if rs.Muted(now) {
			s.MutedRules++
		}
	}
	return s
}
