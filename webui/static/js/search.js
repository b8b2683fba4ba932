// The search view: query bar, time range, histogram, results (the logs or
// their patterns) and the live tail.

import { get, tail, ApiError } from "./api.js";
import { $, $$, h, fmtNumber, toast } from "./dom.js";
import { Histogram, LEVELS } from "./histogram.js";
import { Results } from "./table.js";
import { addTerm, errorPosition } from "./query.js";
import { resolve, pickInterval, parseDuration, toLocalInput, fromLocalInput, fmtTime } from "./time.js";
import { Fields, Context, Saved, exportLinks, onExport, pinnedRange, copyText } from "./explore.js";
import { Patterns } from "./patterns.js";

const FIRST_PAGE = 300;
const NEXT_PAGE = 1000;
const MAX_ROWS = 100000;
const LIVE_ROWS = 10000; // rows kept while following the tail
const LIVE_HISTOGRAM_MS = 15 * 60e3;
const HIST_BUCKETS = 120;

export class SearchView {
  constructor() {
    this.q = $("#q");
    this.form = $("#search-form");
    this.err = $("#query-error");
    this.summary = $("#summary");
    this.legend = $("#legend");
    this.foot = $("#results-foot");
    this.liveBtn = $("#live");
    this.pauseBtn = $("#pause");
    this.range = { preset: "1h", from: null, to: null };
    this.ctl = null; // AbortController of the running search
    this.live = null; // {ctl, paused, buffer, timer}
    this.cursor = "";
    this.current = null;
    this.loadingMore = false;
    this.stats = { firstRender: 0 };

    this.hist = new Histogram($("#histogram"), {
      onSelect: (from, to) => {
        if (this.live) this.stopLive();
        this.setRange({ preset: "custom", from, to });
        this.run({ push: true });
      },
    });
    this.results = new Results($("#results"), {
      onFilter: (t) => {
        this.q.value = addTerm(this.q.value, t);
        this.run({ push: true });
        this.q.focus();
      },
      onNeedMore: () => this.loadMore(),
      onContext: (e) => this.context.show(e),
    });
    this.fields = new Fields({
      onFilter: (t) => this.results.onFilter(t),
      onColumn: (f, on) => this.setColumns(on ? [...this.results.columns, f] : this.results.columns.filter((c) => c !== f), true),
      columns: () => this.results.columns,
    });
    this.patterns = new Patterns({
      onPick: (t) => {
        this.q.value = addTerm(this.q.value, t);
        this.setTab("logs");
        this.run({ push: true });
      },
    });
    this.tab = "logs";
    for (const b of $$(".tabs [data-tab]")) b.addEventListener("click", () => this.chooseTab(b.dataset.tab));
    $(".tabs").addEventListener("keydown", (e) => this.tabKeys(e));
    this.context = new Context();
    this.saved = new Saved({ current: () => this.savedForm(), open: (s) => this.openSaved(s) });
    for (const f of ["csv", "ndjson"]) $("#export-" + f).addEventListener("click", onExport);
    $("#copy-link").addEventListener("click", () => this.copyLink());

    this.form.addEventListener("submit", (e) => {
      e.preventDefault();
      if (this.range.preset === "custom") this.readCustom();
      this.run({ push: true });
    });
    this.q.addEventListener("input", () => this.clearError());
    for (const b of $$(".presets [data-preset]")) {
      b.addEventListener("click", () => this.choosePreset(b.dataset.preset, true));
    }
    $(".presets").addEventListener("keydown", (e) => this.presetKeys(e));
    for (const id of ["#from", "#to"]) {
      $(id).addEventListener("change", () => this.readCustom());
    }
    this.liveBtn.addEventListener("click", () => (this.live ? this.stopLive(true) : this.startLive(true)));
    this.pauseBtn.addEventListener("click", () => this.togglePause());
    this.legend.addEventListener("click", (e) => {
      const b = e.target.closest("button[data-level]");
      if (b) this.results.onFilter("level:" + b.dataset.level);
    });
    this.renderLegend(null);
  }

  // show is called when the view becomes visible.
  show(first) {
    this.fromURL(first);
  }

  hide() {
    if (this.live) this.stopLive(false);
    if (this.ctl) this.ctl.abort();
  }

  fromURL(initial) {
    const sp = new URLSearchParams(location.search);
    this.q.value = sp.get("q") || "";
    const r = sp.get("range");
    this.setColumns(sp.get("cols") ? sp.get("cols").split(",").filter(Boolean) : [], false);
    this.setTab(sp.get("tab") === "patterns" && sp.get("live") !== "1" ? "patterns" : "logs");
    if (sp.has("from") || sp.has("to")) {
      const f = parseInt(sp.get("from"), 10);
      const t = parseInt(sp.get("to"), 10);
      this.setRange({ preset: "custom", from: Number.isFinite(f) ? f : null, to: Number.isFinite(t) ? t : null });
    } else {
      this.setRange({ preset: r && (r === "all" || parseDuration(r) > 0) ? r : "1h" });
    }
    if (sp.get("live") === "1") {
      if (this.live) this.stopLive(false);
      this.startLive(false);
    } else {
      if (this.live) this.stopLive(false);
      this.run({ push: false, replace: initial });
    }
  }

  toURL(push, replace) {
    const sp = new URLSearchParams();
    if (this.q.value.trim()) sp.set("q", this.q.value.trim());
    if (this.range.preset === "custom") {
      if (this.range.from != null) sp.set("from", this.range.from);
      if (this.range.to != null) sp.set("to", this.range.to);
    } else if (this.range.preset !== "1h") sp.set("range", this.range.preset);
    if (this.results.columns.length) sp.set("cols", this.results.columns.join(","));
    if (this.tab !== "logs") sp.set("tab", this.tab);
    if (this.live) sp.set("live", "1");
    const url = "/" + (sp.toString() ? "?" + sp : "");
    if (url === location.pathname + location.search) return;
    if (push) history.pushState(null, "", url);
    else if (replace) history.replaceState(null, "", url);
  }

  // setTab shows the logs or the patterns of the search.
  setTab(tab) {
    this.tab = tab;
    for (const b of $$(".tabs [data-tab]")) {
      const on = b.dataset.tab === tab;
      b.setAttribute("aria-selected", on ? "true" : "false");
      b.tabIndex = on ? 0 : -1;
    }
    $("#results-body").hidden = tab !== "logs";
    // The fields panel belongs to the logs; the patterns have their own
    // counts.
    $("#fields-toggle").hidden = tab !== "logs";
    this.patterns.setVisible(tab === "patterns");
  }

  // chooseTab switches tabs at the user's request; the URL keeps the tab
  // as it keeps the query, without a new history entry.
  chooseTab(tab) {
    if (tab === this.tab || (tab === "patterns" && this.live)) return;
    this.setTab(tab);
    this.toURL(false, true);
  }

  tabKeys(e) {
    const tabs = $$(".tabs [data-tab]");
    const i = tabs.indexOf(document.activeElement);
    if (i < 0 || (e.key !== "ArrowRight" && e.key !== "ArrowLeft")) return;
    e.preventDefault();
    const next = tabs[(i + (e.key === "ArrowRight" ? 1 : tabs.length - 1)) % tabs.length];
    if (next.disabled) return;
    next.focus();
    this.chooseTab(next.dataset.tab);
  }

  setRange(r) {
    this.range = { preset: r.preset, from: r.from ?? null, to: r.to ?? null };
    for (const b of $$(".presets [data-preset]")) {
      const on = b.dataset.preset === r.preset;
      b.setAttribute("aria-checked", on ? "true" : "false");
      b.tabIndex = on ? 0 : -1;
    }
    const custom = r.preset === "custom";
    $("#custom-range").hidden = !custom;
    if (custom) {
      $("#from").value = toLocalInput(this.range.from);
      $("#to").value = toLocalInput(this.range.to);
    }
  }

  readCustom() {
    this.range.from = fromLocalInput($("#from").value);
    this.range.to = fromLocalInput($("#to").value);
  }

  choosePreset(p, run) {
    if (p === "custom") {
      const { from, to } = resolve(this.range);
      const now = Date.now();
      this.setRange({ preset: "custom", from: from ?? now - 3600e3, to: to ?? now });
      $("#from").focus();
      return;
    }
    this.setRange({ preset: p });
    if (run && !this.live) this.run({ push: true });
  }

  presetKeys(e) {
    const btns = $$(".presets [data-preset]");
    const i = btns.indexOf(document.activeElement);
    if (i < 0) return;
    let j = -1;
    if (e.key === "ArrowRight" || e.key === "ArrowDown") j = (i + 1) % btns.length;
    else if (e.key === "ArrowLeft" || e.key === "ArrowUp") j = (i - 1 + btns.length) % btns.length;
    else if (e.key === "Home") j = 0;
    else if (e.key === "End") j = btns.length - 1;
    if (j < 0) return;
    e.preventDefault();
    btns[j].focus();
    this.choosePreset(btns[j].dataset.preset, true);
  }

  clearError() {
    this.err.hidden = true;
    this.q.removeAttribute("aria-invalid");
  }

  showError(err, q) {
    this.err.replaceChildren();
    const msg = err instanceof ApiError ? err.message : "Could not reach logengine: " + err.message;
    const pos = err instanceof ApiError && err.status === 400 ? errorPosition(msg) : 0;
    if (pos > 0 && q) {
      const chars = Array.from(q);
      const at = Math.min(pos - 1, chars.length);
      this.err.append(
        h(
          "code",
          { class: "err-line", "aria-hidden": "true" },
          chars.slice(0, at).join(""),
          h("mark", null, at < chars.length ? chars[at] : " "),
          chars.slice(at + 1).join(""),
        ),
      );
      this.q.setAttribute("aria-invalid", "true");
    }
    this.err.append(h("span", { class: "err-msg" }, msg));
    this.err.hidden = false;
  }

  params() {
    const { from, to } = resolve(this.range);
    return { q: this.q.value.trim(), from, to };
  }

  // run searches afresh: the first page of results and the histogram.
  async run({ push = false, replace = false } = {}) {
    if (this.live) return this.restartLive();
    if (this.range.preset === "custom" && this.range.from != null && this.range.to != null && this.range.from >= this.range.to) {
      this.showError(new ApiError(400, "the start of the range must be before its end"), "");
      return;
    }
    this.toURL(push, replace);
    if (this.ctl) this.ctl.abort();
    const ctl = (this.ctl = new AbortController());
    const p = this.params();
    this.current = p;
    exportLinks(p);
    this.patterns.update(p);
    this.cursor = "";
    this.loadingMore = false;
    this.results.hasMore = false;
    document.title = (p.q ? p.q + " · " : "") + "logengine";
    this.clearError();
    this.hist.loading();
    this.foot.textContent = "Searching…";
    $("#results").setAttribute("aria-busy", "true");
    const started = performance.now();
    const histParams = { q: p.q, from: p.from, to: p.to, group_by: "level" };
    if (p.from != null && p.to != null) histParams.interval = pickInterval(p.to - p.from, HIST_BUCKETS);
    const logs = get("/api/v1/logs", { q: p.q, from: p.from, to: p.to, limit: FIRST_PAGE }, ctl.signal);
    const hist = get("/api/v1/histogram", histParams, ctl.signal);
    // The histogram may fail before the results arrive (a syntax error
    // fails both): mark its rejection handled now, or the browser reports
    // it as uncaught before the await below reaches it.
    hist.catch(() => {});
    try {
      const page = await logs;
      if (ctl.signal.aborted) return;
      this.cursor = page.next_cursor || "";
      this.results.hasMore = !!this.cursor;
      this.results.set(page.logs);
      this.took = page.took_ms;
      this.stats.firstRender = performance.now() - started;
      this.updateFoot();
      this.fields.update(p);
    } catch (err) {
      if (ctl.signal.aborted || err.name === "AbortError") return;
      this.results.set([]);
      this.hist.clear();
      this.renderLegend(null);
      this.summary.textContent = "";
      this.foot.textContent = err instanceof ApiError && err.status === 400 ? "Fix the query or the range to see results." : "";
      this.showError(err, p.q);
      $("#results").removeAttribute("aria-busy");
      return;
    }
    try {
      const hr = await hist;
      if (ctl.signal.aborted) return;
      const total = this.hist.setData(hr.buckets, parseDuration(hr.interval), p);
      this.total = total;
      this.renderLegend(hr.buckets);
      this.summary.textContent = fmtNumber(total) + (total === 1 ? " match" : " matches") + (this.took != null ? " · took " + (this.took || "<1") + " ms" : "");
      this.updateFoot();
    } catch (err) {
      if (ctl.signal.aborted || err.name === "AbortError") return;
      this.hist.clear();
      this.summary.textContent = "Histogram unavailable: " + err.message;
    } finally {
      $("#results").removeAttribute("aria-busy");
    }
  }

  // copyLink pins a relative range to the absolute one it covers now, so
  // that the link shows the same logs tomorrow, and copies the link.
  async copyLink() {
    if (this.live) this.stopLive(false);
    if (this.range.preset !== "custom") {
      this.setRange(pinnedRange(this.range));
      this.run({ push: true });
    } else {
      this.toURL(true, false);
    }
    await copyText(location.href);
    toast("Link copied, from " + (this.range.from != null ? fmtTime(this.range.from).slice(0, 19) : "the start") + " to " + fmtTime(this.range.to).slice(0, 19));
  }

  // setColumns shows fields as columns; the URL keeps them.
  setColumns(cols, push) {
    this.results.setColumns(cols);
    if (push) this.toURL(false, true);
  }

  // savedForm is the current search as a saved search stores it.
  savedForm() {
    const out = { query: this.q.value.trim(), columns: this.results.columns };
    if (this.range.preset === "custom") {
      if (this.range.from != null) out.from = new Date(this.range.from).toISOString();
      if (this.range.to != null) out.to = new Date(this.range.to).toISOString();
    } else out.range = this.range.preset;
    return out;
  }

  openSaved(s) {
    if (this.live) this.stopLive(false);
    this.q.value = s.query || "";
    this.setColumns(s.columns || [], false);
    if (s.range) this.setRange({ preset: s.range });
    else this.setRange({ preset: "custom", from: s.from ? Date.parse(s.from) : null, to: s.to ? Date.parse(s.to) : null });
    this.run({ push: true });
  }

  async loadMore() {
    if (this.loadingMore || !this.cursor || this.live || this.results.length >= MAX_ROWS) return;
    this.loadingMore = true;
    const ctl = this.ctl;
    const p = this.current;
    this.updateFoot();
    try {
      const page = await get("/api/v1/logs", { q: p.q, from: p.from, to: p.to, limit: NEXT_PAGE, cursor: this.cursor }, ctl.signal);
      if (ctl !== this.ctl || ctl.signal.aborted) return;
      this.cursor = page.next_cursor || "";
      this.results.hasMore = !!this.cursor && this.results.length + page.logs.length < MAX_ROWS;
      this.results.append(page.logs);
    } catch (err) {
      if (ctl !== this.ctl || err.name === "AbortError") return;
      this.foot.textContent = "Could not load more: " + err.message;
      this.loadingMore = false;
      return;
    }
    this.loadingMore = false;
    this.updateFoot();
  }

  updateFoot() {
    const n = this.results.length;
    if (this.live) {
      const l = this.live;
      let s = l.status + " · " + fmtNumber(n) + (n === 1 ? " log" : " logs");
      if (l.paused && l.buffer.length) s += " · " + fmtNumber(l.buffer.length) + " new while paused";
      this.foot.textContent = s;
      return;
    }
    if (!n) {
      this.foot.textContent = "No logs match. Widen the time range or loosen the query.";
      return;
    }
    let s = "Showing " + fmtNumber(n) + (this.total != null && this.total >= n ? " of " + fmtNumber(this.total) : "");
    if (this.loadingMore) s += " · loading more…";
    else if (this.cursor && n >= MAX_ROWS) s += " · narrow the query or the time range to see more";
    else if (!this.cursor) s += " · end of results";
    this.foot.textContent = s;
  }

  renderLegend(buckets) {
    const sums = {};
    if (buckets) for (const b of buckets) for (const [k, v] of Object.entries(b.groups || {})) sums[k] = (sums[k] || 0) + v;
    this.legend.replaceChildren(
      ...[...LEVELS].reverse().map((l) =>
        h(
          "li",
          null,
          h(
            "button",
            { type: "button", class: "legend-item lvl-" + l, dataset: { level: l }, title: "Filter level:" + l, disabled: buckets ? !sums[l] : true },
            h("span", { class: "swatch", "aria-hidden": "true" }),
            l,
            buckets ? h("span", { class: "legend-n" }, fmtNumber(sums[l] || 0)) : null,
          ),
        ),
      ),
    );
  }

  // Live tail.

  startLive(push) {
    if (this.ctl) this.ctl.abort();
    this.ctl = null;
    this.live = { ctl: new AbortController(), paused: false, buffer: [], status: "Connecting…", timer: 0, retry: 0, histTimer: 0 };
    this.liveBtn.setAttribute("aria-pressed", "true");
    this.liveBtn.classList.add("on");
    this.pauseBtn.hidden = false;
    this.setPaused(false);
    $("#range").disabled = true;
    // Patterns count a fixed range; the tail has none, so live shows logs.
    this.setTab("logs");
    $("#tab-patterns").disabled = true;
    this.results.hasMore = false;
    this.toURL(push, !push);
    this.connect();
  }

  stopLive(run) {
    const l = this.live;
    if (!l) return;
    l.ctl.abort();
    clearTimeout(l.timer);
    clearInterval(l.histTimer);
    cancelAnimationFrame(l.frame);
    this.live = null;
    this.liveBtn.setAttribute("aria-pressed", "false");
    this.liveBtn.classList.remove("on");
    this.pauseBtn.hidden = true;
    $("#range").disabled = false;
    $("#tab-patterns").disabled = false;
    if (run) this.run({ push: true });
  }

  restartLive() {
    this.stopLive(false);
    this.startLive(true);
  }

  // connect follows the tail and, once it is open, shows the newest
  // matches under what arrives; it reconnects after the stream ends for a
  // reason other than leaving live mode.
  async connect() {
    const l = this.live;
    const q = this.q.value.trim();
    document.title = "Live" + (q ? ": " + q : "") + " · logengine";
    this.clearError();
    l.status = "Connecting…";
    l.ready = l.retry > 0; // a reconnection keeps the rows it has
    this.updateFoot();
    const seen = new Set();
    try {
      const reason = await tail(q, {
        signal: l.ctl.signal,
        onOpen: () => {
          l.status = l.paused ? "Paused" : "Following new logs";
          l.retry = 0;
          this.updateFoot();
          if (!l.ready) this.loadNewest(q, l, seen);
          if (!l.histTimer) this.refreshLiveHistogram(q, l);
        },
        onEntry: (e) => {
          if (seen.has(e.id)) return; // shown by the first page already
          this.arrive(l, e);
        },
      });
      if (this.live !== l) return;
      l.status = "Stream ended (" + reason + "); reconnecting…";
    } catch (err) {
      if (this.live !== l || err.name === "AbortError") return;
      if (err instanceof ApiError && err.status >= 400 && err.status < 500) {
        this.showError(err, q);
        this.stopLive(false);
        return;
      }
      l.status = "Disconnected (" + err.message + "); reconnecting…";
    }
    this.updateFoot();
    l.retry++;
    l.ready = true;
    l.timer = setTimeout(() => this.live === l && this.connect(), Math.min(10000, 500 * 2 ** l.retry));
  }

  // loadNewest shows the newest matches below the entries that the tail
  // brought meanwhile, each entry once.
  async loadNewest(q, l, seen) {
    let page = { logs: [] };
    try {
      page = await get("/api/v1/logs", { q, limit: 200 }, l.ctl.signal);
    } catch (err) {
      if (this.live !== l || err.name === "AbortError") return;
      l.status = "Following new logs (the newest could not be loaded: " + err.message + ")";
    }
    if (this.live !== l) return;
    const ids = new Set(page.logs.map((e) => e.id));
    l.buffer = l.buffer.filter((e) => !ids.has(e.id));
    for (const id of ids) seen.add(id);
    this.results.set(page.logs);
    l.ready = true;
    if (!l.paused) this.flush(l);
    this.updateFoot();
  }

  arrive(l, e) {
    if (l.buffer.length < LIVE_ROWS) l.buffer.push(e);
    if (!l.paused && l.ready && !l.frame) l.frame = requestAnimationFrame(() => this.flush(l));
    else if (l.paused) this.updateFootSoon(l);
  }

  flush(l) {
    l.frame = 0;
    if (this.live !== l || l.paused || !l.ready) return;
    const batch = l.buffer.reverse(); // newest first
    l.buffer = [];
    this.results.prepend(batch, LIVE_ROWS);
    this.updateFoot();
  }

  updateFootSoon(l) {
    if (l.footTimer) return;
    l.footTimer = setTimeout(() => {
      l.footTimer = 0;
      if (this.live === l) this.updateFoot();
    }, 250);
  }

  togglePause() {
    if (!this.live) return;
    this.setPaused(!this.live.paused);
  }

  setPaused(p) {
    const l = this.live;
    l.paused = p;
    this.pauseBtn.setAttribute("aria-pressed", p ? "true" : "false");
    this.pauseBtn.textContent = p ? "Resume" : "Pause";
    if (l.status === "Following new logs" || l.status === "Paused") l.status = p ? "Paused" : "Following new logs";
    if (!p && l.buffer.length) this.flush(l);
    this.updateFoot();
  }

  refreshLiveHistogram(q, l) {
    const tick = async () => {
      if (this.live !== l) return;
      const to = Date.now();
      const from = to - LIVE_HISTOGRAM_MS;
      try {
        const hr = await get("/api/v1/histogram", { q, from, to, group_by: "level", interval: pickInterval(LIVE_HISTOGRAM_MS, 90) }, l.ctl.signal);
        if (this.live !== l) return;
        const total = this.hist.setData(hr.buckets, parseDuration(hr.interval), { from, to });
        this.renderLegend(hr.buckets);
        this.summary.textContent = fmtNumber(total) + " in the last 15 minutes · updated " + fmtTime(to).slice(11, 19);
      } catch {
        // the next tick tries again
      }
    };
    tick();
    l.histTimer = setInterval(tick, 5000);
  }
}
