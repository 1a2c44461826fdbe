"""mail> against a real SMTP server (aiosmtpd) on 127.0.0.1, through the real command."""

from __future__ import annotations

import os
import subprocess
import sys
from email import message_from_bytes, policy

from tests.conftest import free_port


def test_templated_body_recipients_and_attachment(project, smtp, tmp_path):
    port, inbox = smtp
    project.write("body.txt", "Report for ${session_date}: ${rows} rows.\n")
    project.write("report.csv", "a,b\n1,2\n")
    project.write("wf.dig", f"""_export:
  mail:
    host: 127.0.0.1
    port: {port}
    from: digpy@example.test
    tls: false
  rows: 42
+send:
  mail>: body.txt
  subject: Daily report ${{session_date}}
  to: [ops@example.test, data@example.test]
  bcc: audit@example.test
  attach_files:
    - report.csv
""")
    result = project.run("wf", "--session", "2026-04-01")
    assert result.returncode == 0, result.stderr
    assert len(inbox.messages) == 1
    sender, recipients, raw = inbox.messages[0]
    assert sender == "digpy@example.test"
    assert recipients == ["ops@example.test", "data@example.test", "audit@example.test"]
    message = message_from_bytes(raw, policy=policy.default)
    assert message["Subject"] == "Daily report 2026-04-01"
    assert "Bcc" not in message
    body = message.get_body(("plain",)).get_content()
    assert body.replace("\r\n", "\n") == "Report for 2026-04-01: 42 rows.\n"
    attachment = next(message.iter_attachments())
    assert attachment.get_filename() == "report.csv"
    assert attachment.get_content().replace("\r\n", "\n") == "a,b\n1,2\n"


def test_inline_html_body_and_a_login_with_the_secret_password(project, smtp, tmp_path):
    port, inbox = smtp
    env = {"DIGPY_CONFIG_DIR": str(tmp_path / "config")}
    subprocess.run([sys.executable, "-m", "digpy", "secrets", "--local", "--set", "mail.host=-"], input="127.0.0.1",
                   env={**os.environ, **env}, check=True, capture_output=True, text=True)
    project.write("wf.dig", f"+send:\n  mail>:\n    data: <b>${{task_name}}</b>\n  subject: hi\n  html: true\n"
                            f"  to: a@example.test\n  from: b@example.test\n  port: {port}\n  tls: false\n")
    result = project.run("wf", env=env)
    assert result.returncode == 0, result.stderr
    message = message_from_bytes(inbox.messages[-1][2], policy=policy.default)
    assert message.get_body(("html",)).get_content().strip() == "<b>+wf+send</b>"


def test_the_documented_example(project, smtp):
    import shutil
    from pathlib import Path

    port, inbox = smtp
    for name in ("mail.dig", "mail_body.txt"):
        shutil.copy(Path(__file__).resolve().parents[2] / "projects/operators" / name, project.path / name)
    result = project.run("mail", "--session", "2026-07-01", "-p", f"smtp_port={port}")
    assert result.returncode == 0, result.stderr
    message = message_from_bytes(inbox.messages[-1][2], policy=policy.default)
    assert message["Subject"] == "Daily report 2026-07-01"
    body = message.get_body(("plain",)).get_content().replace("\r\n", "\n")
    assert body == "Report for 2026-07-01: 42 rows loaded.\n"


def test_an_unreachable_server_fails_the_task_clearly(project):
    project.write("wf.dig", f"+send:\n  mail>:\n    data: x\n  subject: s\n  to: a@example.test\n  from: b@example.test\n"
                            f"  host: 127.0.0.1\n  port: {free_port()}\n  timeout: 5\n")
    result = project.run("wf")
    assert result.returncode == 1
    assert "mail> could not send to 127.0.0.1:" in result.stderr and "ConnectionRefusedError" in result.stderr


def test_bad_options_are_one_line_errors(project):
    (project.path / "latin1.txt").write_bytes(b"caf\xe9\n")
    common = "  to: a@example.test\n  from: b@example.test\n  host: 127.0.0.1\n"
    project.write("wf.dig", "_parallel: true\n"
                            "+port:\n  mail>:\n    data: x\n  subject: s\n  port: smtp\n" + common
                            + "+subject:\n  mail>:\n    data: x\n  subject: \"two\\nlines\"\n" + common
                            + "+body:\n  mail>: latin1.txt\n  subject: s\n" + common)
    result = project.run("wf")
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "mail> port must be a whole number, got 'smtp'" in result.stderr
    assert "mail> subject must be one line" in result.stderr
    assert "mail> body file latin1.txt is not UTF-8 text" in result.stderr


def test_dagu_mail_on_failure_and_mail_on_error_send_through_mail(project, smtp):
    port, inbox = smtp
    project.write("etl.yaml", f"""\
smtp:
  host: 127.0.0.1
  port: "{port}"
errorMail:
  from: dagu@example.test
  to: ops@example.test
  prefix: "[Error]"
infoMail:
  from: dagu@example.test
  to: [data@example.test]
mailOn:
  failure: true
  success: true
steps:
  - name: load
    command: echo loading; exit 3
    mailOnError: true
""")
    result = project.run("etl")
    assert result.returncode != 0
    messages = [(sender, to, message_from_bytes(raw, policy=policy.default)) for sender, to, raw in inbox.messages]
    assert [(sender, to, m["Subject"]) for sender, to, m in messages] == [
        ("dagu@example.test", ["ops@example.test"], "[Error] step load of etl failed"),
        ("dagu@example.test", ["ops@example.test"], "[Error] etl failed"),
    ]
    assert messages[0][2].get_content().strip() == "step load of etl failed: Command failed with code 3"
    project.write("etl.yaml", (project.path / "etl.yaml").read_text().replace("exit 3", "exit 0"))
    assert project.run("etl", "--rerun").returncode == 0
    assert inbox.messages[-1][1] == ["data@example.test"]
    assert message_from_bytes(inbox.messages[-1][2], policy=policy.default)["Subject"] == "etl succeeded"
