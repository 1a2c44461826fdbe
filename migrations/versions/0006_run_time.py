"""An attempt's run time: when its schedule slot was due (null: when it was created).

Revision ID: 0006_run_time
Revises: 0005_queues
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006_run_time"
down_revision = "0005_queues"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("attempts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("run_time", sa.Float(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("attempts", schema=None) as batch_op:
        batch_op.drop_column("run_time")
