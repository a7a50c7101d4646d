// The playground's entry point: the key (checked with GET /v1/me, kept in sessionStorage),
// the tabs, and the two panels. Everything the page does goes through the public API.
// A key typed into the box counts without "Use key": it is checked when a file is picked or
// a panel sends a request (ensureKey), as if "Use key" had been pressed.
import { getJson } from "./api.js";
import { byId, fill, h } from "./dom.js";
import { setupChat } from "./chat.js";
import { setupExtract } from "./extract.js";
import { forgetKey, storedKey, storeKey } from "./key.js";
import { setupTabs } from "./tabs.js";

let key = "";
const currentKey = () => key;
const keyStatus = byId("key-status");
const keyInput = byId("key-input");
const extract = setupExtract(currentKey, ensureKey);
const chat = setupChat(ensureKey);
setupTabs(document.querySelector('[role="tablist"]'));
let checking = null; // the check in flight: { candidate, done }

/** Checks a key once, however many callers ask for it while the check is in flight. */
function useKey(candidate) {
  if (checking?.candidate === candidate) return checking.done;
  const done = checkKey(candidate).finally(() => {
    if (checking?.done === done) checking = null;
  });
  checking = { candidate, done };
  return done;
}

/** The key to send: the accepted one, or the one typed into the box once it is checked. */
async function ensureKey() {
  const typed = keyInput.value.trim();
  if (typed && typed !== key) await useKey(typed);
  return key;
}

async function checkKey(candidate) {
  key = "";
  chat.reset();
  keyStatus.dataset.state = "checking";
  fill(keyStatus, "Checking the key…");
  try {
    const me = await getJson("/v1/me", { key: candidate });
    key = candidate;
    storeKey(candidate);
    keyStatus.dataset.state = "accepted";
    fill(
      keyStatus,
      `Key “${me.name}” (${me.prefix}…) may use: `,
      me.scopes.length
        ? me.scopes.map((scope) => [h("span", { class: "scope" }, scope), " "])
        : h("em", {}, "nothing (no scopes)"),
    );
    if (me.scopes.includes("extract")) await extract.load(candidate);
    else extract.reset("This key lacks the 'extract' scope, so it cannot list or run schemas.");
  } catch (err) {
    forgetKey();
    keyStatus.dataset.state = "refused";
    fill(keyStatus, h("strong", {}, "Refused"), err.status ? ` (HTTP ${err.status})` : "", `: ${err.message}`);
    extract.reset("Enter a valid key to list the schemas.");
  }
}

byId("key-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const candidate = keyInput.value.trim();
  if (candidate) useKey(candidate);
});

byId("key-forget").addEventListener("click", () => {
  forgetKey();
  key = "";
  keyInput.value = "";
  chat.reset();
  keyStatus.dataset.state = "";
  fill(keyStatus, "Key forgotten. Paste a key to continue.");
  extract.reset("Enter a key to list the schemas.");
});

const saved = storedKey();
if (saved) {
  keyInput.value = saved;
  useKey(saved);
}
