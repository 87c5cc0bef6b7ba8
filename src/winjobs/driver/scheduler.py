"""Scheduling policy: pure functions of facts -> decisions. No database, no HTTP, no clock.

The store gathers the facts inside its claim transaction, asks this module, and applies the
answer. Keeping the rules here means each one has a table-driven test and a reader finds
the whole policy in one page.

Rules (docs/driver.md explains them for users):

* Order: higher effective priority first (the priority, raised by aging while the job
  waits); within one, with fair share, the job of the user who used the pool least
  recently (per weight); then first come first served (job id). `fairshare` has the
  rules; `pick` takes the order the claim built from them (`fairshare.ranking`).
* Within a job, years are handed out in ascending order; a re-queued task (its years are
  lower than any unassigned year) is handed out before new years are cut.
* Version: a worker may run a job when one of its solvers may run the study
  (`antares.versions`: same major, same or newer minor; the oldest compatible one is
  used). The first claim pins that version on the job: every later task of the job must
  run on exactly the same solver version, because partial runs of different versions
  cannot be merged.
* Held jobs (their owner or an admin held them) keep their place in the order, but no
  task of theirs is handed out: the next job in the order gets the worker. Their running
  tasks are not touched (they finish).
* Chunk size (`balanced`, the default, or `cores`, the original tool's): see `chunk_size`.
* Why not: `assess` is the one rule deciding whether a worker may take a job's work. The
  claim's `pick` asks it job after job; `waiting` asks it for every worker of the pool to
  tell people why queued work waits, so the reason shown is the claim's own decision.
* Suspended tasks (a worker's owner came back): a task whose solver has been suspended for
  `reassign_suspended_after_s` goes to a worker that finds no other work: `pick_stalled`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import NamedTuple

from winjobs.antares.versions import Version, can_run, parse_version, solver_for
from winjobs.driver import fairshare
from winjobs.driver.settings import ChunkPolicy

#: The version rule lives in `winjobs.antares.versions` (the Slurm pool manager applies
#: it too); re-exported here, where the rest of the policy is.
__all__ = [
    "ChunkFacts",
    "Decision",
    "JobFacts",
    "Order",
    "Pool",
    "Version",
    "can_run",
    "chunk_size",
    "eta_seconds",
    "job_order",
    "parse_version",
    "pick",
    "solver_for",
]


class JobFacts(NamedTuple):
    """What the scheduler needs to know about a job that is queued or running. A named
    tuple: every claim builds one per active job (a frozen dataclass cost 2 us each)."""

    id: int
    priority: int
    antares_version: str
    solver_version: str | None  #: pinned by the job's first claim
    queued_tasks: int  #: tasks waiting for a (new) attempt
    unassigned_years: int  #: years not yet in any task
    held: bool = False  #: held by its owner or an admin: none of its tasks is handed out
    user: str = ""  #: who submitted it (fair share compares users' usage)
    submitted_at: float = 0.0  #: seconds since the epoch (aging); 0: not asked for


@dataclass(frozen=True)
class Decision:
    job_id: int
    solver_version: str
    #: True: hand out the job's lowest queued task; False: cut new years into a task
    requeued_task: bool


#: the sort key of the queue: `fairshare.ranking` builds it from the users' usage and
#: the clock; without them, the original order (priority, then first come first served)
Order = Callable[[JobFacts], fairshare.OrderKey]
job_order: Order = fairshare.strict_order


class Blocker(StrEnum):
    """Why a worker may not take any of a job's work now (`assess`)."""

    #: no queued task this worker may take (none, or only ones it failed and must leave
    #: to others) and no year left to cut
    NOTHING_FOR_IT = "nothing_for_it"
    #: none of its solvers may run the study (major version, or too old a minor)
    NO_SOLVER = "no_solver"
    #: it could run the study, but not with the version the job's first task pinned
    PINNED_VERSION = "pinned_version"
    #: the job is held by its owner or an admin: no task of it is handed out
    JOB_HELD = "job_held"


@dataclass(frozen=True)
class Verdict:
    """`assess`'s answer: the solver version to run the job with, or why not."""

    solver: str | None = None
    blocker: Blocker | None = None


def assess(job: JobFacts, worker_versions: Sequence[str]) -> Verdict:
    """Whether a worker with these solver versions may take work of this job now.

    `job` is the job as this worker sees it: `queued_tasks` leaves out the tasks it failed
    and must leave to others (the store counts them per claiming worker)."""
    if job.queued_tasks == 0 and job.unassigned_years == 0:
        return Verdict(blocker=Blocker.NOTHING_FOR_IT)
    if job.held:
        return Verdict(blocker=Blocker.JOB_HELD)
    solver = solver_for(job.antares_version, job.solver_version, worker_versions)
    if solver is not None:
        return Verdict(solver=solver)
    if job.solver_version is not None and solver_for(job.antares_version, None, worker_versions):
        return Verdict(blocker=Blocker.PINNED_VERSION)
    return Verdict(blocker=Blocker.NO_SOLVER)


def pick(
    jobs: Sequence[JobFacts], worker_versions: Sequence[str], order: Order = job_order
) -> Decision | None:
    """The job a worker with these solver versions should work on next, if any: the first
    job in `order` that `assess` lets it take."""
    for job in sorted(jobs, key=order):
        solver = assess(job, worker_versions).solver
        if solver is not None:
            return Decision(job.id, solver, requeued_task=job.queued_tasks > 0)
    return None


@dataclass(frozen=True)
class StalledTask:
    """A running task whose solver its worker has suspended for too long."""

    task_id: int
    attempt: int
    worker: str
    suspended_since: datetime
    job: JobFacts


def pick_stalled(
    tasks: Sequence[StalledTask], worker_versions: Sequence[str]
) -> tuple[StalledTask, str] | None:
    """The suspended task an otherwise idle worker takes over, with the solver version it
    runs it with: in job order, the longest suspended first; None if it can run none.

    Only a worker that found no queued task and no new years anywhere gets here: the
    suspended task may still resume, and its progress is lost when it moves, so it moves
    only to cores that would otherwise stay idle (docs/driver.md, "Suspended tasks")."""
    for task in sorted(tasks, key=lambda t: (job_order(t.job), t.suspended_since, t.task_id)):
        solver = solver_for(task.job.antares_version, task.job.solver_version, worker_versions)
        if solver is not None:
            return task, solver
    return None


@dataclass(frozen=True)
class Pool:
    """The workers that share the remaining work (online, not draining)."""

    cores: int  #: their total cores
    workers: int


@dataclass(frozen=True)
class ChunkFacts:
    """What the store knows, inside its claim transaction, when it cuts a task."""

    unassigned: int  #: the job's years not yet in any task
    free_cores: int  #: the claiming worker's cores
    pool: Pool
    #: years of the job in tasks that OTHER workers claimed and have reported no finished
    #: year of yet (heartbeats report whole batches of the solver). The claiming worker's
    #: own running task never counts: a worker claims only once its solver exited.
    others_starting: int = 0
    splittable: bool = True


def chunk_size(policy: ChunkPolicy, facts: ChunkFacts) -> int:
    """How many of a job's unassigned years a claiming worker gets.

    `cores` (the original tool): exactly its free cores, never more than what remains.

    `balanced` (the default) is factoring (Hummel, Schonberg and Flynn, 1992) weighted by
    cores and counted in rounds, a round being `free_cores` years: the solver runs that
    many years at once, in batches as long as their slowest year, so a round takes about
    as long on any worker. The work to share is the unassigned years plus the years of
    the tasks other workers have just claimed (`others_starting`), so that the claims of a
    burst (a job arriving on idle workers) get equal chunks, like one batch of factoring,
    instead of shrinking claim after claim. Work other workers are already getting
    through is not shared again: the first `balanced` counted it, which made the second
    burst's chunks as big as the first's, so jobs ended on big chunks that could not
    finish together. The worker gets HALF of its fair share of that work, in whole
    rounds, at least one:

        rounds = max(1, (unassigned + others_starting) // (2 * pool.cores))
        chunk = min(rounds * free_cores, unassigned)

    Each burst thus hands out about half of what is left: 96 years on 4 workers of 4
    cores give 12, 12, 12, 12, then 4s (the next burst finds 48 years: 1.5 rounds); 1000
    years on them about 30 tasks instead of 250. Why: every task costs its worker time
    its cores do not compute (claim, staging, solver start-up and end; the upload
    overlaps the next task), so early tasks should be big; but years vary and so do
    workers, and the held-back half, handed out in ever smaller tasks down to a single
    round, evens the workers out so that the last chunks finish together.

    What it gains (benchmarks/sim_makespan.py, which calls this function with the facts
    the store gathers, over 1260 scenarios: worker mixes, year-time spreads, 10 to 1000
    years, per-task overhead 2, 10 and 30 % of a year): makespan 2.2 % shorter than
    `cores` on average, 4.6 % at a 30 % overhead, up to 20 %. It can lose where the
    overhead is negligible (2 % of a year: 0.3 % shorter on average, up to 7.6 % longer
    with very uneven years, where any chunk above one round can only add risk at the
    end), at most 2.2 % at a 10 % overhead. It cannot do better there without knowing
    the overhead, and nothing tells it before the first tasks are done, which is when
    the big chunks are cut. Jobs of fewer than 4 rounds of the pool get one round per
    task, as with `cores`.

    Never below one round: fewer years than cores finish no sooner on that worker (they
    run side by side) and only add a task's overhead. A study that cannot be split is one
    task of all its years.
    """
    unassigned = facts.unassigned
    if unassigned <= 0:
        return 0
    cores = max(1, facts.free_cores)
    if not facts.splittable:
        return unassigned
    if policy is ChunkPolicy.CORES:
        return min(cores, unassigned)
    pool_cores = max(facts.pool.cores, cores)
    work = unassigned + max(0, facts.others_starting)
    rounds = max(1, work // (2 * pool_cores))
    return min(cores * rounds, unassigned)


def eta_seconds(years_total: int, years_done: int, running_seconds: float) -> float | None:
    """Time left at the job's pace so far: finished years per second of running time.

    None until a year is finished (no pace to extrapolate from) or once all are done.
    """
    if years_done <= 0 or years_done >= years_total or running_seconds <= 0:
        return None
    pace = years_done / running_seconds
    return (years_total - years_done) / pace
