// Page thumbnails of a PDF or TIFF, rendered by the gateway (POST /v1/documents/preview) with
// the user's key: the same renderer the extraction's pages come from, so what is shown is what
// the model reads. Each thumbnail is a toggle that adds its page to (or drops it from) the
// Pages field; typing in the field shows which thumbnails it selects.
import { send } from "./api.js";
import { fill, h } from "./dom.js";

const THUMBNAIL_SIDE = 192; // pixels of the longer side: sharp at 96 CSS px on a 2x screen
const PAGE_SIDE = 1024; // the preview's largest: pages shown with their grounding boxes

/** "1-3,5" → [1, 2, 3, 5] within 1..count; anything unreadable selects nothing. */
export function parsePages(text, count) {
  const chosen = new Set();
  if (!text.trim()) return chosen;
  for (const part of text.split(",")) {
    const match = /^\s*(\d+)\s*(?:(-)\s*(\d+)?\s*)?$/.exec(part);
    if (!match) return new Set();
    const start = Number(match[1]);
    const end = match[2] ? (match[3] ? Number(match[3]) : count) : start;
    for (let n = start; n <= Math.min(end, count); n += 1) chosen.add(n);
  }
  return chosen;
}

/** [1, 2, 3, 5] → "1-3,5" (the gateway's page-selection syntax). */
export function formatPages(numbers) {
  const sorted = [...numbers].sort((a, b) => a - b);
  const parts = [];
  for (let i = 0; i < sorted.length; ) {
    let j = i;
    while (j + 1 < sorted.length && sorted[j + 1] === sorted[j] + 1) j += 1;
    parts.push(i === j ? `${sorted[i]}` : `${sorted[i]}-${sorted[j]}`);
    i = j + 1;
  }
  return parts.join(",");
}

/** The thumbnail's bytes as a blob: URL (the page's CSP allows blob: images, not data:). */
function blobUrl(dataUrl) {
  const [head, encoded] = dataUrl.split(",", 2);
  const mime = /^data:([^;]+);base64$/.exec(head)?.[1] ?? "application/octet-stream";
  const bytes = Uint8Array.from(atob(encoded), (c) => c.charCodeAt(0));
  return URL.createObjectURL(new Blob([bytes], { type: mime }));
}

/**
 * `numbers`' pages of `file`, rendered by the gateway at PAGE_SIDE, as a Map from page number
 * to a blob: URL (the caller revokes them).
 */
export async function pagePictures(file, key, numbers) {
  const body = new FormData();
  body.append("image", file, file.name);
  body.append("max_side", String(PAGE_SIDE));
  body.append("pages", formatPages(numbers));
  const preview = await (await send("/v1/documents/preview", { key, method: "POST", form: body })).json();
  return new Map(preview.pages.map((page) => [page.page, blobUrl(page.image_url)]));
}

/**
 * Wires the thumbnail `list` (an <ol>), its `status` line and the `pages` input.
 * `onCount(count)` hears the document's page count once the gateway reports it.
 */
export function pageStrip({ list, status, pages, onCount = () => {} }) {
  let urls = [];
  let pending = null;
  let count = 0;

  const clear = (message = "") => {
    pending?.abort();
    pending = null;
    for (const url of urls) URL.revokeObjectURL(url);
    urls = [];
    count = 0;
    fill(list);
    list.hidden = true;
    status.textContent = message;
  };

  const mark = () => {
    const chosen = parsePages(pages.value, count);
    for (const button of list.querySelectorAll("button")) {
      button.setAttribute("aria-pressed", String(chosen.has(Number(button.dataset.page))));
    }
  };

  const toggle = (number) => {
    const chosen = parsePages(pages.value, count);
    if (chosen.has(number)) chosen.delete(number);
    else chosen.add(number);
    pages.value = formatPages(chosen);
    mark();
  };

  pages.addEventListener("input", mark);

  return {
    clear,
    /** Shows `file`'s pages, asking the gateway with `key`; a newer call cancels this one. */
    async show(file, key) {
      clear();
      if (!key) {
        status.textContent = "Enter a key with the 'extract' scope to see the pages.";
        return;
      }
      const controller = new AbortController();
      pending = controller;
      status.textContent = "Rendering page previews…";
      const body = new FormData();
      body.append("image", file, file.name);
      body.append("max_side", String(THUMBNAIL_SIDE));
      let preview;
      try {
        const response = await send("/v1/documents/preview", { key, method: "POST", form: body, signal: controller.signal });
        preview = await response.json();
      } catch (err) {
        if (controller.signal.aborted) return;
        pending = null;
        const param = err.param ? ` (${err.param})` : "";
        status.textContent = `No page previews: ${err.message}${param}`;
        return;
      }
      if (controller.signal.aborted) return;
      pending = null;
      count = preview.page_count;
      urls = preview.pages.map((page) => blobUrl(page.image_url));
      fill(
        list,
        preview.pages.map((page, i) =>
          h(
            "li",
            {},
            h(
              "button",
              { type: "button", class: "thumb", "aria-pressed": "false", dataset: { page: page.page }, onclick: () => toggle(page.page) },
              h("img", { src: urls[i], alt: `Page ${page.page}`, width: page.width, height: page.height }),
              h("span", {}, `${page.page}`),
            ),
          ),
        ),
      );
      list.hidden = false;
      const shown = preview.pages.length;
      status.textContent =
        shown < count
          ? `Showing the first ${shown} of ${count} pages. Choose pages to read below, or click a page.`
          : `Click pages to read only those; none chosen reads every page.`;
      mark();
      onCount(count);
    },
  };
}
