"""An attempt's one-word status: the server sends it, and the client derives it from Digdag's own
fields when a server (Digdag) does not; both must agree for every combination of flags."""

from __future__ import annotations

import pytest

from digpy.client.http import Attempt
from digpy.core.store import CANCEL_REQUESTED, DONE, SUCCESS
from digpy.server import rest as models


@pytest.mark.parametrize("flags", range(8))
def test_the_client_derives_the_status_the_server_sends(flags):
    row = {"id": 1, "attempt_index": 1, "project_id": 1, "project_name": "p", "workflow_name": "wf",
           "workflow_definition_id": 1, "session_id": 1, "session_uuid": "u", "session_time": 0, "timezone": "UTC",
           "attempt_name": None, "state_flags": flags, "params": "{}", "created_at": 0.0, "finished_at": None}
    sent = models.attempt(row)
    assert (sent["done"], sent["success"], sent["cancelRequested"]) == (
        bool(flags & DONE), bool(flags & SUCCESS), bool(flags & CANCEL_REQUESTED))
    digdag = {k: v for k, v in sent.items() if k != "status"}
    assert Attempt.of(digdag).status == Attempt.of(sent).status == sent["status"]
