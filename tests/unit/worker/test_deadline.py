"""A worker with a deadline (a Slurm pilot's time limit) stops claiming in time."""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from datetime import UTC, datetime, timedelta

import pytest

from tests.unit.worker.test_agent import (  # noqa: F401
    Owner,
    World,
    checked_solvers,
    study,
    world,
)
from winjobs.errors import ConfigError
from winjobs.wire import TaskStatus
from winjobs.worker.deadline import DrainClock
from winjobs.worker.settings import load_settings
from winjobs.worker.shutdown import Shutdown

BASE = datetime(2026, 12, 2, 4, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("now_s", "deadline_s", "margin_s", "reached", "wait_s"),
    [
        (0, None, 600, False, 25.0),  # no deadline: claims as usual
        (0, 3600, 600, False, 25.0),  # far from it: full long-poll
        (2990, 3600, 600, False, 10.0),  # the long-poll ends at the drain time
        (3000, 3600, 600, True, 0.0),  # drain time: deadline minus margin
        (3500, 3600, 600, True, 0.0),
        (3599, 3600, 0, False, 1.0),  # margin 0: up to the deadline itself
    ],
)
def test_the_drain_rule(
    now_s: int, deadline_s: int | None, margin_s: float, reached: bool, wait_s: float
) -> None:
    deadline = None if deadline_s is None else BASE + timedelta(seconds=deadline_s)
    drain = DrainClock(deadline, margin_s, lambda: BASE + timedelta(seconds=now_s))
    assert drain.reached() is reached
    assert drain.claim_wait_s(25.0) == pytest.approx(wait_s)


def test_a_task_longer_than_the_margin_is_reported(caplog: pytest.LogCaptureFixture) -> None:
    drain = DrainClock(BASE, 60, lambda: BASE)
    with caplog.at_level(logging.WARNING):
        drain.check_task(7, 50)
        assert not caplog.records
        drain.check_task(7, 95)
    assert "task 7 ran 95 s, longer than the drain margin of 60 s" in caplog.text
    DrainClock(None, 60, lambda: BASE).check_task(8, 1000)  # no deadline: nothing to say
    assert "task 8" not in caplog.text


def test_settings_read_the_deadline_as_squeue_prints_it(tmp_path: object) -> None:
    base = {"token": "t", "solvers": {"8.8": "/opt/solver"}}
    naive = load_settings(None, {**base, "deadline": "2026-12-02T04:08:00"})
    assert naive.deadline == datetime(2026, 12, 2, 4, 8).astimezone()  # local time
    zoned = load_settings(None, {**base, "deadline": "2026-12-02T04:08:00+01:00"})
    assert zoned.deadline is not None and zoned.deadline.utcoffset() == timedelta(hours=1)
    assert naive.drain_margin_s == 600
    with pytest.raises(ConfigError, match=r"`deadline`.*`drain_margin_s`"):
        load_settings(None, {**base, "deadline": "at the end", "drain_margin_s": -1})


def test_no_task_is_claimed_after_the_drain_time(
    world: World,  # noqa: F811
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The clock moves a minute per lease: with the drain time at 2.5 minutes the third
    task is claimed (at minute 2) and finished; the fourth is never claimed."""
    tasks = [world.add([year]) for year in range(5)]
    leases: list[int] = []
    world.driver.after_lease = lambda: leases.append(1)
    world.overrides.update(deadline=BASE + timedelta(seconds=160), drain_margin_s=10)
    agent = world.agent()
    agent.drain.clock = lambda: BASE + timedelta(minutes=len(leases))
    with caplog.at_level(logging.INFO):
        handled = agent.run()  # no --exit-when-idle: only the drain time ends it
    assert handled == 3
    assert [t.status for t in tasks] == [TaskStatus.SUCCEEDED] * 3 + [TaskStatus.QUEUED] * 2
    assert all(not t.failures and not t.releases for t in tasks)
    assert "drain time reached" in caplog.text
    assert world.driver.draining == {1}  # the driver was told it takes no more work


def test_a_waiting_claim_ends_at_the_drain_time(world: World) -> None:  # noqa: F811
    """An idle worker's long-poll is cut to the drain time, so no task can come later."""
    world.driver.max_claim_wait_s = 30
    world.overrides.update(
        claim_wait_s=30, deadline=datetime.now(UTC) + timedelta(seconds=1.5), drain_margin_s=1
    )
    agent = world.agent()
    thread = threading.Thread(target=agent.run, daemon=True)
    started = time.monotonic()
    thread.start()
    thread.join(20)
    assert not thread.is_alive(), "the worker kept waiting past its drain time"
    assert time.monotonic() - started < 20
    waits = [c.body.wait_s for c in world.driver.calls if c.path.endswith("/claim")]
    assert waits and all(wait <= 0.5 + 1e-6 for wait in waits)
    assert os.environ.get("WINJOBS_WORKER_DEADLINE") is None


def test_a_solver_signalled_with_its_worker_hands_the_task_back(world: World) -> None:  # noqa: F811
    """Slurm ends a pilot (scancel, preemption, time limit) by signalling every process
    of the job: the worker (its first stop request: finish the task) and the solver,
    which leaves an unfinished run. That is not the task's fault: handed back, not
    counted as one of its failed attempts."""
    task = world.add([0, 1])
    shutdown = Shutdown()
    os.environ["MINI_HANG"] = "1"
    try:
        thread = threading.Thread(target=world.agent(shutdown).run, daemon=True)
        thread.start()
        [pid] = world.solver_pids()
        shutdown.request()  # the worker's SIGTERM
        os.kill(pid, signal.SIGTERM)  # the solver's
        thread.join(15)
    finally:
        del os.environ["MINI_HANG"]
    assert not thread.is_alive()
    assert task.failures == []
    [release] = task.releases
    assert release.reason.startswith("worker stopped by a signal: ")
    assert task.status is TaskStatus.QUEUED


def test_a_worker_paused_by_its_owner_stops_at_the_drain_time(world: World) -> None:  # noqa: F811
    """The owner's policy keeps the worker from claiming; the drain time still ends it,
    and no task is claimed after it even if the owner leaves then."""
    owner = Owner()
    owner.comes_back()
    task = world.add([0, 1])
    world.overrides.update(deadline=datetime.now(UTC) + timedelta(seconds=1.5), drain_margin_s=1)
    agent = world.agent(owner=owner.watch())
    thread = threading.Thread(target=agent.run, daemon=True)
    thread.start()
    thread.join(20)
    owner.leaves()
    assert not thread.is_alive(), "the paused worker kept waiting past its drain time"
    assert task.attempt == 0  # nothing was leased
    assert world.driver.draining == {1}
