// An attempt's tasks as rows, nested by group: the task table (state, times, retries, params,
// stores, error) and the timeline (a Gantt bar per task). Both draw only the rows in view.

import { fmtDuration, fmtTime, h, short } from "./dom.js";
import { badge, DONE_STATES, FAILED_STATES, stateInfo, TASK_STATES } from "./states.js";
import { preorder } from "./tree.js";
import { VirtualRows } from "./vlist.js";

// [start, end] in epoch seconds of every task (a group spans its children; end: now while it runs).
export function spans(tree, now) {
  const out = new Map();
  if (!tree.root) return out;
  const order = preorder(tree.root);
  for (let i = order.length - 1; i >= 0; i--) {
    const node = order[i].node;
    const t = node.task;
    let start = t.startedAt ? Date.parse(t.startedAt) / 1000 : null;
    // Times are whole seconds: a task done at second t ended before t + 1.
    let end = start === null ? null : DONE_STATES.has(t.state) && t.updatedAt ? Date.parse(t.updatedAt) / 1000 + 1 : now;
    for (const child of node.children) {
      const [s, e] = out.get(child.id);
      if (s !== null && (start === null || s < start)) start = s;
      if (e !== null && (end === null || e > end)) end = e;
    }
    out.set(node.id, [start, end]);
  }
  return out;
}

// What both views share: the rows (groups folded by hand), a filter, the selected task.
class TaskRows {
  constructor(container, tree, { onSelect, label, rowHeight }) {
    this.tree = tree;
    this.onSelect = onSelect;
    this.folded = new Set();
    this.filter = "";
    this.stateFilter = "";
    this.selectedId = null;
    this.builtVersion = -1;
    this.now = Date.now() / 1000;
    this.controls = h("div.table-tools");
    container.append(this.controls);
    this.list = new VirtualRows(container, { rowHeight, label, render: (row, i) => this.row(row, i) });
    this.list.viewport.addEventListener("keydown", (event) => this.keys(event));
  }

  filters() {
    const search = h("input.search", { type: "search", placeholder: "Filter tasks by name (/)", "aria-label": "Filter tasks by name",
      oninput: () => { this.filter = search.value.trim(); this.rebuild(); } });
    const states = h("select", { "aria-label": "Filter tasks by state",
      onchange: () => { this.stateFilter = states.value; this.rebuild(); } },
      h("option", { value: "" }, "every state"),
      h("option", { value: "failed" }, "failed (error, group error, canceled)"),
      TASK_STATES.map((s) => h("option", { value: s }, stateInfo(s).label)));
    this.controls.append(search, states);
    this.search = search;
  }

  rebuild() {
    const root = this.tree.root;
    this.builtVersion = this.tree.version;
    this.spans = spans(this.tree, this.now);
    this.prepare();
    if (!root) return this.list.setRows([]);
    let rows;
    if (this.filter || this.stateFilter) {
      const needle = this.filter.toLowerCase();
      rows = preorder(root).filter(({ node }) => {
        const state = node.task.state;
        const stateOk = !this.stateFilter || (this.stateFilter === "failed" ? FAILED_STATES.has(state) : state === this.stateFilter);
        return stateOk && (!needle || node.task.fullName.toLowerCase().includes(needle));
      }).map(({ node }) => ({ node, depth: 0, flat: true }));
    } else {
      rows = preorder(root, (node) => this.folded.has(node.id));
    }
    this.rows = rows;
    this.list.setRows(rows);
  }

  update() {
    this.now = Date.now() / 1000;
    if (this.tree.version !== this.builtVersion || this.filter || this.stateFilter) {
      this.rebuild();
    } else {
      this.spans = spans(this.tree, this.now);
      this.prepare();
      this.list.refresh();
    }
  }

  prepare() {}

  toggle(node) {
    if (this.folded.has(node.id)) this.folded.delete(node.id);
    else this.folded.add(node.id);
    this.rebuild();
  }

  select(node, scroll = true) {
    this.selectedId = node.id;
    if (!this.rows) return; // not drawn yet: drawn with the selection when shown
    const index = this.rows.findIndex((r) => r.node.id === node.id);
    if (index >= 0 && scroll) this.list.scrollToIndex(index);
    this.list.refresh();
  }

  keys(event) {
    if (!this.rows?.length) return;
    const index = Math.max(0, this.rows.findIndex((r) => r.node.id === this.selectedId));
    let next = null;
    if (event.key === "ArrowDown") next = Math.min(this.rows.length - 1, this.selectedId === null ? 0 : index + 1);
    else if (event.key === "ArrowUp") next = Math.max(0, index - 1);
    else if (event.key === "Enter" && this.selectedId !== null) this.onSelect(this.rows[index].node);
    else if ((event.key === "ArrowRight" || event.key === "ArrowLeft") && this.selectedId !== null) {
      const node = this.rows[index].node;
      if (node.children.length && this.folded.has(node.id) === (event.key === "ArrowRight")) this.toggle(node);
    } else return;
    event.preventDefault();
    if (next !== null) {
      this.selectedId = this.rows[next].node.id;
      this.list.scrollToIndex(next);
      this.list.refresh();
      this.onSelect(this.rows[next].node, { quiet: true });
    }
  }

  nameCell(row) {
    const node = row.node;
    const toggle = node.children.length && !row.flat
      ? h("button.toggle", { type: "button", tabindex: "-1", "aria-label": this.folded.has(node.id) ? "Unfold" : "Fold",
        onclick: (e) => { e.stopPropagation(); this.toggle(node); } }, this.folded.has(node.id) ? "▸" : "▾")
      : h("span.toggle");
    const cell = h("span.cell.name", { role: "cell", title: node.task.fullName }, toggle,
      row.flat ? node.task.fullName : node.name);
    cell.style.paddingLeft = `${row.depth * 14 + 4}px`;
    return cell;
  }

  rowElement(row, cells) {
    const element = h("div.vrow", { role: "row", "data-name": row.node.task.fullName,
      "aria-selected": String(row.node.id === this.selectedId),
      onclick: () => { this.selectedId = row.node.id; this.list.refresh(); this.onSelect(row.node); } }, cells);
    if (row.node.id === this.selectedId) element.classList.add("selected");
    return element;
  }
}

export class TaskTable extends TaskRows {
  constructor(container, tree, options) {
    super(container, tree, { ...options, label: "Tasks", rowHeight: 28 });
    this.filters();
    this.controls.after(h("div.vrow.head", { role: "row" },
      ["state", "task", "started", "duration", "retries", "error", "params", "stores"].map((c) =>
        h(`span.cell.${c === "task" ? "name" : c}`, { role: "columnheader" }, c))));
  }

  row(row) {
    const node = row.node;
    const t = node.task;
    const [start, end] = this.spans.get(node.id) ?? [null, null];
    const own = { ...(t.config || {}) };
    delete own._export;
    return this.rowElement(row, [
      h("span.cell.state", { role: "cell" }, badge(t.status ?? t.state)),
      this.nameCell(row),
      h("span.cell.started", { role: "cell" }, fmtTime(t.startedAt)),
      h("span.cell.duration", { role: "cell" }, start === null ? "" : end - start <= 1 && DONE_STATES.has(t.state) ? "< 1 s" : fmtDuration(end - start)),
      h("span.cell.retries", { role: "cell" }, t.retryCount ? String(t.retryCount) : ""),
      h("span.cell.error", { role: "cell", title: t.error?.message || "" }, t.error?.message || ""),
      h("span.cell.params", { role: "cell", title: short(own, 2000) }, short(own, 60)),
      h("span.cell.stores", { role: "cell", title: short(t.storeParams, 2000) }, short(t.storeParams, 60)),
    ]);
  }
}

export class Timeline extends TaskRows {
  constructor(container, tree, options) {
    super(container, tree, { ...options, label: "Timeline", rowHeight: 24 });
    this.axis = h("div.vrow.head.axis");
    this.controls.after(this.axis);
  }

  prepare() {
    const all = [...(this.spans?.values() ?? [])].filter(([s]) => s !== null);
    this.t0 = all.length ? Math.min(...all.map(([s]) => s)) : this.now;
    this.t1 = all.length ? Math.max(...all.map(([, e]) => e ?? this.now)) : this.now + 1;
    if (this.t1 - this.t0 < 1) this.t1 = this.t0 + 1;
    const ticks = [];
    for (let i = 0; i <= 4; i++) {
      const at = this.t0 + ((this.t1 - this.t0) * i) / 4;
      const offset = at - this.t0;
      const text = this.t1 - this.t0 < 20 ? `+${offset.toFixed(1)} s` : "+" + fmtDuration(offset);
      const tick = h("span.tick", {}, i === 0 ? fmtTime(new Date(at * 1000).toISOString()) : text);
      tick.style.left = `${(i / 4) * 100}%`;
      ticks.push(tick);
    }
    this.axis.replaceChildren(h("span.cell.name", {}, "task"), h("span.cell.bars", {}, ticks));
  }

  row(row) {
    const node = row.node;
    const t = node.task;
    const [start, end] = this.spans.get(node.id) ?? [null, null];
    const area = h("span.cell.bars", { role: "cell" });
    if (start !== null) {
      const width = this.t1 - this.t0;
      const info = stateInfo(t.state);
      const duration = fmtDuration((end ?? this.now) - start);
      const bar = h(`span.bar.tone-${info.tone}${node.children.length ? ".group" : ""}`, {
        title: `${t.fullName}: ${info.label}, ${fmtTime(t.startedAt) || "?"} for ${duration}` +
          (t.retryCount ? `, retried ${t.retryCount}×` : ""),
      }, h("span.sym", { "aria-hidden": "true" }, info.symbol));
      const left = Math.min(99.5, ((start - this.t0) / width) * 100);
      bar.style.left = `${left}%`;
      bar.style.width = `max(3px, ${Math.min(100 - left, (((end ?? this.now) - start) / width) * 100)}%)`;
      area.append(bar);
      if (t.retryCount) {
        const retries = h("span.retry-count", { title: `retried ${t.retryCount} time(s)` }, `↻${t.retryCount}`);
        retries.style.left = `min(calc(100% - 3em), calc(${(((end ?? this.now) - this.t0) / width) * 100}% + 4px))`;
        area.append(retries);
      }
      if (t.retryAt && t.state.includes("retry")) {
        const at = Date.parse(t.retryAt) / 1000;
        const mark = h("span.retry-at", { title: `retries at ${fmtTime(t.retryAt)}` }, "↻");
        mark.style.left = `${Math.min(100, ((at - this.t0) / width) * 100)}%`;
        area.append(mark);
      }
    }
    return this.rowElement(row, [this.nameCell(row), area]);
  }
}
