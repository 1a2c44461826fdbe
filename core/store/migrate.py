"""Schema versions: read and stamp the alembic revision, and run alembic's upgrade.

alembic is imported only when an upgrade or a check needs it (it costs start-up time).
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Connection, Engine, inspect, text

VERSION_TABLE = "alembic_version"


def current_revision(conn: Connection) -> str | None:
    """The revision a database is at, or None if alembic never touched it (inside the caller's transaction)."""
    if VERSION_TABLE not in inspect(conn).get_table_names():
        return None
    row = conn.execute(text(f"SELECT version_num FROM {VERSION_TABLE}")).first()
    return None if row is None else str(row[0])


def stamp(conn: Connection, revision: str) -> None:
    """Record `revision` as the current one (inside the caller's transaction)."""
    conn.execute(text(f"CREATE TABLE IF NOT EXISTS {VERSION_TABLE} (version_num VARCHAR(32) NOT NULL PRIMARY KEY)"))
    conn.execute(text(f"DELETE FROM {VERSION_TABLE}"))
    conn.execute(text(f"INSERT INTO {VERSION_TABLE} (version_num) VALUES (:v)"), {"v": revision})


def _script_location() -> str:
    import digpy.migrations

    return str(Path(digpy.migrations.__file__).parent)


def alembic_config(engine: Engine):  # type: ignore[no-untyped-def]
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", _script_location())
    config.attributes["engine"] = engine
    return config


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the database to `revision` with the alembic revisions in digpy.migrations."""
    from alembic import command

    command.upgrade(alembic_config(engine), revision)


def head_revision() -> str | None:
    """The newest alembic revision shipped with digpy."""
    from alembic.script import ScriptDirectory

    return ScriptDirectory(_script_location()).get_current_head()
