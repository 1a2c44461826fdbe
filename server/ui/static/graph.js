// The task graph, drawn as SVG: a group is a box holding its children; children that run one
// after another stand in rows top to bottom, joined by arrows; `_parallel` children stand side by
// side in one row; an `_error` / `_check` handler hangs beside its task on a dashed line. Groups
// too large to draw whole are folded into one box that counts its tasks by state (unfold: + or a
// double click). Live changes recolour the boxes in place; new tasks redraw the graph.

import { h } from "./dom.js";
import { stateInfo } from "./states.js";
import { isHandler } from "./tree.js";

const CW = 7.2; // width of a character of the 12px monospace labels
const HANDLER_GAP = 70; // room for the "on error" line
const LEAF_H = 40, FOLDED_H = 48, HEADER = 26, PAD = 10, GAP = 16, MARGIN = 12;
const MIN_W = 110, MAX_W = 300;
export const BUDGET = 300; // boxes drawn at first; larger groups start folded

function clip(text, chars) {
  return text.length > chars ? text.slice(0, chars - 1) + "…" : text;
}

function operatorLine(task) {
  const config = task.config || {};
  if (!config._type) return "";
  const command = config._command;
  const text = command === undefined ? "" : typeof command === "string" ? command : JSON.stringify(command);
  return `${config._type}>${text ? ": " + text : ""}`;
}

function isParallel(task) {
  const p = (task.config || {})._parallel;
  return p !== undefined && p !== false && p !== "false" && p !== null;
}

export class TaskGraph {
  // options: onSelect(node), live (states shown), root (a full name to draw from)
  constructor(container, tree, options = {}) {
    this.container = container;
    this.tree = tree;
    this.options = options;
    this.zoom = 1;
    this.elements = new Map(); // id -> <g>
    this.selected = null;
    this.rootName = options.root || null;
    this.drawnVersion = -1;
    this.svg = null;
    this.scroller = h("div.graph-scroll", { tabindex: "-1" });
    const zoomButton = (label, text, f) => h("button.small", { type: "button", title: label, "aria-label": label, onclick: f }, text);
    this.toolbar = h("div.graph-tools", {},
      zoomButton("Zoom out", "−", () => this.setZoom(this.zoom / 1.25)),
      zoomButton("Zoom in", "+", () => this.setZoom(this.zoom * 1.25)),
      zoomButton("Actual size", "1:1", () => this.setZoom(1)),
      zoomButton("Unfold every group", "Unfold all", () => this.foldAll(false)),
      zoomButton("Fold every group", "Fold all", () => this.foldAll(true)),
      h("span.legend", {}, "Enter: details · +/−: unfold/fold a group"));
    container.append(this.toolbar, this.scroller);
  }

  get root() {
    return (this.rootName && this.tree.byName.get(this.rootName)) || this.tree.root;
  }

  setRoot(fullName) {
    this.rootName = fullName;
    this.draw();
  }

  setZoom(zoom) {
    this.zoom = Math.min(3, Math.max(0.2, zoom));
    if (this.svg) {
      this.svg.setAttribute("width", String(Math.ceil(this.width * this.zoom)));
      this.svg.setAttribute("height", String(Math.ceil(this.height * this.zoom)));
    }
  }

  foldAll(folded) {
    if (!folded && this.tree.size > 2000 && !confirm(`Draw all ${this.tree.size} tasks? This may take a while.`)) return;
    for (const node of this.tree.byId.values()) if (node.children.length) node.userFolded = folded;
    if (this.root) this.root.userFolded = false;
    this.draw();
  }

  // Decide, for groups nobody folded or unfolded by hand, which start folded: breadth first,
  // unfold while the boxes drawn stay within BUDGET.
  autoFold() {
    const root = this.root;
    if (!root) return;
    let shown = 1;
    const queue = [root];
    while (queue.length) {
      const node = queue.shift();
      if (!node.children.length) continue;
      if (node.userFolded !== undefined) {
        node.collapsed = node.userFolded;
      } else {
        node.collapsed = node !== root && shown + node.children.length > BUDGET;
      }
      if (!node.collapsed) {
        shown += node.children.length;
        queue.push(...node.children);
      }
    }
  }

  draw() {
    const root = this.root;
    this.elements.clear();
    if (!root) {
      this.scroller.replaceChildren(h("p.muted", {}, "No tasks yet."));
      return;
    }
    this.drawnVersion = this.tree.version;
    this.autoFold();
    measure(root);
    place(root, MARGIN, MARGIN);
    this.width = root.uw + 2 * MARGIN;
    this.height = root.uh + 2 * MARGIN;
    const svg = h("svg:svg", { class: "graph", viewBox: `0 0 ${this.width} ${this.height}`, role: "group",
      "aria-label": "Task graph" });
    const defs = h("svg:defs", {}, h("svg:marker", { id: "arrow", viewBox: "0 0 10 10", refX: "9", refY: "5",
      markerWidth: "7", markerHeight: "7", orient: "auto-start-reverse" }, h("svg:path", { d: "M0,0 L10,5 L0,10 z", class: "arrowhead" })));
    svg.append(defs);
    const edges = h("svg:g", { class: "edges" });
    const boxes = h("svg:g", { class: "boxes" });
    svg.append(edges, boxes);
    const visit = (node) => {
      boxes.append(this.box(node));
      if (node.expanded) {
        drawEdges(node, edges);
        for (const child of node.inner) visit(child);
      }
      for (const handler of node.handlers) {
        drawHandlerEdge(node, handler, edges);
        visit(handler);
      }
    };
    visit(root);
    this.svg = svg;
    this.scroller.replaceChildren(svg);
    this.setZoom(this.zoom);
    if (this.selected) this.highlight(this.selected);
  }

  box(node) {
    const task = node.task;
    const live = this.options.live;
    const info = live ? stateInfo(shown(task)) : null;
    const folded = node.inner.length > 0 && node.collapsed;
    const group = node.expanded;
    const kind = group ? "grp" : folded ? "node folded" : "node";
    const g = h("svg:g", {
      class: `${kind}${live ? " tone-" + info.tone + " st-" + shown(task) : ""}${isHandler(node) ? " handler" : ""}`,
      transform: `translate(${node.x},${node.y})`, tabindex: "0", role: "button", "data-id": node.id,
      "data-name": task.fullName, "aria-label": label(node, info),
    });
    g.append(h("svg:title", {}, label(node, info)));
    g.append(h("svg:rect", { width: node.w, height: node.h, rx: group ? 8 : 6, class: "frame" }));
    const chars = Math.floor((node.w - 30) / CW);
    const symbol = live ? info.symbol + " " : "";
    g.append(h("svg:text", { x: 10, y: 17, class: "name" }, clip(symbol + node.name + headerNote(node), chars)));
    if (!group) {
      const second = folded ? summary(node) : operatorLine(task) || (live ? info.label : "");
      g.append(h("svg:text", { x: 10, y: 33, class: "sub" }, clip(second, chars)));
    }
    if (node.inner.length && node !== this.root) {
      g.append(h("svg:text", { x: node.w - 16, y: 17, class: "fold", "aria-hidden": "true" }, folded ? "+" : "−"));
    }
    g.addEventListener("click", (event) => {
      event.stopPropagation();
      if (event.target.classList?.contains("fold")) return this.toggle(node);
      this.select(node);
    });
    g.addEventListener("dblclick", (event) => {
      event.stopPropagation();
      if (node.inner.length) this.toggle(node);
    });
    g.addEventListener("keydown", (event) => {
      if (event.key === "Enter" || event.key === " ") { event.preventDefault(); event.stopPropagation(); this.select(node); }
      else if ((event.key === "+" || event.key === "=") && node.collapsed) { event.stopPropagation(); this.toggle(node); }
      else if (event.key === "-" && node.inner.length && !node.collapsed && node !== this.root) { event.stopPropagation(); this.toggle(node); }
    });
    this.elements.set(node.id, g);
    return g;
  }

  toggle(node) {
    node.userFolded = !node.collapsed;
    this.draw();
    const again = this.elements.get(node.id);
    if (again) again.focus();
  }

  select(node) {
    this.selected = node;
    this.highlight(node);
    if (this.options.onSelect) this.options.onSelect(node);
  }

  highlight(node) {
    for (const g of this.svg?.querySelectorAll(".selected") ?? []) g.classList.remove("selected");
    let shown = node;
    while (shown && !this.elements.has(shown.id)) shown = shown.parent; // inside a folded group
    const g = shown && this.elements.get(shown.id);
    if (g) {
      g.classList.add("selected");
      if (typeof g.scrollIntoView === "function") g.scrollIntoView({ block: "nearest", inline: "nearest" });
    }
  }

  // Tasks changed (already merged into the tree): recolour, or redraw when the shape changed.
  update(changed) {
    if (this.tree.version !== this.drawnVersion) {
      this.scheduleDraw();
      return;
    }
    const folded = new Set();
    for (const task of changed) {
      const node = this.tree.byId.get(task.id);
      if (!node) continue;
      const g = this.elements.get(node.id);
      if (g && !(node.inner?.length && node.collapsed)) {
        this.recolour(node, g);
      }
      for (let p = node.parent; p; p = p.parent) if (p.collapsed && p.inner?.length && this.elements.has(p.id)) folded.add(p);
      if (g && node.collapsed && node.inner?.length) folded.add(node);
    }
    for (const node of folded) {
      const g = this.elements.get(node.id);
      this.recolour(node, g);
      const sub = g.querySelector("text.sub");
      if (sub) sub.textContent = clip(summary(node), Math.floor((node.w - 30) / CW));
    }
  }

  recolour(node, g) {
    const info = stateInfo(shown(node.task));
    for (const cls of [...g.classList]) if (cls.startsWith("tone-") || cls.startsWith("st-")) g.classList.remove(cls);
    g.classList.add("tone-" + info.tone, "st-" + shown(node.task));
    const text = label(node, info);
    g.setAttribute("aria-label", text);
    g.querySelector("title").textContent = text;
    const name = g.querySelector("text.name");
    name.textContent = clip(info.symbol + " " + node.name + headerNote(node), Math.floor((node.w - 30) / CW));
    const sub = g.querySelector("text.sub");
    if (sub && !node.inner?.length && !operatorLine(node.task)) sub.textContent = info.label;
  }

  scheduleDraw() {
    if (this.drawPending) return;
    this.drawPending = true;
    setTimeout(() => requestAnimationFrame(() => { this.drawPending = false; this.draw(); }), 200);
  }
}

// What a group's header says besides its name: the operator that added its tasks, or that they run in parallel.
function headerNote(node) {
  if (!node.expanded) return "";
  const operator = operatorLine(node.task);
  if (operator) return "  " + operator;
  return isParallel(node.task) ? "  (parallel)" : "";
}

// What a box shows: the task's status where it has Dagu's word for it (skipped, failed under
// continueOn), else its state.
function shown(task) {
  return task.status ?? task.state;
}

function label(node, info) {
  const task = node.task;
  const parts = [task.fullName];
  if (info) parts.push(info.label);
  if (node.inner?.length && node.collapsed) parts.push(summary(node));
  return parts.join(": ");
}

// "12 tasks: 10 ✓ 1 ✕ 1 ▶" for a folded group (the tasks under it, groups not counted).
function summary(node) {
  const counts = new Map();
  let total = 0;
  const stack = [...node.children];
  while (stack.length) {
    const n = stack.pop();
    if (n.children.length) {
      stack.push(...n.children);
      continue;
    }
    total++;
    if (n.task.state) {
      const symbol = stateInfo(shown(n.task)).symbol;
      counts.set(symbol, (counts.get(symbol) ?? 0) + 1);
    }
  }
  const parts = [...counts].map(([symbol, n]) => `${n} ${symbol}`);
  return `${total} task${total === 1 ? "" : "s"}${parts.length ? ": " + parts.join(" ") : ""}`;
}

function widthOf(node) {
  const text = Math.max(node.name.length + 2, Math.min(operatorLine(node.task).length, 34)) +
    (node.inner?.length ? 4 : 0);
  return Math.min(MAX_W, Math.max(MIN_W, text * CW + 34));
}

// The size of a task's box (w, h) and of the box with its handlers beside it (uw, uh).
function measure(node) {
  const handlers = node.children.filter(isHandler);
  const inner = node.children.filter((c) => !isHandler(c));
  node.expanded = inner.length > 0 && !node.collapsed;
  node.handlers = handlers;
  node.inner = inner;
  if (!node.expanded) {
    node.w = widthOf(node);
    node.h = inner.length ? FOLDED_H : LEAF_H;
  } else {
    for (const child of inner) measure(child);
    const index = new Map(inner.map((c, i) => [c.id, i]));
    const layers = [];
    inner.forEach((child, i) => {
      let layer = 0;
      for (const up of child.task.upstreams || []) {
        const j = index.get(String(up));
        if (j !== undefined && j < i) layer = Math.max(layer, layers[j] + 1);
      }
      layers[i] = layer;
    });
    const rows = [];
    inner.forEach((child, i) => (rows[layers[i]] ??= []).push(child));
    node.rows = rows.filter(Boolean).map((kids) => ({
      kids,
      w: kids.reduce((s, c) => s + c.uw, 0) + GAP * (kids.length - 1),
      h: Math.max(...kids.map((c) => c.uh)),
    }));
    const innerW = Math.max(...node.rows.map((r) => r.w));
    node.w = Math.max(innerW + 2 * PAD, widthOf(node) + 40);
    node.h = HEADER + node.rows.reduce((s, r) => s + r.h, 0) + GAP * (node.rows.length - 1) + PAD;
  }
  for (const handler of handlers) measure(handler);
  node.uw = node.w + handlers.reduce((s, c) => s + HANDLER_GAP + c.uw, 0);
  node.uh = Math.max(node.h, ...handlers.map((c) => c.uh));
}

function place(node, x, y) {
  node.x = x;
  node.y = y;
  if (node.expanded) {
    let rowY = y + HEADER;
    for (const row of node.rows) {
      let cx = x + (node.w - row.w) / 2;
      for (const child of row.kids) {
        place(child, cx, rowY);
        cx += child.uw + GAP;
      }
      rowY += row.h + GAP;
    }
  }
  let hx = x + node.w + HANDLER_GAP;
  for (const handler of node.handlers) {
    place(handler, hx, y);
    hx += handler.uw + HANDLER_GAP;
  }
}

function drawEdges(node, layer) {
  const inner = new Map(node.rows.flatMap((r) => r.kids).map((c) => [c.id, c]));
  for (const child of inner.values()) {
    for (const up of child.task.upstreams || []) {
      const from = inner.get(String(up));
      if (!from) continue;
      const x1 = from.x + from.w / 2, y1 = from.y + from.h, x2 = child.x + child.w / 2, y2 = child.y;
      const mid = (y1 + y2) / 2;
      layer.append(h("svg:path", { class: "edge", d: `M${x1},${y1} C${x1},${mid} ${x2},${mid} ${x2},${y2 - 1}`,
        "marker-end": "url(#arrow)" }));
    }
  }
}

function drawHandlerEdge(node, handler, layer) {
  const x1 = node.x + node.w, y = node.y + 20, x2 = handler.x;
  layer.append(h("svg:path", { class: "edge handler-edge", d: `M${x1},${y} L${x2 - 1},${y}`, "marker-end": "url(#arrow)" }));
  layer.append(h("svg:text", { class: "edge-label", x: x1 + 6, y: y - 5 }, handler.name === "^error" ? "on error" : "check"));
}
