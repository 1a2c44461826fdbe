// Schedules as the pages show them (the Schedules page, a project's tab, the overview): what each
// follows, its next run, the session it started last, enabled or not; and its actions — disable,
// enable, skip, backfill with a dry-run preview — each one API call (/api/schedules/ID/...) that asks
// first and then says what happened, or the API's error in one line.

import { enc, get, post } from "./api.js";
import { confirmAction } from "./confirm.js";
import { clear, fmtDuration, fmtTime, h, link, notice, parseTime } from "./dom.js";
import { nowIn } from "./runform.js";
import { badge } from "./states.js";

const PAGE = 1000;
const ENDED_YEAR = 9000; // a schedule past its `end:` waits in the year 9999 (as Digdag)

// Every schedule of `path` (/api/schedules or /api/projects/ID/schedules), in pages of 1000.
export async function allSchedules(path) {
  const out = [];
  let last = null;
  for (;;) {
    const page = (await get(`${path}?count=${PAGE}${last ? "&last_id=" + last : ""}`)).schedules;
    out.push(...page);
    if (page.length < PAGE) return out;
    last = page[page.length - 1].id;
  }
}

export const ended = (s) => new Date(s.nextRunTime).getUTCFullYear() >= ENDED_YEAR;

// The enabled schedules that will run, soonest first.
export function upcoming(schedules) {
  return schedules.filter((s) => !s.disabledAt && !ended(s))
    .sort((a, b) => Date.parse(a.nextRunTime) - Date.parse(b.nextRunTime));
}

// `daily>: 07:00:00`, then its options (`start`, `catch_up`, ...).
export function describe(schedule) {
  const entries = Object.entries(schedule.schedule || {});
  const kind = entries.find(([k]) => k.endsWith(">"));
  const options = entries.filter(([k]) => !k.endsWith(">")).map(([k, v]) => `${k}: ${typeof v === "string" ? v : JSON.stringify(v)}`);
  return h("span.schedule-of", {},
    h("code", {}, kind ? `${kind[0]} ${typeof kind[1] === "string" ? kind[1] : JSON.stringify(kind[1])}` : "—"),
    options.length ? h("span.muted.small", {}, " " + options.join(", ")) : null,
    h("span.muted.small", {}, ` (${schedule.timezone})`));
}

function inTime(iso) {
  const seconds = parseTime(iso) - Date.now() / 1000;
  return seconds >= 0 ? `in ${fmtDuration(seconds)}` : `due ${fmtDuration(-seconds)} ago`;
}

// When the next slot runs (in the browser's zone) and its session time (in the workflow's).
export function nextRun(s) {
  if (ended(s)) return h("span.next-run.muted", {}, "never: the schedule has ended");
  return h("span.next-run", {},
    h("time", { datetime: s.nextRunTime }, fmtTime(s.nextRunTime)), " ",
    h("span.muted.small.until", {}, s.disabledAt ? "(not while disabled)" : inTime(s.nextRunTime)),
    h("br"), h("span.muted.small", {}, `session ${s.nextScheduleTime}`));
}

function lastSession(s) {
  if (!s.lastSessionTime) return h("span.muted", {}, "none yet");
  const text = `session ${s.lastSessionTime}`;
  return [s.lastSessionId ? link(`/sessions/${s.lastSessionId}`, text) : text,
    s.lastAttempt ? [" ", link(`/attempts/${s.lastAttempt.id}`, badge(s.lastAttempt.status), "badge-link")] : null];
}

function enabledBadge(s) {
  return s.disabledAt
    ? h("span.badge.tone-idle.schedule-state", { "data-state": "disabled", title: `disabled at ${fmtTime(s.disabledAt)}` },
      h("span.sym", { "aria-hidden": "true" }, "‖"), " disabled")
    : h("span.badge.tone-ok.schedule-state", { "data-state": "enabled" }, h("span.sym", { "aria-hidden": "true" }, "●"), " enabled");
}

const workflowLink = (s) => link(`/workflows/${s.workflow.id}`, s.workflow.name);

// The next runs as the overview lists them: soonest first.
export function upcomingTable(schedules, { empty = "No schedule runs next." } = {}) {
  if (!schedules.length) return h("p.muted.empty", {}, empty);
  return h("table.list.upcoming", {},
    h("thead", {}, h("tr", {}, ["Next run", "Workflow", "Project", "Session time"].map((c) => h("th", { scope: "col" }, c)))),
    h("tbody", {}, schedules.map((s) => h("tr", { "data-id": s.id },
      h("td", {}, h("time", { datetime: s.nextRunTime }, fmtTime(s.nextRunTime)), " ", h("span.muted.small", {}, inTime(s.nextRunTime))),
      h("td", {}, workflowLink(s)),
      h("td", {}, link(`/projects/${s.project.id}`, s.project.name)),
      h("td", {}, s.nextScheduleTime)))));
}

// Schedules with their actions, in `container`: a line saying what the last action did, the
// table, and the skip or backfill form below it. `load()` reads the schedules (again after an action).
export function scheduleList(container, { load, project = true, empty } = {}) {
  const outcome = h("div.outcome", { "aria-live": "polite" });
  const tableBox = h("div.table-box");
  const form = h("section.schedule-form", { hidden: true, "aria-labelledby": "schedule-form-title" });
  clear(container, outcome, tableBox, form);
  const say = (text, kind = "ok", extra) => notice(outcome, text, kind, extra);
  const failed = (error) => say(error.message, "error");
  const done = async () => { try { await refresh(); } catch (error) { failed(error); } };
  const actions = { say, failed, done, form };
  const columns = ["Workflow", ...(project ? ["Project"] : []), "Schedule", "Next run", "Last session", "State", ""];
  const row = (s) => h("tr", { "data-id": s.id, "data-workflow": s.workflow.name, "data-project": s.project.name },
    h("td", {}, workflowLink(s)),
    project ? h("td", {}, link(`/projects/${s.project.id}`, s.project.name)) : null,
    h("td", {}, describe(s)),
    h("td", {}, nextRun(s)),
    h("td", {}, lastSession(s)),
    h("td", {}, enabledBadge(s)),
    h("td.row-actions", {}, h("div.actions", {},
      s.disabledAt
        ? h("button.small", { type: "button", onclick: () => enable(s, actions) }, "Enable")
        : h("button.small", { type: "button", onclick: () => disable(s, actions) }, "Disable"),
      h("button.small", { type: "button", onclick: () => skipForm(s, actions), disabled: ended(s) }, "Skip…"),
      h("button.small", { type: "button", onclick: () => backfillForm(s, actions) }, "Backfill…"))));
  async function refresh() {
    const schedules = await load();
    clear(tableBox, schedules.length ? h("table.list.schedules", {},
      h("thead", {}, h("tr", {}, columns.map((c) => h("th", { scope: "col" }, c)))),
      h("tbody", {}, schedules.map(row)))
      : h("p.muted.empty", {}, empty ?? "No schedules. A workflow with a schedule: gets one when its project is pushed."));
  }
  return { refresh, failed };
}

const named = (s) => `${s.project.name} / ${s.workflow.name}`;

async function disable(s, { say, failed, done }) {
  if (!await confirmAction({ heading: `Disable ${named(s)}?`, action: "Disable", danger: true,
    body: "No new session starts from this schedule until it is enabled again; attempts running now go on." })) return;
  try {
    await post(`/api/schedules/${s.id}/disable`);
    say(`Disabled the schedule of ${named(s)}.`);
  } catch (error) {
    return failed(error);
  }
  await done();
}

async function enable(s, { say, failed, done }) {
  if (!await confirmAction({ heading: `Enable ${named(s)}?`, action: "Enable",
    body: "The schedule runs again from its next slot after now; the slots it missed while disabled are passed over (digpy backfill runs them)." })) return;
  try {
    const summary = await post(`/api/schedules/${s.id}/enable`);
    say(`Enabled the schedule of ${named(s)}: next run ${fmtTime(summary.nextRunTime)} (session ${summary.nextScheduleTime}).`);
  } catch (error) {
    return failed(error);
  }
  await done();
}

// An action's form below the table: its heading, fields, and a preview line.
function openForm(form, title, ...children) {
  clear(form, h("h2", { id: "schedule-form-title" }, title), ...children);
  form.hidden = false;
  form.scrollIntoView({ block: "nearest" });
  form.querySelector("input")?.focus();
}

const closeButton = (form) => h("button", { type: "button", onclick: () => { form.hidden = true; clear(form); } }, "Close");

function skipForm(s, { say, failed, done, form }) {
  const to = h("input", { type: "datetime-local", step: "1", id: "skip-time", "aria-label": "Skip to this session time",
    value: s.nextScheduleTime.slice(0, 19) });
  const count = h("input", { type: "number", min: "1", value: "1", id: "skip-count", "aria-label": "Number of runs to skip", size: "5" });
  const mode = (m) => h("input", { type: "radio", name: "skip-mode", value: m, checked: m === "count" });
  const modes = { count: mode("count"), time: mode("time") };
  const preview = h("div.preview", { "aria-live": "polite" });
  const body = () => modes.time.checked ? { nextTime: to.value } : { count: Number(count.value) };
  const moved = (summary) => `the next run moves from ${fmtTime(s.nextRunTime)} (session ${s.nextScheduleTime}) to `
    + (ended(summary) ? "never (past the schedule's end)" : `${fmtTime(summary.nextRunTime)} (session ${summary.nextScheduleTime})`);
  async function dryRun() {
    try {
      const summary = await post(`/api/schedules/${s.id}/skip`, { ...body(), dryRun: true });
      notice(preview, `If skipped, ${moved(summary)}.`, "info");
      return summary;
    } catch (error) {
      notice(preview, error.message, "error");
      return null;
    }
  }
  async function skip(event) {
    event.preventDefault();
    const planned = await dryRun();
    if (!planned || !await confirmAction({ heading: `Skip runs of ${named(s)}?`, action: "Skip",
      body: `Sessions before ${planned.nextScheduleTime} are not started: ${moved(planned)}.` })) return;
    try {
      const summary = await post(`/api/schedules/${s.id}/skip`, body());
      say(`Skipped: the next run of ${named(s)} is ${fmtTime(summary.nextRunTime)} (session ${summary.nextScheduleTime}).`);
    } catch (error) {
      return failed(error);
    }
    form.hidden = true;
    await done();
  }
  openForm(form, `Skip runs of ${named(s)}`,
    h("form.schedule-action", { onsubmit: skip },
      h("label.check", {}, modes.count, " the next ", count, " runs"),
      h("label.check", {}, modes.time, " to the first session at or after ", to, h("span.muted", {}, ` (${s.timezone})`)),
      h("div.buttons", {},
        h("button", { type: "button", onclick: dryRun }, "Preview"),
        h("button.primary", { type: "submit" }, "Skip…"),
        closeButton(form)),
      preview));
  count.addEventListener("focus", () => { modes.count.checked = true; });
  to.addEventListener("focus", () => { modes.time.checked = true; });
}

const SHOWN_SLOTS = 50;

function backfillForm(s, { say, failed, done, form }) {
  const start = new Date(Date.now() - 7 * 24 * 3600 * 1000);
  const from = h("input", { type: "datetime-local", step: "1", id: "backfill-from", required: true,
    value: nowIn(s.timezone, start).slice(0, 11) + "00:00:00" });
  const count = h("input", { type: "number", min: "1", id: "backfill-count", placeholder: "all", size: "6" });
  const name = h("input", { type: "text", id: "backfill-name", required: true, size: "22",
    value: `backfill-${nowIn(s.timezone).replace(/[-:]/g, "").replace("T", "-").slice(0, 13)}` });
  const parallel = h("input", { type: "number", min: "1", value: "1", id: "backfill-parallel", size: "4" });
  const preview = h("div.preview", { "aria-live": "polite" });
  const body = () => ({ fromTime: from.value, attemptName: name.value.trim(), parallel: Number(parallel.value) || 1,
    ...(count.value ? { count: Number(count.value) } : {}) });
  async function dryRun() {
    try {
      const answer = await post(`/api/schedules/${s.id}/backfill`, { ...body(), dryRun: true });
      const times = answer.sessionTimes;
      clear(preview, times.length
        ? [h("p", {}, `A backfill would start ${times.length} session${times.length === 1 ? "" : "s"}:`),
          h("ol.slots", {}, times.slice(0, SHOWN_SLOTS).map((t) => h("li", {}, t))),
          times.length > SHOWN_SLOTS ? h("p.muted", {}, `and ${times.length - SHOWN_SLOTS} more, to ${times[times.length - 1]}`) : null]
        : h("p.muted", {}, "No slot between that time and the next run: a backfill would start nothing."));
      return answer;
    } catch (error) {
      notice(preview, error.message, "error");
      return null;
    }
  }
  async function backfill(event) {
    event.preventDefault();
    const planned = await dryRun();
    if (!planned || !planned.sessionTimes.length) return;
    const n = planned.sessionTimes.length;
    if (!await confirmAction({ heading: `Backfill ${named(s)}?`, action: "Backfill",
      body: `${n} attempt${n === 1 ? "" : "s"} named “${body().attemptName}” start, sessions ${planned.sessionTimes[0]}`
        + `${n > 1 ? " to " + planned.sessionTimes[n - 1] : ""}, ${body().parallel} at a time.` })) return;
    let answer;
    try {
      answer = await post(`/api/schedules/${s.id}/backfill`, body());
    } catch (error) {
      return failed(error);
    }
    const started = answer.attempts;
    say(`Started ${started.length} attempt${started.length === 1 ? "" : "s"} of ${named(s)}: `, "ok",
      [started.slice(0, 10).map((a, i) => [i ? ", " : "", link(`/attempts/${a.id}`, a.id)]), started.length > 10 ? ", …" : "", ". ",
        link(`/attempts?all=1&project=${enc(s.project.name)}&workflow=${enc(s.workflow.name)}`, "See them in the attempts list")]);
    form.hidden = true;
    await done();
  }
  openForm(form, `Backfill ${named(s)}`,
    h("p.muted", {}, "Runs the slots from a session time up to the schedule's next run (or a number of them), as attempts with a name of their own."),
    h("form.schedule-action", { onsubmit: backfill },
      h("label", {}, "From session ", from, h("span.muted", {}, ` (${s.timezone})`)),
      h("label", {}, "Sessions ", count, h("span.muted", {}, " (empty: up to the next run)")),
      h("label", {}, "Attempt name ", name),
      h("label", {}, "At a time ", parallel),
      h("div.buttons", {},
        h("button", { type: "button", onclick: dryRun }, "Preview"),
        h("button.primary", { type: "submit" }, "Backfill…"),
        closeButton(form)),
      preview));
}
