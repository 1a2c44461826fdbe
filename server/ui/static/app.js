// The UI's entry: the path names the page; each page is a module with `render(main, params)`.
// Links are plain links (every page a stable URL, the back button works).

import { ApiError, onLiveStatus } from "./api.js";
import { clear, h, isTyping, notice, title } from "./dom.js";
import { showLogin, showUser, whoAmI } from "./login.js";

const ROUTES = [
  [/^\/$/, "overview", []],
  [/^\/projects$/, "projects", []],
  [/^\/projects\/(\d+)$/, "project", ["id"]],
  [/^\/projects\/(\d+)\/workflows\/([^/]+)$/, "workflow", ["projectId", "name"]],
  [/^\/workflows\/(\d+)$/, "workflow", ["id"]],
  [/^\/sessions\/(\d+)$/, "session", ["id"]],
  [/^\/attempts$/, "attempts", []],
  [/^\/attempts\/(\d+)$/, "attempt", ["id"]],
  [/^\/schedules$/, "schedules", []],
];

const SHORTCUTS = [
  ["?", "show these keys"],
  ["g o / g p / g a / g s", "go to the overview, projects, attempts, schedules"],
  ["1 … 4", "switch tabs"],
  ["/", "search (the task table, the log)"],
  ["r / R", "attempt: retry failed / retry all"],
  ["k", "attempt: kill"],
  ["f", "log: follow on / off"],
];

// An error from the API or the page, as one line in the page.
export function showError(main, error) {
  const message = error instanceof ApiError ? error.message : `the page failed: ${error?.message ?? error}`;
  clear(main, h("h1", {}, error instanceof ApiError && error.status === 404 ? "Not found" : "Something went wrong"));
  const line = h("p");
  notice(line, message, "error");
  main.append(line);
}

async function start() {
  const main = document.getElementById("main");
  const path = location.pathname.replace(/\/+$/, "") || "/";
  for (const link of document.querySelectorAll("nav [data-nav]")) {
    const section = link.getAttribute("data-nav");
    const here = section === "overview" ? path === "/" : path.startsWith("/" + section);
    if (here) link.setAttribute("aria-current", "page");
  }
  const live = document.getElementById("live");
  onLiveStatus((state) => {
    live.textContent = state === "live" ? "● live" : state === "reconnecting" ? "○ reconnecting…" : "";
    live.dataset.state = state;
  });
  document.addEventListener("keydown", globalKeys);
  const who = await whoAmI();
  showUser(document.querySelector("header.top"), who);
  if (who.authRequired && !who.name) {
    showLogin(main);
    main.dataset.ready = "true";
    return;
  }
  const route = ROUTES.find(([pattern]) => pattern.test(path));
  if (!route) {
    title("Not found");
    showError(main, new ApiError(404, `no page at ${path}`));
    main.dataset.ready = "true";
    return;
  }
  const [pattern, name, keys] = route;
  const match = path.match(pattern);
  const params = Object.fromEntries(keys.map((key, i) => [key, decodeURIComponent(match[i + 1])]));
  try {
    const page = await import(`./pages/${name}.js`);
    await page.render(main, params, new URLSearchParams(location.search));
  } catch (error) {
    if (!(error instanceof ApiError)) console.error(error);
    if (error instanceof ApiError && error.status === 401) showLogin(main, error.message);  // revoked meanwhile
    else showError(main, error);
  }
  main.dataset.ready = "true";
}

let pendingG = false;

function globalKeys(event) {
  if (isTyping(event) || event.ctrlKey || event.metaKey || event.altKey) return;
  if (pendingG) {
    pendingG = false;
    const target = { o: "/", p: "/projects", a: "/attempts", s: "/schedules" }[event.key];
    if (target) location.href = target;
    return;
  }
  if (event.key === "g") pendingG = true;
  else if (event.key === "?") help();
  else if (/^[1-9]$/.test(event.key)) {
    const tab = document.querySelectorAll(".tabs [role=tab]")[Number(event.key) - 1];
    if (tab) { tab.click(); tab.focus(); }
  }
}

function help() {
  let dialog = document.getElementById("keys");
  if (!dialog) {
    dialog = h("dialog.dialog", { id: "keys", "aria-labelledby": "keys-title" },
      h("h2", { id: "keys-title" }, "Keyboard"),
      h("dl.keys", {}, SHORTCUTS.map(([key, what]) => [h("dt", {}, h("kbd", {}, key)), h("dd", {}, what)])),
      h("form", { method: "dialog" }, h("button", { type: "submit" }, "Close")));
    document.body.append(dialog);
  }
  dialog.showModal();
}

start();
