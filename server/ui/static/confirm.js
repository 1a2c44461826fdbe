// Asking before an action that changes something (retry, kill): a modal dialog, Enter or the
// button confirms, Escape or Cancel does not.

import { h } from "./dom.js";

export function confirmAction({ heading, body, action, danger = false }) {
  return new Promise((resolve) => {
    const ok = h(`button.primary${danger ? ".danger" : ""}`, { type: "submit", value: "ok" }, action);
    const dialog = h("dialog.dialog", { "aria-labelledby": "confirm-title" },
      h("form", { method: "dialog" },
        h("h2", { id: "confirm-title" }, heading),
        h("p", {}, body),
        h("div.buttons", {},
          ok,
          h("button", { type: "submit", value: "cancel" }, "Cancel"))));
    dialog.addEventListener("close", () => {
      resolve(dialog.returnValue === "ok");
      dialog.remove();
    });
    document.body.append(dialog);
    dialog.showModal();
    ok.focus();
  });
}
