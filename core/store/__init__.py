"""The store's shared constants, importable without SQLAlchemy (local runs never import it)."""

# The alembic revision that creates exactly the schema in schema.py (checked by a test).
SCHEMA_REVISION = "0004_schedules"

# Attempt state flags (Digdag's bits), in attempts.state_flags.
CANCEL_REQUESTED = 1
DONE = 2
SUCCESS = 4
