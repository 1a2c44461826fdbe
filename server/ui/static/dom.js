// Building the page: elements, times, durations.

const SVG = "http://www.w3.org/2000/svg";

// h("a.link", {href: "/x", onclick: f}, "text", child, ...): an element with classes, attributes,
// listeners (on...) and children (strings become text). "svg:rect" makes an SVG element.
export function h(spec, props = {}, ...children) {
  let [tag, ...classes] = spec.split(".");
  const svg = tag.startsWith("svg:");
  const node = svg ? document.createElementNS(SVG, tag.slice(4)) : document.createElement(tag || "div");
  if (classes.length) node.setAttribute("class", classes.join(" "));
  for (const [key, value] of Object.entries(props || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith("on") && typeof value === "function") node.addEventListener(key.slice(2), value);
    else if (key === "class") node.setAttribute("class", [node.getAttribute("class"), value].filter(Boolean).join(" "));
    else if (key === "text") node.textContent = value;
    else if (key === "style" && typeof value === "object") Object.assign(node.style, value);
    else if (key in node && !svg && typeof value !== "string") node[key] = value;
    else node.setAttribute(key, value === true ? "" : String(value));
  }
  append(node, children);
  return node;
}

function append(node, children) {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) append(node, child);
    else node.append(child instanceof Node ? child : String(child));
  }
}

export function clear(node, ...children) {
  node.replaceChildren();
  append(node, children);
  return node;
}

export function parseTime(iso) {
  return iso ? new Date(iso).getTime() / 1000 : null;
}

const pad = (n) => String(n).padStart(2, "0");

// A time in the browser's zone: 2026-01-31 10:20:30.
export function fmtTime(iso) {
  if (!iso) return "";
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

export function fmtDuration(seconds) {
  if (seconds === null || seconds === undefined || Number.isNaN(seconds)) return "";
  if (seconds < 0) seconds = 0;
  if (seconds < 60) return `${Math.round(seconds)} s`;
  const m = Math.floor(seconds / 60);
  if (m < 60) return `${m} min ${Math.round(seconds % 60)} s`;
  const hours = Math.floor(m / 60);
  if (hours < 48) return `${hours} h ${m % 60} min`;
  return `${Math.floor(hours / 24)} d ${hours % 24} h`;
}

export function ago(iso) {
  const t = parseTime(iso);
  return t === null ? "" : fmtDuration(Date.now() / 1000 - t) + " ago";
}

export function json(value) {
  return JSON.stringify(value, null, 2);
}

export function short(value, length = 80) {
  const text = typeof value === "string" ? value : JSON.stringify(value);
  if (!text || text === "{}" || text === "[]") return "";
  return text.length > length ? text.slice(0, length - 1) + "…" : text;
}

export function title(...parts) {
  document.title = [...parts.filter(Boolean), "digpy"].join(" · ");
}

// A link to a page of the UI.
export function link(href, text, cls) {
  return h("a", { href, class: cls }, text);
}

export function field(label, value) {
  return [h("dt", {}, label), h("dd", {}, value ?? "")];
}

// Tabs whose choice lives in the URL (?tab=NAME): shareable, and the back button works.
export function tabs(container, names, current, onChange) {
  const list = h("div.tabs", { role: "tablist" });
  const buttons = names.map(([name, label], i) => h("button.tab", {
    role: "tab", type: "button", id: `tab-${name}`, "aria-selected": String(name === current),
    tabindex: name === current ? "0" : "-1", title: `${label} (${i + 1})`,
    onclick: () => choose(name),
    onkeydown: (e) => {
      const j = names.findIndex(([n]) => n === name);
      if (e.key === "ArrowRight" || e.key === "ArrowLeft") {
        const next = names[(j + (e.key === "ArrowRight" ? 1 : names.length - 1)) % names.length][0];
        choose(next);
        list.querySelector(`#tab-${next}`).focus();
      }
    },
  }, label));
  function choose(name) {
    for (const b of buttons) {
      const on = b.id === `tab-${name}`;
      b.setAttribute("aria-selected", String(on));
      b.tabIndex = on ? 0 : -1;
    }
    const url = new URL(location.href);
    url.searchParams.set("tab", name);
    history.replaceState(null, "", url);
    onChange(name);
  }
  list.append(...buttons);
  container.append(list);
  return { choose, names: names.map(([n]) => n) };
}

// A line that says what happened (an action's outcome, an error): role=status, read out by screen readers.
export function notice(node, text, kind = "info", extra) {
  clear(node, h(`span.notice.${kind}`, { role: kind === "error" ? "alert" : "status" }, text), extra ?? null);
}

export function isTyping(event) {
  const t = event.target;
  return t && (t.isContentEditable || ["INPUT", "TEXTAREA", "SELECT"].includes(t.tagName));
}
