package storage

// # DESIGN: group commit
//
// A durable commit waits for an fsync (~0.8 ms on a virtio disk), and when
// each request paid for its own, many small clients (one log per request)
// waited for each other's fsyncs one by one: the rate did not grow with
// them. So one goroutine, the committer, owns the write path: Append hands
// it a request and waits; the committer takes the oldest request and every
// other one already waiting, writes them in as few transactions as
// maxCommitBytes allows (one, unless the group is large; a request is never
// split between commits), and acknowledges
// each request only after the commit that covers its last entry. Badger
// syncs each transaction's commit, so a group of one transaction costs one
// fsync. There is no timer: a lone client's request is committed at once,
// and the next group forms while the previous one syncs.
//
// Each request gets the answer of the commit that holds it. When a commit
// fails, its requests get its error, and the group's later requests, never
// written, are told they were not stored; the requests of earlier commits
// are durable and acknowledged. Each request is committed atomically
// (writeGroup), so a failed request was stored entirely or not at all, and
// a retry after a failure cannot store part of it twice: the answer the
// damaged-files work asked for instead of idempotency keys, which would
// need the client to send one and the store to keep every request's key
// and answer for a window. What a retry can still duplicate is a request
// that was committed but whose answer was lost (the daemon killed in
// between, or an fsync that failed after the commit): the same as any
// at-least-once shipper.

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/dgraph-io/badger/v4"
)

// CommitObserver receives one call per group commit: how many requests
// and entries it acknowledged (0 requests when it failed) and how long its
// writes and sync took. The daemon's metrics implement it.
type CommitObserver interface {
	ObserveCommit(requests, entries int, d time.Duration)
}

// appendReq is one Append waiting for the committer.
type appendReq struct {
	ctx     context.Context
	entries []Entry
	sizes   []int // MemSize of each entry
	size    int
	ids     []ID
	puts    []Put      // written with the request's entries
	err     error      // the request's answer, set by writeGroup
	done    chan error // buffered: the committer never waits on it
}

// maxGroupBytes bounds the entries of one group (by MemSize), so that a
// burst of large requests is committed in several groups instead of one
// that holds them all in memory at once.
const maxGroupBytes = 4 * maxCommitBytes

func (s *Store) runCommitter() {
	defer close(s.committerDone)
	for {
		var group []*appendReq
		select {
		case r := <-s.reqs:
			group = append(group, r)
		case <-s.stopCommit:
			for {
				select {
				case r := <-s.reqs:
					r.done <- ErrClosed
				default:
					return
				}
			}
		}
		size := group[0].size
	gather:
		for size < maxGroupBytes {
			select {
			case r := <-s.reqs:
				group = append(group, r)
				size += r.size
			default:
				break gather
			}
		}
		s.commitGroup(group)
	}
}

// commitGroup commits the requests of one group and answers each.
func (s *Store) commitGroup(group []*appendReq) {
	// A client that gave up while waiting is not written: it will not see
	// the acknowledgement, and may already be retrying.
	live := group[:0]
	for _, r := range group {
		if err := r.ctx.Err(); err != nil {
			r.done <- err
			continue
		}
		live = append(live, r)
	}
	// The disk-space guard comes before anything is written; requests
	// that would cross the reserve are refused, the others go on.
	n, size := 0, 0
	ok := live[:0]
	for _, r := range live {
		if err := s.checkDiskSpace(n+len(r.entries), size+r.size); err != nil {
			r.done <- err
			continue
		}
		n += len(r.entries)
		size += r.size
		ok = append(ok, r)
	}
	if len(ok) == 0 {
		return
	}
	start := time.Now()
	s.writeGroup(ok, n)
	if s.opts.Observer != nil {
		acked, entries := 0, 0
		for _, r := range ok {
			if r.err == nil {
				acked++
				entries += len(r.entries)
			}
		}
		s.opts.Observer.ObserveCommit(acked, entries, time.Since(start))
	}
	for _, r := range ok {
		r.done <- r.err
	}
}

// writeGroup writes the n entries of reqs, gives each request its IDs and
// sets each one's answer (appendReq.err). Commits hold whole requests, so
// that a request is stored entirely or not at all and a client's retry
// after an error cannot store part of it twice: requests are packed into
// commits of up to maxCommitBytes, and a request larger than that gets a
// commit of its own.
func (s *Store) writeGroup(reqs []*appendReq, n int) {
	var (
		entries []Entry
		sizes   []int
	)
	if len(reqs) == 1 {
		entries, sizes = reqs[0].entries, reqs[0].sizes
	} else {
		entries, sizes = make([]Entry, 0, n), make([]int, 0, n)
		for _, r := range reqs {
			entries = append(entries, r.entries...)
			sizes = append(sizes, r.sizes...)
		}
	}
	ids := make([]ID, n)
	at := 0
	for i := 0; i < len(reqs); {
		j, size, count := i, 0, 0
		for j < len(reqs) && (j == i || size+reqs[j].size <= maxCommitBytes) {
			size += reqs[j].size
			count += len(reqs[j].entries)
			j++
		}
		if err := s.commitWhole(entries[at:at+count], sizes[at:at+count], ids[at:at+count], reqs[i:j], putsOf(reqs[i:j])); err != nil {
			for _, r := range reqs[i:j] {
				if r.err == nil {
					r.err = err
				}
			}
			// The store is failing: what comes after is not written, and
			// its clients must know that nothing of it was stored.
			cause := err
			if f := (*syncFailure)(nil); errors.As(err, &f) {
				cause = f.err
			}
			for _, r := range reqs[j:] {
				r.err = fmt.Errorf("append: not stored, a write before it failed (send it again once the cause is mended): %w", cause)
			}
			break
		}
		at += count
		i = j
	}
	at = 0
	for _, r := range reqs {
		r.ids = ids[at : at+len(r.entries) : at+len(r.entries)]
		if len(reqs) > 1 && r.err == nil {
			for i := range r.entries {
				r.entries[i].ID = r.ids[i]
			}
		}
		at += len(r.entries)
	}
}

// putsOf gathers the puts of reqs, in request order.
func putsOf(reqs []*appendReq) []Put {
	var puts []Put
	for _, r := range reqs {
		puts = append(puts, r.puts...)
	}
	return puts
}

// commitWhole commits the entries of reqs and puts in one transaction.
// When Badger finds the transaction too big (a request of millions of tiny
// entries, or of entries with many distinct indexed values: its bounds
// are 15% of the memtable and 52,428 keys), it commits the requests one
// by one. A request that alone is too big is refused with ErrTooLarge when
// it has puts, which must be written with all of its entries; without
// puts it is committed in halves, and is then not atomic, which the log
// says.
func (s *Store) commitWhole(entries []Entry, sizes []int, ids []ID, reqs []*appendReq, puts []Put) error {
	if s.hookCommit != nil {
		if err := s.hookCommit(len(entries)); err != nil {
			return err
		}
	}
	err := s.commit(entries, ids, puts)
	if !errors.Is(err, badger.ErrTxnTooBig) {
		return err
	}
	if len(reqs) > 1 {
		at := 0
		for _, r := range reqs {
			k := len(r.entries)
			if err := s.commitWhole(entries[at:at+k], sizes[at:at+k], ids[at:at+k], []*appendReq{r}, r.puts); err != nil {
				return err
			}
			at += k
		}
		return nil
	}
	if len(reqs) == 1 && len(reqs[0].puts) > 0 {
		reqs[0].err = fmt.Errorf("append %d entries with %d records: %w (%v); store it in smaller parts", len(entries), len(reqs[0].puts), ErrTooLarge, err)
		return nil
	}
	if len(entries) < 2 {
		return err
	}
	if s.opts.Logger != nil && reqs != nil {
		s.opts.Logger.Warn("an append request is too large for one transaction: it is stored in parts, so a retry after a failure may store its first parts twice; send smaller requests",
			"entries", len(entries))
	}
	half := len(entries) / 2
	if err := s.commitWhole(entries[:half], sizes[:half], ids[:half], nil, nil); err != nil {
		return err
	}
	return s.commitWhole(entries[half:], sizes[half:], ids[half:], nil, puts)
}
