// An attempt: its status and buttons (retry all, retry failed, kill), its tasks as a graph, a table
// and a timeline, their logs, all live (GET /api/attempts/{id}/events), and the attempts it
// required or was required by. ?tab= picks the view, ?task= draws one task's subtree (a call>
// task's called workflow, say).

import { ApiError, follow, get, post, put } from "../api.js";
import { confirmAction } from "../confirm.js";
import { clear, field, fmtDuration, fmtTime, h, isTyping, json, link, notice, parseTime, tabs, title } from "../dom.js";
import { TaskGraph } from "../graph.js";
import { LogView } from "../logview.js";
import { badge, DONE_STATES, FAILED_STATES, stateInfo } from "../states.js";
import { TaskTable, Timeline } from "../tasks.js";
import { TaskTree } from "../tree.js";

const VIEWS = [["graph", "Graph"], ["tasks", "Tasks"], ["timeline", "Timeline"], ["logs", "Logs"]];

export async function render(main, params, search) {
  const id = params.id;
  // The stream opens first: the server reads every task while the page gets the attempt and
  // draws itself; what arrives before the page is ready waits in `early`.
  const early = [];
  let handlers = null;
  const on = (name) => (data) => (handlers ? handlers[name](data) : early.push([name, data]));
  const stream = follow(`/api/attempts/${id}/events`, Object.fromEntries(["attempt", "snapshot", "tasks", "end"].map((n) => [n, on(n)])));
  let attempt;
  try {
    attempt = await get(`/api/attempts/${id}`);
  } catch (error) {
    stream.close();
    throw error;
  }
  const tree = new TaskTree();
  title(`Attempt ${id}`, attempt.workflow.name);

  const heading = h("h1");
  const meta = h("dl.meta");
  const queueNote = h("div", { id: "queue-note" });
  const related = h("div.related");
  const outcome = h("div.outcome", { "aria-live": "polite" });
  const buttons = {
    retryAll: h("button", { type: "button", title: "Run the session again, every task (R)", onclick: () => retry("all") }, "Retry all"),
    retryFailed: h("button", { type: "button", title: "Run again what did not succeed (r)", onclick: () => retry("failed") }, "Retry failed"),
    kill: h("button.danger", { type: "button", title: "Stop the running tasks and end the attempt (k)", onclick: kill }, "Kill"),
  };
  const crumbs = h("nav.crumbs", { "aria-label": "Breadcrumb" });
  const panels = Object.fromEntries(VIEWS.map(([name]) => [name, h("section.panel", { role: "tabpanel", "aria-labelledby": `tab-${name}`, hidden: true })]));
  const details = h("aside.details", { "aria-label": "Task details" }, h("p.muted", {}, "Select a task to see its details."));
  const drill = h("nav.crumbs.drill", { "aria-label": "Where in the graph" });
  const tabBar = h("div");
  clear(main, crumbs, h("div.title-row", {}, heading, h("div.actions", {}, buttons.retryFailed, buttons.retryAll, buttons.kill)),
    outcome, meta, queueNote, related, tabBar,
    h("div.attempt-body", {}, h("div.views", {}, ...Object.values(panels)), details));

  const graphBox = panels.graph;
  graphBox.append(drill);
  const graph = new TaskGraph(graphBox, tree, { live: true, root: search.get("task"), onSelect: (node) => showTask(node) });
  const table = new TaskTable(panels.tasks, tree, { onSelect: (node, o) => showTask(node, o) });
  const timeline = new Timeline(panels.timeline, tree, { onSelect: (node, o) => showTask(node, o) });
  const logs = new LogView(panels.logs, id);
  let view = VIEWS.some(([n]) => n === search.get("tab")) ? search.get("tab") : "graph";
  let selected = null;
  let ticker = null;

  function showView(name) {
    view = name;
    for (const [n, panel] of Object.entries(panels)) panel.hidden = n !== name;
    if (name === "graph" && graph.drawnVersion !== tree.version) graph.draw();
    if (name === "tasks" && tree.root) table.update();
    if (name === "timeline" && tree.root) timeline.update();
    if (name === "logs") logs.loadFiles().then((files) => {
      const wanted = new URL(location.href).searchParams.get("log") || (logs.current ? null : firstLog(files));
      if (wanted && logs.current?.taskName !== wanted) logs.openTask(wanted);
    }).catch((e) => notice(logs.status, e.message, "error"));
    tick();
  }
  const tabControl = tabs(tabBar, VIEWS, view, showView);

  // The log to show when none was asked for: a running task's, else a failed one's, else the last.
  function firstLog(files) {
    const state = (file) => tree.byName.get(file.taskName)?.task.state;
    const pick = files.find((f) => state(f) === "running") ?? files.find((f) => FAILED_STATES.has(state(f)) && !tree.byName.get(f.taskName)?.children.length)
      ?? files[files.length - 1];
    return pick?.taskName ?? null;
  }

  function drawHeader() {
    const status = attempt.partiallySucceeded ? "partially_succeeded" : attempt.status;
    clear(heading, `${attempt.workflow.name} · attempt ${attempt.id} `, badge(status));
    heading.querySelector(".badge").id = "attempt-status";
    clear(crumbs, link("/projects", "Projects"), " › ", link(`/projects/${attempt.project.id}`, attempt.project.name), " › ",
      attempt.workflow.id ? link(`/workflows/${attempt.workflow.id}`, attempt.workflow.name) : attempt.workflow.name, " › ",
      link(`/sessions/${attempt.sessionId}`, `session ${attempt.sessionTime}`), " › ", `attempt ${attempt.id}`);
    const finished = parseTime(attempt.finishedAt);
    const created = parseTime(attempt.createdAt);
    clear(meta,
      field("Session time", link(`/sessions/${attempt.sessionId}`, attempt.sessionTime)),
      field("Attempt", `#${attempt.index}${attempt.retryAttemptName ? " “" + attempt.retryAttemptName + "”" : ""}`),
      field("Created", fmtTime(attempt.createdAt)),
      field("Finished", finished ? fmtTime(attempt.finishedAt) : "—"),
      field("Duration", fmtDuration((finished ?? Date.now() / 1000) - created)),
      field("Params", Object.keys(attempt.params || {}).length ? h("code", {}, JSON.stringify(attempt.params)) : "none"),
      attempt.queue ? field("Queue", attempt.queue) : null);
    clear(queueNote, attempt.status === "queued" ? h("p.queue-note", {}, badge("queued"),
      ` No task runs until ${attempt.queue ? `queue ${attempt.queue}` : "the workflow's max_active_attempts"} has a free slot `
      + "(the attempts ahead of it end first). Kill ends it without running.") : null);
    buttons.kill.disabled = attempt.done || attempt.cancelRequested;
    buttons.retryFailed.disabled = !attempt.done || attempt.success;
    buttons.retryAll.disabled = !attempt.done || !attempt.workflow.id;
    title(`Attempt ${id} ${stateInfo(status).label}`, attempt.workflow.name);
  }

  async function drawRelated() {
    const [requires, requiredBy] = await Promise.all([get(`/api/attempts/${id}/requires`), get(`/api/attempts/${id}/required_by`)]);
    const item = (a) => h("li", {}, link(`/attempts/${a.id}`, `${a.project.name}/${a.workflow.name} attempt ${a.id}`), " ", badge(a.status));
    clear(related,
      requiredBy.attempts.length ? h("div", {}, h("h2.small", {}, "Required by"), h("ul.inline", {}, requiredBy.attempts.map(item))) : null,
      requires.attempts.length ? h("div", {}, h("h2.small", {}, "Requires"), h("ul.inline", {}, requires.attempts.map(item))) : null);
    related.dataset.requires = JSON.stringify(requires.attempts.map((a) => [a.workflow.name, a.id]));
  }

  function drawDrill() {
    const root = graph.root;
    if (!root || root === tree.root) {
      clear(drill);
      return;
    }
    const path = [];
    for (let n = root; n; n = n.parent) path.unshift(n);
    clear(drill, path.map((n, i) => [i ? " › " : "", i === path.length - 1 ? h("strong", {}, n.name)
      : h("a", { href: drillHref(n === tree.root ? null : n.task.fullName), onclick: (e) => { e.preventDefault(); setRoot(n === tree.root ? null : n.task.fullName, true); } }, n.name)]));
  }

  function drillHref(fullName) {
    const url = new URL(location.href);
    if (fullName) url.searchParams.set("task", fullName);
    else url.searchParams.delete("task");
    url.searchParams.set("tab", "graph");
    return url.pathname + url.search;
  }

  function setRoot(fullName, push) {
    if (push) history.pushState(null, "", drillHref(fullName));
    graph.setRoot(fullName);
    drawDrill();
    if (view !== "graph") tabControl.choose("graph");
  }

  window.addEventListener("popstate", () => {
    const url = new URL(location.href);
    setRoot(url.searchParams.get("task"), false);
    const tab = url.searchParams.get("tab");
    if (tab && tab !== view) tabControl.choose(tab);
  });

  function showTask(node, { quiet = false } = {}) {
    selected = node;
    const t = node.task;
    const config = t.config || {};
    const operator = config._type;
    const start = parseTime(t.startedAt);
    const end = DONE_STATES.has(t.state) ? parseTime(t.updatedAt) : Date.now() / 1000;
    const actions = h("div.buttons");
    actions.append(h("button", { type: "button", onclick: () => openLog(t.fullName) }, "Show log"));
    if (!t.fullName.includes("^") && attempt.done && attempt.workflow.id) {
      actions.append(h("button", { type: "button", onclick: () => retry("from", t.fullName) }, "Retry from here"));
    }
    if (node.children.length && node !== graph.root) {
      const label = operator === "call" ? "Open the called workflow" : operator ? `Open what ${operator}> added` : "Open this group";
      actions.append(h("a.button", { href: drillHref(t.fullName), onclick: (e) => { e.preventDefault(); setRoot(t.fullName, true); } }, label));
    }
    if (operator === "require") {
      const child = t.stateParams?.attempt_id ?? (JSON.parse(related.dataset.requires || "[]").find(([w]) => w === String(config._command).replace(/\.dig$/, "")) || [])[1];
      if (child) actions.append(h("a.button", { href: `/attempts/${child}` }, `Open required attempt ${child}`));
    }
    const section = (name, value) => value && Object.keys(value).length
      ? [h("h3", {}, name), h("pre.json", {}, json(value))] : null;
    const own = { ...config };
    delete own._export;
    clear(details,
      h("h2", { id: "task-title" }, t.fullName),
      h("p", {}, badge(t.status ?? t.state), t.cancelRequested ? " (kill requested)" : ""),
      h("dl.meta.compact", {},
        operator ? field("Operator", h("code", {}, `${operator}>`)) : field("Kind", node.children.length ? "group" : "task"),
        field("Started", fmtTime(t.startedAt) || "—"),
        field("Updated", fmtTime(t.updatedAt)),
        field("Duration", start ? (end - start < 1 && DONE_STATES.has(t.state) ? "< 1 s" : fmtDuration(end - start)) : "—"),
        field("Retries", String(t.retryCount ?? 0)),
        t.retryAt ? field("Retry at", fmtTime(t.retryAt)) : null),
      actions,
      t.error && Object.keys(t.error).length ? [h("h3", {}, "Error"), h("p.error-message", {}, t.error.message || ""),
        t.error.details || t.error.stacktrace ? h("details", {}, h("summary", {}, "Details"), h("pre", {}, t.error.details || t.error.stacktrace)) : null] : null,
      section("Params (its own keys)", own),
      section("Export params", t.exportParams),
      section("Store params", t.storeParams),
      section("State params", t.stateParams));
    details.dataset.task = t.fullName;
    details.dataset.state = t.state;
    if (!quiet) {
      if (view !== "tasks") table.select(node, false);
      if (view !== "timeline") timeline.select(node, false);
      if (view !== "graph") graph.highlight(node);
      graph.selected = node;
    }
  }

  async function openLog(fullName) {
    const url = new URL(location.href);
    url.searchParams.set("log", fullName);
    history.replaceState(null, "", url);
    tabControl.choose("logs");
  }

  async function retry(mode, from) {
    const what = { all: "every task again", failed: "what did not succeed (tasks that succeeded are skipped)", from: `from ${from} on` }[mode];
    if (!await confirmAction({ heading: mode === "all" ? "Retry all?" : mode === "failed" ? "Retry failed?" : `Retry from ${from}?`,
      body: `A new attempt of session ${attempt.sessionTime} runs ${what}, with the same params and revision.`, action: "Retry" })) return;
    const body = { workflowId: attempt.workflow.id, sessionTime: attempt.sessionTime, params: attempt.params,
      retryAttemptName: `retry-${crypto.randomUUID().slice(0, 8)}` };
    if (mode !== "all") body.resume = { mode: mode === "failed" ? "failed" : "from", attemptId: attempt.id, ...(from ? { from } : {}) };
    try {
      const started = await put("/api/attempts", body);
      notice(outcome, `Started attempt ${started.id}.`, "ok", link(`/attempts/${started.id}`, ` Open attempt ${started.id}`));
    } catch (error) {
      notice(outcome, error instanceof ApiError ? error.message : String(error), "error");
    }
  }

  async function kill() {
    if (!await confirmAction({ heading: `Kill attempt ${attempt.id}?`, body: "Its running commands are stopped and nothing new starts; it ends killed.",
      action: "Kill", danger: true })) return;
    try {
      attempt = await post(`/api/attempts/${attempt.id}/kill`);
      drawHeader();
      notice(outcome, `Kill requested for attempt ${attempt.id}.`, "ok");
    } catch (error) {
      notice(outcome, error instanceof ApiError ? error.message : String(error), "error");
    }
  }

  function tick() {
    // While the attempt runs, the timeline's bars of running tasks grow: redrawn every second
    // from what the page holds (no request).
    clearInterval(ticker);
    ticker = null;
    if (!attempt.done && view === "timeline") ticker = setInterval(() => timeline.update(), 1000);
  }

  document.addEventListener("keydown", (event) => {
    if (isTyping(event) || event.ctrlKey || event.metaKey || event.altKey || document.querySelector("dialog[open]")) return;
    if (event.key === "k" && !buttons.kill.disabled) kill();
    else if (event.key === "r" && !buttons.retryFailed.disabled) retry("failed");
    else if (event.key === "R" && !buttons.retryAll.disabled) retry("all");
    else if (event.key === "/" && view === "tasks") { event.preventDefault(); table.search.focus(); }
  });

  drawHeader();
  drawRelated().catch(() => {});
  showView(view);

  let refreshLogs = null;
  handlers = {
    attempt: (data) => {
      const was = attempt.done;
      attempt = data;
      drawHeader();
      if (attempt.done !== was) { tick(); drawRelated().catch(() => {}); }
    },
    snapshot: (data) => {
      const fresh = new TaskTree();
      fresh.merge(data.tasks);
      fresh.version = tree.version + 1;
      Object.assign(tree, fresh); // a reconnect sends everything again
      if (view === "graph") graph.draw(); else graph.drawnVersion = -1; // hidden views draw when shown
      drawDrill();
      if (view === "tasks") table.update(); else table.builtVersion = -1;
      if (view === "timeline") timeline.update(); else timeline.builtVersion = -1;
      main.dataset.tasks = String(tree.size);
      if (selected) {
        const again = tree.byId.get(selected.id);
        if (again) showTask(again, { quiet: true });
      }
    },
    tasks: (data) => {
      tree.merge(data.tasks);
      graph.update(data.tasks);
      if (view === "tasks") table.update(); else table.builtVersion = -1;
      if (view === "timeline") timeline.update(); else timeline.builtVersion = -1;
      main.dataset.tasks = String(tree.size);
      if (selected && data.tasks.some((t) => t.id === selected.id)) showTask(tree.byId.get(selected.id), { quiet: true });
      if (view === "logs" && data.tasks.some((t) => t.state === "running" || DONE_STATES.has(t.state))) {
        clearTimeout(refreshLogs);
        refreshLogs = setTimeout(() => logs.loadFiles().catch(() => {}), 300);
      }
    },
    end: () => {
      stream.close();
      tick();
    },
  };
  for (const [name, data] of early.splice(0)) handlers[name](data);
}
