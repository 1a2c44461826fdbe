"""The Schedules page, the overview's next runs and queued attempts, as a user sees them: real
Chromium, a real `digpy server`. The scheduler never fires during a test: the schedule's slots fall
on 29 February only (the next one is over a year away), and every action asks first."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime

from playwright.sync_api import expect

from tests.acceptance.test_server import api
from tests.browser.test_ui import WORKFLOW, push

LEAP = "timezone: UTC\nschedule:\n  cron>: 0 0 29 2 *\n+a:\n  echo>: leap day ${session_date}\n"


def leap_days_after(now: datetime, count: int) -> list[str]:
    """The session times of the next `count` slots of LEAP after `now`."""
    out, year = [], now.year
    while len(out) < count:
        day = datetime(year, 2, 29, tzinfo=UTC) if year % 4 == 0 and (year % 100 or year % 400 == 0) else None
        if day is not None and day > now:
            out.append(f"{year}-02-29T00:00:00+00:00")
        year += 1
    return out


def started(server, session: str) -> str:
    answer = server.digpy("start", "p", "wf", "--session", session, "-p", "who=me", "--json")
    assert answer.returncode == 0, answer.stderr
    return json.loads(answer.stdout)["id"]


def schedule_row(page, workflow: str = "leap"):
    return page.locator(f'table.schedules tr[data-workflow="{workflow}"]')


def confirm(page, text: str, button: str) -> None:
    dialog = page.get_by_role("dialog")
    expect(dialog).to_contain_text(text)
    dialog.get_by_role("button", name=button, exact=True).click()
    expect(dialog).to_have_count(0)


def test_the_schedules_page_disables_enables_skips_and_backfills_with_a_preview(ui, tmp_path):
    server = ui.server
    push(server, tmp_path, {"leap.dig": LEAP})
    first, second = leap_days_after(datetime.now(UTC), 2)

    page = ui.open("/")
    upcoming = page.locator("table.upcoming tbody tr")
    expect(upcoming).to_have_count(1)
    expect(upcoming).to_contain_text("leap")
    expect(upcoming).to_contain_text(first)

    page.keyboard.press("g")
    page.keyboard.press("s")
    page.wait_for_url(re.compile(r"/schedules$"))
    page.wait_for_selector("main[data-ready]")
    row = schedule_row(page)
    expect(row).to_contain_text("cron> 0 0 29 2 * (UTC)")
    expect(row).to_contain_text(f"session {first}")
    expect(row).to_contain_text("none yet")
    expect(row.locator(".schedule-state")).to_have_text("● enabled")

    row.get_by_role("button", name="Disable").click()
    confirm(page, "Disable p / leap?", "Disable")
    expect(page.locator(".outcome")).to_have_text("Disabled the schedule of p / leap.")
    expect(row.locator(".schedule-state")).to_have_text("‖ disabled")
    expect(row).to_contain_text("not while disabled")
    assert api(server, "GET", "/api/schedules")[1]["schedules"][0]["disabledAt"] is not None
    row.get_by_role("button", name="Enable").click()
    confirm(page, "Enable p / leap?", "Enable")
    expect(page.locator(".outcome")).to_contain_text("Enabled the schedule of p / leap: next run")
    expect(row.locator(".schedule-state")).to_have_text("● enabled")

    row.get_by_role("button", name="Skip…").click()
    form = page.locator("section.schedule-form")
    expect(form.locator("h2")).to_have_text("Skip runs of p / leap")
    form.get_by_label("Skip to this session time").fill("2000-01-01T00:00:00")
    form.get_by_role("button", name="Preview").click()  # an error of the API: one line
    expect(form.locator(".preview [role=alert]")).to_have_text(
        f"the schedule's next session is {first}; skip moves it later only")
    form.get_by_label("Number of runs to skip").fill("1")
    form.get_by_role("button", name="Preview").click()
    expect(form.locator(".preview")).to_contain_text(f"(session {second})")
    assert api(server, "GET", "/api/schedules")[1]["schedules"][0]["nextScheduleTime"] == first, "a preview moves nothing"
    form.get_by_role("button", name="Skip…").click()
    confirm(page, f"Sessions before {second} are not started", "Skip")
    expect(page.locator(".outcome")).to_contain_text("Skipped: the next run of p / leap is")
    expect(row).to_contain_text(f"session {second}")
    expect(form).to_be_hidden()

    row.get_by_role("button", name="Backfill…").click()
    form.get_by_label("From session").fill("2016-01-01T00:00:00")
    form.get_by_label("Sessions").fill("3")
    form.get_by_label("Attempt name").fill("bf")
    form.get_by_role("button", name="Preview").click()
    slots = form.locator("ol.slots li")
    expect(slots).to_have_text(["2016-02-29T00:00:00+00:00", "2020-02-29T00:00:00+00:00", "2024-02-29T00:00:00+00:00"])
    expect(form.locator(".preview")).to_contain_text("A backfill would start 3 sessions")
    assert api(server, "GET", "/api/attempts")[1]["attempts"] == [], "a preview starts nothing"
    form.get_by_role("button", name="Backfill…").click()
    confirm(page, "3 attempts named “bf” start, sessions 2016-02-29T00:00:00+00:00 to 2024-02-29T00:00:00+00:00", "Backfill")
    expect(page.locator(".outcome")).to_contain_text("Started 3 attempts of p / leap")
    page.get_by_role("link", name="See them in the attempts list").click()
    page.wait_for_selector("main[data-ready]")
    rows = page.locator("table.attempts tbody tr")
    expect(rows).to_have_count(3)
    for year in ("2016", "2020", "2024"):
        expect(rows.filter(has_text=f"{year}-02-29T00:00:00+00:00")).to_contain_text("(bf)")

    page = ui.open("/projects/1?tab=schedules")
    expect(page.locator("table.schedules tbody tr")).to_contain_text(f"session {second}")
    assert ui.errors == []


def test_a_queued_attempt_is_shown_as_queued_in_the_lists_and_on_its_page(ui, tmp_path):
    server = ui.server
    marker, ok = tmp_path / "go", tmp_path / "ok"
    push(server, tmp_path, {"wf.dig": "max_active_attempts: 1\n" + WORKFLOW.replace("{marker}", str(marker))
                            .replace("{ok}", str(ok))})
    first, second = (started(server, day) for day in ("2026-01-01", "2026-01-02"))
    assert api(server, "GET", f"/api/attempts/{second}")[1]["status"] == "queued"

    page = ui.open("/")
    expect(page.locator("#running-title")).to_contain_text("Running now (1) and 1 queued")
    page = ui.open("/attempts")
    queued = page.locator(f'table.attempts tr[data-id="{second}"] .badge')
    expect(queued).to_have_text("◷ queued")
    expect(queued).to_have_class(re.compile("tone-wait"))
    expect(page.locator(f'table.attempts tr[data-id="{first}"] .badge')).to_have_text("▶ running")
    colours = page.evaluate("""() => [...document.querySelectorAll('table.attempts .badge')].map(
        (b) => getComputedStyle(b).borderTopColor + ' ' + getComputedStyle(b).borderTopStyle)""")
    assert len(set(colours)) == 2, f"queued and running look alike: {colours}"

    page.get_by_role("radio", name="queued").check()
    page.wait_for_url(re.compile(r"status=queued"))
    page.wait_for_selector("main[data-ready]")
    expect(page.locator("table.attempts tbody tr")).to_have_count(1)
    page.locator("table.attempts tbody tr a").first.click()
    page.wait_for_selector("main[data-ready]")
    expect(page.locator("#attempt-status")).to_have_text("◷ queued")
    expect(page.locator("#queue-note")).to_contain_text("No task runs until the workflow's max_active_attempts has a free slot")
    marker.touch()
    ok.touch()
    expect(page.locator("#attempt-status")).to_have_text(re.compile("success"), timeout=60_000)
    expect(page.locator("#queue-note")).to_be_empty()
    assert ui.errors == []
