// What the search view offers around its results: the fields panel (each
// field of the match with its top values), an entry's context, the export
// links, a link with an absolute range, and saved searches.

import { get, request, download, withParams, ApiError } from "./api.js";
import { $, h, fmtNumber, toast } from "./dom.js";
import { term, valueLabel } from "./query.js";
import { fmtTime, parseTS, resolve } from "./time.js";

const CONTEXT_STEP = 20;
const FIELDS_KEY = "logengine.fieldsPanel";

// Fields is the collapsible panel of the match's fields. Values load from
// /api/v1/facets over the whole match, only while the panel is open.
export class Fields {
  // onFilter(term) narrows the query; onColumn(field) shows or hides a
  // field as a column; columns() lists those shown.
  constructor({ onFilter, onColumn, columns }) {
    this.panel = $("#fields-panel");
    this.list = $("#facet-list");
    this.status = $("#fields-status");
    this.toggleBtn = $("#fields-toggle");
    this.onFilter = onFilter;
    this.onColumn = onColumn;
    this.columns = columns;
    this.params = null;
    this.shown = null; // the params of the facets on screen
    this.ctl = null;
    this.open = new Set(); // expanded field names
    this.toggleBtn.addEventListener("click", () => this.setVisible(this.panel.hidden));
    this.list.addEventListener("click", (e) => this.click(e));
    let visible = false;
    try {
      visible = localStorage.getItem(FIELDS_KEY) === "1";
    } catch {
      // storage disabled: the panel starts closed
    }
    this.setVisible(visible, false);
  }

  setVisible(on, remember = true) {
    this.panel.hidden = !on;
    this.toggleBtn.setAttribute("aria-expanded", on ? "true" : "false");
    if (remember) {
      try {
        localStorage.setItem(FIELDS_KEY, on ? "1" : "0");
      } catch {
        // storage disabled
      }
    }
    if (on && this.params && this.shown !== this.params) this.load();
    if (!on && this.ctl) this.ctl.abort();
  }

  // update is called with the parameters of each search.
  update(params) {
    this.params = params;
    if (!this.panel.hidden) this.load();
  }

  async load() {
    if (this.ctl) this.ctl.abort();
    const ctl = (this.ctl = new AbortController());
    const p = this.params;
    this.status.textContent = "Counting fields…";
    this.panel.setAttribute("aria-busy", "true");
    try {
      const res = await get("/api/v1/facets", { q: p.q, from: p.from, to: p.to }, ctl.signal);
      if (ctl.signal.aborted) return;
      this.shown = p;
      this.render(res);
    } catch (err) {
      if (ctl.signal.aborted || err.name === "AbortError") return;
      this.list.replaceChildren();
      this.status.textContent = "Fields unavailable: " + err.message;
    } finally {
      if (ctl === this.ctl) this.panel.removeAttribute("aria-busy");
    }
  }

  render(res) {
    this.status.textContent = fmtNumber(res.fields.length) + (res.fields.length === 1 ? " field" : " fields") + " in " + fmtNumber(res.total) + (res.total === 1 ? " log" : " logs");
    this.total = res.total;
    this.list.replaceChildren(...res.fields.map((f) => this.fieldItem(f)));
  }

  fieldItem(f) {
    const open = this.open.has(f.field);
    const id = "facet-" + encodeURIComponent(f.field).replace(/%/g, "_");
    const head = h(
      "button",
      { type: "button", class: "facet-field", "aria-expanded": open ? "true" : "false", "aria-controls": id, dataset: { field: f.field } },
      h("span", { class: "name" }, f.field),
      h("span", { class: "n", title: fmtNumber(f.count) + " of " + fmtNumber(this.total) + " logs have " + f.field }, fmtNumber(f.count)),
    );
    const name = f.field;
    const builtin = f.field === "level" || f.field === "source" || f.field === "tag";
    const isColumn = this.columns().includes(f.field);
    const col = builtin
      ? null
      : h("button", { type: "button", class: "facet-col", "aria-pressed": isColumn ? "true" : "false", dataset: { column: f.field }, title: (isColumn ? "Hide " : "Show ") + f.field + " as a column" }, "column");
    const values = h(
      "ul",
      { class: "facet-values", id, hidden: !open },
      f.values.map((v) => {
        // A string key stays a string here, however it looks: the filter
        // of "9007199254740993" is that text, not a number rounded by
        // JavaScript.
        const t = v.value === null ? null : term(name, v.value);
        const shown = valueLabel(v.value);
        const pct = f.count ? Math.round((v.count / f.count) * 100) : 0;
        return h(
          "li",
          null,
          h(
            "div",
            { class: "facet-value" },
            t
              ? h("button", { type: "button", class: "v", dataset: { term: t }, title: "Add " + t + " to the query (Alt-click to exclude it)" }, shown)
              : h("span", { class: "v" }, shown),
            t ? h("button", { type: "button", class: "v-not", dataset: { term: "-" + t }, title: "Exclude " + t, "aria-label": "Exclude " + t }, "−") : null,
            h("span", { class: "n" }, fmtNumber(v.count)),
          ),
          h("div", { class: "facet-bar", "aria-hidden": "true" }, h("span", { style: null, dataset: { pct } })),
        );
      }),
      f.other ? h("li", { class: "facet-other" }, h("span", { class: "n" }, "other values: " + fmtNumber(f.other) + (f.truncated ? " (too many to count each)" : ""))) : null,
    );
    // Widths are set as properties: the page's policy forbids inline style
    // attributes.
    for (const bar of values.querySelectorAll(".facet-bar > span")) bar.style.width = bar.dataset.pct + "%";
    return h("li", { class: "facet" }, h("div", { class: "facet-head" }, head, col), values);
  }

  click(e) {
    const b = e.target.closest("button");
    if (!b) return;
    if (b.dataset.term) {
      const t = b.dataset.term;
      this.onFilter(e.altKey && !t.startsWith("-") ? "-" + t : t);
      return;
    }
    if (b.dataset.column) {
      const on = b.getAttribute("aria-pressed") !== "true";
      b.setAttribute("aria-pressed", on ? "true" : "false");
      b.title = (on ? "Hide " : "Show ") + b.dataset.column + " as a column";
      this.onColumn(b.dataset.column, on);
      return;
    }
    if (b.dataset.field) {
      const open = b.getAttribute("aria-expanded") !== "true";
      b.setAttribute("aria-expanded", open ? "true" : "false");
      b.closest(".facet").querySelector(".facet-values").hidden = !open;
      if (open) this.open.add(b.dataset.field);
      else this.open.delete(b.dataset.field);
    }
  }
}

// Context shows an entry among its source's neighbours in a dialog, and
// loads more on either side on demand.
export class Context {
  constructor() {
    this.dlg = $("#context-dialog");
    this.lines = $("#context-lines");
    this.sub = $("#context-sub");
    this.err = $("#context-error");
    this.earlier = $("#context-earlier");
    this.later = $("#context-later");
    this.entries = [];
    this.earlier.addEventListener("click", () => this.more(true));
    this.later.addEventListener("click", () => this.more(false));
    this.dlg.querySelector("[data-close]").addEventListener("click", () => this.dlg.close());
  }

  async show(entry) {
    this.here = entry.id;
    this.entries = [];
    this.lines.replaceChildren();
    this.err.hidden = true;
    this.sub.textContent = "Logs of source " + (entry.source ? "“" + entry.source + "”" : "(none)") + " around the selected one, whatever the query.";
    if (!this.dlg.open) this.dlg.showModal();
    try {
      const res = await get("/api/v1/logs/" + encodeURIComponent(entry.id) + "/context", { before: CONTEXT_STEP, after: CONTEXT_STEP });
      this.entries = [...res.before, res.entry, ...res.after];
      this.moreBefore = res.more_before;
      this.moreAfter = res.more_after;
      this.render();
      const here = this.lines.querySelector(".here");
      if (here) here.scrollIntoView({ block: "center" });
    } catch (err) {
      this.fail(err);
    }
  }

  async more(before) {
    if (!this.entries.length) return;
    const edge = before ? this.entries[0] : this.entries[this.entries.length - 1];
    const btn = before ? this.earlier : this.later;
    btn.disabled = true;
    try {
      const res = await get("/api/v1/logs/" + encodeURIComponent(edge.id) + "/context", { before: before ? CONTEXT_STEP : 0, after: before ? 0 : CONTEXT_STEP });
      if (before) {
        this.entries = [...res.before, ...this.entries];
        this.moreBefore = res.more_before;
      } else {
        this.entries = [...this.entries, ...res.after];
        this.moreAfter = res.more_after;
      }
      const keep = before ? this.lines.scrollHeight - this.lines.scrollTop : 0;
      this.render();
      if (before) this.lines.scrollTop = this.lines.scrollHeight - keep;
    } catch (err) {
      this.fail(err);
    }
  }

  fail(err) {
    this.err.textContent = err instanceof ApiError ? err.message : "Could not reach logengine: " + err.message;
    this.err.hidden = false;
  }

  render() {
    this.earlier.disabled = !this.moreBefore;
    this.later.disabled = !this.moreAfter;
    this.earlier.textContent = this.moreBefore ? "Load " + CONTEXT_STEP + " earlier" : "No earlier logs";
    this.later.textContent = this.moreAfter ? "Load " + CONTEXT_STEP + " later" : "No later logs";
    this.lines.replaceChildren(
      ...this.entries.map((e) =>
        h(
          "li",
          { class: "lvl-" + e.level + (e.id === this.here ? " here" : ""), "aria-current": e.id === this.here ? "true" : null, dataset: { id: e.id } },
          h("span", { class: "t" }, fmtTime(parseTS(e.timestamp))),
          h("span", { class: "lvl" }, e.level),
          h("span", { class: "m" }, e.message),
        ),
      ),
    );
  }
}

// exportLinks points the export links at the current search.
export function exportLinks(params) {
  for (const format of ["csv", "ndjson"]) {
    const a = $("#export-" + format);
    a.href = withParams("/api/v1/export", { q: params.q, from: params.from, to: params.to, format });
    a.download = "logengine-export." + format;
  }
}

// onExport downloads through the API client, which sends the API key.
export function onExport(e) {
  const a = e.target.closest("a[download]");
  if (!a || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey) return;
  e.preventDefault();
  download(a.href, a.download).catch((err) => toast("Export failed: " + err.message, "error"));
}

// pinnedRange is the absolute range a relative one covers now.
export function pinnedRange(range, now = Date.now()) {
  const { from, to } = resolve(range, now);
  return { preset: "custom", from, to: to ?? now };
}

// copyText copies to the clipboard, with the old way as a fallback.
export async function copyText(text) {
  if (navigator.clipboard && window.isSecureContext) {
    try {
      await navigator.clipboard.writeText(text);
      return;
    } catch {
      // a page without focus may be refused: fall back
    }
  }
  const ta = h("textarea", { class: "visually-hidden" }, text);
  document.body.append(ta);
  ta.select();
  document.execCommand("copy");
  ta.remove();
}

// Saved lists, opens and saves named searches (/api/v1/saved-searches).
export class Saved {
  constructor({ current, open }) {
    this.current = current; // () => {name?, query, range}
    this.open = open; // (saved) => void
    this.saveDlg = $("#save-dialog");
    this.listDlg = $("#saved-dialog");
    this.list = $("#saved-list");
    for (const d of [this.saveDlg, this.listDlg]) {
      for (const b of d.querySelectorAll("[data-close]")) b.addEventListener("click", () => d.close());
    }
    $("#save-search").addEventListener("click", () => {
      $("#save-error").hidden = true;
      this.saveDlg.showModal();
      $("#save-name").focus();
    });
    $("#save-form").addEventListener("submit", (e) => {
      e.preventDefault();
      this.save();
    });
    $("#saved-open").addEventListener("click", () => this.showList());
    this.list.addEventListener("click", (e) => {
      const b = e.target.closest("button[data-act]");
      if (!b) return;
      const s = this.items.find((x) => x.name === b.dataset.name);
      if (!s) return;
      if (b.dataset.act === "open") {
        this.listDlg.close();
        this.open(s);
      } else if (b.dataset.act === "delete") {
        request("DELETE", "/api/v1/saved-searches/" + encodeURIComponent(s.name)).then(
          () => this.showList(),
          (err) => this.listError(err),
        );
      }
    });
    this.items = [];
  }

  async save() {
    const name = $("#save-name").value.trim();
    const err = $("#save-error");
    if (!name) {
      err.textContent = "Give the search a name.";
      err.hidden = false;
      return;
    }
    try {
      await request("PUT", "/api/v1/saved-searches/" + encodeURIComponent(name), { body: this.current() });
      this.saveDlg.close();
      toast("Saved “" + name + "”");
    } catch (e) {
      err.textContent = e.message;
      err.hidden = false;
    }
  }

  listError(err) {
    const p = $("#saved-error");
    p.textContent = err.message;
    p.hidden = false;
  }

  async showList() {
    $("#saved-error").hidden = true;
    if (!this.listDlg.open) this.listDlg.showModal();
    try {
      const res = await get("/api/v1/saved-searches");
      this.items = res.saved_searches;
    } catch (err) {
      this.items = [];
      this.listError(err);
    }
    $("#saved-empty").hidden = this.items.length > 0;
    this.list.replaceChildren(
      ...this.items.map((s) =>
        h(
          "li",
          null,
          h("button", { type: "button", class: "btn small", dataset: { act: "open", name: s.name } }, s.name),
          h("span", { class: "saved-q", title: s.query }, (s.query || "(everything)") + " · " + describeRange(s)),
          h("button", { type: "button", class: "btn small ghost danger", dataset: { act: "delete", name: s.name }, "aria-label": "Delete " + s.name }, "Delete"),
        ),
      ),
    );
  }
}

function describeRange(s) {
  if (s.range) return s.range === "all" ? "all time" : "last " + s.range;
  const f = s.from ? fmtTime(parseTS(s.from)).slice(0, 16) : "…";
  const t = s.to ? fmtTime(parseTS(s.to)).slice(0, 16) : "…";
  return f + " – " + t;
}
