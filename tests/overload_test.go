package tests

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// overloadMaxAnon and overloadMaxRSS bound the daemon's memory under
// overload. What it legitimately holds under a write-only overload:
// Badger's memtables (at most three arenas of 128 MiB on the Go heap), the
// requests admitted to the write path (each its body, the decoded entries
// and their encoding: about four times the body), the keyword indexer's
// batch and handoff ring and Badger's block cache (filled by reads, which
// this load barely does); 400-470 MiB live when measured. Go's collector
// lets the heap reach twice what is live before it collects, but no more
// than the daemon's soft memory limit (1 GiB by default): that bounds the
// anonymous memory (heap and stacks, sampled every 250 ms). RSS also counts
// the touched pages of Badger's and Bleve's memory-mapped files (100-150 MiB
// here), which the kernel can reclaim: the peak RSS (VmHWM) is bounded by
// the limit plus 256 MiB for them. Requests past capacity must be refused
// before their bodies are read: when each waiting request holds its body
// and decoded entries, memory grows with the number of clients, without
// bound.
const (
	overloadMaxAnon = 1 << 30
	overloadMaxRSS  = overloadMaxAnon + 256<<20
)

// TestOverload sends more than the daemon can take: many clients, each
// sending large NDJSON batches back to back and retrying quickly after a
// 429 instead of honouring Retry-After. The daemon must answer some of them
// 429 with a Retry-After, never lose an acknowledged entry nor keep any of a
// refused batch, and keep its memory under overloadMaxAnon and overloadMaxRSS.
//
// LOGENGINE_OVERLOAD_CLIENTS (default 128), LOGENGINE_OVERLOAD_BATCH
// (entries per request, default 5000) and LOGENGINE_OVERLOAD_SECONDS (default
// 10) change the load.
func TestOverload(t *testing.T) {
	if testing.Short() {
		t.Skip("overload: skipped with -short")
	}
	clients := envInt(t, "LOGENGINE_OVERLOAD_CLIENTS", 128)
	batch := envInt(t, "LOGENGINE_OVERLOAD_BATCH", 5000)
	seconds := envInt(t, "LOGENGINE_OVERLOAD_SECONDS", 10)

	// batch is an indexed field, so that counting the entries of each
	// batch afterwards reads posting lists instead of every entry.
	d := startDaemon(t, t.TempDir(), "--indexed-fields", "batch")
	pid := d.cmd.Process.Pid
	rss0, _ := currentRSS(pid)

	// Sample the RSS while the load runs, for the log.
	var samples []int64
	var peakAnon int64
	sampled := make(chan struct{})
	stopSampling := make(chan struct{})
	go func() {
		defer close(sampled)
		tick := time.NewTicker(250 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stopSampling:
				return
			case <-tick.C:
				if rss, err := currentRSS(pid); err == nil {
					samples = append(samples, rss)
				}
				if anon, err := procStatusKB(pid, "RssAnon:"); err == nil {
					peakAnon = max(peakAnon, anon)
				}
			}
		}
	}()

	ol := &overloader{url: d.url, batch: batch, client: newLoadClient(clients), outcome: map[string]int{}}
	defer ol.client.CloseIdleConnections()
	start := time.Now()
	ol.run(clients, time.Duration(seconds)*time.Second)
	elapsed := time.Since(start)
	close(stopSampling)
	<-sampled

	if !d.alive() {
		t.Fatalf("the daemon died under overload:\n%s", crashExcerpt(d.logs()))
	}
	peak, err := peakRSS(pid)
	if err != nil {
		t.Fatal(err)
	}
	acked := ol.count("acked")
	t.Logf("%d clients × %d-entry batches (%s each) for %s: %d batches acknowledged (%.0f entries/s), %d answered 429, %d 503, %d failed without an answer",
		clients, batch, mib(int64(ol.bodyBytes.Load()/max(1, ol.sent.Load()))), elapsed.Round(time.Millisecond),
		acked, float64(acked*batch)/elapsed.Seconds(), ol.count("429"), ol.count("503"), ol.count("unknown"))
	anon, _ := procStatusKB(pid, "RssAnon:")
	file, _ := procStatusKB(pid, "RssFile:")
	t.Logf("daemon RSS: %s at start, peak %s (bound %s), peak anonymous %s (bound %s), at the end %s anonymous + %s file-backed (mapped Badger and Bleve files); samples every 250 ms: %s",
		mib(rss0), mib(peak), mib(overloadMaxRSS), mib(peakAnon), mib(overloadMaxAnon), mib(anon), mib(file), rssCurve(samples))
	if ol.err != nil {
		t.Error(ol.err)
	}
	if ol.count("429") == 0 {
		t.Errorf("no request was answered 429: the load did not exceed capacity (raise LOGENGINE_OVERLOAD_CLIENTS)")
	}
	if ol.badRetryAfter != "" {
		t.Errorf("a 429 came with Retry-After %q, want a positive number of seconds", ol.badRetryAfter)
	}
	if peak > overloadMaxRSS {
		t.Errorf("peak RSS %s under overload, more than the bound of %s", mib(peak), mib(overloadMaxRSS))
	}
	if peakAnon == 0 || peakAnon > overloadMaxAnon {
		t.Errorf("peak anonymous memory %s under overload, want some and at most %s", mib(peakAnon), mib(overloadMaxAnon))
	}

	// What is stored: exactly the acknowledged batches, nothing of a
	// refused one, all or nothing of one whose request failed.
	counts, total := d.countsBy("", "batch")
	var missing, refusedStored, partial []string
	for id, how := range ol.batches() {
		n := counts[id]
		switch {
		case how == "acked" && n != int64(batch):
			missing = append(missing, fmt.Sprintf("%s: %d of %d", id, n, batch))
		case (how == "429" || how == "503") && n != 0:
			refusedStored = append(refusedStored, fmt.Sprintf("%s (%s): %d", id, how, n))
		case how == "unknown" && n != 0 && n != int64(batch):
			partial = append(partial, fmt.Sprintf("%s: %d of %d", id, n, batch))
		}
		delete(counts, id)
	}
	for _, list := range []struct {
		what string
		ids  []string
	}{
		{"acknowledged batches not stored exactly once", missing},
		{"refused batches with entries stored", refusedStored},
		{"batches whose request failed stored in part or more than once", partial},
	} {
		if len(list.ids) > 0 {
			t.Errorf("%d %s, for example %v", len(list.ids), list.what, list.ids[:min(10, len(list.ids))])
		}
	}
	if len(counts) > 0 {
		t.Errorf("%d batches stored that no client sent: %v", len(counts), counts)
	}
	var ready readiness
	d.getJSON("/readyz", &ready)
	if int64(ready.CommittedSeq) != total {
		t.Errorf("committed sequence %d, but %d entries stored", ready.CommittedSeq, total)
	}

	// A sample of acknowledged batches, entry by entry.
	for _, id := range ol.sample("acked", 3) {
		seen := map[string]int{}
		for _, e := range d.scan("q=" + url.QueryEscape("batch:"+id)) {
			mid, _ := e.Fields["mid"].(string)
			seen[mid]++
		}
		for i := 0; i < batch; i++ {
			if mid := fmt.Sprintf("%s_%05d", id, i); seen[mid] != 1 {
				t.Errorf("acknowledged entry %s present %d times", mid, seen[mid])
				break
			}
		}
	}
	t.Logf("%d entries stored, %d acknowledged, checked per batch", total, acked*batch)
	d.stop()
}

// overloader runs the clients of TestOverload.
type overloader struct {
	url    string
	batch  int
	client *http.Client

	next      atomic.Int64 // the number of the next batch
	sent      atomic.Int64
	bodyBytes atomic.Int64

	mu            sync.Mutex
	outcome       map[string]int // batch id -> index into outcomes; guarded by mu
	badRetryAfter string         // guarded by mu
	err           error          // guarded by mu
}

var outcomes = []string{"acked", "429", "503", "unknown"}

// run sends from n clients until d has passed, then waits for the requests
// in flight (each bounded to a minute).
func (o *overloader) run(n int, d time.Duration) {
	// Bodies are made in advance, so that the clients spend the two
	// cores' time on sending, not on formatting JSON.
	templates := make([][]byte, min(n, 16))
	for i := range templates {
		templates[i] = overloadBatch(rand.New(rand.NewPCG(uint64(i), 8)), overloadPlaceholder, o.batch)
	}
	deadline := time.Now().Add(d)
	var wg sync.WaitGroup
	for c := 0; c < n; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(c), 7))
			tmpl := templates[c%len(templates)]
			for time.Now().Before(deadline) {
				id := fmt.Sprintf("b%06d", o.next.Add(1))
				body := bytes.ReplaceAll(tmpl, []byte(overloadPlaceholder), []byte(id))
				ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
				r := postLogs(ctx, o.client, o.url, "application/x-ndjson", body)
				cancel()
				o.sent.Add(1)
				o.bodyBytes.Add(int64(len(body)))
				if !o.record(id, r) {
					return
				}
				if r.code == http.StatusTooManyRequests || r.code == http.StatusServiceUnavailable {
					// An impatient client: far sooner than Retry-After.
					time.Sleep(time.Duration(20+rng.IntN(60)) * time.Millisecond)
				}
			}
		}()
	}
	wg.Wait()
}

// record files the outcome of batch id and reports whether to go on.
func (o *overloader) record(id string, r postResult) bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	switch {
	case r.code == http.StatusOK && r.answer.Accepted == o.batch && r.answer.Rejected == 0:
		o.outcome[id] = 0
	case r.code == http.StatusTooManyRequests:
		o.outcome[id] = 1
		if s, err := strconv.Atoi(r.retryAfter); err != nil || s <= 0 {
			o.badRetryAfter = r.retryAfter
		}
	case r.code == http.StatusServiceUnavailable:
		o.outcome[id] = 2
	case r.code == 0:
		// A client still sending its body when the daemon answers 429
		// and closes the connection may see the write fail instead of
		// the answer; that batch is not stored (checked below). A
		// request that gets no answer in a minute is a hang.
		o.outcome[id] = 3
		if errors.Is(r.err, context.DeadlineExceeded) && o.err == nil {
			o.err = fmt.Errorf("a request got no answer within a minute: %v", r.err)
		}
	default:
		o.outcome[id] = 3
		if o.err == nil {
			o.err = fmt.Errorf("a batch of %d valid entries answered %d %.300s", o.batch, r.code, r.body)
		}
		return false
	}
	return true
}

func (o *overloader) count(what string) int {
	o.mu.Lock()
	defer o.mu.Unlock()
	n := 0
	for _, i := range o.outcome {
		if outcomes[i] == what {
			n++
		}
	}
	return n
}

func (o *overloader) batches() map[string]string {
	o.mu.Lock()
	defer o.mu.Unlock()
	m := make(map[string]string, len(o.outcome))
	for id, i := range o.outcome {
		m[id] = outcomes[i]
	}
	return m
}

// sample returns up to n batch ids with the given outcome.
func (o *overloader) sample(what string, n int) []string {
	var ids []string
	for id, how := range o.batches() {
		if how == what && len(ids) < n {
			ids = append(ids, id)
		}
	}
	return ids
}

// overloadPlaceholder stands for the batch id in a prepared body; it has
// the length of the ids.
const overloadPlaceholder = "b??????"

// overloadBatch returns n NDJSON entries of batch id, each with its own
// message id; about 220 bytes an entry, like the logs of a web service.
func overloadBatch(rng *rand.Rand, id string, n int) []byte {
	var b strings.Builder
	b.Grow(n * 240)
	now := time.Now().UTC()
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, `{"timestamp":"%s","level":"%s","source":"api","message":"%s /api/v1/orders/%d %d %dms user=u%d","batch":"%s","mid":"%s_%05d","host":"web-%d"}`+"\n",
			now.Add(-time.Duration(rng.Int64N(int64(time.Hour)))).Format(time.RFC3339Nano),
			crashLevels[rng.IntN(len(crashLevels))], []string{"GET", "POST", "PUT"}[rng.IntN(3)],
			rng.IntN(100000), []int{200, 200, 201, 404, 500}[rng.IntN(5)], rng.IntN(900), rng.IntN(5000),
			id, id, i, rng.IntN(16))
	}
	return []byte(b.String())
}

// rssCurve prints RSS samples in MiB, at most 40 of them.
func rssCurve(samples []int64) string {
	step := max(1, (len(samples)+39)/40)
	var parts []string
	for i := 0; i < len(samples); i += step {
		parts = append(parts, strconv.FormatInt(samples[i]>>20, 10))
	}
	return strings.Join(parts, " ")
}
