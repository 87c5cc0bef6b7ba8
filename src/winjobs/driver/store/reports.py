"""Reports of running attempts (heartbeat, complete, fail) and the lease sweep.

Every change is a conditional UPDATE fenced by (task, attempt, worker, status running):
a report from an attempt that lost the task matches no row, changes nothing, and is
answered with the reason (`_refuse`). The hot statements are built once.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any, NoReturn

from sqlalchemy import Boolean, Connection, and_, bindparam, case, func, null, select, update

from winjobs.driver.errors import Conflict, NotFound
from winjobs.driver.models import Job, Task, UtcDateTime, Worker
from winjobs.driver.store.failures import FailedAttempt, FailureStore
from winjobs.driver.store.records import (
    Beat,
    FailureReport,
    FailureRules,
    PolicyStatus,
    TaskEvent,
)
from winjobs.wire import FailureKind, TaskStatus

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
#: a completion also ends the worker's failures in a row (rolled back if refused)
_TOUCH_SUCCEEDED = (
    update(Worker)
    .where(Worker.id == bindparam("b_worker"))
    .values(
        last_seen=bindparam("b_now"),
        last_success_at=bindparam("b_now"),
        fail_streak=0,
        streak_since=None,
        streak_reason=None,
    )
)
#: the worker rows of expired attempts, locked before any job (the lock order)
_LOCK_WORKERS = (
    select(Worker.id)
    .where(Worker.id.in_(bindparam("b_workers", expanding=True)))
    .order_by(Worker.id)
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
_HELD = select(Task.job_id, Task.years, Task.failures, Task.worker_name).where(_FENCE)
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
_EXPIRED = (
    select(
        Task.id,
        Task.job_id,
        Task.years,
        Task.failures,
        Task.attempt,
        Task.worker_id,
        Task.worker_name,
    )
    .where(Task.status == TaskStatus.RUNNING.value, Task.lease_until < bindparam("b_now"))
    .order_by(Task.worker_id, Task.id)
)


class ReportStore(FailureStore):
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
        on_accepted: Callable[[int], None] | None = None,
    ) -> tuple[int, bool]:
        """Record a finished attempt; returns (job id, whether the job is now ready to be
        assembled: running, with every year done).

        `on_accepted(job id)` runs inside the transaction once the fence let this attempt
        through, before the commit (it places the output's files: an exception undoes it)."""
        params: dict[str, Any] = {
            "b_task": task_id,
            "b_attempt": attempt,
            "b_worker": worker_id,
            "b_now": self.clock(),
            "b_log": log_tail,
            "b_location": output_location,
        }
        with self._write() as conn:
            conn.execute(_TOUCH_SUCCEEDED, params)
            held = conn.execute(_HELD, params).one_or_none()
            if held is None:
                self._refuse(conn, task_id, worker_id, attempt)
            job_id = int(held.job_id)
            self._lock_job(conn, job_id)  # completions of one job in turn: one sees "ready"
            if conn.execute(_COMPLETE, params).rowcount != 1:
                self._refuse(conn, task_id, worker_id, attempt)
            if on_accepted is not None:
                on_accepted(job_id)
            return job_id, self._job_ready(conn, job_id)

    def fail_task(
        self,
        task_id: int,
        worker_id: int,
        attempt: int,
        report: FailureReport,
        rules: FailureRules,
    ) -> TaskEvent:
        """A failed attempt, judged by `failure_policy` (or a release, not counted)."""
        now = self.clock()
        params = {"b_task": task_id, "b_attempt": attempt, "b_worker": worker_id, "b_now": now}
        with self._write() as conn:
            conn.execute(_TOUCH, params)
            held = conn.execute(_HELD, params).one_or_none()
            if held is None:
                self._refuse(conn, task_id, worker_id, attempt)
            self._lock_job(conn, int(held.job_id))
            failed = FailedAttempt(
                task_id,
                attempt,
                int(held.job_id),
                list(held.years),
                int(held.failures),
                worker_id,
                str(held.worker_name),
            )
            event = self._settle_failure(conn, failed, report, rules, now)
            if event is None:
                self._refuse(conn, task_id, worker_id, attempt)
            return event

    def requeue_expired(self, rules: FailureRules) -> list[TaskEvent]:
        """The sweeper's pass: every running task whose lease ran out is a failed attempt,
        the machine's (its worker stopped reporting: died, hung, or lost its network)."""
        now = self.clock()
        events = []
        with self._write() as conn:
            expired = conn.execute(_EXPIRED, {"b_now": now}).all()
            if expired and not self._sqlite:
                workers = sorted({t.worker_id for t in expired if t.worker_id is not None})
                conn.execute(_LOCK_WORKERS.with_for_update(), {"b_workers": workers})
            for task in expired:
                self._lock_job(conn, task.job_id)
                failed = FailedAttempt(
                    task.id,
                    task.attempt,
                    task.job_id,
                    list(task.years),
                    task.failures,
                    task.worker_id,
                    task.worker_name or "?",
                )
                report = FailureReport(
                    f"lease expired: worker {task.worker_name} stopped reporting "
                    f"(attempt {task.attempt})",
                    kind=FailureKind.MACHINE,
                )
                event = self._settle_failure(conn, failed, report, rules, now, now)
                if event is not None:
                    events.append(event)
        return events
