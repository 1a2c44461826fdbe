"""Dagu's mail settings: `smtp`, `errorMail` / `infoMail`, `mailOn`, a step's `mailOnError` and the
`mail` executor, as `mail>` tasks (docs/operators.md). The SMTP password is never read from the
file: digpy's `mail>` takes it only from the secret `mail.password`.

`mail>` templates an inline body once more after the task's values are evaluated, so the body is
kept in a param of the task (`dagu_mail_body`) that the body only names: text and variables that
hold `$` or `${` arrive as they are."""

from __future__ import annotations

from typing import Any

from digpy.core.errors import ConfigError, Location
from digpy.core.language.dagu.common import as_text
from digpy.core.language.dagu.variables import Scope, for_value, literal
from digpy.core.workflow.located import ConfigMap, key_location, value_location

_SMTP_KEYS = ("host", "port", "username", "password")
_MAIL_KEYS = ("from", "to", "prefix", "attachLogs", "attach_logs")


class Mail:
    """The mail settings of one DAG."""

    def __init__(self, dag: ConfigMap, name: str) -> None:
        self.name = name
        self.server = _smtp(dag.get("smtp"), value_location(dag, "smtp"))
        self.error = _mail(dag.get("errorMail"), "errorMail", value_location(dag, "errorMail"))
        self.info = _mail(dag.get("infoMail"), "infoMail", value_location(dag, "infoMail"))
        mail_on = dag.get("mailOn") or {}
        loc = value_location(dag, "mailOn")
        if not isinstance(mail_on, dict) or any(k not in ("failure", "success") for k in mail_on) \
                or not all(isinstance(v, bool) for v in mail_on.values()):
            raise ConfigError("mailOn must be {failure: true|false, success: true|false}", location=loc)
        self.on_failure = mail_on.get("failure", False)
        self.on_success = mail_on.get("success", False)
        self.location = loc
        if self.on_failure and self.error is None:
            raise ConfigError("mailOn.failure needs errorMail (from, to)", location=loc)
        if self.on_success and self.info is None:
            raise ConfigError("mailOn.success needs infoMail (from, to)", location=loc)

    def failure_task(self, step: str | None = None) -> dict[str, Any]:
        """The mail> task of a failure (the DAG's, or the step's with `mailOnError`)."""
        assert self.error is not None
        what = f"step {step} of {self.name}" if step else self.name
        return self._task(self.error, f"{what} failed", literal(f"{what} failed: ") + "${error.message}\n")

    def success_task(self) -> dict[str, Any]:
        assert self.info is not None
        return self._task(self.info, f"{self.name} succeeded", literal(f"{self.name} succeeded\n"))

    def _task(self, settings: dict[str, Any], what: str, body: str) -> dict[str, Any]:
        prefix = settings.get("prefix")
        subject = f"{prefix} {what}" if prefix else what
        return {"mail>": {"data": literal("${" + _BODY + "}")}, _BODY: body, "subject": literal(subject),
                "from": literal(settings["from"]), "to": [literal(t) for t in settings["to"]], **self.server}


def mail_step_task(step: str, config: dict[str, Any], scope: Scope, loc: Location | None) -> dict[str, Any]:
    """The mail executor's step (`from`, `to`, `subject`, `message`, `attachments`, Dagu variables
    expanded) through the DAG's smtp settings."""
    sender, to, subject = config.get("from"), config.get("to"), config.get("subject")
    recipients = to if isinstance(to, list) else [to] if isinstance(to, str) else None
    if not isinstance(sender, str) or not sender or not recipients \
            or not all(isinstance(t, str) and t for t in recipients):
        raise ConfigError(f"step '{step}': the mail executor needs from and to (an address or a list)",
                          location=loc)
    if not isinstance(subject, str | int | float) or isinstance(subject, bool) or subject == "":
        raise ConfigError(f"step '{step}': the mail executor needs a subject", location=loc)
    message = config.get("message", "")
    attachments = config.get("attachments") or []
    if not isinstance(message, str):
        raise ConfigError(f"step '{step}': the mail executor's message is a text",
                          location=value_location(config, "message") or loc)
    if not isinstance(attachments, list) or not all(isinstance(a, str) and a for a in attachments):
        raise ConfigError(f"step '{step}': the mail executor's attachments are a list of file paths",
                          location=value_location(config, "attachments") or loc)

    def value(text: str, key: str) -> str:
        return for_value(text, scope, value_location(config, key) or loc)

    task: dict[str, Any] = {"mail>": {"data": literal("${" + _BODY + "}")}, _BODY: value(message, "message"),
            "subject": value(as_text(subject), "subject"), "from": value(sender, "from"),
            "to": [value(t, "to") for t in recipients], **scope.smtp}
    if attachments:
        task["attach_files"] = [value(a, "attachments") for a in attachments]
    return task


_BODY = "dagu_mail_body"  # the task's param that holds the body (see the module docstring)


def _smtp(value: Any, loc: Location | None) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ConfigError("smtp must be a mapping {host, port, username}", location=loc)
    for key in value:
        if key not in _SMTP_KEYS:
            raise ConfigError(f"smtp: '{key}' is not supported yet by digpy", location=key_location(value, key) or loc)
    if value.get("password") not in (None, ""):
        raise ConfigError("smtp.password is not read from the DAG file by digpy",
                          location=key_location(value, "password") or loc,
                          hint="store it as the secret mail.password: digpy secrets --local --set mail.password "
                               "(or --project NAME for a server)")
    out: dict[str, Any] = {}
    if value.get("host") is not None:
        out["host"] = literal(as_text(value["host"]))
    if value.get("port") not in (None, ""):
        port = value["port"]
        if not str(port).isdigit():
            raise ConfigError("smtp.port must be a port number", location=value_location(value, "port") or loc)
        out["port"] = int(port)
    if value.get("username") not in (None, ""):
        out["username"] = literal(as_text(value["username"]))
    return out


def _mail(value: Any, what: str, loc: Location | None) -> dict[str, Any] | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise ConfigError(f"{what} must be a mapping {{from, to, prefix}}", location=loc)
    for key in value:
        if key not in _MAIL_KEYS:
            raise ConfigError(f"{what}: '{key}' is not supported yet by digpy", location=key_location(value, key) or loc)
    if value.get("attachLogs", value.get("attach_logs")) is True:
        raise ConfigError(f"{what}.attachLogs is not supported yet by digpy",
                          location=key_location(value, "attachLogs") or loc)
    sender, to = value.get("from"), value.get("to")
    recipients = to if isinstance(to, list) else [to] if isinstance(to, str) else None
    if not isinstance(sender, str) or not recipients or not all(isinstance(t, str) and t for t in recipients):
        raise ConfigError(f"{what} needs from and to (an address or a list)", location=loc)
    out: dict[str, Any] = {"from": sender, "to": recipients}
    if value.get("prefix") is not None:
        out["prefix"] = as_text(value["prefix"])
    return out
