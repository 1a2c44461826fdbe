"""Pictures of the web UI's main pages for the docs: a real `digpy server` on a free port, real
attempts, Debian's Chromium driven by Playwright. Run it again when the UI changes:

    .venv/bin/python docs/screenshots/take.py

It writes overview.png, workflow.png, attempt.png, timeline.png, logs.png, attempts.png and
schedules.png here.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
from api import archive, call, free_port, wait_answering

HERE = Path(__file__).resolve().parent
CHROMIUM_ARGS = ["--disable-gpu", "--disable-quic", "--disable-dev-shm-usage", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]

ETL = """\
timezone: UTC
_error:
  echo>: tell the team that ${session_date} failed
+extract:
  _parallel: true
  +orders:
    sh>: for i in 1 2 3; do echo "reading orders part $i"; sleep 0.4; done
  +customers:
    sh>: echo "reading customers"; sleep 0.8
  +products:
    call>: products
+transform:
  for_each>:
    region: [eu, us, asia]
  _do:
    sh>: echo "transforming ${region}"; sleep 0.3
+load:
  _retry: 2
  sh>: echo "loading into the warehouse"; {load}
+report:
  echo>: report for ${session_date}
"""
PRODUCTS = "+fetch:\n  sh>: echo fetching products; sleep 0.5\n+clean:\n  echo>: products cleaned\n"
# Scheduled workflows (the overview's next runs, the Schedules page); `sync` lets one attempt run at a
# time, so a second one waits queued.
REPORTS = {
    "daily_sales.dig": "timezone: Asia/Tokyo\nschedule:\n  daily>: 07:00:00\n+build:\n  echo>: sales of ${session_date}\n",
    "hourly_stock.dig": "timezone: UTC\nschedule:\n  hourly>: 15:00\n+count:\n  echo>: stock at ${session_time}\n",
    "weekly_digest.dig": "timezone: Europe/Berlin\nschedule:\n  weekly>: Mon,09:00:00\n  catch_up: none\n"
                         "+mail:\n  echo>: digest\n",
    "sync.dig": "max_active_attempts: 1\n+copy:\n  sh>: while [ ! -f {gate} ]; do sleep 0.2; done\n",
}
HEARTBEAT = {"heartbeat.dig": "timezone: UTC\nschedule:\n  seconds_interval>: 2\n+ping:\n  echo>: alive\n"}






def main() -> int:
    from playwright.sync_api import sync_playwright

    port = free_port()
    endpoint = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory(prefix="digpy-screenshots-") as tmp:
        gate = Path(tmp) / "gate"
        process = subprocess.Popen([sys.executable, "-m", "digpy", "server", "--port", str(port), "--data-dir", tmp],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            wait_answering(endpoint)
            failing = ETL.replace("{load}", "echo 'warehouse refused the connection' >&2; exit 1")
            call(endpoint, "PUT", "/api/projects?project=sales&revision=v1",
                 archive({"etl.dig": failing, "products.dig": PRODUCTS}), "application/gzip")
            waiting = ETL.replace("{load}", f"while [ ! -f {gate} ]; do sleep 0.2; done")
            call(endpoint, "PUT", "/api/projects?project=sales&revision=v2",
                 archive({"etl.dig": waiting, "products.dig": PRODUCTS}), "application/gzip")
            workflows = {w["revision"] + w["name"]: w["id"] for rev in ("v1", "v2") for w in
                         call(endpoint, "GET", f"/api/projects/1/workflows?revision={rev}")["workflows"]}

            def start(workflow: str, day: str) -> str:
                body = json.dumps({"workflowId": workflow, "sessionTime": f"2026-01-{day}T00:00:00Z"}).encode()
                return call(endpoint, "PUT", "/api/attempts", body)["id"]

            failed = start(workflows["v1etl"], "30")
            done = start(workflows["v2etl"], "29")
            while not call(endpoint, "GET", f"/api/attempts/{failed}")["done"]:
                time.sleep(0.2)
            gate.touch()
            while not call(endpoint, "GET", f"/api/attempts/{done}")["done"]:
                time.sleep(0.2)
            gate.unlink()
            running = start(workflows["v2etl"], "31")
            reports = call(endpoint, "PUT", "/api/projects?project=reports&revision=r1",
                           archive({k: v.replace("{gate}", str(gate)) for k, v in REPORTS.items()}),
                           "application/gzip")["id"]
            scheduled = {s["workflow"]["name"]: s["id"] for s in call(endpoint, "GET", "/api/schedules")["schedules"]}
            call(endpoint, "POST", f"/api/schedules/{scheduled['weekly_digest']}/disable", b"{}")
            sync = call(endpoint, "GET", f"/api/projects/{reports}/workflows/sync")["id"]
            start(sync, "30")
            start(sync, "31")  # queued behind the first
            time.sleep(4)
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
                page = browser.new_page(viewport={"width": 1400, "height": 860})

                def shot(path: str, name: str, before=None) -> None:
                    page.goto(endpoint + path)
                    page.wait_for_selector("main[data-ready]")
                    if before:
                        before()
                    page.wait_for_timeout(600)
                    page.screenshot(path=str(HERE / name))
                    print("wrote", HERE / name)

                shot("/", "overview.png")
                shot(f"/workflows/{workflows['v2etl']}", "workflow.png")
                shot(f"/attempts/{failed}", "attempt.png",
                     lambda: page.locator('svg.graph g[data-name="+etl+load"] text.name').click())
                shot(f"/attempts/{running}?tab=timeline", "timeline.png")
                shot(f"/attempts/{failed}?tab=logs&log=%2Betl%2Bload", "logs.png",
                     lambda: page.wait_for_selector("pre.log:has-text('warehouse')"))
                shot("/attempts?all=1", "attempts.png")
                # a schedule that has started a session (then disabled: it would go on every 2 s)
                call(endpoint, "PUT", "/api/projects?project=monitor&revision=r1", archive(HEARTBEAT), "application/gzip")
                while not [s for s in call(endpoint, "GET", "/api/schedules")["schedules"] if s["lastAttempt"]]:
                    time.sleep(0.2)
                beat = next(s["id"] for s in call(endpoint, "GET", "/api/schedules")["schedules"]
                        if s["workflow"]["name"] == "heartbeat")
                call(endpoint, "POST", f"/api/schedules/{beat}/disable", b"{}")

                def backfill_preview() -> None:
                    page.locator('tr[data-workflow="daily_sales"]').get_by_role("button", name="Backfill…").click()
                    page.get_by_role("button", name="Preview").click()
                    page.wait_for_selector("ol.slots li")

                shot("/schedules", "schedules.png", backfill_preview)
                browser.close()
            gate.touch()
        finally:
            process.terminate()
            process.wait(60)
    return 0


if __name__ == "__main__":
    sys.exit(main())
