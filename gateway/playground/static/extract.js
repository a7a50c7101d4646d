// The Extract tab: a file, one or several schemas from GET /v1/schemas, options; the answer
// of POST /v1/extract/{name} (one schema) or POST /v1/extract (several) as a form, raw JSON
// beside it, and the same request as curl and Python.
import { ApiError, getJson, send } from "./api.js";
import { byId, fill, h } from "./dom.js";
import { filePicker, isDocument } from "./files.js";
import { showWhere } from "./grounding.js";
import { pagePictures, pageStrip } from "./pages.js";
import { pageCount, renderError, renderResponse } from "./render.js";
import { extractSnippets, renderSnippets } from "./snippets.js";

/** Ticked when the schemas are listed: the generic kind, which reads any image. Ticking
 *  another schema first replaces it (tick it again to run both). */
const DEFAULT_SCHEMA = "image_insight";

/** Form fields in the order they are sent; empty ones are left out. */
const OPTIONS = [
  ["hint", "extract-hint"],
  ["num_crops", "extract-crops"],
  ["pages", "extract-pages"],
  ["temperature", "extract-temperature"],
  ["seed", "extract-seed"],
  ["max_tokens", "extract-max-tokens"],
];

export function setupExtract(currentKey, ensureKey) {
  const form = byId("extract-form");
  const status = byId("extract-status");
  const errorBox = byId("extract-error");
  const answer = byId("extract-answer");
  const raw = byId("extract-raw");
  const schemaList = byId("schema-list");
  const schemaStatus = byId("schema-status");
  const crops = byId("extract-crops");
  const pages = byId("extract-pages");
  let schemas = [];
  let pictures = []; // blob: URLs of the pages shown with grounding boxes
  let defaultOnly = false; // only the default is ticked, and the user has not touched it

  const describePages = (count) => picker.setNote(`${count} page${count === 1 ? "" : "s"}`);
  const strip = pageStrip({
    list: byId("extract-thumbs"),
    status: byId("extract-thumbs-status"),
    pages,
    onCount: describePages,
  });

  const picker = filePicker({
    input: byId("extract-file"),
    zone: byId("extract-drop"),
    figure: byId("extract-preview"),
    img: byId("extract-preview-img"),
    caption: byId("extract-preview-caption"),
    onChange: async (file) => {
      const paged = Boolean(file && isDocument(file));
      pages.disabled = !paged;
      pages.value = "";
      if (!paged) strip.clear();
      // A key typed but not yet used is checked now: it lists the schemas (and the pages).
      const key = await ensureKey();
      if (paged && picker.file() === file) strip.show(file, key);
    },
  });

  // A key accepted after the document was picked: its pages can be shown now.
  const showPages = () => {
    const file = picker.file();
    if (file && isDocument(file)) strip.show(file, currentKey());
  };

  const chosen = () => [...schemaList.querySelectorAll("input:checked")].map((box) => box.value);

  // The crop count the gateway will use when none is given: the schemas' largest.
  const showDefaultCrops = () => {
    const picked = schemas.filter((s) => chosen().includes(s.name));
    crops.placeholder = picked.length
      ? `default ${Math.max(...picked.map((s) => s.num_crops))}`
      : "schema default";
  };

  const picked = (event) => {
    const box = event.target;
    if (defaultOnly && box.checked && box.value !== DEFAULT_SCHEMA) {
      const preset = schemaList.querySelector(`input[value="${DEFAULT_SCHEMA}"]`);
      if (preset) preset.checked = false;
    }
    defaultOnly = false;
    showDefaultCrops();
  };

  const showSchemas = (list) => {
    const before = new Set(chosen());
    const names = new Set(list.map((schema) => schema.name));
    const keep = [...before].some((name) => names.has(name));
    defaultOnly = !keep && names.has(DEFAULT_SCHEMA);
    const ticked = (name) => (keep ? before.has(name) : name === DEFAULT_SCHEMA);
    schemas = list;
    schemaStatus.textContent = `${list.length} schemas: pick one or several.`;
    fill(
      schemaList,
      list.map((schema) =>
        h(
          "label",
          { class: "schema" },
          h("input", {
            type: "checkbox",
            name: "schema",
            value: schema.name,
            checked: ticked(schema.name),
            onchange: picked,
          }),
          h("span", {}, h("strong", {}, schema.name), " ", h("span", { class: "muted" }, schema.description)),
        ),
      ),
    );
    showDefaultCrops();
  };

  const fields = () =>
    OPTIONS.map(([name, id]) => [name, byId(id)])
      .filter(([, input]) => !input.disabled && input.value.trim() !== "")
      .map(([name, input]) => [name, input.value.trim()]);

  const fail = (err) => {
    fill(errorBox, renderError(err, err.status || null));
    raw.textContent = JSON.stringify(err.body ?? { error: { message: err.message } }, null, 2);
  };

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    fill(errorBox);
    // A key typed but not yet used is checked first; that also lists the schemas.
    const key = await ensureKey();
    const file = picker.file();
    const names = chosen();
    if (!key) return fail(new ApiError(0, { message: "enter a valid API key first", param: "key" }));
    if (!file) return fail(new ApiError(0, { message: "choose an image or a PDF first", param: "image" }));
    if (names.length === 0) return fail(new ApiError(0, { message: "pick at least one schema", param: "schemas" }));

    const sent = fields();
    if (names.length > 1) sent.push(["schemas", names.join(",")]);
    const path = names.length === 1 ? `/v1/extract/${encodeURIComponent(names[0])}` : "/v1/extract";
    const body = new FormData();
    body.append("image", file, file.name);
    for (const [name, value] of sent) body.append(name, value);

    const snippets = extractSnippets({
      origin: location.origin,
      path,
      fileName: file.name,
      mime: file.type || "application/octet-stream",
      fields: sent,
    });
    fill(byId("extract-snippet-list"), renderSnippets(snippets));
    byId("extract-snippets").hidden = false;

    const run = byId("extract-run");
    run.disabled = true;
    form.setAttribute("aria-busy", "true");
    status.textContent = `Running ${names.join(", ")}…`;
    fill(answer, h("p", { class: "muted" }, "Waiting for the answer…"));
    for (const url of pictures) URL.revokeObjectURL(url);
    pictures = [];
    raw.textContent = "";
    const started = performance.now();
    try {
      const result = await (await send(path, { key, method: "POST", form: body })).json();
      const seconds = ((performance.now() - started) / 1000).toFixed(1);
      fill(answer, renderResponse(result));
      raw.textContent = JSON.stringify(result, null, 2);
      // An image is its own page 1; a document's pages come from the gateway's renderer.
      // Several schemas share the pages: each is fetched once.
      const cache = new Map();
      const pictureOf = async (numbers) => {
        const missing = numbers.filter((n) => !cache.has(n));
        if (missing.length) {
          const shown = isDocument(file)
            ? await pagePictures(file, key, missing)
            : new Map([[1, URL.createObjectURL(file)]]);
          for (const [n, url] of shown) cache.set(n, url);
          pictures.push(...shown.values());
        }
        return cache;
      };
      await showWhere(answer, pictureOf);
      const count = pageCount(result);
      if (count !== null) describePages(count);
      status.textContent = `Done in ${seconds} s.`;
    } catch (err) {
      fill(answer, h("p", { class: "muted" }, "No answer."));
      status.textContent = "The request failed.";
      fail(err);
    } finally {
      run.disabled = false;
      form.removeAttribute("aria-busy");
    }
  });

  return {
    async load(key) {
      schemaStatus.textContent = "Loading schemas…";
      try {
        showSchemas((await getJson("/v1/schemas", { key })).data);
        showPages();
      } catch (err) {
        fill(schemaList);
        schemas = [];
        schemaStatus.textContent = `Cannot list schemas: ${err.message}`;
      }
    },
    reset(message) {
      fill(schemaList);
      schemas = [];
      schemaStatus.textContent = message;
    },
  };
}
