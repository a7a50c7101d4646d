// The gateway's public API, called with the user's key. Every failure becomes an ApiError
// carrying the gateway's OpenAI-style error fields (message, type, param, code).

export class ApiError extends Error {
  constructor(status, { message, type = null, param = null, code = null, details = null }, body) {
    super(message);
    this.body = body ?? { error: { message, type, param, code } };
    this.status = status;
    this.type = type;
    this.param = param;
    this.code = code;
    this.details = details;
  }
}

/** Reads the error envelope of a failed response; falls back to the status line. */
export async function errorOf(response) {
  const text = await response.text();
  try {
    const body = JSON.parse(text);
    if (body && typeof body.error === "object" && body.error !== null) {
      const fields = { ...body.error, message: String(body.error.message) };
      return new ApiError(response.status, fields, body);
    }
  } catch {
    // not JSON: use the text below
  }
  const message = text.trim().slice(0, 300) || `HTTP ${response.status} ${response.statusText}`;
  return new ApiError(response.status, { message });
}

/** fetch() with the key; resolves to the Response when it is 2xx, else throws ApiError. */
export async function send(path, { key, method = "GET", json, form, signal } = {}) {
  const headers = { Authorization: `Bearer ${key}` };
  let body;
  if (json !== undefined) {
    headers["Content-Type"] = "application/json";
    body = JSON.stringify(json);
  } else if (form !== undefined) {
    body = form; // the browser sets the multipart boundary
  }
  let response;
  try {
    response = await fetch(path, { method, headers, body, signal, cache: "no-store" });
  } catch (err) {
    if (err.name === "AbortError") throw err;
    throw new ApiError(0, { message: `could not reach the gateway (${err.message})` });
  }
  if (!response.ok) throw await errorOf(response);
  return response;
}

export async function getJson(path, options) {
  return (await send(path, options)).json();
}
