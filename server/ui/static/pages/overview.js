// The overview: what runs now, what failed in the last 24 hours, the next scheduled runs; live.

import { follow, get } from "../api.js";
import { clear, h, link, notice, title } from "../dom.js";
import { attemptTable } from "../lists.js";
import { allSchedules, upcoming, upcomingTable } from "../schedule.js";

const DAY = 24 * 3600;
const NEXT_RUNS = 10;

async function failedToday() {
  const since = Date.now() / 1000 - DAY;
  const out = [];
  let last = null;
  for (let page = 0; page < 10; page++) {
    const found = (await get(`/api/attempts?status=error&include_retried=true&page_size=200${last ? "&last_id=" + last : ""}`)).attempts;
    out.push(...found.filter((a) => Date.parse(a.finishedAt ?? a.createdAt) / 1000 >= since));
    if (found.length < 200 || Date.parse(found[found.length - 1].createdAt) / 1000 < since - 7 * DAY) break;
    last = found[found.length - 1].id;
  }
  return out;
}

export async function render(main) {
  title("Overview");
  const running = h("section", { "aria-labelledby": "running-title" });
  const failed = h("section", { "aria-labelledby": "failed-title" });
  const scheduled = h("section", { "aria-labelledby": "scheduled-title" });
  clear(main, h("h1", {}, "Overview"), running, failed, scheduled);

  async function load() {
    const [now, killing, queued, errors, schedules] = await Promise.all([
      get("/api/attempts?status=running&include_retried=true&page_size=200"),
      get("/api/attempts?status=killing&include_retried=true&page_size=200"),
      get("/api/attempts?status=queued&include_retried=true&page_size=200"),
      failedToday(),
      allSchedules("/api/schedules"),
    ]);
    const active = [...now.attempts, ...killing.attempts].sort((a, b) => Number(b.id) - Number(a.id));
    const waiting = queued.attempts;
    clear(running, h("h2", { id: "running-title" }, `Running now (${active.length})`,
      waiting.length ? h("span.muted.small", {}, ` and ${waiting.length} queued`) : null),
      attemptTable([...active, ...waiting], { empty: "Nothing is running." }),
      h("p", {}, link("/attempts?status=running", "All running attempts"),
        waiting.length ? [" · ", link("/attempts?status=queued", "All queued attempts")] : null));
    const next = upcoming(schedules);
    clear(scheduled, h("h2", { id: "scheduled-title" }, "Next scheduled runs"),
      upcomingTable(next.slice(0, NEXT_RUNS), { empty: schedules.length ? "No enabled schedule runs again."
        : "No schedules: a workflow with a schedule: gets one when its project is pushed." }),
      h("p", {}, link("/schedules", next.length > NEXT_RUNS ? `All ${schedules.length} schedules` : "Schedules")));
    clear(failed, h("h2", { id: "failed-title" }, `Failed in the last 24 hours (${errors.length})`),
      attemptTable(errors, { empty: "Nothing failed in the last 24 hours." }), h("p", {}, link("/attempts?status=error", "All failed attempts")));
  }

  await load();
  let pending = null;
  follow("/api/events", {
    attempts: () => {
      clearTimeout(pending);
      pending = setTimeout(() => load().catch((e) => notice(running, e.message, "error")), 250);
    },
  });
}
