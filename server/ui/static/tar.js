// The files of a project revision: its tar.gz archive (GET /api/projects/{id}/archive) read in the
// browser with its own gzip decoder (DecompressionStream) and the tar format's 512-byte headers.

import { ApiError } from "./api.js";

function field(bytes, start, length) {
  let end = start;
  while (end < start + length && bytes[end] !== 0) end++;
  return new TextDecoder().decode(bytes.subarray(start, end));
}

function octal(bytes, start, length) {
  const text = field(bytes, start, length).trim();
  return text ? parseInt(text, 8) : 0;
}

// "path=..." records of a pax extended header.
function pax(bytes) {
  const out = {};
  const text = new TextDecoder().decode(bytes);
  let i = 0;
  while (i < text.length) {
    const space = text.indexOf(" ", i);
    const length = parseInt(text.slice(i, space), 10);
    if (!(length > 0)) break;
    const record = text.slice(space + 1, i + length - 1);
    const eq = record.indexOf("=");
    out[record.slice(0, eq)] = record.slice(eq + 1);
    i += length;
  }
  return out;
}

// [{path, data: Uint8Array}] of the regular files, in archive order.
export function untar(bytes) {
  const files = [];
  let offset = 0;
  let longName = null;
  while (offset + 512 <= bytes.length) {
    const header = bytes.subarray(offset, offset + 512);
    if (header.every((b) => b === 0)) break;
    const size = octal(header, 124, 12);
    const type = String.fromCharCode(header[156] || 48);
    const body = bytes.subarray(offset + 512, offset + 512 + size);
    offset += 512 + Math.ceil(size / 512) * 512;
    if (type === "x") { longName = pax(body).path ?? longName; continue; }
    if (type === "L") { longName = field(body, 0, body.length); continue; }
    if (type === "g") continue;
    let path = longName ?? (field(header, 345, 155) ? field(header, 345, 155) + "/" : "") + field(header, 0, 100);
    longName = null;
    path = path.replace(/^\.\//, "");
    if ((type === "0" || type === "\0" || type === "7") && path) files.push({ path, data: body });
  }
  return files;
}

export async function revisionFiles(projectId, revision) {
  const url = `/api/projects/${projectId}/archive${revision ? "?revision=" + encodeURIComponent(revision) : ""}`;
  const response = await fetch(url, { credentials: "same-origin" });
  if (!response.ok) {
    let message = `${response.status} ${response.statusText}`;
    try { message = (await response.json()).message || message; } catch { /* not JSON */ }
    throw new ApiError(response.status, message);
  }
  const raw = response.body.pipeThrough(new DecompressionStream("gzip"));
  const bytes = new Uint8Array(await new Response(raw).arrayBuffer());
  return untar(bytes);
}

export function asText(data) {
  return new TextDecoder("utf-8", { fatal: false }).decode(data);
}
