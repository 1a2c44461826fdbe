"""A workflow's own retention (`retention: {age, sessions}`), read from its config at push.

Revision ID: 0008_retention
Revises: 0007_auth
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008_retention"
down_revision = "0007_auth"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("workflow_definitions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("retention_age", sa.Float(), nullable=True))
        batch_op.add_column(sa.Column("retention_sessions", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("workflow_definitions", schema=None) as batch_op:
        batch_op.drop_column("retention_sessions")
        batch_op.drop_column("retention_age")
