"""Stores for integration tests: a real SQLite file and a real PostgreSQL database.

PostgreSQL comes from DIGPY_TEST_POSTGRES_URL (CI sets it) or the local server on 127.0.0.1:5432;
each test session creates its own database and drops it at the end. If PostgreSQL cannot be
reached the PostgreSQL variants fail with a message saying how to point the tests at one.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

DEFAULT_POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    admin_url = os.environ.get("DIGPY_TEST_POSTGRES_URL", DEFAULT_POSTGRES)
    name = f"digpy_test_{uuid.uuid4().hex[:10]}"
    try:
        admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as e:  # pragma: no cover - depends on the machine
        pytest.fail(f"PostgreSQL at {admin_url} is not reachable ({e}); start it (.ci/services.sh) or set "
                    "DIGPY_TEST_POSTGRES_URL to a database URL whose user may create databases")
    try:
        yield make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request, tmp_path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'digpy.db'}"
    return request.getfixturevalue("postgres_url")
