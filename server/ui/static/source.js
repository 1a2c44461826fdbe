// A text file with line numbers (a workflow's source, a file of a revision); lines have ids (L12)
// that links and the graph point at.

import { h } from "./dom.js";

const MAX_LINES = 20000;

export function sourceView(text, { name } = {}) {
  const lines = text.split("\n");
  if (lines.length > 1 && lines[lines.length - 1] === "") lines.pop();
  const shown = lines.slice(0, MAX_LINES);
  const box = h("div.source", { role: "region", "aria-label": name ? `Source of ${name}` : "Source", tabindex: "0" },
    h("pre", {}, h("code", {}, shown.map((line, i) => h("span.line", { id: `L${i + 1}` },
      h("a.ln", { href: `#L${i + 1}`, "aria-hidden": "true", tabindex: "-1" }, String(i + 1)), line + "\n")))));
  if (lines.length > MAX_LINES) box.append(h("p.muted", {}, `… ${lines.length - MAX_LINES} more lines (download the archive to read them).`));
  return box;
}

export function highlightLine(box, line) {
  for (const old of box.querySelectorAll(".line.hl")) old.classList.remove("hl");
  const target = box.querySelector(`#L${line}`);
  if (target) {
    target.classList.add("hl");
    target.scrollIntoView({ block: "center" });
  }
}

export function isBinary(data) {
  const end = Math.min(data.length, 8000);
  for (let i = 0; i < end; i++) if (data[i] === 0) return true;
  return false;
}
