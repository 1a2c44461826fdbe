"""A database URL → a SQLAlchemy engine, with a user's mistakes as one-line errors.

A URL that does not parse, an unknown database and a driver that is not installed (psycopg is the
optional `digpy[postgres]` extra) are ConfigErrors naming the URL, never a traceback.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from digpy.core.errors import ConfigError

if TYPE_CHECKING:
    from sqlalchemy import Engine

SUPPORTED = "digpy uses sqlite:///PATH or postgresql+psycopg://USER@HOST/DB"
POSTGRES_EXTRA = "pip install 'digpy[postgres]'"
_PASSWORD = re.compile(r"(://[^:/@]*:)[^@/]*@")


def safe_url(url: str) -> str:
    """The URL as it may be shown: the password hidden."""
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return _PASSWORD.sub(r"\1***@", url)


def error_line(error: Exception) -> str:
    """The first line of a database error, without SQLAlchemy's wrapping (drivers add hint lines)."""
    text = str(getattr(error, "orig", None) or error).strip()
    return text.splitlines()[0] if text else error.__class__.__name__


def create_engine(url: str, **kwargs: Any) -> Engine:
    """sqlalchemy.create_engine, raising ConfigError for a bad URL or a missing driver."""
    import sqlalchemy
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError, NoSuchModuleError

    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError):  # ValueError: a port that is not a number
        raise ConfigError(f"'{safe_url(url)}' is not a database URL", hint=SUPPORTED) from None
    shown = parsed.render_as_string(hide_password=True)
    try:
        return sqlalchemy.create_engine(parsed, **kwargs)
    except NoSuchModuleError:
        raise ConfigError(f"unknown database '{parsed.drivername}' in {shown}", hint=SUPPORTED) from None
    except ImportError as e:
        module = e.name or str(e)
        if parsed.get_backend_name() == "postgresql" and parsed.get_driver_name() == "psycopg":
            raise ConfigError(f"{shown} needs the PostgreSQL driver psycopg, which is not installed",
                              hint=POSTGRES_EXTRA) from None
        if parsed.get_backend_name() == "postgresql":
            raise ConfigError(f"{shown} needs the driver {module}, which is not installed",
                              hint=f"digpy's PostgreSQL driver is psycopg: use postgresql+psycopg://... and "
                                   f"{POSTGRES_EXTRA}") from None
        raise ConfigError(f"{shown} needs the Python module {module}, which is not installed",
                          hint=SUPPORTED) from None
