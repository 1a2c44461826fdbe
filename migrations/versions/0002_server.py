"""The server: project secrets, and how a retry resumes an earlier attempt.

Revision ID: 0002_server
Revises: 0001_initial
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002_server"
down_revision = "0001_initial"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "secrets",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column("updated_at", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("project_id", "key", name="uq_secrets_project_key"),
    )
    with op.batch_alter_table("attempts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("resume_attempt_id", sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column("resume_mode", sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column("resume_from", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("attempts", schema=None) as batch_op:
        batch_op.drop_column("resume_from")
        batch_op.drop_column("resume_mode")
        batch_op.drop_column("resume_attempt_id")

    op.drop_table("secrets")
