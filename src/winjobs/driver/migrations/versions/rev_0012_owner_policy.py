"""The owner's policy: each worker's reported state, and since when a task is suspended.

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Nullable columns: a plain ALTER TABLE ADD COLUMN on SQLite and PostgreSQL alike.
    op.add_column("workers", sa.Column("policy_state", sa.String(32), nullable=True))
    op.add_column("workers", sa.Column("policy_reason", sa.Text(), nullable=True))
    op.add_column("workers", sa.Column("next_work_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("tasks", sa.Column("suspended_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    # SQLite drops columns by copying the table: batch mode does that.
    with op.batch_alter_table("tasks") as batch:
        batch.drop_column("suspended_at")
    with op.batch_alter_table("workers") as batch:
        batch.drop_column("next_work_at")
        batch.drop_column("policy_reason")
        batch.drop_column("policy_state")
