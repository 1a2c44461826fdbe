"""http> and http_call> against a real aiohttp server on 127.0.0.1, through the real command."""

from __future__ import annotations

import asyncio
import threading

import pytest
from aiohttp import web


@pytest.fixture(scope="module")
def http_server():
    calls: dict[str, int] = {}
    seen: list[dict] = []

    async def echo(request: web.Request) -> web.Response:
        record = {"method": request.method, "query": dict(request.query), "body": (await request.read()).decode(),
                  "content_type": request.headers.get("Content-Type"), "x_token": request.headers.get("X-Token")}
        seen.append(record)
        return web.json_response(record)

    async def flaky(request: web.Request) -> web.Response:
        key = request.match_info["key"]
        calls[key] = calls.get(key, 0) + 1
        if calls[key] <= 2:
            return web.Response(status=503, text="busy")
        return web.Response(text=f"ok after {calls[key]} calls")

    async def missing(request: web.Request) -> web.Response:
        return web.Response(status=404, text="no such thing")

    async def slow(request: web.Request) -> web.Response:
        await asyncio.sleep(5)
        return web.Response(text="late")

    async def workflow(request: web.Request) -> web.Response:
        return web.Response(text="+one:\n  echo>: fetched ${who}\n+two:\n  echo>: second\n",
                            content_type="application/x-yaml")

    async def dated(request: web.Request) -> web.Response:  # a date stays a string, as in .dig files
        return web.Response(body=b"+d:\n  echo>: 2016-01-30\n", headers={"Content-Type": "text/plain; charset=foo-bar"})

    async def broken(request: web.Request) -> web.Response:
        return web.Response(text="+a:\n  echo>: x\n+a:\n  echo>: y\n", content_type="application/x-yaml")

    async def big(request: web.Request) -> web.StreamResponse:  # n bytes, sent in 64 KiB writes
        n = int(request.match_info["n"])
        response = web.StreamResponse()
        await response.prepare(request)
        sent = 0
        while sent < n:
            piece = min(65536, n - sent)
            await response.write(b"x" * piece)
            sent += piece
        await response.write_eof()
        return response

    loop = asyncio.new_event_loop()
    box: dict = {}
    ready = threading.Event()

    async def start() -> None:
        app = web.Application()
        app.router.add_route("*", "/echo", echo)
        app.router.add_get("/flaky/{key}", flaky)
        app.router.add_get("/missing", missing)
        app.router.add_get("/slow", slow)
        app.router.add_get("/workflow.yml", workflow)
        app.router.add_get("/dated.yml", dated)
        app.router.add_get("/broken.yml", broken)
        app.router.add_get("/big/{n}", big)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        box["url"] = f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}"
        box["runner"] = runner

    def serve() -> None:
        asyncio.set_event_loop(loop)
        loop.run_until_complete(start())
        ready.set()
        loop.run_forever()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    assert ready.wait(10)
    yield box["url"], seen
    asyncio.run_coroutine_threadsafe(box["runner"].cleanup(), loop).result(10)
    loop.call_soon_threadsafe(loop.stop)
    thread.join(10)


def test_get_with_query_and_stored_content(project, http_server):
    url, _seen = http_server
    project.write("wf.dig", f"+get:\n  http>: {url}/echo\n  query:\n    day: ${{session_date}}\n  store_content: true\n"
                            "+show:\n  echo>: ${http.last_status} ${JSON.parse(http.last_content).query.day}\n")
    result = project.run("wf", "--session", "2026-05-01")
    assert result.returncode == 0, result.stderr
    assert result.stdout == "200 2026-05-01\n"


def test_post_json_form_and_headers(project, http_server):
    url, seen = http_server
    project.write("wf.dig", f"+json:\n  http>: {url}/echo\n  method: POST\n  content:\n    a: 1\n"
                            "  headers:\n    - X-Token: t1\n"
                            f"+form:\n  http>: {url}/echo\n  method: PUT\n  content_format: form\n  content:\n    k: v w\n")
    assert project.run("wf").returncode == 0
    posted = [s for s in seen if s["method"] in ("POST", "PUT")][-2:]
    assert posted[0]["body"] == '{"a": 1}' and posted[0]["content_type"] == "application/json"
    assert posted[0]["x_token"] == "t1"
    assert posted[1]["body"] == "k=v+w" and posted[1]["content_type"] == "application/x-www-form-urlencoded"


def test_5xx_is_retried_with_backoff_and_4xx_fails(project, http_server):
    url, _seen = http_server
    project.write("wf.dig", f"+flaky:\n  http>: {url}/flaky/a\n  store_content: true\n"
                            "+show:\n  echo>: ${http.last_content}\n")
    result = project.run("wf")
    assert result.returncode == 0, result.stderr
    assert result.stdout == "ok after 3 calls\n"
    project.write("bad.dig", f"+nf:\n  http>: {url}/missing\n")
    failed = project.run("bad")
    assert failed.returncode == 1
    assert f"HTTP 404 Not Found from GET {url}/missing" in failed.stderr


def test_timeout_and_no_retry_for_post(project, http_server):
    url, _seen = http_server
    project.write("wf.dig", f"+slow:\n  http>: {url}/slow\n  timeout: 0.5\n  retry: false\n")
    result = project.run("wf")
    assert result.returncode == 1 and "no answer within 0.5 s" in result.stderr
    project.write("post.dig", f"+p:\n  http>: {url}/flaky/b\n  method: PUT\n  retry: false\n")
    result = project.run("post")
    assert result.returncode == 1 and f"HTTP 405 Method Not Allowed from PUT {url}/flaky/b" in result.stderr


def test_http_call_runs_the_fetched_workflow(project, http_server):
    url, _seen = http_server
    project.write("wf.dig", f"_export:\n  who: caller\n+fetch:\n  http_call>: {url}/workflow.yml\n")
    result = project.run("wf")
    assert result.returncode == 0, result.stderr
    assert result.stdout == "fetched caller\nsecond\n"
    assert "+wf+fetch^sub+one" in result.stderr


def test_the_documented_example(project, http_server):
    import shutil
    from pathlib import Path

    url, seen = http_server
    shutil.copy(Path(__file__).resolve().parents[2] / "projects/operators/http.dig", project.path / "http.dig")
    result = project.run("http", "--session", "2026-07-01", "-p", f"base_url={url}")
    assert result.returncode == 0, result.stderr
    assert result.stdout == "status 200, the server saw day 2026-07-01\n"
    assert seen[-1]["body"] == '{"event": "loaded", "day": "2026-07-01"}' and seen[-1]["x_token"] == "example"


def test_bad_url_is_a_clear_error(project):
    project.write("wf.dig", "+a:\n  http>: ftp://example.test/x\n")
    assert "http> needs an http:// or https:// URL" in project.run("wf").stderr


def test_fetched_yaml_follows_the_dig_rules_and_values_go_out_as_json(project, http_server):
    url, seen = http_server
    project.write("wf.dig", f"_parallel: true\n+dated:\n  http_call>: {url}/dated.yml\n"
                            f"+broken:\n  http_call>: {url}/broken.yml\n"
                            f"+values:\n  http>: {url}/echo\n  query: {{a: [1, 2], b: null, c: true}}\n"
                            "  headers: {X-Token: true}\n"
                            "+badurl:\n  http>: 'http://[::1'\n"
                            "+badopt:\n  http>: http://127.0.0.1:1/\n  timeout: soon\n")
    result = project.run("wf")
    assert result.stdout == "2016-01-30\n", result.stderr
    assert "Traceback" not in result.stderr
    assert "http_call> the fetched workflow is not valid: " in result.stderr
    assert "duplicated key '+a' (first at line 1)" in result.stderr
    assert seen[-1]["query"] == {"a": "[1,2]", "b": "null", "c": "true"} and seen[-1]["x_token"] == "true"
    assert "not a valid URL" in result.stderr and "retrying" not in result.stderr
    assert "http> timeout must be a number, got 'soon'" in result.stderr



def test_a_large_answer_is_stored_whole_and_one_over_the_limit_fails(project, http_server):
    url, _seen = http_server
    project.write("wf.dig", f"+get:\n  http>: {url}/big/1000003\n  store_content: true\n"
                            "+size:\n  echo>: ${http.last_content.length}\n")
    result = project.run("wf")
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["1000003"], "the whole body is stored, not the first chunks"

    over = 16 * 1024 * 1024 + 1
    project.write("too.dig", f"+get:\n  http>: {url}/big/{over}\n  store_content: true\n")
    result = project.run("too")
    assert result.returncode == 1
    assert "is over 16 MiB, more than http> keeps" in result.stderr
    project.write("fine.dig", f"+get:\n  http>: {url}/big/{over}\n")  # not stored: no limit applies
    assert project.run("fine").returncode == 0


def test_a_dagu_http_step_sends_its_request_and_keeps_the_body_as_output(project, http_server):
    url, seen = http_server
    project.write("api.yaml", f"""\
params:
  - TOKEN: t0k
steps:
  - name: post
    executor:
      type: http
      config:
        headers: {{X-Token: "${{TOKEN}}", Content-Type: application/json}}
        query: {{page: "2"}}
        body: '{{"n": 1}}'
        silent: true
        timeout: 10
    command: POST {url}/echo
    output: ANSWER
  - name: use
    command: echo "method=${{ANSWER.method}} page=${{ANSWER.query.page}}"
  - name: missing
    type: http
    command: GET {url}/missing
""")
    result = project.run("api")
    assert result.returncode != 0, "a 404 fails the step"
    assert seen[-1] == {"method": "POST", "query": {"page": "2"}, "body": '{"n": 1}',
                        "content_type": "application/json", "x_token": "t0k"}
    assert '"method": "POST"' in result.stdout or '"method":"POST"' in result.stdout, "the body is printed"
    assert "method=POST page=2" in result.stdout
    assert "HTTP 404 Not Found from GET" in result.stderr
