"""Only the right people get in (docs/security.md): unknown Host headers and cross-site requests are
refused, API tokens created with `digpy token` carry roles per project, the CLI sends them, the web
UI's session cookie stands for one, and a server refuses to listen beyond loopback with no way in."""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.acceptance.test_server import write_project
from tests.conftest import Server, empty_postgres, free_port, wait_until

FLOW = "+a:\n  sh>: echo hi\n"
SLOW = "+a:\n  sh>: sleep 60\n"


def call(server: Server, method: str, path: str, body: object = None, *, token: str | None = None,
         headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], object]:
    """A request as a browser or a script would send it: (status, headers, the JSON answer)."""
    data = body if isinstance(body, bytes) or body is None else json.dumps(body).encode()
    sent = {"Content-Type": "application/json"} if data is not None else {}
    if token:
        sent["Authorization"] = f"Bearer {token}"
    sent.update(headers or {})
    request = urllib.request.Request(server.endpoint + path, data=data, method=method, headers=sent)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, dict(response.headers), json.loads(response.read() or b"null")
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), json.loads(e.read() or b"null")


def one_line_error(answer: object, status: int) -> str:
    assert isinstance(answer, dict) and answer["status"] == status, answer
    assert "\n" not in answer["message"] and "Traceback" not in answer["message"]
    return str(answer["message"])


@pytest.fixture
def fresh(tmp_path: Path, database_url: str) -> Server:
    """A server not yet started (tokens can be created in its database first)."""
    url = None if database_url.startswith("sqlite") else database_url
    if url is not None:
        empty_postgres(url)
    (tmp_path / "server").mkdir()
    return Server(tmp_path / "server", url)


def token(server: Server, name: str, *roles: str) -> str:
    done = server.digpy("token", "create", name, *roles, *server.database_options())
    assert done.returncode == 0, done.stderr
    assert "only time it is shown" in done.stderr
    return done.stdout.strip()


def push(server: Server, tmp_path: Path, name: str, flow: str = FLOW, token: str | None = None):
    directory = write_project(tmp_path / name, {"wf.dig": flow})
    return server.digpy("push", name, "--project", str(directory), env={"DIGPY_TOKEN": token or ""})


def start(server: Server, project: str, session: str, token: str | None = None):
    return server.digpy("start", project, "wf", "--session", session, env={"DIGPY_TOKEN": token or ""})


# ----------------------------------------------------------------------------- Host and cross-site checks


def test_unknown_host_headers_are_refused(tmp_path):
    server = Server(tmp_path / "s", None, ("--allow-host", "digpy.example"))
    server.start()
    try:
        status, _, answer = call(server, "GET", "/api/projects", headers={"Host": "attacker.example"})
        assert status == 421
        assert "--allow-host attacker.example" in one_line_error(answer, 421)
        status, _, _ = call(server, "GET", "/", headers={"Host": "rebound.example:80"})
        assert status == 421, "the UI's pages too (DNS rebinding)"
        # An IP address is answered (the machine's LAN address of a server bound to 0.0.0.0): DNS
        # rebinding needs a name.
        for host in (f"localhost:{server.port}", f"127.0.0.1:{server.port}", "digpy.example", "[::1]:1",
                     "192.0.2.7:8080", "[2001:db8::7]:80", "10.1.2.3"):
            assert call(server, "GET", "/api/projects", headers={"Host": host})[0] == 200, host
    finally:
        server.stop()


def test_cross_site_mutating_requests_are_refused(server, tmp_path):
    assert push(server, tmp_path, "p", SLOW).returncode == 0
    started = start(server, "p", "2026-01-01")
    assert started.returncode == 0, started.stderr
    attempt = json.loads(server.digpy("attempts", "--json").stdout)[0]["id"]
    kill = f"/api/attempts/{attempt}/kill"
    here = f"http://127.0.0.1:{server.port}"
    refused = [
        ({"Content-Type": "text/plain"}, b"x", 415),  # a form's or a no-cors fetch's side door
        ({"Content-Type": "application/x-www-form-urlencoded"}, b"a=b", 415),
        ({"Content-Type": "multipart/form-data; boundary=x"}, b"--x--", 415),
        ({"Origin": "http://attacker.example"}, None, 403),
        ({"Origin": "null"}, None, 403),
        ({"Sec-Fetch-Site": "cross-site"}, None, 403),
        ({"Sec-Fetch-Site": "same-site", "Origin": here}, None, 403),  # another port of the same host
    ]
    for headers, body, status in refused:
        got, _, answer = call(server, "POST", kill, body, headers=headers)
        assert got == status, (headers, answer)
        one_line_error(answer, status)
    assert call(server, "GET", f"/api/attempts/{attempt}")[2]["cancelRequested"] is False
    status, _, answer = call(server, "POST", kill, headers={"Origin": here, "Sec-Fetch-Site": "same-origin"})
    assert status == 200 and answer["cancelRequested"] is True


# ----------------------------------------------------------------------------- tokens and roles


def test_tokens_roles_and_the_cli(fresh, tmp_path):
    admin = token(fresh, "alice", "--admin")
    ci = token(fresh, "ci", "--project", "p", "--role", "run")
    reader = token(fresh, "auditor", "--project", "*", "--role", "read")
    pusher = token(fresh, "deployer", "--project", "p", "--role", "write")
    fresh.start()
    try:
        # No token: 401 with WWW-Authenticate, and the CLI says what to do.
        status, headers, answer = call(fresh, "GET", "/api/projects")
        assert status == 401 and headers["WWW-Authenticate"].startswith("Bearer")
        assert "Authorization: Bearer" in one_line_error(answer, 401)
        denied = fresh.digpy("projects", env={"DIGPY_TOKEN": ""})
        assert denied.returncode == 1 and "set DIGPY_TOKEN" in denied.stderr and len(denied.stderr.splitlines()) == 1
        assert denied.stderr.count("digpy token create") == 1, "what to do is said once"
        bad = fresh.digpy("projects", env={"DIGPY_TOKEN": "digpy_guessed"})
        assert bad.returncode == 1 and "not valid" in bad.stderr
        assert call(fresh, "GET", "/api/version")[0] == 200, "the version needs no token"

        # The admin pushes two projects; a run-only token cannot push.
        assert push(fresh, tmp_path, "p", token=admin).returncode == 0
        assert push(fresh, tmp_path, "q", token=admin).returncode == 0
        refused = push(fresh, tmp_path, "p", token=ci)
        assert refused.returncode == 1 and "token 'ci' may not push to or delete project 'p'" in refused.stderr
        assert refused.stderr.count("digpy token create") == 1, "the role and how to get it, said once"

        # Reading: the run token sees its project only; the auditor sees both and may run nothing.
        assert [p["name"] for p in call(fresh, "GET", "/api/projects", token=ci)[2]["projects"]] == ["p"]
        assert sorted(p["name"] for p in call(fresh, "GET", "/api/projects", token=reader)[2]["projects"]) == ["p", "q"]
        q_id = call(fresh, "GET", "/api/projects?name=q", token=admin)[2]["projects"][0]["id"]
        assert call(fresh, "GET", f"/api/projects/{q_id}/workflows", token=ci)[0] == 403
        assert start(fresh, "p", "2026-01-01", token=reader).returncode == 1

        # Running: ci starts p's workflow, not q's.
        started = start(fresh, "p", "2026-01-01", token=ci)
        assert started.returncode == 0, started.stderr
        q_workflow = call(fresh, "GET", f"/api/projects/{q_id}/workflows", token=admin)[2]["workflows"][0]["id"]
        status, _, answer = call(fresh, "PUT", "/api/attempts", {"workflowId": q_workflow, "sessionTime":
                                                                  "2026-01-01T00:00:00Z"}, token=ci)
        assert status == 403 and "project 'q'" in one_line_error(answer, 403)
        attempts = call(fresh, "GET", "/api/attempts", token=ci)[2]["attempts"]
        assert [a["project"]["name"] for a in attempts] == ["p"]

        # Pushing and secrets are separate permissions: the deployer pushes p but cannot touch its secrets.
        assert push(fresh, tmp_path, "p", token=pusher).returncode == 0
        p_id = call(fresh, "GET", "/api/projects?name=p", token=admin)[2]["projects"][0]["id"]
        for who in (pusher, ci, reader):
            assert call(fresh, "GET", f"/api/projects/{p_id}/secrets", token=who)[0] == 403
            assert call(fresh, "PUT", f"/api/projects/{p_id}/secrets/k", {"value": "v"}, token=who)[0] == 403
        assert call(fresh, "PUT", f"/api/projects/{p_id}/secrets/k", {"value": "v"}, token=admin)[0] == 200

        # The token list says who was used; a revoked token stops working within seconds.
        listed = {t["name"]: t for t in json.loads(fresh.digpy("token", "list", "--json",
                                                               *fresh.database_options()).stdout)}
        assert listed["ci"]["lastUsedAt"] is not None and listed["ci"]["grants"] == {"p": "run"}
        assert "token_hash" not in json.dumps(listed) and ci not in json.dumps(listed)
        revoked = fresh.digpy("token", "revoke", "ci", *fresh.database_options())
        assert revoked.returncode == 0, revoked.stderr
        wait_until(lambda: call(fresh, "GET", "/api/projects", token=ci)[0] == 401, timeout=15,
                   what="the revoked token refused")
    finally:
        fresh.stop()


def test_the_client_config_file_holds_the_token(fresh, tmp_path):
    admin = token(fresh, "alice", "--admin")
    fresh.start()
    try:
        config = tmp_path / "config"
        config.mkdir()
        (config / "config").write_text(f"token = {admin}\n")
        listed = fresh.digpy("projects", env={"DIGPY_TOKEN": "", "DIGPY_CONFIG_DIR": str(config)})
        assert listed.returncode == 0, listed.stderr
    finally:
        fresh.stop()


def test_auth_required_without_any_token(tmp_path):
    server = Server(tmp_path / "s", None, ("--auth", "required"))
    server.start()
    try:
        assert call(server, "GET", "/api/projects")[0] == 401
        assert call(server, "GET", "/api/session")[2]["authRequired"] is True
    finally:
        server.stop()


def test_a_server_beyond_loopback_needs_auth_or_an_explicit_word(tmp_path):
    data = tmp_path / "s"
    port = free_port()
    base = [sys.executable, "-m", "digpy", "server", "--bind", "0.0.0.0", "--port", str(port), "--data-dir", str(data)]
    refused = subprocess.run(base, capture_output=True, text=True, timeout=60)
    assert refused.returncode == 2
    assert refused.stderr.startswith("error: --bind 0.0.0.0 is not a loopback address and no API token exists")
    assert "--insecure-no-auth" in refused.stderr and len(refused.stderr.splitlines()) == 1

    (tmp_path / "open.yml").write_text("insecure_no_auth: true\nallow_host: [digpy.example]\n")
    server = Server(data, None, ("--bind", "0.0.0.0", "-c", str(tmp_path / "open.yml")))
    server.start()
    try:
        assert call(server, "GET", "/api/projects")[0] == 200
        assert call(server, "GET", "/api/projects", headers={"Host": "digpy.example"})[0] == 200
        assert call(server, "GET", "/api/projects", headers={"Host": "other.example"})[0] == 421
    finally:
        server.stop()

    admin = token(server, "alice", "--admin")
    guarded = Server(data, None, ("--bind", "0.0.0.0"))
    guarded.start()
    try:
        assert call(guarded, "GET", "/api/projects")[0] == 401
        assert call(guarded, "GET", "/api/projects", token=admin)[0] == 200
        revoked = guarded.digpy("token", "revoke", "alice", *guarded.database_options())
        assert revoked.returncode == 0
        wait_until(lambda: call(guarded, "GET", "/api/projects", token=admin)[0] == 401, timeout=15,
                   what="the revoked token refused")
        assert call(guarded, "GET", "/api/projects")[0] == 401, "revoking the last token does not open the server"
    finally:
        guarded.stop()


# ----------------------------------------------------------------------------- the web UI's session


def test_the_session_cookie_stands_for_the_token(fresh, tmp_path):
    admin = token(fresh, "alice", "--admin")
    fresh.start()
    try:
        assert call(fresh, "GET", "/api/session")[2] == {"authRequired": True, "name": None, "serverAdmin": False,
                                                         "grants": {}}
        status, _, answer = call(fresh, "POST", "/api/session", {"token": "digpy_wrong"})
        assert status == 401 and "not valid" in one_line_error(answer, 401)
        status, headers, answer = call(fresh, "POST", "/api/session", {"token": admin})
        assert status == 200 and answer["name"] == "alice" and answer["serverAdmin"] is True
        cookie = headers["Set-Cookie"]
        assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and admin in cookie
        session = {"Cookie": cookie.split(";")[0]}
        assert call(fresh, "GET", "/api/projects", headers=session)[0] == 200
        assert call(fresh, "GET", "/api/session", headers=session)[2]["name"] == "alice"

        assert push(fresh, tmp_path, "p", token=admin).returncode == 0
        p_id = call(fresh, "GET", "/api/projects", headers=session)[2]["projects"][0]["id"]
        secret = f"/api/projects/{p_id}/secrets/k"
        status, _, answer = call(fresh, "PUT", secret, {"value": "v"}, headers=session)
        assert status == 403 and "Origin" in one_line_error(answer, 403), "a cookie alone does not mutate"
        origin = {**session, "Origin": f"http://127.0.0.1:{fresh.port}"}
        assert call(fresh, "PUT", secret, {"value": "v"}, headers=origin)[0] == 200

        status, headers, _ = call(fresh, "DELETE", "/api/session", headers=origin)
        assert status == 200 and "digpy_session=;" in headers["Set-Cookie"].replace('""', "")
    finally:
        fresh.stop()


def test_every_route_declares_the_permission_it_needs():
    from digpy.server.api.openapi import document
    from digpy.server.app import api_modules
    from digpy.server.security import permission_of

    undeclared = [(r.method, r.path) for m in api_modules() for r in m.routes if permission_of(r.handler) is None]
    assert undeclared == []
    roles = {(p, m): op["x-digpy-role"] for p, ops in document()["paths"].items() for m, op in ops.items()}
    assert roles[("/api/projects", "put")] == "write"
    assert roles[("/api/projects/{id}/secrets", "get")] == "admin"
    assert roles[("/api/attempts/{id}/kill", "post")] == "run"
    assert roles[("/api/version", "get")] == "public"


# ----------------------------------------------------------------------------- secrets and the server's files


def test_a_missing_secret_names_the_server_command_and_the_files_are_private(tmp_path):
    import stat

    from tests.acceptance.test_server import wait_done

    data = tmp_path / "fresh" / "data"  # created by the server
    server = Server(data, None)
    server.start()
    try:
        assert push(server, tmp_path, "etl", "+a:\n  sh>: echo ${secret:db.password}\n").returncode == 0
        started = server.digpy("start", "etl", "wf", "--session", "2026-01-01", "--json")
        attempt = json.loads(started.stdout)["id"]
        assert wait_done(server, attempt)["success"] is False
        tasks = call(server, "GET", f"/api/attempts/{attempt}/tasks")[2]["tasks"]
        message = next(t["error"]["message"] for t in tasks if t["fullName"].endswith("+a"))
        assert "secret 'db.password' is not set" in message
        assert "`digpy secrets --project etl --set db.password`" in message and "--local" not in message

        def mode(path: Path) -> int:
            return stat.S_IMODE(path.stat().st_mode)

        assert mode(data) == 0o700
        assert mode(data / "digpy.db") == 0o600
        assert all(mode(f) == 0o600 for f in data.glob("digpy.db-*")), "its write-ahead log too"
        assert mode(data / "logs") == 0o700 and mode(data / "logs" / attempt) == 0o700
        logs = list((data / "logs" / attempt).iterdir())
        assert logs and all(mode(f) == 0o600 for f in logs)
    finally:
        server.stop()


def test_token_commands_say_where_no_database_is(tmp_path):
    listed = subprocess.run([sys.executable, "-m", "digpy", "token", "list", "--data-dir", str(tmp_path / "none")],
                            capture_output=True, text=True, timeout=60)
    assert listed.returncode == 2
    assert listed.stderr == f"error: no database at {tmp_path / 'none' / 'digpy.db'}; give the server's --database " \
                            "URL, --data-dir or -c file\n"
    assert not (tmp_path / "none" / "digpy.db").exists()
