// A session: its workflow and session time, and every attempt of it.

import { follow, get } from "../api.js";
import { clear, field, h, link, title } from "../dom.js";
import { attemptTable } from "../lists.js";
import { badge } from "../states.js";

export async function render(main, params) {
  const session = await get(`/api/sessions/${params.id}`);
  title(`Session ${session.sessionTime}`, session.workflow.name);
  const list = h("div");
  clear(main,
    h("nav.crumbs", { "aria-label": "Breadcrumb" }, link("/projects", "Projects"), " › ",
      link(`/projects/${session.project.id}`, session.project.name), " › ",
      session.workflow.id ? link(`/workflows/${session.workflow.id}`, session.workflow.name) : session.workflow.name, " › ",
      `session ${session.sessionTime}`),
    h("h1", {}, `${session.workflow.name} · session ${session.sessionTime} `, session.lastAttempt ? badge(session.lastAttempt.status) : ""),
    h("dl.meta", {}, field("Session", session.id), field("UUID", session.sessionUuid),
      field("Last attempt", session.lastAttempt ? link(`/attempts/${session.lastAttempt.id}`, session.lastAttempt.id) : "—")),
    h("h2", {}, "Attempts"), list);
  async function load() {
    const attempts = (await get(`/api/sessions/${session.id}/attempts?page_size=1000`)).attempts;
    clear(list, attemptTable(attempts));
  }
  await load();
  follow("/api/events", {
    attempts: (data) => { if (data.attempts.some((a) => a.sessionId === session.id)) load(); },
  });
}
