"""The server's notifiers: a failed attempt or a missed SLA sent by mail (SMTP) and to a webhook.

The notifier is a plugin like any other: its `digpy_notify_failure` and `digpy_notify_sla` hooks
only queue the notification (they are called on the runner's event loop), and one thread sends
each to every channel configured (`digpy server --notify-mail-* / --notify-webhook`), retrying a
channel that failed a few times before giving up with a line in the server log. The webhook gets
a JSON POST with the keys of Digdag's HTTP notifications (`message` is "SLA violation" for an SLA,
as Digdag sends it) and digpy's additions; the mail is plain text.
"""

from __future__ import annotations

import json
import logging
import queue
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from digpy.core.plugin_manager import Registry
from digpy.core.spi import FailedAttempt, SlaMiss, hookimpl

log = logging.getLogger("digpy.server.notifiers")
RETRY_DELAYS = (1.0, 5.0, 30.0)  # seconds before each new try of a channel that failed
STOP_SECONDS = 10.0  # how long a stopping server waits for notifications still queued
NOTIFY_ENV = "DIGPY_NOTIFY_SETTINGS"  # how a server hands its notifiers to its executor processes


@dataclass(frozen=True)
class MailSettings:
    """`--notify-mail-*`: where the mail goes and the SMTP server that takes it."""

    to: tuple[str, ...]
    sender: str
    host: str = "localhost"
    port: int = 25
    tls: bool = True  # STARTTLS when the server offers it
    ssl: bool = False  # SMTPS from the start
    username: str | None = None
    password: str | None = None
    timeout: float = 30.0


@dataclass(frozen=True)
class WebhookSettings:
    """`--notify-webhook URL` and its `--notify-webhook-header`s."""

    url: str
    headers: Mapping[str, str] = field(default_factory=dict)
    timeout: float = 10.0


@dataclass(frozen=True)
class NotifySettings:
    mail: MailSettings | None = None
    webhook: WebhookSettings | None = None

    @property
    def enabled(self) -> bool:
        return self.mail is not None or self.webhook is not None

    def to_json(self) -> str:
        mail = None if self.mail is None else {**asdict(self.mail), "to": list(self.mail.to)}
        webhook = None if self.webhook is None else {**asdict(self.webhook), "headers": dict(self.webhook.headers)}
        return json.dumps({"mail": mail, "webhook": webhook})

    @classmethod
    def from_json(cls, text: str) -> NotifySettings:
        data = json.loads(text)
        mail, webhook = data.get("mail"), data.get("webhook")
        return cls(mail=None if mail is None else MailSettings(**{**mail, "to": tuple(mail["to"])}),
                   webhook=None if webhook is None else WebhookSettings(**webhook))


@dataclass(frozen=True)
class Notification:
    """One notification: a subject and text for people, a JSON body for programs."""

    subject: str
    text: str
    body: dict[str, Any]


def failure_notification(attempt: FailedAttempt, now: float) -> Notification:
    ended = "was killed" if attempt.state == "canceled" else f"failed ({attempt.state})"
    where = f"{attempt.project}/{attempt.workflow}"
    lines = [f"Attempt {attempt.attempt_id} of {where}, session {attempt.session_time}, {ended}."]
    lines += [f"  * {task}: {message}" for task, message in attempt.failures]
    return Notification(
        subject=f"[digpy] {where} {ended}",
        text="\n".join(lines) + "\n",
        body={**_common(now, "attempt killed" if attempt.state == "canceled" else "attempt failed",
                        attempt.project, attempt.workflow, attempt.attempt_id, attempt.session_time),
              "event": "attempt_failed", "state": attempt.state,
              "failures": [{"task_name": task, "message": message} for task, message in attempt.failures]},
    )


def sla_notification(miss: SlaMiss, now: float) -> Notification:
    where = f"{miss.project}/{miss.workflow}"
    consequence = " The attempt will fail (fail: true)." if miss.fail else ""
    return Notification(
        subject=f"[digpy] SLA missed: {where}",
        text=(f"SLA missed by attempt {miss.attempt_id} of {where}, session {miss.session_time}: "
              f"{miss.message} (deadline {miss.deadline}).{consequence}\n"),
        body={**_common(now, "SLA violation", miss.project, miss.workflow, miss.attempt_id, miss.session_time),
              "event": "sla_missed", "task_name": miss.task, "deadline": miss.deadline, "description": miss.message,
              "fail": miss.fail},
    )


def _common(now: float, message: str, project: str, workflow: str, attempt_id: int,
            session_time: str) -> dict[str, Any]:
    return {"timestamp": datetime.fromtimestamp(now, UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
            "message": message, "project_name": project, "workflow_name": workflow, "attempt_id": attempt_id,
            "session_time": session_time}


class Channel(Protocol):
    name: str

    def send(self, note: Notification) -> None:
        """Deliver the notification or raise (OSError, smtplib.SMTPException, ...)."""


class MailChannel:
    name = "mail"

    def __init__(self, settings: MailSettings) -> None:
        self.settings = settings

    def send(self, note: Notification) -> None:
        from email.message import EmailMessage

        from digpy.plugins.mail import send_message

        s = self.settings
        message = EmailMessage()
        message["Subject"] = note.subject
        message["From"] = s.sender
        message["To"] = ", ".join(s.to)
        message.set_content(note.text)
        send_message(message, list(s.to), {"host": s.host, "port": s.port, "username": s.username,
                                           "password": s.password, "tls": s.tls, "ssl": s.ssl,
                                           "timeout": s.timeout})


class WebhookChannel:
    name = "webhook"

    def __init__(self, settings: WebhookSettings) -> None:
        self.settings = settings

    def send(self, note: Notification) -> None:
        data = json.dumps(note.body, ensure_ascii=False).encode("utf-8")
        request = urllib.request.Request(self.settings.url, data=data, method="POST", headers={
            "Content-Type": "application/json", "User-Agent": "digpy", **self.settings.headers})
        with urllib.request.urlopen(request, timeout=self.settings.timeout) as response:
            response.read()


class Notifier:
    """Queues notifications from the hooks and sends them from one thread, in order."""

    def __init__(self, settings: NotifySettings, *, retry_delays: Sequence[float] = RETRY_DELAYS,
                 clock: Callable[[], float] = time.time) -> None:
        self.channels: list[Channel] = []
        if settings.mail is not None:
            self.channels.append(MailChannel(settings.mail))
        if settings.webhook is not None:
            self.channels.append(WebhookChannel(settings.webhook))
        self.retry_delays = tuple(retry_delays)
        self.clock = clock
        self._queue: queue.Queue[Notification | None] = queue.Queue()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._send_all, name="digpy-notify", daemon=True)
        self._thread.start()

    @hookimpl
    def digpy_notify_failure(self, attempt: FailedAttempt) -> None:
        self._queue.put(failure_notification(attempt, self.clock()))

    @hookimpl
    def digpy_notify_sla(self, miss: SlaMiss) -> None:
        self._queue.put(sla_notification(miss, self.clock()))

    def close(self, timeout: float = STOP_SECONDS) -> None:
        """Send what is queued (for at most `timeout` seconds), then stop the thread."""
        self._queue.put(None)
        self._thread.join(timeout)
        if self._thread.is_alive():
            log.error("notifications still unsent after %.0f s are dropped", timeout)
        self._stop.set()

    def _send_all(self) -> None:
        while (note := self._queue.get()) is not None:
            for channel in self.channels:
                self._send(channel, note)

    def _send(self, channel: Channel, note: Notification) -> None:
        problem = ""
        for attempt in range(len(self.retry_delays) + 1):
            try:
                channel.send(note)
                return
            except Exception as e:  # a channel's failure is logged; the others are still tried
                problem = _problem(e)
            if attempt == len(self.retry_delays) or self._stop.wait(self.retry_delays[attempt]):
                break
            log.warning("%s notification '%s' failed (%s); trying again", channel.name, note.subject, problem)
        log.error("%s notification '%s' not sent: %s", channel.name, note.subject, problem)


def _problem(error: Exception) -> str:
    if isinstance(error, urllib.error.HTTPError):
        return f"HTTP {error.code} {error.reason}"
    if isinstance(error, urllib.error.URLError):
        return str(error.reason)
    return f"{type(error).__name__}: {error}"


def start_notifier(settings: NotifySettings, registry: Registry) -> Notifier | None:
    """A notifier for the configured channels, registered as a plugin of `registry`; None if there
    is no channel."""
    if not settings.enabled:
        return None
    notifier = Notifier(settings)
    registry.manager.register(notifier, name="digpy.server.notifiers")
    return notifier


__all__ = ["MailSettings", "Notifier", "NotifySettings", "WebhookSettings", "start_notifier"]
