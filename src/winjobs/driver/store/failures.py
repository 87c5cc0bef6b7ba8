"""Failed attempts: judged by `failure_policy`, recorded in `task_failures`, charged to the
failing worker's streak (and hold); tasks nobody else can run given back to the workers
that failed them; an admin's release.

Lock order on PostgreSQL stays worker, then job, then tasks: the failing worker's row is
locked first by the report (or by `requeue_expired` before any job), so charging it
later in the transaction takes no new lock out of order.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, bindparam, exists, insert, select, update

from winjobs.driver import failure_policy
from winjobs.driver.errors import Conflict, NotFound
from winjobs.driver.models import Job, Task, TaskCopy, TaskFailure, Worker
from winjobs.driver.store.base import StoreBase, attempt_past_copy
from winjobs.driver.store.outbox import record_job_end
from winjobs.driver.store.records import (
    ACTIVE_JOB,
    FailOutcome,
    FailureReport,
    FailureRules,
    TaskEvent,
    describe_years,
)
from winjobs.wire import FailureKind, JobStatus, TaskStatus

#: another worker completed a task since the streak began (the "while others succeed")
OTHERS_SUCCEEDED = select(
    exists().where(
        Worker.id != bindparam("b_worker"), Worker.last_success_at >= bindparam("b_since")
    )
)
#: the streak's reason becomes the hold's
HOLD_FOR_STREAK = (
    update(Worker)
    .where(Worker.id == bindparam("b_worker"), Worker.held_at.is_(None))
    .values(held_at=bindparam("b_now"), held_reason=Worker.streak_reason, held_by="driver")
)
_PAST = (
    select(
        TaskFailure.worker_id, TaskFailure.worker_name, TaskFailure.kind, TaskFailure.fingerprint
    )
    .where(TaskFailure.task_id == bindparam("b_task"))
    .order_by(TaskFailure.id)
)
_CANDIDATES = select(Worker.id, Worker.versions).where(
    Worker.last_seen >= bindparam("b_online"),
    Worker.draining.is_(False),
    Worker.held_at.is_(None),
)
_JOB_VERSIONS = select(Job.antares_version, Job.solver_version).where(Job.id == bindparam("b_job"))
_STREAK = select(Worker.fail_streak, Worker.streak_since, Worker.held_at).where(
    Worker.id == bindparam("b_worker")
)
_AVOIDED_QUEUED = (
    select(Task.id, Task.job_id, Task.years, Job.antares_version, Job.solver_version)
    .join(Job, Job.id == Task.job_id)
    .where(
        Task.status == TaskStatus.QUEUED.value,
        exists().where(TaskFailure.task_id == Task.id, TaskFailure.avoid.is_(True)),
    )
)
#: what a release (or a changed configuration, or a drained worker's restart) resets
NOT_HELD = {
    "held_at": None,
    "held_reason": None,
    "held_by": None,
    "drained": False,
    "fail_streak": 0,
    "streak_since": None,
    "streak_reason": None,
}


@dataclass(frozen=True)
class FailedAttempt:
    """The attempt a failure report or a lease expiry ends."""

    task_id: int
    attempt: int
    job_id: int
    years: list[int]
    failures: int  #: the task's counted failures before this one
    worker_id: int | None
    worker_name: str


class FailureStore(StoreBase):
    def _settle_failure(
        self,
        conn: Connection,
        failed: FailedAttempt,
        report: FailureReport,
        rules: FailureRules,
        now: datetime,
        expired_before: datetime | None = None,
    ) -> TaskEvent | None:
        """Re-queue (or fail for good) the attempt; None if it no longer held the task.

        An original attempt whose speculative copy runs is not re-queued: the copy goes
        on as the task's attempt (`_promote_copy`)."""
        promoted = self._promote_copy(conn, failed, now, expired_before)
        if promoted is not None:
            if not promoted:
                return None
            if not report.release:
                self._record_failure(conn, failed, report, False, False, now)
            return _event(failed, FailOutcome.COPY_PROMOTED, report, counted=False)
        if report.release:
            if not self._requeue(conn, failed, report, failed.failures, False, now, expired_before):
                return None
            return _event(failed, FailOutcome.RELEASED, report, counted=False)
        past = [
            failure_policy.PastFailure(
                p.worker_id, FailureKind(p.kind), p.fingerprint, p.worker_name
            )
            for p in conn.execute(_PAST, {"b_task": failed.task_id})
        ]
        verdict = failure_policy.judge(
            failure_policy.FailureFacts(
                worker_id=failed.worker_id if failed.worker_id is not None else -1,
                kind=report.kind,
                fingerprint=report.fingerprint,
                past=past,
                others_can_run=self._others_can_run(conn, failed, past, rules, now),
                failures=failed.failures,
                max_attempts=rules.max_attempts,
            )
        )
        if not self._requeue(
            conn, failed, report, verdict.failures, verdict.fail_job, now, expired_before
        ):
            return None
        avoided = verdict.avoid_worker and not verdict.fail_job
        self._record_failure(conn, failed, report, verdict.counted, avoided, now)
        if verdict.fail_job:
            self._fail_job(conn, failed.job_id, _job_reason(failed, report, verdict, past), now)
        held = None
        if verdict.charge_worker and failed.worker_id is not None:
            held = self._charge(conn, failed.worker_id, report, rules, now)
        outcome = FailOutcome.JOB_FAILED if verdict.fail_job else FailOutcome.REQUEUED
        return _event(failed, outcome, report, verdict.counted, avoided, held)

    def _promote_copy(
        self,
        conn: Connection,
        failed: FailedAttempt,
        now: datetime,
        expired_before: datetime | None,
    ) -> bool | None:
        """The failed original's running copy becomes the task's attempt: its fence
        (attempt, worker, lease) moves to the task row. None: the task has no running
        copy; False: the original no longer held the task."""
        copy = conn.execute(
            select(TaskCopy).where(
                TaskCopy.task_id == failed.task_id,
                TaskCopy.of_attempt == failed.attempt,
                TaskCopy.status == "running",
            )
        ).one_or_none()
        if copy is None:
            return None
        changed = conn.execute(
            _still_held(failed, expired_before).values(
                attempt=copy.attempt,
                worker_id=copy.worker_id,
                worker_name=copy.worker_name,
                lease_until=copy.lease_until,
                started_at=copy.started_at,
                years_done=copy.years_done,
                suspended_at=None,
            )
        ).rowcount
        if changed != 1:
            return False
        conn.execute(
            update(TaskCopy)
            .where(TaskCopy.id == copy.id)
            .values(
                status="promoted",
                lease_until=None,
                finished_at=now,
                reason=f"the original (attempt {failed.attempt}) failed: the copy goes on",
            )
        )
        return True

    def _record_failure(
        self,
        conn: Connection,
        failed: FailedAttempt,
        report: FailureReport,
        counted: bool,
        avoid: bool,
        now: datetime,
    ) -> None:
        conn.execute(
            insert(TaskFailure).values(
                task_id=failed.task_id,
                attempt=failed.attempt,
                worker_id=failed.worker_id,
                worker_name=failed.worker_name,
                kind=report.kind.value,
                fingerprint=report.fingerprint,
                reason=report.reason,
                counted=counted,
                avoid=avoid,
                created_at=now,
            )
        )

    def _requeue(
        self,
        conn: Connection,
        failed: FailedAttempt,
        report: FailureReport,
        failures: int,
        fail: bool,
        now: datetime,
        expired_before: datetime | None,
    ) -> bool:
        """The fenced change of the task: queued again, or failed; False if it moved on."""
        status = TaskStatus.FAILED if fail else TaskStatus.QUEUED
        changed = conn.execute(
            _still_held(failed, expired_before).values(
                status=status.value,
                failures=failures,
                lease_until=None,
                years_done=0,
                error=report.reason,
                log_tail=report.log_tail or None,
                finished_at=now if fail else None,
                suspended_at=None,  # a vacated task starts afresh on its next worker
                # past a copy's attempt number: the next attempt gets a number of its own
                attempt=attempt_past_copy(self._sqlite),
            )
        ).rowcount
        return bool(changed == 1)

    def _fail_job(self, conn: Connection, job_id: int, reason: str, now: datetime) -> None:
        changed = conn.execute(
            update(Job)
            .where(Job.id == job_id, Job.status.in_(ACTIVE_JOB))
            .values(status=JobStatus.FAILED.value, error=reason, finished_at=now)
        ).rowcount
        self._close_open_tasks(conn, job_id, now)
        if changed == 1:
            record_job_end(conn, job_id, now)

    def _candidates(
        self, conn: Connection, rules: FailureRules, now: datetime
    ) -> list[failure_policy.CandidateWorker]:
        online = now - timedelta(seconds=rules.worker_offline_s)
        return [
            failure_policy.CandidateWorker(int(i), list(v))
            for i, v in conn.execute(_CANDIDATES, {"b_online": online})
        ]

    def _others_can_run(
        self,
        conn: Connection,
        failed: FailedAttempt,
        past: Sequence[failure_policy.PastFailure],
        rules: FailureRules,
        now: datetime,
    ) -> int:
        job = conn.execute(_JOB_VERSIONS, {"b_job": failed.job_id}).one()
        return failure_policy.others_can_run(
            self._candidates(conn, rules, now),
            [*(p.worker_id for p in past), failed.worker_id],
            job.antares_version,
            job.solver_version,
        )

    def _charge(
        self,
        conn: Connection,
        worker_id: int,
        report: FailureReport,
        rules: FailureRules,
        now: datetime,
    ) -> str | None:
        """One more failure in a row for the worker; the hold's reason if it is held now."""
        row = conn.execute(_STREAK, {"b_worker": worker_id}).one_or_none()
        if row is None:
            return None
        streak = row.fail_streak + 1
        since = row.streak_since or now
        why = failure_policy.streak_reason(streak, report.reason, report.crashed)
        values: dict[str, Any] = {
            "fail_streak": streak,
            "streak_since": since,
            "streak_reason": why,
        }
        hold = row.held_at is None and failure_policy.should_hold(
            streak,
            rules.hold_after_failures,
            bool(
                conn.execute(
                    OTHERS_SUCCEEDED, {"b_worker": worker_id, "b_since": since}
                ).scalar_one()
            ),
        )
        if hold:
            values.update(held_at=now, held_reason=why, held_by="driver")
        conn.execute(update(Worker).where(Worker.id == worker_id).values(**values))
        return why if hold else None

    def reopen_stranded(self, rules: FailureRules) -> list[TaskEvent]:
        """The sweeper's pass: a queued task its failed workers avoid, while no other
        worker can run it any more (gone offline, held, draining), goes back to them."""
        now = self.clock()
        with self._read() as conn:
            avoided = conn.execute(_AVOIDED_QUEUED).all()
            if not avoided:
                return []
            candidates = self._candidates(conn, rules, now)
            failed_by: dict[int, list[int | None]] = {t.id: [] for t in avoided}
            for task_id, worker_id in conn.execute(
                select(TaskFailure.task_id, TaskFailure.worker_id).where(
                    TaskFailure.task_id.in_(list(failed_by))
                )
            ):
                failed_by[task_id].append(worker_id)
        stranded = [
            task
            for task in avoided
            if failure_policy.others_can_run(
                candidates, failed_by[task.id], task.antares_version, task.solver_version
            )
            == 0
        ]
        if not stranded:
            return []
        with self._write() as conn:
            conn.execute(
                update(TaskFailure)
                .where(TaskFailure.task_id.in_([t.id for t in stranded]))
                .values(avoid=False)
            )
        reason = "no other worker can run it now: the workers that failed it may try again"
        return [
            TaskEvent(t.id, t.job_id, list(t.years), FailOutcome.REOPENED, reason, counted=False)
            for t in stranded
        ]

    def release_worker(self, name: str) -> str:
        """An admin's release: the held (or drained) worker claims again, its streak
        forgotten; returns the reason it was held for."""
        with self._write() as conn:
            row = conn.execute(
                self._for_update(
                    select(Worker.id, Worker.held_at, Worker.held_reason).where(Worker.name == name)
                )
            ).one_or_none()
            if row is None:
                raise NotFound(f"no worker named {name!r}")
            if row.held_at is None:
                raise Conflict(f"worker {name} is not held")
            conn.execute(update(Worker).where(Worker.id == row.id).values(**NOT_HELD))
            return str(row.held_reason or "")


def _still_held(failed: FailedAttempt, expired_before: datetime | None) -> Any:
    """The fenced UPDATE of the task the failed attempt still holds (and, for a lease
    expiry, whose lease no heartbeat renewed meanwhile)."""
    still_held = update(Task).where(
        Task.id == failed.task_id,
        Task.attempt == failed.attempt,
        Task.status == TaskStatus.RUNNING.value,
    )
    if expired_before is not None:
        still_held = still_held.where(Task.lease_until < expired_before)
    return still_held


def _job_reason(
    failed: FailedAttempt,
    report: FailureReport,
    verdict: failure_policy.Verdict,
    past: Sequence[failure_policy.PastFailure],
) -> str:
    """The job's error; the study's error names the workers it happened on."""
    alike = [
        p.worker_name
        for p in past
        if p.fingerprint == report.fingerprint and p.kind is not FailureKind.MACHINE
    ]
    return failure_policy.job_failure_reason(
        describe_years(failed.years), verdict, report.reason, [*alike, failed.worker_name]
    )


def _event(
    failed: FailedAttempt,
    outcome: FailOutcome,
    report: FailureReport,
    counted: bool,
    avoided: bool = False,
    held: str | None = None,
) -> TaskEvent:
    return TaskEvent(
        failed.task_id,
        failed.job_id,
        list(failed.years),
        outcome,
        report.reason,
        worker=failed.worker_name,
        counted=counted,
        avoided=avoided,
        held=held,
    )
