"""How many pilots to submit, which pending ones to cancel: a pure function of the facts.

No Slurm, no HTTP, no clock: the manager gathers the facts each round (the driver's
queue and workers, its pilots' Slurm states) and applies the plan, so every rule has a
table-driven test. The rules:

* Work the cluster could run: the years waiting (queued tasks and years not yet cut)
  of active jobs that one of the cluster's solvers may run (`antares.versions`; a job
  pinned to a version the cluster lacks, or of a version it cannot read, is left to the
  office workers: no pilot for it, ever).
* What the pool starts now: idle workers (office machines and registered pilots) take
  those years first, a core per year, each only years of jobs its solvers may run,
  jobs in the scheduler's order. Busy workers do not count: the years wait until
  someone frees up, and pilots are for that. Nor do idle office machines whose owner's
  policy gives no work now (outside their schedule, their owner active: docs/worker.md).
* Pilots to come: those pending in Slurm and those running whose worker has not
  registered yet count with their cores.
* Submit `ceil(uncovered / cores per pilot)` more pilots, where `uncovered` is what is
  left after both, within `max_pilots` (pending, running and ending ones count).
* Cancel pending pilots, newest first, while the pilots to come still cover the years
  left without them: all of them when the queue has nothing for the cluster. Submitting
  rounds up and cancelling rounds down, so the two never undo each other.
* Running pilots are never cancelled: they end by themselves when a claim finds no work
  (`--exit-when-idle`), or drain before their time limit.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from winjobs.antares.versions import solver_for
from winjobs.wire import QueuedWork, WorkerInfo, WorkerState


class Phase(StrEnum):
    """Where a pilot is, as far as capacity goes."""

    PENDING = "pending"  #: waiting in Slurm's queue: capacity to come, may be cancelled
    STARTING = "starting"  #: running in Slurm, its worker not registered yet: to come
    WORKING = "working"  #: its worker is registered: counted with the driver's workers
    LEAVING = "leaving"  #: draining, completing, stuck: no capacity, still in the queue


@dataclass(frozen=True)
class Pilot:
    job_id: str
    phase: Phase
    cores: int
    order: int = 0  #: submission order (higher: newer); the newest are cancelled first


@dataclass(frozen=True)
class Facts:
    jobs: Sequence[QueuedWork]  #: the driver's waiting work, in the scheduler's order
    workers: Sequence[WorkerInfo]  #: every worker the driver knows, pilots' included
    pilots: Sequence[Pilot]  #: this pool's pilots still in Slurm's queue
    cluster_versions: Sequence[str]  #: the versions of the cluster's solvers
    cores_per_pilot: int
    max_pilots: int


@dataclass(frozen=True)
class Plan:
    submit: int  #: pilots to submit now
    cancel: tuple[str, ...]  #: pending pilots to cancel (job ids)
    cluster_years: int  #: years waiting that the cluster could run
    uncovered_years: int  #: of those, what neither idle workers nor coming pilots take
    coming_cores: int  #: cores of the pilots pending or starting

    def describe(self) -> str:
        """One line for the manager's log."""
        return (
            f"{self.cluster_years} year(s) waiting for the cluster, {self.uncovered_years} "
            f"not taken by idle workers, {self.coming_cores} core(s) of pilots to come"
        )


def runnable_work(jobs: Sequence[QueuedWork], versions: Sequence[str]) -> list[QueuedWork]:
    """The jobs with waiting years that one of `versions` may run."""
    return [
        job
        for job in jobs
        if job.years_waiting > 0
        and solver_for(job.antares_version, job.solver_version, versions) is not None
    ]


def _uncovered(jobs: Sequence[QueuedWork], workers: Sequence[WorkerInfo]) -> int:
    """Years idle workers cannot take now: each idle core takes one waiting year of a
    job its solvers may run, jobs in the scheduler's order, biggest workers first."""
    left = {job.job_id: job.years_waiting for job in jobs}
    idle = sorted(
        (w for w in workers if w.state is WorkerState.IDLE and _takes_work(w)),
        key=lambda w: (-w.cores, w.name),
    )
    for worker in idle:
        cores = worker.cores
        for job in jobs:
            if cores == 0:
                break
            if left[job.job_id] and solver_for(
                job.antares_version, job.solver_version, worker.versions
            ):
                taken = min(cores, left[job.job_id])
                left[job.job_id] -= taken
                cores -= taken
    return sum(left.values())


def _takes_work(worker: WorkerInfo) -> bool:
    """Its owner's policy lets it take work now (or it reports no policy)."""
    return worker.policy is None or worker.policy.takes_work


def plan(facts: Facts) -> Plan:
    jobs = runnable_work(facts.jobs, facts.cluster_versions)
    cluster_years = sum(job.years_waiting for job in jobs)
    uncovered = _uncovered(jobs, facts.workers) if jobs else 0
    coming = [p for p in facts.pilots if p.phase in (Phase.PENDING, Phase.STARTING)]
    coming_cores = sum(p.cores for p in coming)
    need = uncovered - coming_cores
    submit = 0
    if need > 0:
        room = max(0, facts.max_pilots - len(facts.pilots))
        submit = min(room, math.ceil(need / max(1, facts.cores_per_pilot)))
    cancel: list[str] = []
    surplus = -need
    pending = sorted((p for p in facts.pilots if p.phase is Phase.PENDING), key=lambda p: -p.order)
    for pilot in pending:
        if pilot.cores <= surplus:
            cancel.append(pilot.job_id)
            surplus -= pilot.cores
    return Plan(submit, tuple(cancel), cluster_years, uncovered, coming_cores)
