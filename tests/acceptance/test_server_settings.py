"""`digpy server`'s options for notifications and retention, from the command line and from a
config file (-c): what they become, and one-line errors for bad ones (exit 2, before anything starts)."""

from __future__ import annotations

import pytest

from digpy.client.cli.main import build_parser
from digpy.client.cli.server import settings_from
from digpy.server.notifiers import MailSettings, NotifySettings, WebhookSettings


def settings(*argv: str):
    return settings_from(build_parser("server").parse_args(["server", *argv]))[0]


def test_notifiers_from_a_config_file_and_the_command_line(tmp_path, monkeypatch):
    monkeypatch.setenv("DIGPY_NOTIFY_MAIL_PASSWORD", "from-env")
    config = tmp_path / "server.yml"
    config.write_text("notify_mail_to: [ops@example.test, oncall@example.test]\nnotify_mail_from: digpy@example.test\n"
                      "notify_mail_host: smtp.example.test\nnotify_mail_port: 587\nnotify_mail_tls: false\n"
                      "notify_mail_username: digpy\n"
                      "notify_webhook: https://hooks.example.test/x\nnotify_webhook_header: ['X-A: 1', 'X-B: two: 2']\n")
    got = settings("-c", str(config), "--data-dir", str(tmp_path / "data"), "--notify-mail-port", "2525")
    assert got.notify == NotifySettings(
        mail=MailSettings(to=("ops@example.test", "oncall@example.test"), sender="digpy@example.test",
                          host="smtp.example.test", port=2525, tls=False, username="digpy", password="from-env"),
        webhook=WebhookSettings(url="https://hooks.example.test/x", headers={"X-A": "1", "X-B": "two: 2"}))
    assert NotifySettings.from_json(got.notify.to_json()) == got.notify, "what executor processes get"
    assert not settings("--data-dir", str(tmp_path / "data")).notify.enabled


@pytest.mark.parametrize(("argv", "message"), [
    (["--notify-mail-to", "a@x"], "error: --notify-mail-to needs --notify-mail-from (the sender of the mails)"),
    (["--notify-mail-host", "h"], "error: --notify-mail-host needs --notify-mail-to (where the mails go)"),
    (["--notify-webhook", "ftp://x"], "error: --notify-webhook must be an http:// or https:// URL, got 'ftp://x'"),
    (["--notify-webhook", "http://x", "--notify-webhook-header", "bad"],
     "error: --notify-webhook-header must be 'NAME: VALUE', got 'bad'"),
    (["--notify-mail-to", "a@x", "--notify-mail-from", "b@x", "--notify-mail-port", "70000"],
     "error: --notify-mail-port must be a whole number from 0 to 65535, got 70000"),
])
def test_a_bad_option_is_one_line_and_nothing_starts(project, tmp_path, argv, message):
    result = project.digpy("server", "--data-dir", str(tmp_path / "data"), "--port", "1", *argv)
    assert (result.returncode, result.stderr, result.stdout) == (2, message + "\n", "")
