"""Database schema (SQLAlchemy 2 declarative). Only `store.py` queries these tables.

Four working tables (jobs, tasks, workers, and `task_failures`: each task's failed
attempts), `task_copies` (speculative copies of slow tasks), `notifications` (the outbox
of job-end messages), `job_archive` (what `winjobs clean data` removed) and
`pool_samples` (the pool's recent load, for the utilisation chart). A job's years are
cut into tasks lazily, as workers claim: `jobs.next_index` says how many of `jobs.years`
(ascending) already belong to a task; the rest are "unassigned". A task keeps its years
for life: a failed or lost attempt re-queues the same years, so `failures` counts
failures *of the same years* (the max_attempts rule; `failure_policy` says which count).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    TypeDecorator,
    false,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class UtcDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite keeps no zone: stored naive)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        assert isinstance(value, datetime) and value.tzinfo is not None, "naive datetime"
        moment: datetime = value.astimezone(UTC)
        return moment.replace(tzinfo=None) if dialect.name == "sqlite" else moment

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        assert isinstance(value, datetime)
        moment: datetime = value
        return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


class Base(DeclarativeBase):
    pass


class Job(Base):
    __tablename__ = "jobs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(200))
    submitter: Mapped[str] = mapped_column(String(200), index=True)
    priority: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16), index=True)
    study_name: Mapped[str] = mapped_column(String(500))
    study_sha256: Mapped[str] = mapped_column(String(64), index=True)
    study_size: Mapped[int] = mapped_column(BigInteger)
    antares_version: Mapped[str] = mapped_column(String(16))
    #: the solver version every task of the job runs with, fixed by the first claim
    solver_version: Mapped[str | None] = mapped_column(String(16))
    mode: Mapped[str] = mapped_column(String(16))
    years: Mapped[list[int]] = mapped_column(JSON)
    years_total: Mapped[int] = mapped_column(Integer)
    #: years[:next_index] are in tasks; years[next_index:] are still unassigned
    next_index: Mapped[int] = mapped_column(Integer, default=0)
    splittable: Mapped[bool] = mapped_column(Boolean)
    #: held (owner or admin): no task of it is claimed; a flag, not a status, so that the
    #: documented status values stay the same (see wire.JobSummary.held)
    held: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    held_by: Mapped[str | None] = mapped_column(String(200))
    held_reason: Mapped[str | None] = mapped_column(Text)
    task_time_limit_s: Mapped[float | None] = mapped_column(Float)
    warnings: Mapped[list[str]] = mapped_column(JSON)
    error: Mapped[str | None] = mapped_column(Text)
    run_folder: Mapped[str | None] = mapped_column(String(300))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    started_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    #: whom to tell when the job ends (`mail:ADDRESS` or webhook URLs); None before 0010
    notify: Mapped[list[str] | None] = mapped_column(JSON)


class Worker(Base):
    __tablename__ = "workers"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    os: Mapped[str] = mapped_column(String(200))
    cores: Mapped[int] = mapped_column(Integer)
    versions: Mapped[list[str]] = mapped_column(JSON)
    transfer: Mapped[str] = mapped_column(String(16))
    shared_output_root: Mapped[str | None] = mapped_column(Text)
    free_disk_bytes: Mapped[int | None] = mapped_column(BigInteger)
    draining: Mapped[bool] = mapped_column(Boolean, default=False)
    #: name of the token that registered it: only that token may use its id (None: a
    #: worker registered before revision 0003, bound at its next registration)
    token_name: Mapped[str | None] = mapped_column(String(200))
    registered_at: Mapped[datetime] = mapped_column(UtcDateTime)
    last_seen: Mapped[datetime] = mapped_column(UtcDateTime, index=True)
    #: the owner's policy as the worker last reported it (wire.PolicyState; NULL: none)
    policy_state: Mapped[str | None] = mapped_column(String(32))
    policy_reason: Mapped[str | None] = mapped_column(Text)
    next_work_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    #: attempts failed in a row since its last success (charged failures only:
    #: `failure_policy`), when the streak began, and why it would be held
    fail_streak: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    streak_since: Mapped[datetime | None] = mapped_column(UtcDateTime)
    streak_reason: Mapped[str | None] = mapped_column(Text)
    last_success_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    #: on hold: no new task until an admin releases it or it registers with another
    #: `config_sha256`; `held_by` is "driver" (automatic) or the admin's name
    held_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    held_reason: Mapped[str | None] = mapped_column(Text)
    held_by: Mapped[str | None] = mapped_column(String(200))
    config_sha256: Mapped[str | None] = mapped_column(String(64))
    #: an admin's drain: a hold (`held_at`, so the claim, the pool and the failure policy
    #: treat it alike) that shows as `draining` and ends when the worker registers again
    #: (restarted after the maintenance it was drained for) or is released
    drained: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    #: an admin forgot it (offline): left out of lists and counts until it is seen again
    #: after that moment. The row stays: tasks and failures refer to it, and SQLite would
    #: hand a deleted highest id to the next worker that registers
    forgotten_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class Task(Base):
    __tablename__ = "tasks"
    __table_args__ = (
        Index("ix_tasks_job_status", "job_id", "status"),
        Index("ix_tasks_status_lease", "status", "lease_until"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    job_id: Mapped[int] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"))
    years: Mapped[list[int]] = mapped_column(JSON)
    first_year: Mapped[int] = mapped_column(Integer)
    n_years: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16))
    #: fencing token: number of attempts started; every report must carry the current one
    attempt: Mapped[int] = mapped_column(Integer, default=0)
    #: attempts of these years that failed or lost their lease (releases not counted)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    worker_id: Mapped[int | None] = mapped_column(ForeignKey("workers.id", ondelete="SET NULL"))
    worker_name: Mapped[str | None] = mapped_column(String(200))
    solver_version: Mapped[str | None] = mapped_column(String(16))
    lease_until: Mapped[datetime | None] = mapped_column(UtcDateTime)
    years_done: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    started_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    error: Mapped[str | None] = mapped_column(Text)
    log_tail: Mapped[str | None] = mapped_column(Text)
    output_location: Mapped[str | None] = mapped_column(Text)
    #: running, its solver suspended since then (its worker's owner is active)
    suspended_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class TaskFailure(Base):
    """One failed attempt of a task (releases are not failures): who failed it, how, and
    whether that worker must leave the task's next attempts to others (`avoid`).

    Read on the failure path (the task's history, the same-error rule) and, by the claim,
    as one indexed lookup per queued task: (task, claiming worker, avoid)."""

    __tablename__ = "task_failures"
    __table_args__ = (Index("ix_task_failures_task_worker", "task_id", "worker_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    task_id: Mapped[int] = mapped_column(ForeignKey("tasks.id", ondelete="CASCADE"))
    attempt: Mapped[int] = mapped_column(Integer)
    worker_id: Mapped[int | None] = mapped_column(ForeignKey("workers.id", ondelete="SET NULL"))
    worker_name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(16))
    fingerprint: Mapped[str | None] = mapped_column(Text)
    reason: Mapped[str] = mapped_column(Text)
    counted: Mapped[bool] = mapped_column(Boolean)
    avoid: Mapped[bool] = mapped_column(Boolean)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)


class TaskCopy(Base):
    """A speculative copy of a running task (`speculation`): a second attempt, with its
    own worker, fencing token (`attempt`, one above the original's) and lease, running
    while the original (`of_attempt` on `of_worker_id`) runs on. At most one per task,
    ever (the unique task id). The first of the two to complete wins; the winning copy's
    attempt becomes the task's (`tasks.attempt`, `worker_id`), so the output is found
    where the original's would be; the loser's reports are refused and its worker learns
    at its next heartbeat that it was cancelled.

    `status`: running, then won, lost (the original completed first), promoted (the
    original failed or lost its lease: the copy became the task's attempt), failed or
    released (the copy's own failure, or given back), expired (its lease ran out) or
    cancelled (the job ended). `reason` says why it ended."""

    __tablename__ = "task_copies"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    task_id: Mapped[int] = mapped_column(
        ForeignKey("tasks.id", ondelete="CASCADE"), unique=True, index=True
    )
    attempt: Mapped[int] = mapped_column(Integer)
    of_attempt: Mapped[int] = mapped_column(Integer)
    of_worker_id: Mapped[int | None] = mapped_column(Integer)
    of_worker_name: Mapped[str | None] = mapped_column(String(200))
    worker_id: Mapped[int | None] = mapped_column(ForeignKey("workers.id", ondelete="SET NULL"))
    worker_name: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(16))
    lease_until: Mapped[datetime | None] = mapped_column(UtcDateTime)
    years_done: Mapped[int] = mapped_column(Integer, default=0)
    started_at: Mapped[datetime] = mapped_column(UtcDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    reason: Mapped[str | None] = mapped_column(Text)


class PoolSample(Base):
    """The pool's size and load at one moment, recorded every `utilisation_sample_s` and
    kept `utilisation_keep_hours`: the utilisation chart's history (busy and online
    cores cannot be rebuilt from tasks: workers come and go)."""

    __tablename__ = "pool_samples"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)
    workers_online: Mapped[int] = mapped_column(Integer)
    workers_busy: Mapped[int] = mapped_column(Integer)
    cores_total: Mapped[int] = mapped_column(Integer)  #: of the online workers
    cores_busy: Mapped[int] = mapped_column(Integer)  #: of the workers running a task


class Notification(Base):
    """The outbox: one row per target each time a job ends, written in the transaction
    that ends it; the sender delivers it later (`notify/sender.py`), so a dead or slow
    receiver never holds the queue, and a restart sends what was not delivered yet.

    `summary` is the job as it ended (`notify.summary.job_end_summary`); `state` a
    `wire.DeliveryState`, moved by `notify.policy.after_attempt`."""

    __tablename__ = "notifications"
    __table_args__ = (Index("ix_notifications_state_due", "state", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    job_id: Mapped[int] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"), index=True)
    target: Mapped[str] = mapped_column(Text)
    job_status: Mapped[str] = mapped_column(String(16))
    summary: Mapped[dict[str, Any]] = mapped_column(JSON)
    state: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class JobArchive(Base):
    """What a removed job was (`winjobs clean data`): its row and files are gone.

    `linked_outputs`: shared mode with collect: link, where its tasks' runs stayed
    (`[{"task": id, "worker": name, "years": [...], "location": path}]`), so the
    operator knows which workers' folders belonged to it.
    """

    __tablename__ = "job_archive"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    job_id: Mapped[int] = mapped_column(Integer, index=True)
    name: Mapped[str] = mapped_column(String(200))
    submitter: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(16))
    study_name: Mapped[str] = mapped_column(String(500))
    study_sha256: Mapped[str] = mapped_column(String(64))
    antares_version: Mapped[str] = mapped_column(String(16))
    mode: Mapped[str] = mapped_column(String(16))
    years: Mapped[list[int]] = mapped_column(JSON)
    tasks: Mapped[int] = mapped_column(Integer)
    run_folder: Mapped[str | None] = mapped_column(String(300))
    error: Mapped[str | None] = mapped_column(Text)
    linked_outputs: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    bytes_freed: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    removed_at: Mapped[datetime] = mapped_column(UtcDateTime)
