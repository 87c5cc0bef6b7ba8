"""Reports of running attempts (heartbeat, complete, fail) and the lease sweep.

Every change is a conditional UPDATE fenced by (task, attempt, worker, status running):
a report from an attempt that lost the task matches no row, changes nothing, and is
answered with the reason (`refusal`). Heartbeats and completions, the frequent ones,
are plain statements run in the writer's batches (`writer.py`, `sql.py`); failures and
the lease sweep go through SQLAlchemy.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any, NoReturn

from sqlalchemy import Connection, and_, bindparam, select, update

from winjobs.driver.errors import Conflict, DriverError, NotFound
from winjobs.driver.models import Job, Task, TaskCopy, Worker
from winjobs.driver.store.copies import (
    cancelled_by_copy,
    complete_copy_in,
    heartbeat_copy_in,
    held_copy_in,
    original_won_in,
)
from winjobs.driver.store.failures import FailedAttempt, FailureStore
from winjobs.driver.store.records import (
    Beat,
    FailOutcome,
    FailureReport,
    FailureRules,
    HeldTask,
    PolicyStatus,
    TaskEvent,
)
from winjobs.driver.store.writer import Tx
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
_TASK_STATE = select(Task.status, Task.attempt, Task.worker_id, Task.job_id).where(
    Task.id == bindparam("b_task")
)
_HELD = select(Task.job_id, Task.years, Task.failures, Task.worker_name).where(_FENCE)
_LOCK_JOB = select(Job.id).where(Job.id == bindparam("b_job"))
#: the worker rows of expired attempts, locked before any job (the lock order)
_LOCK_WORKERS = (
    select(Worker.id)
    .where(Worker.id.in_(bindparam("b_workers", expanding=True)))
    .order_by(Worker.id)
)

#: the plain statements of the hot reports
_P_FENCE = "id = :task AND attempt = :attempt AND worker_id = :worker AND status = 'running'"
_P_TOUCH = "UPDATE workers SET last_seen = :now WHERE id = :worker"
#: the same, with the owner-policy state the worker's heartbeat reports
_P_TOUCH_POLICY = (
    "UPDATE workers SET last_seen = :now, policy_state = :policy, "
    "policy_reason = :policy_reason, next_work_at = :next_work WHERE id = :worker"
)
#: a completion also ends the worker's failures in a row (rolled back if refused)
_P_TOUCH_SUCCEEDED = (
    "UPDATE workers SET last_seen = :now, last_success_at = :now, fail_streak = 0, "
    "streak_since = NULL, streak_reason = NULL WHERE id = :worker"
)
_P_HEARTBEAT = (
    "UPDATE tasks SET lease_until = :lease, "
    "years_done = CASE WHEN n_years < :done THEN n_years ELSE :done END, "
    # since when its solver is suspended (kept while it stays so; cleared on resume)
    "suspended_at = CASE WHEN :suspended THEN coalesce(suspended_at, :now) ELSE NULL END "
    "WHERE " + _P_FENCE
)
_P_TASK_STATE = "SELECT status, attempt, worker_id, job_id FROM tasks WHERE id = :task"
_P_HELD = "SELECT job_id, years, solver_version, started_at FROM tasks WHERE " + _P_FENCE
_P_ACCEPTED = (
    "SELECT job_id FROM tasks WHERE id = :task AND attempt = :attempt "
    "AND worker_id = :worker AND status = 'succeeded'"
)
_P_LOCK_JOB = "SELECT id FROM jobs WHERE id = :job"
_P_COMPLETE = (
    "UPDATE tasks SET status = 'succeeded', finished_at = :now, lease_until = NULL, "
    "years_done = n_years, log_tail = :log, error = NULL, output_location = :location, "
    "suspended_at = NULL "
    "WHERE " + _P_FENCE
)
#: whether the job can be assembled: running, every year in a task, every task succeeded
_P_JOB_READY = (
    "SELECT status = 'running' AND next_index >= years_total AND NOT EXISTS "
    "(SELECT 1 FROM tasks WHERE tasks.job_id = jobs.id AND tasks.status <> 'succeeded') "
    "FROM jobs WHERE id = :job"
)


def refusal(task_id: int, attempt: int, worker_id: int, state: Any) -> DriverError:
    """Why a report did not match a running attempt, from the task's (status, attempt,
    worker id, job id), or None for a task that does not exist."""
    if state is None:
        return NotFound(f"no task {task_id}")
    status, held_attempt, held_worker = state[0], state[1], state[2]
    if held_attempt != attempt or held_worker != worker_id:
        return Conflict(
            f"task {task_id}: attempt {attempt} is stale (the task was given to another "
            "attempt); this report is ignored"
        )
    return Conflict(f"task {task_id} is {status}: this report is ignored")


def _refuse(tx: Tx, params: dict[str, Any]) -> NoReturn:
    state = tx.one(_P_TASK_STATE, params)
    raise refusal(params["task"], params["attempt"], params["worker"], state)


def held_in(tx: Tx, task_id: int, worker_id: int, attempt: int) -> HeldTask:
    """What the attempt holds (the task's original attempt, or its running speculative
    copy); raises 409/404 unless it still holds the task."""
    params = {"task": task_id, "attempt": attempt, "worker": worker_id}
    held = tx.one(_P_HELD, params)
    if held is None:
        if (copy := held_copy_in(tx, params)) is not None:
            return copy
        _refuse(tx, params)
    started = None if held[3] is None else tx.sql.read_when(held[3])
    return HeldTask(int(held[0]), list(tx.sql.read_json(held[1])), held[2], started)


def accepted_in(tx: Tx, task_id: int, worker_id: int, attempt: int) -> int | None:
    """The job id if this very attempt completed the task, else None."""
    params = {"task": task_id, "attempt": attempt, "worker": worker_id}
    row = tx.one(_P_ACCEPTED, params)
    return None if row is None else int(row[0])


def heartbeat_in(
    tx: Tx,
    task_id: int,
    worker_id: int,
    attempt: int,
    years_done: int,
    lease_seconds: float,
    *,
    suspended: bool = False,
    status: PolicyStatus | None = None,
) -> Beat:
    """`suspended`: the attempt's solver is suspended by its worker's owner; `status`:
    the owner-policy state the worker reports (None: it reports none, kept as it was)."""
    now = tx.clock()
    lease_until = now + timedelta(seconds=lease_seconds)
    params: dict[str, Any] = {
        "task": task_id,
        "attempt": attempt,
        "worker": worker_id,
        "now": tx.sql.when(now),
        "lease": tx.sql.when(lease_until),
        "done": years_done,
        "suspended": suspended,
    }
    if status is None:
        tx.execute(_P_TOUCH, params)
    else:
        next_work = status.next_work_at
        policy = {
            "policy": status.state,
            "policy_reason": status.reason,
            "next_work": None if next_work is None else tx.sql.when(next_work),
        }
        tx.execute(_P_TOUCH_POLICY, params | policy)
    if tx.execute(_P_HEARTBEAT, params).rowcount == 1 or heartbeat_copy_in(tx, params):
        return Beat(cancel=False, lease_until=lease_until)
    if cancelled_by_copy(tx, params):  # the other copy of the task completed first
        return Beat(cancel=True, lease_until=now)
    state = tx.one(_P_TASK_STATE, params)
    if state is not None and (state[0], state[1], state[2]) == ("cancelled", attempt, worker_id):
        return Beat(cancel=True, lease_until=now)
    raise refusal(task_id, attempt, worker_id, state)


#: what a completion checks once the attempt is known to hold the task, before it is
#: recorded (the output against the task's years; keeping the output): raising refuses
Acceptance = Callable[[HeldTask], None]


def complete_in(
    tx: Tx,
    task_id: int,
    worker_id: int,
    attempt: int,
    log_tail: str,
    output_location: str | None = None,
    accept: Acceptance | None = None,
) -> tuple[int, bool]:
    """Record a finished attempt; returns (job id, whether the job is now ready to be
    assembled: running, with every year done)."""
    params: dict[str, Any] = {
        "task": task_id,
        "attempt": attempt,
        "worker": worker_id,
        "now": tx.sql.when(tx.clock()),
        "log": log_tail,
        "location": output_location,
    }
    tx.execute(_P_TOUCH_SUCCEEDED, params)
    held = held_in(tx, task_id, worker_id, attempt)
    if not tx.sql.sqlite:  # completions of one job in turn: one of them sees "ready"
        tx.execute(tx.sql.for_update(_P_LOCK_JOB), {"job": held.job_id})
    if accept is not None:
        accept(held)
    if held.copy:
        if not complete_copy_in(tx, params):
            _refuse(tx, params)
    elif tx.execute(_P_COMPLETE, params).rowcount == 1:
        original_won_in(tx, params)
    else:
        _refuse(tx, params)
    ready = tx.one(_P_JOB_READY, {"job": held.job_id})
    return held.job_id, bool(ready is not None and ready[0])


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


#: a speculative copy whose worker stopped reporting just ends (the original runs on)
_EXPIRE_COPIES = (
    update(TaskCopy)
    .where(TaskCopy.status == "running", TaskCopy.lease_until < bindparam("b_now"))
    .values(
        status="expired",
        lease_until=None,
        finished_at=bindparam("b_now"),
        reason="lease expired: its worker stopped reporting",
    )
)
_COPY_HELD = (
    select(TaskCopy.id, TaskCopy.worker_name, Task.job_id, Task.years)
    .join(Task, Task.id == TaskCopy.task_id)
    .where(
        TaskCopy.task_id == bindparam("b_task"),
        TaskCopy.attempt == bindparam("b_attempt"),
        TaskCopy.worker_id == bindparam("b_worker"),
        TaskCopy.status == "running",
        Task.status == TaskStatus.RUNNING.value,
    )
)


class ReportStore(FailureStore):
    def _end_copy(
        self, conn: Connection, params: dict[str, Any], report: FailureReport, now: Any
    ) -> TaskEvent | None:
        """A speculative copy failed or was given back: it ends, the original runs on
        (not counted against the task's years nor its worker); None: not a running copy."""
        copy = conn.execute(_COPY_HELD, params).one_or_none()
        if copy is None:
            return None
        status = "released" if report.release else "failed"
        conn.execute(
            update(TaskCopy)
            .where(TaskCopy.id == copy.id)
            .values(status=status, lease_until=None, finished_at=now, reason=report.reason)
        )
        return TaskEvent(
            params["b_task"],
            int(copy.job_id),
            list(copy.years),
            FailOutcome.COPY_ENDED,
            report.reason,
            worker=copy.worker_name,
            counted=False,
        )

    def _lock_job(self, conn: Connection, job_id: int) -> None:
        if not self._sqlite:
            conn.execute(_LOCK_JOB.with_for_update(), {"b_job": job_id})

    def _refuse(self, conn: Connection, task_id: int, worker_id: int, attempt: int) -> NoReturn:
        """Raise the right error for a report that did not match a running attempt."""
        state = conn.execute(_TASK_STATE, {"b_task": task_id}).one_or_none()
        raise refusal(task_id, attempt, worker_id, state)

    def check_running(self, task_id: int, worker_id: int, attempt: int) -> HeldTask:
        """Raise unless the attempt still holds the task; returns what it holds."""
        return self.writer.call(lambda tx: held_in(tx, task_id, worker_id, attempt))

    def accepted_by(self, task_id: int, worker_id: int, attempt: int) -> int | None:
        """The job id if this very attempt completed the task, else None."""
        return self.writer.call(lambda tx: accepted_in(tx, task_id, worker_id, attempt))

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
        return self.writer.call(
            lambda tx: heartbeat_in(
                tx,
                task_id,
                worker_id,
                attempt,
                years_done,
                lease_seconds,
                suspended=suspended,
                status=status,
            )
        )

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
        return self.writer.call(
            lambda tx: complete_in(tx, task_id, worker_id, attempt, log_tail, output_location)
        )

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
                ended = self._end_copy(conn, params, report, now)
                if ended is None:
                    self._refuse(conn, task_id, worker_id, attempt)
                return ended
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
            conn.execute(_EXPIRE_COPIES, {"b_now": now})
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
