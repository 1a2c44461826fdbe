"""alembic environment: migrations run on the engine the caller hands over (see core.store.migrate)."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

from digpy.core.store.schema import metadata

config = context.config
engine = config.attributes.get("engine")
if engine is None:
    engine = create_engine(config.get_main_option("sqlalchemy.url") or "")

with engine.connect() as connection:
    context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()
