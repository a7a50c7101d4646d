// An extraction response as a readable form: one row per field, lists of objects as tables,
// each value marked by its confidence and by the checks that name it.
//
// The response grows fields over time (confidence, checks, review, pages, ...). What is known
// gets its own rendering; anything else is shown generically under "Other fields", so a new
// field never breaks the page. Every value is set as text, never as markup.
import { h } from "./dom.js";
import { wherePlaceholder } from "./grounding.js";

const KNOWN = new Set([
  "id", "object", "schema", "model", "data", "finish_reason", "usage",
  "confidence", "checks", "review", "review_reasons", "pages", "status", "error", "page",
  "grounding", "grounding_engine", "grounding_note",
]);
const STATUS_SYMBOL = { pass: "✓", fail: "✗", skipped: "–" };

const isObject = (v) => v !== null && typeof v === "object" && !Array.isArray(v);
const isTable = (v) => Array.isArray(v) && v.length > 0 && v.every(isObject);

/** "line_items" → "Line items"; list indexes stay numbers. */
export function label(key) {
  const text = String(key).replaceAll("_", " ").trim();
  return text ? text[0].toUpperCase() + text.slice(1) : String(key);
}

/** JSON Pointer (RFC 6901) of a path of keys and indexes. */
export function pointer(parts) {
  return parts.map((p) => "/" + String(p).replaceAll("~", "~0").replaceAll("/", "~1")).join("");
}

/** A check's field name as a pointer: "/a/0/b", "a[0].b", "a.0.b" and "data.a" all work. */
export function fieldPointer(field) {
  const text = String(field);
  if (text === "" || text.startsWith("/")) return text;
  const parts = text.replace(/\[(\d+)\]/g, ".$1").split(".").filter((p) => p !== "");
  if (parts[0] === "data") parts.shift();
  return pointer(parts);
}

export function confidenceLevel(value) {
  if (value >= 0.9) return "high";
  if (value >= 0.6) return "medium";
  return "low";
}

function confidenceBadge(ctx, at) {
  const value = ctx.confidence?.[at];
  if (typeof value !== "number" || !Number.isFinite(value)) return null;
  const level = confidenceLevel(value);
  return h(
    "span",
    { class: `conf conf-${level}`, title: `confidence ${value.toFixed(3)} (${level})` },
    h("span", { class: "visually-hidden" }, "confidence "),
    `${Math.round(value * 100)}%`,
  );
}

function checkMarks(ctx, at) {
  return (ctx.marks.get(at) || []).map((check) =>
    h(
      "span",
      { class: `mark mark-${check.status}`, title: `check ${check.name}: ${check.status}` },
      `${STATUS_SYMBOL[check.status] ?? "?"} ${check.name}`,
    ),
  );
}

/** "p. 1" for a value found on the page; a warning for a transcribed value that is not there. */
function groundingMark(ctx, at) {
  if (!ctx.grounding || !(at in ctx.grounding)) return null;
  const entry = ctx.grounding[at];
  if (!isObject(entry)) {
    return h("span", { class: "mark mark-ungrounded", title: "not found on the page" }, "⚠ not on page");
  }
  return h(
    "span",
    { class: "where-mark", title: `found on page ${entry.page}: “${entry.text ?? ""}” (${entry.source ?? "?"})` },
    `p. ${entry.page}`,
  );
}

function leaf(value, parts, ctx) {
  const at = pointer(parts);
  let text;
  if (value === null || value === undefined) text = "—";
  else if (Array.isArray(value)) text = "(none)"; // an empty list: none printed, scored too
  else if (typeof value === "boolean") text = value ? "yes" : "no";
  else text = String(value);
  const empty = value === null || value === undefined;
  const grounded = Boolean(ctx.grounding && at in ctx.grounding);
  return h(
    "span",
    { class: grounded ? "leaf grounded" : "leaf", dataset: { pointer: at }, tabindex: grounded ? 0 : null },
    h("span", { class: empty ? "value empty" : "value" }, text),
    empty ? h("span", { class: "visually-hidden" }, " (empty)") : null,
    confidenceBadge(ctx, at),
    checkMarks(ctx, at),
    groundingMark(ctx, at),
  );
}

function objectTable(value, parts, ctx, caption) {
  const keys = Object.keys(value);
  if (keys.length === 0) return h("em", { class: "muted" }, "(no fields)");
  return h(
    "table",
    { class: "fields" },
    caption ? h("caption", { class: "visually-hidden" }, caption) : null,
    h(
      "tbody",
      {},
      keys.map((key) => {
        const childParts = [...parts, key];
        const at = pointer(childParts);
        const child = value[key];
        const container = isObject(child) || Array.isArray(child);
        const name = h("th", { scope: "row" }, label(key), container ? checkMarks(ctx, at) : null);
        const body = renderValue(child, childParts, ctx, label(key));
        if (isTable(child)) {
          // A table gets the form's whole width, under its name.
          return [
            h("tr", { class: "table-name", dataset: { field: at } }, name, h("td", {})),
            h("tr", { class: "table-row" }, h("td", { colspan: 2 }, body)),
          ];
        }
        return h("tr", { dataset: { field: at } }, name, h("td", {}, body));
      }),
    ),
  );
}

function listTable(items, parts, ctx, caption) {
  const columns = [];
  for (const item of items) for (const key of Object.keys(item)) if (!columns.includes(key)) columns.push(key);
  return h(
    "div",
    { class: "table-scroll", tabindex: 0, role: "group", "aria-label": caption || "list" },
    h(
      "table",
      { class: "list" },
      caption ? h("caption", { class: "visually-hidden" }, caption) : null,
      h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "#"), columns.map((c) => h("th", { scope: "col" }, label(c))))),
      h(
        "tbody",
        {},
        items.map((item, i) =>
          h(
            "tr",
            {},
            h("th", { scope: "row" }, String(i + 1)),
            columns.map((c) => h("td", {}, c in item ? renderValue(item[c], [...parts, i, c], ctx, label(c)) : "")),
          ),
        ),
      ),
    ),
  );
}

/** Any JSON value, as a form (objects), a table (lists of objects), a list, or text. */
export function renderValue(value, parts = [], ctx = emptyContext(), caption = "") {
  if (isObject(value)) return objectTable(value, parts, ctx, caption);
  if (Array.isArray(value)) {
    if (value.length === 0) return leaf(value, parts, ctx);
    if (isTable(value)) return listTable(value, parts, ctx, caption);
    return h("ol", { class: "values" }, value.map((item, i) => h("li", {}, renderValue(item, [...parts, i], ctx))));
  }
  return leaf(value, parts, ctx);
}

function emptyContext() {
  return { confidence: null, marks: new Map(), grounding: null };
}

function contextOf(outcome) {
  const marks = new Map();
  for (const check of Array.isArray(outcome.checks) ? outcome.checks : []) {
    if (!isObject(check)) continue;
    const fields = Array.isArray(check.fields) ? check.fields : check.fields ? [check.fields] : [];
    for (const field of fields) {
      const at = fieldPointer(field);
      marks.set(at, [...(marks.get(at) || []), { name: String(check.name ?? "check"), status: String(check.status ?? "") }]);
    }
  }
  return {
    confidence: isObject(outcome.confidence) ? outcome.confidence : null,
    marks,
    grounding: isObject(outcome.grounding) ? outcome.grounding : null,
  };
}

function statusBadge(status) {
  return h("span", { class: `badge badge-${status}` }, `${STATUS_SYMBOL[status] ?? "?"} ${status}`);
}

function checksTable(checks) {
  return h(
    "div",
    { class: "table-scroll", tabindex: 0, role: "group", "aria-label": "Checks" },
    h(
      "table",
      { class: "list checks" },
      h("caption", {}, "Checks"),
      h("thead", {}, h("tr", {}, ["Status", "Check", "Fields", "Message"].map((t) => h("th", { scope: "col" }, t)))),
      h(
        "tbody",
        {},
        checks.map((check) =>
          isObject(check)
            ? h(
                "tr",
                { class: `check-${check.status}` },
                h("td", {}, statusBadge(String(check.status ?? "?"))),
                h("th", { scope: "row" }, String(check.name ?? "")),
                h("td", {}, (Array.isArray(check.fields) ? check.fields : [check.fields ?? ""]).map((f, i) => [i ? ", " : "", h("code", {}, String(f))])),
                h("td", {}, String(check.message ?? "")),
              )
            : h("tr", {}, h("td", { colspan: 4 }, JSON.stringify(check))),
        ),
      ),
    ),
  );
}

function reviewBanner(review, reasons) {
  if (!review) {
    return h("p", { class: "review review-no" }, "✓ No review needed: every check passed and every field is confident.");
  }
  const listed = Array.isArray(reasons) ? reasons.filter(isObject) : [];
  return h(
    "div",
    { class: "review review-yes" },
    h("p", {}, listed.length ? "⚠ Needs review:" : "⚠ Needs review: a check failed or a field's confidence is low."),
    listed.length
      ? h(
          "ul",
          { class: "review-reasons" },
          listed.map((r) => h("li", { "data-kind": String(r.kind ?? "") }, String(r.message ?? r.subject ?? ""))),
        )
      : null,
  );
}

/** The OpenAI-style error of a request or of one schema: message, param, code, details. */
export function renderError(error, status) {
  const title = [status ? `HTTP ${status}` : null, error.type, error.code].filter(Boolean).join(" · ");
  return h(
    "div",
    { class: "error", role: "alert" },
    h("p", { class: "error-title" }, title || "Error"),
    h("p", { class: "error-message" }, String(error.message ?? "unknown error")),
    error.param ? h("p", { class: "error-param" }, "param: ", h("code", {}, String(error.param))) : null,
    isObject(error.details)
      ? h("details", {}, h("summary", {}, "Details"), h("pre", { class: "code" }, JSON.stringify(error.details, null, 2)))
      : null,
  );
}

function meta(outcome) {
  const items = [];
  if (outcome.schema) items.push(["Schema", outcome.schema]);
  if (outcome.finish_reason) items.push(["Finish", outcome.finish_reason]);
  if (isObject(outcome.usage)) {
    const u = outcome.usage;
    items.push(["Tokens", `${u.prompt_tokens ?? "?"} in, ${u.completion_tokens ?? "?"} out`]);
  }
  if (isObject(outcome.grounding_engine)) {
    items.push(["OCR", `${outcome.grounding_engine.name ?? "?"} ${outcome.grounding_engine.version ?? ""}`.trim()]);
  }
  if (outcome.grounding_note) items.push(["Grounding", outcome.grounding_note]);
  if (items.length === 0) return null;
  return h("dl", { class: "meta" }, items.map(([k, v]) => h("div", {}, h("dt", {}, k), h("dd", {}, String(v)))));
}

/** One typed answer (a single-schema response, one schema of several, or one page). */
export function renderOutcome(outcome, headingLevel = 4) {
  const ctx = contextOf(outcome);
  const heading = (text) => h(`h${Math.min(headingLevel, 6)}`, {}, text);
  const hasPages = Array.isArray(outcome.pages);
  const parts = [];
  if (typeof outcome.review === "boolean") parts.push(reviewBanner(outcome.review, outcome.review_reasons));
  if (isObject(outcome.error)) parts.push(renderError(outcome.error, outcome.status));
  if (outcome.data !== undefined && outcome.data !== null) {
    if (hasPages) parts.push(heading("Whole document"));
    parts.push(h("div", { class: "data" }, renderValue(outcome.data, [], ctx, "Extracted fields")));
    // The document's own boxes cover its pages (through provenance); a page section needs none.
    if (ctx.grounding && outcome.page === undefined) parts.push(wherePlaceholder(ctx.grounding));
  }
  if (Array.isArray(outcome.checks) && outcome.checks.length > 0) parts.push(checksTable(outcome.checks));
  if (hasPages) {
    outcome.pages.forEach((page, i) => {
      const number = isObject(page) && page.page !== undefined ? page.page : i + 1;
      parts.push(
        h(
          "section",
          { class: "page", "aria-label": `Page ${number}` },
          heading(`Page ${number}`),
          isObject(page) ? renderOutcome(page, headingLevel + 1) : renderValue(page),
        ),
      );
    });
  }
  parts.push(meta(outcome));
  const other = Object.fromEntries(Object.entries(outcome).filter(([k]) => !KNOWN.has(k)));
  if (Object.keys(other).length > 0) {
    parts.push(h("section", { class: "other" }, heading("Other fields"), renderValue(other)));
  }
  return h("div", { class: "outcome" }, parts);
}

/** A whole response of POST /v1/extract/{name} or POST /v1/extract. */
export function renderResponse(body) {
  if (!isObject(body)) return renderValue(body);
  if (isObject(body.results)) {
    return h(
      "div",
      { class: "multi" },
      Object.entries(body.results).map(([name, outcome]) =>
        h(
          "section",
          { class: "schema-result", "aria-label": `Schema ${name}` },
          h("h4", {}, name, isObject(outcome) && outcome.status ? h("span", { class: "muted" }, ` · HTTP ${outcome.status}`) : null),
          isObject(outcome) ? renderOutcome(outcome, 5) : renderValue(outcome),
        ),
      ),
      Object.keys(body).some((k) => !["object", "model", "results"].includes(k))
        ? h("section", { class: "other" }, h("h4", {}, "Other fields"),
            renderValue(Object.fromEntries(Object.entries(body).filter(([k]) => !["object", "model", "results"].includes(k)))))
        : null,
    );
  }
  return renderOutcome(body);
}

/** How many pages the answer covers, if it says (a PDF's pages: the page count to show). */
export function pageCount(body) {
  if (!isObject(body)) return null;
  if (Number.isInteger(body.page_count)) return body.page_count;
  if (Array.isArray(body.pages)) return body.pages.length;
  if (isObject(body.results)) {
    for (const outcome of Object.values(body.results)) if (isObject(outcome) && Array.isArray(outcome.pages)) return outcome.pages.length;
  }
  return null;
}
