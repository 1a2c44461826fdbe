"""`pg>: FILE.sql` (or inline SQL) runs a `${...}`-templated query on PostgreSQL.

Options: `host` (localhost), `port` (5432), `database`, `user`, `ssl` (false), `schema` (search_path),
`connect_timeout` (30), and one of `create_table: NAME` (replace the table with the query's
rows), `insert_into: NAME` (append them), `download_file: PATH.csv` (write them as CSV with a
header); `store_last_results: false | first | all` stores `pg.last_results` (the first row as a
mapping, or every row as a list of mappings). The password comes from the secret `pg.password`
only. Options may be given as `_export: {pg: {...}}`. Needs `pip install 'digpy[postgres]'`.
"""

from __future__ import annotations

import asyncio
import datetime
import re
from pathlib import Path
from typing import Any

from digpy.core.spi import (
    ConfigError,
    OperatorContext,
    TaskError,
    TaskResult,
    hookimpl,
    namespaced,
    whole_number,
)

_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_$]*(\.[A-Za-z_][A-Za-z0-9_$]*)?$")
MAX_STORED_ROWS = 10_000


def _jsonable(value: Any, *, numbers: bool = False) -> Any:
    """A column value as JSON holds it; with `numbers`, NUMERIC values become JSON numbers when
    that loses nothing (as Digdag stores them), else they stay text."""
    if isinstance(value, datetime.datetime | datetime.date | datetime.time):
        return value.isoformat()
    if numbers and type(value).__name__ == "Decimal" and value.is_finite():
        if value == value.to_integral_value() and abs(value) < 2**53:
            return int(value)
        if str(float(value)) == str(value.normalize()):
            return float(value)
    if type(value).__name__ in ("Decimal", "UUID"):
        return str(value)
    if isinstance(value, bytes | memoryview):
        return bytes(value).hex()
    return value


class PgOperator:
    name = "pg"

    async def run(self, ctx: OperatorContext) -> TaskResult:
        opts = namespaced(ctx.params, "pg")
        query = await asyncio.to_thread(ctx.render, self._sql(ctx))  # JavaScript may take up to its limit
        actions = [k for k in ("create_table", "insert_into", "download_file") if opts.get(k)]
        if len(actions) > 1:
            raise ConfigError(f"pg> takes at most one of create_table, insert_into, download_file (got {actions})")
        for key in ("create_table", "insert_into"):
            if opts.get(key) and not _IDENTIFIER.match(str(opts[key])):
                raise ConfigError(f"pg> {key} must be a table name (optionally schema.table), got {opts[key]!r}")
        store = str(opts.get("store_last_results", "false")).lower()
        if store not in ("false", "first", "all"):
            raise ConfigError(f"pg> store_last_results must be false, first or all, got {store!r}")
        url = self._url(ctx, opts)
        download = ctx.workdir / str(opts["download_file"]) if opts.get("download_file") else None
        rows = await asyncio.to_thread(self._execute, url, opts, query, download, store != "false")
        ctx.log.info("pg> ran %s", "a query" if rows is None else f"a query returning {len(rows)} rows")
        if store == "false":
            return TaskResult()
        results: Any = (rows[0] if rows else {}) if store == "first" else rows
        return TaskResult(stores={"pg": {"last_results": results}})

    @staticmethod
    def _sql(ctx: OperatorContext) -> str:
        command = ctx.command
        if not isinstance(command, str) or not command.strip():
            raise ConfigError("pg> needs an .sql file (or an SQL statement)")
        path = ctx.workdir / command.strip()
        if command.strip().endswith(".sql"):
            if not path.is_file():
                raise ConfigError(f"pg> SQL file {command.strip()} not found in {ctx.workdir}")
            try:
                return path.read_text(encoding="utf-8")
            except UnicodeDecodeError as e:
                raise ConfigError(f"pg> SQL file {command.strip()} is not UTF-8 text ({e.reason})") from None
        return command

    @staticmethod
    def _url(ctx: OperatorContext, opts: dict[str, Any]) -> Any:
        try:
            import psycopg  # noqa: F401
            from sqlalchemy.engine import URL
        except ImportError:
            raise ConfigError("pg> needs the PostgreSQL driver", hint="pip install 'digpy[postgres]'") from None
        if not opts.get("database"):
            raise ConfigError("pg> needs database")
        query = {"connect_timeout": str(whole_number(opts.get("connect_timeout", 30), "pg> connect_timeout"))}
        if str(opts.get("ssl", "false")).lower() == "true":
            query["sslmode"] = "require"
        if opts.get("schema"):
            query["options"] = f"-csearch_path={opts['schema']}"
        return URL.create("postgresql+psycopg", username=opts.get("user") or None,
                          password=ctx.secrets.get("pg.password"), host=str(opts.get("host", "localhost")),
                          port=whole_number(opts.get("port", 5432), "pg> port"), database=str(opts["database"]), query=query)

    @staticmethod
    def _execute(url: Any, opts: dict[str, Any], query: str, download: Path | None,
                 keep: bool) -> list[dict[str, Any]] | None:
        import csv

        import psycopg
        from psycopg.types.string import TextLoader
        from sqlalchemy import create_engine
        from sqlalchemy.exc import DBAPIError

        body = query.strip().rstrip(";")
        engine = create_engine(url, pool_pre_ping=False)
        try:
            with engine.begin() as conn:
                # The driver's own cursor, without parameters: the SQL runs exactly as written
                # (`%` and `:name` are text, not placeholders).
                cursor: Any = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
                # Intervals as PostgreSQL writes them ("1 day 02:00:00", as psql shows), not
                # Python's timedelta text ("1 day, 2:00:00").
                cursor.adapters.register_loader("interval", TextLoader)
                try:
                    if opts.get("create_table"):
                        cursor.execute(f"DROP TABLE IF EXISTS {opts['create_table']}")
                        cursor.execute(f"CREATE TABLE {opts['create_table']} AS {body}")
                        return None
                    if opts.get("insert_into"):
                        cursor.execute(f"INSERT INTO {opts['insert_into']} {body}")
                        return None
                    cursor.execute(query)
                    while cursor.nextset():  # several statements: the last one's result counts
                        pass
                    if cursor.description is None:
                        return None
                    columns = [column.name for column in cursor.description]
                    if download is not None:
                        download.parent.mkdir(parents=True, exist_ok=True)
                        with open(download, "w", newline="", encoding="utf-8") as f:
                            writer = csv.writer(f)
                            writer.writerow(columns)
                            for row in cursor:
                                writer.writerow([_jsonable(v) for v in row])
                        return None
                    if not keep:
                        return None
                    return [{c: _jsonable(v, numbers=True) for c, v in zip(columns, row, strict=True)}
                            for row in cursor.fetchmany(MAX_STORED_ROWS)]
                finally:
                    cursor.close()
        except psycopg.Error as e:
            message = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            raise TaskError(f"pg> {type(e).__name__}: {message}") from None
        except DBAPIError as e:  # connecting, through SQLAlchemy
            message = str(e.orig).strip().splitlines()[0] if e.orig else str(e)
            raise TaskError(f"pg> {type(e.orig).__name__ if e.orig else 'error'}: {message}") from None
        finally:
            engine.dispose()


@hookimpl
def digpy_register_operators() -> list[type]:
    return [PgOperator]
