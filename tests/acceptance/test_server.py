"""The server and its client as a user drives them: real `digpy server` and `digpy` processes,
over SQLite and over PostgreSQL."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import tarfile
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import LongSleep, Server, free_port, wait_until

ROOT = Path(__file__).resolve().parents[2]


def api(server: Server, method: str, path: str, data: bytes | None = None,
        content_type: str = "application/json") -> tuple[int, object]:
    request = urllib.request.Request(server.endpoint + path, data=data, method=method,
                                     headers={"Content-Type": content_type})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"null")


def write_project(directory: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        (directory / name).parent.mkdir(parents=True, exist_ok=True)
        (directory / name).write_text(text)
    return directory


def attempt_state(server: Server, attempt_id: str) -> dict:
    return json.loads(server.digpy("attempt", attempt_id, "--json").stdout)


def wait_done(server: Server, attempt_id: str, timeout: float = 60) -> dict:
    wait_until(lambda: attempt_state(server, attempt_id)["done"], timeout=timeout, what=f"attempt {attempt_id}")
    return attempt_state(server, attempt_id)


def test_push_start_watch_retry(server, tmp_path):
    project = write_project(tmp_path / "etl", {
        "etl.dig": "_export:\n  who: server\n+a:\n  echo>: hello from ${who} at ${session_date}\n"
                   "+b:\n  sh>: echo \"b sees $who\"; test -f " + str(tmp_path / "ready") + "\n+c:\n  echo>: c done\n",
        "notes.txt": "not a workflow\n",
        ".hidden": "skipped\n",
    })
    pushed = server.digpy("push", "etl", "--project", str(project), "-r", "rev1")
    assert pushed.returncode == 0, pushed.stderr
    assert "Workflows: etl" in pushed.stdout
    started = server.digpy("start", "etl", "etl", "--session", "2026-01-31", "--json")
    assert started.returncode == 0, started.stderr
    attempt = json.loads(started.stdout)
    assert attempt["session_time"] == "2026-01-31T00:00:00+00:00"
    done = wait_done(server, attempt["id"])
    assert done["status"] == "error"
    tasks = {t["full_name"]: t for t in json.loads(server.digpy("tasks", attempt["id"], "--json").stdout)}
    assert tasks["+etl+a"]["state"] == "success"
    assert tasks["+etl+b"]["state"] == "error" and tasks["+etl+b"]["error"]["message"] == "Command failed with code 1"
    assert tasks["+etl+c"]["state"] == "blocked"
    log = server.digpy("log", attempt["id"])
    assert "hello from server at 2026-01-31" in log.stdout and "b sees server" in log.stdout

    again = server.digpy("start", "etl", "etl", "--session", "2026-01-31")
    assert again.returncode == 1 and "already has that attempt" in again.stderr

    (tmp_path / "ready").touch()
    retried = server.digpy("retry", attempt["id"], "--resume", "--name", "fixed", "--json")
    assert retried.returncode == 0, retried.stderr
    second = json.loads(retried.stdout)
    assert wait_done(server, second["id"])["status"] == "success"
    log2 = server.digpy("log", second["id"]).stdout
    assert "hello from" not in log2, "the task that succeeded was not run again"
    assert "c done" in log2
    listing = server.digpy("attempts").stdout
    assert "fixed" in listing and "success" in listing
    sessions = server.digpy("sessions", "etl").stdout.splitlines()
    assert len(sessions) == 2 and "success" in sessions[1]
    download = server.digpy("download", "etl", "-o", str(tmp_path / "copy"))
    assert download.returncode == 0, download.stderr
    assert sorted(p.name for p in (tmp_path / "copy").iterdir()) == ["etl.dig", "notes.txt"]

    # A retry runs the same revision, the latest, or a named one.
    (project / "etl.dig").write_text("+a:\n  echo>: revision two\n")
    assert server.digpy("push", "etl", "--project", str(project), "-r", "rev2").returncode == 0
    for option, expected in ((["--latest-revision"], "revision two"), (["--revision", "rev1"], "c done")):
        retried = json.loads(server.digpy("retry", second["id"], "--all", *option, "--json").stdout)
        assert wait_done(server, retried["id"])["status"] == "success"
        assert expected in server.digpy("log", retried["id"]).stdout, option


def test_retry_resume_runs_a_failed_generator_again_with_the_new_params(server, tmp_path):
    """`retry --resume` skips only tasks that ended in success: the if> whose `_do` failed is
    evaluated again with the retry's params instead of replaying its failed child."""
    project = write_project(tmp_path / "p", {
        "wf.dig": "+a:\n  echo>: a ran\n+b:\n  if>: ${f == \"1\"}\n  _do:\n    fail>: stop\n"
                  "+c:\n  echo>: c ran\n",
    })
    assert server.digpy("push", "p", "--project", str(project)).returncode == 0
    attempt = json.loads(server.digpy("start", "p", "wf", "--session", "2026-01-01", "-p", "f=1", "--json").stdout)
    assert wait_done(server, attempt["id"])["status"] == "error"
    retried = server.digpy("retry", attempt["id"], "--resume", "-p", "f=0", "--json")
    assert retried.returncode == 0, retried.stderr
    second = json.loads(retried.stdout)
    assert wait_done(server, second["id"])["status"] == "success"
    tasks = {t["full_name"]: t["state"] for t in json.loads(server.digpy("tasks", second["id"], "--json").stdout)}
    assert tasks == {"+wf": "success", "+wf+a": "success", "+wf+b": "success", "+wf+c": "success"}
    log = server.digpy("log", second["id"]).stdout
    assert "a ran" not in log and "+wf+b: if>: false" in log and "c ran" in log


def test_log_follow_shows_output_while_the_task_runs_and_kill_stops_it(server, tmp_path):
    marker, sleep = tmp_path / "go", LongSleep()
    project = write_project(tmp_path / "p", {
        "slow.dig": f"+step:\n  sh>: echo first line; while [ ! -f {marker} ]; do sleep 0.05; done; "
                    f"echo second line; {sleep.command}\n",
    })
    assert server.digpy("push", "p", "--project", str(project)).returncode == 0
    attempt = json.loads(server.digpy("start", "p", "slow", "--json").stdout)
    follow = subprocess.Popen([sys.executable, "-m", "digpy", "log", attempt["id"], "-f", "-e", server.endpoint],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert "first line" in follow.stdout.readline() + follow.stdout.readline()
        marker.touch()
        line = follow.stdout.readline()
        assert "second line" in line, "output reaches the log while the task is still running"
        killed = server.digpy("kill", attempt["id"])
        assert killed.returncode == 0, killed.stderr
        assert follow.wait(30) == 0, "log -f ends when the attempt ends"
    finally:
        if follow.poll() is None:
            follow.kill()
        follow.communicate()
    final = attempt_state(server, attempt["id"])
    assert final["status"] == "killed"
    assert not sleep.running()
    assert server.digpy("kill", attempt["id"]).returncode == 1, "a second kill is refused (409)"


def _tar(members: list[tuple[tarfile.TarInfo, bytes | None]]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for info, data in members:
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    return buffer.getvalue()


def _file(name: str, data: bytes = b"+a:\n  echo>: x\n") -> tuple[tarfile.TarInfo, bytes]:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    return info, data


def _special(name: str, kind: bytes, link: str = "") -> tuple[tarfile.TarInfo, None]:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = link
    return info, None


@pytest.mark.parametrize(("members", "message"), [
    ([_file("wf.dig"), _file("../escape.dig")], "points outside it"),
    ([_file("wf.dig"), _file("/etc/evil.dig")], "is absolute"),
    ([_file("wf.dig"), _special("link", tarfile.SYMTYPE, "../../etc/passwd")], "points outside the archive"),
    ([_file("wf.dig"), _special("hard", tarfile.LNKTYPE, "../x")], "points outside the archive"),
    ([_file("wf.dig"), _special("dev", tarfile.CHRTYPE)], "device file"),
    ([_file("wf.dig"), _special("fifo", tarfile.FIFOTYPE)], "device file or a FIFO"),
    ([_file("wf.dig"), _file("d/x.txt"), _file("d")], "d is both a file and a directory in the archive"),
], ids=["dotdot", "absolute", "symlink-out", "hardlink-out", "device", "fifo", "file-and-directory"])
def test_unsafe_archives_are_refused_and_nothing_is_stored(server, members, message):
    status, body = api(server, "PUT", "/api/projects?project=bad&revision=r1", _tar(members), "application/gzip")
    assert status == 400 and message in body["message"], body
    assert api(server, "GET", "/api/projects")[1] == {"projects": []}


def test_archive_size_limit_and_garbage(tmp_path):
    running = Server(tmp_path / "s", None, ("--max-archive-size", "2000"))
    running.start()
    try:
        big = _tar([_file("wf.dig"), _file("big.bin", b"x" * 5000)])
        status, body = api(running, "PUT", "/api/projects?project=p&revision=r", big, "application/gzip")
        assert status == 400 and "unpacks to more than 2000 bytes" in body["message"]
        status, body = api(running, "PUT", "/api/projects?project=p&revision=r", b"not gzip", "application/gzip")
        assert status == 400 and "not a tar.gz" in body["message"]
    finally:
        running.stop()


def test_unpacking_is_all_or_nothing_and_keeps_what_another_process_unpacked(tmp_path):
    from digpy.server.archive import ArchiveFile, read_archive, unpack

    checkouts = tmp_path / "projects"
    target = checkouts / "x"
    with pytest.raises(OSError):  # unchecked members that fail half way
        unpack([ArchiveFile("wf.dig", b"", 0o644), ArchiveFile("wf.dig/y", b"", 0o644)], target)
    assert list(checkouts.iterdir()) == [], "nothing is left behind, not even the temporary directory"
    assert unpack(read_archive(_tar([_file("wf.dig")])), target) is True
    assert unpack(read_archive(_tar([_file("wf.dig", b"other")])), target) is False
    assert (target / "wf.dig").read_bytes() == b"+a:\n  echo>: x\n"
    assert [p.name for p in checkouts.iterdir()] == ["x"]


def test_a_broken_workflow_is_refused_at_push_with_its_location(server, tmp_path):
    project = write_project(tmp_path / "p", {"wf.dig": "+a:\n  echo>: fine\n+b:\n  sh>: oops\n  _retry: {limt: 1}\n"})
    result = server.digpy("push", "p", "--project", str(project))
    assert result.returncode == 1
    assert result.stderr.strip().startswith("error: wf.dig:5:")
    assert api(server, "GET", "/api/projects")[1] == {"projects": []}


def test_an_unknown_operator_is_pushed_and_fails_its_task_when_it_is_reached(server, tmp_path):
    """As in Digdag (and digpy run): the workflow runs; the attempt's log warns with the task's name
    and the task fails with Digdag's message, its parallel sibling and `_error` still run."""
    project = write_project(tmp_path / "p", {
        "wf.dig": "_parallel: true\n+a:\n  td>: q.sql\n  _error:\n    echo>: handled ${error.message}\n"
                  "+b:\n  echo>: sibling done\n",
    })
    pushed = server.digpy("push", "p", "--project", str(project))
    assert pushed.returncode == 0, pushed.stderr
    attempt = json.loads(server.digpy("start", "p", "wf", "--json").stdout)
    assert wait_done(server, attempt["id"])["status"] == "error"
    tasks = {t["full_name"]: t for t in json.loads(server.digpy("tasks", attempt["id"], "--json").stdout)}
    assert tasks["+wf+a"]["state"] == "error" and tasks["+wf+a"]["error"]["message"] == "Unknown task type: td"
    assert tasks["+wf+b"]["state"] == "success" and tasks["+wf+a^error"]["state"] == "success"
    log = server.digpy("log", attempt["id"]).stdout
    assert "warning: +wf+a: unknown operator 'td>'" in log
    assert "handled Unknown task type: td" in log and "sibling done" in log


def test_rest_shapes_and_errors(server, tmp_path):
    write_project(tmp_path / "p", {"wf.dig": "timezone: Asia/Tokyo\n+a:\n  echo>: x\n"})
    assert server.digpy("push", "p", "--project", str(tmp_path / "p"), "-r", "r1").returncode == 0
    status, projects = api(server, "GET", "/api/projects")
    project = projects["projects"][0]
    assert set(project) >= {"id", "name", "revision", "createdAt", "updatedAt", "archiveType", "archiveMd5"}
    assert isinstance(project["id"], str) and project["revision"] == "r1"
    status, workflows = api(server, "GET", f"/api/projects/{project['id']}/workflows")
    workflow = workflows["workflows"][0]
    assert workflow["timezone"] == "Asia/Tokyo" and workflow["project"] == {"id": project["id"], "name": "p"}
    status, attempt = api(server, "PUT", "/api/attempts", json.dumps(
        {"workflowId": workflow["id"], "sessionTime": "2026-02-01T00:00:00Z", "params": {"k": "v"}}).encode())
    assert status == 200 and attempt["sessionTime"] == "2026-02-01T09:00:00+09:00"
    status, again = api(server, "PUT", "/api/attempts", json.dumps(
        {"workflowId": workflow["id"], "sessionTime": "2026-02-01T00:00:00Z"}).encode())
    assert status == 409 and again["id"] == attempt["id"]
    assert api(server, "GET", "/api/attempts/999999") == (404, {"message": "attempt 999999 not found", "status": 404})
    assert api(server, "GET", "/api/attempts/abc")[0] == 400
    status, body = api(server, "PUT", "/api/attempts", b"{not json")
    assert status == 400 and body == {"message": "the request body is not valid JSON", "status": 400}
    # Ids and numbers that are not plain ASCII digits, or too large for the database, are 400s, never 500s.
    for path in ("/api/attempts/99999999999999999999999", "/api/attempts/%E2%91%A0", "/api/attempts/%EF%BC%91",
                 "/api/attempts?last_id=99999999999999999999999", "/api/attempts?page_size=0",
                 f"/api/logs/{attempt['id']}/files/x.log?offset=-1", "/api/projects/99999999999999999999999"):
        assert api(server, "GET", path)[0] == 400, path
    for bad in ({"workflowId": "99999999999999999999999"}, {"workflowId": "\u2460"},
                {"workflowId": workflow["id"], "resume": {"mode": "failed", "attemptId": "abc"}},
                {"workflowId": workflow["id"], "resume": {"mode": "failed"}},
                {"workflowId": workflow["id"], "sessionTime": "2026-02-01T00:00:00Z", "retryAttemptName": "r1",
                 "resume": {"mode": "from", "attemptId": attempt["id"], "from": "+nosuch"}}):
        body = json.dumps({"sessionTime": "2026-03-01T00:00:00Z", **bad}).encode()
        status, reply = api(server, "PUT", "/api/attempts", body)
        assert status == 400, (bad, reply)
    assert "task '+nosuch' not found" in reply["message"]
    write_project(tmp_path / "p2", {"other.dig": "+b:\n  echo>: y\n"})
    assert server.digpy("push", "p2", "--project", str(tmp_path / "p2")).returncode == 0
    names = [w["name"] for w in api(server, "GET", "/api/workflows?order=desc")[1]["workflows"]]
    assert names == ["other", "wf"]
    assert [w["name"] for w in api(server, "GET", "/api/workflows?name_pattern=p2")[1]["workflows"]] == []
    found = api(server, "GET", "/api/workflows?name_pattern=p2&search_project_name=true")[1]["workflows"]
    assert [w["name"] for w in found] == ["other"]
    assert api(server, "GET", "/api/workflows?order=sideways")[0] == 400
    assert api(server, "GET", f"/api/projects/{project['id']}/workflows/nosuch") == (
        404, {"message": "workflow 'nosuch' not found in project 'p'", "status": 404})
    assert api(server, "GET", f"/api/projects/{project['id']}/workflows?revision=r9")[1]["message"] == (
        "revision 'r9' of project 'p' not found")
    base = f"/api/workflows/{workflow['id']}/truncated_session_time?session_time="
    status, truncated = api(server, "GET", base + "2026-02-01%2010:20:30&mode=hour")
    assert status == 200 and truncated == {"project": {"id": project["id"], "name": "p"}, "revision": "r1",
                                           "sessionTime": "2026-02-01T10:00:00+09:00", "timezone": "Asia/Tokyo"}
    assert api(server, "GET", base + "2026-02-01T10:20:30Z&mode=day")[1]["sessionTime"] == "2026-02-01T00:00:00+09:00"
    assert api(server, "GET", base + "2026-02-01%2010:20:30&mode=schedule")[0] == 400  # no schedule
    assert api(server, "GET", base + "2026-02-01&mode=week")[0] == 400
    wait_done(server, attempt["id"])
    status, tasks = api(server, "GET", f"/api/attempts/{attempt['id']}/tasks")
    assert [t["state"] for t in tasks["tasks"]] == ["success", "success"]
    assert set(tasks["tasks"][1]) >= {"id", "fullName", "parentId", "config", "upstreams", "isGroup", "state",
                                      "cancelRequested", "exportParams", "storeParams", "stateParams", "updatedAt",
                                      "retryAt", "startedAt", "error"}


def test_secrets_are_set_listed_by_key_and_reach_tasks_masked(server, tmp_path):
    write_project(tmp_path / "p", {"wf.dig": "+a:\n  _env:\n    TOKEN: ${secret:api.token}\n  sh>: echo \"token=$TOKEN\"\n"})
    assert server.digpy("push", "p", "--project", str(tmp_path / "p")).returncode == 0
    assert server.digpy("secrets", "--project", "p", "--set", "api.token=-", input="s3cret-value\n").returncode == 0
    assert server.digpy("secrets", "--project", "p").stdout.splitlines() == ["api.token"]
    attempt = json.loads(server.digpy("start", "p", "wf", "--json").stdout)
    assert wait_done(server, attempt["id"])["status"] == "success"
    assert "token=***" in server.digpy("log", attempt["id"]).stdout
    stored = (server.data_dir / "digpy.db").read_bytes() if server.database is None else b""
    assert b"s3cret-value" not in stored
    assert server.digpy("secrets", "--project", "p", "--delete", "api.token").returncode == 0
    assert server.digpy("secrets", "--project", "p").stdout == ""


def test_sigterm_hands_running_tasks_back_and_the_next_server_finishes_them(server, tmp_path):
    marker, sleep = tmp_path / "runs.txt", LongSleep()
    write_project(tmp_path / "p", {"wf.dig": f"+a:\n  sh>: echo run >> {marker}; "
                                             f"test $(wc -l < {marker}) -ge 2 || {sleep.command}\n+b:\n  echo>: b\n"})
    assert server.digpy("push", "p", "--project", str(tmp_path / "p")).returncode == 0
    attempt = json.loads(server.digpy("start", "p", "wf", "--json").stdout)
    wait_until(lambda: marker.exists(), what="the task to start")
    assert server.stop() == 0
    # The server waits for the shell; the shell's `sleep` got the same signal and is gone a moment later.
    wait_until(lambda: not sleep.running(), timeout=10, what="the stopped command's process group to be gone")
    server.start()
    assert wait_done(server, attempt["id"])["status"] == "success"
    assert marker.read_text().split() == ["run", "run"], "the handed-back task ran again, once"


def test_client_errors_are_one_line(tmp_path):
    port = free_port()
    result = subprocess.run([sys.executable, "-m", "digpy", "projects", "-e", f"http://127.0.0.1:{port}"],
                            capture_output=True, text=True, timeout=30)
    assert result.returncode == 1
    assert result.stderr.strip().startswith(f"error: can't reach a digpy server at http://127.0.0.1:{port}")
    assert len(result.stderr.strip().splitlines()) == 1


def test_openapi_document_lists_every_route(server):
    from digpy.server.api.openapi import ENDPOINTS

    status, doc = api(server, "GET", "/api/openapi.json")
    assert status == 200 and doc["openapi"].startswith("3.")
    documented = {(m.upper(), p) for m, p, *_ in ENDPOINTS}
    from digpy.server.app import api_modules

    served = {(r.method, r.path) for module in api_modules() for r in module.routes}
    assert served == documented


def test_an_old_schema_is_refused_with_the_command_that_migrates_it(tmp_path):
    from sqlalchemy import create_engine

    from digpy.core.store import migrate

    url = f"sqlite:///{tmp_path / 'old.db'}"
    engine = create_engine(url)
    migrate.upgrade(engine, "0001_initial")
    engine.dispose()
    result = subprocess.run([sys.executable, "-m", "digpy", "server", "--port", str(free_port()), "--database", url,
                             "--data-dir", str(tmp_path / "d")], capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert "is at schema 0001_initial" in result.stderr and f"digpy migrate run --database '{url}'" in result.stderr
    check = subprocess.run([sys.executable, "-m", "digpy", "migrate", "check", "--database", url],
                           capture_output=True, text=True)
    assert check.returncode == 1
    assert subprocess.run([sys.executable, "-m", "digpy", "migrate", "run", "--database", url]).returncode == 0
    assert subprocess.run([sys.executable, "-m", "digpy", "migrate", "check", "--database", url]).returncode == 0


def test_require_starts_the_other_workflows_session_on_the_server(server, tmp_path):
    write_project(tmp_path / "p", {
        "main.dig": "+need:\n  require>: prep\n  params:\n    what: tables\n+use:\n  echo>: main uses ${session_date}\n",
        "prep.dig": "+p:\n  sh>: echo \"preparing $what\"\n",
    })
    assert server.digpy("push", "p", "--project", str(tmp_path / "p")).returncode == 0
    attempt = json.loads(server.digpy("start", "p", "main", "--session", "2026-03-01", "--json").stdout)
    assert wait_done(server, attempt["id"])["status"] == "success"
    attempts = json.loads(server.digpy("attempts", "--json").stdout)
    prep = [a for a in attempts if a["workflow_name"] == "prep"]
    assert len(prep) == 1 and prep[0]["status"] == "success"
    assert prep[0]["session_time"] == "2026-03-01T00:00:00+00:00" and prep[0]["params"] == {"what": "tables"}
    assert "preparing tables" in server.digpy("log", prep[0]["id"]).stdout
    write_project(tmp_path / "q", {"self.dig": "+a:\n  require>: self\n"})
    assert server.digpy("push", "q", "--project", str(tmp_path / "q")).returncode == 0
    attempt = json.loads(server.digpy("start", "q", "self", "--session", "2026-03-01", "--json").stdout)
    assert wait_done(server, attempt["id"])["status"] == "error", "a workflow requiring itself fails, never hangs"
    assert "it would wait for itself" in server.digpy("log", attempt["id"]).stdout


def test_the_client_library_sync_and_async(server, tmp_path):
    import asyncio

    from digpy.client.archive import pack
    from digpy.client.http import AsyncClient, Client, ClientError

    write_project(tmp_path / "lib", {"lib.dig": "+a:\n  echo>: from the library\n"})
    client = Client(server.endpoint)
    archive, files = pack(tmp_path / "lib")
    assert files == ["lib.dig"]
    project = client.push_project("lib", "r1", archive)
    workflow = client.workflow(project.id, "lib")
    attempt, created = client.start_attempt(workflow.id, "2026-08-01T00:00:00+00:00", params={"x": 1})
    assert created and attempt.params == {"x": 1}
    again, created_again = client.start_attempt(workflow.id, "2026-08-01T00:00:00+00:00")
    assert not created_again and again.id == attempt.id
    with pytest.raises(ClientError) as e:
        client.attempt("999999")
    assert e.value.status == 404 and e.value.message == "attempt 999999 not found"

    async def use_async() -> tuple[str, str, list[str]]:
        api = AsyncClient(server.endpoint)
        version = await api.version()
        started = await api.start_attempt(workflow.id, "2026-08-02T00:00:00+00:00")
        wait_until(lambda: client.attempt(started.id).done, what="the async-started attempt")
        done = await api.attempt(started.id)
        return version, done.status, [t.state for t in await api.tasks(started.id)]

    version, status, states = asyncio.run(use_async())
    assert version == client.version() and status == "success" and states == ["success", "success"]


@pytest.mark.slow
@pytest.mark.postgres
def test_a_dead_nodes_attempt_is_taken_over_by_another_node(tmp_path, scratch_postgres_url):
    """Two servers on one PostgreSQL database; the one running an attempt is killed with SIGKILL."""
    marker = tmp_path / "runs.txt"
    node_a = Server(tmp_path / "a", scratch_postgres_url)
    node_a.start()
    node_b = Server(tmp_path / "b", scratch_postgres_url)
    try:
        write_project(tmp_path / "p", {"wf.dig": f"+a:\n  sh>: echo run >> {marker}; "
                                                 f"[ $(wc -l < {marker}) -ge 2 ] || exec sleep 300\n+b:\n  echo>: b\n"})
        assert node_a.digpy("push", "p", "--project", str(tmp_path / "p")).returncode == 0
        attempt = json.loads(node_a.digpy("start", "p", "wf", "--json").stdout)
        wait_until(lambda: marker.exists(), what="node a to run the task")
        node_b.start()
        node_a.process.kill()  # no clean shutdown: its lease just stops being renewed
        node_a.process.wait()
        subprocess.run(["pkill", "-f", "exec sleep 300|sleep 300"], check=False)
        started = time.monotonic()
        wait_until(lambda: attempt_state(node_b, attempt["id"])["done"], timeout=60, what="node b to finish it")
        assert attempt_state(node_b, attempt["id"])["status"] == "success"
        assert time.monotonic() - started < 30, "taken over within seconds"
        assert marker.read_text().split() == ["run", "run"]
    finally:
        node_b.stop()
        node_a.stop()


def test_a_require_cycle_between_workflows_fails_instead_of_waiting(server, tmp_path):
    write_project(tmp_path / "c", {"a.dig": "+need_b:\n  require>: b\n", "b.dig": "+need_a:\n  require>: a\n"})
    assert server.digpy("push", "c", "--project", str(tmp_path / "c")).returncode == 0
    attempt = json.loads(server.digpy("start", "c", "a", "--session", "2026-04-01", "--json").stdout)
    assert wait_done(server, attempt["id"])["status"] == "error", "a waits for b, which waits for a: both end"
    attempts = json.loads(server.digpy("attempts", "--json").stdout)
    b = [x for x in attempts if x["workflow_name"] == "b"]
    assert len(b) == 1 and wait_done(server, b[0]["id"])["status"] == "error"
    assert ("require> a for session 2026-04-01T00:00:00+00:00 waits for the attempt that requires it (a cycle)"
            in server.digpy("log", b[0]["id"]).stdout)
    assert "Dependent workflow failed" in server.digpy("log", attempt["id"]).stdout


def test_require_waits_for_a_session_that_is_still_running(server, tmp_path):
    go = tmp_path / "go"
    write_project(tmp_path / "w", {"main.dig": "+need:\n  require>: slow\n+after:\n  echo>: main done\n",
                                   "slow.dig": f"+s:\n  sh>: while [ ! -f {go} ]; do sleep 0.05; done\n"})
    assert server.digpy("push", "w", "--project", str(tmp_path / "w")).returncode == 0
    attempt = json.loads(server.digpy("start", "w", "main", "--session", "2026-05-01", "--json").stdout)

    def polls() -> int:  # how often +need has asked about the running `slow` session
        _status, tasks = api(server, "GET", f"/api/attempts/{attempt['id']}/tasks")
        need = [t for t in tasks["tasks"] if t["fullName"].endswith("+need")]
        return int(need[0]["stateParams"].get("polls", 0)) if need else 0

    wait_until(lambda: polls() >= 2, what="require> to poll the running session")
    go.touch()
    assert wait_done(server, attempt["id"])["status"] == "success"
    assert "main done" in server.digpy("log", attempt["id"]).stdout


def test_servers_on_two_databases_sharing_a_data_directory_each_run_their_own_files(tmp_path):
    """Revision 1 of one database is not revision 1 of another: a checkout is named by its archive's digest."""
    data = tmp_path / "data"
    servers = [Server(data, f"sqlite:///{tmp_path / name}.db") for name in ("a", "b")]
    try:
        for server, name in zip(servers, ("a", "b"), strict=True):
            write_project(tmp_path / f"project-{name}", {
                "wf.dig": "+mod:\n  py>: tasks.run\n+file:\n  sh>: cat message.txt >> ${out}\n",
                "tasks.py": f"def run(out):\n    open(out, 'a').write('module of {name}\\n')\n",
                "message.txt": f"file of {name}\n",
            })
            server.start()
            pushed = server.digpy("push", "p", "--project", str(tmp_path / f"project-{name}"), "-r", "r1", "--json")
            assert pushed.returncode == 0, pushed.stderr
            out = tmp_path / f"out-{name}.txt"
            attempt = json.loads(server.digpy("start", "p", "wf", "-p", f"out={out}", "--json").stdout)
            assert attempt["id"] == "1", "both databases number their first attempt (and revision) 1"
            assert wait_done(server, attempt["id"])["status"] == "success"
            assert out.read_text() == f"module of {name}\nfile of {name}\n"
    finally:
        for server in servers:
            server.stop()


def test_what_digdags_own_client_sends_and_reads(server, tmp_path):
    """The requests of `digdag start P W --session 2016-01-01`, `digdag tasks`, `digdag sessions`, and
    the fields Digdag's client reads from the answers (its RestProject, RestTask, RestSession)."""
    import base64
    import hashlib

    from digpy.client.http import Client

    write_project(tmp_path / "p", {"wf.dig": "timezone: Asia/Tokyo\n_export:\n  n: 1\n"
                                             "+a:\n  _export:\n    k: v\n  sh>: echo hi\n  _retry: 2\n"})
    assert server.digpy("push", "p", "--project", str(tmp_path / "p"), "-r", "r1").returncode == 0
    project = api(server, "GET", "/api/projects?name=p")[1]["projects"][0]
    archive = Client(server.endpoint).archive(project["id"])
    md5 = base64.b64encode(hashlib.md5(archive).digest()).decode()
    assert project["archiveMd5"] == md5, "a byte array in Digdag's JSON: base64"
    assert api(server, "GET", f"/api/projects/{project['id']}/revisions")[1]["revisions"][0]["archiveMd5"] == md5
    workflow = api(server, "GET", f"/api/projects/{project['id']}/workflows?name=wf")[1]["workflows"][0]
    # LocalDateTime.toString() leaves out zero seconds: that is what the client sends for 2016-01-01.
    for sent in ("2016-01-01T00:00", "2016-01-01T00:00:00.000000001", "2015-12-31T15:00Z", "2015-12-31t16:00+01:00"):
        status, truncated = api(server, "GET", f"/api/workflows/{workflow['id']}/truncated_session_time?"
                                + urllib.parse.urlencode({"session_time": sent}))
        assert status == 200 and truncated["sessionTime"] == "2016-01-01T00:00:00+09:00", (sent, truncated)
    status, attempt = api(server, "PUT", "/api/attempts", json.dumps(
        {"workflowId": workflow["id"], "sessionTime": "2015-12-31T15:00:00Z", "params": {}}).encode())
    assert status == 200, attempt
    assert wait_done(server, attempt["id"])["status"] == "success"
    tasks = {t["fullName"]: t for t in api(server, "GET", f"/api/attempts/{attempt['id']}/tasks")[1]["tasks"]}
    assert tasks["+wf+a"]["config"] == {"_retry": 2, "_type": "sh", "_command": "echo hi", "_export": {"k": "v"}}
    assert tasks["+wf+a"]["exportParams"] == {"k": "v"}
    assert tasks["+wf"]["config"] == {"_export": {"n": 1}} and tasks["+wf"]["exportParams"] == {"n": 1}

    # The sessions of a deleted project keep its name (Digdag's client requires it).
    assert api(server, "DELETE", f"/api/projects/{project['id']}")[0] == 200
    sessions = api(server, "GET", "/api/sessions")[1]["sessions"]
    assert [s["project"] for s in sessions] == [{"id": project["id"], "name": "p"}]
    assert api(server, "GET", f"/api/sessions/{sessions[0]['id']}")[1]["project"]["name"] == "p"
    listed = server.digpy("sessions")
    assert listed.returncode == 0 and " p " in listed.stdout.splitlines()[1], listed.stdout


def test_an_attempt_killed_before_any_node_ran_it_ends_killed_and_runs_nothing(server, tmp_path):
    marker = tmp_path / "ran"
    write_project(tmp_path / "p", {"wf.dig": f"+a:\n  sh>: touch {marker}\n"})
    server.stop()
    server.extra = ("--disable-executor",)
    server.start()
    assert server.digpy("push", "p", "--project", str(tmp_path / "p")).returncode == 0
    attempt = json.loads(server.digpy("start", "p", "wf", "--json").stdout)
    assert server.digpy("kill", attempt["id"]).returncode == 0
    fields = ("done", "success", "cancelRequested", "status")
    rest = api(server, "GET", f"/api/attempts/{attempt['id']}")[1]
    assert [rest[k] for k in fields] == [False, False, True, "killing"]
    server.stop()
    server.extra = ()
    server.start()
    wait_done(server, attempt["id"])
    rest = api(server, "GET", f"/api/attempts/{attempt['id']}")[1]
    assert [rest[k] for k in fields] == [True, False, True, "killed"], "Digdag's flags: the kill stays requested"
    assert not marker.exists()
