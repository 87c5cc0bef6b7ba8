"""The claim: lease the next task to a worker, cutting new years into a task when needed.

This is the hot path (every worker, every few seconds): it runs as plain statements
(`sql.py`) inside the writer's batch transactions (`writer.py`). On PostgreSQL every
write locks rows in one order, worker then job then tasks, so concurrent claims, reports
and cancels never deadlock.

One claim is five statements: touch the worker, read the active jobs' facts, then either
take the job's lowest queued task or read the job and cut its next years, mark the job
started (and advance it), and insert the task. A claim that finds nothing may take over a
task whose solver has been suspended too long (its worker's owner came back): one more
statement, only on claims that found no work.

A held job gives no task: its facts say so (`scheduler.pick` skips it), and the job's row,
read again under its lock before a task starts, says so too (a hold committed meanwhile).

A held worker (failures in a row, or an admin's hold or drain) and a draining or paused
one get nothing. A queued task a worker failed is invisible to it while it must
leave the task to others (`failure_policy`): one indexed lookup in `task_failures` per
queued task (few: only tasks given back are queued), never a scan of the history.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, text

from winjobs.driver import failure_policy, scheduler, speculation
from winjobs.driver.errors import NotFound
from winjobs.driver.settings import ChunkPolicy
from winjobs.driver.store.base import StoreBase
from winjobs.driver.store.copies import copy_in
from winjobs.driver.store.records import NO_POLICY, Claimed, ClaimPolicy, PolicyStatus
from winjobs.driver.store.writer import Tx

log = logging.getLogger(__name__)

_TOUCH_WORKER = (
    "UPDATE workers SET last_seen = :now, draining = :draining, free_disk_bytes = :disk, "
    "policy_state = :policy, policy_reason = :policy_reason, next_work_at = :next_work "
    "WHERE id = :worker "
    "RETURNING name, versions, held_at, fail_streak, streak_since, streak_reason"
)
#: the claiming worker failed this task and must leave it to others
_NOT_AVOIDED = (
    "NOT EXISTS (SELECT 1 FROM task_failures WHERE task_failures.task_id = tasks.id "
    "AND task_failures.worker_id = :worker AND task_failures.avoid)"
)
_JOB_FACTS = (
    "SELECT id, priority, antares_version, solver_version, "
    "(SELECT count(*) FROM tasks WHERE tasks.job_id = jobs.id AND tasks.status = 'queued' "
    f"AND {_NOT_AVOIDED}), "
    "years_total - next_index, held FROM jobs WHERE status IN ('queued', 'running')"
)
#: read under the job's row lock (PostgreSQL): a hold committed after the facts were read
#: is seen here, so no task of a held job starts
_LOCK_JOB = "SELECT held FROM jobs WHERE id = :job"
_LOWEST_QUEUED = (
    f"SELECT id FROM tasks WHERE job_id = :job AND status = 'queued' AND {_NOT_AVOIDED} "
    "ORDER BY first_year LIMIT 1"
)
#: another worker completed a task since the streak began (`store.failures`' twin query
#: on the writer's cursor)
_OTHERS_SUCCEEDED = (
    "SELECT EXISTS (SELECT 1 FROM workers WHERE id <> :worker AND last_success_at >= :since)"
)
#: the streak's reason becomes the hold's
_HOLD_FOR_STREAK = (
    "UPDATE workers SET held_at = :now, held_reason = streak_reason, held_by = 'driver' "
    "WHERE id = :worker AND held_at IS NULL"
)
_TAKE_QUEUED = (
    "UPDATE tasks SET status = 'running', attempt = attempt + 1, worker_id = :worker, "
    "worker_name = :worker_name, solver_version = :solver, lease_until = :lease, "
    "started_at = :now, finished_at = NULL, years_done = 0, suspended_at = NULL "
    "WHERE id = :task AND status = 'queued' RETURNING attempt, years"
)
_JOB_TO_CUT = (
    "SELECT CAST(years AS TEXT), next_index, splittable, status, held FROM jobs WHERE id = :job"
)
#: online, not draining, not held, and taking work by its owner's policy (or reporting none)
_POOL = (
    "SELECT coalesce(sum(cores), 0), count(*) FROM workers "
    "WHERE last_seen >= :online AND NOT draining AND held_at IS NULL "
    "AND (policy_state IS NULL OR policy_state = 'in_schedule')"
)
#: years of the job in tasks other workers claimed and reported no finished year of yet
#: (the claiming worker's own running task does not count: it claims once its solver exited)
_OTHERS_STARTING = (
    "SELECT coalesce(sum(n_years), 0) FROM tasks WHERE job_id = :job AND status = 'running' "
    "AND years_done = 0 AND worker_id IS DISTINCT FROM :worker"
)
_STARTED = (
    "status = 'running', started_at = coalesce(started_at, :now), "
    "solver_version = coalesce(solver_version, :solver)"
)
_ASSIGNMENT = "antares_version, study_sha256, study_size, study_name, task_time_limit_s"
_START_JOB = f"UPDATE jobs SET {_STARTED} WHERE id = :job RETURNING {_ASSIGNMENT}"
#: the same, advancing the unassigned years, only if nobody advanced them meanwhile
_START_AND_ADVANCE_JOB = (
    f"UPDATE jobs SET next_index = :new_index, {_STARTED} "
    f"WHERE id = :job AND next_index = :old_index RETURNING {_ASSIGNMENT}"
)
_INSERT_TASK = (
    "INSERT INTO tasks (job_id, years, first_year, n_years, status, attempt, failures, "
    "worker_id, worker_name, solver_version, lease_until, years_done, created_at, started_at) "
    "VALUES (:job, CAST(:years AS JSON), :first_year, :n_years, 'running', 1, 0, :worker, "
    ":worker_name, :solver, :lease, 0, :now, :now) RETURNING id"
)
#: running tasks of active jobs, suspended (by their worker's owner) since before the cutoff
_STALLED = (
    "SELECT tasks.id, tasks.attempt, tasks.worker_name, tasks.suspended_at, jobs.id, "
    "jobs.priority, jobs.antares_version, jobs.solver_version "
    "FROM tasks JOIN jobs ON jobs.id = tasks.job_id "
    "WHERE tasks.status = 'running' AND tasks.suspended_at <= :cutoff "
    "AND tasks.worker_id IS DISTINCT FROM :worker AND jobs.status IN ('queued', 'running') "
    # a task with a speculative copy is not taken over: the copy is already its remedy
    "AND NOT EXISTS (SELECT 1 FROM task_copies WHERE task_copies.task_id = tasks.id) "
    f"AND {_NOT_AVOIDED}"  # nor years that failed on the claiming worker (`failure_policy`)
)
#: a new attempt for the claiming worker; the suspended one gets 409 at its next report
_TAKE_OVER = (
    "UPDATE tasks SET attempt = attempt + 1, worker_id = :worker, worker_name = :worker_name, "
    "lease_until = :lease, started_at = :now, years_done = 0, suspended_at = NULL "
    "WHERE id = :task AND attempt = :old_attempt AND status = 'running' "
    "AND suspended_at <= :cutoff RETURNING attempt, years"
)


class ClaimStore(StoreBase):
    def _job_facts(self, conn: Connection, worker_id: int) -> list[scheduler.JobFacts]:
        """The claim's view of the active jobs, read outside the writer (the why-pending
        reasons read it as a claim of `worker_id` would)."""
        return job_facts(conn.execute(text(_JOB_FACTS), {"worker": worker_id}))

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
        return self.writer.call(
            lambda tx: claim_in(
                tx,
                worker_id,
                free_cores,
                draining,
                free_disk_bytes,
                policy,
                paused=paused,
                status=status,
            )
        )


def claim_in(
    tx: Tx,
    worker_id: int,
    free_cores: int,
    draining: bool,
    free_disk_bytes: int | None,
    policy: ClaimPolicy,
    *,
    paused: bool = False,
    status: PolicyStatus = NO_POLICY,
) -> Claimed | None:
    """`ClaimStore.claim` inside a writer transaction."""
    now = tx.clock()
    params: dict[str, Any] = {
        "worker": worker_id,
        "now": tx.sql.when(now),
        "draining": draining,
        "disk": free_disk_bytes,
        "policy": status.state,
        "policy_reason": status.reason,
        "next_work": None if status.next_work_at is None else tx.sql.when(status.next_work_at),
    }
    worker = tx.one(_TOUCH_WORKER, params)
    if worker is None:
        raise NotFound(f"no worker {worker_id}: register again")
    if draining or paused or _held(tx, worker_id, worker, policy, now):
        return None
    name, versions = worker[0], tx.sql.read_json(worker[1])
    lease_until = now + timedelta(seconds=policy.lease_seconds)
    params |= {"worker_name": name, "lease": tx.sql.when(lease_until)}
    for _ in range(3):  # a lost race (PostgreSQL only) re-reads the facts
        facts = _job_facts(tx, worker_id)
        decision = scheduler.pick(facts, versions)
        if decision is None:
            taken_over = _take_over(tx, params, versions, now, lease_until, policy)
            if taken_over is not None or policy.speculation is None:
                return taken_over
            claimer = speculation.Claimer(worker_id, free_cores, versions)
            return _copy(tx, params, facts, claimer, policy.speculation, now, lease_until)
        params |= {"job": decision.job_id, "solver": decision.solver_version}
        if decision.requeued_task:
            taken = _take_queued(tx, params)
        else:
            taken = _cut(tx, params, now, free_cores, policy)
        if taken is not None:
            task_id, attempt, years, job = taken
            return _claimed(decision, task_id, attempt, years, job, name, lease_until)
    return None


def _claimed(
    decision: scheduler.Decision,
    task_id: int,
    attempt: int,
    years: list[int],
    job: Any,
    worker_name: str,
    lease_until: datetime,
) -> Claimed:
    """`job`: the started job's row (`_ASSIGNMENT`)."""
    return Claimed(
        task_id=task_id,
        job_id=decision.job_id,
        attempt=attempt,
        years=years,
        antares_version=job[0],
        solver_version=decision.solver_version,
        study_sha256=job[1],
        study_size=job[2],
        study_name=job[3],
        time_limit_s=job[4],
        worker_name=worker_name,
        lease_until=lease_until,
    )


#: job id -> (its years as stored, parsed): parsing a thousand years on every claim cost
#: more than the rest of the claim; the text read with them says whether it still holds
_YEARS: dict[int, tuple[str, list[int]]] = {}
_YEARS_KEPT = 256


def _job_years(job_id: int, text: str) -> list[int]:
    kept = _YEARS.get(job_id)
    if kept is not None and kept[0] == text:
        return kept[1]
    years = [int(year) for year in json.loads(text)]
    if len(_YEARS) >= _YEARS_KEPT:
        _YEARS.clear()
    _YEARS[job_id] = (text, years)
    return years


def _held(tx: Tx, worker_id: int, worker: Any, policy: ClaimPolicy, now: datetime) -> bool:
    """Held already, or held now: failures in a row reached the threshold before any
    other worker had succeeded, and one has since (checked only for such workers).
    `worker`: the touched worker's row (name, versions, held_at, fail_streak,
    streak_since, streak_reason)."""
    held_at, streak, since, reason = worker[2], worker[3], worker[4], worker[5]
    if held_at is not None:
        return True
    if since is None or not failure_policy.should_hold(
        streak, policy.hold_after_failures, others_succeeded=True
    ):
        return False
    params = {"worker": worker_id, "since": since, "now": tx.sql.when(now)}
    if not tx.one(_OTHERS_SUCCEEDED, params)[0]:
        return False
    tx.execute(_HOLD_FOR_STREAK, params)
    log.warning("worker %s is held: %s", worker[0], reason)
    return True


def _job_facts(tx: Tx, worker_id: int) -> list[scheduler.JobFacts]:
    return job_facts(tx.execute(_JOB_FACTS, {"worker": worker_id}))


def job_facts(rows: Iterable[Sequence[Any]]) -> list[scheduler.JobFacts]:
    """`_JOB_FACTS`' rows as the scheduler reads them (SQLite's booleans are 0 and 1)."""
    facts = scheduler.JobFacts
    return [
        facts(job_id, priority, version, solver, int(queued), int(unassigned), bool(held))
        for job_id, priority, version, solver, queued, unassigned, held in rows
    ]


def _take_over(
    tx: Tx,
    params: dict[str, Any],
    versions: list[str],
    now: datetime,
    lease_until: datetime,
    policy: ClaimPolicy,
) -> Claimed | None:
    """A worker with nothing else to do takes over a task suspended too long
    (docs/driver.md, "Suspended tasks"); not counted as a failure of its years."""
    if policy.reassign_suspended_after_s is None:
        return None
    cutoff = now - timedelta(seconds=policy.reassign_suspended_after_s)
    params = {**params, "cutoff": tx.sql.when(cutoff)}
    stalled = [
        scheduler.StalledTask(
            task_id=int(task_id),
            attempt=int(attempt),
            worker=worker_name or "?",
            # never None: the query wants one
            suspended_since=now if since is None else tx.sql.read_when(since),
            job=scheduler.JobFacts(job_id, priority, version, solver, 0, 0),
        )
        for task_id, attempt, worker_name, since, job_id, priority, version, solver in (
            tx.execute(_STALLED, params)
        )
    ]
    choice = scheduler.pick_stalled(stalled, versions)
    if choice is None:
        return None
    task, solver_version = choice
    params |= {
        "job": task.job.id,
        "task": task.task_id,
        "old_attempt": task.attempt,
        "solver": solver_version,
    }
    if not tx.sql.sqlite:  # lock order everywhere: worker, then job, then tasks
        tx.execute(tx.sql.for_update(_LOCK_JOB), params)
    taken = tx.one(_TAKE_OVER, params)
    if taken is None:
        return None
    job = tx.one(_START_JOB, params)
    decision = scheduler.Decision(task.job.id, solver_version, requeued_task=True)
    years = list(tx.sql.read_json(taken[1]))
    name = params["worker_name"]
    claimed = _claimed(decision, task.task_id, int(taken[0]), years, job, name, lease_until)
    return replace(claimed, taken_from=task.worker, suspended_since=task.suspended_since)


def _copy(
    tx: Tx,
    params: dict[str, Any],
    facts: list[scheduler.JobFacts],
    claimer: speculation.Claimer,
    rule: speculation.SpeculationRule,
    now: datetime,
    lease_until: datetime,
) -> Claimed | None:
    """A worker with nothing else to do runs a speculative copy of a slow task, if the
    rule picks one (docs/driver.md, "Speculative copies")."""
    started = copy_in(tx, params, facts, claimer, rule, now)
    if started is None:
        return None
    choice = started.choice
    decision = scheduler.Decision(choice.job_id, choice.solver_version, requeued_task=True)
    name = params["worker_name"]
    claimed = _claimed(
        decision,
        choice.task.task_id,
        started.attempt,
        started.years,
        started.job,
        name,
        lease_until,
    )
    return replace(
        claimed, copy_of=choice.task.attempt, copy_of_worker=started.job[6], behind=choice.behind
    )


_Taken = tuple[int, int, list[int], Any]


def _take_queued(tx: Tx, params: dict[str, Any]) -> _Taken | None:
    # lock order everywhere: worker, then job, then tasks (SQLite's writers are serialised)
    if not tx.sql.sqlite and tx.one(tx.sql.for_update(_LOCK_JOB), params)[0]:
        return None  # held since its facts were read
    row = tx.one(tx.sql.for_update(_LOWEST_QUEUED, skip_locked=True), params)
    if row is None:
        return None
    task_id = int(row[0])
    taken = tx.one(_TAKE_QUEUED, {**params, "task": task_id})
    if taken is None:
        return None
    job = tx.one(_START_JOB, params)
    return task_id, int(taken[0]), list(tx.sql.read_json(taken[1])), job


def _cut(
    tx: Tx, params: dict[str, Any], now: Any, free_cores: int, policy: ClaimPolicy
) -> _Taken | None:
    row = tx.one(tx.sql.for_update(_JOB_TO_CUT), params)
    text, next_index, splittable, status, held = row
    job_years = _job_years(params["job"], text)
    remaining = len(job_years) - next_index
    if status not in ("queued", "running") or held or remaining <= 0:
        return None
    pool, others_starting = scheduler.Pool(cores=0, workers=0), 0
    if policy.chunk_policy is ChunkPolicy.BALANCED:
        online = tx.sql.when(now - timedelta(seconds=policy.worker_offline_s))
        cores, count = tx.one(_POOL, {"online": online})
        pool = scheduler.Pool(cores=int(cores), workers=int(count))
        others_starting = int(tx.one(_OTHERS_STARTING, params)[0])
    facts = scheduler.ChunkFacts(
        unassigned=remaining,
        free_cores=free_cores,
        pool=pool,
        others_starting=others_starting,
        splittable=bool(splittable),
    )
    size = scheduler.chunk_size(policy.chunk_policy, facts)
    years = list(job_years[next_index : next_index + size])
    advance = {**params, "old_index": next_index, "new_index": next_index + size}
    job = tx.one(_START_AND_ADVANCE_JOB, advance)
    if job is None:
        return None
    insert = {
        **params,
        "years": tx.sql.json(years),
        "first_year": years[0],
        "n_years": len(years),
    }
    task_id = int(tx.one(_INSERT_TASK, insert)[0])
    return task_id, 1, years, job
