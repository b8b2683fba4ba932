package tests

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
)

// The web UI tests drive the page in Debian's headless Chromium: search,
// histogram, rows, live tail, alert rules, the API key prompt, and a
// measure of load time and of responsiveness with 10,000 rows. They skip
// when Chromium is not installed. On failure a screenshot is written to
// $LOGENGINE_TEST_ARTIFACTS (default: logengine-webui-artifacts in the
// temporary directory) and its path logged.

// chromiumPath finds the browser, or skips the test.
func chromiumPath(t testing.TB) string {
	t.Helper()
	for _, p := range []string{os.Getenv("LOGENGINE_CHROMIUM"), "/usr/bin/chromium"} {
		if p == "" {
			continue
		}
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	if p, err := exec.LookPath("chromium"); err == nil {
		return p
	}
	t.Skip("chromium is not installed (Debian package chromium)")
	return ""
}

// browser is one headless Chromium with one tab.
type browser struct {
	t   *testing.T
	ctx context.Context

	mu      sync.Mutex
	console []string // every console message, for the log on failure
	errors  []string // uncaught exceptions and policy violations
}

// newBrowser starts Chromium so that it makes no outside connection: a new
// empty profile, no background networking, component updates, sync or
// QUIC, and no sandbox (the tests run as root).
func newBrowser(t *testing.T) *browser {
	t.Helper()
	path := chromiumPath(t)
	profile := t.TempDir()
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(path),
		chromedp.UserDataDir(profile),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-default-apps", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.Flag("disable-breakpad", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("no-pings", true),
		chromedp.Flag("metrics-recording-only", true),
		chromedp.Flag("password-store", "basic"),
		chromedp.WindowSize(1440, 900),
	}
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelCtx := chromedp.NewContext(allocCtx, chromedp.WithErrorf(func(string, ...any) {}))
	t.Cleanup(func() {
		cancelCtx()
		cancelAlloc()
	})
	b := &browser{t: t, ctx: ctx}
	// The first action starts the browser, which lives as long as the
	// context of that action: it must be ctx itself, not a timeout of it.
	started := time.AfterFunc(60*time.Second, cancelCtx)
	err := chromedp.Do(ctx, chromedp.Navigate("about:blank"))
	started.Stop()
	if err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	go func() {
		for m, err := range chromedp.Console(ctx) {
			if err != nil {
				return
			}
			line := fmt.Sprintf("[%s] %s", m.Type, m.Text)
			if m.URL != "" {
				line += fmt.Sprintf(" (%s:%d)", m.URL, m.Line+1)
			}
			b.mu.Lock()
			b.console = append(b.console, line)
			if m.IsException() || m.Source == "security" {
				b.errors = append(b.errors, line)
			}
			b.mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		b.mu.Lock()
		defer b.mu.Unlock()
		if t.Failed() && len(b.console) > 0 {
			t.Logf("browser console:\n%s", strings.Join(b.console, "\n"))
		}
	})
	return b
}

// checkNoErrors fails the test if the page threw or broke its policy.
func (b *browser) checkNoErrors() {
	b.t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.errors) > 0 {
		b.t.Errorf("the page reported errors:\n%s", strings.Join(b.errors, "\n"))
		b.errors = nil
	}
}

// fail saves a screenshot and ends the test.
func (b *browser) fail(format string, args ...any) {
	b.t.Helper()
	b.screenshot("failure")
	b.t.Fatalf(format, args...)
}

func (b *browser) screenshot(what string) {
	b.t.Helper()
	dir := os.Getenv("LOGENGINE_TEST_ARTIFACTS")
	if dir == "" {
		dir = filepath.Join(os.TempDir(), "logengine-webui-artifacts")
	}
	ctx, cancel := context.WithTimeout(b.ctx, 15*time.Second)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		b.t.Logf("screenshot: %v", err)
		return
	}
	name := regexp.MustCompile(`[^A-Za-z0-9_.-]+`).ReplaceAllString(b.t.Name()+"-"+what, "_") + ".png"
	if err := os.MkdirAll(dir, 0o755); err != nil {
		b.t.Logf("screenshot: %v", err)
		return
	}
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, png, 0o644); err != nil {
		b.t.Logf("screenshot: %v", err)
		return
	}
	b.t.Logf("screenshot saved: %s", p)
}

// do runs actions, failing the test on error.
func (b *browser) do(what string, actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		b.fail("%s: %v", what, err)
	}
}

// eval evaluates a JavaScript expression (awaiting a promise) and decodes
// its JSON value into v.
func (b *browser) eval(expr string, v any) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 60*time.Second)
	defer cancel()
	raw, err := chromedp.Run(ctx, chromedp.Evaluate[[]byte](expr, chromedp.EvalAwaitPromise))
	if err != nil {
		b.fail("evaluate %s: %v", expr, err)
	}
	if v != nil {
		if err := json.Unmarshal(raw, v); err != nil {
			b.fail("evaluate %s: decode %s: %v", expr, raw, err)
		}
	}
}

// wait polls a JavaScript expression until it is truthy.
func (b *browser) wait(what, expr string, timeout time.Duration) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, timeout+5*time.Second)
	defer cancel()
	_, err := chromedp.Run(ctx, chromedp.Poll[chromedp.Void](expr,
		chromedp.WithPollingTimeout(timeout), chromedp.WithPollingInterval(25*time.Millisecond)))
	if err != nil {
		b.fail("waiting for %s (%s): %v", what, expr, err)
	}
}

func (b *browser) text(sel string) string {
	b.t.Helper()
	var s string
	b.eval(fmt.Sprintf(`(document.querySelector(%q) || {}).textContent || ""`, sel), &s)
	return s
}

// jsString quotes s for JavaScript.
func jsString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// search types a query into the bar and presses Enter.
func (b *browser) search(q string) {
	b.t.Helper()
	b.eval(`document.getElementById("q").value = ""`, nil)
	b.do("type the query "+q,
		chromedp.Focus(chromedp.ID("q")),
		chromedp.KeyEvent(q),
		chromedp.KeyEvent(kb.Enter),
	)
	b.waitResults()
}

// waitResults waits until a search has finished: the grid is not busy and
// the footer tells the count.
func (b *browser) waitResults() {
	b.t.Helper()
	b.wait("results", `!document.getElementById("results").hasAttribute("aria-busy") &&
		/^(Showing|No logs)/.test(document.getElementById("results-foot").textContent) &&
		!document.getElementById("histogram").classList.contains("loading") || !document.getElementById("query-error").hidden`, 20*time.Second)
}

type renderedRow struct {
	Level    string `json:"level"`
	Source   string `json:"source"`
	Message  string `json:"message"`
	Expanded bool   `json:"expanded"`
}

func (b *browser) rows() []renderedRow {
	b.t.Helper()
	var rows []renderedRow
	b.eval(`Array.from(document.querySelectorAll("#results-rows .row")).map(r => ({
		level: r.querySelector(".lvl").textContent, source: r.querySelector(".c-source").textContent,
		message: r.querySelector(".c-msg").firstChild.textContent, expanded: r.getAttribute("aria-expanded") === "true"}))`, &rows)
	return rows
}

func (b *browser) rowCount() int {
	b.t.Helper()
	var n int
	b.eval(`parseInt(document.getElementById("results").getAttribute("aria-rowcount"), 10)`, &n)
	return n
}

// webUIFixtures ingests 50 logs of the last 40 minutes: 12 api errors on
// three hosts, 30 auth infos, 8 worker warnings.
func webUIFixtures(t *testing.T, d *daemon) {
	t.Helper()
	now := time.Now().UTC()
	var lines []string
	add := func(ago time.Duration, level, source, msg string, fields map[string]any) {
		e := map[string]any{"timestamp": now.Add(-ago).Format(time.RFC3339Nano), "level": level, "source": source, "message": msg}
		for k, v := range fields {
			e[k] = v
		}
		b, _ := json.Marshal(e)
		lines = append(lines, string(b))
	}
	for i := range 12 {
		add(time.Duration(i)*3*time.Minute+30*time.Second, "error", "api", fmt.Sprintf("upstream timeout after 30s (request %d)", i),
			map[string]any{"host": fmt.Sprintf("web-%d", i%3+1), "status": 504, "latency_ms": 30000.5})
	}
	for i := range 30 {
		add(time.Duration(i)*80*time.Second+10*time.Second, "info", "auth", fmt.Sprintf("user %d logged in", i),
			map[string]any{"host": "auth-1", "user": fmt.Sprintf("u%d", i), "tags": []string{"prod"}})
	}
	for i := range 8 {
		add(time.Duration(i)*5*time.Minute+50*time.Second, "warn", "worker", fmt.Sprintf("slow job %d took 2.5s", i),
			map[string]any{"queue": "emails"})
	}
	code, a := d.ingest("application/x-ndjson", strings.Join(lines, "\n"), "wait=indexed")
	if code != http.StatusOK || a.Accepted != len(lines) {
		t.Fatalf("ingest fixtures: %d %+v", code, a)
	}
}

// TestWebUI loads the page, searches, checks rows and histogram, opens a
// row, follows the live tail while logs are ingested, creates a rule on
// the alerts page, and measures load time and 10,000-row responsiveness.
func TestWebUI(t *testing.T) {
	b := newBrowser(t)
	d := startDaemon(t, t.TempDir())
	webUIFixtures(t, d)

	t.Run("load", func(t *testing.T) {
		b.t = t
		start := time.Now()
		b.do("open the page", chromedp.Navigate(d.url+"/"))
		b.wait("the first rows", `document.querySelectorAll("#results-rows .row").length > 0`, 20*time.Second)
		firstRows := time.Since(start)
		var nav struct {
			DOMContentLoaded float64 `json:"dcl"`
			Load             float64 `json:"load"`
			Transferred      float64 `json:"bytes"`
		}
		b.eval(`(() => { const n = performance.getEntriesByType("navigation")[0];
			const bytes = performance.getEntriesByType("resource").reduce((s, r) => s + r.encodedBodySize, n.encodedBodySize);
			return {dcl: n.domContentLoadedEventEnd, load: n.loadEventEnd, bytes}; })()`, &nav)
		t.Logf("page load from loopback (cold profile): DOMContentLoaded %.0f ms, load %.0f ms, first rows shown %.0f ms after navigation began; %.0f KiB transferred",
			nav.DOMContentLoaded, nav.Load, float64(firstRows.Microseconds())/1000, nav.Transferred/1024)
		b.waitResults()
		if n := b.rowCount(); n != 50 {
			b.fail("rows: %d, want the 50 logs of the last hour", n)
		}
		if s := b.text("#summary"); !strings.Contains(s, "50 matches") {
			b.fail("summary %q, want 50 matches", s)
		}
		var title string
		b.eval(`document.title`, &title)
		if !strings.Contains(title, "logengine") {
			b.fail("title %q", title)
		}
		b.checkNoErrors()
	})

	t.Run("search", func(t *testing.T) {
		b.t = t
		// "/" focuses the search bar from anywhere.
		b.eval(`document.activeElement && document.activeElement.blur()`, nil)
		b.do("press /", chromedp.KeyEvent("/"))
		var focused string
		b.eval(`document.activeElement.id`, &focused)
		if focused != "q" {
			b.fail("after /, focus is on %q, want the search bar", focused)
		}
		b.search("level:error source:api")
		if n := b.rowCount(); n != 12 {
			b.fail("level:error source:api: %d rows, want 12", n)
		}
		for _, r := range b.rows() {
			if r.Level != "error" || r.Source != "api" || !strings.HasPrefix(r.Message, "upstream timeout") {
				b.fail("row %+v does not match level:error source:api", r)
			}
		}
		var loc string
		b.eval(`location.search`, &loc)
		if !strings.Contains(loc, "q=level%3Aerror+source%3Aapi") {
			b.fail("the URL %q does not hold the query", loc)
		}
		b.checkNoErrors()
	})

	t.Run("histogram", func(t *testing.T) {
		b.t = t
		b.search("")
		// Count coloured pixels: grid lines and labels are grey, bars are not.
		var hist struct {
			Coloured int    `json:"coloured"`
			Label    string `json:"label"`
		}
		b.eval(`(() => { const c = document.getElementById("hist-canvas"); const g = c.getContext("2d");
			const d = g.getImageData(0, 0, c.width, c.height).data; let n = 0;
			for (let i = 0; i < d.length; i += 4) { const mx = Math.max(d[i], d[i+1], d[i+2]), mn = Math.min(d[i], d[i+1], d[i+2]);
			  if (d[i+3] > 200 && mx - mn > 60) n++; }
			return {coloured: n, label: c.getAttribute("aria-label")}; })()`, &hist)
		if hist.Coloured < 200 {
			b.fail("the histogram has %d coloured pixels: no bars drawn", hist.Coloured)
		}
		if !strings.Contains(hist.Label, "50 matches") {
			b.fail("histogram label %q", hist.Label)
		}
		var legend string
		b.eval(`Array.from(document.querySelectorAll("#legend .legend-item")).map(x => x.textContent).join(" ")`, &legend)
		for _, want := range []string{"error12", "warn8", "info30"} {
			if !strings.Contains(legend, want) {
				b.fail("legend %q lacks %s", legend, want)
			}
		}

		// Dragging across the histogram selects that time range.
		var box struct{ X, Y, W, H float64 }
		b.eval(`(() => { const r = document.getElementById("hist-canvas").getBoundingClientRect(); return {X: r.x, Y: r.y, W: r.width, H: r.height}; })()`, &box)
		y := box.Y + box.H/2
		x0, x1 := box.X+44+(box.W-52)*0.5, box.X+44+(box.W-52)*0.98
		pressed := func(p *input.DispatchMouseEventParams) {
			p.Button = input.MouseButtonLeft
			p.Buttons = 1
			p.ClickCount = 1
		}
		b.do("drag across the histogram",
			chromedp.MouseEvent(chromedp.MouseMoved, x0, y),
			chromedp.MouseEvent(chromedp.MousePressed, x0, y, pressed),
			chromedp.MouseEvent(chromedp.MouseMoved, (x0+x1)/2, y, pressed),
			chromedp.MouseEvent(chromedp.MouseMoved, x1, y, pressed),
			chromedp.MouseEvent(chromedp.MouseReleased, x1, y, pressed),
		)
		b.wait("a custom range from the drag", `!document.getElementById("custom-range").hidden && /from=\d+&to=\d+/.test(location.search)`, 10*time.Second)
		b.waitResults()
		n := b.rowCount()
		if n <= 0 || n >= 50 {
			b.fail("after selecting the later half of the range: %d rows, want some of the 50", n)
		}
		// Back to the last hour.
		b.do("choose 1h", chromedp.Click(chromedp.CSS(`.presets [data-preset="1h"]`)))
		b.waitResults()
		if n := b.rowCount(); n != 50 {
			b.fail("after choosing 1h again: %d rows, want 50", n)
		}
		b.checkNoErrors()
	})

	t.Run("syntax error", func(t *testing.T) {
		b.t = t
		b.search("source:api error)")
		b.wait("the error under the bar", `!document.getElementById("query-error").hidden`, 10*time.Second)
		msg := b.text("#query-error .err-msg")
		if !strings.Contains(msg, "unexpected ')' at position 17") {
			b.fail("error %q", msg)
		}
		if mark := b.text("#query-error mark"); mark != ")" {
			b.fail("the error marks %q, want the ')' at position 17", mark)
		}
		var invalid string
		b.eval(`document.getElementById("q").getAttribute("aria-invalid") || ""`, &invalid)
		if invalid != "true" {
			b.fail("the search bar is not marked invalid")
		}
		b.checkNoErrors()
	})

	t.Run("row", func(t *testing.T) {
		b.t = t
		b.search("source:api")
		// Keyboard: focus the grid, move down one row, Enter expands it.
		b.do("open the second row with the keyboard",
			chromedp.Focus(chromedp.ID("results")),
			chromedp.KeyEvent(kb.ArrowDown),
			chromedp.KeyEvent(kb.Enter),
		)
		b.wait("an expanded row", `document.querySelector('#results-rows .row[aria-expanded="true"] .details')`, 5*time.Second)
		var details struct {
			Index  string   `json:"index"`
			Fields []string `json:"fields"`
			Active string   `json:"active"`
		}
		b.eval(`(() => { const r = document.querySelector('#results-rows .row[aria-expanded="true"]');
			return {index: r.getAttribute("aria-rowindex"), fields: Array.from(r.querySelectorAll(".details dt")).map(x => x.textContent),
			  active: document.getElementById("results").getAttribute("aria-activedescendant")}; })()`, &details)
		if details.Index != "2" {
			b.fail("expanded row %s, want row 2", details.Index)
		}
		for _, f := range []string{"timestamp", "level", "source", "host", "status", "latency_ms", "id"} {
			if !strings.Contains(strings.Join(details.Fields, " "), f) {
				b.fail("the expanded row shows %v, lacking %s", details.Fields, f)
			}
		}
		if details.Active == "" {
			b.fail("the grid has no aria-activedescendant")
		}
		// Clicking a field value adds it to the query.
		var host string
		b.eval(`document.querySelector('#results-rows .row[aria-expanded="true"] button.v[data-term^="host:"]').dataset.term`, &host)
		b.do("click the host value", chromedp.Click(chromedp.CSS(`#results-rows .row[aria-expanded="true"] button.v[data-term^="host:"]`)))
		b.wait("the query with the host", fmt.Sprintf(`document.getElementById("q").value === %s`, jsString("source:api "+host)), 5*time.Second)
		b.waitResults()
		if n := b.rowCount(); n != 4 {
			b.fail("source:api %s: %d rows, want 4", host, n)
		}
		b.checkNoErrors()
	})

	t.Run("live tail", func(t *testing.T) {
		b.t = t
		b.search("source:tailtest")
		b.do("start live", chromedp.Click(chromedp.ID("live")))
		b.wait("the tail to follow", `/Following new logs/.test(document.getElementById("results-foot").textContent)`, 20*time.Second)
		top := func() string {
			var s string
			b.eval(`(document.querySelector("#results-rows .row .c-msg") || {textContent: ""}).textContent`, &s)
			return s
		}
		ingestOne := func(msg string) {
			code, a := d.ingest("application/json", fmt.Sprintf(`{"message":%q,"level":"warn","source":"tailtest"}`, msg), "")
			if code != http.StatusOK || a.Accepted != 1 {
				b.fail("ingest %s: %d %+v", msg, code, a)
			}
		}
		ingestOne("live marker one")
		d.ingest("application/json", `{"message":"not for this tail","source":"other"}`, "")
		b.wait("marker one on top", `/live marker one/.test(document.querySelector("#results-rows .row .c-msg")?.textContent || "")`, 15*time.Second)

		b.do("pause", chromedp.Click(chromedp.ID("pause")))
		ingestOne("live marker two")
		b.wait("the paused count", `/1 new while paused/.test(document.getElementById("results-foot").textContent)`, 15*time.Second)
		if s := top(); strings.Contains(s, "marker two") {
			b.fail("a paused tail showed %q", s)
		}
		b.do("resume", chromedp.Click(chromedp.ID("pause")))
		b.wait("marker two on top", `/live marker two/.test(document.querySelector("#results-rows .row .c-msg")?.textContent || "")`, 15*time.Second)
		if rows := b.rows(); len(rows) != 2 || rows[1].Message != "live marker one" {
			b.fail("live rows %+v, want marker two then one", rows)
		}
		b.do("stop live", chromedp.Click(chromedp.ID("live")))
		b.waitResults()
		if n := b.rowCount(); n != 2 {
			b.fail("after live: %d rows of source:tailtest, want 2", n)
		}
		b.checkNoErrors()
	})

	t.Run("10000 rows", func(t *testing.T) {
		b.t = t
		now := time.Now().UTC()
		var sb strings.Builder
		for i := range 10000 {
			level := [...]string{"info", "info", "info", "debug", "warn", "error"}[i%6]
			fmt.Fprintf(&sb, `{"timestamp":%q,"level":%q,"source":"bulk","message":"bulk message %d with some text to fill the row","seq":%d,"host":"web-%d"}`+"\n",
				now.Add(-time.Duration(i)*200*time.Millisecond).Format(time.RFC3339Nano), level, i, i, i%8)
		}
		if code, a := d.ingest("application/x-ndjson", sb.String(), "wait=indexed"); code != http.StatusOK || a.Accepted != 10000 {
			t.Fatalf("ingest 10000: %d %+v", code, a)
		}
		b.search("source:bulk")
		start := time.Now()
		// Scroll to the end until every page is loaded.
		b.wait("10,000 rows loaded by scrolling", `(() => { const g = document.getElementById("results"); g.scrollTop = g.scrollHeight;
			return g.getAttribute("aria-rowcount") === "10000"; })()`, 120*time.Second)
		loadAll := time.Since(start)
		// Each interaction is timed to the paint after it: a frame, then a
		// task queued after that frame. Long tasks are those of the page
		// while scrolling.
		var perf struct {
			Scroll    []float64 `json:"scroll"`
			Keys      []float64 `json:"keys"`
			Expand    []float64 `json:"expand"`
			DOMRows   int       `json:"domRows"`
			Longest   float64   `json:"longest"`
			LongCount int       `json:"longCount"`
			Heap      float64   `json:"heap"`
		}
		b.eval(`(async () => {
			const g = document.getElementById("results");
			const painted = () => new Promise(r => requestAnimationFrame(() => setTimeout(r, 0)));
			const timed = async (f) => { const t0 = performance.now(); f(); await painted(); return performance.now() - t0; };
			const key = (k) => g.dispatchEvent(new KeyboardEvent("keydown", {key: k, bubbles: true}));
			await painted();
			let longest = 0, longCount = 0;
			const po = new PerformanceObserver(l => { for (const e of l.getEntries()) { longest = Math.max(longest, e.duration); longCount++; } });
			try { po.observe({type: "longtask"}); } catch (e) {}
			const out = {scroll: [], keys: [], expand: []};
			for (let i = 0; i < 60; i++) {
				const y = ((i * 7919) % 60) / 60 * (g.scrollHeight - g.clientHeight);
				out.scroll.push(await timed(() => { g.scrollTop = y; }));
			}
			await painted();
			po.disconnect();
			g.focus();
			for (let i = 0; i < 40; i++) out.keys.push(await timed(() => key(i % 10 === 9 ? "PageDown" : "ArrowDown")));
			for (let i = 0; i < 10; i++) out.expand.push(await timed(() => key("Enter")));
			out.domRows = document.querySelectorAll("#results-rows .row").length;
			out.longest = longest; out.longCount = longCount;
			out.heap = performance.memory ? performance.memory.usedJSHeapSize / 1048576 : 0;
			return out;
		})()`, &perf)
		t.Logf("10,000 rows: all loaded by scrolling in %.0f ms; to the next paint (median / worst): scroll jump %s, arrow key %s, "+
			"expand or collapse %s; %d row elements in the DOM; %d long tasks while scrolling (longest %.0f ms); JS heap %.0f MiB",
			float64(loadAll.Microseconds())/1000, medianWorst(perf.Scroll), medianWorst(perf.Keys), medianWorst(perf.Expand),
			perf.DOMRows, perf.LongCount, perf.Longest, perf.Heap)
		if perf.DOMRows > 200 {
			b.fail("%d row elements in the DOM for 10,000 rows: the list is not windowed", perf.DOMRows)
		}
		b.checkNoErrors()
	})
	t.Run("alerts", func(t *testing.T) {
		b.t = t
		if code, _ := d.do(http.MethodGet, "/api/v1/alert-rules", "", nil); code == http.StatusNotFound {
			t.Skip("the alerting API (/api/v1/alert-rules) is not in this build yet")
		}
		b.do("open the alerts page", chromedp.Click(chromedp.CSS(`.nav a[data-nav="alerts"]`)))
		b.wait("the alerts page", `!document.getElementById("view-alerts").hidden && location.pathname === "/alerts"`, 10*time.Second)
		b.wait("the rules loaded", `!document.getElementById("rules-empty").hidden || document.querySelector("#rules-table tbody tr")`, 15*time.Second)
		b.do("fill in a new rule",
			chromedp.Click(chromedp.ID("new-rule")),
			chromedp.WaitVisible(chromedp.ID("rule-dialog")),
			chromedp.SendKeys(chromedp.CSS(`#rule-form [name="name"]`), "api errors"),
			chromedp.SendKeys(chromedp.CSS(`#rule-form [name="query"]`), "level:error source:api"),
			chromedp.SetValue(chromedp.CSS(`#rule-form [name="window"]`), "10m"),
			chromedp.SetValue(chromedp.CSS(`#rule-form [name="threshold"]`), "3"),
			chromedp.SetValue(chromedp.CSS(`#rule-form [name="labels"]`), "team=payments"),
			chromedp.Click(chromedp.ID("rule-submit")),
		)
		b.wait("the new rule in the table", `Array.from(document.querySelectorAll("#rules-table tbody th")).some(th => th.textContent.startsWith("api errors"))`, 15*time.Second)
		var rules []map[string]any
		code, body := d.do(http.MethodGet, "/api/v1/alert-rules", "", nil)
		if code != http.StatusOK {
			b.fail("GET /api/v1/alert-rules: %d %s", code, body)
		}
		var wrapped struct {
			Rules []map[string]any `json:"rules"`
		}
		if err := json.Unmarshal(body, &wrapped); err == nil && wrapped.Rules != nil {
			rules = wrapped.Rules
		} else if err := json.Unmarshal(body, &rules); err != nil {
			b.fail("rules %s: %v", body, err)
		}
		if len(rules) != 1 || rules[0]["query"] != "level:error source:api" || rules[0]["window"] != "10m" {
			b.fail("rules after creating one on the page: %s", body)
		}
		cond, _ := rules[0]["condition"].(map[string]any)
		if cond["op"] != ">" || cond["threshold"] != 3.0 {
			b.fail("rule condition %v, want > 3", cond)
		}
		if labels, _ := rules[0]["labels"].(map[string]any); labels["team"] != "payments" {
			b.fail("rule labels %v", rules[0]["labels"])
		}
		b.do("mute the rule",
			chromedp.Click(chromedp.CSS(`#rules-table button[data-act="mute"]`)),
			chromedp.WaitVisible(chromedp.ID("mute-dialog")),
			chromedp.Click(chromedp.CSS(`#mute-form button[type="submit"]`)),
		)
		b.wait("the muted rule", `document.querySelector("#rules-table .muted-tag")`, 15*time.Second)

		// The notifier form shows the fields of the type chosen and sends
		// only those.
		addNotifier := func(name, typ string, fields map[string]string, script string) {
			b.do("open the notifier form for "+typ,
				chromedp.Click(chromedp.ID("new-notifier")),
				chromedp.WaitVisible(chromedp.ID("notifier-dialog")),
				chromedp.SendKeys(chromedp.CSS(`#notifier-form [name="name"]`), name),
			)
			var ok bool
			b.eval(`(() => { const s = document.querySelector('#notifier-form [name="type"]'); s.value = "`+typ+`";
				s.dispatchEvent(new Event("change")); return true; })()`, &ok)
			for field, value := range fields {
				b.do("fill in "+field, chromedp.SendKeys(chromedp.CSS(`#notifier-form [name="`+field+`"]`), value))
			}
			if script != "" {
				b.eval(script, &ok)
			}
			b.do("add the "+typ+" notifier", chromedp.Click(chromedp.CSS(`#notifier-form button[type="submit"]`)))
			b.wait("the "+typ+" notifier in the table", `Array.from(document.querySelectorAll("#notifiers-table tbody th")).some(th => th.textContent === "`+name+`")`, 15*time.Second)
		}
		var hidden bool
		b.eval(`(() => { document.getElementById("new-notifier").click();
			const shown = (n) => !document.querySelector('#notifier-form [name="' + n + '"]').closest("label").hidden;
			const r = shown("url") && shown("secret") && !shown("from") && !shown("subject") && !shown("username");
			document.getElementById("notifier-dialog").close(); return r; })()`, &hidden)
		if !hidden {
			b.fail("the webhook form shows fields of other types, or hides its own")
		}
		addNotifier("ops-mail", "email", map[string]string{"url": "smtp://127.0.0.1:2525", "from": "logengine@example.com",
			"to": "oncall@example.com, ops@example.com", "cc": "lead@example.com", "username": "logengine", "secret": "smtp-password"}, "")
		addNotifier("ops-nats", "nats", map[string]string{"url": "nats://127.0.0.1:4222", "subject": "logengine.alerts", "secret": "nats-token"}, "")
		b.wait("the NATS subject in the table", `document.querySelector('#notifiers-table tr[data-name="ops-nats"]').textContent.includes("logengine.alerts")`, 5*time.Second)
		var kafkaFields bool
		b.eval(`(() => { document.getElementById("new-notifier").click();
			const s = document.querySelector('#notifier-form [name="type"]'); s.value = "kafka"; s.dispatchEvent(new Event("change"));
			const shown = (n) => !document.querySelector('#notifier-form [name="' + n + '"]').closest("label").hidden;
			const r = !shown("url") && shown("brokers") && shown("topic") && shown("sasl_mechanism") && shown("username") &&
				shown("secret") && shown("tls") && shown("ca_file") && !shown("subject") && !shown("from") && !shown("to");
			document.getElementById("notifier-dialog").close(); return r; })()`, &kafkaFields)
		if !kafkaFields {
			b.fail("the Kafka form shows fields of other types, or hides its own")
		}
		addNotifier("ops-kafka", "kafka", map[string]string{"brokers": "127.0.0.1:9092, 127.0.0.2:9092", "topic": "logengine-alerts",
			"username": "alerting", "secret": "sasl-password"},
			`(() => { const f = document.getElementById("notifier-form");
				f.elements.sasl_mechanism.value = "SCRAM-SHA-512"; f.elements.tls.checked = true; return true; })()`)
		b.wait("the Kafka topic in the table", `document.querySelector('#notifiers-table tr[data-name="ops-kafka"]').textContent.includes("logengine-alerts")`, 5*time.Second)
		code, body = d.do(http.MethodGet, "/api/v1/notifiers", "", nil)
		var got struct {
			Notifiers []struct {
				Name, Type, URL, From, Username, Subject, Topic string
				To, Cc, Brokers                                 []string
				SASLMechanism                                   string `json:"sasl_mechanism"`
				TLS                                             bool
				SecretSet                                       bool `json:"secret_set"`
			} `json:"notifiers"`
		}
		if err := json.Unmarshal(body, &got); code != http.StatusOK || err != nil {
			b.fail("GET /api/v1/notifiers: %d %s %v", code, body, err)
		}
		byName := map[string]int{}
		for i, n := range got.Notifiers {
			byName[n.Name] = i
		}
		mail, nats := got.Notifiers[byName["ops-mail"]], got.Notifiers[byName["ops-nats"]]
		if mail.Type != "email" || mail.URL != "smtp://127.0.0.1:2525" || mail.From != "logengine@example.com" ||
			!slices.Equal(mail.To, []string{"oncall@example.com", "ops@example.com"}) || !slices.Equal(mail.Cc, []string{"lead@example.com"}) ||
			mail.Username != "logengine" || !mail.SecretSet || mail.Subject != "" {
			b.fail("e-mail notifier made on the page: %s", body)
		}
		if nats.Type != "nats" || nats.URL != "nats://127.0.0.1:4222" || nats.Subject != "logengine.alerts" || !nats.SecretSet ||
			nats.From != "" || len(nats.To) != 0 || nats.Username != "" {
			b.fail("NATS notifier made on the page: %s", body)
		}
		kafka := got.Notifiers[byName["ops-kafka"]]
		if kafka.Type != "kafka" || kafka.URL != "" || !slices.Equal(kafka.Brokers, []string{"127.0.0.1:9092", "127.0.0.2:9092"}) ||
			kafka.Topic != "logengine-alerts" || kafka.SASLMechanism != "SCRAM-SHA-512" || kafka.Username != "alerting" || !kafka.TLS ||
			!kafka.SecretSet || kafka.Subject != "" || len(kafka.To) != 0 {
			b.fail("Kafka notifier made on the page: %s", body)
		}
		if strings.Contains(string(body), "smtp-password") || strings.Contains(string(body), "nats-token") || strings.Contains(string(body), "sasl-password") {
			b.fail("the API shows a notifier secret: %s", body)
		}
		b.checkNoErrors()
	})
}

// medianWorst formats the median and the largest of durations in ms.
func medianWorst(ms []float64) string {
	if len(ms) == 0 {
		return "-"
	}
	s := slices.Clone(ms)
	slices.Sort(s)
	return fmt.Sprintf("%.1f / %.1f ms", s[len(s)/2], s[len(s)-1])
}

// TestWebUIAPIKey checks the key prompt: with keys configured the page
// asks for one, keeps it in the tab's session storage and sends it.
func TestWebUIAPIKey(t *testing.T) {
	b := newBrowser(t)
	const key = "webui-test-key-0123456789"
	d := startDaemon(t, t.TempDir(), "--api-key", "ops:admin:"+key)
	req, _ := http.NewRequest(http.MethodPost, d.url+"/api/v1/logs", strings.NewReader(`{"message":"behind a key","level":"info"}`))
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("ingest with the key: %d", resp.StatusCode)
	}
	// The page loads without a key, then asks for one.
	// In the dark colour scheme, to run that side of the style sheet too.
	dark := chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		_, err := cdp.Call(ctx, t, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{
			Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: "dark"}},
		})
		return err
	})
	b.do("open the page", dark, chromedp.Navigate(d.url+"/"))
	b.wait("the key dialog", `document.getElementById("key-dialog").open`, 15*time.Second)
	b.do("enter a wrong key",
		chromedp.SendKeys(chromedp.ID("key-input"), "not-the-key-at-all"),
		chromedp.KeyEvent(kb.Enter),
	)
	b.wait("the dialog again, saying the key was refused", `document.getElementById("key-dialog").open && /refused/.test(document.getElementById("key-reason").textContent)`, 15*time.Second)
	b.do("enter the key",
		chromedp.SendKeys(chromedp.ID("key-input"), key),
		chromedp.KeyEvent(kb.Enter),
	)
	b.wait("rows", `document.querySelectorAll("#results-rows .row").length === 1`, 20*time.Second)
	var stored string
	b.eval(`sessionStorage.getItem("logengine.apiKey")`, &stored)
	if stored != key {
		b.fail("session storage holds %q", stored)
	}
	b.checkNoErrors()
}

// TestWebUIHistogramAxis checks the histogram's time axis for ranges from
// 15 minutes to 20 years: the labels follow the range (times of day for
// hours, dates for weeks, months for a year, years for decades), read
// left to right in time order, and each names the time it marks. The
// browser runs in a zone with summer time, which starts in the ranges.
func TestWebUIHistogramAxis(t *testing.T) {
	b := newBrowser(t)
	d := startDaemon(t, t.TempDir())
	zone := chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		_, err := cdp.Call(ctx, t, emulation.SetTimezoneOverride, emulation.SetTimezoneOverrideParams{TimezoneID: "Europe/Berlin"})
		return err
	})
	b.do("open the page", zone, chromedp.Navigate(d.url+"/"))
	b.wait("the page", `document.getElementById("histogram") !== null`, 20*time.Second)

	const (
		clock = `^\d\d:\d\d$`
		date  = `^[A-Z][a-z]{2} \d{1,2}( \d{4})?$`
		month = `^[A-Z][a-z]{2}( \d{4})?$`
		year  = `^\d{4}$`
	)
	// The ranges end at the start of summer time in Berlin (2026-03-29
	// 01:00 UTC) plus a few minutes, so the hour steps cross it.
	end := time.Date(2026, 3, 29, 1, 7, 0, 0, time.UTC)
	day := 24 * time.Hour
	cases := []struct {
		name   string
		span   time.Duration
		labels string // every label matches
	}{
		{"15 minutes", 15 * time.Minute, clock},
		{"1 hour", time.Hour, clock},
		{"6 hours", 6 * time.Hour, clock + "|" + date},
		{"24 hours", day, clock + "|" + date},
		{"7 days", 7 * day, date + "|" + clock},
		{"30 days", 30 * day, date},
		{"1 year", 365 * day, month},
		{"5 years", 5 * 365 * day, month + "|" + year},
		{"20 years", 20 * 365 * day, year},
	}
	type tick struct {
		T     float64 `json:"t"`
		Label string  `json:"label"`
		Full  string  `json:"full"`
		Unit  string  `json:"unit"`
		// What the browser's local calendar says of T.
		Year   int `json:"year"`
		Month  int `json:"month"`
		Day    int `json:"day"`
		Hour   int `json:"hour"`
		Minute int `json:"minute"`
	}
	months := []string{"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"}
	for _, tc := range cases {
		for _, want := range []int{4, 10} {
			t.Run(fmt.Sprintf("%s/%d ticks", tc.name, want), func(t *testing.T) {
				b.t = t
				x0, x1 := end.Add(-tc.span).UnixMilli(), end.UnixMilli()
				var ticks []tick
				b.eval(fmt.Sprintf(`import("/ui/js/time.js").then(m => m.timeTicks(%d, %d, %d).map(tk => {
					const d = new Date(tk.t);
					return {...tk, year: d.getFullYear(), month: d.getMonth(), day: d.getDate(), hour: d.getHours(), minute: d.getMinutes()};
				}))`, x0, x1, want), &ticks)
				if len(ticks) < 2 || len(ticks) > want+1 {
					t.Fatalf("%d ticks, want 2 to %d: %+v", len(ticks), want+1, ticks)
				}
				re := regexp.MustCompile(tc.labels)
				for i, tk := range ticks {
					if tk.T < float64(x0) || tk.T > float64(x1) {
						t.Errorf("tick %d at %v is outside the range", i, tk.T)
					}
					if i > 0 && tk.T <= ticks[i-1].T {
						t.Errorf("tick %d (%s) is not after tick %d (%s)", i, tk.Full, i-1, ticks[i-1].Full)
					}
					if !re.MatchString(tk.Label) {
						t.Errorf("tick %d at %s is labelled %q, want it to match %s", i, tk.Full, tk.Label, tc.labels)
					}
					// The label names the time it marks.
					var named bool
					switch {
					case regexp.MustCompile(year).MatchString(tk.Label):
						named = tk.Label == fmt.Sprint(tk.Year) && tk.Month == 0 && tk.Day == 1 && tk.Hour == 0
					case regexp.MustCompile(clock).MatchString(tk.Label):
						named = tk.Label == fmt.Sprintf("%02d:%02d", tk.Hour, tk.Minute)
					case regexp.MustCompile(date).MatchString(tk.Label):
						named = strings.HasPrefix(tk.Label, fmt.Sprintf("%s %d", months[tk.Month], tk.Day)) && tk.Hour == 0 && tk.Minute == 0
					case regexp.MustCompile(month).MatchString(tk.Label):
						named = strings.HasPrefix(tk.Label, months[tk.Month]) && tk.Day == 1 && tk.Hour == 0
					}
					if !named {
						t.Errorf("tick %d at %s is labelled %q, which names another time", i, tk.Full, tk.Label)
					}
					if !strings.HasPrefix(tk.Full, fmt.Sprintf("%04d-%02d-%02d %02d:%02d", tk.Year, tk.Month+1, tk.Day, tk.Hour, tk.Minute)) {
						t.Errorf("tick %d: the full time %q on hover is not its local time", i, tk.Full)
					}
				}
			})
		}
	}
	b.t = t
	b.checkNoErrors()
}

// TestWebUIExplore checks what the page offers around a search: the export
// links, an entry's context, the fields panel with its click filters, a
// link with the range pinned, and saved searches.
func TestWebUIExplore(t *testing.T) {
	b := newBrowser(t)
	d := startDaemon(t, t.TempDir())
	webUIFixtures(t, d)
	b.do("open the page", chromedp.Navigate(d.url+"/?range=6h"))
	b.wait("the first rows", `document.querySelectorAll("#results-rows .row").length > 0`, 20*time.Second)
	b.waitResults()

	t.Run("export", func(t *testing.T) {
		b.t = t
		b.search("source:api")
		var href string
		b.eval(`document.getElementById("export-csv").href`, &href)
		if !strings.Contains(href, "/api/v1/export?") || !strings.Contains(href, "q=source%3Aapi") || !strings.Contains(href, "format=csv") || !strings.Contains(href, "from=") {
			b.fail("the CSV link %q is not the export of the search", href)
		}
		// What the link downloads: a header and the 12 api logs.
		var csvText string
		b.eval(`fetch(document.getElementById("export-csv").href).then(r => r.text())`, &csvText)
		lines := strings.Split(strings.TrimSuffix(csvText, "\r\n"), "\r\n")
		if len(lines) != 13 || lines[0] != "timestamp,level,source,message" {
			b.fail("the CSV export has %d lines, header %q; want a header and 12 rows", len(lines), lines[0])
		}
		var ndjson string
		b.eval(`fetch(document.getElementById("export-ndjson").href).then(r => r.text())`, &ndjson)
		if n := strings.Count(ndjson, "\n"); n != 12 || !strings.Contains(ndjson, `"source":"api"`) {
			b.fail("the NDJSON export has %d lines: %.200s", n, ndjson)
		}
		b.checkNoErrors()
	})

	t.Run("context", func(t *testing.T) {
		b.t = t
		// Context ignores the query: an auth log among its neighbours.
		b.search(`"logged in" user:u10`)
		if n := b.rowCount(); n != 1 {
			b.fail("%d rows, want the one log of u10", n)
		}
		b.do("expand the row", chromedp.Click(chromedp.CSS(`#results-rows .row .line`)))
		b.wait("the details", `document.querySelector("#results-rows .row .details button[data-context]")`, 10*time.Second)
		b.do("show context", chromedp.Click(chromedp.CSS(`#results-rows .row .details button[data-context]`)))
		b.wait("the context", `document.getElementById("context-dialog").open && document.querySelectorAll("#context-lines li").length > 1`, 10*time.Second)
		var ctx struct {
			Lines []string `json:"lines"`
			Here  int      `json:"here"`
			Title string   `json:"title"`
		}
		b.eval(`(() => { const li = Array.from(document.querySelectorAll("#context-lines li"));
			return {lines: li.map(x => x.querySelector(".m").textContent), here: li.findIndex(x => x.classList.contains("here")),
			  title: document.getElementById("context-sub").textContent}; })()`, &ctx)
		// u10 is the 11th of 30 auth logs, 80 s apart, newest first: 19
		// older ones, 10 newer.
		if len(ctx.Lines) != 30 || ctx.Here != 19 || ctx.Lines[ctx.Here] != "user 10 logged in" {
			b.fail("context: %d lines, the entry at %d: %q", len(ctx.Lines), ctx.Here, ctx.Lines)
		}
		for i, l := range ctx.Lines {
			if want := fmt.Sprintf("user %d logged in", 29-i); l != want {
				b.fail("context line %d is %q, want %q (time order)", i, l, want)
			}
		}
		if !strings.Contains(ctx.Title, "auth") {
			b.fail("the context names %q, not the source auth", ctx.Title)
		}
		var disabled []bool
		b.eval(`[document.getElementById("context-earlier").disabled, document.getElementById("context-later").disabled]`, &disabled)
		if !disabled[0] || !disabled[1] {
			b.fail("more buttons enabled (%v) with every log of the source shown", disabled)
		}
		b.do("close", chromedp.Click(chromedp.CSS(`#context-dialog [data-close]`)))
		b.checkNoErrors()
	})

	t.Run("fields", func(t *testing.T) {
		b.t = t
		b.search("")
		b.do("open the fields panel", chromedp.Click(chromedp.ID("fields-toggle")))
		b.wait("the fields", `document.querySelector('#facet-list button[data-field="host"]')`, 10*time.Second)
		var fields []string
		b.eval(`Array.from(document.querySelectorAll("#facet-list .facet-field")).map(x => x.querySelector(".name").textContent + "=" + x.querySelector(".n").textContent)`, &fields)
		for _, want := range []string{"level=50", "source=50", "tag=30", "host=42", "status=12", "user=30", "queue=8"} {
			if !slices.Contains(fields, want) {
				b.fail("fields %q lack %s", fields, want)
			}
		}
		b.do("expand host", chromedp.Click(chromedp.CSS(`#facet-list button[data-field="host"]`)))
		var values []string
		b.eval(`Array.from(document.querySelectorAll('#facet-list .facet:has(button[data-field="host"]) .facet-value')).map(x => x.querySelector(".v").textContent + "=" + x.querySelector(".n").textContent)`, &values)
		if !slices.Equal(values, []string{"auth-1=30", "web-1=4", "web-2=4", "web-3=4"}) {
			b.fail("host values %q", values)
		}
		b.do("filter by host:auth-1", chromedp.Click(chromedp.CSS(`#facet-list button[data-term="host:auth-1"]`)))
		b.waitResults()
		if q := b.text("#q"); b.rowCount() != 30 {
			b.fail("after clicking auth-1: %d rows for %q, want 30", b.rowCount(), q)
		}
		// Alt-click excludes; the panel follows the query.
		b.wait("the fields of the new query", `document.querySelector('#facet-list button[data-field="user"]') && !document.getElementById("fields-panel").hasAttribute("aria-busy")`, 10*time.Second)
		b.eval(`document.querySelector('#facet-list button[data-field="user"]').click()`, nil)
		b.eval(`document.querySelector('#facet-list button[data-term="user:u0"]').dispatchEvent(new MouseEvent("click", {bubbles: true, altKey: true}))`, nil)
		b.waitResults()
		var q string
		b.eval(`document.getElementById("q").value`, &q)
		if q != "host:auth-1 -user:u0" || b.rowCount() != 29 {
			b.fail("after alt-clicking u0: query %q with %d rows, want host:auth-1 -user:u0 with 29", q, b.rowCount())
		}
		b.do("close the fields panel", chromedp.Click(chromedp.ID("fields-toggle")))
		b.checkNoErrors()
	})

	t.Run("columns", func(t *testing.T) {
		b.t = t
		b.search("source:api")
		b.do("open the fields panel", chromedp.Click(chromedp.ID("fields-toggle")))
		b.wait("the host field", `document.querySelector('#facet-list button[data-column="host"]') && !document.getElementById("fields-panel").hasAttribute("aria-busy")`, 10*time.Second)
		b.do("show host as a column", chromedp.Click(chromedp.CSS(`#facet-list button[data-column="host"]`)))
		b.wait("the column in the URL", `new URLSearchParams(location.search).get("cols") === "host"`, 10*time.Second)
		check := func(when string) {
			var cols struct {
				Head  []string `json:"head"`
				Cells []string `json:"cells"`
			}
			b.eval(`({head: Array.from(document.querySelectorAll(".results-head span")).map(x => x.textContent),
				cells: Array.from(document.querySelectorAll("#results-rows .row .c-field")).map(x => x.textContent)})`, &cols)
			if !slices.Equal(cols.Head, []string{"Time", "Level", "Source", "host", "Message"}) {
				b.fail("%s: the header is %q", when, cols.Head)
			}
			if len(cols.Cells) != 12 {
				b.fail("%s: %d host cells, want one on each of the 12 rows", when, len(cols.Cells))
			}
			for _, c := range cols.Cells {
				if !regexp.MustCompile(`^web-[123]$`).MatchString(c) {
					b.fail("%s: a host cell holds %q", when, c)
				}
			}
		}
		check("after choosing the column")
		// The URL keeps the columns.
		var href string
		b.eval(`location.href`, &href)
		b.do("open the link", chromedp.Navigate(href))
		b.wait("the rows", `document.querySelectorAll("#results-rows .row").length === 12`, 20*time.Second)
		b.waitResults()
		check("after opening the link")
		b.do("close the fields panel", chromedp.Click(chromedp.ID("fields-toggle")))
		b.checkNoErrors()
	})

	t.Run("pin the range", func(t *testing.T) {
		b.t = t
		b.search("level:warn")
		before := time.Now().UnixMilli()
		b.do("copy link", chromedp.Click(chromedp.ID("copy-link")))
		b.wait("an absolute range in the URL", `/from=\d+&to=\d+/.test(location.search)`, 10*time.Second)
		b.waitResults()
		var loc struct {
			From, To int64
			Q        string
			Custom   bool
		}
		b.eval(`(() => { const sp = new URLSearchParams(location.search); return {From: +sp.get("from"), To: +sp.get("to"), Q: sp.get("q"),
			Custom: !document.getElementById("custom-range").hidden}; })()`, &loc)
		if loc.Q != "level:warn" || !loc.Custom || loc.To < before-1000 || loc.To-loc.From != 6*3600*1000 {
			b.fail("after copy link: %+v, want the 6 hours up to now pinned", loc)
		}
		if b.rowCount() != 8 {
			b.fail("the pinned range shows %d rows, want 8", b.rowCount())
		}
		b.checkNoErrors()
	})

	t.Run("saved searches", func(t *testing.T) {
		b.t = t
		b.do("open a search with a column", chromedp.Navigate(d.url+"/?q=source%3Aworker&range=24h&cols=host"))
		b.wait("the rows", `document.querySelectorAll("#results-rows .row").length === 8`, 20*time.Second)
		b.waitResults()
		b.do("save", chromedp.Click(chromedp.ID("save-search")))
		b.wait("the save dialog", `document.getElementById("save-dialog").open`, 5*time.Second)
		b.do("name it", chromedp.SendKeys(chromedp.ID("save-name"), "slow jobs"), chromedp.KeyEvent(kb.Enter))
		b.wait("the dialog closed", `!document.getElementById("save-dialog").open`, 10*time.Second)
		b.do("open another search", chromedp.Navigate(d.url+"/?q=level%3Aerror"))
		b.wait("the rows", `document.querySelectorAll("#results-rows .row").length === 12`, 20*time.Second)
		b.waitResults()
		if strings.Contains(b.text(".results-head"), "host") {
			b.fail("the host column shows without cols in the URL")
		}
		b.do("list saved searches", chromedp.Click(chromedp.ID("saved-open")))
		b.wait("the list", `document.querySelector('#saved-list button[data-act="open"]')`, 10*time.Second)
		if s := b.text("#saved-list"); !strings.Contains(s, "slow jobs") || !strings.Contains(s, "source:worker") || !strings.Contains(s, "last 24h") {
			b.fail("saved list %q", s)
		}
		b.do("open it", chromedp.Click(chromedp.CSS(`#saved-list button[data-act="open"]`)))
		b.waitResults()
		var st struct {
			Q      string `json:"q"`
			Preset string `json:"preset"`
		}
		b.eval(`({q: document.getElementById("q").value, preset: document.querySelector('.presets [aria-checked="true"]').dataset.preset})`, &st)
		if st.Q != "source:worker" || st.Preset != "24h" || b.rowCount() != 8 || !strings.Contains(b.text(".results-head"), "host") {
			b.fail("the saved search opened as %+v with %d rows, want source:worker over 24h with 8", st, b.rowCount())
		}
		b.checkNoErrors()
	})
}

// TestWebUIPatterns opens the Patterns tab on logs of four templates: the
// rows with their counts, shares and marked variable parts, a template
// holding markup shown as text, the template that first appears late in
// the range marked new, the tab kept in the URL, and a click that filters
// by the template and shows its logs. It also checks the tab's helpers in
// the page, as TestWebUIHistogramAxis checks the axis's.
func TestWebUIPatterns(t *testing.T) {
	b := newBrowser(t)
	d := startDaemon(t, t.TempDir())
	now := time.Now().UTC()
	// The range runs from a minute before the oldest log to a minute after
	// now: every template but the payments one matches in its first
	// bucket.
	from := now.Add(-41 * time.Minute)
	to := now.Add(time.Minute)
	var lines []string
	add := func(ago time.Duration, level, source, msg string) {
		e := map[string]any{"timestamp": now.Add(-ago).Format(time.RFC3339Nano), "level": level, "source": source, "message": msg}
		line, _ := json.Marshal(e)
		lines = append(lines, string(line))
	}
	for i := range 20 {
		add(40*time.Minute-time.Duration(i)*2*time.Minute, "info", "auth", fmt.Sprintf("user %d logged in from 10.0.0.%d", 100+i, i+1))
	}
	for i := range 12 {
		add(40*time.Minute-time.Duration(i)*3*time.Minute, "warn", "api", fmt.Sprintf("cache miss for key %d after %dms", 5000+i*7, 10+i))
	}
	for i := range 5 {
		add(8*time.Minute-time.Duration(i)*time.Minute, "error", "billing", fmt.Sprintf("payment %d declined: card expired", 900+i))
	}
	for i := range 3 {
		add(39*time.Minute-time.Duration(i)*10*time.Minute, "error", "web", fmt.Sprintf("widget <b>%d</b> failed to render", 40+i))
	}
	code, a := d.ingest("application/x-ndjson", strings.Join(lines, "\n"), "wait=indexed")
	if code != http.StatusOK || a.Accepted != len(lines) {
		t.Fatalf("ingest: %d %+v", code, a)
	}

	type patternRow struct {
		ID       string   `json:"id"`
		Template string   `json:"template"`
		Vars     []string `json:"vars"`
		Count    string   `json:"count"`
		Share    string   `json:"share"`
		Source   string   `json:"source"`
		New      bool     `json:"new"`
		Points   int      `json:"points"`
		Markup   int      `json:"markup"` // elements other than the marked parts inside the template
	}
	readRows := func() []patternRow {
		var rows []patternRow
		b.eval(`Array.from(document.querySelectorAll("#patterns-table tbody tr")).map(tr => {
			const tmpl = tr.querySelector(".pat-template");
			const line = tr.querySelector(".pat-trend polyline");
			return {id: tr.dataset.pattern, template: tmpl.textContent,
			  vars: Array.from(tmpl.querySelectorAll(".pat-var")).map(v => v.textContent),
			  count: tr.querySelector(".pat-count").textContent, share: tr.querySelector(".pat-share").textContent,
			  source: tr.querySelector(".pat-source").textContent, new: !tr.querySelector(".pat-new").hidden,
			  points: line ? line.getAttribute("points").trim().split(/\s+/).length : 0,
			  markup: tmpl.querySelectorAll(":not(.pat-var)").length};
		})`, &rows)
		return rows
	}

	t.Run("tab", func(t *testing.T) {
		b.t = t
		b.do("open the page", chromedp.Navigate(fmt.Sprintf("%s/?from=%d&to=%d", d.url, from.UnixMilli(), to.UnixMilli())))
		b.wait("the first rows", `document.querySelectorAll("#results-rows .row").length > 0`, 20*time.Second)
		b.waitResults()
		b.do("open the Patterns tab", chromedp.Click(chromedp.ID("tab-patterns")))
		b.wait("the patterns and their sparklines", `document.querySelectorAll("#patterns-table tbody tr").length > 0 &&
			!document.getElementById("patterns-panel").hasAttribute("aria-busy")`, 20*time.Second)
		var state struct {
			Tab          string `json:"tab"`
			ResultsShown bool   `json:"resultsShown"`
			Selected     string `json:"selected"`
			Status       string `json:"status"`
		}
		b.eval(`({tab: new URLSearchParams(location.search).get("tab"), resultsShown: !document.getElementById("results-body").hidden,
			selected: document.querySelector('.tabs [aria-selected="true"]').id, status: document.getElementById("patterns-status").textContent})`, &state)
		if state.Tab != "patterns" || state.ResultsShown || state.Selected != "tab-patterns" {
			b.fail("after opening the tab: %+v", state)
		}
		if !strings.HasPrefix(state.Status, "4 patterns in 40 logs") {
			b.fail("the status is %q, want 4 patterns in 40 logs", state.Status)
		}
		rows := readRows()
		want := []struct {
			source, literal, count, share string
			vars                          int
			isNew                         bool
		}{
			{"auth", "logged in from", "20", "50%", 2, false},
			{"api", "cache miss for key", "12", "30%", 2, false},
			{"billing", "declined: card expired", "5", "13%", 1, true},
			{"web", "failed to render", "3", "7.5%", 1, false},
		}
		if len(rows) != len(want) {
			b.fail("%d pattern rows, want %d: %+v", len(rows), len(want), rows)
		}
		for i, w := range want {
			r := rows[i]
			if r.Source != w.source || !strings.Contains(r.Template, w.literal) || r.Count != w.count || r.Share != w.share {
				b.fail("row %d is %+v, want source %s, %q, count %s, share %s", i, r, w.source, w.literal, w.count, w.share)
			}
			if len(r.Vars) != w.vars || strings.Contains(r.Template, "<*>") {
				b.fail("row %d (%q) has %d marked parts %q, want %d and no raw wildcard", i, r.Template, len(r.Vars), r.Vars, w.vars)
			}
			if r.New != w.isNew {
				b.fail("row %d (%q) marked new: %v, want %v", i, r.Template, r.New, w.isNew)
			}
			if r.Points < 2 {
				b.fail("row %d (%q) has a sparkline of %d points", i, r.Template, r.Points)
			}
			if r.Markup != 0 {
				b.fail("row %d (%q) holds %d elements besides its marked parts", i, r.Template, r.Markup)
			}
		}
		// The markup of the web logs is text, not elements.
		if !strings.Contains(rows[3].Template, "<b>") {
			b.fail("the web template %q lost its markup text", rows[3].Template)
		}
		// The tab survives opening the link.
		var href string
		b.eval(`location.href`, &href)
		b.do("open the link", chromedp.Navigate(href))
		b.wait("the patterns", `document.querySelectorAll("#patterns-table tbody tr").length === 4 &&
			!document.getElementById("patterns-panel").hasAttribute("aria-busy") && document.getElementById("results-body").hidden`, 20*time.Second)
		b.checkNoErrors()
	})

	t.Run("click", func(t *testing.T) {
		b.t = t
		rows := readRows()
		if len(rows) != 4 {
			b.fail("%d pattern rows, want 4", len(rows))
		}
		billing := rows[2]
		b.do("click the payments pattern", chromedp.Click(chromedp.CSS(`#patterns-table tr[data-pattern="`+billing.ID+`"] .pat-template`)))
		b.waitResults()
		var st struct {
			Q            string `json:"q"`
			Tab          string `json:"tab"`
			ResultsShown bool   `json:"resultsShown"`
		}
		b.eval(`({q: document.getElementById("q").value, tab: new URLSearchParams(location.search).get("tab") || "",
			resultsShown: !document.getElementById("results-body").hidden})`, &st)
		if st.Q != "pattern:"+billing.ID || st.Tab != "" || !st.ResultsShown {
			b.fail("after the click: %+v, want the query pattern:%s and the logs shown", st, billing.ID)
		}
		got := b.rows()
		if len(got) != 5 {
			b.fail("%d rows after the click, want the 5 payment logs: %+v", len(got), got)
		}
		for _, r := range got {
			if r.Source != "billing" || !strings.HasSuffix(r.Message, "declined: card expired") {
				b.fail("a row of pattern:%s is %+v", billing.ID, r)
			}
		}
		// Back to the patterns: only the one template matches the query now.
		b.do("open the Patterns tab", chromedp.Click(chromedp.ID("tab-patterns")))
		b.wait("the one pattern", `document.querySelectorAll("#patterns-table tbody tr").length === 1 &&
			!document.getElementById("patterns-panel").hasAttribute("aria-busy")`, 20*time.Second)
		if r := readRows(); r[0].ID != billing.ID || r[0].Share != "100%" {
			b.fail("the patterns of pattern:%s: %+v", billing.ID, r)
		}
		// Back goes to the patterns of the search before the click.
		b.eval(`history.back()`, nil)
		b.wait("the four patterns again", `document.getElementById("q").value === "" && document.querySelectorAll("#patterns-table tbody tr").length === 4 &&
			!document.getElementById("patterns-panel").hasAttribute("aria-busy") && document.getElementById("results-body").hidden`, 20*time.Second)
		b.checkNoErrors()
	})

	t.Run("open range and errors", func(t *testing.T) {
		b.t = t
		// With no range start the sparklines span the matches, and the
		// first bucket stands for the start.
		b.do("open the patterns of all time", chromedp.Navigate(d.url+"/?range=all&tab=patterns"))
		b.wait("the patterns", `document.querySelectorAll("#patterns-table tbody tr .pat-trend polyline").length === 4 &&
			!document.getElementById("patterns-panel").hasAttribute("aria-busy")`, 20*time.Second)
		rows := readRows()
		if rows[0].Count != "20" || rows[0].New || !rows[2].New {
			b.fail("the patterns of all time: %+v", rows)
		}
		b.search("(level:error")
		b.wait("the error", `/^Patterns unavailable: /.test(document.getElementById("patterns-status").textContent) &&
			document.querySelectorAll("#patterns-table tbody tr").length === 0`, 10*time.Second)
		if b.text("#query-error") == "" {
			b.fail("no syntax error under the search bar")
		}
		b.checkNoErrors()
	})

	t.Run("helpers", func(t *testing.T) {
		b.t = t
		var got struct {
			Parts   []map[string]any `json:"parts"`
			Unknown int              `json:"unknown"`
			Shares  []string         `json:"shares"`
			New     []bool           `json:"isNew"`
			Points  string           `json:"points"`
			Query   []string         `json:"query"`
		}
		b.eval(`import("/ui/js/patterns.js").then(m => ({
			parts: m.templateParts({template: "user <*> logged in from <*>"}),
			unknown: m.templateParts({template: null}).length,
			shares: [m.shareLabel(1, 3), m.shareLabel(3, 40), m.shareLabel(1, 5000), m.shareLabel(0, 5), m.shareLabel(3, 0), m.shareLabel(5, 5)],
			isNew: [m.isNew(1000, 0, 500), m.isNew(400, 0, 500), m.isNew(1000, NaN, 500), m.isNew(1000, 0, NaN)],
			points: m.sparkPoints([0, 2, 1], 100, 22),
			query: [m.patternsQuery("", ["p1", "p2"]), m.patternsQuery("level:error OR source:api", ["p1"])],
		}))`, &got)
		parts, _ := json.Marshal(got.Parts)
		wantParts, _ := json.Marshal([]map[string]any{{"text": "user "}, {"text": "<*>", "variable": true}, {"text": " logged in from "}, {"text": "<*>", "variable": true}})
		if string(parts) != string(wantParts) || got.Unknown != 0 {
			b.fail("templateParts: %s, %d parts of an unknown template", parts, got.Unknown)
		}
		if !slices.Equal(got.Shares, []string{"33%", "7.5%", "<0.1%", "0%", "0%", "100%"}) {
			b.fail("shareLabel: %q", got.Shares)
		}
		if !slices.Equal(got.New, []bool{true, false, false, false}) {
			b.fail("isNew: %v", got.New)
		}
		if got.Points != "0,21 50,1 100,11" {
			b.fail("sparkPoints: %q", got.Points)
		}
		if !slices.Equal(got.Query, []string{"(pattern:p1 OR pattern:p2)", "(level:error OR source:api) (pattern:p1)"}) {
			b.fail("patternsQuery: %q", got.Query)
		}
		b.checkNoErrors()
	})
}
