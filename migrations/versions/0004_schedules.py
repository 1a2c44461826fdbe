"""The scheduler: schedules, and attempts that wait for another one (backfills, `overlap: wait`).

Revision ID: 0004_schedules
Revises: 0003_waits
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004_schedules"
down_revision = "0003_waits"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "schedules",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("workflow_name", sa.String(length=255), nullable=False),
        sa.Column("workflow_definition_id", sa.Integer(), nullable=False),
        sa.Column("next_run_time", sa.Float(), nullable=False),
        sa.Column("next_schedule_time", sa.BigInteger(), nullable=False),
        sa.Column("last_session_time", sa.BigInteger(), nullable=True),
        sa.Column("disabled_at", sa.Float(), nullable=True),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("updated_at", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(["project_id"], ["projects.id"]),
        sa.ForeignKeyConstraint(["workflow_definition_id"], ["workflow_definitions.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("project_id", "workflow_name", name="uq_schedules_project_workflow"),
    )
    op.create_index("ix_schedules_next_run_time", "schedules", ["next_run_time"])
    with op.batch_alter_table("attempts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("after_attempt_id", sa.BigInteger(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("attempts", schema=None) as batch_op:
        batch_op.drop_column("after_attempt_id")
    op.drop_index("ix_schedules_next_run_time", table_name="schedules")
    op.drop_table("schedules")
