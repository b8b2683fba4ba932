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

const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

// TICK_UNITS are the calendar steps an axis may use, finest first, with
// their approximate length for choosing one. Ticks fall on round local
// times of the unit (midnight, the first of the month, New Year), so that
// labels of years, months or days name what they mark.
const TICK_UNITS = [
  ...[1, 2, 5, 10, 15, 30].map((n) => ({ unit: "second", n, ms: n * 1e3 })),
  ...[1, 2, 5, 10, 15, 30].map((n) => ({ unit: "minute", n, ms: n * 60e3 })),
  ...[1, 2, 3, 6, 12].map((n) => ({ unit: "hour", n, ms: n * 3600e3 })),
  ...[1, 2, 5, 10].map((n) => ({ unit: "day", n, ms: n * 86400e3 })),
  ...[1, 2, 3, 6].map((n) => ({ unit: "month", n, ms: n * 30.44 * 86400e3 })),
  ...[1, 2, 5, 10, 20, 50, 100, 200, 500, 1000].map((n) => ({ unit: "year", n, ms: n * 365.25 * 86400e3 })),
];

// floorTo returns the local start of the unit that holds ms.
function floorTo(ms, unit) {
  const d = new Date(ms);
  switch (unit) {
    case "year":
      d.setMonth(0, 1);
      d.setHours(0, 0, 0, 0);
      break;
    case "month":
      d.setDate(1);
      d.setHours(0, 0, 0, 0);
      break;
    case "day":
      d.setHours(0, 0, 0, 0);
      break;
    case "hour":
      d.setMinutes(0, 0, 0);
      break;
    case "minute":
      d.setSeconds(0, 0);
      break;
    default:
      d.setMilliseconds(0);
  }
  return d;
}

// onStep says whether a start of the unit is a tick of step n: its number
// in the next larger unit is a multiple of n. Days skip the 31st, which
// would sit next to the 1st.
function onStep(d, unit, n) {
  switch (unit) {
    case "year":
      return d.getFullYear() % n === 0;
    case "month":
      return d.getMonth() % n === 0;
    case "day":
      return n === 1 || ((d.getDate() - 1) % n === 0 && d.getDate() < 31);
    case "hour":
      return d.getHours() % n === 0;
    case "minute":
      return d.getMinutes() % n === 0;
  }
  return d.getSeconds() % n === 0;
}

function advance(d, unit) {
  switch (unit) {
    case "year":
      d.setFullYear(d.getFullYear() + 1);
      break;
    case "month":
      d.setMonth(d.getMonth() + 1);
      break;
    case "day":
      d.setDate(d.getDate() + 1);
      break;
    case "hour":
      d.setTime(d.getTime() + 3600e3);
      break;
    case "minute":
      d.setTime(d.getTime() + 60e3);
      break;
    default:
      d.setTime(d.getTime() + 1e3);
  }
}

// tickLabel names a tick by its unit; where a tick starts a larger unit it
// names that instead (a date at midnight, a year in January), so that
// reading left to right tells where the day or year changes.
function tickLabel(d, unit, first) {
  const hm = p2(d.getHours()) + ":" + p2(d.getMinutes());
  const day = MONTHS[d.getMonth()] + " " + d.getDate();
  switch (unit) {
    case "year":
      return String(d.getFullYear());
    case "month":
      return d.getMonth() === 0 || first ? MONTHS[d.getMonth()] + " " + d.getFullYear() : MONTHS[d.getMonth()];
    case "day":
      return d.getDate() === 1 && d.getMonth() === 0 ? day + " " + d.getFullYear() : day;
    case "second":
      return d.getHours() + d.getMinutes() + d.getSeconds() === 0 ? day : hm + ":" + p2(d.getSeconds());
  }
  return d.getHours() + d.getMinutes() === 0 ? day : hm;
}

// timeTicks chooses the ticks of a time axis from x0 to x1 (epoch ms):
// the finest calendar step giving at most want ticks, each with a short
// label, its full local time and the unit, in time order.
export function timeTicks(x0, x1, want) {
  const span = x1 - x0;
  if (!(span > 0) || !(want >= 1)) return [];
  const step = TICK_UNITS.find((u) => span / u.ms <= want) || TICK_UNITS[TICK_UNITS.length - 1];
  const out = [];
  const d = floorTo(x0, step.unit);
  // Bounded: a step's approximate length is never more than twice its
  // shortest, so the candidates are at most a few times want * n.
  for (let i = 0; d.getTime() <= x1 && i < 4 * (want + 2) * step.n; i++) {
    const t = d.getTime();
    if (t >= x0 && onStep(d, step.unit, step.n)) {
      out.push({ t, label: tickLabel(d, step.unit, out.length === 0), full: fmtTime(t).slice(0, 19), unit: step.unit });
    }
    advance(d, step.unit);
  }
  return out;
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
