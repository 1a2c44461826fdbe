// A workflow (one revision's definition): its tasks drawn as a graph, its source with line numbers,
// its sessions, and the Run form. /projects/{id}/workflows/{name} shows the latest revision's.

import { enc, get } from "../api.js";
import { clear, field, h, link, notice, tabs, title } from "../dom.js";
import { TaskGraph } from "../graph.js";
import { sessionTable } from "../lists.js";
import { runForm } from "../runform.js";
import { highlightLine, sourceView } from "../source.js";
import { asText, revisionFiles } from "../tar.js";
import { TaskTree } from "../tree.js";

const VIEWS = [["graph", "Graph"], ["source", "Source"], ["sessions", "Sessions"]];

export async function render(main, params, search) {
  const workflow = params.id ? await get(`/api/workflows/${params.id}`)
    : await get(`/api/projects/${params.projectId}/workflows/${enc(params.name)}`);
  title(workflow.name, workflow.project.name);
  const panels = Object.fromEntries(VIEWS.map(([n]) => [n, h("section.panel", { role: "tabpanel", "aria-labelledby": `tab-${n}`, hidden: true })]));
  const tabBar = h("div");
  const side = h("aside.side", { id: "run" });
  clear(main,
    h("nav.crumbs", { "aria-label": "Breadcrumb" }, link("/projects", "Projects"), " › ",
      link(`/projects/${workflow.project.id}`, workflow.project.name), " › ", workflow.name),
    h("h1", {}, workflow.name),
    h("dl.meta", {},
      field("Project", link(`/projects/${workflow.project.id}`, workflow.project.name)),
      field("Revision", link(`/projects/${workflow.project.id}?tab=files&revision=${enc(workflow.revision)}`, workflow.revision)),
      field("Time zone", workflow.timezone),
      field("Schedule", workflow.config?.schedule ? h("code", {}, JSON.stringify(workflow.config.schedule)) : "none")),
    h("div.workflow-body", {}, h("div.views", {}, tabBar, ...Object.values(panels)), side));
  runForm(side, workflow);

  const tasks = (await get(`/api/workflows/${workflow.id}/tasks`)).tasks;
  const tree = new TaskTree();
  tree.merge(tasks);
  let source = null;
  const graph = new TaskGraph(panels.graph, tree, {
    live: false,
    onSelect: (node) => {
      if (node.task.line) {
        tabControl.choose("source");
        showSource().then(() => source && highlightLine(source, node.task.line));
      }
    },
  });
  panels.graph.prepend(h("p.muted", {}, "Select a task to see where it is written."));

  async function showSource() {
    if (source) return;
    const file = tree.root?.task.file || `${workflow.name}.dig`;
    try {
      const files = await revisionFiles(workflow.project.id, workflow.revision);
      const found = files.find((f) => f.path === file) ?? files.find((f) => f.path === `${workflow.name}.dig`);
      if (!found) throw new Error(`${file} is not in revision ${workflow.revision}`);
      source = sourceView(asText(found.data), { name: found.path });
      clear(panels.source, h("h2.small", {}, found.path), source);
      if (location.hash.startsWith("#L")) highlightLine(source, location.hash.slice(2));
    } catch (error) {
      notice(panels.source, error.message, "error");
    }
  }
  let sessionsLoaded = false;
  async function show(name) {
    for (const [n, panel] of Object.entries(panels)) panel.hidden = n !== name;
    if (name === "graph" && graph.drawnVersion !== tree.version) graph.draw();
    if (name === "source") await showSource();
    if (name === "sessions" && !sessionsLoaded) {
      sessionsLoaded = true;
      try {
        const sessions = (await get(`/api/projects/${workflow.project.id}/sessions?workflow=${enc(workflow.name)}&page_size=100`)).sessions;
        clear(panels.sessions, sessionTable(sessions));
      } catch (error) {
        notice(panels.sessions, error.message, "error");
      }
    }
  }
  const current = location.hash.startsWith("#L") ? "source"
    : VIEWS.some(([n]) => n === search.get("tab")) ? search.get("tab") : "graph";
  const tabControl = tabs(tabBar, VIEWS, current, show);
  await show(current);
  if (location.hash === "#run") side.querySelector("input")?.focus();
  document.addEventListener("keydown", (event) => {
    if (event.key === "r" && !["INPUT", "TEXTAREA", "SELECT"].includes(event.target.tagName) && !document.querySelector("dialog[open]")) {
      event.preventDefault();
      side.querySelector("input")?.focus();
    }
  });
}
