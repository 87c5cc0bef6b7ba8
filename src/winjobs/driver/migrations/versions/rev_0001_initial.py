"""Initial schema: jobs, workers, tasks.

Revision ID: 0001
Revises:
Create Date: 2025-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def _when(name: str, nullable: bool = True) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "jobs",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("submitter", sa.String(200), nullable=False),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("study_name", sa.String(500), nullable=False),
        sa.Column("study_sha256", sa.String(64), nullable=False),
        sa.Column("study_size", sa.BigInteger(), nullable=False),
        sa.Column("antares_version", sa.String(16), nullable=False),
        sa.Column("solver_version", sa.String(16), nullable=True),
        sa.Column("mode", sa.String(16), nullable=False),
        sa.Column("years", sa.JSON(), nullable=False),
        sa.Column("years_total", sa.Integer(), nullable=False),
        sa.Column("next_index", sa.Integer(), nullable=False),
        sa.Column("splittable", sa.Boolean(), nullable=False),
        sa.Column("task_time_limit_s", sa.Float(), nullable=True),
        sa.Column("warnings", sa.JSON(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("run_folder", sa.String(300), nullable=True),
        _when("created_at", nullable=False),
        _when("started_at"),
        _when("finished_at"),
    )
    op.create_index("ix_jobs_submitter", "jobs", ["submitter"])
    op.create_index("ix_jobs_status", "jobs", ["status"])
    op.create_index("ix_jobs_study_sha256", "jobs", ["study_sha256"])

    op.create_table(
        "workers",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(200), nullable=False, unique=True),
        sa.Column("os", sa.String(200), nullable=False),
        sa.Column("cores", sa.Integer(), nullable=False),
        sa.Column("versions", sa.JSON(), nullable=False),
        sa.Column("transfer", sa.String(16), nullable=False),
        sa.Column("shared_output_root", sa.Text(), nullable=True),
        sa.Column("free_disk_bytes", sa.BigInteger(), nullable=True),
        sa.Column("draining", sa.Boolean(), nullable=False),
        _when("registered_at", nullable=False),
        _when("last_seen", nullable=False),
    )
    op.create_index("ix_workers_last_seen", "workers", ["last_seen"])

    op.create_table(
        "tasks",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column(
            "job_id",
            sa.Integer(),
            sa.ForeignKey("jobs.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("years", sa.JSON(), nullable=False),
        sa.Column("first_year", sa.Integer(), nullable=False),
        sa.Column("n_years", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column(
            "worker_id",
            sa.Integer(),
            sa.ForeignKey("workers.id", ondelete="SET NULL"),
            nullable=True,
        ),
        sa.Column("worker_name", sa.String(200), nullable=True),
        sa.Column("solver_version", sa.String(16), nullable=True),
        _when("lease_until"),
        sa.Column("years_done", sa.Integer(), nullable=False),
        _when("created_at", nullable=False),
        _when("started_at"),
        _when("finished_at"),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("log_tail", sa.Text(), nullable=True),
        sa.Column("output_location", sa.Text(), nullable=True),
    )
    op.create_index("ix_tasks_job_status", "tasks", ["job_id", "status"])
    op.create_index("ix_tasks_status_lease", "tasks", ["status", "lease_until"])


def downgrade() -> None:
    op.drop_table("tasks")
    op.drop_table("workers")
    op.drop_table("jobs")
