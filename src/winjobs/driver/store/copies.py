"""Speculative copies (`speculation`, `models.TaskCopy`): started by a claim that found
no other work, fenced like attempts, ended by the first completion.

A task's original attempt keeps the task row's fence (task, attempt, worker, running)
untouched: the hot reports of every other task run exactly as before. A copy has its own
fence in `task_copies` (task, attempt, worker, status running, the task still running),
looked at only when a report missed the task row's. The completion of either is
accepted once: it makes the task succeeded, with the winner's attempt and worker (a
copy's output is then found where the original's would be), and ends the other, whose
reports are then refused and whose heartbeat answers "cancel".

Plain statements on the writer's cursor (`writer.Tx`), like the claim and the reports.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, NamedTuple

from winjobs.driver import scheduler, speculation
from winjobs.driver.store.records import HeldTask
from winjobs.driver.store.writer import Tx

#: the claiming worker failed this task and must leave it to others (`claims`' twin)
_NOT_AVOIDED = (
    "NOT EXISTS (SELECT 1 FROM task_failures WHERE task_failures.task_id = tasks.id "
    "AND task_failures.worker_id = :worker AND task_failures.avoid)"
)
_RUNNING = (
    "SELECT tasks.id, tasks.attempt, tasks.worker_id, tasks.n_years, "
    "coalesce(workers.cores, 1), tasks.started_at, tasks.years_done, "
    "tasks.suspended_at IS NOT NULL, "
    "EXISTS (SELECT 1 FROM task_copies WHERE task_copies.task_id = tasks.id) "
    "FROM tasks LEFT JOIN workers ON workers.id = tasks.worker_id "
    f"WHERE tasks.job_id = :job AND tasks.status = 'running' AND {_NOT_AVOIDED}"
)
_FINISHED = (
    "SELECT tasks.n_years, coalesce(workers.cores, 1), tasks.started_at, tasks.finished_at "
    "FROM tasks LEFT JOIN workers ON workers.id = tasks.worker_id "
    "WHERE tasks.job_id = :job AND tasks.status = 'succeeded' "
    "AND tasks.started_at IS NOT NULL AND tasks.finished_at IS NOT NULL"
)
_LOCK_JOB = "SELECT held FROM jobs WHERE id = :job"
#: one copy per task, ever: the unique task id makes a second insert a no-op
_INSERT_COPY = (
    "INSERT INTO task_copies (task_id, attempt, of_attempt, of_worker_id, of_worker_name, "
    "worker_id, worker_name, status, lease_until, years_done, started_at) "
    "SELECT id, attempt + 1, attempt, worker_id, worker_name, :worker, :worker_name, "
    "'running', :lease, 0, :now FROM tasks WHERE id = :task AND attempt = :old_attempt "
    "AND status = 'running' AND worker_id IS DISTINCT FROM :worker "
    "ON CONFLICT (task_id) DO NOTHING RETURNING attempt"
)
_ASSIGNMENT = (
    "SELECT jobs.antares_version, jobs.study_sha256, jobs.study_size, jobs.study_name, "
    "jobs.task_time_limit_s, tasks.years, tasks.worker_name FROM jobs "
    "JOIN tasks ON tasks.job_id = jobs.id WHERE tasks.id = :task"
)

#: the copy's fence: this attempt is the task's running copy, and the task still runs
_COPY_FENCE = (
    "task_copies.task_id = :task AND task_copies.attempt = :attempt "
    "AND task_copies.worker_id = :worker AND task_copies.status = 'running'"
)
_TASK_RUNNING = "EXISTS (SELECT 1 FROM tasks WHERE tasks.id = :task AND tasks.status = 'running')"
_HELD = (
    "SELECT tasks.job_id, tasks.years, tasks.solver_version, task_copies.started_at "
    "FROM task_copies JOIN tasks ON tasks.id = task_copies.task_id "
    f"WHERE {_COPY_FENCE} AND tasks.status = 'running'"
)
_HEARTBEAT = (
    "UPDATE task_copies SET lease_until = :lease, years_done = CASE WHEN "
    "(SELECT n_years FROM tasks WHERE tasks.id = :task) < :done "
    "THEN (SELECT n_years FROM tasks WHERE tasks.id = :task) ELSE :done END "
    f"WHERE {_COPY_FENCE} AND {_TASK_RUNNING}"
)
_COPY_STATE = (
    "SELECT task_copies.status, task_copies.attempt, task_copies.worker_id, "
    "task_copies.of_attempt, task_copies.of_worker_id "
    "FROM task_copies WHERE task_copies.task_id = :task"
)
#: the copy completed first: the task is done, with the copy's attempt and worker
_COMPLETE = (
    "UPDATE tasks SET status = 'succeeded', attempt = :attempt, worker_id = :worker, "
    "worker_name = (SELECT worker_name FROM task_copies WHERE " + _COPY_FENCE + "), "
    "started_at = (SELECT started_at FROM task_copies WHERE " + _COPY_FENCE + "), "
    "finished_at = :now, lease_until = NULL, years_done = n_years, log_tail = :log, "
    "error = NULL, output_location = :location, suspended_at = NULL "
    "WHERE id = :task AND status = 'running' AND EXISTS "
    "(SELECT 1 FROM task_copies WHERE " + _COPY_FENCE + ")"
)
_WON = (
    "UPDATE task_copies SET status = 'won', lease_until = NULL, finished_at = :now, "
    "reason = 'completed before the original' WHERE " + _COPY_FENCE
)
#: the original completed first: its running copy (if any) is cancelled
_LOST = (
    "UPDATE task_copies SET status = 'lost', lease_until = NULL, finished_at = :now, "
    "reason = 'the original completed first' "
    "WHERE task_id = :task AND status = 'running'"
)


class Started(NamedTuple):
    """A copy just started: the rule's choice, the copy's attempt, the task's years and
    the job's assignment row (`claims._ASSIGNMENT`'s columns, then the years and the
    original's worker)."""

    choice: speculation.Copy
    attempt: int
    years: list[int]
    job: Any


def copy_in(
    tx: Tx,
    params: dict[str, Any],
    jobs: list[scheduler.JobFacts],
    claimer: speculation.Claimer,
    rule: speculation.SpeculationRule,
    now: datetime,
) -> Started | None:
    """A claim that found no other work: a copy of the task `speculation.pick_copy`
    chooses, if any. Reads only the jobs that have nothing left to hand out."""
    tails = [
        tail
        for job in jobs
        if not (speculation.needs_work(job) or job.held)
        and (tail := _tail(tx, params, job, claimer.worker_id, now)) is not None
    ]
    choice = speculation.pick_copy(tails, claimer, rule)
    if choice is None:
        return None
    params = {**params, "job": choice.job_id, "task": choice.task.task_id}
    if not tx.sql.sqlite and tx.one(tx.sql.for_update(_LOCK_JOB), params)[0]:
        return None  # held since its facts were read (lock order: worker, job, tasks)
    inserted = tx.one(_INSERT_COPY, params | {"old_attempt": choice.task.attempt})
    if inserted is None:
        return None  # the original ended, or another claim copied it meanwhile
    job = tx.one(_ASSIGNMENT, params)
    return Started(choice, int(inserted[0]), list(tx.sql.read_json(job[5])), job)


def _tail(
    tx: Tx, params: dict[str, Any], job: scheduler.JobFacts, worker_id: int, now: datetime
) -> speculation.JobTail | None:
    """The job's running tasks and, only if one of them could be copied at all, its
    finished ones (for its pace)."""
    params = {**params, "job": job.id}
    running = [
        speculation.RunningTask(
            task_id=int(task_id),
            attempt=int(attempt),
            worker_id=None if worker is None else int(worker),
            n_years=int(n_years),
            cores=int(cores),
            elapsed_s=0.0 if started is None else (now - tx.sql.read_when(started)).total_seconds(),
            copied=bool(copied),
            suspended=bool(suspended),
            years_done=int(done),
        )
        for task_id, attempt, worker, n_years, cores, started, done, suspended, copied in (
            tx.execute(_RUNNING, params).fetchall()
        )
    ]
    if not any(not t.copied and not t.suspended and t.worker_id != worker_id for t in running):
        return None
    finished = [
        speculation.FinishedTask(
            int(n_years),
            int(cores),
            (tx.sql.read_when(ended) - tx.sql.read_when(started)).total_seconds(),
        )
        for n_years, cores, started, ended in tx.execute(_FINISHED, params).fetchall()
    ]
    return speculation.JobTail(job, finished, running)


def held_copy_in(tx: Tx, params: dict[str, Any]) -> HeldTask | None:
    """What the attempt holds if it is the task's running copy, else None."""
    held = tx.one(_HELD, params)
    if held is None:
        return None
    started = tx.sql.read_when(held[3])
    return HeldTask(int(held[0]), list(tx.sql.read_json(held[1])), held[2], started, copy=True)


def heartbeat_copy_in(tx: Tx, params: dict[str, Any]) -> bool:
    """Renew the copy's lease; False: the attempt is not a running copy of a running task."""
    return bool(tx.execute(_HEARTBEAT, params).rowcount == 1)


def cancelled_by_copy(tx: Tx, params: dict[str, Any]) -> bool:
    """Whether this attempt lost to the other copy of its task (or is a copy of a task
    that was cancelled): its worker stops it, as for a cancelled job."""
    row = tx.one(_COPY_STATE, params)
    if row is None:
        return False
    status, attempt, worker, of_attempt, of_worker = row
    me = (params["attempt"], params["worker"])
    if (attempt, worker) == me:
        return bool(status in ("lost", "cancelled"))
    return bool(status == "won" and (of_attempt, of_worker) == me)


def complete_copy_in(tx: Tx, params: dict[str, Any]) -> bool:
    """The copy completed first: the task is done with its attempt; False: it no longer
    holds the task (the original completed first, or the task was cancelled)."""
    if tx.execute(_COMPLETE, params).rowcount != 1:
        return False
    tx.execute(_WON, params)
    return True


def original_won_in(tx: Tx, params: dict[str, Any]) -> None:
    """The original completed: its running copy, if any, is cancelled (lease ended)."""
    tx.execute(_LOST, params)
