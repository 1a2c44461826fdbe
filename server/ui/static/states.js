// Task states (Digdag's names) and attempt statuses: a label, a symbol and a colour class each.
// Colours are the Okabe–Ito palette (told apart with every common colour-vision deficiency), and
// never alone: every state also has its symbol and its word, and graph boxes differ by border.

import { h } from "./dom.js";

const STATES = {
  success: ["success", "✓", "ok"],
  error: ["error", "✕", "bad"],
  group_error: ["group error", "!", "bad"],
  running: ["running", "▶", "run"],
  planned: ["planned", "◐", "run"],
  ready: ["ready", "◌", "ready"],
  retry_waiting: ["retry waiting", "↻", "retry"],
  group_retry_waiting: ["group retry waiting", "↻", "retry"],
  blocked: ["blocked", "○", "idle"],
  canceled: ["canceled", "⊘", "stop"],
  // a task's status (digpy's field) in Dagu's word: succeeded without running (an unmet precondition)
  skipped: ["skipped", "↷", "idle"],
  // failed under _continue_on (Dagu's continueOn): its state is success, the workflow went on
  failed: ["failed, continued", "✕", "bad"],
  // attempt statuses
  killing: ["killing", "⊘", "stop"],
  killed: ["killed", "⊘", "stop"],
  // digpy's partiallySucceeded (Dagu's word): a success in which a task failed under _continue_on
  partially_succeeded: ["partially succeeded", "◑", "ok"],
  // waits for a slot of its queue (max_active_attempts): a colour, symbol and border of its own
  queued: ["queued", "◷", "wait"],
};

export const TASK_STATES = ["running", "planned", "ready", "retry_waiting", "group_retry_waiting", "blocked",
  "success", "error", "group_error", "canceled"];
export const ATTEMPT_STATUSES = ["running", "queued", "killing", "success", "error", "killed"];
export const DONE_STATES = new Set(["success", "error", "group_error", "canceled"]);
export const FAILED_STATES = new Set(["error", "group_error", "canceled"]);

export function stateInfo(state) {
  const [label, symbol, tone] = STATES[state] ?? [state, "?", "idle"];
  return { label, symbol, tone };
}

// A state as a badge: symbol and word, coloured.
export function badge(state) {
  const { label, symbol, tone } = stateInfo(state);
  return h(`span.badge.tone-${tone}`, { "data-state": state }, h("span.sym", { "aria-hidden": "true" }, symbol), " ", label);
}
