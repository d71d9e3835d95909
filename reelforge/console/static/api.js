// The one way the console talks to reelforge: fetch() against this server's documented endpoints, with
// the API key from sessionStorage (gone when the tab closes). Errors become ApiError(code, message, status).

const STORE = "reelforge.key";

export class ApiError extends Error {
  constructor(status, code, message, field) {
    super(message);
    this.status = status;
    this.code = code;
    this.field = field;
  }
}

export function savedKey() {
  return sessionStorage.getItem(STORE);
}

export function saveKey(secret) {
  sessionStorage.setItem(STORE, secret);
}

export function forgetKey() {
  sessionStorage.removeItem(STORE);
}

/** The error of any dialect's body: {error: {code, message}}, {code, message}, or AIVideoMaker's. */
function errorOf(status, body) {
  const inner = body && typeof body === "object" ? body.error ?? body : {};
  if (typeof inner === "string") return new ApiError(status, body.code ?? String(status), inner);
  const code = inner.code ?? inner.type ?? body?.code ?? `HTTP_${status}`;
  const message = inner.message ?? body?.msg ?? body?.message ?? `The server answered ${status}`;
  return new ApiError(status, String(code), String(message), inner.field ?? inner.param);
}

/** JSON request to `path`; resolves to the parsed body, rejects with ApiError. */
export async function api(path, { method = "GET", body, key = savedKey(), headers = {}, signal } = {}) {
  const sent = { ...headers };
  if (key) sent.authorization = `Bearer ${key}`;
  let payload;
  if (body instanceof FormData) payload = body;
  else if (body !== undefined) {
    sent["content-type"] = "application/json";
    payload = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(path, { method, headers: sent, body: payload, signal });
  } catch (err) {
    if (err.name === "AbortError") throw err;
    throw new ApiError(0, "NETWORK_ERROR", `The server could not be reached (${err.message})`);
  }
  const text = await response.text();
  let parsed = null;
  if (text) {
    try {
      parsed = JSON.parse(text);
    } catch {
      parsed = { message: text.slice(0, 300) };
    }
  }
  if (!response.ok) throw errorOf(response.status, parsed);
  return parsed;
}

/**
 * Server-sent events from `path` with the key in a header (EventSource cannot send one): calls
 * onEvent(name, data) per event until the stream ends or `signal` aborts. Resolves when it ends.
 */
export async function stream(path, onEvent, { signal } = {}) {
  const response = await fetch(path, {
    headers: { authorization: `Bearer ${savedKey()}`, accept: "text/event-stream" },
    signal,
  });
  if (!response.ok) {
    let parsed = null;
    try {
      parsed = await response.json();
    } catch {}
    throw errorOf(response.status, parsed);
  }
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += value;
    let cut;
    while ((cut = buffer.indexOf("\n\n")) >= 0) {
      const chunk = buffer.slice(0, cut);
      buffer = buffer.slice(cut + 2);
      let name = "message";
      const data = [];
      for (const line of chunk.split("\n")) {
        if (line.startsWith("event:")) name = line.slice(6).trim();
        else if (line.startsWith("data:")) data.push(line.slice(5).trimStart());
      }
      if (data.length) onEvent(name, JSON.parse(data.join("\n")));
    }
  }
}
