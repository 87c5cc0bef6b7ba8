"""Speculative copies of slow tasks: pure functions of facts -> a decision. No database,
no HTTP, no clock.

The end of a job is its slowest task. Once a job has nothing left to hand out (no queued
task, no unassigned year), a task running on a slower or busier machine holds the job
while other workers sit idle. A worker that claims and finds no other work may then run
a second copy of such a task; the first copy to complete wins, the other is cancelled
(its worker learns it at its next heartbeat) and its report is refused by the fencing.

The rule (docs/driver.md, "Speculative copies"):

* Pace: a task of `n` years on a worker of `c` cores runs in `ceil(n / c)` rounds (the
  solver runs `c` years at a time). The job's pace is the median, over its finished
  tasks (at least `min_finished` of them), of their run time per round.
* Behind: a running task is behind when it has run longer than `factor` times what its
  rounds take at that pace (`elapsed > factor * pace * rounds`). Tasks whose solver is
  suspended are left to the suspended-task rule (`scheduler.pick_stalled`).
* Worth it: a copy runs all the task's years again, so it must be expected to end first.
  It is expected to take `pace * rounds` on the claimer; a task that reported finished
  batches is expected to need what its own pace says for the rest, counting it half way
  through its current round: `rounds * elapsed / (done + 1/2) - elapsed`. A task with no
  finished batch has shown no pace of its own: being behind is all the rule knows.
* Eligible: the job has no queued task and no unassigned year (so the copy only takes
  cores nothing else wants); the task never had a copy (at most one extra copy per
  task, ever); it does not run on the claiming worker; the claimer can run the job's
  pinned solver version, and runs the task in no more rounds than the task's own worker
  (a copy that needs more rounds cannot catch up).
* Choice: in job order (`scheduler.job_order`), the task furthest behind its pace.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass

from winjobs.driver.scheduler import JobFacts, job_order, solver_for


@dataclass(frozen=True)
class SpeculationRule:
    """The settings of the rule (`DriverSettings.speculative_*`)."""

    #: a running task is behind when it has run this many times its expected time
    factor: float = 1.5
    #: finished tasks of the job needed before its pace is trusted
    min_finished: int = 2


@dataclass(frozen=True)
class FinishedTask:
    """A task of the job that succeeded: how long its winning attempt ran."""

    n_years: int
    cores: int  #: of the worker that ran it
    seconds: float


@dataclass(frozen=True)
class RunningTask:
    task_id: int
    attempt: int
    worker_id: int | None
    n_years: int
    cores: int  #: of the worker running it
    elapsed_s: float  #: since its attempt was claimed
    copied: bool = False  #: it has (or had) a copy: never a second one
    suspended: bool = False  #: its solver is suspended (the suspended-task rule's business)
    years_done: int = 0  #: years of the batches it reported finished


@dataclass(frozen=True)
class JobTail:
    """A job as the rule sees it: its facts, its finished tasks and its running ones."""

    job: JobFacts
    finished: Sequence[FinishedTask]
    running: Sequence[RunningTask]


@dataclass(frozen=True)
class Claimer:
    """The worker that claimed and found no other work."""

    worker_id: int
    cores: int
    versions: Sequence[str]


@dataclass(frozen=True)
class Copy:
    """The decision: run a copy of this task, with this solver version."""

    job_id: int
    task: RunningTask
    solver_version: str
    behind: float  #: how many times its expected time it has run


def rounds(n_years: int, cores: int) -> int:
    """Batches of `cores` years the solver needs for `n_years` (at least one)."""
    return max(1, math.ceil(n_years / max(1, cores)))


def pace(finished: Sequence[FinishedTask], rule: SpeculationRule) -> float | None:
    """The job's median run time per round; None until `rule.min_finished` tasks finished."""
    if len(finished) < max(1, rule.min_finished):
        return None
    return statistics.median(t.seconds / rounds(t.n_years, t.cores) for t in finished)


def behind(task: RunningTask, per_round: float) -> float:
    """How many times the time its rounds take at the job's pace the task has run."""
    expected = per_round * rounds(task.n_years, task.cores)
    return math.inf if expected <= 0 else task.elapsed_s / expected


def needs_work(job: JobFacts) -> bool:
    """The job still has work to hand out: no copy of it is started (copies take only
    cores that nothing else wants)."""
    return job.queued_tasks > 0 or job.unassigned_years > 0


def pick_copy(jobs: Sequence[JobTail], claimer: Claimer, rule: SpeculationRule) -> Copy | None:
    """The running task an otherwise idle worker should copy, if any (module docstring)."""
    for tail in sorted(jobs, key=lambda t: job_order(t.job)):
        if needs_work(tail.job) or tail.job.held:
            continue
        solver = solver_for(tail.job.antares_version, tail.job.solver_version, claimer.versions)
        per_round = pace(tail.finished, rule)
        if solver is None or per_round is None:
            continue
        candidates = [
            (ratio, task)
            for task in tail.running
            if _may_copy(task, claimer)
            and (ratio := behind(task, per_round)) > rule.factor
            and _copy_ends_first(task, claimer, per_round)
        ]
        if candidates:
            ratio, task = max(candidates, key=lambda c: (c[0], -c[1].task_id))
            return Copy(tail.job.id, task, solver, ratio)
    return None


def left_s(task: RunningTask) -> float | None:
    """What the task needs yet at its own pace (None: no finished batch, no pace of its
    own), as if half way through its current round."""
    done = task.years_done / max(1, task.cores)
    if done <= 0:
        return None
    return rounds(task.n_years, task.cores) * task.elapsed_s / (done + 0.5) - task.elapsed_s


def _copy_ends_first(task: RunningTask, claimer: Claimer, per_round: float) -> bool:
    left = left_s(task)
    return left is None or per_round * rounds(task.n_years, claimer.cores) < left


def _may_copy(task: RunningTask, claimer: Claimer) -> bool:
    return (
        not task.copied
        and not task.suspended
        and task.worker_id != claimer.worker_id
        and rounds(task.n_years, claimer.cores) <= rounds(task.n_years, task.cores)
    )
