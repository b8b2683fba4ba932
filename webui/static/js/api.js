// The HTTP API client: JSON requests with the API key of this tab, errors
// as ApiError, and the live tail read from a streamed response (EventSource
// cannot send an Authorization header).

const KEY = "logengine.apiKey";

// memoryKey backs sessionStorage when the browser refuses storage.
let memoryKey = "";

export class ApiError extends Error {
  constructor(status, message, body) {
    super(message);
    this.status = status;
    this.body = body;
  }
}

export function apiKey() {
  try {
    return sessionStorage.getItem(KEY) || "";
  } catch {
    return "";
  }
}

export function setApiKey(k) {
  try {
    if (k) sessionStorage.setItem(KEY, k);
    else sessionStorage.removeItem(KEY);
  } catch {
    // Storage may be disabled; the key then lasts until the page is left.
  }
  memoryKey = k;
}

// onUnauthorized is called with the ApiError of a 401 and returns a
// promise that settles once a new key was entered (true) or refused (false).
let unauthorizedHandler = null;
export function onUnauthorized(fn) {
  unauthorizedHandler = fn;
}

function headers(extra) {
  const h = new Headers(extra || {});
  const k = apiKey() || memoryKey;
  if (k) h.set("Authorization", "Bearer " + k);
  return h;
}

async function errorOf(resp) {
  let body = null;
  let msg = resp.status + " " + resp.statusText;
  try {
    body = await resp.json();
    if (body && body.error) msg = body.error;
  } catch {
    // not JSON: keep the status line
  }
  return new ApiError(resp.status, msg, body);
}

// request sends one API call; on 401 it asks for a key and retries until
// one is accepted or the user gives up.
export async function request(method, path, { params, body, signal } = {}) {
  let url = path;
  if (params) {
    const sp = new URLSearchParams();
    for (const [k, v] of Object.entries(params)) {
      if (v !== undefined && v !== null && v !== "") sp.set(k, String(v));
    }
    const s = sp.toString();
    if (s) url += "?" + s;
  }
  for (;;) {
    const init = { method, headers: headers(), signal, cache: "no-store" };
    if (body !== undefined) {
      init.body = JSON.stringify(body);
      init.headers.set("Content-Type", "application/json");
    }
    const resp = await fetch(url, init);
    if (resp.ok) {
      if (resp.status === 204) return null;
      const text = await resp.text();
      return text ? JSON.parse(text) : null;
    }
    const err = await errorOf(resp);
    if (resp.status === 401 && unauthorizedHandler && (await unauthorizedHandler(err))) continue;
    throw err;
  }
}

export const get = (path, params, signal) => request("GET", path, { params, signal });

// download saves the answer of a GET as a file. Without an API key the
// browser fetches the link itself, streaming to disk however large the
// answer; with a key (which a link cannot carry) the answer is read into
// memory first and saved from there.
export async function download(url, filename) {
  const save = (href) => {
    const a = document.createElement("a");
    a.href = href;
    a.download = filename;
    document.body.append(a);
    a.click();
    a.remove();
  };
  if (!(apiKey() || memoryKey)) {
    save(url);
    return;
  }
  for (;;) {
    const resp = await fetch(url, { headers: headers(), cache: "no-store" });
    if (resp.ok) {
      const blobURL = URL.createObjectURL(await resp.blob());
      save(blobURL);
      setTimeout(() => URL.revokeObjectURL(blobURL), 60e3);
      return;
    }
    const err = await errorOf(resp);
    if (resp.status === 401 && unauthorizedHandler && (await unauthorizedHandler(err))) continue;
    throw err;
  }
}

// withParams builds a path with the parameters that are set.
export function withParams(path, params) {
  const sp = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v !== undefined && v !== null && v !== "") sp.set(k, String(v));
  }
  const s = sp.toString();
  return s ? path + "?" + s : path;
}

// tail follows /api/v1/tail: onEntry gets each entry, onOpen is called once
// the stream is established, and the promise resolves with the reason of
// the final "end" event (or "closed" when the connection just ended).
export async function tail(q, { signal, onEntry, onOpen }) {
  for (;;) {
    const resp = await fetch("/api/v1/tail?" + new URLSearchParams({ q }), {
      headers: headers({ Accept: "text/event-stream" }),
      signal,
      cache: "no-store",
    });
    if (!resp.ok) {
      const err = await errorOf(resp);
      if (resp.status === 401 && unauthorizedHandler && (await unauthorizedHandler(err))) continue;
      throw err;
    }
    if (onOpen) onOpen();
    const reader = resp.body.pipeThrough(new TextDecoderStream()).getReader();
    let buf = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return "closed";
      buf += value;
      let cut;
      while ((cut = buf.indexOf("\n\n")) >= 0) {
        const block = buf.slice(0, cut);
        buf = buf.slice(cut + 2);
        let event = "message";
        const data = [];
        for (const line of block.split("\n")) {
          if (line.startsWith(":")) continue;
          const i = line.indexOf(":");
          const field = i < 0 ? line : line.slice(0, i);
          let v = i < 0 ? "" : line.slice(i + 1);
          if (v.startsWith(" ")) v = v.slice(1);
          if (field === "event") event = v;
          else if (field === "data") data.push(v);
        }
        if (!data.length) continue;
        const payload = JSON.parse(data.join("\n"));
        if (event === "log") onEntry(payload);
        else if (event === "end") {
          reader.cancel().catch(() => {});
          return payload.reason || "ended";
        }
      }
    }
  }
}
