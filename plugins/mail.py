"""`mail>: BODY_FILE` (or `mail>: {data: TEXT}`) sends an email; the body is `${...}`-templated.

Options: `subject` (required), `to`, `cc`, `bcc` (a string or a list), `from`, `html` (false),
`attach_files` (paths, or `{path, filename, content_type}` mappings), `host`, `port` (25),
`username`, `password`, `tls` (STARTTLS, true), `ssl` (false), `timeout` (30). Each of host,
port, username, password and from can also come from the secrets `mail.host`, `mail.port`,
`mail.username`, `mail.password`, `mail.from` — the password only from there.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from digpy.core.spi import (
    ConfigError,
    OperatorContext,
    TaskError,
    TaskResult,
    boolean,
    hookimpl,
    namespaced,
    number,
    whole_number,
)


def _list(value: Any, what: str) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [v.strip() for v in value.split(",") if v.strip()]
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return list(value)
    raise ConfigError(f"mail> {what} must be an address or a list of addresses")


class MailOperator:
    name = "mail"

    async def run(self, ctx: OperatorContext) -> TaskResult:
        import smtplib  # these load only when a mail is sent (start-up time of every run)
        from email.message import EmailMessage

        params = namespaced(ctx.params, "mail")
        command = ctx.command
        if isinstance(command, dict) and "data" in command:
            body = await asyncio.to_thread(ctx.render, str(command["data"]))
        elif isinstance(command, str) and command:
            path = ctx.workdir / command
            if not path.is_file():
                raise ConfigError(f"mail> body file {command} not found in {ctx.workdir}")
            try:
                text = path.read_text(encoding="utf-8")
            except UnicodeDecodeError as e:
                raise ConfigError(f"mail> body file {command} is not UTF-8 text ({e.reason})") from None
            body = await asyncio.to_thread(ctx.render, text)
        else:
            raise ConfigError("mail> needs a body file name or {data: TEXT}")
        subject = params.get("subject")
        if subject is None or subject == "":
            raise ConfigError("mail> needs a subject")
        subject = str(subject)
        if "\n" in subject or "\r" in subject:
            raise ConfigError("mail> subject must be one line")
        to, cc, bcc = _list(params.get("to"), "to"), _list(params.get("cc"), "cc"), _list(params.get("bcc"), "bcc")
        if not to and not cc and not bcc:
            raise ConfigError("mail> needs at least one recipient (to, cc or bcc)")
        sender = params.get("from") or ctx.secrets.get("mail.from")
        if not sender:
            raise ConfigError("mail> needs a sender: from, or the secret mail.from")
        message = EmailMessage()
        message["Subject"] = subject
        message["From"] = str(sender)
        if to:
            message["To"] = ", ".join(to)
        if cc:
            message["Cc"] = ", ".join(cc)
        message.set_content(body, subtype="html" if boolean(params.get("html", False), "mail> html") else "plain")
        attachments = params.get("attach_files") or []
        for item in [attachments] if isinstance(attachments, str | dict) else attachments:
            self._attach(message, ctx.workdir, item)
        host = params.get("host") or ctx.secrets.get("mail.host")
        if not host:
            raise ConfigError("mail> needs host (or the secret mail.host)")
        settings = {
            "host": str(host), "port": whole_number(params.get("port") or ctx.secrets.get("mail.port") or 25, "mail> port"),
            "username": params.get("username") or ctx.secrets.get("mail.username"),
            "password": ctx.secrets.get("mail.password"), "tls": boolean(params.get("tls", True), "mail> tls"),
            "ssl": boolean(params.get("ssl", False), "mail> ssl"), "timeout": number(params.get("timeout", 30), "mail> timeout"),
        }
        try:
            await asyncio.to_thread(send_message, message, [*to, *cc, *bcc], settings)
        except (OSError, smtplib.SMTPException) as e:
            raise TaskError(f"mail> could not send to {settings['host']}:{settings['port']}: "
                            f"{type(e).__name__}: {e}") from None
        ctx.log.info("mail sent to %s", ", ".join([*to, *cc, *bcc]))
        return TaskResult()

    @staticmethod
    def _attach(message: Any, workdir: Path, item: Any) -> None:
        import mimetypes

        spec = {"path": item} if isinstance(item, str) else item
        if not isinstance(spec, dict) or "path" not in spec:
            raise ConfigError("mail> attach_files entries are paths or {path, filename, content_type}")
        path = workdir / str(spec["path"])
        if not path.is_file():
            raise ConfigError(f"mail> attachment {spec['path']} not found")
        kind = spec.get("content_type") or mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        main, _, sub = str(kind).partition("/")
        message.add_attachment(path.read_bytes(), maintype=main, subtype=sub or "octet-stream",
                               filename=str(spec.get("filename") or path.name))


def send_message(message: Any, recipients: list[str], s: Mapping[str, Any]) -> None:
    """Send an EmailMessage over SMTP (blocking): `s` holds host, port, username, password, tls
    (STARTTLS when the server offers it), ssl (SMTPS) and timeout. Also the server's mail notifier's."""
    import smtplib
    import ssl as ssl_module

    if s["ssl"]:
        client: smtplib.SMTP = smtplib.SMTP_SSL(s["host"], s["port"], timeout=s["timeout"],
                                                context=ssl_module.create_default_context())
    else:
        client = smtplib.SMTP(s["host"], s["port"], timeout=s["timeout"])
    with client:
        client.ehlo()
        if not s["ssl"] and s["tls"] and client.has_extn("starttls"):
            client.starttls(context=ssl_module.create_default_context())
            client.ehlo()
        if s["username"]:
            client.login(str(s["username"]), str(s["password"] or ""))
        client.send_message(message, to_addrs=recipients)


@hookimpl
def digpy_register_operators() -> list[type]:
    return [MailOperator]
