"""jobs.held, held_by, held_reason: users hold and release their own jobs (issue 15).

A flag beside `status` rather than a new status value: scripts that read the documented
`status` values (`queued|running|succeeded|failed|cancelled`) keep working.

Revision ID: 0011
Revises: 0004
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "jobs", sa.Column("held", sa.Boolean(), nullable=False, server_default=sa.false())
    )
    op.add_column("jobs", sa.Column("held_by", sa.String(200), nullable=True))
    op.add_column("jobs", sa.Column("held_reason", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("jobs") as batch:
        batch.drop_column("held_reason")
        batch.drop_column("held_by")
        batch.drop_column("held")
