"""Transactions and the few helpers every part of the store shares."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, bindparam, func, select, update
from sqlalchemy.orm import Session

from winjobs.driver.db import READ_ONLY, is_sqlite
from winjobs.driver.errors import Conflict, NotFound
from winjobs.driver.models import Job, Task, TaskCopy
from winjobs.driver.store.records import OPEN_TASK, Clock, utcnow
from winjobs.driver.store.sql import Sql
from winjobs.driver.store.writer import Writer
from winjobs.wire import JobStatus, TaskStatus

_CLOSE_OPEN_TASKS = (
    update(Task)
    .where(Task.job_id == bindparam("b_job"), Task.status.in_(OPEN_TASK))
    .values(status=TaskStatus.CANCELLED.value, lease_until=None, finished_at=bindparam("b_now"))
)
#: the job's running speculative copies end with it (their workers learn it at their
#: next heartbeat, as the originals' do)
_CLOSE_RUNNING_COPIES = (
    update(TaskCopy)
    .where(
        TaskCopy.status == "running",
        TaskCopy.task_id.in_(select(Task.id).where(Task.job_id == bindparam("b_job"))),
    )
    .values(
        status="cancelled",
        lease_until=None,
        finished_at=bindparam("b_now"),
        reason="the job ended",
    )
)
_COPY_ATTEMPT = func.coalesce(
    select(TaskCopy.attempt).where(TaskCopy.task_id == Task.id).scalar_subquery(), 0
)


def attempt_past_copy(sqlite: bool) -> Any:
    """`tasks.attempt` raised to its speculative copy's: a task given back to the queue
    gets, at its next claim, an attempt number no attempt had (a copy took the number
    after its original's)."""
    if sqlite:
        return func.max(Task.attempt, _COPY_ATTEMPT)
    return func.greatest(Task.attempt, _COPY_ATTEMPT)


_JOB_DONE_FACTS = select(
    Job.status,
    Job.next_index,
    Job.years_total,
    select(func.count())
    .where(Task.job_id == Job.id, Task.status != TaskStatus.SUCCEEDED.value)
    .scalar_subquery(),
).where(Job.id == bindparam("b_job"))


class StoreBase:
    """Engine, clock and transactions. Thread-safe; one instance per app."""

    def __init__(self, engine: Engine, clock: Clock = utcnow) -> None:
        self.engine = engine
        self.clock = clock
        self._sqlite = is_sqlite(engine)
        self._read_engine = engine.execution_options(**{READ_ONLY: True})
        self._write_lock: AbstractContextManager[Any] = (
            threading.Lock() if self._sqlite else nullcontext()
        )
        self.sql = Sql(self._sqlite)
        #: the hot path's writes (claims, heartbeats, completions), committed in batches
        self.writer = Writer(
            engine, self.sql, clock, self._write_lock, max_batch=64 if self._sqlite else 1
        )

    def close(self) -> None:
        """Stop the writer (what it has queued is committed first)."""
        self.writer.stop()

    @property
    def is_sqlite(self) -> bool:
        return self._sqlite

    @contextmanager
    def _write(self) -> Iterator[Connection]:
        with self._write_lock, self.engine.begin() as conn:
            yield conn

    @contextmanager
    def _read(self) -> Iterator[Connection]:
        with self._read_engine.begin() as conn:
            yield conn

    def _session(self) -> Session:
        return Session(self._read_engine, expire_on_commit=False)

    def _for_update(self, stmt: Any, skip_locked: bool = False) -> Any:
        """`FOR UPDATE [SKIP LOCKED]` on PostgreSQL; SQLite's writers are serialised."""
        return stmt if self._sqlite else stmt.with_for_update(skip_locked=skip_locked)

    def _raise_job_not_active(self, conn: Connection, job_id: int, action: str) -> None:
        status = conn.execute(select(Job.status).where(Job.id == job_id)).scalar_one_or_none()
        if status is None:
            raise NotFound(f"no job {job_id}")
        raise Conflict(f"cannot {action} job {job_id}: it {JobStatus(status).phrase}")

    def _close_open_tasks(self, conn: Connection, job_id: int, now: datetime) -> None:
        conn.execute(_CLOSE_OPEN_TASKS, {"b_job": job_id, "b_now": now})
        conn.execute(_CLOSE_RUNNING_COPIES, {"b_job": job_id, "b_now": now})

    def _all_years_done(self, conn: Connection, job_id: int) -> bool:
        """Every year of the job is in a task and every task succeeded."""
        _, next_index, total, unfinished = conn.execute(_JOB_DONE_FACTS, {"b_job": job_id}).one()
        return bool(next_index >= total and unfinished == 0)

    def _job_ready(self, conn: Connection, job_id: int) -> bool:
        """Running, with every year done: its output can be assembled."""
        status, next_index, total, unfinished = conn.execute(
            _JOB_DONE_FACTS, {"b_job": job_id}
        ).one()
        return bool(status == "running" and next_index >= total and unfinished == 0)
