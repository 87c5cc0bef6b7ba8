"""job_archive: a summary row for each job `winjobs clean data` removed.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def _when(name: str, nullable: bool = True) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "job_archive",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("job_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("submitter", sa.String(200), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("study_name", sa.String(500), nullable=False),
        sa.Column("study_sha256", sa.String(64), nullable=False),
        sa.Column("antares_version", sa.String(16), nullable=False),
        sa.Column("mode", sa.String(16), nullable=False),
        sa.Column("years", sa.JSON(), nullable=False),
        sa.Column("tasks", sa.Integer(), nullable=False),
        sa.Column("run_folder", sa.String(300), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("linked_outputs", sa.JSON(), nullable=False),
        sa.Column("bytes_freed", sa.BigInteger(), nullable=False),
        _when("created_at", nullable=False),
        _when("finished_at"),
        _when("removed_at", nullable=False),
    )
    op.create_index("ix_job_archive_job_id", "job_archive", ["job_id"])


def downgrade() -> None:
    op.drop_table("job_archive")
