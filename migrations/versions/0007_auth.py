"""API tokens (stored as SHA-256 hashes) and their grants: a role per project, and the server admin.

Revision ID: 0007_auth
Revises: 0006_run_time
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007_auth"
down_revision = "0006_run_time"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "api_tokens",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("server_admin", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("last_used_at", sa.Float(), nullable=True),
        sa.Column("revoked_at", sa.Float(), nullable=True),
        sa.UniqueConstraint("token_hash", name="uq_api_tokens_hash"),
    )
    op.create_index("ix_api_tokens_name", "api_tokens", ["name"])
    op.create_table(
        "token_grants",
        sa.Column("token_id", sa.Integer(), sa.ForeignKey("api_tokens.id"), primary_key=True, autoincrement=False),
        sa.Column("project", sa.String(length=255), primary_key=True),
        sa.Column("role", sa.String(length=16), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("token_grants")
    op.drop_index("ix_api_tokens_name", table_name="api_tokens")
    op.drop_table("api_tokens")
