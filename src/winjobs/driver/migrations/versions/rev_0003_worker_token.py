"""workers.token_name: the token a worker registered with owns its id.

A worker protocol request whose id was registered by another token gets 403, and a name
registered by one token cannot be taken over by another. Workers registered before this
revision have no owner until they register again (their next start binds them).

Also: a job whose time limit is not a finite number (accepted before the API refused
them) gets no limit, since every claim of it failed to serialise its assignment.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

#: above any time limit the API accepts (a year): catches inf, and NaN on PostgreSQL
#: (which orders NaN above every number; SQLite stores NaN as NULL already)
_NOT_FINITE = 1e300


def upgrade() -> None:
    with op.batch_alter_table("workers") as batch:
        batch.add_column(sa.Column("token_name", sa.String(200), nullable=True))
    jobs = sa.table("jobs", sa.column("task_time_limit_s", sa.Float()))
    op.execute(
        jobs.update()
        .where(
            sa.or_(jobs.c.task_time_limit_s > _NOT_FINITE, jobs.c.task_time_limit_s < -_NOT_FINITE)
        )
        .values(task_time_limit_s=None)
    )


def downgrade() -> None:
    with op.batch_alter_table("workers") as batch:
        batch.drop_column("token_name")
