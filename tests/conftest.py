"""Shared fixtures: a real `digpy` process in a temporary project, real databases, a real server.

Tests that need a component a machine may lack carry its marker (`postgres`, `docker`, `browser`). Where the
component is missing they are skipped with the reason (listed at the end of the run); with
DIGPY_TEST_REQUIRE_ALL=1 (set by .ci/run) they fail instead, so CI cannot pass without running them.
"""

from __future__ import annotations

import functools
import os
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url


def pytest_configure(config: pytest.Config) -> None:
    """digpy's per-user cache (entry points, compiled workflows) goes to a directory of this test
    session, inherited by every digpy process a test starts."""
    import tempfile

    os.environ["XDG_CACHE_HOME"] = tempfile.mkdtemp(prefix="digpy-test-cache-")


# ----------------------------------------------------------------------------- components

REQUIRE_ALL = "DIGPY_TEST_REQUIRE_ALL"
DEFAULT_POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
DEFAULT_DOCKER_HOST = "unix:///tmp/digpy-docker/docker.sock"  # where .ci/services.sh starts the engine
DOCKER_IMAGE = "digpy-test/busybox:latest"  # built by .ci/services.sh (there is no registry here)


def postgres_admin_url() -> str:
    return os.environ.get("DIGPY_TEST_POSTGRES_URL", DEFAULT_POSTGRES)


def docker_host() -> str:
    return os.environ.get("DOCKER_HOST") or DEFAULT_DOCKER_HOST


def _first_line(error: Exception) -> str:
    error = getattr(error, "orig", None) or error  # the driver's error under SQLAlchemy's wrapper
    lines = str(error).strip().splitlines()
    return f"{error.__class__.__name__}: {lines[0] if lines else ''}"


@functools.cache
def _postgres_problem() -> str | None:
    url = postgres_admin_url()
    try:
        engine = create_engine(url, connect_args={"connect_timeout": 5})
        try:
            with engine.connect() as conn:
                conn.execute(text("SELECT 1"))
        finally:
            engine.dispose()
    except Exception as e:
        shown = make_url(url).render_as_string(hide_password=True)
        return f"PostgreSQL at {shown} is not reachable ({_first_line(e)})"
    return None


@functools.cache
def _docker_problem() -> str | None:
    import docker

    host = docker_host()
    try:
        client = docker.DockerClient(base_url=host, timeout=10)
        try:
            client.images.get(DOCKER_IMAGE)
        finally:
            client.close()
    except Exception as e:
        return f"no Docker engine with the image {DOCKER_IMAGE} at {host} ({_first_line(e)})"
    return None


CHROMIUM = "/usr/bin/chromium"  # Debian's, installed by .ci/services.sh (Playwright never downloads one here)


@functools.cache
def _browser_problem() -> str | None:
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the Python package playwright is not installed"
    if not os.access(CHROMIUM, os.X_OK):
        return f"no Chromium at {CHROMIUM}"
    return None


# marker → (what is wrong with the component here, or None; how to get it)
COMPONENTS: dict[str, tuple[Callable[[], str | None], str]] = {
    "postgres": (_postgres_problem, "start it with .ci/services.sh or set DIGPY_TEST_POSTGRES_URL"),
    "docker": (_docker_problem, "start it with .ci/services.sh or set DOCKER_HOST"),
    "browser": (_browser_problem, "install Chromium with .ci/services.sh (apt) and the test extras (pip install -e '.[test]')"),
}


def require(component: str) -> None:
    """Skip the test unless `component` (a key of COMPONENTS) is here; under DIGPY_TEST_REQUIRE_ALL=1
    fail it instead. Other skips (a doc fragment that is not a workflow) are not affected."""
    problem_of, hint = COMPONENTS[component]
    problem = problem_of()
    if problem is None:
        return
    if os.environ.get(REQUIRE_ALL) == "1":
        pytest.fail(f"{problem}; {hint} ({REQUIRE_ALL}=1: no test may skip for a missing component)", pytrace=False)
    pytest.skip(f"{problem}; {hint}")


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    for component in COMPONENTS:
        if item.get_closest_marker(component) is not None:
            require(component)


class Project:
    """A temporary project directory and a way to run the real `digpy` command in it."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def write(self, name: str, text: str) -> Path:
        target = self.path / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
        return target

    def command(self, *args: str) -> list[str]:
        return [sys.executable, "-m", "digpy", *args]

    def digpy(self, *args: str, timeout: float = 60, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        full_env = {**os.environ, **(env or {})}
        return subprocess.run(self.command(*args), cwd=self.path, capture_output=True, text=True,
                              timeout=timeout, env=full_env)

    def run(self, workflow: str, *args: str, **kw) -> subprocess.CompletedProcess[str]:
        return self.digpy("run", workflow, *args, "--output", "plain", **kw)

    def start(self, *args: str) -> subprocess.Popen[str]:
        return subprocess.Popen(self.command(*args), cwd=self.path, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)


@pytest.fixture
def project(tmp_path: Path) -> Project:
    return Project(tmp_path)


def wait_until(condition: Callable[[], bool], timeout: float = 30.0, what: str = "condition") -> None:
    """Poll `condition` until it holds (for state another process reaches), failing after `timeout`."""
    deadline = time.monotonic() + timeout
    delay = 0.01
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(delay)
        delay = min(delay * 2, 0.2)


class LongSleep:
    """A `sleep` command line that no other process on the machine runs (tests run next to other work),
    and whether a process still runs it."""

    def __init__(self, seconds: int = 120) -> None:
        self.command = f"sleep {seconds}.{uuid.uuid4().int % 10**9:09d}"

    def running(self) -> bool:
        pattern = "^" + self.command.replace(".", "[.]") + "$"
        return subprocess.run(["pgrep", "-f", pattern], capture_output=True).stdout != b""


# ----------------------------------------------------------------------------- databases


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    require("postgres")
    admin_url = postgres_admin_url()
    name = f"digpy_test_{uuid.uuid4().hex[:10]}"
    try:
        admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as e:  # pragma: no cover - depends on the machine
        pytest.fail(f"cannot create a database on the PostgreSQL at {admin_url} ({e}); set "
                    "DIGPY_TEST_POSTGRES_URL to a database URL whose user may create databases")
    try:
        yield make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture
def scratch_postgres_url() -> Iterator[str]:
    """A PostgreSQL database of its own for one test (for tests that create arbitrary tables)."""
    require("postgres")
    admin_url = postgres_admin_url()
    name = f"digpy_scratch_{uuid.uuid4().hex[:10]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as e:  # pragma: no cover - depends on the machine
        pytest.fail(f"cannot create a database on the PostgreSQL at {admin_url} ({e})")
    try:
        yield make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request, tmp_path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'digpy.db'}"
    return request.getfixturevalue("postgres_url")


@pytest.fixture
def store(database_url: str) -> Iterator[Any]:
    """A ServerStore on a freshly migrated database (SQLite, and PostgreSQL with its marker)."""
    from digpy.core.store import migrate, schema
    from digpy.core.store.server import ServerStore

    engine = create_engine(database_url)
    with engine.begin() as conn:  # a clean schema for each test (the PostgreSQL database is shared)
        for table in reversed(schema.metadata.sorted_tables):
            conn.execute(text(f"DROP TABLE IF EXISTS {table.name} CASCADE" if engine.dialect.name == "postgresql"
                              else f"DROP TABLE IF EXISTS {table.name}"))
        conn.execute(text("DROP TABLE IF EXISTS alembic_version"))
    migrate.upgrade(engine)
    engine.dispose()
    s = ServerStore.open(database_url)
    yield s
    s.close()


# ----------------------------------------------------------------------------- a real server


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    """A `digpy server` process on 127.0.0.1 and a `digpy` client command pointed at it."""

    def __init__(self, data_dir: Path, database: str | None, extra: tuple[str, ...] = (),
                 env: dict[str, str] | None = None) -> None:
        self.env = None if env is None else {**os.environ, **env}
        self.data_dir = data_dir
        self.database = database
        self.port = free_port()
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self.extra = extra
        self.process: subprocess.Popen[str] | None = None
        self.log = data_dir / "server.log"

    def start(self) -> None:
        self.launch()
        wait_until(self.ready, timeout=30, what=f"the server on port {self.port}")

    def launch(self) -> None:
        """Start the process without waiting for it to serve (`ready` says when it does)."""
        args = [sys.executable, "-m", "digpy", "server", "--port", str(self.port), *self.database_options(),
                *self.extra]
        self.data_dir.mkdir(parents=True, exist_ok=True)
        with open(self.log, "a") as log:
            self.process = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, text=True, env=self.env)

    def database_options(self) -> list[str]:
        """The options that name its database (for commands that open it directly: prune, token)."""
        return ["--data-dir", str(self.data_dir), *(["--database", self.database] if self.database else [])]

    def ready(self) -> bool:
        assert self.process is not None
        if self.process.poll() is not None:
            raise AssertionError(f"server exited with {self.process.returncode}: {self.log.read_text()}")
        try:
            with urllib.request.urlopen(self.endpoint + "/api/version", timeout=1):
                return True
        except OSError:
            return False

    def stop(self) -> int:
        if self.process is None:
            return 0
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.returncode

    def digpy(self, *args: str, cwd: Path | None = None, input: str | None = None,
              timeout: float = 60, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        env = {**os.environ, "DIGPY_ENDPOINT": self.endpoint, **(env or {})}
        return subprocess.run([sys.executable, "-m", "digpy", *args], cwd=cwd or self.data_dir, env=env, input=input,
                              capture_output=True, text=True, timeout=timeout)


def empty_postgres(url: str) -> None:
    """A clean schema for a test in the shared PostgreSQL database."""
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()


@pytest.fixture
def server(tmp_path: Path, database_url: str) -> Iterator[Server]:
    url = None if database_url.startswith("sqlite") else database_url
    if url is not None:
        empty_postgres(url)
    running = Server(tmp_path / "server", url)
    running.start()
    yield running
    running.stop()


# ----------------------------------------------------------------------------- receivers of notifications


class Inbox:
    """What a real SMTP server (aiosmtpd) on 127.0.0.1 received: (sender, recipients, raw message)."""

    def __init__(self) -> None:
        self.messages: list[tuple[str, list[str], bytes]] = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.content))
        return "250 OK"


@pytest.fixture
def smtp() -> Iterator[tuple[int, Inbox]]:
    from aiosmtpd.controller import Controller

    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())  # port=0 fails its ready check
    controller.start()
    yield controller.port, inbox
    controller.stop()


class Receiver:
    """A real aiohttp server on 127.0.0.1 in a thread of the test that records every request:
    `requests` holds (path, headers, body) in arrival order; `statuses` are the answers to give
    first, in turn (200 after them)."""

    def __init__(self) -> None:
        import asyncio
        import threading

        self.requests: list[tuple[str, dict[str, str], bytes]] = []
        self.statuses: list[int] = []
        self.url = ""
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    async def _handle(self, request: Any) -> Any:
        from aiohttp import web

        self.requests.append((request.path, dict(request.headers), await request.read()))
        status = self.statuses.pop(0) if self.statuses else 200
        return web.Response(status=status, text="ok" if status < 400 else "no")

    async def _start(self) -> None:
        from aiohttp import web

        app = web.Application()
        app.router.add_route("*", "/{path:.*}", self._handle)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.url = f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}"  # type: ignore[union-attr]

    def _serve(self) -> None:
        import asyncio

        asyncio.set_event_loop(self._loop)
        self._loop.run_until_complete(self._start())
        self._ready.set()
        self._loop.run_forever()

    def start(self) -> None:
        self._thread.start()
        assert self._ready.wait(10)

    def stop(self) -> None:
        import asyncio

        asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    def json_bodies(self) -> list[Any]:
        import json

        return [json.loads(body) for _path, _headers, body in self.requests]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    running = Receiver()
    running.start()
    yield running
    running.stop()
