"""Scheduling policy: pure functions of facts -> decisions. No database, no HTTP, no clock.

The store gathers the facts inside its claim transaction, asks this module, and applies the
answer. Keeping the rules here means each one has a table-driven test and a reader finds
the whole policy in one page.

Rules (docs/driver.md explains them for users):

* Order: higher priority first; within a priority, first come first served (job id).
* Within a job, years are handed out in ascending order; a re-queued task (its years are
  lower than any unassigned year) is handed out before new years are cut.
* Version: a worker may run a job when it declared a solver of the study's major version
  and the same or a newer minor (8.8 runs 8.6 and 8.8 studies, not 9.x; 9.2 runs 9.0..9.2
  studies, not 8.x: across a major version Antares changes the study format and the
  meaning of some settings, e.g. hydro hot start was removed in 9.2). Among its
  compatible solvers the worker uses the oldest, the closest to the study. The first claim
  pins that version on the job: every later task of the job must run on exactly the same
  solver version, because partial runs of different versions cannot be merged.
* Chunk size (`balanced`, the default): see `chunk_size`.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from winjobs.driver.settings import ChunkPolicy


@dataclass(frozen=True, order=True)
class Version:
    major: int
    minor: int

    def __str__(self) -> str:
        return f"{self.major}.{self.minor}"


def parse_version(text: str) -> Version:
    """`"8.8"`, `"8.8.10"` or `"9.2"` -> Version; `"880"` (study.antares style) -> 8.8."""
    raw = text.strip()
    if raw.isdigit() and len(raw) == 3:
        return Version(int(raw[0]), int(raw[1]))
    parts = raw.split(".")
    if len(parts) < 2 or not all(p.isdigit() for p in parts[:2]):
        raise ValueError(f"{text!r} is not an Antares version such as 8.8 or 9.2")
    return Version(int(parts[0]), int(parts[1]))


def can_run(solver: Version, study: Version) -> bool:
    """Whether a solver of version `solver` may run a study of version `study`."""
    return solver.major == study.major and solver.minor >= study.minor


def solver_for(
    study_version: str, pinned: str | None, worker_versions: Iterable[str]
) -> str | None:
    """Which of the worker's declared solver versions runs this job (None: it cannot)."""
    declared = {parse_version(v) for v in worker_versions}
    if pinned is not None:
        pin = parse_version(pinned)
        return str(pin) if pin in declared else None
    study = parse_version(study_version)
    compatible = sorted(v for v in declared if can_run(v, study))
    return str(compatible[0]) if compatible else None


@dataclass(frozen=True)
class JobFacts:
    """What the scheduler needs to know about a job that is queued or running."""

    id: int
    priority: int
    antares_version: str
    solver_version: str | None  #: pinned by the job's first claim
    queued_tasks: int  #: tasks waiting for a (new) attempt
    unassigned_years: int  #: years not yet in any task


@dataclass(frozen=True)
class Decision:
    job_id: int
    solver_version: str
    #: True: hand out the job's lowest queued task; False: cut new years into a task
    requeued_task: bool


def job_order(job: JobFacts) -> tuple[int, int]:
    """Sort key: higher priority first, then first come first served."""
    return (-job.priority, job.id)


def pick(jobs: Sequence[JobFacts], worker_versions: Sequence[str]) -> Decision | None:
    """The job a worker with these solver versions should work on next, if any."""
    for job in sorted(jobs, key=job_order):
        if job.queued_tasks == 0 and job.unassigned_years == 0:
            continue
        solver = solver_for(job.antares_version, job.solver_version, worker_versions)
        if solver is None:
            continue
        return Decision(job.id, solver, requeued_task=job.queued_tasks > 0)
    return None


@dataclass(frozen=True)
class Pool:
    """The workers that share the remaining work (online, not draining)."""

    cores: int  #: their total cores
    workers: int


def chunk_size(
    policy: ChunkPolicy,
    unassigned: int,
    free_cores: int,
    pool: Pool,
    in_flight: int = 0,
    splittable: bool = True,
) -> int:
    """How many of a job's `unassigned` years a worker with `free_cores` gets.

    `cores` (the original tool): exactly its free cores, never more than what remains.

    `balanced` (factoring, a form of guided self-scheduling): the work still to do is the
    unassigned years plus those `in_flight` (in running tasks). The worker's fair share of
    it is `(unassigned + in_flight) * free_cores / pool.cores`; it gets HALF of that share,
    rounded down to whole rounds of `free_cores` years (the solver runs `free_cores` years
    at a time), and at least one round. Early on this gives few large tasks: less
    per-task overhead (staging, solver start-up, upload) and, since the solver fills its
    cores as years finish, less idle time behind a slow year. Counting the years in flight
    makes the first claims of a burst equal (a batch of equal chunks) instead of
    shrinking claim after claim, so workers finish their big tasks together. The half held
    back is handed out in ever smaller tasks, down to one round, so the last tasks are
    short and end together. The number of tasks stays O(workers * log(years / cores)).

    It never goes below one round: fewer years than cores finish no sooner (they run side
    by side) and only add a task's overhead.

    A study that cannot be split is one task of all its years.
    """
    if unassigned <= 0:
        return 0
    cores = max(1, free_cores)
    if not splittable:
        return unassigned
    if policy is ChunkPolicy.CORES:
        return min(cores, unassigned)
    total = max(pool.cores, cores)
    share = (unassigned + max(0, in_flight)) * cores / total
    rounds = max(1, math.floor(share / (2 * cores)))
    return min(cores * rounds, unassigned)


def eta_seconds(years_total: int, years_done: int, running_seconds: float) -> float | None:
    """Time left at the job's pace so far: finished years per second of running time.

    None until a year is finished (no pace to extrapolate from) or once all are done.
    """
    if years_done <= 0 or years_done >= years_total or running_seconds <= 0:
        return None
    pace = years_done / running_seconds
    return (years_total - years_done) / pace
