// Helpers for the query language of the API: quoting values, adding a
// filter to a query, and placing a syntax error.

// quoteValue writes a field value so that the lexer reads it back whole.
export function quoteValue(v) {
  const s = String(v);
  if (s !== "" && !/[\s()"*\\]/.test(s) && !/^[<>:]/.test(s) && !/^(AND|OR|NOT)$/.test(s)) return s;
  return '"' + s.replace(/[\\"]/g, (c) => "\\" + c) + '"';
}

// valueLabel shows a value of the API (a facet value, an aggregation key)
// so that values of different types stay apart: a string that would read
// as a number, a bool or null is quoted ("200" next to 200); other strings
// are shown bare; null, a missing field, is "(none)". The filter built from
// a value uses the value itself (term), never this label.
export function valueLabel(v) {
  if (v === null || v === undefined) return "(none)";
  if (typeof v !== "string") return JSON.stringify(v);
  let parsed;
  try {
    parsed = JSON.parse(v);
  } catch {
    return v;
  }
  return typeof parsed === "string" ? v : JSON.stringify(v);
}

const fieldNameRe = /^[\p{L}_@][\p{L}\p{N}_@.-]*$/u;

// term is the filter for one value of an entry's attribute.
// It is null for a name that the query language cannot write.
export function term(field, value, negate = false) {
  if (!fieldNameRe.test(field)) return null;
  return (negate ? "-" : "") + field + ":" + quoteValue(value);
}

// hasTopLevelOr reports whether q has an OR outside parentheses and quotes,
// in which case a term added at the end would bind to the last operand only.
export function hasTopLevelOr(q) {
  let depth = 0;
  let inQuote = false;
  for (let i = 0; i < q.length; i++) {
    const c = q[i];
    if (inQuote) {
      if (c === "\\") i++;
      else if (c === '"') inQuote = false;
      continue;
    }
    if (c === '"') inQuote = true;
    else if (c === "(") depth++;
    else if (c === ")") depth = Math.max(0, depth - 1);
    else if (depth === 0 && c === "O" && q[i + 1] === "R" && (i === 0 || /[\s()]/.test(q[i - 1])) && (i + 2 >= q.length || /[\s()]/.test(q[i + 2]))) return true;
  }
  return false;
}

// addTerm returns q narrowed by t (unchanged when it already has it).
export function addTerm(q, t) {
  const base = q.trim();
  if (!base) return t;
  if ((" " + base + " ").includes(" " + t + " ")) return base;
  return (hasTopLevelOr(base) ? "(" + base + ")" : base) + " " + t;
}

// errorPosition returns the 1-based character position a syntax error
// names, or 0.
export function errorPosition(msg) {
  const m = / at position (\d+)/.exec(msg || "");
  return m ? parseInt(m[1], 10) : 0;
}
