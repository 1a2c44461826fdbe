"""Hostile input against a real server: one expression or one pushed file must not stop it.

Each test measures what a user of the API sees while the hostile work goes on: GET /api/version
keeps answering quickly, and the hostile request gets its error."""

from __future__ import annotations

import gzip
import io
import json
import os
import tarfile
import threading
import time
import urllib.request

import pytest

from tests.acceptance.test_server import api, wait_done
from tests.conftest import Server
from tests.corpus import MALFORMED

WF = b"+a:\n  echo>: x\n"
ANSWER_SECONDS = 0.5  # GET /api/version answers in milliseconds; a blocked loop takes seconds


def _tar(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


class Watch:
    """Asks GET /api/version over and over in a thread; the slowest answer it saw."""

    def __init__(self, server: Server) -> None:
        self.server = server
        self.slowest = 0.0
        self.answers = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            started = time.monotonic()
            with urllib.request.urlopen(self.server.endpoint + "/api/version", timeout=60) as response:
                response.read()
            self.slowest = max(self.slowest, time.monotonic() - started)
            self.answers += 1
            self._stop.wait(0.02)

    def __enter__(self) -> Watch:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def test_an_expression_that_cannot_be_interrupted_never_stops_the_api(server):
    expression = "${/^(a+)+$/.test('a'.repeat(40) + 'b')}"
    archive = _tar({"wf.dig": f"+t:\n  echo>: {expression}\n".encode()})
    status, body = api(server, "PUT", "/api/projects?project=p&revision=r1", archive, "application/gzip")
    assert status == 200, body
    with Watch(server) as watch:
        attempt = json.loads(server.digpy("start", "p", "wf", "--json").stdout)
        final = wait_done(server, attempt["id"], timeout=60)
    assert final["status"] == "error"
    tasks = {t["full_name"]: t for t in json.loads(server.digpy("tasks", attempt["id"], "--json").stdout)}
    assert tasks["+wf+t"]["error"]["message"] == (
        f"Failed to evaluate a variable {expression} (the expression took longer than 1 s and was stopped)")
    assert watch.answers > 10 and watch.slowest < ANSWER_SECONDS, (watch.answers, watch.slowest)


def _corpus(*names: str) -> dict[str, bytes]:
    files = {}
    for name in names:
        path = MALFORMED / name
        for file in [path] if path.is_file() else sorted(path.rglob("*.dig")):
            files[str(file.relative_to(MALFORMED))] = file.read_bytes()
    return files


@pytest.mark.parametrize(("files", "where"), [
    (_corpus("open_brackets_60k.dig"), "open_brackets_60k.dig:2:108: values are nested more than 100 levels deep"),
    (_corpus("include_bomb.dig", "include_bomb"), "include_bomb/f38.dig:4:14: the workflow has more than 500 !include"),
    (_corpus("billion_laughs.dig"), "billion_laughs.dig:6:20: the workflow has more than 250,000 values"),
    (_corpus("alias_recursive.dig"), "alias_recursive.dig:2:10: the alias *a refers to a value that contains it"),
], ids=["nested-brackets", "include-bomb", "billion-laughs", "recursive-alias"])
def test_a_hostile_push_is_refused_quickly_with_its_location_and_the_api_keeps_answering(server, files, where):
    archive = _tar(files)
    with Watch(server) as watch:
        started = time.monotonic()
        status, body = api(server, "PUT", "/api/projects?project=p&revision=r1", archive, "application/gzip")
        elapsed = time.monotonic() - started
    assert status == 400, body
    assert body["message"].startswith(where) and "\n" not in body["message"], body
    assert elapsed < 10, f"{elapsed:.1f} s"
    assert watch.slowest < ANSWER_SECONDS, watch.slowest
    assert api(server, "GET", "/api/version")[0] == 200
    assert api(server, "GET", "/api/projects")[1] == {"projects": []}


def _member_tar(members: list[tuple[str, bytes, str | bytes]]) -> bytes:
    """(name, tar type, file data or link target) each."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, kind, payload in members:
            info = tarfile.TarInfo(name)
            info.type = kind
            if kind == tarfile.REGTYPE:
                assert isinstance(payload, bytes)
                info.size = len(payload)
                tar.addfile(info, io.BytesIO(payload))
            else:
                info.linkname = str(payload)
                tar.addfile(info)
    return buffer.getvalue()


def _truncated_sparse() -> bytes:
    """A GNU sparse member whose sparse map is cut off: tarfile fails while reading it."""
    info = tarfile.TarInfo("wf.dig")
    info.size = len(WF)
    header = bytearray(info.tobuf(format=tarfile.GNU_FORMAT))
    header[156:157] = tarfile.GNUTYPE_SPARSE
    header[148:156] = b" " * 8
    header[148:156] = b"%06o\0 " % sum(header[:512])
    return gzip.compress(bytes(header[:512]))


@pytest.mark.parametrize(("archive", "message"), [
    (_member_tar([("wf.dig", tarfile.REGTYPE, WF), ("d", tarfile.SYMTYPE, "wf.dig"), ("d", tarfile.DIRTYPE, "")]),
     "d is both a file and a directory in the archive"),
    (_member_tar([("wf.dig", tarfile.REGTYPE, WF), ("sub", tarfile.DIRTYPE, ""), ("sub/x", tarfile.REGTYPE, b"x"),
                  ("link", tarfile.SYMTYPE, "sub"), ("link/x", tarfile.REGTYPE, b"y")]),
     "link is both a file and a directory in the archive"),
    (_member_tar([("wf.dig", tarfile.REGTYPE, WF), ("n" * 300 + ".txt", tarfile.REGTYPE, b"x")]),
     "in the archive is too long (at most 255 bytes a name, 1024 a path)"),
    (_member_tar([("wf.dig", tarfile.REGTYPE, WF), ("/".join(["d" * 200] * 6) + "/x", tarfile.REGTYPE, b"x")]),
     "in the archive is too long"),
    (_truncated_sparse(), "the archive is damaged (unexpected end of data)"),
], ids=["symlink-and-directory", "file-under-a-symlink", "name-too-long", "path-too-long", "truncated-sparse"])
def test_a_hostile_archive_is_a_400(server, archive, message):
    status, body = api(server, "PUT", "/api/projects?project=bad&revision=r1", archive, "application/gzip")
    assert status == 400 and message in body["message"], (status, body)
    assert api(server, "GET", "/api/projects")[1] == {"projects": []}


def test_push_directories_left_by_a_dead_server_are_removed_at_start(tmp_path):
    temporary = tmp_path / "tmp"
    dead = temporary / "digpy-push-999999999-abc"  # no such process
    alive = temporary / f"digpy-push-{os.getpid()}-abc"  # this test's own: a push under way
    other = temporary / "unrelated-999999999-x"
    for directory in (dead, alive, other):
        (directory / "project").mkdir(parents=True)
    running = Server(tmp_path / "s", None, env={"TMPDIR": str(temporary)})
    running.start()
    try:
        assert not dead.exists() and alive.exists() and other.exists()
        status, _ = api(running, "PUT", "/api/projects?project=p&revision=r1", _tar({"wf.dig": WF}), "application/gzip")
        assert status == 200
        assert sorted(p.name for p in temporary.iterdir()) == sorted([alive.name, other.name]), "a push cleans up"
    finally:
        running.stop()


def test_a_push_is_loaded_first_in_a_child_with_a_time_limit(tmp_path):
    """With a limit no child can meet, every push is refused with a 400 that says why, and the
    server goes on answering: the loading ran in the child, not in the server."""
    running = Server(tmp_path / "s", None, env={"DIGPY_PUSH_CHECK_SECONDS": "0.001"})
    running.start()
    try:
        status, body = api(running, "PUT", "/api/projects?project=p&revision=r1", _tar({"wf.dig": WF}),
                           "application/gzip")
        assert status == 400 and body["message"].startswith("loading the project's workflows took longer than 0.001 s")
        assert api(running, "GET", "/api/version")[0] == 200
    finally:
        running.stop()
