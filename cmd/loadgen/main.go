// Command loadgen sends realistic service logs to a logengine daemon as
// NDJSON batches from several concurrent clients and reports the rate the
// daemon acknowledged. With --pid it also reports the daemon's CPU time per
// log and peak memory, and with --data-dir the bytes on disk per log.
// --protocol sends the same logs as Elasticsearch bulk, Loki push (JSON or
// snappy protobuf), OTLP/HTTP (protobuf or JSON) or syslog (TCP or UDP, to
// --syslog-addr), to compare each protocol with native NDJSON.
//
//	go run ./cmd/loadgen --server http://127.0.0.1:8080 --total 2000000 --batch 1000 --concurrency 2 --pid $(pgrep -f 'logengine serve')
package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/logengine/logengine/internal/loggen"
)

func main() {
	var (
		server      = flag.String("server", "http://127.0.0.1:8080", "daemon URL")
		total       = flag.Int("total", 1000000, "logs to send")
		batch       = flag.Int("batch", 1000, "logs per request")
		concurrency = flag.Int("concurrency", 2, "concurrent clients")
		pool        = flag.Int("pool", 64, "distinct pre-generated batches (generation is not timed)")
		span        = flag.Duration("span", 24*time.Hour, "time span the logs' timestamps cover, ending now")
		pid         = flag.Int("pid", 0, "daemon process id, to report its CPU time per log and peak RSS")
		dataDir     = flag.String("data-dir", "", "daemon data directory, to report bytes on disk per log")
		apiKey      = flag.String("api-key", "", "ingest API key")
		wait        = flag.Bool("wait-indexed", false, "send ?wait=indexed (measures acknowledged-and-searchable rate)")
		proto       = flag.String("protocol", "ndjson", "how to send: "+protocolNames())
		syslogAddr  = flag.String("syslog-addr", "127.0.0.1:5514", "the daemon's syslog listener, for --protocol syslog-tcp or syslog-udp")
		rate        = flag.Int("rate", 0, "logs per second to offer, paced evenly (0: as fast as the daemon acknowledges)")
		watchLag    = flag.Bool("watch-lag", false, "sample the keyword index lag from /metrics while sending, and report its maximum and the time the index needs to catch up")
	)
	flag.Parse()
	p, ok := protocols[*proto]
	if !ok {
		fmt.Fprintf(os.Stderr, "loadgen: --protocol %q is not one of %s\n", *proto, protocolNames())
		os.Exit(2)
	}
	p.name, p.syslogAddr = *proto, *syslogAddr
	if p.stream && (*rate > 0 || *watchLag) {
		fmt.Fprintf(os.Stderr, "loadgen: --rate and --watch-lag work over HTTP only; use --protocol ndjson (or another HTTP protocol) with them, not %s\n", *proto)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	o := options{rate: *rate, watchLag: *watchLag}
	if err := run(ctx, *server, *total, *batch, *concurrency, *pool, *span, *pid, *dataDir, *apiKey, *wait, p, o); err != nil {
		fmt.Fprintln(os.Stderr, "loadgen:", err)
		os.Exit(1)
	}
}

// options are the HTTP path's pacing and observation.
type options struct {
	rate     int
	watchLag bool
}

func run(ctx context.Context, server string, total, batch, conc, pool int, span time.Duration, pid int, dataDir, key string, wait bool, p protocol, o options) error {
	g := loggen.New(1)
	nBatches := (total + batch - 1) / batch
	pool = min(pool, nBatches)
	end := time.Now()
	bodies := make([][]byte, pool)
	var bodyBytes int
	for i := range bodies {
		// Each pooled batch covers its own slice of the span, so the data
		// spreads over the days like real traffic.
		start := loggen.At(end.Add(-span), span, i, pool)
		bodies[i] = p.encode(generate(g, batch, start, span/time.Duration(pool)))
		bodyBytes += len(bodies[i])
	}
	fmt.Printf("sending %d logs as %s in %d batches of %d (%.0f bytes/log) from %d clients\n",
		nBatches*batch, p.name, nBatches, batch, float64(bodyBytes)/float64(pool*batch), conc)
	if p.stream {
		cpu0, _ := procCPU(pid)
		sent, stored, elapsed, err := sendSyslog(ctx, p.name, p.syslogAddr, server, key, bodies, nBatches, batch, conc)
		fmt.Printf("stored %d of %d logs in %s: %.0f logs/s, %.1f MB/s\n", stored, sent, elapsed.Round(time.Millisecond),
			float64(stored)/elapsed.Seconds(), float64(stored)*float64(bodyBytes)/float64(pool*batch)/elapsed.Seconds()/1e6)
		if cpu1, cerr := procCPU(pid); cerr == nil && stored > 0 {
			fmt.Printf("daemon CPU: %.1f µs per log (%.2f cores busy)\n", (cpu1-cpu0).Seconds()*1e6/float64(stored), (cpu1-cpu0).Seconds()/elapsed.Seconds())
		}
		return err
	}

	url := strings.TrimRight(server, "/") + p.path
	if wait {
		url += "?wait=indexed"
	}
	cpu0, _ := procCPU(pid)
	var next, sent, throttled, failed atomic.Int64
	var mu sync.Mutex
	var lat []time.Duration
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: conc}}
	start := time.Now()
	lagDone := make(chan lagReport, 1)
	stopLag := make(chan struct{})
	if o.watchLag {
		go func() { lagDone <- watchIndexLag(ctx, client, server, key, stopLag) }()
	}
	var wg sync.WaitGroup
	for c := 0; c < conc; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				i := next.Add(1) - 1
				if i >= int64(nBatches) {
					return
				}
				body := bodies[i%int64(pool)]
				if o.rate > 0 {
					// Batch i is due when the rate has offered i batches.
					due := start.Add(time.Duration(float64(i*int64(batch)) / float64(o.rate) * float64(time.Second)))
					if d := time.Until(due); d > 0 {
						select {
						case <-time.After(d):
						case <-ctx.Done():
							return
						}
					}
				}
				for {
					t0 := time.Now()
					code, err := post(ctx, client, url, key, p.contentType, body)
					if err != nil {
						failed.Add(1)
						return
					}
					if code == http.StatusTooManyRequests || code == http.StatusServiceUnavailable {
						throttled.Add(1)
						time.Sleep(50 * time.Millisecond)
						continue
					}
					if code != http.StatusOK && code != http.StatusNoContent {
						failed.Add(1)
						return
					}
					mu.Lock()
					lat = append(lat, time.Since(t0))
					mu.Unlock()
					sent.Add(int64(batch))
					break
				}
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	n := sent.Load()
	fmt.Printf("acknowledged %d logs in %s: %.0f logs/s, %.1f MB/s\n", n, elapsed.Round(time.Millisecond),
		float64(n)/elapsed.Seconds(), float64(n)*float64(bodyBytes)/float64(pool*batch)/elapsed.Seconds()/1e6)
	if len(lat) > 0 {
		slices.Sort(lat)
		fmt.Printf("request latency p50 %s p99 %s max %s\n", lat[len(lat)/2].Round(time.Microsecond),
			lat[len(lat)*99/100].Round(time.Microsecond), lat[len(lat)-1].Round(time.Microsecond))
	}
	fmt.Printf("429/503 answers: %d, failed requests: %d\n", throttled.Load(), failed.Load())
	// The daemon's CPU is read after the index caught up, so it counts all
	// the work for these logs; cores busy is over the same span.
	busy := elapsed
	if o.watchLag {
		close(stopLag)
		r := <-lagDone
		busy += r.catchUp
		fmt.Printf("keyword index lag while sending: max %.2f s, mean %.2f s over %d samples; caught up %s after the last acknowledgement\n",
			r.max, r.mean, r.samples, r.catchUp.Round(time.Millisecond))
	}
	if pid > 0 {
		cpu1, err := procCPU(pid)
		if err == nil && n > 0 {
			fmt.Printf("daemon CPU: %.1f µs per log (%.2f cores busy)\n", (cpu1-cpu0).Seconds()*1e6/float64(n), (cpu1-cpu0).Seconds()/busy.Seconds())
		}
		if hwm, err := procPeakRSS(pid); err == nil {
			fmt.Printf("daemon peak RSS: %.0f MiB\n", float64(hwm)/(1<<20))
		}
	}
	if dataDir != "" && n > 0 {
		size := dirSize(filepath.Join(dataDir, "db"))
		fmt.Printf("Badger on disk: %.0f bytes per log (%d MiB for %d logs acknowledged in this run; includes earlier data)\n",
			float64(size)/float64(n), size>>20, n)
	}
	if failed.Load() > 0 {
		return errors.New("some requests failed")
	}
	return nil
}

type lagReport struct {
	max, mean float64
	samples   int
	catchUp   time.Duration
}

// watchIndexLag samples logengine_index_lag_seconds every 250 ms until stop
// is closed, then waits for logengine_index_lag_entries to reach zero.
func watchIndexLag(ctx context.Context, client *http.Client, server, key string, stop <-chan struct{}) lagReport {
	var r lagReport
	var sum float64
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return r
		case <-stop:
			if r.samples > 0 {
				r.mean = sum / float64(r.samples)
			}
			t0 := time.Now()
			for ctx.Err() == nil {
				n, err := metric(ctx, client, server, key, "logengine_index_lag_entries")
				if err != nil || n == 0 {
					break
				}
				time.Sleep(50 * time.Millisecond)
			}
			r.catchUp = time.Since(t0)
			return r
		case <-tick.C:
			if v, err := metric(ctx, client, server, key, "logengine_index_lag_seconds"); err == nil {
				r.max = max(r.max, v)
				sum += v
				r.samples++
			}
		}
	}
}

func post(ctx context.Context, c *http.Client, url, key, contentType string, body []byte) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", contentType)
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	resp, err := c.Do(req)
	if err != nil {
		return 0, err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, nil
}

// procCPU returns the user+system CPU time of a process from /proc.
func procCPU(pid int) (time.Duration, error) {
	if pid <= 0 {
		return 0, errors.New("no pid")
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// Fields after the command name, which is in parentheses.
	f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+2:]))
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	const ticks = 100 // USER_HZ on Linux
	return time.Duration(ut+st) * time.Second / ticks, nil
}

func procPeakRSS(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, _ := strconv.ParseInt(strings.Fields(v)[0], 10, 64)
			return kb << 10, nil
		}
	}
	return 0, errors.New("no VmHWM")
}

func dirSize(dir string) int64 {
	var n int64
	_ = filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			if info, err := d.Info(); err == nil {
				// Allocated blocks, not the apparent size: Badger's
				// value-log files are preallocated sparse files.
				if st, ok := info.Sys().(*syscall.Stat_t); ok {
					n += st.Blocks * 512
				} else {
					n += info.Size()
				}
			}
		}
		return nil
	})
	return n
}
