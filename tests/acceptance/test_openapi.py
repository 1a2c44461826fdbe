"""Every JSON answer of a real server validates against the schema its route has in the OpenAPI
document the server serves (strictly: no key the document does not name), errors included; and the
client library's model reads all of it."""

from __future__ import annotations

import json

from digpy.client.model import Resource
from digpy.server.api.openapi import BINARY, DOCUMENT, ENDPOINTS, EVENTS, Many
from tests.acceptance.test_server import api, wait_done, write_project
from tests.json_schema import errors

ANSWERS = {(method, route): answer for method, route, *_, answer in ENDPOINTS}


def _read_and_sent_again(answer: type[Resource] | Many | str, sent: dict) -> dict:
    """What the client library reads from an answer, as the server would send it."""
    if isinstance(answer, Many):
        return answer.of.listing([item.to_json() for item in answer.of.list_from_json(sent)])
    return sent if answer == DOCUMENT else answer.from_json(sent).to_json()


def test_every_json_answer_validates_against_its_routes_schema(server, tmp_path):
    write_project(tmp_path / "p", {"wf.dig": "timezone: Asia/Tokyo\nschedule:\n  daily>: 07:00:00\n"
                                             "+a:\n  _export:\n    k: v\n  sh>: echo hi\n+b:\n  fail>: boom\n"})
    assert server.digpy("push", "p", "--project", str(tmp_path / "p"), "-r", "r1").returncode == 0
    status, document = api(server, "GET", "/api/openapi.json")
    assert status == 200
    project = api(server, "GET", "/api/projects")[1]["projects"][0]["id"]
    workflow = api(server, "GET", f"/api/projects/{project}/workflows")[1]["workflows"][0]["id"]
    start = json.dumps({"workflowId": workflow, "sessionTime": "2026-02-01T00:00:00Z", "params": {"x": [1]}}).encode()
    status, attempt = api(server, "PUT", "/api/attempts", start)
    assert status == 200
    wait_done(server, attempt["id"])
    session = attempt["sessionId"]
    a = attempt["id"]
    secret = json.dumps({"value": "s3cret"}).encode()
    schedule = api(server, "GET", "/api/schedules")[1]["schedules"][0]["id"]
    backfill = json.dumps({"fromTime": "2026-01-01T00:00:00+09:00", "attemptName": "bf", "count": 2,
                           "dryRun": True}).encode()

    calls = [  # (method, route, path, body, the status expected)
        ("get", "/api/version", "/api/version", None, 200),
        ("get", "/api/version/check", "/api/version/check?client=0.1", None, 200),
        ("get", "/api/openapi.json", "/api/openapi.json", None, 200),
        ("get", "/api/session", "/api/session", None, 200),
        ("post", "/api/session", "/api/session", b'{"token": "digpy_unknown"}', 401),
        ("delete", "/api/session", "/api/session", None, 200),
        ("get", "/api/projects", "/api/projects", None, 200),
        ("get", "/api/projects/{id}", f"/api/projects/{project}", None, 200),
        ("get", "/api/projects/{id}", "/api/projects/999", None, 404),
        ("get", "/api/projects/{id}/revisions", f"/api/projects/{project}/revisions", None, 200),
        ("get", "/api/projects/{id}/workflows", f"/api/projects/{project}/workflows", None, 200),
        ("get", "/api/projects/{id}/workflows/{name}", f"/api/projects/{project}/workflows/wf", None, 200),
        ("get", "/api/projects/{id}/sessions", f"/api/projects/{project}/sessions", None, 200),
        ("put", "/api/projects/{id}/secrets/{key}", f"/api/projects/{project}/secrets/api.token", secret, 200),
        ("get", "/api/projects/{id}/secrets", f"/api/projects/{project}/secrets", None, 200),
        ("delete", "/api/projects/{id}/secrets/{key}", f"/api/projects/{project}/secrets/api.token", None, 200),
        ("get", "/api/schedules", "/api/schedules", None, 200),
        ("get", "/api/schedules", "/api/schedules?count=1000", None, 200),
        ("get", "/api/schedules", "/api/schedules?count=1001", None, 400),
        ("get", "/api/projects/{id}/schedules", f"/api/projects/{project}/schedules", None, 200),
        ("get", "/api/schedules/{id}", f"/api/schedules/{schedule}", None, 200),
        ("get", "/api/schedules/{id}", "/api/schedules/999", None, 404),
        ("post", "/api/schedules/{id}/skip", f"/api/schedules/{schedule}/skip", b'{"count": 1}', 200),
        ("post", "/api/schedules/{id}/backfill", f"/api/schedules/{schedule}/backfill", backfill, 200),
        ("post", "/api/schedules/{id}/disable", f"/api/schedules/{schedule}/disable", None, 200),
        ("post", "/api/schedules/{id}/enable", f"/api/schedules/{schedule}/enable", None, 200),
        ("get", "/api/workflows", "/api/workflows", None, 200),
        ("get", "/api/workflows/{id}", f"/api/workflows/{workflow}", None, 200),
        ("get", "/api/workflows/{id}/tasks", f"/api/workflows/{workflow}/tasks", None, 200),
        ("get", "/api/workflows/{id}/truncated_session_time",
         f"/api/workflows/{workflow}/truncated_session_time?session_time=2026-02-01T10:00:00Z&mode=schedule", None, 200),
        ("get", "/api/sessions", "/api/sessions", None, 200),
        ("get", "/api/sessions/{id}", f"/api/sessions/{session}", None, 200),
        ("get", "/api/sessions/{id}/attempts", f"/api/sessions/{session}/attempts", None, 200),
        ("get", "/api/attempts", "/api/attempts?include_retried=true", None, 200),
        ("get", "/api/attempts", "/api/attempts?status=error", None, 200),
        ("get", "/api/attempts", "/api/attempts?status=finished", None, 400),
        ("put", "/api/attempts", "/api/attempts", start, 409),
        ("get", "/api/attempts/{id}", f"/api/attempts/{a}", None, 200),
        ("get", "/api/attempts/{id}", "/api/attempts/abc", None, 400),
        ("get", "/api/attempts/{id}/retries", f"/api/attempts/{a}/retries", None, 200),
        ("get", "/api/attempts/{id}/tasks", f"/api/attempts/{a}/tasks", None, 200),
        ("get", "/api/attempts/{id}/requires", f"/api/attempts/{a}/requires", None, 200),
        ("get", "/api/attempts/{id}/required_by", f"/api/attempts/{a}/required_by", None, 200),
        ("post", "/api/attempts/{id}/kill", f"/api/attempts/{a}/kill", None, 409),
        ("get", "/api/logs/{id}/files", f"/api/logs/{a}/files", None, 200),
        ("put", "/api/projects", "/api/projects?project=p&revision=r2", b"not a tar.gz", 400),
        ("delete", "/api/projects/{id}", f"/api/projects/{project}", None, 200),
        ("get", "/api/sessions", "/api/sessions", None, 200),  # a deleted project's sessions
    ]
    for method, route, path, body, expected in calls:
        status, answer = api(server, method.upper(), path, body)
        assert status == expected, (path, answer)
        responses = document["paths"][route][method]["responses"]
        schema = (responses.get(str(status)) or responses["default"])["content"]["application/json"]["schema"]
        assert errors(answer, schema, document) == [], (method, path, answer)
        if status == 200:
            assert _read_and_sent_again(ANSWERS[(method, route)], answer) == answer, "the client reads all of it"

    status, pushed = api(server, "PUT", "/api/projects?project=p&revision=r2", _archive(tmp_path / "p"),
                         "application/gzip")
    assert status == 200 and errors(pushed, {"$ref": "#/components/schemas/Project"}, document) == []
    workflow = api(server, "GET", f"/api/projects/{pushed['id']}/workflows")[1]["workflows"][0]["id"]
    status, started = api(server, "PUT", "/api/attempts", json.dumps(
        {"workflowId": workflow, "sessionTime": "2026-03-01T00:00:00Z"}).encode())
    assert status == 200
    status, killed = api(server, "POST", f"/api/attempts/{started['id']}/kill")
    schema = document["paths"]["/api/attempts/{id}/kill"]["post"]["responses"]["200"]["content"]["application/json"]
    assert status == 200 and errors(killed, schema["schema"], document) == []

    answered = {(m, r) for m, r, _, _, status in calls if status == 200} | {("put", "/api/projects"),
                                                                            ("put", "/api/attempts"),
                                                                            ("post", "/api/attempts/{id}/kill"),
                                                                            ("post", "/api/session")}  # test_auth
    json_routes = {(m, r) for m, r, *_, answer in ENDPOINTS if answer not in (BINARY, EVENTS)}
    assert json_routes == answered, "every JSON route of the document is called here"


def _archive(directory) -> bytes:
    from digpy.client.archive import pack

    return pack(directory)[0]
