"""The claim: lease the next task to a worker, cutting new years into a task when needed.

This is the hot path (every worker, every few seconds), so its statements are built once
(with bind parameters) rather than per call: building a SQLAlchemy statement costs more
than running it on SQLite. On PostgreSQL every write locks rows in one order, worker then
job then tasks, so concurrent claims, reports and cancels never deadlock.

One claim is five statements in one write transaction: touch the worker, read the active
jobs' facts, then either take the job's lowest queued task or read the job and cut its
next years, mark the job started (and advance it), and insert the task. A claim that
finds nothing may take over a task whose solver has been suspended too long (its
worker's owner came back): one more statement, only on claims that found no work.

A held worker gets nothing. A queued task a worker failed is invisible to it while it must
leave the task to others (`failure_policy`): one indexed lookup in `task_failures` per
queued task (few: only tasks given back are queued), never a scan of the history.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, bindparam, exists, func, insert, or_, select, update

from winjobs.driver import failure_policy, scheduler
from winjobs.driver.errors import NotFound
from winjobs.driver.models import Job, Task, TaskFailure, Worker
from winjobs.driver.settings import ChunkPolicy
from winjobs.driver.store.base import StoreBase
from winjobs.driver.store.failures import HOLD_FOR_STREAK, OTHERS_SUCCEEDED
from winjobs.driver.store.records import (
    ACTIVE_JOB,
    NO_POLICY,
    Claimed,
    ClaimPolicy,
    PolicyStatus,
)
from winjobs.wire import JobStatus, PolicyState, TaskStatus

log = logging.getLogger(__name__)

_TOUCH_WORKER = (
    update(Worker)
    .where(Worker.id == bindparam("b_worker"))
    .values(
        last_seen=bindparam("b_now"),
        draining=bindparam("b_draining"),
        free_disk_bytes=bindparam("b_disk"),
        policy_state=bindparam("b_policy"),
        policy_reason=bindparam("b_policy_reason"),
        next_work_at=bindparam("b_next_work"),
    )
    .returning(
        Worker.name,
        Worker.versions,
        Worker.held_at,
        Worker.fail_streak,
        Worker.streak_since,
        Worker.streak_reason,
    )
)
#: the claiming worker failed this task and must leave it to others
_AVOIDED = exists().where(
    TaskFailure.task_id == Task.id,
    TaskFailure.worker_id == bindparam("b_worker"),
    TaskFailure.avoid.is_(True),
)
_JOB_FACTS = select(
    Job.id,
    Job.priority,
    Job.antares_version,
    Job.solver_version,
    select(func.count())
    .where(Task.job_id == Job.id, Task.status == TaskStatus.QUEUED.value, ~_AVOIDED)
    .scalar_subquery(),
    Job.years_total - Job.next_index,
    Job.held,
).where(Job.status.in_(ACTIVE_JOB))
_LOWEST_QUEUED = (
    select(Task.id)
    .where(Task.job_id == bindparam("b_job"), Task.status == TaskStatus.QUEUED.value, ~_AVOIDED)
    .order_by(Task.first_year)
    .limit(1)
)

_TAKE_QUEUED = (
    update(Task)
    .where(Task.id == bindparam("b_task"), Task.status == TaskStatus.QUEUED.value)
    .values(
        status=TaskStatus.RUNNING.value,
        attempt=Task.attempt + 1,
        worker_id=bindparam("b_worker"),
        worker_name=bindparam("b_worker_name"),
        solver_version=bindparam("b_solver"),
        lease_until=bindparam("b_lease"),
        started_at=bindparam("b_now"),
        finished_at=None,
        years_done=0,
        suspended_at=None,
    )
    .returning(Task.attempt, Task.years)
)
#: read under the job's row lock (PostgreSQL): a hold committed after the facts were read
#: is seen here, so no task of a held job starts
_JOB_TO_CUT = select(Job.years, Job.next_index, Job.splittable, Job.status, Job.held).where(
    Job.id == bindparam("b_job")
)
#: online, not draining, not held, and taking work by its owner's policy (or reporting none)
_POOL = select(func.coalesce(func.sum(Worker.cores), 0), func.count()).where(
    Worker.last_seen >= bindparam("b_online"),
    Worker.draining.is_(False),
    Worker.held_at.is_(None),
    or_(Worker.policy_state.is_(None), Worker.policy_state == PolicyState.IN_SCHEDULE.value),
)
#: years of the job in tasks other workers claimed and reported no finished year of yet
#: (the claiming worker's own running task does not count: it claims once its solver exited)
_OTHERS_STARTING = select(func.coalesce(func.sum(Task.n_years), 0)).where(
    Task.job_id == bindparam("b_job"),
    Task.status == TaskStatus.RUNNING.value,
    Task.years_done == 0,
    Task.worker_id.is_distinct_from(bindparam("b_worker")),
)
_JOB_STARTED_FIELDS = {
    "status": JobStatus.RUNNING.value,
    "started_at": func.coalesce(Job.started_at, bindparam("b_now")),
    "solver_version": func.coalesce(Job.solver_version, bindparam("b_solver")),
}
_JOB_ASSIGNMENT_FIELDS = (
    Job.antares_version,
    Job.study_sha256,
    Job.study_size,
    Job.study_name,
    Job.task_time_limit_s,
)
_START_JOB = (
    update(Job)
    .where(Job.id == bindparam("b_job"))
    .values(**_JOB_STARTED_FIELDS)
    .returning(*_JOB_ASSIGNMENT_FIELDS)
)
#: the same, advancing the unassigned years, only if nobody advanced them meanwhile
_START_AND_ADVANCE_JOB = (
    update(Job)
    .where(Job.id == bindparam("b_job"), Job.next_index == bindparam("b_old_index"))
    .values(next_index=bindparam("b_new_index"), **_JOB_STARTED_FIELDS)
    .returning(*_JOB_ASSIGNMENT_FIELDS)
)
_INSERT_TASK = insert(Task).returning(Task.id)
#: running tasks of active jobs, suspended (by their worker's owner) since before the cutoff
_STALLED = (
    select(
        Task.id,
        Task.attempt,
        Task.worker_name,
        Task.suspended_at,
        Job.id,
        Job.priority,
        Job.antares_version,
        Job.solver_version,
    )
    .join(Job, Job.id == Task.job_id)
    .where(
        Task.status == TaskStatus.RUNNING.value,
        Task.suspended_at <= bindparam("b_cutoff"),
        Task.worker_id.is_distinct_from(bindparam("b_worker")),
        Job.status.in_(ACTIVE_JOB),
        ~_AVOIDED,  # nor years that failed on the claiming worker (`failure_policy`)
    )
)
#: a new attempt for the claiming worker; the suspended one gets 409 at its next report
_TAKE_OVER = (
    update(Task)
    .where(
        Task.id == bindparam("b_task"),
        Task.attempt == bindparam("b_old_attempt"),
        Task.status == TaskStatus.RUNNING.value,
        Task.suspended_at <= bindparam("b_cutoff"),
    )
    .values(
        attempt=Task.attempt + 1,
        worker_id=bindparam("b_worker"),
        worker_name=bindparam("b_worker_name"),
        lease_until=bindparam("b_lease"),
        started_at=bindparam("b_now"),
        years_done=0,
        suspended_at=None,
    )
    .returning(Task.attempt, Task.years)
)


class ClaimStore(StoreBase):
    def claim(
        self,
        worker_id: int,
        free_cores: int,
        draining: bool,
        free_disk_bytes: int | None,
        policy: ClaimPolicy,
        *,
        paused: bool = False,
        status: PolicyStatus = NO_POLICY,
    ) -> Claimed | None:
        """Lease the next task to this worker, cutting new years if needed; None: no work
        (or a draining, paused or held worker, which takes none)."""
        now = self.clock()
        with self._write() as conn:
            worker = conn.execute(
                _TOUCH_WORKER,
                {
                    "b_worker": worker_id,
                    "b_now": now,
                    "b_draining": draining,
                    "b_disk": free_disk_bytes,
                    "b_policy": status.state,
                    "b_policy_reason": status.reason,
                    "b_next_work": status.next_work_at,
                },
            ).one_or_none()
            if worker is None:
                raise NotFound(f"no worker {worker_id}: register again")
            if draining or paused or self._held(conn, worker_id, worker, policy, now):
                return None
            name, versions = worker.name, worker.versions
            for _ in range(3):  # a lost race (PostgreSQL only) re-reads the facts
                decision = scheduler.pick(self._job_facts(conn, worker_id), versions)
                if decision is None:
                    return self._take_over(conn, worker_id, name, versions, now, policy)
                lease_until = now + timedelta(seconds=policy.lease_seconds)
                params = {
                    "b_job": decision.job_id,
                    "b_worker": worker_id,
                    "b_worker_name": name,
                    "b_solver": decision.solver_version,
                    "b_now": now,
                    "b_lease": lease_until,
                }
                if decision.requeued_task:
                    claimed = self._take_queued(conn, decision, params)
                else:
                    claimed = self._cut(conn, decision, params, free_cores, policy)
                if claimed is not None:
                    return claimed
            return None

    def _held(
        self, conn: Connection, worker_id: int, worker: Any, policy: ClaimPolicy, now: datetime
    ) -> bool:
        """Held already, or held now: failures in a row reached the threshold before any
        other worker had succeeded, and one has since (checked only for such workers)."""
        if worker.held_at is not None:
            return True
        if worker.streak_since is None or not failure_policy.should_hold(
            worker.fail_streak, policy.hold_after_failures, others_succeeded=True
        ):
            return False
        params = {"b_worker": worker_id, "b_since": worker.streak_since, "b_now": now}
        if not conn.execute(OTHERS_SUCCEEDED, params).scalar_one():
            return False
        conn.execute(HOLD_FOR_STREAK, params)
        log.warning("worker %s is held: %s", worker.name, worker.streak_reason)
        return True

    def _take_over(
        self,
        conn: Connection,
        worker_id: int,
        name: str,
        versions: list[str],
        now: datetime,
        policy: ClaimPolicy,
    ) -> Claimed | None:
        """A worker with nothing else to do takes over a task suspended too long
        (docs/driver.md, "Suspended tasks"); not counted as a failure of its years."""
        if policy.reassign_suspended_after_s is None:
            return None
        cutoff = now - timedelta(seconds=policy.reassign_suspended_after_s)
        params: dict[str, Any] = {"b_cutoff": cutoff, "b_worker": worker_id}
        stalled = [
            scheduler.StalledTask(
                task_id=task_id,
                attempt=attempt,
                worker=worker_name or "?",
                suspended_since=since or now,  # never None: the query wants one
                job=scheduler.JobFacts(job_id, priority, version, solver, 0, 0),
            )
            for task_id, attempt, worker_name, since, job_id, priority, version, solver in (
                conn.execute(_STALLED, params)
            )
        ]
        choice = scheduler.pick_stalled(stalled, versions)
        if choice is None:
            return None
        task, solver_version = choice
        decision = scheduler.Decision(task.job.id, solver_version, requeued_task=True)
        params.update(
            b_job=task.job.id,
            b_task=task.task_id,
            b_old_attempt=task.attempt,
            b_worker_name=name,
            b_solver=solver_version,
            b_now=now,
            b_lease=now + timedelta(seconds=policy.lease_seconds),
        )
        if not self._sqlite:  # lock order everywhere: worker, then job, then tasks
            conn.execute(_JOB_TO_CUT.with_for_update(), params)
        taken = conn.execute(_TAKE_OVER, params).one_or_none()
        if taken is None:
            return None
        job = conn.execute(_START_JOB, params).one()
        claimed = _claimed(task.task_id, taken.attempt, list(taken.years), decision, params, job)
        return replace(claimed, taken_from=task.worker, suspended_since=task.suspended_since)

    def _job_facts(self, conn: Connection, worker_id: int) -> list[scheduler.JobFacts]:
        return [
            scheduler.JobFacts(
                id=job_id,
                priority=priority,
                antares_version=version,
                solver_version=solver,
                queued_tasks=int(queued),
                unassigned_years=int(unassigned),
                held=bool(held),
            )
            for job_id, priority, version, solver, queued, unassigned, held in conn.execute(
                _JOB_FACTS, {"b_worker": worker_id}
            )
        ]

    def _take_queued(
        self, conn: Connection, decision: scheduler.Decision, params: dict[str, Any]
    ) -> Claimed | None:
        # lock order everywhere: worker, then job, then tasks (SQLite's writers are serialised)
        if not self._sqlite and conn.execute(_JOB_TO_CUT.with_for_update(), params).one().held:
            return None
        task_id = conn.execute(
            self._for_update(_LOWEST_QUEUED, skip_locked=True), params
        ).scalar_one_or_none()
        if task_id is None:
            return None
        taken = conn.execute(_TAKE_QUEUED, {**params, "b_task": task_id}).one_or_none()
        if taken is None:
            return None
        job = conn.execute(_START_JOB, params).one()
        return _claimed(task_id, taken.attempt, list(taken.years), decision, params, job)

    def _cut(
        self,
        conn: Connection,
        decision: scheduler.Decision,
        params: dict[str, Any],
        free_cores: int,
        policy: ClaimPolicy,
    ) -> Claimed | None:
        job = conn.execute(self._for_update(_JOB_TO_CUT), params).one()
        remaining = len(job.years) - job.next_index
        if job.status not in ACTIVE_JOB or job.held or remaining <= 0:
            return None
        pool, others_starting = scheduler.Pool(cores=0, workers=0), 0
        if policy.chunk_policy is ChunkPolicy.BALANCED:
            online = params["b_now"] - timedelta(seconds=policy.worker_offline_s)
            cores, count = conn.execute(_POOL, {"b_online": online}).one()
            pool = scheduler.Pool(cores=int(cores), workers=int(count))
            others_starting = int(conn.execute(_OTHERS_STARTING, params).scalar_one())
        facts = scheduler.ChunkFacts(
            unassigned=remaining,
            free_cores=free_cores,
            pool=pool,
            others_starting=others_starting,
            splittable=job.splittable,
        )
        size = scheduler.chunk_size(policy.chunk_policy, facts)
        years = list(job.years[job.next_index : job.next_index + size])
        started = conn.execute(
            _START_AND_ADVANCE_JOB,
            {**params, "b_old_index": job.next_index, "b_new_index": job.next_index + size},
        ).one_or_none()
        if started is None:
            return None
        task_id = conn.execute(
            _INSERT_TASK,
            {
                "job_id": decision.job_id,
                "years": years,
                "first_year": years[0],
                "n_years": len(years),
                "status": TaskStatus.RUNNING.value,
                "attempt": 1,
                "failures": 0,
                "worker_id": params["b_worker"],
                "worker_name": params["b_worker_name"],
                "solver_version": decision.solver_version,
                "lease_until": params["b_lease"],
                "years_done": 0,
                "created_at": params["b_now"],
                "started_at": params["b_now"],
            },
        ).scalar_one()
        return _claimed(int(task_id), 1, years, decision, params, started)


def _claimed(
    task_id: int,
    attempt: int,
    years: list[int],
    decision: scheduler.Decision,
    params: dict[str, Any],
    job: Any,
) -> Claimed:
    lease_until: datetime = params["b_lease"]
    return Claimed(
        task_id=task_id,
        job_id=decision.job_id,
        attempt=attempt,
        years=years,
        antares_version=job.antares_version,
        solver_version=decision.solver_version,
        study_sha256=job.study_sha256,
        study_size=job.study_size,
        study_name=job.study_name,
        time_limit_s=job.task_time_limit_s,
        worker_name=params["b_worker_name"],
        lease_until=lease_until,
    )
