// The request the page just sent, as code to copy: curl and Python. The key is never written
// out: snippets read it from OPENAI_API_KEY, as `make dev`'s banner exports it.
import { h } from "./dom.js";

/** A shell word in single quotes. */
export const shellQuote = (text) => "'" + String(text).replaceAll("'", "'\\''") + "'";
/** A Python string literal (JSON's escapes are valid Python). */
export const pyString = (text) => JSON.stringify(String(text));

/**
 * Snippets for POST {path} as multipart: the file as the `image` part, `fields` as form fields
 * ([name, value] pairs, already in the request's order).
 */
export function extractSnippets({ origin, path, fileName, mime, fields }) {
  const url = origin + path;
  const curl = [
    `curl -sS ${shellQuote(url)}`,
    `  -H "Authorization: Bearer $OPENAI_API_KEY"`,
    `  -F ${shellQuote(`image=@${fileName};type=${mime}`)}`,
    ...fields.map(([name, value]) => `  --form-string ${shellQuote(`${name}=${value}`)}`),
  ].join(" \\\n");
  const data = fields.map(([name, value]) => `${pyString(name)}: ${pyString(value)}`).join(", ");
  const python = [
    "import os",
    "",
    "import httpx",
    "",
    `with open(${pyString(fileName)}, "rb") as file:`,
    "    response = httpx.post(",
    `        ${pyString(url)},`,
    `        headers={"Authorization": f"Bearer {os.environ['OPENAI_API_KEY']}"},`,
    `        files={"image": (${pyString(fileName)}, file, ${pyString(mime)})},`,
    `        data={${data}},`,
    "        timeout=600,",
    "    )",
    "response.raise_for_status()",
    "print(response.json())",
  ].join("\n");
  return [
    ["curl", curl],
    ["Python (httpx)", python],
    ["Python (openai)", extractSdkSnippet({ origin, path, fileName, mime, fields })],
  ];
}

const NUMBERS = new Set(["num_crops", "temperature", "seed", "max_tokens"]);

/** The same request as JSON through the openai SDK's `client.post`, the file as a data URL. */
function extractSdkSnippet({ origin, path, fileName, mime, fields }) {
  const value = ([name, text]) => {
    if (name === "schemas") return `[${text.split(",").map(pyString).join(", ")}]`;
    if (NUMBERS.has(name) && Number.isFinite(Number(text))) return String(Number(text));
    return pyString(text);
  };
  const body = [`"image_url": image`, ...fields.map((f) => `${pyString(f[0])}: ${value(f)}`)];
  return [
    "import base64",
    "",
    "from openai import OpenAI",
    "",
    `client = OpenAI(base_url=${pyString(origin + "/v1")})  # the key: OPENAI_API_KEY`,
    `with open(${pyString(fileName)}, "rb") as file:`,
    `    image = ${pyString(`data:${mime};base64,`)} + base64.b64encode(file.read()).decode()`,
    "answer = client.post(",
    `    ${pyString(path.replace(/^\/v1/, ""))},`,
    `    body={${body.join(", ")}},`,
    "    cast_to=object,",
    ")",
    "print(answer)",
  ].join("\n");
}

/** The streamed chat request as an openai SDK call (the image read from its file). */
export function chatSnippets({ origin, model, prompt, fileName, mime, maxTokens, temperature }) {
  const content = [];
  if (fileName) content.push('            {"type": "image_url", "image_url": {"url": image}},');
  content.push(`            {"type": "text", "text": ${pyString(prompt)}},`);
  const python = [
    fileName ? "import base64\n" : null,
    "from openai import OpenAI",
    "",
    `client = OpenAI(base_url=${pyString(origin + "/v1")})  # the key: OPENAI_API_KEY`,
    fileName
      ? `image = ${pyString(`data:${mime};base64,`)} + base64.b64encode(open(${pyString(fileName)}, "rb").read()).decode()`
      : null,
    "stream = client.chat.completions.create(",
    `    model=${pyString(model)},`,
    '    messages=[{"role": "user", "content": [',
    ...content,
    "    ]}],",
    `    max_tokens=${maxTokens},`,
    `    temperature=${temperature},`,
    "    stream=True,",
    ")",
    "for chunk in stream:",
    "    if chunk.choices and chunk.choices[0].delta.content:",
    '        print(chunk.choices[0].delta.content, end="", flush=True)',
  ].filter((line) => line !== null);
  return [["Python (openai)", python.join("\n")]];
}

async function copy(text, pre) {
  if (navigator.clipboard && window.isSecureContext) {
    await navigator.clipboard.writeText(text);
    return;
  }
  // http on a private network is no secure context: select the text for the user instead.
  const range = document.createRange();
  range.selectNodeContents(pre);
  const selection = window.getSelection();
  selection.removeAllRanges();
  selection.addRange(range);
  document.execCommand("copy");
}

/** [[title, code], ...] as figures with a Copy button each. */
export function renderSnippets(snippets) {
  return snippets.map(([title, code]) => {
    const pre = h("pre", { class: "code", tabindex: 0 }, h("code", {}, code));
    const status = h("span", { class: "copy-status", role: "status", "aria-live": "polite" });
    const button = h("button", {
      type: "button",
      class: "secondary small",
      "aria-label": `Copy the ${title} snippet`,
      text: "Copy",
      onclick: async () => {
        try {
          await copy(code, pre);
          status.textContent = "Copied";
        } catch (err) {
          status.textContent = `Copy failed: ${err.message}`;
        }
        setTimeout(() => (status.textContent = ""), 2000);
      },
    });
    return h("figure", { class: "snippet" }, h("figcaption", {}, h("span", {}, title), button, status), pre);
  });
}
