// A list that draws only the rows in view (fixed row height): ten thousand rows scroll like ten.

import { h } from "./dom.js";

export class VirtualRows {
  // render(row, index) returns the row's element (positioned here).
  constructor(container, { rowHeight = 26, render, label }) {
    this.rowHeight = rowHeight;
    this.render = render;
    this.rows = [];
    this.viewport = h("div.vlist", { tabindex: "0", role: "rowgroup", "aria-label": label });
    this.spacer = h("div.vspacer");
    this.viewport.append(this.spacer);
    this.viewport.addEventListener("scroll", () => this.schedule());
    container.append(this.viewport);
    this.drawn = new Map();
  }

  setRows(rows) {
    this.rows = rows;
    this.spacer.style.height = `${rows.length * this.rowHeight}px`;
    this.refresh();
  }

  // Draw again (the rows' content changed).
  refresh() {
    for (const element of this.drawn.values()) element.remove();
    this.drawn.clear();
    this.schedule(true);
  }

  schedule(now = false) {
    if (now) return this.paint();
    if (this.pending) return;
    this.pending = true;
    requestAnimationFrame(() => { this.pending = false; this.paint(); });
  }

  paint() {
    const top = this.viewport.scrollTop;
    const height = this.viewport.clientHeight || 600;
    const first = Math.max(0, Math.floor(top / this.rowHeight) - 10);
    const last = Math.min(this.rows.length, Math.ceil((top + height) / this.rowHeight) + 10);
    for (const [index, element] of this.drawn) {
      if (index < first || index >= last) {
        element.remove();
        this.drawn.delete(index);
      }
    }
    for (let i = first; i < last; i++) {
      if (this.drawn.has(i)) continue;
      const element = this.render(this.rows[i], i);
      element.style.top = `${i * this.rowHeight}px`;
      element.style.height = `${this.rowHeight}px`;
      this.viewport.append(element);
      this.drawn.set(i, element);
    }
  }

  scrollToIndex(index) {
    const top = index * this.rowHeight;
    const view = this.viewport;
    if (top < view.scrollTop || top + this.rowHeight > view.scrollTop + view.clientHeight) {
      view.scrollTop = Math.max(0, top - view.clientHeight / 3);
    }
    this.paint();
  }
}
