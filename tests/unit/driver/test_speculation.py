"""The speculative-copy rule, table-driven, with no database and no server."""

from __future__ import annotations

import math

import pytest

from winjobs.driver.scheduler import JobFacts
from winjobs.driver.speculation import (
    Claimer,
    FinishedTask,
    JobTail,
    RunningTask,
    SpeculationRule,
    behind,
    left_s,
    pace,
    pick_copy,
    rounds,
)

RULE = SpeculationRule(factor=1.5, min_finished=2)
#: two finished tasks of 4 years on 4 cores, 10 s each: 10 s per round
FINISHED = (FinishedTask(4, 4, 10.0), FinishedTask(4, 4, 10.0))
ME = Claimer(worker_id=9, cores=4, versions=("8.8",))


def job(
    id: int = 1,
    priority: int = 50,
    queued: int = 0,
    unassigned: int = 0,
    pinned: str | None = "8.8",
    held: bool = False,
) -> JobFacts:
    return JobFacts(id, priority, "8.8", pinned, queued, unassigned, held)


def running(
    task_id: int = 7,
    done: int = 0,
    elapsed: float = 16.0,
    worker: int | None = 2,
    n: int = 4,
    cores: int = 4,
    copied: bool = False,
    suspended: bool = False,
) -> RunningTask:
    return RunningTask(task_id, 1, worker, n, cores, elapsed, copied, suspended, done)


def tail(
    *tasks: RunningTask,
    facts: JobFacts | None = None,
    finished: tuple[FinishedTask, ...] = FINISHED,
) -> JobTail:
    return JobTail(facts or job(), finished, tasks)


@pytest.mark.parametrize(
    ("n_years", "cores", "expected"),
    [(4, 4, 1), (5, 4, 2), (1, 8, 1), (16, 2, 8), (0, 4, 1), (3, 0, 3)],
)
def test_rounds(n_years: int, cores: int, expected: int) -> None:
    assert rounds(n_years, cores) == expected


@pytest.mark.parametrize(
    ("finished", "expected"),
    [
        ((), None),
        ((FinishedTask(4, 4, 10.0),), None),  # one task is no pace yet
        (FINISHED, 10.0),
        # per round: 8 years on 4 cores in 20 s is 10 s a round; median of 10, 10, 30
        ((FinishedTask(8, 4, 20.0), FinishedTask(2, 2, 10.0), FinishedTask(4, 4, 30.0)), 10.0),
        # median of an even count: the mean of the middle two
        ((FinishedTask(4, 4, 10.0), FinishedTask(4, 4, 20.0)), 15.0),
    ],
)
def test_pace_is_the_median_time_per_round(
    finished: tuple[FinishedTask, ...], expected: float | None
) -> None:
    assert pace(finished, RULE) == expected


def test_behind_counts_the_rounds_of_the_tasks_worker() -> None:
    assert behind(running(elapsed=15.0), 10.0) == 1.5
    assert behind(running(elapsed=30.0, n=8, cores=4), 10.0) == 1.5  # 2 rounds
    assert behind(running(elapsed=30.0, n=8, cores=2), 10.0) == 0.75  # 4 rounds
    assert behind(running(elapsed=1.0), 0.0) == math.inf


@pytest.mark.parametrize(
    ("tails", "claimer", "expected_task"),
    [
        # 16 s against 10 s a round: 1.6 times, over 1.5: copied
        ([tail(running(elapsed=16.0))], ME, 7),
        # exactly 1.5 times is not behind
        ([tail(running(elapsed=15.0))], ME, None),
        # the job still hands out work: queued tasks or unassigned years
        ([tail(running(), facts=job(queued=1))], ME, None),
        ([tail(running(), facts=job(unassigned=3))], ME, None),
        # a held job gives nothing, copies neither
        ([tail(running(), facts=job(held=True))], ME, None),
        # no pace yet: fewer finished tasks than min_finished
        ([tail(running(), finished=FINISHED[:1])], ME, None),
        # never on its own worker
        ([tail(running(worker=9))], ME, None),
        # never a second copy
        ([tail(running(copied=True))], ME, None),
        # a suspended task is the suspended-task rule's business
        ([tail(running(suspended=True))], ME, None),
        # the claimer needs more rounds than the task's worker: cannot catch up
        ([tail(running(n=4, cores=4, elapsed=16.0))], Claimer(9, 2, ("8.8",)), None),
        # ... a bigger claimer may copy a task of a smaller worker
        ([tail(running(n=4, cores=2, elapsed=31.0))], ME, 7),
        # the claimer cannot run the job's pinned solver version
        ([tail(running())], Claimer(9, 4, ("8.6",)), None),
        # the task furthest behind its pace, then the lower task id
        (
            [tail(running(7, elapsed=16.0), running(8, elapsed=40.0), running(9, elapsed=20.0))],
            ME,
            8,
        ),
        ([tail(running(8, elapsed=20.0), running(7, elapsed=20.0))], ME, 7),
        # job order first: the higher priority job's task, even if less behind
        (
            [
                tail(running(7, elapsed=40.0), facts=job(1, priority=50)),
                tail(running(8, elapsed=16.0), facts=job(2, priority=80)),
            ],
            ME,
            8,
        ),
        # a job with nothing to copy gives way to the next
        (
            [
                tail(running(7, elapsed=10.0), facts=job(1, priority=80)),
                tail(running(8, elapsed=16.0), facts=job(2)),
            ],
            ME,
            8,
        ),
        # a task with finished batches must be expected to need more than a copy: 3
        # rounds, 2 done in 25 s (10 s a round, half way through the third): 5 s left
        ([tail(running(n=12, done=8, elapsed=25.0))], ME, None),
        # 1 round of 3 done in 60 s (40 s a round if half way through the 2nd): 60 s
        # left; a copy needs 30 s
        ([tail(running(n=12, done=4, elapsed=60.0))], ME, 7),
        ([], ME, None),
    ],
)
def test_pick_copy(tails: list[JobTail], claimer: Claimer, expected_task: int | None) -> None:
    copy = pick_copy(tails, claimer, RULE)
    assert (None if copy is None else copy.task.task_id) == expected_task
    if copy is not None:
        assert copy.solver_version == "8.8"
        assert copy.behind > RULE.factor


@pytest.mark.parametrize(
    ("task", "expected"),
    [
        (running(done=0), None),  # no finished batch: no pace of its own
        (running(n=12, done=4, elapsed=30.0), 3 * 30.0 / 1.5 - 30.0),
        (running(n=8, cores=2, done=2, elapsed=10.0), 4 * 10.0 / 1.5 - 10.0),
    ],
)
def test_left_at_the_tasks_own_pace(task: RunningTask, expected: float | None) -> None:
    assert left_s(task) == expected


def test_the_factor_and_min_finished_are_settings() -> None:
    slow = [tail(running(elapsed=12.0), finished=FINISHED[:1])]
    assert pick_copy(slow, ME, RULE) is None
    copy = pick_copy(slow, ME, SpeculationRule(factor=1.1, min_finished=1))
    assert copy is not None and copy.job_id == 1 and copy.behind == pytest.approx(1.2)
