"""Time estimates (driver/estimates.py): an ETA from the first minute, and what it rests
on; when a running task ends; the pool's throughput."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from winjobs.driver.estimates import (
    Estimate,
    JobTiming,
    TaskRun,
    batch_seconds,
    drain_seconds,
    job_eta,
    task_end,
    years_per_hour,
)
from winjobs.wire import EtaBasis

NOW = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)


def run(
    started_min: float, n_years: int, done: int = 0, cores: int = 2, end_min: float | None = None
) -> TaskRun:
    return TaskRun(
        started_at=NOW - timedelta(minutes=started_min),
        finished_at=NOW - timedelta(minutes=end_min) if end_min is not None else None,
        n_years=n_years,
        years_done=done,
        cores=cores,
    )


def timing(
    done: int = 0,
    finished: int = 0,
    running: list[TaskRun] | None = None,
    history: float | None = None,
    seconds: float = 60,
    total: int = 20,
) -> JobTiming:
    return JobTiming(total, done, seconds, finished, running or [], history)


CASES = [
    # (what, timing, expected)
    ("a finished task: the job's own pace (4 years in 10 min -> 16 in 40)",
     timing(done=4, finished=1, seconds=600), Estimate(2400.0, EtaBasis.PACE)),
    ("no task finished, the solver reported 2 years in 2 min: 18 left at 1/min",
     timing(done=2, running=[run(2, 8, done=2)]), Estimate(1080.0, EtaBasis.SOLVER_LOG)),
    ("two tasks reporting: their paces add up",
     timing(done=4, running=[run(2, 8, done=2), run(1, 8, done=2)]),
     Estimate(16 / 3 * 60, EtaBasis.SOLVER_LOG)),
    ("nothing reported yet: earlier jobs took 5 min a batch, 2+2 years a batch now",
     timing(running=[run(1, 8), run(1, 8)], history=300), Estimate(1500.0, EtaBasis.HISTORY)),
    ("a 1-year task runs 1 year a batch, not its worker's cores",
     timing(running=[run(1, 1, cores=8)], history=300), Estimate(6000.0, EtaBasis.HISTORY)),
    ("a new study's first minute: nothing to go on", timing(running=[run(1, 8)]), None),
    ("queued, no task running, history or not", timing(history=300), None),
    ("all done", timing(done=20, finished=3), None),
]  # fmt: skip


@pytest.mark.parametrize(("what", "facts", "expected"), CASES, ids=[c[0] for c in CASES])
def test_job_eta(what: str, facts: JobTiming, expected: Estimate | None) -> None:
    got = job_eta(facts, NOW)
    if expected is None:
        assert got is None, what
    else:
        assert got is not None and got.basis is expected.basis, what
        assert got.seconds == pytest.approx(expected.seconds), what


def test_batch_seconds_is_the_median_time_per_batch() -> None:
    runs = [
        run(30, 4, cores=2, end_min=20),  # 10 min for 2 batches: 300 s
        run(30, 2, cores=2, end_min=26),  # 4 min for 1 batch: 240 s
        run(30, 3, cores=1, end_min=0),  # 30 min for 3 batches: 600 s
        run(5, 4),  # running: not counted
    ]
    assert batch_seconds(runs) == 300.0
    assert batch_seconds([run(5, 4)]) is None


def test_task_end_at_its_pace_else_at_the_history_else_unknown() -> None:
    assert task_end(run(10, 8, done=4), NOW, 100.0) == NOW + timedelta(minutes=10)
    assert task_end(run(1, 8, cores=2), NOW, 120.0) == NOW + timedelta(minutes=7)
    assert task_end(run(30, 2), NOW, 60.0) == NOW  # late: never before now
    assert task_end(run(1, 8), NOW, None) is None


def test_throughput_counts_the_part_of_each_run_inside_the_window() -> None:
    window = timedelta(hours=1)
    runs = [
        run(90, 6, end_min=30),  # 60 min long, 30 of them in the window: 3 years
        run(20, 4, end_min=10),  # all inside: 4 years
        run(10, 8, done=2),  # running, 2 reported: 2 years
        run(200, 5, end_min=100),  # ended before the window
    ]
    assert years_per_hour(runs, NOW, window) == pytest.approx(9.0)
    assert drain_seconds(18, 9.0) == 7200.0
    assert drain_seconds(0, 0.0) == 0.0 and drain_seconds(5, 0.0) is None
