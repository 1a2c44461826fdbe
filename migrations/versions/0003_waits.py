"""Which attempts an attempt's `require>` tasks wait for.

Revision ID: 0003_waits
Revises: 0002_server
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003_waits"
down_revision = "0002_server"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "attempt_waits",
        sa.Column("attempt_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("waits_for", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.ForeignKeyConstraint(["attempt_id"], ["attempts.id"]),
        sa.ForeignKeyConstraint(["waits_for"], ["attempts.id"]),
        sa.PrimaryKeyConstraint("attempt_id", "waits_for"),
    )


def downgrade() -> None:
    op.drop_table("attempt_waits")
