"""Fair share: each user's decayed usage of the pool (`models.UserUsage`).

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Empty at first: every user starts with no usage, and the first task of theirs that
    # starts or ends writes their row (nothing to rebuild from the tasks' history).
    op.create_table(
        "user_usage",
        sa.Column("user_name", sa.String(200), primary_key=True),
        sa.Column("core_seconds", sa.Float(), nullable=False),
        sa.Column("running_cores", sa.Integer(), nullable=False),
        sa.Column("as_of", sa.Float(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("user_usage")
