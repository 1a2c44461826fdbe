"""The store's shared constants, importable without SQLAlchemy (local runs never import it)."""

# The alembic revision that creates exactly the schema in schema.py (checked by a test).
SCHEMA_REVISION = "0008_retention"

# Attempt state flags (Digdag's bits), in attempts.state_flags.
CANCEL_REQUESTED = 1
DONE = 2
SUCCESS = 4
# digpy's own: the attempt waits in its queue (or for its workflow's limit) and no node may run it yet
# (digpy.core.store.queues admits it). Never with another flag: a kill ends a queued attempt at once.
QUEUED = 8
# digpy's own, with DONE | SUCCESS: a task failed under `_continue_on` (Dagu's "partially succeeded")
PARTIAL = 16
