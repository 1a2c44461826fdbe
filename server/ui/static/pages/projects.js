// Projects: name, latest revision, last update.

import { get } from "../api.js";
import { clear, fmtTime, h, link, title } from "../dom.js";

export async function render(main) {
  title("Projects");
  const projects = [];
  let last = null;
  for (;;) {
    const page = (await get(`/api/projects?count=1000${last ? "&last_id=" + last : ""}`)).projects;
    projects.push(...page);
    if (page.length < 1000) break;
    last = page[page.length - 1].id;
  }
  const filter = h("input.search", { type: "search", placeholder: "Filter by name", "aria-label": "Filter projects by name",
    oninput: () => { const q = filter.value.toLowerCase(); for (const row of body.children) row.hidden = !row.dataset.name.toLowerCase().includes(q); } });
  const body = h("tbody", {}, projects.map((p) => h("tr", { "data-name": p.name },
    h("td", {}, link(`/projects/${p.id}`, p.name)), h("td", {}, p.revision ?? ""), h("td", {}, fmtTime(p.updatedAt)))));
  clear(main, h("h1", {}, "Projects"),
    projects.length ? [filter, h("table.list", {}, h("thead", {}, h("tr", {}, ["Project", "Revision", "Updated"].map((c) => h("th", { scope: "col" }, c)))), body)]
      : h("p.muted", {}, "No projects yet. Push one with ", h("code", {}, "digpy push NAME --project DIR"), "."));
}
