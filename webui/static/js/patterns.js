// The Patterns tab: the message templates of the current query and range
// (/api/v1/patterns) with their counts, share of the matches, a sparkline
// of each over the range (one /api/v1/histogram request grouped by
// pattern) and a mark on the templates that are new in the range. A click
// on a template narrows the query to it.
//
// Templates come from logs: every piece of them is set as text, never
// parsed as HTML, and the sparklines are built from numbers only.

import { get } from "./api.js";
import { $, h, fmtNumber } from "./dom.js";
import { addTerm } from "./query.js";
import { pickInterval, parseDuration, parseTS, fmtTime } from "./time.js";

const LIMIT = 50; // templates listed
const SPARK_BUCKETS = 40;
const SPARK_W = 120;
const SPARK_H = 22;
const SVG = "http://www.w3.org/2000/svg";

// templateParts returns the parts of a pattern of the API: its parts, or
// for an answer without them, its template split at the wildcards.
// A template the daemon no longer knows has none.
export function templateParts(p) {
  if (p.parts && p.parts.length) return p.parts;
  if (p.template == null) return [];
  const out = [];
  p.template.split("<*>").forEach((text, i) => {
    if (i > 0) out.push({ text: "<*>", variable: true });
    if (text) out.push({ text });
  });
  return out;
}

// shareLabel is count as a percentage of total: one decimal below 10%,
// and never "0%" for a template that has matches.
export function shareLabel(count, total) {
  if (!total || !count) return "0%";
  const pct = (count / total) * 100;
  if (pct < 0.1) return "<0.1%";
  return (pct < 10 ? pct.toFixed(1) : Math.round(pct).toString()) + "%";
}

// isNew tells whether a template first matched after the first bucket of
// the range: one that already matched in the first bucket was there when
// the range began, so only a later first match means it appeared in it.
export function isNew(firstSeenMs, rangeStartMs, intervalMs) {
  if (!Number.isFinite(firstSeenMs) || !Number.isFinite(rangeStartMs) || !(intervalMs > 0)) return false;
  return firstSeenMs > rangeStartMs + intervalMs;
}

// sparkPoints lays counts out as the points of an SVG polyline in a w×h
// box, the largest count at the top and zero at the bottom.
export function sparkPoints(counts, w, ht) {
  if (!counts.length) return "";
  const max = Math.max(1, ...counts);
  const step = counts.length > 1 ? w / (counts.length - 1) : 0;
  const y = (n) => +(ht - 1 - (n / max) * (ht - 2)).toFixed(2);
  return counts.map((n, i) => +(i * step).toFixed(2) + "," + y(n)).join(" ");
}

// patternsQuery narrows q to the listed templates, so that the histogram
// counts only what the table shows.
export function patternsQuery(q, ids) {
  const any = "(" + ids.map((id) => "pattern:" + id).join(" OR ") + ")";
  return addTerm(q || "", any);
}

function sparkline(counts, label) {
  const svg = document.createElementNS(SVG, "svg");
  svg.setAttribute("class", "spark");
  svg.setAttribute("viewBox", "0 0 " + SPARK_W + " " + SPARK_H);
  svg.setAttribute("width", SPARK_W);
  svg.setAttribute("height", SPARK_H);
  svg.setAttribute("role", "img");
  svg.setAttribute("aria-label", label);
  const line = document.createElementNS(SVG, "polyline");
  line.setAttribute("points", sparkPoints(counts, SPARK_W, SPARK_H));
  svg.append(line);
  return svg;
}

export class Patterns {
  // onPick(term) narrows the query to one template and shows its logs.
  constructor({ onPick }) {
    this.panel = $("#patterns-panel");
    this.status = $("#patterns-status");
    this.body = $("#patterns-table tbody");
    this.onPick = onPick;
    this.params = null;
    this.shown = null; // the params of the table on screen
    this.ctl = null;
    this.visible = false;
    this.body.addEventListener("click", (e) => {
      const tr = e.target.closest("tr[data-pattern]");
      if (tr) this.onPick("pattern:" + tr.dataset.pattern);
    });
  }

  // setVisible shows or hides the tab's panel; the templates load only
  // while it is shown.
  setVisible(on) {
    this.visible = on;
    this.panel.hidden = !on;
    if (on && this.params && this.shown !== this.params) this.load();
    if (!on && this.ctl) this.ctl.abort();
  }

  // update is called with the parameters of each search.
  update(params) {
    this.params = params;
    if (this.visible) this.load();
  }

  async load() {
    if (this.ctl) this.ctl.abort();
    const ctl = (this.ctl = new AbortController());
    const p = this.params;
    this.status.textContent = "Grouping messages…";
    this.panel.setAttribute("aria-busy", "true");
    try {
      const res = await get("/api/v1/patterns", { q: p.q, from: p.from, to: p.to, limit: LIMIT }, ctl.signal);
      if (ctl.signal.aborted) return;
      this.render(res);
      if (res.patterns.length) await this.trends(p, res.patterns, ctl);
      // Only a finished table counts as shown: one left while its trends
      // were loading loads again when the tab is opened again.
      if (!ctl.signal.aborted) this.shown = p;
    } catch (err) {
      if (ctl.signal.aborted || err.name === "AbortError") return;
      this.body.replaceChildren();
      this.status.textContent = "Patterns unavailable: " + err.message;
    } finally {
      if (ctl === this.ctl) this.panel.removeAttribute("aria-busy");
    }
  }

  render(res) {
    const n = res.patterns.length;
    let s = fmtNumber(n) + (n === 1 ? " pattern" : " patterns") + " in " + fmtNumber(res.total) + (res.total === 1 ? " log" : " logs");
    if (res.other) s += " · " + fmtNumber(res.other) + " in other patterns";
    this.status.textContent = n ? s : "No patterns: no logs match. Widen the time range or loosen the query.";
    this.body.replaceChildren(...res.patterns.map((pt) => this.row(pt, res.total)));
  }

  row(pt, total) {
    const parts = templateParts(pt);
    const tmpl = parts.length
      ? parts.map((part) => (part.variable ? h("span", { class: "pat-var", title: "variable part" }, "*") : part.text))
      : h("span", { class: "pat-unknown" }, "(template no longer known: " + pt.id + ")");
    return h(
      "tr",
      { dataset: { pattern: pt.id }, title: "Show the logs of this pattern (pattern:" + pt.id + ")" },
      h(
        "td",
        { class: "pat-cell" },
        h("button", { type: "button", class: "pat-template" }, tmpl),
        h("span", { class: "pat-new", hidden: true }, "new"),
      ),
      h("td", { class: "num pat-count" }, fmtNumber(pt.count)),
      h("td", { class: "num pat-share" }, shareLabel(pt.count, total)),
      h("td", { class: "pat-trend" }),
      h("td", { class: "pat-source" }, pt.source),
    );
  }

  // trends fills each row's sparkline and "new" mark from one histogram of
  // the listed templates over the range.
  async trends(p, list, ctl) {
    const params = { q: patternsQuery(p.q, list.map((pt) => pt.id)), from: p.from, to: p.to, group_by: "pattern" };
    if (p.from != null && p.to != null) params.interval = pickInterval(p.to - p.from, SPARK_BUCKETS);
    let hr;
    try {
      hr = await get("/api/v1/histogram", params, ctl.signal);
    } catch (err) {
      if (ctl.signal.aborted || err.name === "AbortError") return;
      this.status.textContent += " · trends unavailable: " + err.message;
      return;
    }
    if (ctl.signal.aborted) return;
    const interval = parseDuration(hr.interval);
    // The range starts at its given start, or for an open one at the
    // first bucket the histogram found.
    const start = p.from != null ? p.from : hr.buckets.length ? parseTS(hr.buckets[0].start) : NaN;
    for (const pt of list) {
      const tr = this.body.querySelector('tr[data-pattern="' + CSS.escape(pt.id) + '"]');
      if (!tr) continue;
      const counts = hr.buckets.map((b) => (b.groups && b.groups[pt.id]) || 0);
      tr.querySelector(".pat-trend").replaceChildren(sparkline(counts, fmtNumber(pt.count) + " logs from " + fmtTime(parseTS(pt.first_seen)).slice(0, 19) + " to " + fmtTime(parseTS(pt.last_seen)).slice(0, 19)));
      const mark = tr.querySelector(".pat-new");
      mark.hidden = !isNew(parseTS(pt.first_seen), start, interval);
      mark.title = "First seen in this range at " + fmtTime(parseTS(pt.first_seen)).slice(0, 19);
    }
  }
}
