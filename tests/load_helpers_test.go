package tests

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Helpers for the crash, disk-full and overload tests. Unlike daemon.do
// they never call t.Fatal, so that the goroutines of concurrent clients may
// use them.

// newLoadClient returns a client of its own (connections are not shared
// with other tests or with a previous daemon) that keeps up to conns idle
// connections.
func newLoadClient(conns int) *http.Client {
	return &http.Client{Transport: &http.Transport{
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
		MaxIdleConns:        conns,
		MaxIdleConnsPerHost: conns,
		DisableCompression:  true,
	}}
}

// postResult is the outcome of one ingest request.
type postResult struct {
	code       int    // 0 when the request failed without an answer
	retryAfter string // the Retry-After header
	body       []byte
	answer     ingestAnswer // decoded when code is 200
	err        error        // transport error, or an undecodable 200
}

// postLogs sends one ingest request of contentType.
func postLogs(ctx context.Context, c *http.Client, url, contentType string, body []byte) postResult {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url+"/api/v1/logs", bytes.NewReader(body))
	if err != nil {
		return postResult{err: err}
	}
	req.Header.Set("Content-Type", contentType)
	resp, err := c.Do(req)
	if err != nil {
		return postResult{err: err}
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	r := postResult{code: resp.StatusCode, retryAfter: resp.Header.Get("Retry-After"), body: b}
	if err != nil {
		// The status arrived but not the whole answer: a 200 cannot be
		// trusted to be complete, so the caller treats it as unknown.
		r.code, r.err = 0, fmt.Errorf("read the answer: %w", err)
		return r
	}
	if r.code == http.StatusOK {
		if err := json.Unmarshal(b, &r.answer); err != nil {
			r.code, r.err = 0, fmt.Errorf("decode the answer %q: %w", b, err)
		}
	}
	return r
}

// aggregateAnswer is the answer of GET /api/v1/aggregate.
type aggregateAnswer struct {
	Buckets []struct {
		Key   any   `json:"key"`
		Count int64 `json:"count"`
	} `json:"buckets"`
	Total int64 `json:"total"`
	Other int64 `json:"other"`
}

// countsBy returns the number of entries per value of field (as printed by
// fmt.Sprint) among the entries matching q, and their total.
func (d *daemon) countsBy(q, field string) (map[string]int64, int64) {
	d.t.Helper()
	var a aggregateAnswer
	d.getJSON("/api/v1/aggregate?limit=10000&group_by="+url.QueryEscape(field)+"&q="+url.QueryEscape(q), &a)
	if a.Other != 0 {
		d.t.Fatalf("aggregate by %s: %d entries in groups past the limit of 10000", field, a.Other)
	}
	m := make(map[string]int64, len(a.Buckets))
	for _, b := range a.Buckets {
		m[fmt.Sprint(b.Key)] += b.Count
	}
	return m, a.Total
}

// readiness is the part of GET /readyz the tests read.
type readiness struct {
	Status       string `json:"status"`
	CommittedSeq uint64 `json:"committed_seq"`
	IndexLag     uint64 `json:"index_lag_entries"`
}

// alive reports whether the daemon process still runs.
func (d *daemon) alive() bool {
	select {
	case <-d.done:
		return false
	default:
		return true
	}
}

// peakRSS returns the peak resident set size (VmHWM) of a process, in bytes.
func peakRSS(pid int) (int64, error) {
	return procStatusKB(pid, "VmHWM:")
}

// currentRSS returns the resident set size (VmRSS) of a process, in bytes.
func currentRSS(pid int) (int64, error) {
	return procStatusKB(pid, "VmRSS:")
}

func procStatusKB(pid int, key string) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, key); ok {
			f := strings.Fields(v)
			if len(f) == 0 {
				break
			}
			kb, err := strconv.ParseInt(f[0], 10, 64)
			return kb << 10, err
		}
	}
	return 0, errors.New("no " + key + " in /proc/" + strconv.Itoa(pid) + "/status")
}

// envInt returns the integer in the environment variable name, or def when
// it is unset; a value that does not parse fails the test.
func envInt(t testing.TB, name string, def int) int {
	t.Helper()
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		t.Fatalf("%s=%q is not an integer", name, v)
	}
	return n
}

// poll calls f until it returns true or the timeout passes; it reports
// whether f succeeded.
func poll(timeout, every time.Duration, f func() bool) bool {
	deadline := time.Now().Add(timeout)
	for {
		if f() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(every)
	}
}

// mib formats bytes in MiB.
func mib(b int64) string { return fmt.Sprintf("%.0f MiB", float64(b)/(1<<20)) }

// scan returns every entry matching the query string params in pages of
// 10,000 (the largest page), following the cursor.
func (d *daemon) scan(params string) []entry {
	d.t.Helper()
	var out []entry
	cursor := ""
	for {
		p := "/api/v1/logs?limit=10000&" + params
		if cursor != "" {
			p += "&cursor=" + url.QueryEscape(cursor)
		}
		var pg page
		d.getJSON(p, &pg)
		out = append(out, pg.Logs...)
		if pg.NextCursor == "" {
			return out
		}
		cursor = pg.NextCursor
	}
}
