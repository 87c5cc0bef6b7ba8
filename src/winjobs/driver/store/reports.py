"""Reports of running attempts (heartbeat, complete, fail) and the lease sweep.

Every change is a conditional UPDATE fenced by (task, attempt, worker, status running):
a report from an attempt that lost the task matches no row, changes nothing, and is
answered with the reason (`_refuse`). The hot statements are built once.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, NoReturn

from sqlalchemy import Boolean, Connection, and_, bindparam, case, func, null, select, update

from winjobs.driver.errors import Conflict, NotFound
from winjobs.driver.models import Job, Task, UtcDateTime, Worker
from winjobs.driver.store.base import StoreBase
from winjobs.driver.store.records import (
    ACTIVE_JOB,
    Beat,
    FailOutcome,
    PolicyStatus,
    TaskEvent,
    describe_years,
)
from winjobs.wire import JobStatus, TaskStatus

_FENCE = and_(
    Task.id == bindparam("b_task"),
    Task.attempt == bindparam("b_attempt"),
    Task.worker_id == bindparam("b_worker"),
    Task.status == TaskStatus.RUNNING.value,
)
_TOUCH = (
    update(Worker).where(Worker.id == bindparam("b_worker")).values(last_seen=bindparam("b_now"))
)
#: the same, with the owner-policy state the worker's heartbeat reports
_TOUCH_POLICY = _TOUCH.values(
    policy_state=bindparam("b_policy"),
    policy_reason=bindparam("b_policy_reason"),
    next_work_at=bindparam("b_next_work"),
)
_HEARTBEAT = (
    update(Task)
    .where(_FENCE)
    .values(
        lease_until=bindparam("b_lease"),
        years_done=case(
            (Task.n_years < bindparam("b_done"), Task.n_years), else_=bindparam("b_done")
        ),
        # since when its solver is suspended (kept while it stays so; cleared on resume)
        suspended_at=case(
            (
                bindparam("b_suspended", type_=Boolean()),
                func.coalesce(Task.suspended_at, bindparam("b_now", type_=UtcDateTime())),
            ),
            else_=null(),
        ),
    )
)
_TASK_STATE = select(Task.status, Task.attempt, Task.worker_id, Task.job_id).where(
    Task.id == bindparam("b_task")
)
_HELD = select(Task.job_id, Task.years, Task.failures).where(_FENCE)
_LOCK_JOB = select(Job.id).where(Job.id == bindparam("b_job"))
_COMPLETE = (
    update(Task)
    .where(_FENCE)
    .values(
        status=TaskStatus.SUCCEEDED.value,
        finished_at=bindparam("b_now"),
        lease_until=None,
        years_done=Task.n_years,
        log_tail=bindparam("b_log"),
        error=None,
        output_location=bindparam("b_location"),
        suspended_at=None,
    )
)
_EXPIRED = select(
    Task.id, Task.job_id, Task.years, Task.failures, Task.attempt, Task.worker_name
).where(Task.status == TaskStatus.RUNNING.value, Task.lease_until < bindparam("b_now"))


class ReportStore(StoreBase):
    def _lock_job(self, conn: Connection, job_id: int) -> None:
        if not self._sqlite:
            conn.execute(_LOCK_JOB.with_for_update(), {"b_job": job_id})

    def _refuse(self, conn: Connection, task_id: int, worker_id: int, attempt: int) -> NoReturn:
        """Raise the right error for a report that did not match a running attempt."""
        task = conn.execute(_TASK_STATE, {"b_task": task_id}).one_or_none()
        if task is None:
            raise NotFound(f"no task {task_id}")
        if task.attempt != attempt or task.worker_id != worker_id:
            raise Conflict(
                f"task {task_id}: attempt {attempt} is stale (the task was given to another "
                "attempt); this report is ignored"
            )
        raise Conflict(f"task {task_id} is {task.status}: this report is ignored")

    def check_running(self, task_id: int, worker_id: int, attempt: int) -> int:
        """Raise unless the attempt still holds the task; returns the task's job id."""
        fence = {"b_task": task_id, "b_attempt": attempt, "b_worker": worker_id}
        with self._read() as conn:
            held = conn.execute(_HELD, fence).one_or_none()
            if held is None:
                self._refuse(conn, task_id, worker_id, attempt)
            return int(held.job_id)

    def heartbeat(
        self,
        task_id: int,
        worker_id: int,
        attempt: int,
        years_done: int,
        lease_seconds: float,
        *,
        suspended: bool = False,
        status: PolicyStatus | None = None,
    ) -> Beat:
        now = self.clock()
        lease_until = now + timedelta(seconds=lease_seconds)
        params: dict[str, Any] = {
            "b_task": task_id,
            "b_attempt": attempt,
            "b_worker": worker_id,
            "b_now": now,
            "b_lease": lease_until,
            "b_done": years_done,
            "b_suspended": suspended,
        }
        if status is not None:
            params.update(
                b_policy=status.state,
                b_policy_reason=status.reason,
                b_next_work=status.next_work_at,
            )
        with self._write() as conn:
            conn.execute(_TOUCH if status is None else _TOUCH_POLICY, params)
            if conn.execute(_HEARTBEAT, params).rowcount == 1:
                return Beat(cancel=False, lease_until=lease_until)
            task = conn.execute(_TASK_STATE, params).one_or_none()
            if (
                task is not None
                and task.status == TaskStatus.CANCELLED.value
                and task.attempt == attempt
                and task.worker_id == worker_id
            ):
                return Beat(cancel=True, lease_until=now)
            self._refuse(conn, task_id, worker_id, attempt)

    def complete_task(
        self,
        task_id: int,
        worker_id: int,
        attempt: int,
        log_tail: str,
        output_location: str | None = None,
    ) -> tuple[int, bool]:
        """Record a finished attempt; returns (job id, whether the job is now ready to be
        assembled: running, with every year done)."""
        params: dict[str, Any] = {
            "b_task": task_id,
            "b_attempt": attempt,
            "b_worker": worker_id,
            "b_now": self.clock(),
            "b_log": log_tail,
            "b_location": output_location,
        }
        with self._write() as conn:
            conn.execute(_TOUCH, params)
            held = conn.execute(_HELD, params).one_or_none()
            if held is None:
                self._refuse(conn, task_id, worker_id, attempt)
            job_id = int(held.job_id)
            self._lock_job(conn, job_id)  # completions of one job in turn: one sees "ready"
            if conn.execute(_COMPLETE, params).rowcount != 1:
                self._refuse(conn, task_id, worker_id, attempt)
            return job_id, self._job_ready(conn, job_id)

    def fail_task(
        self,
        task_id: int,
        worker_id: int,
        attempt: int,
        reason: str,
        log_tail: str,
        release: bool,
        max_attempts: int,
    ) -> TaskEvent:
        now = self.clock()
        params = {"b_task": task_id, "b_attempt": attempt, "b_worker": worker_id, "b_now": now}
        with self._write() as conn:
            conn.execute(_TOUCH, params)
            held = conn.execute(_HELD, params).one_or_none()
            if held is None:
                self._refuse(conn, task_id, worker_id, attempt)
            self._lock_job(conn, int(held.job_id))
            event = self._after_failure(
                conn, task_id, attempt, held, reason, log_tail, release, max_attempts, now
            )
            if event is None:
                self._refuse(conn, task_id, worker_id, attempt)
            return event

    def requeue_expired(self, max_attempts: int) -> list[TaskEvent]:
        """The sweeper's pass: every running task whose lease ran out is a failed attempt."""
        now = self.clock()
        events = []
        with self._write() as conn:
            for task in conn.execute(_EXPIRED, {"b_now": now}).all():
                self._lock_job(conn, task.job_id)
                reason = (
                    f"lease expired: worker {task.worker_name} stopped reporting "
                    f"(attempt {task.attempt})"
                )
                event = self._after_failure(
                    conn, task.id, task.attempt, task, reason, "", False, max_attempts, now, now
                )
                if event is not None:
                    events.append(event)
        return events

    def _after_failure(
        self,
        conn: Connection,
        task_id: int,
        attempt: int,
        task: Any,
        reason: str,
        log_tail: str,
        release: bool,
        max_attempts: int,
        now: datetime,
        expired_before: datetime | None = None,
    ) -> TaskEvent | None:
        """Re-queue (or fail for good) the attempt; None if it no longer held the task."""
        failures = task.failures if release else task.failures + 1
        if release:
            outcome = FailOutcome.RELEASED
        elif failures >= max_attempts:
            outcome = FailOutcome.JOB_FAILED
        else:
            outcome = FailOutcome.REQUEUED
        status = TaskStatus.FAILED if outcome is FailOutcome.JOB_FAILED else TaskStatus.QUEUED
        still_held = update(Task).where(
            Task.id == task_id,
            Task.attempt == attempt,
            Task.status == TaskStatus.RUNNING.value,
        )
        if expired_before is not None:  # a heartbeat may have renewed it meanwhile
            still_held = still_held.where(Task.lease_until < expired_before)
        changed = conn.execute(
            still_held.values(
                status=status.value,
                failures=failures,
                lease_until=None,
                years_done=0,
                error=reason,
                log_tail=log_tail or None,
                finished_at=now if status is TaskStatus.FAILED else None,
                suspended_at=None,
            )
        ).rowcount
        if changed != 1:
            return None
        if outcome is FailOutcome.JOB_FAILED:
            job_reason = (
                f"years {describe_years(task.years)} failed {failures} times; last: {reason}"
            )
            conn.execute(
                update(Job)
                .where(Job.id == task.job_id, Job.status.in_(ACTIVE_JOB))
                .values(status=JobStatus.FAILED.value, error=job_reason, finished_at=now)
            )
            self._close_open_tasks(conn, task.job_id, now)
        return TaskEvent(task_id, task.job_id, list(task.years), outcome, reason)
