// Where each value was found: the response's `grounding` (JSON Pointer → {page, boxes, text,
// source, score} or null) drawn as boxes over the page the model read, for a person checking
// the answer against the document.
//
// renderOutcome leaves an empty <figure class="where"> carrying the outcome's grounding;
// `showWhere` fills it with the pages that have boxes, once their pictures are at hand (the
// image itself, or the gateway's own page renderings of a PDF or TIFF). A field's row and its
// boxes highlight each other on hover and on keyboard focus. Boxes are fractions of the page
// as displayed, origin top-left, so they are placed in percent and hold at any size.
import { fill, h } from "./dom.js";

const GROUNDING = new WeakMap();
const HIGHLIGHT = "grounding-on";

const isObject = (v) => v !== null && typeof v === "object" && !Array.isArray(v);

/** The empty figure renderOutcome places; `showWhere` fills it later. */
export function wherePlaceholder(grounding) {
  const figure = h("figure", { class: "where", hidden: true });
  GROUNDING.set(figure, grounding);
  return figure;
}

/** The pages that carry at least one box, in order. */
export function groundedPages(grounding) {
  const pages = new Set();
  for (const entry of Object.values(grounding)) {
    if (isObject(entry) && Number.isInteger(entry.page) && Array.isArray(entry.boxes) && entry.boxes.length) {
      pages.add(entry.page);
    }
  }
  return [...pages].sort((a, b) => a - b);
}

function box(pointer, entry, rect) {
  const [x0, y0, x1, y1] = rect.map(Number);
  const node = h("span", {
    class: "gbox",
    tabindex: 0,
    role: "img",
    "aria-label": `${pointer}: “${entry.text ?? ""}” (${entry.source ?? "?"}, score ${Number(entry.score ?? 0).toFixed(2)})`,
    title: `${pointer}: ${entry.text ?? ""}`,
    dataset: { pointer },
  });
  // CSSOM, not a style attribute: the page's CSP allows no inline style.
  node.style.left = `${x0 * 100}%`;
  node.style.top = `${y0 * 100}%`;
  node.style.width = `${Math.max(0, x1 - x0) * 100}%`;
  node.style.height = `${Math.max(0, y1 - y0) * 100}%`;
  return node;
}

function pageView(number, url, grounding) {
  const boxes = [];
  for (const [pointer, entry] of Object.entries(grounding)) {
    if (!isObject(entry) || entry.page !== number || !Array.isArray(entry.boxes)) continue;
    for (const rect of entry.boxes) if (Array.isArray(rect) && rect.length === 4) boxes.push(box(pointer, entry, rect));
  }
  return h(
    "div",
    { class: "where-page", role: "group", "aria-label": `Page ${number}: where the values were found` },
    h("img", { src: url, alt: `Page ${number}` }),
    boxes,
  );
}

function marked(container, pointer, on) {
  for (const node of container.querySelectorAll("[data-pointer]")) {
    if (node.dataset.pointer === pointer) node.classList.toggle(HIGHLIGHT, on);
  }
}

/** A field's row and its boxes light up together, within one outcome. */
function linkHighlights(outcome) {
  if (outcome.dataset.groundingLinked) return;
  outcome.dataset.groundingLinked = "1";
  const toggle = (on) => (event) => {
    const target = event.target.closest?.("[data-pointer]");
    if (target && outcome.contains(target)) marked(outcome, target.dataset.pointer, on);
  };
  outcome.addEventListener("mouseover", toggle(true));
  outcome.addEventListener("mouseout", toggle(false));
  outcome.addEventListener("focusin", toggle(true));
  outcome.addEventListener("focusout", toggle(false));
}

/**
 * Fills every grounding figure under `root`. `pictureOf(numbers)` resolves to a Map from page
 * number to an image URL (a blob: URL); pages it cannot show are left out, with a note.
 */
export async function showWhere(root, pictureOf) {
  for (const figure of root.querySelectorAll("figure.where")) {
    const grounding = GROUNDING.get(figure);
    if (!isObject(grounding)) continue;
    const numbers = groundedPages(grounding);
    const outcome = figure.closest(".outcome") ?? root;
    linkHighlights(outcome);
    if (numbers.length === 0) continue;
    let pictures;
    try {
      pictures = await pictureOf(numbers);
    } catch (err) {
      fill(figure, h("figcaption", { class: "help" }, `Cannot show where the values were found: ${err.message}`));
      figure.hidden = false;
      continue;
    }
    const shown = numbers.filter((n) => pictures.has(n));
    fill(
      figure,
      h("figcaption", {}, "Where each value was found (hover or focus a field or a box)"),
      shown.map((n) => pageView(n, pictures.get(n), grounding)),
    );
    figure.hidden = false;
  }
}
