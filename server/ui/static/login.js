// Logging in: a server with API tokens asks for one; POST /api/session exchanges it for an HttpOnly
// session cookie (the page never keeps the token), which the API and the live streams then accept.

import { ApiError, del, get, post } from "./api.js";
import { clear, h, notice, title } from "./dom.js";

// Who the browser is logged in as (GET /api/session): {authRequired, name, serverAdmin, grants}.
export async function whoAmI() {
  try {
    return await get("/api/session");
  } catch {
    return { authRequired: false, name: null };
  }
}

// The log-in form in place of the page; after a log-in the page is loaded again.
export function showLogin(main, message) {
  title("Log in");
  const input = h("input", { id: "token", type: "password", name: "token", autocomplete: "current-password",
    required: true, spellcheck: "false", size: 48 });
  const outcome = h("p.outcome");
  if (message) notice(outcome, message, "error");
  const form = h("form.login", { onsubmit: async (event) => {
    event.preventDefault();
    try {
      await post("/api/session", { token: input.value.trim() });
      location.reload();
    } catch (error) {
      notice(outcome, error instanceof ApiError ? error.message : String(error), "error");
      input.select();
    }
  } },
  h("label", { for: "token" }, "API token"), input,
  h("div.buttons", {}, h("button.primary", { type: "submit" }, "Log in")));
  clear(main, h("h1", {}, "Log in"),
    h("p", {}, "This server asks for an API token. A server admin creates one with ",
      h("code", {}, "digpy token create NAME"), "; the browser keeps a session cookie, not the token."),
    form, outcome);
  input.focus();
}

// "alice · Log out" in the header once logged in.
export function showUser(header, who) {
  if (!who.name) return;
  const button = h("button.small.logout", { type: "button", onclick: async () => {
    await del("/api/session");
    location.href = "/";
  } }, "Log out");
  header.append(h("span.user", { title: who.serverAdmin ? "server admin" : "token" }, who.name, " ", button));
}
