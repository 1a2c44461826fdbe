// Schedules: waiting for the scheduler (docs/ui.md).

import { clear, h, title } from "../dom.js";

export async function render(main) {
  title("Schedules");
  clear(main, h("h1", {}, "Schedules"),
    h("p", {}, "This version of digpy has no scheduler yet: workflows with a ", h("code", {}, "schedule:"),
      " run when they are started (from a workflow's Run form, or ", h("code", {}, "digpy start"), ")."),
    h("p.muted", {}, "When the scheduler lands, this page lists each schedule's next run and last session, with enable, disable, skip and backfill."));
}
