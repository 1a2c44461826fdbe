// The Run form of a workflow: a session time (in the workflow's zone), params as key/value pairs or
// JSON, an optional attempt name. Mistakes are shown beside the field; the server's answer too.

import { ApiError, enc, get, put } from "./api.js";
import { clear, h, link, notice } from "./dom.js";

// A time (now by default) as a datetime-local value in a time zone: 2026-01-31T10:20:30.
export function nowIn(zone, at = new Date()) {
  const parts = Object.fromEntries(new Intl.DateTimeFormat("en-CA", {
    timeZone: zone, year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit",
    second: "2-digit", hourCycle: "h23",
  }).formatToParts(at).map((p) => [p.type, p.value]));
  return `${parts.year}-${parts.month}-${parts.day}T${parts.hour}:${parts.minute}:${parts.second}`;
}

export function runForm(container, workflow) {
  const errorOf = (id) => h("p.field-error", { id, role: "alert" });
  const timeError = errorOf("run-time-error");
  const paramsError = errorOf("run-params-error");
  const outcome = h("div.outcome", { "aria-live": "polite" });
  const time = h("input", { type: "datetime-local", step: "1", id: "run-time", name: "session_time", required: true,
    value: nowIn(workflow.timezone), "aria-describedby": "run-time-error" });
  const name = h("input", { type: "text", id: "run-name", name: "attempt_name", placeholder: "optional",
    autocomplete: "off" });
  const json = h("textarea", { id: "run-json", rows: "5", spellcheck: "false", placeholder: '{"key": "value"}',
    "aria-describedby": "run-params-error", "aria-label": "Params as JSON", oninput: () => validate(false) });
  const pairs = h("div.pairs");
  const pairRow = (key = "", value = "") => {
    const row = h("div.pair", {},
      h("input.key", { type: "text", placeholder: "key", value: key, "aria-label": "Param name", oninput: () => validate(false) }),
      h("input.value", { type: "text", placeholder: "value", value: value, "aria-label": "Param value" }),
      h("button.small", { type: "button", "aria-label": "Remove this param", onclick: () => { row.remove(); validate(false); } }, "×"));
    pairs.append(row);
    return row;
  };
  let mode = "pairs";
  const modeSwitch = h("div.mode", { role: "radiogroup", "aria-label": "How params are written" },
    ["pairs", "json"].map((m) => h("label.check", {},
      h("input", { type: "radio", name: "params_mode", value: m, checked: m === mode, onchange: () => switchMode(m) }),
      m === "pairs" ? " key = value" : " JSON")));
  const pairsBox = h("div", {}, pairs, h("button.small", { type: "button", onclick: () => pairRow().querySelector("input").focus() }, "Add a param"));
  const jsonBox = h("div", { hidden: true }, json);

  function currentParams() {
    if (mode === "json") {
      const text = json.value.trim();
      if (!text) return {};
      let value;
      try {
        value = JSON.parse(text);
      } catch (e) {
        throw new Error(`params are not valid JSON: ${e.message}`);
      }
      if (typeof value !== "object" || value === null || Array.isArray(value)) throw new Error("params must be a JSON object: {\"key\": value, ...}");
      return value;
    }
    const out = {};
    for (const row of pairs.querySelectorAll(".pair")) {
      const key = row.querySelector(".key").value.trim();
      const value = row.querySelector(".value").value;
      if (!key && !value) continue;
      if (!key) throw new Error("a param has a value but no name");
      if (key in out) throw new Error(`param ${key} is given twice`);
      out[key] = value;
    }
    return out;
  }

  function validate(show = true) {
    try {
      const params = currentParams();
      paramsError.textContent = "";
      return params;
    } catch (e) {
      if (show || paramsError.textContent) paramsError.textContent = e.message;
      return null;
    }
  }

  function switchMode(next) {
    if (next === mode) return;
    const params = validate(true);
    if (params === null) {
      modeSwitch.querySelector(`input[value=${mode}]`).checked = true;
      return;
    }
    mode = next;
    if (mode === "json") {
      json.value = Object.keys(params).length ? JSON.stringify(params, null, 2) : "";
    } else {
      clear(pairs);
      for (const [k, v] of Object.entries(params)) pairRow(k, typeof v === "string" ? v : JSON.stringify(v));
      if (!pairs.children.length) pairRow();
    }
    pairsBox.hidden = mode !== "pairs";
    jsonBox.hidden = mode !== "json";
  }

  const submit = h("button.primary", { type: "submit" }, "Run");
  const form = h("form.run", { "aria-labelledby": "run-title", novalidate: true, onsubmit: (e) => { e.preventDefault(); run(); } },
    h("h2", { id: "run-title" }, "Run"),
    h("label", { for: "run-time" }, "Session time ", h("span.muted", {}, `(${workflow.timezone})`)), time, timeError,
    h("fieldset", {}, h("legend", {}, "Params"), modeSwitch, pairsBox, jsonBox, paramsError),
    h("label", { for: "run-name" }, "Attempt name ", h("span.muted", {}, "(to run a session again)")), name,
    h("div.buttons", {}, submit), outcome);
  pairRow();
  container.append(form);

  async function run() {
    clear(outcome);
    timeError.textContent = "";
    const params = validate(true);
    if (params === null) return json.focus();
    if (!time.value) {
      timeError.textContent = "give a session time";
      return time.focus();
    }
    submit.disabled = true;
    try {
      let truncated;
      try {
        truncated = await get(`/api/workflows/${workflow.id}/truncated_session_time?session_time=${enc(time.value)}`);
      } catch (error) {
        timeError.textContent = error.message;
        time.focus();
        return;
      }
      const body = { workflowId: workflow.id, sessionTime: truncated.sessionTime, params };
      if (name.value.trim()) body.retryAttemptName = name.value.trim();
      const attempt = await put("/api/attempts", body);
      notice(outcome, `Started attempt ${attempt.id}.`, "ok", link(`/attempts/${attempt.id}`, " Open it"));
      location.assign(`/attempts/${attempt.id}`);
    } catch (error) {
      if (error instanceof ApiError && error.status === 409 && error.data?.id) {
        notice(outcome, `Session ${error.data.sessionTime} already has this attempt (${error.data.status}); give an attempt name to run it again.`,
          "error", link(`/attempts/${error.data.id}`, ` Open attempt ${error.data.id}`));
      } else {
        notice(outcome, error.message, "error");
      }
    } finally {
      submit.disabled = false;
    }
  }
  return form;
}
