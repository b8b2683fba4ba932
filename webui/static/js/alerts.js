// The alerts view: rules with their state, the history of state changes,
// notifiers; dialogs to create, edit and mute rules and to add notifiers.

import { request, get, ApiError } from "./api.js";
import { $, h, toast } from "./dom.js";
import { fmtTime, ago, parseTS } from "./time.js";
import { errorPosition } from "./query.js";

const REFRESH_MS = 10000;
const HISTORY_LIMIT = 200;

// NOTIFIER_TYPES describes the URL and secret of each notifier type for
// the form; the other fields are chosen by their data-types attribute.
const NOTIFIER_TYPES = {
  webhook: {
    urlLabel: "URL", urlPlaceholder: "https://hooks.example.com/logengine", urlHelp: "",
    secretLabel: "Secret", secretHelp: "Webhook bodies are signed with HMAC-SHA256 of this secret (X-Logengine-Signature). Never shown again.",
  },
  alertmanager: {
    urlLabel: "URL", urlPlaceholder: "http://alertmanager:9093", urlHelp: "The Alertmanager's base URL; /api/v2/alerts is added.",
    secretLabel: "Secret", secretHelp: "",
  },
  email: {
    urlLabel: "SMTP server", urlPlaceholder: "smtp://mail.example.com:587", urlHelp: "smtp://host:587 uses STARTTLS, smtps://host:465 TLS from the start.",
    secretLabel: "Password", secretHelp: "The SMTP password of the username. Never shown again.",
  },
  nats: {
    urlLabel: "NATS server", urlPlaceholder: "nats://nats.example.com:4222", urlHelp: "nats://host:4222, or tls://host:4222 for TLS. Published with JetStream when a stream takes the subject.",
    secretLabel: "Token or password", secretHelp: "A token, or the password of the username. Never shown again.",
  },
  kafka: {
    urlLabel: "URL", urlPlaceholder: "", urlHelp: "",
    secretLabel: "SASL password", secretHelp: "The SASL password of the username. Never shown again.",
  },
};

const list = (v, key) => (Array.isArray(v) ? v : (v && v[key]) || []);

export class AlertsView {
  constructor({ onFiring }) {
    this.onFiring = onFiring;
    this.rules = [];
    this.notifiers = [];
    this.alerts = new Map(); // rule id -> alert
    this.timer = 0;
    this.editing = null;
    this.muting = null;

    $("#new-rule").addEventListener("click", () => this.openRule(null));
    $("#new-notifier").addEventListener("click", () => this.openNotifier());
    $("#rule-form").addEventListener("submit", (e) => this.saveRule(e));
    $("#mute-form").addEventListener("submit", (e) => this.saveMute(e));
    $("#notifier-form").addEventListener("submit", (e) => this.saveNotifier(e));
    $("#notifier-form").elements.type.addEventListener("change", () => this.showNotifierFields());
    for (const d of document.querySelectorAll("dialog")) {
      d.addEventListener("click", (e) => {
        if (e.target.closest("[data-close]")) d.close();
      });
    }
    $("#rule-form").elements.query.addEventListener("input", () => ($("#rule-query-error").hidden = true));
    $("#rules-table").addEventListener("click", (e) => this.ruleAction(e));
    $("#notifiers-table").addEventListener("click", (e) => this.notifierAction(e));
    document.addEventListener("visibilitychange", () => {
      if (this.active && !document.hidden) this.refresh();
    });
  }

  show() {
    this.active = true;
    document.title = "Alerts · logengine";
    this.refresh();
  }

  hide() {
    this.active = false;
    clearTimeout(this.timer);
  }

  banner(msg) {
    const b = $("#alerts-error");
    b.textContent = msg || "";
    b.hidden = !msg;
  }

  async refresh() {
    clearTimeout(this.timer);
    try {
      const [rules, alerts, history, notifiers] = await Promise.all([
        get("/api/v1/alert-rules"),
        get("/api/v1/alerts", { state: "all" }),
        // The history comes oldest first: ask for a week, show the newest.
        get("/api/v1/alerts/history", { from: "now-7d", limit: 10000 }),
        get("/api/v1/notifiers"),
      ]);
      this.rules = list(rules, "rules");
      this.alerts = new Map(list(alerts, "alerts").map((a) => [a.rule_id, a]));
      this.notifiers = list(notifiers, "notifiers");
      this.banner("");
      this.renderRules();
      this.renderHistory(list(history, "events"));
      this.renderNotifiers();
      this.reportFiring();
    } catch (err) {
      this.banner(
        err instanceof ApiError && err.status === 404
          ? "This logengine has no alerting API."
          : "Could not load alerts: " + err.message,
      );
    }
    if (this.active) this.timer = setTimeout(() => this.refresh(), REFRESH_MS);
  }

  // pollFiring counts firing alerts for the badge in the navigation.
  async pollFiring() {
    try {
      const a = list(await get("/api/v1/alerts", { state: "firing" }), "alerts");
      this.onFiring(a.filter((x) => x.state === "firing").length);
    } catch {
      this.onFiring(0);
    }
  }

  reportFiring() {
    let n = 0;
    for (const a of this.alerts.values()) if (a.state === "firing") n++;
    this.onFiring(n);
  }

  stateOf(r) {
    const a = this.alerts.get(r.id);
    const state = (a && a.state) || r.state || r.State || "inactive";
    const muted = (a && a.muted_until) || r.muted_until || r.MutedUntil;
    const mutedMs = muted ? parseTS(muted) : 0;
    return { state: r.enabled === false ? "disabled" : state, alert: a, mutedUntil: mutedMs > Date.now() ? mutedMs : 0 };
  }

  renderRules() {
    const tb = $("#rules-table tbody");
    const rows = this.rules
      .slice()
      .sort((a, b) => a.name.localeCompare(b.name))
      .map((r) => {
        const { state, alert, mutedUntil } = this.stateOf(r);
        const readOnly = r.source === "file";
        const cond = r.condition || {};
        const window = r.window && r.window !== "0s" && r.window !== "0" ? "in " + r.window : "on each match";
        const stateCell = h(
          "td",
          null,
          h("span", { class: "state state-" + state }, state),
          mutedUntil ? h("span", { class: "muted-tag", title: "Muted until " + fmtTime(mutedUntil) }, "muted") : null,
          alert && alert.since && state !== "disabled" ? h("div", { class: "sub" }, ago(parseTS(alert.since))) : null,
        );
        return h(
          "tr",
          { dataset: { id: r.id } },
          stateCell,
          h("th", { scope: "row" }, r.name, r.labels && Object.keys(r.labels).length ? h("div", { class: "sub" }, Object.entries(r.labels).map(([k, v]) => k + "=" + v).join(" ")) : null),
          h("td", null, h("a", { class: "mono query-link", href: "/?q=" + encodeURIComponent(r.query || ""), title: "Search these logs" }, r.query || "(all logs)")),
          h(
            "td",
            { class: "nowrap" },
            "count " + (cond.op || ">") + " " + (cond.threshold ?? 0) + " " + window,
            r.for && r.for !== "0s" && r.for !== "0" ? h("div", { class: "sub" }, "for " + r.for) : null,
            alert && alert.value != null && state !== "disabled" ? h("div", { class: "sub" }, "now " + alert.value) : null,
          ),
          h("td", null, h("span", { class: "sev sev-" + (r.severity || "warning") }, r.severity || "warning")),
          h("td", null, (r.notify || []).join(", ") || h("span", { class: "sub" }, "—")),
          h(
            "td",
            { class: "actions" },
            h("button", { type: "button", class: "btn small", dataset: { act: "edit" }, disabled: readOnly, title: readOnly ? "Defined in the rules file" : null, "aria-label": "Edit " + r.name }, "Edit"),
            mutedUntil
              ? h("button", { type: "button", class: "btn small", dataset: { act: "unmute" }, "aria-label": "Unmute " + r.name }, "Unmute")
              : h("button", { type: "button", class: "btn small", dataset: { act: "mute" }, "aria-label": "Mute " + r.name }, "Mute"),
            h("button", { type: "button", class: "btn small danger ghost", dataset: { act: "delete" }, disabled: readOnly, "aria-label": "Delete " + r.name }, "Delete"),
          ),
        );
      });
    tb.replaceChildren(...rows);
    $("#rules-empty").hidden = rows.length > 0;
  }

  renderHistory(events) {
    const tb = $("#history-table tbody");
    const rows = events
      .slice()
      .sort((a, b) => parseTS(b.at) - parseTS(a.at))
      .slice(0, HISTORY_LIMIT)
      .map((ev) =>
        h(
          "tr",
          null,
          h("td", { class: "mono nowrap", title: ev.at }, fmtTime(parseTS(ev.at)).slice(0, 19)),
          h("th", { scope: "row" }, ev.rule_name || ev.rule_id),
          h(
            "td",
            null,
            ev.from === ev.to && (ev.notifier || ev.error)
              ? h("span", { class: "nowrap" }, "notification" + (ev.notifier ? " to " + ev.notifier : ""), ev.error ? "" : " sent")
              : h("span", { class: "nowrap" }, h("span", { class: "state state-" + ev.from }, ev.from), " → ", h("span", { class: "state state-" + ev.to }, ev.to)),
            ev.error ? h("div", { class: "sub error-text" }, ev.error) : null,
          ),
          h("td", { class: "num" }, ev.value ?? ""),
        ),
      );
    tb.replaceChildren(...rows);
    $("#history-empty").hidden = rows.length > 0;
  }

  renderNotifiers() {
    const tb = $("#notifiers-table tbody");
    const rows = this.notifiers.map((n) =>
      h(
        "tr",
        { dataset: { name: n.name } },
        h("th", { scope: "row" }, n.name),
        h("td", null, n.type),
        h("td", { class: "mono" }, notifierTarget(n)),
        h("td", null, n.secret_set ? "set" : h("span", { class: "sub" }, "—")),
        h(
          "td",
          { class: "actions" },
          h("button", { type: "button", class: "btn small danger ghost", dataset: { act: "delete" }, disabled: n.source === "file", "aria-label": "Delete notifier " + n.name }, "Delete"),
        ),
      ),
    );
    tb.replaceChildren(...rows);
    $("#notifiers-empty").hidden = rows.length > 0;
  }

  ruleAction(e) {
    const b = e.target.closest("button[data-act]");
    if (!b) return;
    const id = b.closest("tr").dataset.id;
    const r = this.rules.find((x) => x.id === id);
    if (!r) return;
    switch (b.dataset.act) {
      case "edit":
        this.openRule(r);
        break;
      case "mute":
        this.openMute(r);
        break;
      case "unmute":
        this.mute(r, null).then(() => toast("Unmuted " + r.name), (err) => this.banner(err.message));
        break;
      case "delete":
        if (confirm(`Delete the rule "${r.name}"? Its history stays.`)) {
          request("DELETE", "/api/v1/alert-rules/" + encodeURIComponent(id)).then(
            () => {
              toast("Deleted " + r.name);
              this.refresh();
            },
            (err) => this.banner("Could not delete: " + err.message),
          );
        }
        break;
    }
  }

  notifierAction(e) {
    const b = e.target.closest("button[data-act='delete']");
    if (!b) return;
    const name = b.closest("tr").dataset.name;
    if (!confirm(`Delete the notifier "${name}"?`)) return;
    request("DELETE", "/api/v1/notifiers/" + encodeURIComponent(name)).then(
      () => {
        toast("Deleted notifier " + name);
        this.refresh();
      },
      (err) => this.banner("Could not delete: " + err.message),
    );
  }

  openRule(r) {
    this.editing = r;
    const f = $("#rule-form");
    f.reset();
    $("#rule-title").textContent = r ? "Edit rule" : "New rule";
    $("#rule-submit").textContent = r ? "Save rule" : "Create rule";
    $("#rule-error").hidden = true;
    $("#rule-query-error").hidden = true;
    const el = f.elements;
    el.name.value = r ? r.name : "";
    el.query.value = r ? r.query || "" : "";
    el.window.value = r ? r.window || "5m" : "5m";
    el.op.value = r && r.condition ? r.condition.op : ">";
    el.threshold.value = r && r.condition ? r.condition.threshold : 0;
    el.for.value = r ? r.for || "0s" : "0s";
    el.throttle.value = r && r.throttle && r.throttle !== "0s" ? r.throttle : "";
    el.severity.value = r ? r.severity || "warning" : "warning";
    el.labels.value = r && r.labels ? Object.entries(r.labels).map(([k, v]) => k + "=" + v).join(", ") : "";
    el.enabled.checked = r ? r.enabled !== false : true;
    const box = $("#rule-notify");
    box.replaceChildren(h("legend", null, "Notify"));
    if (!this.notifiers.length) box.append(h("p", { class: "help" }, "No notifiers yet: the rule's state is still recorded."));
    for (const n of this.notifiers) {
      box.append(
        h("label", { class: "check" }, h("input", { type: "checkbox", name: "notify", value: n.name, checked: !!(r && (r.notify || []).includes(n.name)) }), n.name + " ", h("span", { class: "sub" }, n.type)),
      );
    }
    $("#rule-dialog").showModal();
    el.name.focus();
  }

  async saveRule(e) {
    e.preventDefault();
    const f = $("#rule-form");
    const el = f.elements;
    const errBox = $("#rule-error");
    errBox.hidden = true;
    if (!el.name.value.trim()) {
      errBox.textContent = "Give the rule a name.";
      errBox.hidden = false;
      el.name.focus();
      return;
    }
    const labels = {};
    for (const part of el.labels.value.split(",")) {
      const p = part.trim();
      if (!p) continue;
      const i = p.indexOf("=");
      if (i <= 0) {
        errBox.textContent = `Labels are name=value pairs separated by commas; "${p}" has no "=".`;
        errBox.hidden = false;
        el.labels.focus();
        return;
      }
      labels[p.slice(0, i).trim()] = p.slice(i + 1).trim();
    }
    const body = {
      name: el.name.value.trim(),
      query: el.query.value.trim(),
      window: el.window.value.trim() || "5m",
      condition: { op: el.op.value, threshold: Number(el.threshold.value) || 0 },
      for: el.for.value.trim() || "0s",
      severity: el.severity.value,
      labels,
      notify: Array.from(f.querySelectorAll("input[name=notify]:checked")).map((x) => x.value),
      enabled: el.enabled.checked,
    };
    if (el.throttle.value.trim()) body.throttle = el.throttle.value.trim();
    const r = this.editing;
    try {
      if (r) await request("PUT", "/api/v1/alert-rules/" + encodeURIComponent(r.id), { body });
      else await request("POST", "/api/v1/alert-rules", { body });
    } catch (err) {
      const pos = err instanceof ApiError && err.status === 400 ? errorPosition(err.message) : 0;
      if (pos && body.query) this.showQueryError(body.query, pos, err.message);
      errBox.textContent = err.message;
      errBox.hidden = false;
      return;
    }
    $("#rule-dialog").close();
    toast((r ? "Saved " : "Created ") + body.name);
    this.refresh();
  }

  showQueryError(q, pos, msg) {
    const box = $("#rule-query-error");
    const chars = Array.from(q);
    const at = Math.min(pos - 1, chars.length);
    box.replaceChildren(
      h("code", { class: "err-line" }, chars.slice(0, at).join(""), h("mark", null, at < chars.length ? chars[at] : " "), chars.slice(at + 1).join("")),
      h("span", { class: "err-msg visually-hidden" }, msg),
    );
    box.hidden = false;
  }

  openMute(r) {
    this.muting = r;
    $("#mute-title").textContent = "Mute " + r.name;
    $("#mute-error").hidden = true;
    $("#mute-dialog").showModal();
    $("#mute-for").focus();
  }

  async saveMute(e) {
    e.preventDefault();
    const r = this.muting;
    try {
      await this.mute(r, $("#mute-for").value);
    } catch (err) {
      $("#mute-error").textContent = err.message;
      $("#mute-error").hidden = false;
      return;
    }
    $("#mute-dialog").close();
    toast("Muted " + r.name + " for " + $("#mute-for").value);
  }

  // mute mutes a rule for a duration, or unmutes it when dur is null.
  async mute(r, dur) {
    const path = "/api/v1/alert-rules/" + encodeURIComponent(r.id) + "/mute";
    if (dur) await request("POST", path, { body: { for: dur } });
    else await request("DELETE", path);
    this.refresh();
  }

  openNotifier() {
    const f = $("#notifier-form");
    f.reset();
    this.showNotifierFields();
    $("#notifier-error").hidden = true;
    $("#notifier-dialog").showModal();
    f.elements.name.focus();
  }

  // showNotifierFields shows the fields the chosen type takes and hides
  // (and disables, so they are neither sent nor checked) the others.
  showNotifierFields() {
    const f = $("#notifier-form");
    const type = f.elements.type.value;
    const t = NOTIFIER_TYPES[type];
    for (const el of f.querySelectorAll("[data-types]")) {
      const shown = el.dataset.types.split(" ").includes(type);
      el.hidden = !shown;
      for (const input of el.querySelectorAll("input, select")) input.disabled = !shown;
    }
    $("#notifier-url-label").textContent = t.urlLabel;
    f.elements.url.placeholder = t.urlPlaceholder;
    $("#url-help").textContent = t.urlHelp;
    $("#url-help").hidden = !t.urlHelp || f.elements.url.disabled;
    $("#notifier-secret-label").textContent = t.secretLabel;
    $("#secret-help").textContent = t.secretHelp;
  }

  async saveNotifier(e) {
    e.preventDefault();
    const el = $("#notifier-form").elements;
    const body = { name: el.name.value.trim(), type: el.type.value };
    // Disabled fields belong to other types; empty ones are left out so
    // the server's defaults and checks apply.
    const text = (name) => (el[name].disabled ? "" : el[name].value.trim());
    const addresses = (name) => text(name).split(",").map((a) => a.trim()).filter(Boolean);
    for (const name of ["url", "from", "subject", "topic", "sasl_mechanism", "username", "ca_file"]) if (text(name)) body[name] = text(name);
    for (const name of ["to", "cc", "brokers"]) if (addresses(name).length) body[name] = addresses(name);
    if (!el.tls.disabled && el.tls.checked) body.tls = true;
    if (!el.secret.disabled && el.secret.value) body.secret = el.secret.value;
    try {
      await request("POST", "/api/v1/notifiers", { body });
    } catch (err) {
      $("#notifier-error").textContent = err.message;
      $("#notifier-error").hidden = false;
      return;
    }
    $("#notifier-dialog").close();
    toast("Added notifier " + body.name);
    this.refresh();
  }
}

// notifierTarget is where a notifier sends: its URL, with the recipients
// of an e-mail notifier or the subject of a NATS one; a Kafka notifier's
// brokers and topic.
function notifierTarget(n) {
  if (n.type === "kafka") return (n.brokers || []).join(", ") + " → " + n.topic;
  if (n.type === "email" && n.to && n.to.length) return n.url + " → " + n.to.join(", ");
  if (n.type === "nats" && n.subject) return n.url + " → " + n.subject;
  return n.url;
}
