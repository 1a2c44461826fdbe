"""The web UI as a user drives it: real Chromium, a real `digpy server`, real attempts. Every test
asserts what the page shows."""

from __future__ import annotations

import json
import re
import time

import pytest
from playwright.sync_api import expect

from tests.acceptance.test_server import api, wait_done, write_project

WORKFLOW = """\
timezone: UTC
_error:
  echo>: the workflow failed
+prepare:
  echo>: preparing ${who}
+work:
  sh>: echo started-$((1+1)); while [ ! -f {marker} ]; do sleep 0.05; done; echo finished-$((2+2))
+check:
  sh>: test -f {ok}
"""


def push(server, tmp_path, files: dict[str, str], name: str = "p") -> None:
    project = write_project(tmp_path / name, files)
    pushed = server.digpy("push", name, "--project", str(project))
    assert pushed.returncode == 0, pushed.stderr


def waiting_project(server, tmp_path) -> tuple:
    marker, ok = tmp_path / "go", tmp_path / "ok"
    push(server, tmp_path, {"wf.dig": WORKFLOW.replace("{marker}", str(marker)).replace("{ok}", str(ok))})
    return marker, ok


def start(server, workflow: str = "wf", *params: str, project: str = "p") -> str:
    args = [arg for p in (params or ("who=test",)) for arg in ("-p", p)]
    started = server.digpy("start", project, workflow, *args, "--json")
    assert started.returncode == 0, started.stderr
    return json.loads(started.stdout)["id"]


def node(page, full_name: str):
    return page.locator(f'svg.graph g[data-name="{full_name}"]')


def test_every_page_opens_and_shows_its_data(ui, tmp_path):
    server = ui.server
    marker, ok = waiting_project(server, tmp_path)
    marker.touch()
    ok.touch()
    attempt = start(server, "wf", "who=me")
    wait_done(server, attempt)

    page = ui.open("/")
    expect(page.locator("h1")).to_have_text("Overview")
    expect(page.locator("#running-title")).to_contain_text("Running now (0)")
    expect(page.locator("#scheduled-title")).to_be_visible()

    page = ui.open("/projects")
    page.get_by_role("link", name="p", exact=True).click()
    page.wait_for_selector("main[data-ready]")
    expect(page.locator("h1")).to_have_text("p")
    page.get_by_role("tab", name="Files").click()
    expect(page.locator(".file-view h2")).to_have_text("wf.dig")
    expect(page.locator(".source #L5")).to_contain_text("echo>: preparing ${who}")
    page.get_by_role("tab", name="Sessions").click()
    expect(page.locator("table.sessions tbody tr")).to_have_count(1)

    page.get_by_role("tab", name="Workflows").click()
    page.get_by_role("link", name="wf", exact=True).click()
    page.wait_for_selector("main[data-ready]")
    expect(node(page, "+wf+work")).to_contain_text("sh>: echo started")
    expect(page.locator('svg.graph g[data-name="+wf^error"]')).to_contain_text("echo>: the workflow failed")
    expect(page.locator("svg.graph .edge-label")).to_have_text("on error")
    node(page, "+wf+prepare").click()  # shows where the task is written: its operator's line
    expect(page.locator(".source .line.hl")).to_have_text("5  echo>: preparing ${who}\n")

    page = ui.open("/attempts")
    expect(page.locator("table.attempts tbody tr")).to_have_count(1)
    expect(page.locator("table.attempts tbody tr").first).to_contain_text("success")
    page.get_by_role("radio", name="error").check()
    page.wait_for_url(re.compile(r"status=error"))
    page.wait_for_selector("main[data-ready]")
    expect(page.locator(".empty")).to_have_text("No error attempts.")

    page = ui.open(f"/attempts/{attempt}")
    expect(page.locator("#attempt-status")).to_have_text(re.compile("success"))
    expect(node(page, "+wf+prepare")).to_have_class(re.compile("st-success"))
    page.keyboard.press("2")
    expect(page.locator('.panel[aria-labelledby=tab-tasks] .vrow[data-name="+wf+prepare"]')).to_contain_text("success")
    page.keyboard.press("3")
    expect(page.locator('.panel[aria-labelledby=tab-timeline] .vrow[data-name="+wf+work"] .bar')).to_be_visible()
    page.keyboard.press("4")
    page.get_by_role("button", name=re.compile(r"^\+wf\+prepare")).click()
    expect(page.locator("pre.log")).to_contain_text("preparing me")

    page = ui.open(f"/sessions/{json.loads(server.digpy('attempt', attempt, '--json').stdout)['session_id']}")
    expect(page.locator("table.attempts tbody tr")).to_have_count(1)
    page = ui.open("/schedules")
    expect(page.locator(".empty")).to_contain_text("No schedules.")
    assert ui.errors == []


def test_an_api_error_is_one_readable_line(ui):
    page = ui.open("/attempts/424242")
    expect(page.locator("[role=alert]")).to_have_text("attempt 424242 not found")
    page = ui.open("/projects/77")
    expect(page.locator("[role=alert]")).to_have_text("project 77 not found")
    page = ui.open("/no/such/page")
    expect(page.locator("[role=alert]")).to_have_text("no page at /no/such/page")


def test_the_run_form_starts_an_attempt_whose_task_turns_from_running_to_success_live(ui, tmp_path):
    server = ui.server
    marker, ok = waiting_project(server, tmp_path)
    ok.touch()
    workflow = api(server, "GET", "/api/projects/1/workflows/wf")[1]["id"]
    page = ui.open(f"/workflows/{workflow}")
    page.locator("#run-time").fill("2026-03-01T10:00:00")
    page.get_by_label("Param name").fill("who")
    page.get_by_label("Param value").fill("the form")
    page.get_by_role("button", name="Run", exact=True).click()
    page.wait_for_url(re.compile(r"/attempts/\d+$"))
    page.wait_for_selector("main[data-ready]")
    attempt = page.url.rsplit("/", 1)[1]
    expect(page.locator("h1")).to_contain_text(f"attempt {attempt}")
    assert json.loads(server.digpy("attempt", attempt, "--json").stdout)["session_time"] == "2026-03-01T10:00:00+00:00"

    work = node(page, "+wf+work")
    expect(work).to_have_class(re.compile("st-running"))
    page.evaluate("window.notReloaded = true")
    released = time.monotonic()
    marker.touch()
    expect(work).to_have_class(re.compile("st-success"))
    shown = time.monotonic() - released
    expect(page.locator("#attempt-status")).to_have_text(re.compile("success"))
    assert page.evaluate("window.notReloaded") is True, "the page was not reloaded"
    assert shown < 3, f"the change took {shown:.1f} s to show"
    assert "preparing the form" in server.digpy("log", attempt).stdout
    assert ui.errors == []


def test_the_run_form_shows_mistakes_beside_the_field(ui, tmp_path):
    server = ui.server
    waiting_project(server, tmp_path)
    page = ui.open("/projects/1/workflows/wf")
    page.get_by_role("radio", name="JSON").check()
    page.get_by_label("Params as JSON").fill('{"who": ')
    page.get_by_role("button", name="Run", exact=True).click()
    expect(page.locator("#run-params-error")).to_contain_text("params are not valid JSON")
    page.get_by_label("Params as JSON").fill('["a list"]')
    page.get_by_role("button", name="Run", exact=True).click()
    expect(page.locator("#run-params-error")).to_have_text('params must be a JSON object: {"key": value, ...}')
    assert api(server, "GET", "/api/attempts")[1]["attempts"] == [], "nothing was started"

    page.get_by_label("Params as JSON").fill('{"who": "again"}')
    page.locator("#run-time").fill("2026-01-31T00:00:00")
    api(server, "PUT", "/api/attempts", json.dumps({"workflowId": "1", "sessionTime": "2026-01-31T00:00:00Z"}).encode())
    page.get_by_role("button", name="Run", exact=True).click()
    expect(page.locator(".outcome [role=alert]")).to_contain_text("already has this attempt")
    expect(page.locator(".outcome a")).to_have_text(re.compile(r"Open attempt \d+"))
    assert ui.errors == []


def test_a_log_is_followed_searched_and_downloaded(ui, tmp_path):
    server = ui.server
    marker, ok = waiting_project(server, tmp_path)
    ok.touch()
    attempt = start(server)
    page = ui.open(f"/attempts/{attempt}?tab=logs&log=%2Bwf%2Bwork")
    log = page.locator("pre.log")
    expect(log).to_contain_text("started-2")
    expect(log).not_to_contain_text("finished-4")
    marker.touch()
    expect(log).to_contain_text("finished-4")
    page.get_by_label("Search the log").fill("finished-4")
    expect(page.locator(".log-tools .count")).to_have_text("1 / 1")
    with page.expect_download() as download:
        page.get_by_role("button", name="Download").click()
    text = open(download.value.path(), encoding="utf-8").read()
    assert "started-2\n" in text and "finished-4\n" in text
    assert ui.errors == []


def test_a_failed_attempt_is_retried_from_its_page(ui, tmp_path):
    server = ui.server
    marker, ok = waiting_project(server, tmp_path)
    marker.touch()
    attempt = start(server)
    assert wait_done(server, attempt)["status"] == "error"
    page = ui.open(f"/attempts/{attempt}")
    expect(page.locator("#attempt-status")).to_have_text(re.compile("error"))
    expect(node(page, "+wf+check")).to_have_class(re.compile("st-error"))
    ok.touch()
    page.get_by_role("button", name="Retry failed").click()
    dialog = page.get_by_role("dialog")
    expect(dialog).to_contain_text("tasks that succeeded are skipped")
    dialog.get_by_role("button", name="Retry").click()
    link = page.locator(".outcome a")
    expect(link).to_have_text(re.compile(r"Open attempt \d+"))
    link.click()
    page.wait_for_selector("main[data-ready]")
    expect(page.locator("#attempt-status")).to_have_text(re.compile("success"))
    retried = page.url.rsplit("/", 1)[1]
    assert "skipped (succeeded in an earlier attempt)" in server.digpy("log", retried).stdout
    assert ui.errors == []


def test_a_running_attempt_is_killed_with_the_keyboard(ui, tmp_path):
    server = ui.server
    waiting_project(server, tmp_path)
    attempt = start(server)
    page = ui.open(f"/attempts/{attempt}")
    expect(node(page, "+wf+work")).to_have_class(re.compile("st-running"))
    page.locator("body").press("k")
    dialog = page.get_by_role("dialog")
    expect(dialog).to_contain_text(f"Kill attempt {attempt}?")
    page.keyboard.press("Enter")
    expect(page.locator(".outcome")).to_have_text(f"Kill requested for attempt {attempt}.")
    expect(page.locator("#attempt-status")).to_have_text(re.compile("killed"))
    expect(node(page, "+wf+work")).to_have_class(re.compile("st-canceled"))
    expect(page.get_by_role("button", name="Kill")).to_be_disabled()
    assert ui.errors == []


def test_drill_from_a_call_task_into_its_workflow_and_from_require_into_its_attempt(ui, tmp_path):
    server = ui.server
    push(server, tmp_path, {
        "main.dig": "+call:\n  call>: sub\n+need:\n  require>: other\n",
        "sub.dig": "+s1:\n  echo>: in the called workflow\n+s2:\n  echo>: two\n",
        "other.dig": "+o:\n  echo>: other ran\n",
    })
    attempt = start(server, "main")
    assert wait_done(server, attempt)["status"] == "success"
    page = ui.open(f"/attempts/{attempt}")
    node(page, "+main+call").locator("text.name").click()
    page.get_by_role("link", name="Open the called workflow").click()
    expect(page).to_have_url(re.compile(r"task=%2Bmain%2Bcall"))
    expect(page.locator(".crumbs.drill")).to_contain_text("+call")
    expect(node(page, "+main+call^sub+s1")).to_be_visible()
    expect(node(page, "+main+need")).to_have_count(0)
    page.go_back()
    expect(node(page, "+main+need")).to_be_visible()

    node(page, "+main+need").locator("text.name").click()
    page.get_by_role("link", name=re.compile(r"Open required attempt \d+")).click()
    page.wait_for_selector("main[data-ready]")
    expect(page.locator("h1")).to_contain_text("other")
    expect(node(page, "+other+o")).to_have_class(re.compile("st-success"))
    page.locator(".related").get_by_role("link", name=re.compile(f"attempt {attempt}")).click()
    page.wait_for_selector("main[data-ready]")
    expect(page).to_have_url(re.compile(f"/attempts/{attempt}$"))
    assert ui.errors == []


@pytest.mark.slow
def test_a_large_attempt_opens_folded_and_its_table_draws_only_what_is_in_view(ui, tmp_path):
    server = ui.server
    items = json.dumps(list(range(1500)))
    push(server, tmp_path, {"big.dig": f"+many:\n  for_each>:\n    n: {items}\n  _parallel: true\n  _do:\n    echo>: ${{n}}\n"})
    attempt = start(server, "big")
    assert wait_done(server, attempt, timeout=240)["status"] == "success"
    began = time.monotonic()
    page = ui.open(f"/attempts/{attempt}")
    expect(page.locator("main")).to_have_attribute("data-tasks", "1503")
    folded = page.locator("svg.graph g.folded")
    expect(folded).to_contain_text("1500 tasks: 1500 ✓")
    assert time.monotonic() - began < 10
    assert page.locator("svg.graph g[data-id]").count() < 50, "the large group is folded"
    page.keyboard.press("2")
    rows = page.locator(".panel[aria-labelledby=tab-tasks] .vlist .vrow")
    expect(rows.first).to_be_visible()
    assert rows.count() < 100, "only the rows in view are drawn"
    page.get_by_label("Filter tasks by name").fill("n=1499")
    expect(rows).to_have_count(1)
    assert ui.errors == []


def test_dagu_steps_skipped_or_failed_under_continue_on_show_dagu_s_words(ui, tmp_path):
    server = ui.server
    push(server, tmp_path, {"d.yaml": "steps:\n  - echo ran\n  - name: later\n    preconditions: [\"false\"]\n"
                                      "    command: echo never\n    continueOn: {skipped: true}\n"
                                      "  - name: flaky\n    command: exit 3\n    continueOn: {failure: true}\n"})
    attempt = start(server, "d")
    assert wait_done(server, attempt)["status"] == "success"
    page = ui.open(f"/attempts/{attempt}?tab=tasks")
    tasks = page.locator(".panel[aria-labelledby=tab-tasks]")
    expect(tasks.locator('.vrow[data-name="+d+later"] .cell.state')).to_have_text(re.compile("skipped"))
    expect(tasks.locator('.vrow[data-name="+d+cmd_1"] .cell.state')).to_have_text(re.compile("success"))
    expect(tasks.locator('.vrow[data-name="+d+flaky"] .cell.state')).to_have_text(re.compile("failed, continued"))
    expect(page.locator("#attempt-status")).to_have_text(re.compile("partially succeeded"))
    graph = ui.open(f"/attempts/{attempt}")  # the graph's boxes say the same words
    expect(node(graph, "+d+later")).to_have_attribute("aria-label", re.compile(r"\+d\+later: skipped"))
    expect(node(graph, "+d+flaky")).to_have_attribute("aria-label", re.compile(r"\+d\+flaky: failed, continued"))
    expect(node(graph, "+d+cmd_1")).to_have_attribute("aria-label", re.compile(r"\+d\+cmd_1: success"))
    assert ui.errors == []
