"""Speculative copies: a second attempt of a slow task on an idle worker.

Revision ID: 0014
Revises: 0012
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "task_copies",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column(
            "task_id", sa.Integer(), sa.ForeignKey("tasks.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("of_attempt", sa.Integer(), nullable=False),
        sa.Column("of_worker_id", sa.Integer(), nullable=True),
        sa.Column("of_worker_name", sa.String(200), nullable=True),
        sa.Column(
            "worker_id",
            sa.Integer(),
            sa.ForeignKey("workers.id", ondelete="SET NULL"),
            nullable=True,
        ),
        sa.Column("worker_name", sa.String(200), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("years_done", sa.Integer(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
    )
    # one copy per task, ever: the claim's insert relies on it (ON CONFLICT DO NOTHING)
    op.create_index("ix_task_copies_task_id", "task_copies", ["task_id"], unique=True)


def downgrade() -> None:
    op.drop_index("ix_task_copies_task_id", table_name="task_copies")
    op.drop_table("task_copies")
