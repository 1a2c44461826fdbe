// Task logs: the files of an attempt, one shown at a time from its end (a 50 MB log shows its last
// part at once), followed live by server-sent events, searchable, downloadable whole.

import { ApiError, enc, follow, get, getText } from "./api.js";
import { clear, h, isTyping, notice } from "./dom.js";

const TAIL = 512 * 1024; // bytes shown when a log is opened
const MAX_CHARS = 2_000_000; // characters kept in the page; earlier ones are dropped from view
const MAX_MARKS = 10_000;

function size(bytes) {
  return bytes < 1024 ? `${bytes} B` : bytes < 1048576 ? `${(bytes / 1024).toFixed(1)} KiB` : `${(bytes / 1048576).toFixed(1)} MiB`;
}

export class LogView {
  constructor(container, attemptId) {
    this.attemptId = attemptId;
    this.files = [];
    this.current = null;
    this.stream = null;
    this.list = h("ul.log-files", { "aria-label": "Task logs" });
    this.status = h("p.log-status");
    this.text = document.createTextNode("");
    this.pre = h("pre.log", { tabindex: "0", "aria-label": "Log text" }, this.text);
    this.status.textContent = "Choose a task's log.";
    this.followBox = h("input", { type: "checkbox", checked: true, id: "log-follow",
      onchange: () => { if (this.followBox.checked) this.toBottom(); } });
    this.search = h("input.search", { type: "search", placeholder: "Search the log (/)", "aria-label": "Search the log",
      oninput: () => this.find(0), onkeydown: (e) => { if (e.key === "Enter") { e.preventDefault(); this.find(e.shiftKey ? -1 : 1); } } });
    this.count = h("span.count", { "aria-live": "polite" });
    this.earlier = h("button.small", { type: "button", hidden: true, onclick: () => this.loadEarlier() }, "Load earlier");
    const tools = h("div.log-tools", {},
      h("label.check", {}, this.followBox, " Follow (f)"),
      this.search, this.count,
      h("button.small", { type: "button", onclick: () => this.download() }, "Download"),
      this.earlier);
    this.viewer = h("div.log-viewer", {}, tools, this.status, this.pre);
    container.append(h("div.logs", {}, h("nav.log-list", { "aria-label": "Task logs" }, this.list), this.viewer));
    this.onKey = (event) => {
      if (isTyping(event) || event.ctrlKey || event.metaKey || event.altKey || !this.viewer.isConnected
        || this.viewer.offsetParent === null) return;
      if (event.key === "/") { event.preventDefault(); this.search.focus(); }
      else if (event.key === "f") { this.followBox.checked = !this.followBox.checked; this.followBox.dispatchEvent(new Event("change")); }
    };
    document.addEventListener("keydown", this.onKey);
  }

  async loadFiles() {
    this.files = (await get(`/api/logs/${this.attemptId}/files`)).files;
    const wanted = this.wanted && this.files.find((f) => f.taskName === this.wanted);
    if (wanted) {
      this.wanted = null;
      this.open(wanted);
    }
    clear(this.list, this.files.length ? this.files.map((file) => h("li", {}, h("button.file", {
      type: "button", "data-task": file.taskName, "aria-current": String(file.fileName === this.current?.fileName),
      onclick: () => this.open(file),
    }, h("span.task", {}, file.taskName), h("span.size", {}, size(file.fileSize))))) : h("li.muted", {}, "No logs yet."));
    return this.files;
  }

  // The log of a task (by full name), if it has one.
  async openTask(fullName) {
    let file = this.files.find((f) => f.taskName === fullName);
    if (!file) file = (await this.loadFiles()).find((f) => f.taskName === fullName);
    this.wanted = file ? null : fullName; // opened once its task writes one
    if (file) await this.open(file);
    else notice(this.status, `${fullName} has no log yet; it opens when the task writes one.`, "info");
    return Boolean(file);
  }

  async open(file) {
    this.close();
    this.current = file;
    for (const b of this.list.querySelectorAll("button.file")) b.setAttribute("aria-current", String(b.dataset.task === file.taskName));
    this.text.data = "";
    this.start = Math.max(0, file.fileSize - TAIL);
    notice(this.status, `${file.taskName}: loading…`);
    const base = `/api/logs/${this.attemptId}/files/${enc(file.fileName)}`;
    try {
      const { text, headers } = await getText(`${base}?offset=${this.start}`);
      let shown = text;
      if (this.start > 0) shown = text.slice(text.indexOf("\n") + 1); // the first line is cut
      this.append(shown);
      const next = Number(headers.get("X-Digpy-Next-Offset") ?? this.start + new TextEncoder().encode(text).length);
      this.earlier.hidden = this.start === 0;
      notice(this.status, this.start > 0 ? `${file.taskName}: the last ${size(file.fileSize - this.start)} of ${size(file.fileSize)}`
        : `${file.taskName}`);
      this.stream = follow(`${base}/events?offset=${next}`, {
        text: (data) => this.append(data.text),
        end: () => {
          this.close();
          this.status.append(h("span.muted", {}, " · complete"));
        },
      });
      this.status.append(h("span.muted.following", {}, " · following"));
    } catch (error) {
      notice(this.status, error instanceof ApiError ? error.message : String(error), "error");
    }
  }

  close() {
    if (this.stream) this.stream.close();
    this.stream = null;
    this.status.querySelector(".following")?.remove();
  }

  destroy() {
    this.close();
    document.removeEventListener("keydown", this.onKey);
  }

  append(text) {
    if (!text) return;
    this.text.appendData(text);
    if (this.text.length > MAX_CHARS) {
      const drop = this.text.length - MAX_CHARS;
      const cut = this.text.data.indexOf("\n", drop);
      this.text.deleteData(0, cut >= 0 ? cut + 1 : drop);
      this.earlier.hidden = true; // what was dropped is in the download
      this.dropped = true;
    }
    if (this.search.value) this.find(0, false);
    if (this.followBox.checked) this.toBottom();
  }

  toBottom() {
    this.pre.scrollTop = this.pre.scrollHeight;
  }

  async loadEarlier() {
    if (!this.current || this.start === 0) return;
    const from = Math.max(0, this.start - TAIL);
    const { text } = await getText(`/api/logs/${this.attemptId}/files/${enc(this.current.fileName)}?offset=${from}`);
    const bytes = new TextEncoder().encode(text).slice(0, this.start - from);
    let earlier = new TextDecoder().decode(bytes);
    if (from > 0) earlier = earlier.slice(earlier.indexOf("\n") + 1);
    else earlier = earlier.slice(0, earlier.lastIndexOf("\n") + 1) || earlier;
    this.text.insertData(0, earlier);
    this.start = from;
    this.earlier.hidden = from === 0;
  }

  // Highlight every match (the CSS Custom Highlight API: no change to the text) and go to the
  // next (step 1), the previous (-1) or the same (0) one.
  find(step, scroll = true) {
    const needle = this.search.value;
    const registry = globalThis.CSS?.highlights;
    registry?.delete("log-match");
    registry?.delete("log-current");
    if (!needle) {
      this.count.textContent = "";
      return;
    }
    const haystack = this.text.data.toLowerCase();
    const lower = needle.toLowerCase();
    const ranges = [];
    for (let i = haystack.indexOf(lower); i >= 0 && ranges.length < MAX_MARKS; i = haystack.indexOf(lower, i + lower.length)) {
      const range = new Range();
      range.setStart(this.text, i);
      range.setEnd(this.text, i + lower.length);
      ranges.push(range);
    }
    this.matches = ranges;
    if (!ranges.length) {
      this.count.textContent = "no match";
      return;
    }
    this.at = ((this.at ?? 0) + step + ranges.length) % ranges.length;
    if (this.at >= ranges.length) this.at = 0;
    this.count.textContent = `${this.at + 1} / ${ranges.length}${ranges.length === MAX_MARKS ? "+" : ""}`;
    if (registry && globalThis.Highlight) {
      registry.set("log-match", new Highlight(...ranges));
      registry.set("log-current", new Highlight(ranges[this.at]));
    }
    if (scroll) {
      this.followBox.checked = false;
      const box = ranges[this.at].getBoundingClientRect();
      const view = this.pre.getBoundingClientRect();
      this.pre.scrollTop += box.top - view.top - view.height / 3;
    }
  }

  // The whole file as plain text, read in pieces (a large log never sits in the page).
  async download() {
    if (!this.current) return;
    const parts = [];
    let offset = 0;
    notice(this.status, `${this.current.taskName}: downloading…`);
    try {
      for (;;) {
        const { text: data, headers } = await getText(
          `/api/logs/${this.attemptId}/files/${enc(this.current.fileName)}?offset=${offset}`, { bytes: true });
        const next = Number(headers.get("X-Digpy-Next-Offset"));
        if (!data.byteLength || !(next > offset)) break;
        parts.push(data);
        offset = next;
      }
    } catch (error) {
      notice(this.status, error.message, "error");
      return;
    }
    const url = URL.createObjectURL(new Blob(parts, { type: "text/plain" }));
    const a = h("a", { href: url, download: `attempt-${this.attemptId}${this.current.taskName}.log` });
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 60_000);
    notice(this.status, `${this.current.taskName}: downloaded ${size(offset)}`);
  }
}
