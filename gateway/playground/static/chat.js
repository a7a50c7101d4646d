// The Chat tab: an image and a prompt to POST /v1/chat/completions with `stream: true`; the
// answer is appended token by token as the server-sent events arrive, with time to first
// token and tokens/s measured here, in the browser, the way a user experiences them.
import { ApiError, getJson, send } from "./api.js";
import { byId, fill } from "./dom.js";
import { filePicker, readAsDataUrl } from "./files.js";
import { renderError } from "./render.js";
import { chatSnippets, renderSnippets } from "./snippets.js";
import { sseData } from "./sse.js";

export function setupChat(ensureKey) {
  const form = byId("chat-form");
  const output = byId("chat-output");
  const status = byId("chat-status");
  const errorBox = byId("chat-error");
  const sendButton = byId("chat-send");
  const stopButton = byId("chat-stop");
  const ttft = byId("chat-ttft");
  const rate = byId("chat-rate");
  const tokens = byId("chat-tokens");
  let model = null;
  let abort = null;

  const picker = filePicker({
    input: byId("chat-file"),
    zone: byId("chat-drop"),
    figure: byId("chat-preview"),
    img: byId("chat-preview-img"),
    caption: byId("chat-preview-caption"),
  });

  const modelName = async (key) => {
    model ??= (await getJson("/v1/models", { key })).data[0].id;
    return model;
  };

  stopButton.addEventListener("click", () => abort?.abort());

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    fill(errorBox);
    const key = await ensureKey();
    const prompt = byId("chat-prompt").value.trim();
    if (!key) return fill(errorBox, renderError({ message: "enter a valid API key first", param: "key" }));
    if (!prompt) return fill(errorBox, renderError({ message: "write a prompt first", param: "prompt" }));
    const file = picker.file();
    const maxTokens = Number(byId("chat-max-tokens").value || 64);
    const temperature = Number(byId("chat-temperature").value || 0);

    sendButton.disabled = true;
    stopButton.disabled = false;
    abort = new AbortController();
    const text = document.createTextNode("");
    fill(output, text);
    output.setAttribute("aria-busy", "true");
    for (const dd of [ttft, rate, tokens]) dd.textContent = "–";
    status.textContent = "Sending…";
    let first = null;
    let chunks = 0;
    let usage = null;
    let finish = null;
    let started = null;
    try {
      const content = [{ type: "text", text: prompt }];
      if (file) content.unshift({ type: "image_url", image_url: { url: await readAsDataUrl(file) } });
      const name = await modelName(key);
      const request = {
        model: name,
        messages: [{ role: "user", content }],
        max_tokens: maxTokens,
        temperature,
        stream: true,
        stream_options: { include_usage: true },
      };
      fill(
        byId("chat-snippet-list"),
        renderSnippets(
          chatSnippets({
            origin: location.origin, model: name, prompt, maxTokens, temperature,
            fileName: file?.name, mime: file?.type,
          }),
        ),
      );
      byId("chat-snippets").hidden = false;
      started = performance.now(); // TTFT counts from the request, not from reading the file
      const response = await send("/v1/chat/completions", { key, method: "POST", json: request, signal: abort.signal });
      status.textContent = "Streaming…";
      for await (const data of sseData(response.body)) {
        if (data === "[DONE]") break;
        const chunk = JSON.parse(data);
        if (chunk.error) throw new ApiError(chunk.error.code ?? 0, chunk.error, chunk); // in-band error
        if (chunk.usage) usage = chunk.usage;
        for (const choice of chunk.choices ?? []) {
          const piece = choice.delta?.content;
          if (piece) {
            first ??= performance.now();
            chunks += 1;
            text.appendData(piece);
            ttft.textContent = `${Math.round(first - started)} ms`;
            tokens.textContent = String(chunks);
          }
          finish = choice.finish_reason ?? finish;
        }
      }
      const end = performance.now();
      const count = usage?.completion_tokens ?? chunks;
      tokens.textContent = String(count);
      // Decode speed: the tokens after the first, over the time after the first.
      if (first !== null && count > 1 && end > first) rate.textContent = ((count - 1) / ((end - first) / 1000)).toFixed(1);
      status.textContent = `Done (${finish ?? "stream ended"}) in ${((end - started) / 1000).toFixed(2)} s.`;
    } catch (err) {
      if (err.name === "AbortError") {
        status.textContent = "Stopped.";
      } else {
        status.textContent = "The request failed.";
        fill(errorBox, renderError(err, err.status || null));
      }
    } finally {
      output.setAttribute("aria-busy", "false");
      sendButton.disabled = false;
      stopButton.disabled = true;
      abort = null;
    }
  });

  return {
    reset() {
      model = null;
    },
  };
}
