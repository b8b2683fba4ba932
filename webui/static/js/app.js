// The application: views by path, the API key dialog, keyboard shortcuts.

import { onUnauthorized, apiKey, setApiKey } from "./api.js";
import { $, $$ } from "./dom.js";
import { SearchView } from "./search.js";
import { AlertsView } from "./alerts.js";

const search = new SearchView();
const alerts = new AlertsView({
  onFiring: (n) => {
    const b = $("#firing-count");
    b.textContent = n;
    b.hidden = n === 0;
    b.setAttribute("aria-label", n + " firing");
  },
});
const views = { search, alerts };
let current = null;
let firstShow = true;

function viewOf(path) {
  return path.replace(/\/+$/, "") === "/alerts" ? "alerts" : "search";
}

function show(name) {
  if (current === name) return;
  if (current) views[current].hide();
  current = name;
  for (const [n, el] of [["search", $("#view-search")], ["alerts", $("#view-alerts")]]) el.hidden = n !== name;
  for (const a of $$("[data-nav]")) {
    if (a.classList.contains("brand")) continue;
    if (a.dataset.nav === name) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  }
  views[name].show(firstShow);
  firstShow = false;
}

// Navigation between the views stays in the page.
document.addEventListener("click", (e) => {
  const a = e.target.closest("a[href]");
  if (!a || e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
  const url = new URL(a.href, location.href);
  if (url.origin !== location.origin || url.pathname.startsWith("/api/") || url.pathname.startsWith("/ui/")) return;
  e.preventDefault();
  const name = viewOf(url.pathname);
  if (url.pathname + url.search !== location.pathname + location.search) history.pushState(null, "", url.pathname + url.search);
  if (name !== current) show(name);
  else if (name === "search") search.fromURL(false);
  if (a.dataset.nav) $("#main").focus({ preventScroll: true });
});

window.addEventListener("popstate", () => {
  const name = viewOf(location.pathname);
  if (name !== current) show(name);
  else if (name === "search") search.fromURL(false);
});

// "/" focuses the search bar from anywhere but a text field.
document.addEventListener("keydown", (e) => {
  if (e.key !== "/" || e.ctrlKey || e.metaKey || e.altKey) return;
  const t = e.target;
  if (t.closest && t.closest("input, textarea, select, [contenteditable], dialog[open]")) return;
  e.preventDefault();
  if (current !== "search") {
    history.pushState(null, "", "/");
    show("search");
  }
  $("#q").focus();
  $("#q").select();
});

// The API key dialog: opened by a 401, or by the key button once a key is
// in use.
const keyDialog = $("#key-dialog");
let pendingKey = null;

function askKey(reason) {
  if (pendingKey) return pendingKey.promise;
  let resolveFn;
  const promise = new Promise((r) => (resolveFn = r));
  pendingKey = { promise, resolve: resolveFn };
  $("#key-reason").textContent = reason;
  $("#key-error").hidden = true;
  $("#key-input").value = "";
  if (!keyDialog.open) keyDialog.showModal();
  $("#key-input").focus();
  return promise;
}

function settleKey(ok) {
  const p = pendingKey;
  pendingKey = null;
  if (p) p.resolve(ok);
}

$("#key-form").addEventListener("submit", (e) => {
  e.preventDefault();
  const k = $("#key-input").value.trim();
  if (!k) return;
  setApiKey(k);
  $("#key-button").hidden = false;
  keyDialog.close();
  settleKey(true);
});
$("#key-forget").addEventListener("click", () => {
  setApiKey("");
  $("#key-button").hidden = true;
  keyDialog.close();
  settleKey(false);
});
keyDialog.addEventListener("close", () => settleKey(false));
$("#key-button").addEventListener("click", () =>
  askKey("The API key is kept in this browser tab only. Enter a new one, or forget it.").then((ok) => {
    if (ok) reloadView();
  }),
);

function reloadView() {
  if (current === "search") search.run();
  else alerts.refresh();
}

onUnauthorized((err) => {
  const had = !!apiKey();
  if (had) setApiKey("");
  return askKey(
    had
      ? "The API key was refused (" + err.message + "). Enter a valid key."
      : "This logengine requires an API key. It is kept in this browser tab only and sent with each request.",
  );
});

if (apiKey()) $("#key-button").hidden = false;
show(viewOf(location.pathname));
// The firing badge, kept fresh on every view.
setTimeout(() => alerts.pollFiring(), 1500);
setInterval(() => {
  if (!document.hidden && current !== "alerts") alerts.pollFiring();
}, 30000);
