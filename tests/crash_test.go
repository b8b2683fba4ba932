package tests

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestCrashLoop runs rounds of concurrent ingest from 20 clients (four
// sending batches, 16 one log per request), kills
// the daemon with SIGKILL at a random moment of each round and restarts it
// on the same data directory (one round in four it is killed once more
// while it recovers). After every restart:
//
//   - every entry of every batch answered 200 is stored exactly once, and
//     the entries of batches whose request failed are stored at most once;
//   - the keyword index catches up and finds all of the round's entries by
//     a word unique to the round, the same ones storage counts;
//   - the earlier rounds still hold exactly what they held, and the total
//     equals the committed sequence.
//
// LOGENGINE_CRASH_ROUNDS sets the number of rounds (default 12),
// LOGENGINE_CRASH_SEED replays the same kill moments and batch sizes.
func TestCrashLoop(t *testing.T) {
	if testing.Short() {
		t.Skip("crash loop: skipped with -short")
	}
	rounds := envInt(t, "LOGENGINE_CRASH_ROUNDS", 12)
	seed := envInt(t, "LOGENGINE_CRASH_SEED", int(time.Now().UnixNano()%1e9))
	rng := rand.New(rand.NewPCG(uint64(seed), 1))
	t.Logf("%d rounds, seed %d (LOGENGINE_CRASH_ROUNDS, LOGENGINE_CRASH_SEED)", rounds, seed)

	dataDir := t.TempDir()
	start := time.Now()
	d := startDaemon(t, dataDir)
	verified := map[int]map[string]bool{} // round -> message ids stored
	var acked, unknown, unknownStored int
	for r := 0; r < rounds; r++ {
		// Up to 1.2 s of ingest, so that the kill falls anywhere: before
		// the first commit, amid group commits, while the indexer runs.
		killAfter := time.Duration(rng.Int64N(int64(1200 * time.Millisecond)))
		res := startCrashClients(d.url, r, rng.Uint64())
		time.Sleep(killAfter)
		d.kill()
		res.stop()
		if res.err != nil {
			t.Fatalf("round %d: %v", r, res.err)
		}

		d = startDaemon(t, dataDir)
		// One round in four kills it again while it recovers (the
		// keyword indexer catching up from its checkpoint), before
		// anything is checked.
		again := ""
		if rng.IntN(4) == 0 {
			wait := time.Duration(rng.Int64N(int64(300 * time.Millisecond)))
			time.Sleep(wait)
			d.kill()
			d = startDaemon(t, dataDir)
			again = fmt.Sprintf(", again %dms into recovery", wait.Milliseconds())
		}
		stored := checkCrashRound(t, d, r, res)
		verified[r] = stored
		acked += len(res.acked)
		unknown += len(res.unknown)
		for id := range res.unknown {
			if stored[id] {
				unknownStored++
			}
		}
		checkEarlierRounds(t, d, verified)
		t.Logf("round %2d: killed after %4dms%s; %6d acknowledged, %5d in failed requests (%d of them stored); %7d entries in total",
			r, killAfter.Milliseconds(), again, len(res.acked), len(res.unknown), len(stored)-len(res.acked), totalOf(verified))
		if t.Failed() {
			t.FailNow()
		}
	}

	// Once more at the end, every round's message ids by their word: each
	// round's set is exactly what was verified after its own restart.
	for r, want := range verified {
		got := crashRoundIDs(t, d, r)
		if len(got) != len(want) {
			t.Errorf("at the end round %d has %d entries, had %d", r, len(got), len(want))
			continue
		}
		for id := range want {
			if got[id] != 1 {
				t.Errorf("at the end round %d: message id %s present %d times", r, id, got[id])
				break
			}
		}
	}
	d.stop()
	t.Logf("survived %d kill -9 rounds in %s: %d entries acknowledged, %d in failed requests (%d of those stored); "+
		"%d stored entries checked by message id after their round's restart and again at the end",
		rounds, time.Since(start).Round(time.Second), acked, unknown, unknownStored, totalOf(verified))
}

// crashClients are the clients of one round.
type crashClients struct {
	cancel context.CancelFunc
	client *http.Client
	wg     sync.WaitGroup
	mu     sync.Mutex
	acked  map[string]bool // message ids of batches answered 200; guarded by mu
	// unknown holds the message ids of batches whose request failed: they
	// may be stored, but at most once. Guarded by mu.
	unknown map[string]bool
	err     error // an answer the contract forbids; guarded by mu
}

// Clients of one crash round: batchClients send NDJSON batches of random
// sizes, oneLogClients one log per request, so that kills land amid group
// commits that share a sync between many requests.
const (
	batchClients  = 4
	oneLogClients = 16
)

// startCrashClients starts the clients of one round; they send to url until
// the daemon dies or stop is called.
func startCrashClients(url string, round int, seed uint64) *crashClients {
	ctx, cancel := context.WithCancel(context.Background())
	cc := &crashClients{cancel: cancel, client: newLoadClient(batchClients + oneLogClients), acked: map[string]bool{}, unknown: map[string]bool{}}
	for c := 0; c < batchClients+oneLogClients; c++ {
		cc.wg.Add(1)
		go func() {
			defer cc.wg.Done()
			rng := rand.New(rand.NewPCG(seed, uint64(c)))
			var b strings.Builder
			for n := 0; ctx.Err() == nil; {
				size := 20 + rng.IntN(380)
				if c >= batchClients {
					size = 1
				}
				ids := make([]string, size)
				b.Reset()
				now := time.Now()
				for i := range ids {
					ids[i] = fmt.Sprintf("m%02dc%dn%06d", round, c, n)
					n++
					writeCrashEntry(&b, rng, now, round, c, ids[i])
				}
				r := postLogs(ctx, cc.client, url, "application/x-ndjson", []byte(b.String()))
				if !cc.record(r, ids) {
					return
				}
			}
		}()
	}
	return cc
}

// record files the batch of ids under the answer r and reports whether the
// client should go on.
func (cc *crashClients) record(r postResult, ids []string) bool {
	cc.mu.Lock()
	defer cc.mu.Unlock()
	switch {
	case r.code == http.StatusOK && r.answer.Accepted == len(ids) && r.answer.Rejected == 0:
		for _, id := range ids {
			cc.acked[id] = true
		}
		return true
	case r.code == http.StatusOK:
		cc.err = fmt.Errorf("a batch of %d valid entries answered 200 with %+v", len(ids), r.answer)
		return false
	case r.code == http.StatusTooManyRequests || r.code == http.StatusServiceUnavailable || r.code == 0:
		for _, id := range ids {
			cc.unknown[id] = true
		}
		return r.code != 0 // no answer: the daemon is gone
	default:
		cc.err = fmt.Errorf("a batch of %d valid entries answered %d %s", len(ids), r.code, r.body)
		return false
	}
}

// stop ends the clients (after the kill, so that it hits requests in
// flight) and waits for them.
func (cc *crashClients) stop() {
	cc.cancel()
	cc.wg.Wait()
	cc.client.CloseIdleConnections()
}

var crashWords = strings.Fields("request served user login cache miss upstream timeout retry payment " +
	"accepted order shipped disk latency connection reset refused handshake queue worker job done")

var crashLevels = []string{"debug", "info", "info", "info", "warn", "error"}

// writeCrashEntry appends one NDJSON line: a few words, the message id and
// the round's word in the message, the id and round also as fields, and a
// timestamp within the last two days (so that several day shards are in
// play).
func writeCrashEntry(b *strings.Builder, rng *rand.Rand, now time.Time, round, client int, id string) {
	ts := now.Add(-time.Duration(rng.Int64N(int64(48 * time.Hour))))
	b.WriteString(`{"timestamp":"`)
	b.WriteString(ts.UTC().Format(time.RFC3339Nano))
	fmt.Fprintf(b, `","level":"%s","source":"svc%d","message":"`, crashLevels[rng.IntN(len(crashLevels))], client)
	for i := 0; i < 4; i++ {
		b.WriteString(crashWords[rng.IntN(len(crashWords))])
		b.WriteByte(' ')
	}
	fmt.Fprintf(b, `id=%s %s","mid":"%s","round":%d,"host":"web-%d"}`+"\n", id, crashRoundWord(round), id, round, rng.IntN(8))
}

// crashRoundWord is a word that only the messages of one round contain.
func crashRoundWord(round int) string { return fmt.Sprintf("crashround%03d", round) }

// crashRoundIDs searches the keyword index (waiting until it has caught up
// with everything stored) for the round's word and counts each message id.
func crashRoundIDs(t *testing.T, d *daemon, round int) map[string]int {
	t.Helper()
	got := map[string]int{}
	for _, e := range d.scan("wait=indexed&q=" + url.QueryEscape(crashRoundWord(round))) {
		id, _ := e.Fields["mid"].(string)
		if !strings.Contains(e.Message, crashRoundWord(round)) {
			t.Errorf("round %d: search for %s found %q", round, crashRoundWord(round), e.Message)
		}
		got[id]++
	}
	return got
}

// checkCrashRound checks the round's entries after the restart and returns
// the message ids stored.
func checkCrashRound(t *testing.T, d *daemon, round int, res *crashClients) map[string]bool {
	t.Helper()
	got := crashRoundIDs(t, d, round)
	stored := make(map[string]bool, len(got))
	var missing, twice, strangers []string
	for id, n := range got {
		stored[id] = true
		if n > 1 {
			twice = append(twice, fmt.Sprintf("%s×%d", id, n))
		}
		if !res.acked[id] && !res.unknown[id] {
			strangers = append(strangers, id)
		}
	}
	for id := range res.acked {
		if got[id] == 0 {
			missing = append(missing, id)
		}
	}
	report := func(what string, ids []string) {
		if len(ids) > 0 {
			slices.Sort(ids)
			t.Errorf("round %d: %d %s, for example %v", round, len(ids), what, ids[:min(len(ids), 10)])
		}
	}
	report("acknowledged entries missing (or not found by their word)", missing)
	report("entries stored more than once", twice)
	report("entries that no client sent in this round", strangers)
	return stored
}

// checkEarlierRounds compares what storage counts per round (an aggregation
// that does not use the keyword index) with what was verified, and the
// total with the committed sequence.
func checkEarlierRounds(t *testing.T, d *daemon, verified map[int]map[string]bool) {
	t.Helper()
	counts, total := d.countsBy("", "round")
	for r, ids := range verified {
		if n := counts[fmt.Sprint(r)]; n != int64(len(ids)) {
			t.Errorf("storage holds %d entries of round %d, the keyword index found %d", n, r, len(ids))
		}
	}
	if want := int64(totalOf(verified)); total != want {
		t.Errorf("storage holds %d entries in total, want %d", total, want)
	}
	var ready readiness
	d.getJSON("/readyz", &ready)
	if int64(ready.CommittedSeq) != total {
		t.Errorf("committed sequence %d, but %d entries stored", ready.CommittedSeq, total)
	}
}

func totalOf(verified map[int]map[string]bool) int {
	n := 0
	for _, ids := range verified {
		n += len(ids)
	}
	return n
}
