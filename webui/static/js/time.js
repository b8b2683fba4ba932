// Time ranges and formatting.

export const PRESETS = {
  "15m": 15 * 60e3,
  "1h": 3600e3,
  "6h": 6 * 3600e3,
  "24h": 24 * 3600e3,
  "7d": 7 * 24 * 3600e3,
  all: 0,
};

// resolve turns the range state into absolute epoch milliseconds; from or
// to is null where the range is open ("all").
export function resolve(range, now = Date.now()) {
  if (range.preset === "custom") return { from: range.from ?? null, to: range.to ?? null };
  const span = PRESETS[range.preset];
  if (!span) return { from: null, to: null };
  return { from: now - span, to: now };
}

// parseTS reads an RFC 3339 timestamp of any precision into epoch ms.
export function parseTS(s) {
  if (typeof s === "number") return s;
  const m = /^(.*T\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)$/.exec(s);
  if (!m) return Date.parse(s);
  const frac = (m[2] || "").padEnd(3, "0").slice(0, 3);
  return Date.parse(m[1] + "." + frac + m[3]);
}

const p2 = (n) => (n < 10 ? "0" : "") + n;
const p3 = (n) => (n < 10 ? "00" : n < 100 ? "0" : "") + n;

// fmtTime is the local time with milliseconds, e.g. 2026-11-26 10:00:00.123.
export function fmtTime(ms) {
  const d = new Date(ms);
  return (
    d.getFullYear() + "-" + p2(d.getMonth() + 1) + "-" + p2(d.getDate()) + " " +
    p2(d.getHours()) + ":" + p2(d.getMinutes()) + ":" + p2(d.getSeconds()) + "." + p3(d.getMilliseconds())
  );
}

// fmtShort is a compact local time for axes and lists.
export function fmtShort(ms, spanMs) {
  const d = new Date(ms);
  const hm = p2(d.getHours()) + ":" + p2(d.getMinutes());
  if (spanMs <= 120e3) return hm + ":" + p2(d.getSeconds());
  if (spanMs <= 2 * 86400e3 && d.getHours() + d.getMinutes() !== 0) return hm;
  return d.toLocaleDateString(undefined, { month: "short", day: "numeric" }) + (spanMs <= 8 * 86400e3 && (d.getHours() || d.getMinutes()) ? " " + hm : "");
}

// toLocalInput formats epoch ms for <input type="datetime-local" step="1">.
export function toLocalInput(ms) {
  if (ms == null) return "";
  const d = new Date(ms);
  return (
    d.getFullYear() + "-" + p2(d.getMonth() + 1) + "-" + p2(d.getDate()) + "T" +
    p2(d.getHours()) + ":" + p2(d.getMinutes()) + ":" + p2(d.getSeconds())
  );
}

export function fromLocalInput(v) {
  if (!v) return null;
  const ms = new Date(v).getTime();
  return Number.isFinite(ms) ? ms : null;
}

// INTERVALS are the histogram intervals offered, with their API names.
const INTERVALS = [
  [1e3, "1s"], [2e3, "2s"], [5e3, "5s"], [10e3, "10s"], [15e3, "15s"], [30e3, "30s"],
  [60e3, "1m"], [120e3, "2m"], [300e3, "5m"], [600e3, "10m"], [900e3, "15m"], [1800e3, "30m"],
  [3600e3, "1h"], [2 * 3600e3, "2h"], [3 * 3600e3, "3h"], [6 * 3600e3, "6h"], [12 * 3600e3, "12h"],
  [86400e3, "1d"], [2 * 86400e3, "2d"], [7 * 86400e3, "7d"], [14 * 86400e3, "14d"], [30 * 86400e3, "30d"],
  [90 * 86400e3, "90d"], [365 * 86400e3, "365d"],
];

// pickInterval chooses the smallest listed interval giving at most
// maxBuckets buckets over the span.
export function pickInterval(spanMs, maxBuckets) {
  for (const [ms, name] of INTERVALS) if (spanMs / ms <= maxBuckets) return name;
  return INTERVALS[INTERVALS.length - 1][1];
}

export function parseDuration(s) {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h|d|w)$/.exec(String(s).trim());
  if (!m) return NaN;
  const unit = { ms: 1, s: 1e3, m: 60e3, h: 3600e3, d: 86400e3, w: 7 * 86400e3 }[m[2]];
  return parseFloat(m[1]) * unit;
}

// ago says how long ago ms was, roughly.
export function ago(ms, now = Date.now()) {
  const s = Math.round((now - ms) / 1000);
  if (s < 5) return "just now";
  if (s < 60) return s + "s ago";
  if (s < 3600) return Math.floor(s / 60) + "m ago";
  if (s < 86400) return Math.floor(s / 3600) + "h " + (Math.floor(s / 60) % 60) + "m ago";
  return Math.floor(s / 86400) + "d ago";
}
