"""Failing workers: each task's failed attempts, workers' failure streaks and holds.

Revision ID: 0004
Revises: 0002
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

_WORKER_COLUMNS = (
    ("streak_since", sa.DateTime(timezone=True)),
    ("streak_reason", sa.Text()),
    ("last_success_at", sa.DateTime(timezone=True)),
    ("held_at", sa.DateTime(timezone=True)),
    ("held_reason", sa.Text()),
    ("held_by", sa.String(200)),
    ("config_sha256", sa.String(64)),
)


def upgrade() -> None:
    with op.batch_alter_table("workers") as batch:
        batch.add_column(sa.Column("fail_streak", sa.Integer(), nullable=False, server_default="0"))
        for name, kind in _WORKER_COLUMNS:
            batch.add_column(sa.Column(name, kind, nullable=True))
    op.create_table(
        "task_failures",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column(
            "task_id",
            sa.Integer(),
            sa.ForeignKey("tasks.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column(
            "worker_id",
            sa.Integer(),
            sa.ForeignKey("workers.id", ondelete="SET NULL"),
            nullable=True,
        ),
        sa.Column("worker_name", sa.String(200), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("fingerprint", sa.Text(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("counted", sa.Boolean(), nullable=False),
        sa.Column("avoid", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_task_failures_task_worker", "task_failures", ["task_id", "worker_id"])


def downgrade() -> None:
    op.drop_table("task_failures")
    with op.batch_alter_table("workers") as batch:
        for name, _ in reversed(_WORKER_COLUMNS):
            batch.drop_column(name)
        batch.drop_column("fail_streak")
