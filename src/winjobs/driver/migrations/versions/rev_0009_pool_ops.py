"""Operating the pool: admins' drains and forgotten workers; the pool's load samples.

Revision ID: 0009
Revises: 0004
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("workers") as batch:
        batch.add_column(
            sa.Column("drained", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch.add_column(sa.Column("forgotten_at", sa.DateTime(timezone=True), nullable=True))
    op.create_table(
        "pool_samples",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("workers_online", sa.Integer(), nullable=False),
        sa.Column("workers_busy", sa.Integer(), nullable=False),
        sa.Column("cores_total", sa.Integer(), nullable=False),
        sa.Column("cores_busy", sa.Integer(), nullable=False),
    )
    op.create_index("ix_pool_samples_at", "pool_samples", ["at"])


def downgrade() -> None:
    op.drop_table("pool_samples")
    with op.batch_alter_table("workers") as batch:
        batch.drop_column("forgotten_at")
        batch.drop_column("drained")
