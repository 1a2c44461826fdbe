// Tables of attempts and sessions, as several pages show them.

import { fmtDuration, fmtTime, h, link, parseTime } from "./dom.js";
import { badge } from "./states.js";

export function duration(attempt) {
  const start = parseTime(attempt.createdAt);
  if (start === null) return "";
  return fmtDuration((parseTime(attempt.finishedAt) ?? Date.now() / 1000) - start);
}

// Attempts, newest first: each row links to its attempt.
export function attemptTable(attempts, { caption, empty = "None." } = {}) {
  if (!attempts.length) return h("p.muted.empty", {}, empty);
  return h("table.list.attempts", {},
    caption ? h("caption", {}, caption) : null,
    h("thead", {}, h("tr", {}, ["Attempt", "Status", "Project", "Workflow", "Session time", "Created", "Duration"].map((c) => h("th", { scope: "col" }, c)))),
    h("tbody", {}, attempts.map((a) => h("tr", { "data-id": a.id, "data-status": a.status },
      h("td", {}, link(`/attempts/${a.id}`, `${a.id}${a.retryAttemptName ? " (" + a.retryAttemptName + ")" : ""}`)),
      h("td", {}, badge(a.status)),
      h("td", {}, link(`/projects/${a.project.id}`, a.project.name)),
      h("td", {}, a.workflow.id ? link(`/workflows/${a.workflow.id}`, a.workflow.name) : a.workflow.name),
      h("td", {}, link(`/sessions/${a.sessionId}`, a.sessionTime)),
      h("td", {}, fmtTime(a.createdAt)),
      h("td", {}, duration(a))))));
}

export function sessionTable(sessions, { empty = "No sessions yet." } = {}) {
  if (!sessions.length) return h("p.muted.empty", {}, empty);
  return h("table.list.sessions", {},
    h("thead", {}, h("tr", {}, ["Session", "Workflow", "Session time", "Last attempt", "Status", "Created"].map((c) => h("th", { scope: "col" }, c)))),
    h("tbody", {}, sessions.map((s) => h("tr", { "data-id": s.id },
      h("td", {}, link(`/sessions/${s.id}`, s.id)),
      h("td", {}, s.workflow.id ? link(`/workflows/${s.workflow.id}`, s.workflow.name) : s.workflow.name),
      h("td", {}, s.sessionTime),
      h("td", {}, s.lastAttempt ? link(`/attempts/${s.lastAttempt.id}`, s.lastAttempt.id) : ""),
      h("td", {}, s.lastAttempt ? badge(s.lastAttempt.status) : ""),
      h("td", {}, fmtTime(s.lastAttempt?.createdAt))))));
}
