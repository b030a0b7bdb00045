// The node's own API, same origin only. Counts the bytes fetched (for the cost figures).
export const stats = { requests: 0, bytes: 0 };

// A district node serves the page of each community under /c/{origin}/: API paths are
// taken relative to the page's folder ("" on a single-community node at /).
const BASE = globalThis.location ? new URL(".", globalThis.location.href).pathname.replace(/\/$/, "") : "";
const at = (path) => (path.startsWith("/") ? BASE + path : path);

export class ApiError extends Error {
  constructor(path, status, detail) {
    super(`${path}: ${status} ${detail}`);
    this.status = status;
    this.detail = detail;
  }
}

async function get(path) {
  const res = await fetch(at(path), { cache: "no-store", headers: { accept: "application/json, text/plain" } });
  const buf = new Uint8Array(await res.arrayBuffer());
  stats.requests += 1;
  stats.bytes += buf.length;
  if (!res.ok) {
    let detail = res.statusText;
    try {
      detail = JSON.parse(new TextDecoder().decode(buf)).detail ?? detail;
    } catch {
      /* not problem+json */
    }
    throw new ApiError(path, res.status, detail);
  }
  return { res, buf };
}

export async function getJson(path) {
  const { buf } = await get(path);
  return JSON.parse(new TextDecoder().decode(buf));
}

export async function getText(path) {
  const { buf } = await get(path);
  return new TextDecoder().decode(buf);
}

export async function getBytes(path) {
  return (await get(path)).buf;
}

/** GET that also returns the status for endpoints like /healthz that answer 503 with a body. */
export async function getJsonAnyStatus(path) {
  const res = await fetch(at(path), { cache: "no-store" });
  const buf = new Uint8Array(await res.arrayBuffer());
  stats.requests += 1;
  stats.bytes += buf.length;
  return { status: res.status, body: JSON.parse(new TextDecoder().decode(buf)) };
}

export async function postJson(path, value) {
  const res = await fetch(at(path), { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(value) });
  const body = await res.json().catch(() => ({}));
  if (!res.ok) throw new ApiError(path, res.status, body.detail ?? res.statusText);
  return body;
}
