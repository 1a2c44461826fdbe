"""An attempt's one-word status is derived in one place, the REST model: what the server sends for
every combination of flags is the model's derivation, and a Digdag server's attempt (which has no
`status`) reads as the same status."""

from __future__ import annotations

import pytest

from digpy.client.http import Attempt, Session
from digpy.client.model import attempt_status
from digpy.core.store import CANCEL_REQUESTED, DONE, QUEUED, SUCCESS
from digpy.server import rest

# (done, success, cancelRequested) → status; success without done cannot happen, and reads as running.
EXPECTED = {
    (False, False, False): "running", (False, True, False): "running",
    (False, False, True): "killing", (False, True, True): "killing",
    (True, False, False): "error", (True, True, False): "success",
    (True, False, True): "killed", (True, True, True): "success",
}
# Queued (digpy's flag) only while nothing else is said: a kill ends a queued attempt at once.
EXPECTED_QUEUED = {**EXPECTED, (False, False, False): "queued", (False, True, False): "queued"}


def _row(flags: int) -> dict:
    return {"id": 1, "attempt_index": 1, "project_id": 1, "project_name": "p", "workflow_name": "wf",
            "workflow_definition_id": 1, "session_id": 1, "session_uuid": "u", "session_time": 0, "timezone": "UTC",
            "attempt_name": None, "state_flags": flags, "params": "{}", "created_at": 0.0, "finished_at": None}


@pytest.mark.parametrize("flags", range(16))
def test_the_server_sends_the_models_status_and_a_digdag_attempt_reads_as_the_same(flags):
    sent = rest.attempt(_row(flags))
    outcome = (sent["done"], sent["success"], sent["cancelRequested"])
    assert outcome == (bool(flags & DONE), bool(flags & SUCCESS), bool(flags & CANCEL_REQUESTED))
    assert sent["queued"] == bool(flags & QUEUED)
    expected = (EXPECTED_QUEUED if flags & QUEUED else EXPECTED)[outcome]
    digdag = {k: v for k, v in sent.items() if k not in ("status", "queued", "queue")}
    assert sent["status"] == attempt_status(*outcome, queued=sent["queued"]) == expected
    assert Attempt.from_json(digdag).status == EXPECTED[outcome]  # Digdag has no queues
    assert Attempt.from_json(sent).status == sent["status"]

    session = rest.session({"id": 1, "project_id": 1, "project_name": "p", "workflow_name": "wf",
                            "session_uuid": "u", "session_time": 0}, _row(flags))
    assert session["lastAttempt"]["status"] == sent["status"]
    del session["lastAttempt"]["status"]
    assert Session.from_json(session).last_attempt.status == sent["status"]
