"""The SQL schema, one for SQLite and PostgreSQL. Changed only together with an alembic revision
(digpy.core.store.SCHEMA_REVISION names it) and a regenerated digpy.core.store.sqlite_ddl.

Times are epoch seconds (floats) so that SQLite and PostgreSQL store them alike. JSON is kept as
text written by the store (compact, and cheaper than a JSON column type on the hot path).
Tasks have a composite key (attempt, id): the runner numbers an attempt's tasks itself, so new
tasks are inserted in one batch without a round trip per task.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

metadata = MetaData()

projects = Table(
    "projects",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(255), nullable=True),  # null once deleted
    Column("deleted_name", String(255), nullable=True),
    Column("created_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
    Column("deleted_at", Float, nullable=True),
    UniqueConstraint("name", name="uq_projects_name"),
)

revisions = Table(
    "revisions",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("project_id", Integer, ForeignKey("projects.id"), nullable=False),
    Column("name", String(255), nullable=False),
    Column("archive_md5", String(64), nullable=True),
    Column("archive_size", BigInteger, nullable=True),
    Column("archive", LargeBinary, nullable=True),
    Column("default_params", Text, nullable=False, default="{}"),
    Column("user_info", Text, nullable=False, default="{}"),
    Column("created_at", Float, nullable=False),
    UniqueConstraint("project_id", "name", name="uq_revisions_project_name"),
)

workflow_definitions = Table(
    "workflow_definitions",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("project_id", Integer, ForeignKey("projects.id"), nullable=False),
    Column("revision_id", Integer, ForeignKey("revisions.id"), nullable=True),
    Column("name", String(255), nullable=False),
    Column("timezone", String(64), nullable=False),
    Column("config", Text, nullable=False),
    Column("config_digest", String(64), nullable=False),
    Column("created_at", Float, nullable=False),
    # The workflow's `queue:` and `max_active_attempts:` (read from the config at push, not at each start).
    Column("queue_name", String(255), nullable=True),
    Column("max_active_attempts", Integer, nullable=True),
    # The workflow's `retention:` (digpy.core.store.retention): seconds and sessions kept; null: the server's.
    Column("retention_age", Float, nullable=True),
    Column("retention_sessions", Integer, nullable=True),
    Index("ix_workflow_definitions_revision_name", "revision_id", "name"),
)

sessions = Table(
    "sessions",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("project_id", Integer, ForeignKey("projects.id"), nullable=False),
    Column("workflow_name", String(255), nullable=False),
    Column("session_time", BigInteger, nullable=False),  # epoch seconds
    Column("session_uuid", String(36), nullable=False),
    Column("last_attempt_id", BigInteger, nullable=True),
    Column("created_at", Float, nullable=False),
    UniqueConstraint("project_id", "workflow_name", "session_time", name="uq_sessions_project_workflow_time"),
)

attempts = Table(
    "attempts",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("session_id", BigInteger, ForeignKey("sessions.id"), nullable=False),
    Column("project_id", Integer, ForeignKey("projects.id"), nullable=False),
    Column("workflow_definition_id", Integer, ForeignKey("workflow_definitions.id"), nullable=True),
    Column("workflow_name", String(255), nullable=False),
    Column("attempt_name", String(255), nullable=True),  # retry attempt name; null for the first
    Column("attempt_index", Integer, nullable=False),
    Column("timezone", String(64), nullable=False),
    Column("params", Text, nullable=False, default="{}"),
    Column("state_flags", Integer, nullable=False, default=0),  # 1 cancel requested, 2 done, 4 success, 8 queued
    Column("created_at", Float, nullable=False),
    Column("finished_at", Float, nullable=True),
    Column("lease_owner", String(255), nullable=True),
    Column("lease_expires_at", Float, nullable=True),
    # A retry that resumes an earlier attempt: "failed" (skip what succeeded) or "from" (+task on).
    Column("resume_attempt_id", BigInteger, nullable=True),
    Column("resume_mode", String(16), nullable=True),
    Column("resume_from", Text, nullable=True),
    # Runs only once this attempt is done (backfills run one slot at a time; a schedule's `overlap: wait`).
    Column("after_attempt_id", BigInteger, nullable=True),
    # The queue it waits in and counts against, and the most attempts of its workflow that may be
    # active for it to be admitted (digpy.core.store.queues); null: none.
    Column("queue_name", String(255), nullable=True),
    Column("max_active_attempts", Integer, nullable=True),
    # When a scheduled attempt's slot was due (what its SLA counts from); null: its created_at.
    Column("run_time", Float, nullable=True),
    UniqueConstraint("session_id", "attempt_name", name="uq_attempts_session_name"),
    Index("ix_attempts_running", "state_flags"),
)

tasks = Table(
    "tasks",
    metadata,
    Column("attempt_id", BigInteger, ForeignKey("attempts.id"), primary_key=True, autoincrement=False),
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("parent_id", Integer, nullable=True),
    Column("name", String(255), nullable=False),
    Column("full_name", Text, nullable=False),
    Column("is_group", Boolean, nullable=False),
    Column("state", Integer, nullable=False),
    Column("flags", Integer, nullable=False, default=0),
    Column("retry_count", Integer, nullable=False, default=0),
    Column("retry_at", Float, nullable=True),
    Column("started_at", Float, nullable=True),
    Column("updated_at", Float, nullable=False),
    Column("upstreams", Text, nullable=False, default="[]"),
    Column("config", Text, nullable=False, default="{}"),
    Column("export", Text, nullable=False, default="{}"),
    Column("state_params", Text, nullable=False, default="{}"),
    Column("store_params", Text, nullable=False, default="{}"),
    Column("export_params", Text, nullable=False, default="{}"),
    Column("reset_store", Text, nullable=False, default="[]"),
    Column("subtask_config", Text, nullable=True),
    Column("error", Text, nullable=True),
)

secrets = Table(
    "secrets",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("project_id", Integer, ForeignKey("projects.id"), nullable=False),
    Column("key", String(255), nullable=False),
    Column("value", Text, nullable=False),  # AES-GCM encrypted, base64 (see digpy.server.secrets)
    Column("updated_at", Float, nullable=False),
    UniqueConstraint("project_id", "key", name="uq_secrets_project_key"),
)

# The attempts an attempt's `require>` tasks wait for (digpy.core.engine.sessions checks for cycles).
attempt_waits = Table(
    "attempt_waits",
    metadata,
    Column("attempt_id", BigInteger, ForeignKey("attempts.id"), primary_key=True, autoincrement=False),
    Column("waits_for", BigInteger, ForeignKey("attempts.id"), primary_key=True, autoincrement=False),
)

# A workflow's schedule: the next slot (its run time and session time) and the last session started.
schedules = Table(
    "schedules",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("project_id", Integer, ForeignKey("projects.id"), nullable=False),
    Column("workflow_name", String(255), nullable=False),
    Column("workflow_definition_id", Integer, ForeignKey("workflow_definitions.id"), nullable=False),
    Column("next_run_time", Float, nullable=False),  # epoch seconds; far future once past `end`
    Column("next_schedule_time", BigInteger, nullable=False),  # the session time of that slot
    Column("last_session_time", BigInteger, nullable=True),  # the newest slot started
    Column("disabled_at", Float, nullable=True),
    Column("created_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
    UniqueConstraint("project_id", "workflow_name", name="uq_schedules_project_workflow"),
    Index("ix_schedules_next_run_time", "next_run_time"),
)

# API tokens (only a SHA-256 of each is kept) and what each may do (digpy.core.store.tokens).
api_tokens = Table(
    "api_tokens",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(255), nullable=False),
    Column("token_hash", String(64), nullable=False),  # hex SHA-256 of the token
    Column("server_admin", Boolean, nullable=False, default=False),
    Column("created_at", Float, nullable=False),
    Column("last_used_at", Float, nullable=True),
    Column("revoked_at", Float, nullable=True),
    UniqueConstraint("token_hash", name="uq_api_tokens_hash"),
    Index("ix_api_tokens_name", "name"),
)

token_grants = Table(
    "token_grants",
    metadata,
    Column("token_id", Integer, ForeignKey("api_tokens.id"), primary_key=True, autoincrement=False),
    Column("project", String(255), primary_key=True),  # a project name, or * for every project
    Column("role", String(16), nullable=False),  # read, run, write or admin
)
