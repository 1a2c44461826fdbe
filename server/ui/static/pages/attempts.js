// Sessions and attempts: every session's last attempt (or every attempt), newest first, by status,
// project and workflow; paged by id (as fast on page 1000 as on page 1); live.

import { follow, get, query } from "../api.js";
import { clear, h, link, title } from "../dom.js";
import { attemptTable } from "../lists.js";
import { ATTEMPT_STATUSES, badge, stateInfo } from "../states.js";

const PAGE = 50;

export async function render(main, _params, search) {
  const filters = {
    status: search.get("status") || "",
    project: search.get("project") || "",
    workflow: search.get("workflow") || "",
    all: search.get("all") === "1",
  };
  const lastId = search.get("last_id") || "";
  title("Attempts");
  const form = h("form.filters", { method: "get", action: "/attempts", role: "search" },
    h("fieldset.status-filter", {}, h("legend", {}, "Status"),
      ["", ...ATTEMPT_STATUSES].map((s) => h("label.check", {},
        h("input", { type: "radio", name: "status", value: s, checked: s === filters.status, onchange: () => form.requestSubmit() }),
        " ", s ? badge(s) : "all"))),
    h("label", {}, "Project ", h("input", { type: "text", name: "project", value: filters.project, size: "14" })),
    h("label", {}, "Workflow ", h("input", { type: "text", name: "workflow", value: filters.workflow, size: "14" })),
    h("label.check", {}, h("input", { type: "checkbox", name: "all", value: "1", checked: filters.all, onchange: () => form.requestSubmit() }),
      " every attempt (retries too)"),
    h("button", { type: "submit" }, "Show"));
  const list = h("div.list-box");
  const pager = h("nav.pager", { "aria-label": "Pages" });
  clear(main, h("h1", {}, filters.all ? "Attempts" : "Sessions and their last attempts"), form, list, pager);

  const api = `/api/attempts${query({ status: filters.status, project: filters.project, workflow: filters.workflow,
    include_retried: filters.all ? "true" : "", page_size: PAGE, last_id: lastId })}`;
  let shown = [];

  async function load() {
    shown = (await get(api)).attempts;
    const what = filters.status ? stateInfo(filters.status).label + " " : "";
    clear(list, attemptTable(shown, { empty: `No ${what}attempts${lastId ? " before attempt " + lastId : ""}.` }));
    const here = { status: filters.status, project: filters.project, workflow: filters.workflow, all: filters.all ? "1" : "" };
    clear(pager,
      lastId ? link(`/attempts${query(here)}`, "« Latest") : h("span.muted", {}, "« Latest"), " ",
      shown.length === PAGE ? link(`/attempts${query({ ...here, last_id: shown[shown.length - 1].id })}`, "Older ›", "older")
        : h("span.muted", {}, "Older ›"));
  }
  await load();

  let pending = null;
  follow("/api/events", {
    attempts: (data) => {
      const fresh = data.attempts.some((a) => !shown.some((s) => s.id === a.id));
      for (const a of data.attempts) {
        const row = list.querySelector(`tr[data-id="${a.id}"]`);
        if (row && row.dataset.status !== a.status) {
          row.dataset.status = a.status;
          row.children[1].replaceChildren(badge(a.status));
        }
      }
      if (fresh && !lastId) {
        clearTimeout(pending);
        pending = setTimeout(() => load(), 250);
      }
    },
  });
}
