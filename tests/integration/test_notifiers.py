"""The server's notifiers against a real SMTP server (aiosmtpd) and a real HTTP receiver (aiohttp),
both on 127.0.0.1: what a failed attempt and a missed SLA send, and a channel that fails."""

from __future__ import annotations

from email import message_from_bytes, policy

from digpy.core.spi import FailedAttempt, SlaMiss
from digpy.server.notifiers import MailSettings, Notifier, NotifySettings, WebhookSettings
from tests.conftest import free_port, wait_until

FAILED = FailedAttempt(project="etl", workflow="daily", session_time="2026-04-01T00:00:00+09:00", attempt_id=7,
                       state="group_error", failures=(("+daily+load", "disk full"),))
MISSED = SlaMiss(project="etl", workflow="daily", session_time="2026-04-01T00:00:00+09:00", attempt_id=8,
                 task="+daily", deadline="2026-04-01T03:30:00+09:00", message="+daily did not finish by 03:30:00",
                 fail=True)
CLOCK = 1775000000.0  # 2026-03-31T23:33:20Z


def test_a_failure_and_a_missed_sla_go_to_the_mail_and_the_webhook(smtp, receiver):
    port, inbox = smtp
    notifier = Notifier(NotifySettings(
        mail=MailSettings(to=("ops@example.test", "oncall@example.test"), sender="digpy@example.test",
                          host="127.0.0.1", port=port, tls=False),
        webhook=WebhookSettings(url=receiver.url + "/hooks/digpy", headers={"Authorization": "Bearer t0k"}),
    ), clock=lambda: CLOCK)
    notifier.digpy_notify_failure(FAILED)
    notifier.digpy_notify_sla(MISSED)
    notifier.close()
    assert [(path, headers["Authorization"], headers["Content-Type"]) for path, headers, _ in receiver.requests] == [
        ("/hooks/digpy", "Bearer t0k", "application/json")] * 2
    assert receiver.json_bodies() == [
        {"timestamp": "2026-03-31T23:33:20Z", "message": "attempt failed", "project_name": "etl",
         "workflow_name": "daily", "attempt_id": 7, "session_time": "2026-04-01T00:00:00+09:00",
         "event": "attempt_failed", "state": "group_error",
         "failures": [{"task_name": "+daily+load", "message": "disk full"}]},
        {"timestamp": "2026-03-31T23:33:20Z", "message": "SLA violation", "project_name": "etl",
         "workflow_name": "daily", "attempt_id": 8, "session_time": "2026-04-01T00:00:00+09:00",
         "event": "sla_missed", "task_name": "+daily", "deadline": "2026-04-01T03:30:00+09:00",
         "description": "+daily did not finish by 03:30:00", "fail": True},
    ]
    assert [(sender, recipients) for sender, recipients, _ in inbox.messages] == [
        ("digpy@example.test", ["ops@example.test", "oncall@example.test"])] * 2
    failure, sla = (message_from_bytes(raw, policy=policy.default) for _, _, raw in inbox.messages)
    assert failure["Subject"] == "[digpy] etl/daily failed (group_error)"
    assert failure["To"] == "ops@example.test, oncall@example.test"
    assert failure.get_content().replace("\r\n", "\n") == (
        "Attempt 7 of etl/daily, session 2026-04-01T00:00:00+09:00, failed (group_error).\n"
        "  * +daily+load: disk full\n")
    assert sla["Subject"] == "[digpy] SLA missed: etl/daily"
    assert sla.get_content().replace("\r\n", "\n") == (
        "SLA missed by attempt 8 of etl/daily, session 2026-04-01T00:00:00+09:00: +daily did not finish by "
        "03:30:00 (deadline 2026-04-01T03:30:00+09:00). The attempt will fail (fail: true).\n")


def test_a_channel_that_fails_is_tried_again_and_does_not_hold_up_the_other(smtp, receiver, caplog):
    _port, inbox = smtp
    receiver.statuses = [500, 503]  # then 200
    notifier = Notifier(NotifySettings(
        mail=MailSettings(to=("ops@example.test",), sender="digpy@example.test", host="127.0.0.1",
                          port=free_port(), tls=False, timeout=5),  # nothing listens there
        webhook=WebhookSettings(url=receiver.url + "/hook"),
    ), retry_delays=(0.01, 0.01))
    notifier.digpy_notify_sla(MISSED)
    wait_until(lambda: len(receiver.requests) == 3, what="the third try of the webhook")
    notifier.close()
    assert [body["attempt_id"] for body in receiver.json_bodies()] == [8, 8, 8]
    assert "webhook notification '[digpy] SLA missed: etl/daily' failed (HTTP 500 Internal Server Error); trying again" in caplog.text
    assert "mail notification '[digpy] SLA missed: etl/daily' not sent: ConnectionRefusedError" in caplog.text
    assert inbox.messages == []


def test_a_killed_attempt_says_so():
    from digpy.server.notifiers import failure_notification

    killed = FailedAttempt(project="p", workflow="w", session_time="t", attempt_id=1, state="canceled", failures=())
    note = failure_notification(killed, CLOCK)
    assert (note.subject, note.body["message"]) == ("[digpy] p/w was killed", "attempt killed")
