"""Time estimates: when a running task ends, a job's ETA (and what it rests on), the pool's
throughput. Pure functions of task timings; the clock is an argument.

The unit of time is the **batch**: a worker with `c` cores runs a task of `n` years as
`ceil(n / c)` batches of up to `c` years side by side, each lasting about as long as one
year alone (docs/driver.md, "Scheduling"). Time per batch is what carries over from one
task, worker or job of a study to another; time per year would depend on the cores.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from winjobs.driver import scheduler
from winjobs.wire import EtaBasis


@dataclass(frozen=True)
class TaskRun:
    """One attempt's timing (the latest attempt of a task, as the store keeps it)."""

    started_at: datetime
    finished_at: datetime | None  #: None: still running
    n_years: int
    years_done: int  #: all of them once finished; the heartbeats' count while running
    cores: int = 1  #: of the worker that ran it (1 when that worker is gone)

    @property
    def batches(self) -> int:
        return -(-self.n_years // max(1, self.cores))


def batch_seconds(runs: Iterable[TaskRun]) -> float | None:
    """The median time one batch took over finished runs; None without one."""
    times = [
        (run.finished_at - run.started_at).total_seconds() / run.batches
        for run in runs
        if run.finished_at is not None and run.n_years > 0
    ]
    positive = [t for t in times if t > 0]
    return statistics.median(positive) if positive else None


def task_end(run: TaskRun, now: datetime, per_batch: float | None) -> datetime | None:
    """When a running task should end: at its own pace once its solver reported years,
    else after its batches at `per_batch`; None when neither is known. Never before now."""
    elapsed = max(0.0, (now - run.started_at).total_seconds())
    if run.years_done > 0:
        seconds = elapsed * run.n_years / run.years_done
    elif per_batch is not None:
        seconds = run.batches * per_batch
    else:
        return None
    return max(now, run.started_at + timedelta(seconds=seconds))


@dataclass(frozen=True)
class Estimate:
    seconds: float
    basis: EtaBasis


@dataclass(frozen=True)
class JobTiming:
    """A job's progress and the timings its ETA may rest on."""

    years_total: int
    years_done: int  #: finished tasks' years + running tasks' reports
    running_seconds: float  #: since its first claim
    finished_tasks: int
    running: Sequence[TaskRun]
    #: time per batch on the study's earlier jobs (same archive, else same name)
    history_batch_s: float | None = None


def job_eta(timing: JobTiming, now: datetime) -> Estimate | None:
    """The ETA and its basis, the most direct evidence first.

    1. A task finished: the job's pace so far (years done per second since its first
       claim, `scheduler.eta_seconds`).
    2. No task finished, but running solvers reported years (year-by-year runs log each
       year's end; the heartbeats carry the count): the sum of those tasks' own paces.
    3. No year done yet: the batches still to run on the cores now running the job, at
       the time per batch the study's earlier jobs took.
    None before any of these is known (e.g. a new study's first minutes).
    """
    left = timing.years_total - timing.years_done
    if left <= 0:
        return None
    if timing.finished_tasks > 0:
        pace = scheduler.eta_seconds(timing.years_total, timing.years_done, timing.running_seconds)
        return Estimate(pace, EtaBasis.PACE) if pace is not None else None
    reporting = [r for r in timing.running if r.years_done > 0]
    if reporting:
        rate = sum(r.years_done / _elapsed(r, now) for r in reporting)
        return Estimate(left / rate, EtaBasis.SOLVER_LOG)
    if timing.history_batch_s and timing.running:
        # years per second: each running task runs min(cores, years) years per batch
        rate = sum(min(r.cores, r.n_years) for r in timing.running) / timing.history_batch_s
        return Estimate(left / rate, EtaBasis.HISTORY)
    return None


def _elapsed(run: TaskRun, now: datetime) -> float:
    return max(1.0, (now - run.started_at).total_seconds())


def years_per_hour(runs: Iterable[TaskRun], now: datetime, window: timedelta) -> float:
    """Years done in the last `window`, per hour: each run's years spread evenly over its
    time, counted for the part of it inside the window (running ones: the years their
    solvers reported so far). Smooth where counting whole tasks at their end would jump
    by a big chunk at once."""
    start = now - window
    done = 0.0
    for run in runs:
        end = run.finished_at or now
        span = (end - run.started_at).total_seconds()
        years = run.n_years if run.finished_at is not None else run.years_done
        if years <= 0 or end <= start:
            continue
        if span <= 0:
            done += years
            continue
        inside = (end - max(start, run.started_at)).total_seconds()
        done += years * max(0.0, inside) / span
    return done / (window.total_seconds() / 3600)


def drain_seconds(years_left: int, per_hour: float) -> float | None:
    """Time to run the queue's years at this throughput; None when nothing ran lately."""
    if years_left <= 0:
        return 0.0
    if per_hour <= 0:
        return None
    return years_left / per_hour * 3600
