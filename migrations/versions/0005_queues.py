"""Queues: an attempt's queue and its workflow's limit of active attempts, and a workflow's settings.

Revision ID: 0005_queues
Revises: 0004_schedules
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005_queues"
down_revision = "0004_schedules"
branch_labels = None
depends_on = None


def upgrade() -> None:
    for table in ("workflow_definitions", "attempts"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column("queue_name", sa.String(length=255), nullable=True))
            batch_op.add_column(sa.Column("max_active_attempts", sa.Integer(), nullable=True))


def downgrade() -> None:
    for table in ("attempts", "workflow_definitions"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column("max_active_attempts")
            batch_op.drop_column("queue_name")
