"""Real Chromium (Debian's, /usr/bin/chromium) driven by Playwright against a real `digpy server`.

Every test here carries the `browser` marker: skipped with the reason where Chromium or Playwright is
missing, failed instead under DIGPY_TEST_REQUIRE_ALL=1 (CI)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import CHROMIUM, Server, require

# What these machines need (shared/infra): no GPU, no network of Chromium's own.
CHROMIUM_ARGS = ["--disable-gpu", "--disable-quic", "--disable-dev-shm-usage", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if Path(str(item.fspath)).parent == here:
            item.add_marker(pytest.mark.browser)


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    """Chromium for the tests of one module. Not for the session: while Playwright's sync API is
    open, its event loop counts as running in this thread, and later tests that call asyncio.run
    would fail."""
    require("browser")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


class Page:
    """A browser tab, with what went wrong in it (console errors, uncaught exceptions)."""

    def __init__(self, page: Any, endpoint: str) -> None:
        self.page = page
        self.endpoint = endpoint
        self.errors: list[str] = []
        page.on("console", self._console)
        page.on("pageerror", lambda e: self.errors.append(f"page error: {e}"))

    def _console(self, message: Any) -> None:
        # An answer of 4xx that the page shows as a line (what the tests check) is no script error.
        if message.type == "error" and not message.text.startswith("Failed to load resource"):
            self.errors.append(f"console {message.type}: {message.text}")

    def open(self, path: str) -> Any:
        """Open a page of the UI and wait until it has drawn itself."""
        self.page.goto(self.endpoint + path)
        self.page.wait_for_selector("main[data-ready]")
        return self.page


@pytest.fixture
def ui_server(tmp_path: Path) -> Iterator[Server]:
    running = Server(tmp_path / "server", None)
    running.start()
    yield running
    running.stop()


@pytest.fixture
def ui(chromium: Any, ui_server: Server) -> Iterator[Page]:
    context = chromium.new_context(viewport={"width": 1400, "height": 900}, accept_downloads=True)
    context.set_default_timeout(20_000)
    tab = Page(context.new_page(), ui_server.endpoint)
    tab.server = ui_server  # type: ignore[attr-defined]
    yield tab
    context.close()
