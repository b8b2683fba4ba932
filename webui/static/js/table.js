// The results grid: a windowed list that renders only the rows in view (and
// a few around them), so that tens of thousands of loaded entries cost no
// more to scroll than a hundred. Collapsed rows have one fixed height;
// expanded rows are measured once rendered.

import { h, fmtNumber } from "./dom.js";
import { parseTS, fmtTime } from "./time.js";
import { term } from "./query.js";

const OVERSCAN = 12;
const MAX_LINE = 400; // characters of a message shown on a collapsed row
const INLINE_FIELDS = 4; // fields shown after the message on a collapsed row

export class Results {
  // onFilter(term) narrows the query; onNeedMore() loads the next page;
  // onContext(entry) shows the entry among its source's neighbours.
  constructor(scroller, { onFilter, onNeedMore, onContext }) {
    this.scroller = scroller;
    this.spacer = scroller.querySelector(".results-spacer");
    this.body = scroller.querySelector(".results-rows");
    this.onFilter = onFilter;
    this.onNeedMore = onNeedMore;
    this.onContext = onContext;
    this.rows = [];
    this.seqLow = 0;
    this.seqHigh = 0;
    this.expanded = new Map(); // entry -> extra height in px beyond rowH
    this.els = new WeakMap(); // entry -> its row element, while valid
    this.active = -1;
    this.hasMore = false;
    this.rendered = []; // entries rendered, in order
    this.frame = 0;
    this.rowH = 22;
    this.columns = []; // client fields shown as columns before the message
    this.measureRowHeight();
    scroller.addEventListener("scroll", () => this.schedule(), { passive: true });
    new ResizeObserver(() => {
      this.measureRowHeight();
      this.schedule();
    }).observe(scroller);
    scroller.addEventListener("keydown", (e) => this.key(e));
    scroller.addEventListener("click", (e) => this.click(e));
    scroller.addEventListener("focus", () => {
      if (this.active < 0 && this.rows.length) this.setActive(0, false);
    });
  }

  measureRowHeight() {
    const v = parseFloat(getComputedStyle(this.scroller).getPropertyValue("--row-h"));
    if (v > 0) this.rowH = v;
  }

  // setColumns shows the named fields as columns between the source and
  // the message.
  setColumns(cols) {
    if (cols.join("\n") === this.columns.join("\n")) return;
    this.columns = cols.slice();
    const panel = this.scroller.closest(".results-panel");
    const fixed = "176px 62px minmax(80px, 140px)";
    panel.style.setProperty("--cols", fixed + " " + cols.map(() => "minmax(60px, 160px)").join(" ") + " minmax(0, 1fr)");
    const head = panel.querySelector(".results-head");
    head.replaceChildren(
      h("span", { class: "col-time" }, "Time"),
      h("span", { class: "col-level" }, "Level"),
      h("span", { class: "col-source" }, "Source"),
      ...cols.map((c) => h("span", { class: "col-field", title: c }, c)),
      h("span", { class: "col-message" }, "Message"),
    );
    // Rows are built again with the new cells.
    this.els = new WeakMap();
    this.body.replaceChildren();
    this.rendered = [];
    this.renderNow();
  }

  get length() {
    return this.rows.length;
  }

  // set replaces every row.
  set(entries) {
    this.rows = [];
    this.expanded.clear();
    this.els = new WeakMap();
    this.body.replaceChildren();
    this.rendered = [];
    this.seqLow = this.seqHigh = 0;
    this.active = -1;
    this.scroller.removeAttribute("aria-activedescendant");
    this.append(entries);
    this.scroller.scrollTop = 0;
    this.renderNow();
  }

  append(entries) {
    for (const e of entries) {
      e._seq = this.seqHigh++;
      this.rows.push(e);
    }
    this.schedule();
  }

  // prepend adds entries (newest first) on top, keeping at most cap rows
  // and the rows in view where they are.
  prepend(entries, cap) {
    if (!entries.length) return;
    for (let i = entries.length - 1; i >= 0; i--) entries[i]._seq = --this.seqLow;
    const keep = this.scroller.scrollTop > 0;
    this.rows = entries.concat(this.rows);
    if (this.rows.length > cap) {
      for (const e of this.rows.slice(cap)) this.expanded.delete(e);
      this.rows.length = cap;
    }
    if (this.active >= 0) this.active = Math.min(this.active + entries.length, this.rows.length - 1);
    if (keep) this.scroller.scrollTop += entries.length * this.rowH;
    this.schedule();
  }

  index(e) {
    return e._seq - this.rows[0]._seq;
  }

  // sortedExpanded lists [index, extra] of the expanded rows, by index.
  sortedExpanded() {
    const out = [];
    for (const [e, extra] of this.expanded) out.push([this.index(e), extra]);
    out.sort((a, b) => a[0] - b[0]);
    return out;
  }

  offsetOf(i, exp = this.sortedExpanded()) {
    let y = i * this.rowH;
    for (const [j, extra] of exp) {
      if (j >= i) break;
      y += extra;
    }
    return y;
  }

  indexAt(y, exp = this.sortedExpanded()) {
    let acc = 0;
    for (const [j, extra] of exp) {
      const top = j * this.rowH + acc;
      if (y < top) break;
      if (y < top + this.rowH + extra) return j;
      acc += extra;
    }
    return Math.max(0, Math.min(this.rows.length - 1, Math.floor((y - acc) / this.rowH)));
  }

  totalHeight(exp = this.sortedExpanded()) {
    let extra = 0;
    for (const [, x] of exp) extra += x;
    return this.rows.length * this.rowH + extra;
  }

  schedule() {
    if (!this.frame) this.frame = requestAnimationFrame(() => this.renderNow());
  }

  renderNow() {
    if (this.frame) cancelAnimationFrame(this.frame);
    this.frame = 0;
    const n = this.rows.length;
    this.scroller.setAttribute("aria-rowcount", this.hasMore ? -1 : n);
    let exp = this.sortedExpanded();
    this.spacer.style.height = this.totalHeight(exp) + "px";
    if (!n) {
      this.body.replaceChildren();
      this.rendered = [];
      return;
    }
    const top = this.scroller.scrollTop;
    const view = this.scroller.clientHeight || 600;
    const first = Math.max(0, this.indexAt(top, exp) - OVERSCAN);
    const last = Math.min(n - 1, this.indexAt(top + view, exp) + OVERSCAN);
    const want = this.rows.slice(first, last + 1);
    this.patch(want);
    this.body.style.transform = `translateY(${this.offsetOf(first, exp)}px)`;

    // Measure expanded rows in view; a changed height moves what follows.
    let changed = false;
    for (const e of want) {
      if (!this.expanded.has(e)) continue;
      const el = this.els.get(e);
      const extra = Math.max(0, el.offsetHeight - this.rowH);
      if (extra !== this.expanded.get(e)) {
        this.expanded.set(e, extra);
        changed = true;
      }
    }
    if (changed) {
      exp = this.sortedExpanded();
      this.spacer.style.height = this.totalHeight(exp) + "px";
      this.body.style.transform = `translateY(${this.offsetOf(first, exp)}px)`;
    }
    if (this.hasMore && last >= n - 150) this.onNeedMore();
  }

  // patch makes the rendered rows exactly want, keeping the elements of
  // rows that stay (so focus inside them survives scrolling).
  patch(want) {
    const old = this.rendered;
    const wantSet = new Set(want);
    for (const e of old) {
      if (!wantSet.has(e)) {
        const el = this.els.get(e);
        if (el && el.parentNode === this.body) el.remove();
      }
    }
    let next = this.body.firstChild;
    for (const e of want) {
      let el = this.els.get(e);
      if (!el) {
        el = this.rowElement(e);
        this.els.set(e, el);
      }
      const i = this.index(e);
      if (el._index !== i) {
        el._index = i;
        el.setAttribute("aria-rowindex", i + 1);
      }
      if (el === next) {
        next = next.nextSibling;
      } else {
        this.body.insertBefore(el, next);
      }
    }
    this.rendered = want;
  }

  rowElement(e) {
    const ms = e._ms ?? (e._ms = parseTS(e.timestamp));
    const lvl = e.level || "info";
    const open = this.expanded.has(e);
    const msg = e.message.length > MAX_LINE ? e.message.slice(0, MAX_LINE) + "…" : e.message;
    const msgCell = h("span", { class: "c-msg", role: "gridcell" }, msg);
    const fields = e.fields ? Object.keys(e.fields).filter((k) => !this.columns.includes(k)) : [];
    if (fields.length) {
      const kv = [];
      for (const k of fields.slice(0, INLINE_FIELDS)) kv.push(k + "=" + stringify(e.fields[k]));
      msgCell.append(h("span", { class: "kv" }, kv.join("  ")));
    }
    const line = h(
      "div",
      { class: "line" },
      h("span", { class: "c-time", role: "gridcell" }, fmtTime(ms)),
      h("span", { class: "c-level", role: "gridcell" }, h("span", { class: "lvl" }, lvl)),
      h("span", { class: "c-source", role: "gridcell", title: e.source }, e.source),
      this.columns.map((c) => {
        const v = e.fields && c in e.fields ? stringify(e.fields[c]) : "";
        return h("span", { class: "c-field", role: "gridcell", title: v }, v);
      }),
      msgCell,
    );
    const el = h("div", {
      class: "row lvl-" + lvl + (open ? " open" : "") + (this.active >= 0 && this.rows[this.active] === e ? " active" : ""),
      role: "row",
      id: "row-" + e._seq,
      "aria-expanded": open ? "true" : "false",
      "aria-selected": this.active >= 0 && this.rows[this.active] === e ? "true" : "false",
    }, line);
    el._entry = e;
    if (open) el.append(this.details(e, ms));
    return el;
  }

  details(e, ms) {
    const rows = [];
    const filterable = (field, value, shown) => {
      const t = term(field, value);
      if (!t) return h("span", { class: "v" }, shown ?? stringify(value));
      return h(
        "span",
        { class: "v-wrap" },
        h("button", { type: "button", class: "v", dataset: { term: t }, title: "Add " + t + " to the query" }, shown ?? stringify(value)),
        h("button", { type: "button", class: "v-not", dataset: { term: "-" + t }, title: "Exclude " + t, "aria-label": "Exclude " + t }, "−"),
      );
    };
    rows.push(["timestamp", h("span", { class: "v", title: fmtTime(ms) + " local" }, e.timestamp)]);
    rows.push(["level", filterable("level", e.level)]);
    rows.push(["severity", h("span", { class: "v" }, String(e.severity))]);
    rows.push(["source", filterable("source", e.source)]);
    if (e.tags && e.tags.length) rows.push(["tags", h("span", { class: "tags" }, e.tags.map((t) => filterable("tag", t)))]);
    const keys = e.fields ? Object.keys(e.fields).sort() : [];
    for (const k of keys) rows.push([k, filterable(k, e.fields[k])]);
    rows.push(["id", filterable("id", e.id)]);
    const grid = h("dl", { class: "fields" }, rows.map(([k, v]) => [h("dt", null, k), h("dd", null, v)]));
    return h(
      "div",
      { class: "details", role: "gridcell", "aria-colspan": "4" },
      h("pre", { class: "message" }, e.message),
      grid,
      h(
        "div",
        { class: "details-actions" },
        h("button", { type: "button", class: "btn small ghost", dataset: { copy: "json" } }, "Copy JSON"),
        h("button", { type: "button", class: "btn small ghost", dataset: { context: "1" }, title: "The logs of the same source before and after this one" }, "Show context"),
      ),
    );
  }

  click(ev) {
    const btn = ev.target.closest("button");
    if (btn && this.scroller.contains(btn)) {
      if (btn.dataset.term) this.onFilter(btn.dataset.term);
      else if (btn.dataset.copy) this.copy(btn);
      else if (btn.dataset.context && this.onContext) this.onContext(btn.closest(".row")._entry);
      return;
    }
    const rowEl = ev.target.closest(".row");
    if (!rowEl || ev.target.closest(".details")) return;
    if (String(getSelection()).length) return; // selecting text, not toggling
    const i = this.index(rowEl._entry);
    this.setActive(i, false);
    this.toggle(i);
  }

  copy(btn) {
    const rowEl = btn.closest(".row");
    const e = rowEl._entry;
    const clean = { id: e.id, timestamp: e.timestamp, level: e.level, severity: e.severity, source: e.source, message: e.message, tags: e.tags, fields: e.fields };
    const text = JSON.stringify(clean, null, 2);
    const done = () => {
      btn.textContent = "Copied";
      setTimeout(() => (btn.textContent = "Copy JSON"), 1500);
    };
    if (navigator.clipboard && window.isSecureContext) navigator.clipboard.writeText(text).then(done, () => {});
    else {
      const ta = h("textarea", { class: "visually-hidden" }, text);
      document.body.append(ta);
      ta.select();
      document.execCommand("copy");
      ta.remove();
      done();
    }
  }

  toggle(i, open) {
    const e = this.rows[i];
    if (!e) return;
    const isOpen = this.expanded.has(e);
    if (open === undefined) open = !isOpen;
    if (open === isOpen) return;
    if (open) this.expanded.set(e, 0);
    else this.expanded.delete(e);
    const el = this.els.get(e);
    this.els.delete(e);
    if (el) el.remove();
    this.rendered = this.rendered.filter((x) => x !== e);
    this.renderNow();
    if (open) this.ensureVisible(i);
  }

  setActive(i, scroll = true) {
    if (!this.rows.length) return;
    i = Math.max(0, Math.min(this.rows.length - 1, i));
    const prev = this.rows[this.active];
    if (prev) {
      const pe = this.els.get(prev);
      if (pe) {
        pe.classList.remove("active");
        pe.setAttribute("aria-selected", "false");
      }
    }
    this.active = i;
    if (scroll) this.ensureVisible(i);
    const e = this.rows[i];
    const el = this.els.get(e);
    if (el) {
      el.classList.add("active");
      el.setAttribute("aria-selected", "true");
      this.scroller.setAttribute("aria-activedescendant", el.id);
    }
  }

  ensureVisible(i) {
    const exp = this.sortedExpanded();
    const top = this.offsetOf(i, exp);
    const e = this.rows[i];
    const ht = this.rowH + (this.expanded.get(e) || 0);
    const view = this.scroller.clientHeight;
    const st = this.scroller.scrollTop;
    if (top < st) this.scroller.scrollTop = top;
    else if (top + Math.min(ht, view) > st + view) this.scroller.scrollTop = top + Math.min(ht, view) - view;
    this.renderNow();
  }

  key(ev) {
    if (ev.target !== this.scroller) return; // keys inside details are theirs
    const n = this.rows.length;
    if (!n) return;
    const page = Math.max(1, Math.floor(this.scroller.clientHeight / this.rowH) - 1);
    const a = this.active < 0 ? -1 : this.active;
    let handled = true;
    switch (ev.key) {
      case "ArrowDown":
      case "j":
        this.setActive(a + 1);
        break;
      case "ArrowUp":
      case "k":
        this.setActive(Math.max(0, a - 1));
        break;
      case "PageDown":
        this.setActive(a + page);
        break;
      case "PageUp":
        this.setActive(a - page);
        break;
      case "Home":
        this.setActive(0);
        break;
      case "End":
        this.setActive(n - 1);
        break;
      case "Enter":
      case " ":
        if (a >= 0) this.toggle(a);
        break;
      case "ArrowRight":
        if (a >= 0) this.toggle(a, true);
        break;
      case "ArrowLeft":
      case "Escape":
        if (a >= 0 && this.expanded.has(this.rows[a])) this.toggle(a, false);
        else handled = false;
        break;
      default:
        handled = false;
    }
    if (handled) ev.preventDefault();
  }
}

export function stringify(v) {
  if (v === null || v === undefined) return "";
  if (typeof v === "object") return JSON.stringify(v);
  return String(v);
}

export function countLabel(n, more) {
  return fmtNumber(n) + (more ? "+" : "");
}
