// A project: its workflows, sessions, revisions and the files of each revision, its secret keys.

import { get } from "../api.js";
import { clear, fmtTime, h, link, notice, tabs, title } from "../dom.js";
import { sessionTable } from "../lists.js";
import { allSchedules, scheduleList } from "../schedule.js";
import { highlightLine, isBinary, sourceView } from "../source.js";
import { asText, revisionFiles } from "../tar.js";

const VIEWS = [["workflows", "Workflows"], ["sessions", "Sessions"], ["revisions", "Revisions"], ["files", "Files"],
  ["secrets", "Secrets"], ["schedules", "Schedules"]];

export async function render(main, params, search) {
  const project = await get(`/api/projects/${params.id}`);
  title(project.name, "Project");
  const panels = Object.fromEntries(VIEWS.map(([n]) => [n, h("section.panel", { role: "tabpanel", "aria-labelledby": `tab-${n}`, hidden: true })]));
  const tabBar = h("div");
  clear(main, h("nav.crumbs", { "aria-label": "Breadcrumb" }, link("/projects", "Projects"), " › ", project.name),
    h("h1", {}, project.name),
    h("p.muted", {}, `Revision ${project.revision ?? "—"}, updated ${fmtTime(project.updatedAt)}`),
    tabBar, ...Object.values(panels));
  const loaded = new Set();
  const loaders = {
    async workflows(panel) {
      const workflows = (await get(`/api/projects/${project.id}/workflows`)).workflows;
      clear(panel, workflows.length ? h("table.list", {},
        h("thead", {}, h("tr", {}, ["Workflow", "Time zone", "Schedule", ""].map((c) => h("th", { scope: "col" }, c)))),
        h("tbody", {}, workflows.map((w) => h("tr", {},
          h("td", {}, link(`/workflows/${w.id}`, w.name)),
          h("td", {}, w.timezone),
          h("td", {}, w.config?.schedule ? h("code", {}, JSON.stringify(w.config.schedule)) : ""),
          h("td", {}, link(`/workflows/${w.id}#run`, "Run…")))))) : h("p.muted", {}, "No workflows."));
    },
    async sessions(panel) {
      const sessions = (await get(`/api/projects/${project.id}/sessions?page_size=100`)).sessions;
      clear(panel, sessionTable(sessions), h("p", {}, link(`/attempts?project=${encodeURIComponent(project.name)}`, "Attempts of this project")));
    },
    async revisions(panel) {
      const revisions = (await get(`/api/projects/${project.id}/revisions`)).revisions;
      clear(panel, h("table.list", {},
        h("thead", {}, h("tr", {}, ["Revision", "Pushed", ""].map((c) => h("th", { scope: "col" }, c)))),
        h("tbody", {}, revisions.map((r) => h("tr", {},
          h("td", {}, r.revision), h("td", {}, fmtTime(r.createdAt)),
          h("td", {}, link(`/projects/${project.id}?tab=files&revision=${encodeURIComponent(r.revision)}`, "Files")))))));
    },
    async files(panel) {
      const revisions = (await get(`/api/projects/${project.id}/revisions`)).revisions;
      const revision = search.get("revision") || project.revision;
      const select = h("select", { "aria-label": "Revision", onchange: () => {
        const url = new URL(location.href);
        url.searchParams.set("revision", select.value);
        url.searchParams.delete("file");
        location.assign(url);
      } }, revisions.map((r) => h("option", { value: r.revision, selected: r.revision === revision }, r.revision)));
      const list = h("ul.file-list");
      const viewer = h("div.file-view");
      clear(panel, h("label", {}, "Revision ", select), h("div.files", {}, h("nav", { "aria-label": "Files" }, list), viewer));
      const files = await revisionFiles(project.id, revision);
      const show = (file) => {
        const url = new URL(location.href);
        url.searchParams.set("file", file.path);
        history.replaceState(null, "", url);
        for (const a of list.querySelectorAll("a")) a.setAttribute("aria-current", String(a.dataset.path === file.path));
        clear(viewer, h("h2", {}, file.path), isBinary(file.data) ? h("p.muted", {}, `A binary file of ${file.data.length} bytes.`)
          : sourceView(asText(file.data), { name: file.path }));
        if (location.hash.startsWith("#L")) highlightLine(viewer, location.hash.slice(2));
      };
      clear(list, files.map((f) => h("li", {}, h("a", { href: `?tab=files&revision=${encodeURIComponent(revision)}&file=${encodeURIComponent(f.path)}`,
        "data-path": f.path, onclick: (e) => { e.preventDefault(); show(f); } }, f.path))));
      const wanted = files.find((f) => f.path === search.get("file")) ?? files.find((f) => f.path.endsWith(".dig")) ?? files[0];
      if (wanted) show(wanted);
    },
    async secrets(panel) {
      const keys = (await get(`/api/projects/${project.id}/secrets`)).secrets;
      clear(panel, h("p.muted", {}, "Secret values are never shown; set them with ", h("code", {}, `digpy secrets --project ${project.name} --set KEY`), "."),
        keys.length ? h("ul", {}, keys.map((k) => h("li", {}, h("code", {}, k.key)))) : h("p", {}, "No secrets."));
    },
    async schedules(panel) {
      const list = scheduleList(panel, { load: () => allSchedules(`/api/projects/${project.id}/schedules`), project: false,
        empty: "No workflow of this project has a schedule:." });
      await list.refresh();
    },
  };
  async function show(name) {
    for (const [n, panel] of Object.entries(panels)) panel.hidden = n !== name;
    if (loaded.has(name)) return;
    loaded.add(name);
    try {
      await loaders[name](panels[name]);
    } catch (error) {
      loaded.delete(name);
      notice(panels[name], error.message, "error");
    }
  }
  const current = VIEWS.some(([n]) => n === search.get("tab")) ? search.get("tab") : "workflows";
  tabs(tabBar, VIEWS, current, show);
  await show(current);
}
