"""The REST model reads other servers' answers: Digdag's (without digpy's additions, with nulls where
digpy sends values) and refuses, in one line, an answer that lacks a key every server sends."""

from __future__ import annotations

import pytest

from digpy.client.errors import ClientError
from digpy.client.model import Attempt, LogFile, Project, Session


def test_digdags_answers_read_with_the_models_defaults():
    attempt = Attempt.from_json({"id": "7", "index": 2, "project": {"id": "1", "name": None},
                                 "workflow": {"name": "wf", "id": None}, "sessionId": "3", "sessionUuid": "u",
                                 "sessionTime": "2016-01-01T00:00:00+09:00", "retryAttemptName": "r",
                                 "done": True, "success": False, "cancelRequested": False, "params": None,
                                 "createdAt": "2016-01-01T00:00:01Z", "finishedAt": None})
    assert (attempt.project_name, attempt.params, attempt.status) == ("", {}, "error")
    session = Session.from_json({"id": "3", "project": {"id": "1", "name": "p"}, "workflow": {"name": "wf"},
                                 "sessionUuid": "u", "sessionTime": "2016-01-01T00:00:00+09:00", "lastAttempt": None})
    assert session.last_attempt is None and session.workflow_id is None
    assert LogFile.from_json({"fileName": "a.log.gz"}) == LogFile(file_name="a.log.gz")
    assert Project.from_json({"id": "1", "name": "p", "archiveType": "s3"}).archive_type == "s3"


def test_an_answer_without_a_key_every_server_sends_is_one_clear_error():
    with pytest.raises(ClientError) as e:
        Attempt.from_json({"id": "1", "project": {"id": "1"}})
    assert str(e.value) == "the server's Attempt has no 'index'"
