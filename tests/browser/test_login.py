"""Logging in to the web UI of a server with API tokens: the token is exchanged for an HttpOnly
cookie, with which pages, live updates and actions (a kill) work, until the user logs out."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from playwright.sync_api import expect

from tests.acceptance.test_server import write_project
from tests.browser.conftest import Page
from tests.conftest import Server


def test_log_in_with_a_token_act_and_log_out(chromium: Any, tmp_path: Path) -> None:
    server = Server(tmp_path / "server", None)
    server.data_dir.mkdir(parents=True)
    created = server.digpy("token", "create", "alice", "--admin", *server.database_options())
    token = created.stdout.strip()
    server.start()
    context = chromium.new_context(viewport={"width": 1400, "height": 900})
    context.set_default_timeout(20_000)
    try:
        env = {"DIGPY_TOKEN": token}
        project = write_project(tmp_path / "p", {"wf.dig": "+a:\n  sh>: sleep 60\n"})
        assert server.digpy("push", "p", "--project", str(project), env=env).returncode == 0
        started = server.digpy("start", "p", "wf", "--json", env=env)
        attempt = json.loads(started.stdout)["id"]

        ui = Page(context.new_page(), server.endpoint)
        page = ui.open(f"/attempts/{attempt}")
        expect(page.locator("h1")).to_have_text("Log in")
        page.get_by_label("API token").fill("digpy_not-a-token")
        page.get_by_role("button", name="Log in").click()
        expect(page.locator(".outcome")).to_have_text(re.compile("the API token is not valid"))

        page.get_by_label("API token").fill(token)
        page.get_by_role("button", name="Log in").click()
        expect(page.locator("#attempt-status")).to_have_text(re.compile("running"))
        expect(page.locator("header .user")).to_contain_text("alice")
        expect(page.locator("#live")).to_have_text("● live")  # the event stream is let in by the cookie
        assert token not in page.evaluate("document.cookie"), "the page cannot read the session"

        page.get_by_role("button", name="Kill").click()
        page.get_by_role("dialog").get_by_role("button", name=re.compile("Kill")).click()
        expect(page.locator("#attempt-status")).to_have_text(re.compile("killed"))

        page.get_by_role("button", name="Log out").click()
        page.wait_for_selector("main[data-ready]")
        expect(page.locator("h1")).to_have_text("Log in")
        assert ui.errors == []
    finally:
        context.close()
        server.stop()
