// Schedules: every schedule of every project, with its next run and the session it started last;
// disable, enable, skip and backfill (schedule.js). Live: a slot that starts reads them again.

import { follow } from "../api.js";
import { h, title } from "../dom.js";
import { allSchedules, scheduleList } from "../schedule.js";

export async function render(main) {
  title("Schedules");
  const box = h("div.schedules-box");
  main.replaceChildren(h("h1", {}, "Schedules"),
    h("p.muted", {}, "A workflow with a ", h("code", {}, "schedule:"), " runs at each slot once its project is pushed. ",
      "Run times are in this browser's zone, session times in the workflow's."), box);
  const list = scheduleList(box, { load: () => allSchedules("/api/schedules") });
  await list.refresh();
  let pending = null;
  follow("/api/events", {
    attempts: (data) => {  // a slot that starts moves its schedule on
      if (!data.attempts.some((a) => a.status === "running" || a.status === "queued")) return;
      clearTimeout(pending);
      pending = setTimeout(() => list.refresh().catch(list.failed), 500);
    },
  });
}
