// The API key lives in this tab's sessionStorage only: never in a URL, a cookie or a log.
const SLOT = "vision-stack.api-key";

export function storedKey() {
  return sessionStorage.getItem(SLOT) || "";
}

export function storeKey(key) {
  sessionStorage.setItem(SLOT, key);
}

export function forgetKey() {
  sessionStorage.removeItem(SLOT);
}
