// A stacked bar chart of matches over time, drawn on a canvas. Dragging
// across it selects a time range; clicking a bar selects its bucket.

import { fmtNumber } from "./dom.js";
import { fmtTime, timeTicks } from "./time.js";

// LEVELS bottom to top of a stack: the rare, important ones stay on the
// baseline where they are easy to see.
export const LEVELS = ["fatal", "error", "warn", "info", "debug", "trace"];

const PAD = { left: 44, right: 8, top: 8, bottom: 20 };

// niceMax rounds a maximum up so that the axis ticks at 0, half and max
// are round numbers (whole ones for small counts).
function niceMax(v) {
  if (v <= 10) return Math.max(2, Math.ceil(v / 2) * 2);
  const p = Math.pow(10, Math.floor(Math.log10(v)));
  for (const m of [1, 1.2, 1.6, 2, 2.4, 3, 4, 5, 6, 8, 10]) if (m * p >= v) return m * p;
  return 10 * p;
}

function compact(n) {
  if (n >= 1e9) return +(n / 1e9).toFixed(1) + "G";
  if (n >= 1e6) return +(n / 1e6).toFixed(1) + "M";
  if (n >= 1e4) return +(n / 1e3).toFixed(0) + "k";
  if (n >= 1e3) return +(n / 1e3).toFixed(1) + "k";
  return String(n);
}

export class Histogram {
  constructor(root, { onSelect }) {
    this.root = root;
    this.canvas = root.querySelector("canvas");
    this.sel = root.querySelector(".hist-selection");
    this.tip = root.querySelector(".hist-tooltip");
    this.onSelect = onSelect;
    this.data = null;
    this.drag = null;
    this.hover = -1;
    this.ticks = [];
    this.readColors();
    new ResizeObserver(() => this.draw()).observe(root);
    matchMedia("(prefers-color-scheme: dark)").addEventListener("change", () => {
      this.readColors();
      this.draw();
    });
    this.canvas.addEventListener("pointerdown", (e) => this.down(e));
    this.canvas.addEventListener("pointermove", (e) => this.move(e));
    this.canvas.addEventListener("pointerup", (e) => this.up(e));
    this.canvas.addEventListener("pointercancel", () => this.cancel());
    this.canvas.addEventListener("pointerleave", () => {
      if (!this.drag) this.setHover(-1);
    });
    root.addEventListener("keydown", (e) => {
      if (e.key === "Escape" && this.drag) this.cancel();
    });
  }

  readColors() {
    const cs = getComputedStyle(this.root);
    const v = (n) => cs.getPropertyValue(n).trim();
    this.colors = { grid: v("--grid"), axis: v("--muted"), other: v("--lvl-other"), hover: v("--hover") };
    for (const l of LEVELS) this.colors[l] = v("--lvl-" + l);
    this.font = "11px " + (cs.fontFamily || "system-ui");
  }

  // setData takes the API's answer: buckets with start, count and groups,
  // and the interval in ms.
  setData(buckets, intervalMs, range) {
    const bs = buckets.map((b) => ({ start: Date.parse(b.start), count: b.count, groups: b.groups || {} }));
    let max = 0;
    let total = 0;
    for (const b of bs) {
      max = Math.max(max, b.count);
      total += b.count;
    }
    let x0 = bs.length ? bs[0].start : range.from;
    let x1 = bs.length ? bs[bs.length - 1].start + intervalMs : range.to;
    if (range.from != null && bs.length) x0 = Math.max(x0, Math.min(range.from, x1));
    if (range.to != null && bs.length) x1 = Math.min(x1, Math.max(range.to, x0 + 1));
    this.data = { buckets: bs, interval: intervalMs, x0, x1, max: niceMax(max), total };
    this.root.classList.remove("loading");
    this.canvas.setAttribute("aria-label", this.describe());
    this.draw();
    return total;
  }

  describe() {
    const d = this.data;
    if (!d || !d.buckets.length) return "Histogram: no matches";
    let peak = d.buckets[0];
    for (const b of d.buckets) if (b.count > peak.count) peak = b;
    return `Histogram of ${fmtNumber(d.total)} matches from ${fmtTime(d.x0)} to ${fmtTime(d.x1)}; peak of ${fmtNumber(peak.count)} at ${fmtTime(peak.start)}`;
  }

  loading() {
    this.root.classList.add("loading");
  }

  clear() {
    this.data = null;
    this.draw();
  }

  plot() {
    const w = this.root.clientWidth;
    const ht = this.root.clientHeight;
    return { w, h: ht, x: PAD.left, y: PAD.top, pw: Math.max(1, w - PAD.left - PAD.right), ph: Math.max(1, ht - PAD.top - PAD.bottom) };
  }

  xOf(t, p) {
    const d = this.data;
    return p.x + ((t - d.x0) / (d.x1 - d.x0)) * p.pw;
  }

  tOf(x, p) {
    const d = this.data;
    return d.x0 + ((x - p.x) / p.pw) * (d.x1 - d.x0);
  }

  draw() {
    const p = this.plot();
    const dpr = window.devicePixelRatio || 1;
    const c = this.canvas;
    if (c.width !== Math.round(p.w * dpr) || c.height !== Math.round(p.h * dpr)) {
      c.width = Math.round(p.w * dpr);
      c.height = Math.round(p.h * dpr);
      c.style.width = p.w + "px";
      c.style.height = p.h + "px";
    }
    const g = c.getContext("2d");
    g.setTransform(dpr, 0, 0, dpr, 0, 0);
    g.clearRect(0, 0, p.w, p.h);
    g.font = this.font;
    const col = this.colors;
    const d = this.data;
    const max = d ? d.max : 1;

    // Horizontal grid and counts.
    g.textAlign = "right";
    g.textBaseline = "middle";
    for (let i = 0; i <= 2; i++) {
      const v = (max * i) / 2;
      const y = Math.round(p.y + p.ph - (p.ph * i) / 2) + 0.5;
      g.strokeStyle = col.grid;
      g.lineWidth = 1;
      g.beginPath();
      g.moveTo(p.x, y);
      g.lineTo(p.x + p.pw, y);
      g.stroke();
      if (d) {
        g.fillStyle = col.axis;
        g.fillText(compact(Math.round(v)), p.x - 6, y);
      }
    }
    if (!d || d.x1 <= d.x0) return;

    // Time ticks on round calendar times of a unit that suits the span.
    const span = d.x1 - d.x0;
    const want = Math.max(2, Math.floor(p.pw / 110));
    this.ticks = timeTicks(d.x0, d.x1, want).map((tk) => ({ ...tk, x: Math.round(this.xOf(tk.t, p)) + 0.5 }));
    g.textAlign = "center";
    g.textBaseline = "top";
    g.fillStyle = col.axis;
    for (const tk of this.ticks) {
      g.strokeStyle = col.grid;
      g.beginPath();
      g.moveTo(tk.x, p.y + p.ph);
      g.lineTo(tk.x, p.y + p.ph + 4);
      g.stroke();
      tk.shown = tk.x > p.x + 20 && tk.x < p.x + p.pw - 20;
      if (tk.shown) g.fillText(tk.label, tk.x, p.y + p.ph + 6);
    }

    // Bars, stacked by level.
    const bw = (d.interval / span) * p.pw;
    const gap = bw > 4 ? 1 : 0;
    const scale = p.ph / max;
    d.buckets.forEach((b, i) => {
      if (!b.count) return;
      const x = this.xOf(b.start, p);
      const x0 = Math.max(p.x, x + gap / 2);
      const x1 = Math.min(p.x + p.pw, x + bw - gap / 2);
      if (x1 <= x0) return;
      let y = p.y + p.ph;
      let rest = b.count;
      const seg = (n, color) => {
        if (n <= 0) return;
        const hh = n * scale;
        g.fillStyle = color;
        g.fillRect(x0, y - hh, Math.max(x1 - x0, 1), hh);
        y -= hh;
        rest -= n;
      };
      for (const l of LEVELS) seg(b.groups[l] || 0, col[l]);
      seg(rest, col.other);
      if (i === this.hover) {
        g.fillStyle = col.hover;
        g.fillRect(x0, p.y, Math.max(x1 - x0, 1), p.ph);
      }
    });
  }

  bucketAt(x, p) {
    const d = this.data;
    if (!d || !d.buckets.length) return -1;
    const t = this.tOf(x, p);
    const i = Math.floor((t - d.buckets[0].start) / d.interval);
    return i >= 0 && i < d.buckets.length ? i : -1;
  }

  localX(e) {
    return e.clientX - this.canvas.getBoundingClientRect().left;
  }

  down(e) {
    if (!this.data || e.button !== 0) return;
    const p = this.plot();
    const x = Math.min(Math.max(this.localX(e), p.x), p.x + p.pw);
    this.drag = { x0: x, x1: x, p };
    this.canvas.setPointerCapture(e.pointerId);
    this.setHover(-1);
  }

  move(e) {
    const p = this.plot();
    if (!this.drag) {
      const y = e.clientY - this.canvas.getBoundingClientRect().top;
      if (y > p.y + p.ph) {
        this.setHover(-1);
        this.showTick(this.localX(e));
        return;
      }
      this.setHover(this.bucketAt(this.localX(e), p), e);
      return;
    }
    this.drag.x1 = Math.min(Math.max(this.localX(e), p.x), p.x + p.pw);
    const a = Math.min(this.drag.x0, this.drag.x1);
    const b = Math.max(this.drag.x0, this.drag.x1);
    this.sel.style.left = a + "px";
    this.sel.style.width = b - a + "px";
    this.sel.hidden = b - a < 2;
  }

  up(e) {
    if (!this.drag) return;
    const { x0, x1, p } = this.drag;
    this.cancel();
    const a = Math.min(x0, x1);
    const b = Math.max(x0, x1);
    const d = this.data;
    if (b - a >= 3) {
      this.onSelect(Math.floor(this.tOf(a, p)), Math.ceil(this.tOf(b, p)));
    } else {
      const i = this.bucketAt(this.localX(e), p);
      if (i >= 0 && d.buckets[i].count) this.onSelect(d.buckets[i].start, d.buckets[i].start + d.interval);
    }
  }

  cancel() {
    this.drag = null;
    this.sel.hidden = true;
  }

  // showTick shows the full local time of the axis label under x.
  showTick(x) {
    let best = null;
    for (const tk of this.ticks) {
      if (tk.shown && Math.abs(tk.x - x) < 40 && (!best || Math.abs(tk.x - x) < Math.abs(best.x - x))) best = tk;
    }
    if (!best) {
      this.tip.hidden = true;
      return;
    }
    const head = document.createElement("div");
    head.className = "tip-head";
    head.textContent = best.full;
    this.tip.replaceChildren(head);
    this.tip.hidden = false;
    this.tip.style.left = Math.min(Math.max(0, best.x - this.tip.offsetWidth / 2), this.root.clientWidth - this.tip.offsetWidth) + "px";
  }

  setHover(i, e) {
    if (i !== this.hover) {
      this.hover = i;
      this.draw();
    }
    if (i < 0 || !e) {
      this.tip.hidden = true;
      return;
    }
    const b = this.data.buckets[i];
    const tip = this.tip;
    tip.replaceChildren();
    const head = document.createElement("div");
    head.className = "tip-head";
    head.textContent = fmtTime(b.start).slice(0, 19) + "  ·  " + fmtNumber(b.count);
    tip.append(head);
    for (const l of [...LEVELS].reverse()) {
      const n = b.groups[l];
      if (!n) continue;
      const row = document.createElement("div");
      row.className = "tip-row lvl-" + l;
      const name = document.createElement("span");
      name.textContent = l;
      const v = document.createElement("span");
      v.textContent = fmtNumber(n);
      row.append(name, v);
      tip.append(row);
    }
    tip.hidden = false;
    const x = this.localX(e);
    const w = tip.offsetWidth;
    tip.style.left = Math.min(Math.max(0, x + 12), this.root.clientWidth - w) + "px";
  }
}
