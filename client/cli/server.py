"""`digpy server`: the HTTP API and the attempt executor (in the same process, or in child processes),
and `--executor-only`, an executor without HTTP."""

from __future__ import annotations

import argparse
import contextlib
import os
import shlex
from pathlib import Path
from typing import Any

DEFAULT_PORT = 65432


def default_data_dir() -> Path:
    explicit = os.environ.get("DIGPY_DATA_DIR")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "digpy" / "server"


def add_parser(sub: Any, name: str) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = sub.add_parser(
        name, help="run the digpy server", description="Serve the REST API and run attempts. "
        "Options may also come from a YAML file (-c) whose keys are the long option names.")
    parser.add_argument("-c", "--config", metavar="FILE", help="a YAML file of options (the command line wins)")
    parser.add_argument("-b", "--bind", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("-n", "--port", type=int, help=f"port (default {DEFAULT_PORT})")
    parser.add_argument("-o", "--database", metavar="URL",
                        help="SQLAlchemy URL (default: SQLite in the data directory), e.g. "
                             "postgresql+psycopg://user@host/db")
    parser.add_argument("--data-dir", metavar="DIR", help=f"where files live (default {default_data_dir()})")
    parser.add_argument("-O", "--task-log", metavar="DIR", help="task log directory (default DATA_DIR/logs)")
    parser.add_argument("--max-task-threads", type=int, metavar="N", help="tasks run at once per attempt (32)")
    parser.add_argument("--max-archive-size", type=int, metavar="BYTES", help="largest project archive (32 MiB)")
    parser.add_argument("--secret-encryption-key", metavar="BASE64",
                        help="AES key for secrets (default: a key file created in the data directory)")
    parser.add_argument("--disable-executor", action="store_true", default=None, help="serve the API only")
    parser.add_argument("--disable-scheduler", action="store_true", default=None, help="do not start schedules")
    parser.add_argument("--executor-processes", type=int, metavar="N",
                        help="run attempts in N child processes instead of the server's own (0, the default: in "
                             "it); on a machine with more than one core the API then answers while attempts run")
    parser.add_argument("--executor-nice", type=int, metavar="N",
                        help="the niceness of those processes (default 10: the API answers first)")
    parser.add_argument("--executor-only", action="store_true", default=None,
                        help="run attempts only, no HTTP (what --executor-processes starts; also a node of its own)")
    parser.add_argument("--queue", dest="queues", action="append", metavar="NAME=LIMIT",
                        help="a queue workflows may name (queue: NAME) and its limit of active attempts; "
                             "repeatable (config file: queues: {NAME: LIMIT})")
    access = parser.add_argument_group("access", "who may reach the server and do what (docs/security.md)")
    access.add_argument("--allow-host", dest="allow_host", action="append", metavar="NAME",
                        help="a Host name the server answers besides loopback ones and the --bind address "
                             "(the name clients and browsers use to reach it); repeatable; '*': any")
    access.add_argument("--auth", choices=("auto", "required"),
                        help="auto (the default): API tokens are checked once one exists (`digpy token create`); "
                             "required: always, even before the first token exists")
    access.add_argument("--insecure-no-auth", action="store_true", default=None,
                        help="listen on a non-loopback address although no API token exists: anyone who reaches "
                             "the port may do anything (without it such a server refuses to start)")
    add_retention_options(parser)
    parser.add_argument("--retention-interval", metavar="DURATION",
                        help="how often the server prunes by those (default 1h; from its start)")
    notify = parser.add_argument_group("notifications", "failed attempts and missed SLAs, by mail and to a webhook")
    notify.add_argument("--notify-mail-to", metavar="ADDRESSES", help="send them by mail to these addresses (comma-separated)")
    notify.add_argument("--notify-mail-from", metavar="ADDRESS", help="the sender of those mails (required with --notify-mail-to)")
    notify.add_argument("--notify-mail-host", metavar="HOST", help="the SMTP server (default localhost)")
    notify.add_argument("--notify-mail-port", type=int, metavar="N", help="its port (default 25)")
    notify.add_argument("--notify-mail-tls", action=argparse.BooleanOptionalAction, default=None,
                        help="STARTTLS when the SMTP server offers it (default: on)")
    notify.add_argument("--notify-mail-ssl", action="store_true", default=None, help="SMTP over TLS from the start (SMTPS)")
    notify.add_argument("--notify-mail-username", metavar="USER", help="log in to the SMTP server as USER")
    notify.add_argument("--notify-mail-password", metavar="PASSWORD",
                        help="its password (better in the config file or DIGPY_NOTIFY_MAIL_PASSWORD: a command line "
                             "is visible to every user)")
    notify.add_argument("--notify-webhook", metavar="URL", help="POST them as JSON to this http(s) URL")
    notify.add_argument("--notify-webhook-header", action="append", metavar="'NAME: VALUE'",
                        help="a header of those requests (repeatable), e.g. 'Authorization: Bearer TOKEN'")
    return parser


def add_retention_options(parser: argparse.ArgumentParser) -> None:
    """The retention options `digpy server` and `digpy prune` share."""
    group = parser.add_argument_group("retention", "how much history to keep (default: all)")
    group.add_argument("--retention-age", metavar="DURATION",
                       help="remove sessions whose attempts all ended longer ago than this (e.g. 90d, 12h)")
    group.add_argument("--retention-sessions", type=int, metavar="N",
                       help="keep the N newest sessions of each workflow, remove older ones")


def _options(args: argparse.Namespace) -> dict[str, Any]:
    from digpy.core.errors import ConfigError
    from digpy.core.language.dig.loader import load_file
    from digpy.core.workflow.located import to_plain

    options: dict[str, Any] = {}
    queues: dict[str, int] = {}
    if args.config:
        path = Path(args.config)
        if not path.is_file():
            raise ConfigError(f"config file {path} not found")
        options = {k.replace("-", "_"): v for k, v in to_plain(load_file(path)).items()}
        known = {a.dest for a in add_parser(argparse.ArgumentParser().add_subparsers(), "x")._actions}
        unknown = sorted(set(options) - known - {"queue"})  # queues: or queue: (the option's name)
        if unknown:
            raise ConfigError(f"{path}: unknown option '{unknown[0]}'", hint="keys are the long option names")
        for key in ("queue", "queues"):
            queues.update(queue_limits(options.pop(key, None) or {}, f"{path}: {key}"))
    for key, value in vars(args).items():
        if value is not None and key not in ("config", "command", "module"):
            options[key] = value
    options["queues"] = {**queues, **queue_limits(getattr(args, "queues", None) or [], "--queue")}  # the command line wins
    return options


def queue_limits(value: Any, what: str) -> dict[str, int]:
    """Queues and their limits: a mapping {NAME: LIMIT} (a config file) or NAME=LIMIT items (--queue)."""
    from digpy.core import options
    from digpy.core.errors import ConfigError
    from digpy.core.workflow.queue import queue_name

    if isinstance(value, dict):
        items = list(value.items())
    elif isinstance(value, list) and all(isinstance(v, str) and "=" in v for v in value):
        items = [tuple(v.split("=", 1)) for v in value]
    else:
        raise ConfigError(f"{what} must be NAME=LIMIT (a config file: queues: {{NAME: LIMIT}}), got {value!r}")
    found: dict[str, int] = {}
    for name, limit in items:
        found[queue_name(name.strip() if isinstance(name, str) else name, f"{what}: the name")] = \
            options.whole_number(limit, f"{what}: the limit of queue '{name}'", minimum=1)
    return found


def settings_from(args: argparse.Namespace) -> Any:
    from digpy.server.keys import ServerSettings

    options = _options(args)
    data_dir = Path(options.get("data_dir") or default_data_dir())
    data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)  # the server's files are its user's alone
    return ServerSettings(
        data_dir=data_dir,
        database_url=options.get("database") or f"sqlite:///{data_dir / 'digpy.db'}",
        task_log_dir=Path(options.get("task_log") or data_dir / "logs"),
        secret_key=options.get("secret_encryption_key") or os.environ.get("DIGPY_SECRET_ENCRYPTION_KEY") or None,
        max_task_threads=int(options.get("max_task_threads") or 32),
        max_archive_bytes=int(options.get("max_archive_size") or 32 * 1024 * 1024),
        executor=not options.get("disable_executor"),
        scheduler=not options.get("disable_scheduler"),
        executor_processes=_count(options.get("executor_processes"), "--executor-processes", 0),
        executor_nice=_count(options.get("executor_nice"), "--executor-nice", 10, most=19),
        queues=options["queues"],
        notify=_notify(options),
        retention=retention_policy(options),
        retention_interval=float(_duration(options.get("retention_interval"), "--retention-interval", 3600, least=1)),
        bind=str(options.get("bind") or "127.0.0.1"),
        allow_hosts=_hosts(options.get("allow_host")),
        auth_required=_auth(options),
    ), options.get("bind") or "127.0.0.1", int(options.get("port") or DEFAULT_PORT)


def _hosts(value: Any) -> tuple[str, ...]:
    from digpy.core.errors import ConfigError

    if value is None:
        return ()
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or not all(isinstance(v, str) and v.strip() for v in items):
        raise ConfigError(f"allow_host must be a host name or a list of them, got {value!r}")
    return tuple(v.strip() for v in items)


def _auth(options: dict[str, Any]) -> bool:
    """Whether tokens are checked even while none exists: --auth required, and always on a
    non-loopback address unless --insecure-no-auth (revoking the last token must not open it)."""
    from digpy.core.errors import ConfigError
    from digpy.server.security import is_loopback

    mode = options.get("auth") or "auto"
    if mode not in ("auto", "required"):
        raise ConfigError(f"auth must be auto or required, got {mode!r}")
    bind = str(options.get("bind") or "127.0.0.1")
    return mode == "required" or (not is_loopback(bind) and not options.get("insecure_no_auth"))


def check_exposure(settings: Any, store: Any) -> None:
    """Refuse to listen on a non-loopback address while nobody could log in, unless told to."""
    from digpy.core.errors import ConfigError
    from digpy.core.store import tokens
    from digpy.server.security import is_loopback

    if is_loopback(settings.bind) or not settings.auth_required:
        return
    with store.begin() as conn:
        if tokens.any_live(conn):
            return
    raise ConfigError(
        f"--bind {settings.bind} is not a loopback address and no API token exists",
        hint=f"create one with `digpy token create NAME --admin --data-dir {shlex.quote(str(settings.data_dir))}` "
             "(or this server's -c or --database), or give --insecure-no-auth to let anyone who reaches the port do "
             "anything")


def retention_policy(options: dict[str, Any]) -> Any:
    from digpy.core.store.retention import RetentionPolicy

    age = options.get("retention_age")
    keep = options.get("retention_sessions")
    return RetentionPolicy(
        max_age=None if age is None else _duration(age, "--retention-age", 0, least=1),
        keep=None if keep is None else _count(keep, "--retention-sessions", 0, least=1, most=10**9),
    )


def _duration(value: Any, option: str, default: int, *, least: int = 0) -> int:
    from digpy.core.errors import ConfigError
    from digpy.core.options import duration

    if value is None:
        return default
    seconds = duration(value, option)
    if seconds < least:
        raise ConfigError(f"{option} must be at least {least} second(s), got {value!r}")
    return seconds


def _notify(options: dict[str, Any]) -> Any:
    """The notifiers the options ask for (an executor process gets its server's from the environment)."""
    from digpy.core.errors import ConfigError
    from digpy.core.options import boolean
    from digpy.server.notifiers import NOTIFY_ENV, MailSettings, NotifySettings, WebhookSettings

    given = sorted(k for k in options if k.startswith("notify_"))
    if not given and os.environ.get(NOTIFY_ENV):
        return NotifySettings.from_json(os.environ[NOTIFY_ENV])
    mail = None
    to = options.get("notify_mail_to")
    if to:
        addresses = [str(a).strip() for a in (to if isinstance(to, list) else str(to).split(",")) if str(a).strip()]
        sender = options.get("notify_mail_from")
        if not sender:
            raise ConfigError("--notify-mail-to needs --notify-mail-from (the sender of the mails)")
        password = options.get("notify_mail_password") or os.environ.get("DIGPY_NOTIFY_MAIL_PASSWORD") or None
        mail = MailSettings(
            to=tuple(addresses), sender=str(sender), host=str(options.get("notify_mail_host") or "localhost"),
            port=_count(options.get("notify_mail_port"), "--notify-mail-port", 25, most=65535),
            tls=boolean(options.get("notify_mail_tls", True), "--notify-mail-tls"),
            ssl=boolean(options.get("notify_mail_ssl") or False, "--notify-mail-ssl"),
            username=str(options["notify_mail_username"]) if options.get("notify_mail_username") else None,
            password=str(password) if password else None,
        )
    elif any(k.startswith("notify_mail_") for k in given):
        raise ConfigError(f"--{given[0].replace('_', '-')} needs --notify-mail-to (where the mails go)")
    webhook = None
    url = options.get("notify_webhook")
    if url:
        if not str(url).startswith(("http://", "https://")):
            raise ConfigError(f"--notify-webhook must be an http:// or https:// URL, got {url!r}")
        headers: dict[str, str] = {}
        for line in options.get("notify_webhook_header") or []:
            name, colon, value = str(line).partition(":")
            if not colon or not name.strip():
                raise ConfigError(f"--notify-webhook-header must be 'NAME: VALUE', got {line!r}")
            headers[name.strip()] = value.strip()
        webhook = WebhookSettings(url=str(url), headers=headers)
    elif options.get("notify_webhook_header"):
        raise ConfigError("--notify-webhook-header needs --notify-webhook")
    return NotifySettings(mail=mail, webhook=webhook)


def _count(value: Any, option: str, default: int, most: int = 64, least: int = 0) -> int:
    from digpy.core.errors import ConfigError

    if value is None:
        return default
    if not isinstance(value, int) or isinstance(value, bool) or not least <= value <= most:
        raise ConfigError(f"{option} must be a whole number from {least} to {most}, got {value!r}")
    return value


def open_database(url: str, *, create_if_empty: bool) -> Any:
    """The store, refusing a database whose schema is not the current one."""
    from digpy.core.errors import ConfigError
    from digpy.core.store import SCHEMA_REVISION, migrate
    from digpy.core.store.server import ServerStore
    from digpy.core.store.url import safe_url

    if create_if_empty:
        _create_private(url)
    store = ServerStore.open(url)
    current, empty = read_schema(store, url)
    if current is None and empty and create_if_empty:
        with migrate.exclusive(store.engine):  # nodes started at once on an empty database: one creates it
            current, empty = read_schema(store, url)
            if current is None and empty:
                try:
                    migrate.upgrade(store.engine)
                except Exception:  # SQLite: another process created it meanwhile?
                    current, _ = read_schema(store, url)
                    if current != SCHEMA_REVISION:
                        raise
                current = SCHEMA_REVISION
    if current != SCHEMA_REVISION:
        store.close()
        raise ConfigError(
            f"the database {safe_url(url)} is at schema {current or '(none)'}; this digpy needs {SCHEMA_REVISION}",
            hint=f"migrate it with `digpy migrate run --database '{safe_url(url)}'`",
        )
    return store


def _private_dir(directory: Path) -> None:
    """The server's own directory, readable by its user only (created so, or tightened if it was not)."""
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    info = directory.stat()
    if info.st_mode & 0o077 and info.st_uid == os.getuid():
        os.chmod(directory, 0o700)


def _create_private(url: str) -> None:
    """A new SQLite database file is created readable by the server's user only (SQLite gives its
    write-ahead log and shared-memory files the same mode)."""
    from sqlalchemy.engine import make_url

    try:
        parsed = make_url(url)
    except Exception:  # opening it says what is wrong, in one line
        return
    if parsed.get_backend_name() != "sqlite" or not parsed.database or parsed.database == ":memory:":
        return
    path = Path(parsed.database)
    if not path.exists() and path.parent.is_dir():
        with contextlib.suppress(FileExistsError):  # another node created it meanwhile
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))


def read_schema(store: Any, url: str) -> tuple[str | None, bool]:
    """The database's schema revision (None: none) and whether it has no tables; closes the store
    and raises a one-line ConfigError if they cannot be read."""
    from sqlalchemy import inspect

    from digpy.core.errors import ConfigError
    from digpy.core.store import migrate
    from digpy.core.store.url import error_line, safe_url

    try:
        with store.begin() as conn:
            return migrate.current_revision(conn), not inspect(conn).get_table_names()
    except Exception as e:
        store.close()
        raise ConfigError(f"can't open the database {safe_url(url)}: {error_line(e)}") from None


def run(args: argparse.Namespace) -> int:
    import logging

    from aiohttp import web

    from digpy.client.cli.output import configure_logging
    from digpy.core.engine.runner import tune_gc
    from digpy.core.plugin_manager import load_registry
    from digpy.core.store.url import safe_url
    from digpy.server.app import create_app

    settings, bind, port = settings_from(args)
    configure_logging("info")
    for directory in (settings.data_dir, settings.task_log_dir):  # they hold the key, the database, task output
        _private_dir(directory)
    store = open_database(settings.database_url, create_if_empty=not args.executor_only)
    registry = load_registry()
    for plugin in registry.broken:
        logging.getLogger("digpy.server").warning("%s", plugin)
    if args.executor_only:
        from digpy.server.workers import run_executor_node

        logging.getLogger("digpy.server").info("digpy executor node (database %s, task logs %s)",
                                               safe_url(settings.database_url), settings.task_log_dir)
        try:
            run_executor_node(settings, store, registry)
        finally:
            store.close()
        return 0
    try:
        check_exposure(settings, store)
    except Exception:
        store.close()
        raise
    app = create_app(settings, store, registry)
    tune_gc()
    logging.getLogger("digpy.server").info(
        "digpy server listening on http://%s:%d (the web UI: open it in a browser; database %s, task logs %s, "
        "executor %s)", bind, port,
        safe_url(settings.database_url), settings.task_log_dir,
        "off" if not settings.executor else
        f"in {settings.executor_processes} process(es)" if settings.executor_processes else "on")
    try:
        web.run_app(app, host=bind, port=port, print=None, handle_signals=True, access_log=None)
    finally:
        store.close()
    return 0
