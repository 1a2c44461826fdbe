// The REST API, as the UI calls it: the same paths the CLI uses (see /api/openapi.json).
// Every failure becomes an ApiError whose message is one readable line.

export class ApiError extends Error {
  constructor(status, message, data) {
    super(message);
    this.status = status;
    this.data = data;
  }
}

export function oneLine(text) {
  const line = String(text ?? "").split("\n").find((l) => l.trim()) ?? "";
  return line.length > 300 ? line.slice(0, 299) + "…" : line;
}

async function call(method, path, body) {
  const init = { method, credentials: "same-origin", headers: { Accept: "application/json" } };
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(path, init);
  } catch (e) {
    throw new ApiError(0, `can't reach the digpy server (${oneLine(e.message)})`);
  }
  const text = await response.text();
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = null;
  }
  if (!response.ok) {
    const message = data && typeof data.message === "string" ? data.message : `${response.status} ${response.statusText}`;
    throw new ApiError(response.status, oneLine(message) || `error ${response.status}`, data);
  }
  return data;
}

export const get = (path) => call("GET", path);
// Mutating requests are JSON sent with fetch from this origin (never a form post).
export const put = (path, body) => call("PUT", path, body ?? {});
export const post = (path, body) => call("POST", path, body ?? {});
export const del = (path) => call("DELETE", path);

// A plain-text read (task logs): the text (or with `bytes`, an ArrayBuffer) and the response's headers.
export async function getText(path, { bytes = false } = {}) {
  let response;
  try {
    response = await fetch(path, { credentials: "same-origin" });
  } catch (e) {
    throw new ApiError(0, `can't reach the digpy server (${oneLine(e.message)})`);
  }
  if (!response.ok) {
    let message = `${response.status} ${response.statusText}`;
    try {
      message = (await response.json()).message || message;
    } catch { /* not JSON */ }
    throw new ApiError(response.status, oneLine(message));
  }
  return { text: bytes ? await response.arrayBuffer() : await response.text(), headers: response.headers };
}

export function query(params) {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    if (value !== undefined && value !== null && value !== "" && value !== false) search.set(key, String(value));
  }
  const text = search.toString();
  return text ? "?" + text : "";
}

export const enc = encodeURIComponent;

// Server-sent events: `handlers` maps event names to functions of their JSON data. The browser
// reconnects by itself after a network error; `status` hears "live", "reconnecting" and "closed".
const open = new Set();
const statusListeners = new Set();

export function onLiveStatus(listener) {
  statusListeners.add(listener);
}

function tell() {
  const states = [...open].map((s) => s.state);
  const state = states.includes("reconnecting") ? "reconnecting" : states.length ? "live" : "closed";
  for (const listener of statusListeners) listener(state);
}

export function follow(path, handlers) {
  const source = new EventSource(path);
  const stream = { state: "live", close() { source.close(); open.delete(stream); tell(); } };
  open.add(stream);
  for (const [name, handler] of Object.entries(handlers)) {
    source.addEventListener(name, (event) => {
      stream.state = "live";
      handler(JSON.parse(event.data));
      tell();
    });
  }
  source.addEventListener("open", () => { stream.state = "live"; tell(); });
  source.addEventListener("error", () => {
    if (source.readyState === EventSource.CLOSED) {
      open.delete(stream);
    } else {
      stream.state = "reconnecting";
    }
    tell();
  });
  tell();
  return stream;
}
