"""The heartbeat thread against the fake driver; every wait is on the event itself."""

from __future__ import annotations

import threading

from tests.helpers.waiting import GENEROUS_S, wait_until
from tests.unit.worker.fake_driver import FakeDriver, FakeTask
from winjobs.client import DriverClient
from winjobs.wire import ClaimRequest, WorkerRegistration
from winjobs.worker.heartbeat import HeartbeatThread
from winjobs.worker.runner import StopReason, StopRequest


def _claimed(driver: FakeDriver) -> tuple[DriverClient, FakeTask, int]:
    client = driver.client()
    client.register_worker(WorkerRegistration(name="w", cores=2, os="Linux", versions=["8.8"]))
    task = driver.add_task([0, 1], b"study")
    assignment = client.claim(ClaimRequest(free_cores=2, wait_s=0))
    assert assignment is not None
    return client, task, assignment.attempt


def _beating(task: FakeTask) -> bool:
    return any(t.name == f"heartbeat-task-{task.id}" for t in threading.enumerate())


def test_beats_carry_progress_until_stopped() -> None:
    driver = FakeDriver(heartbeat_interval_s=0.02)
    client, task, attempt = _claimed(driver)
    progress = iter(range(1000))
    stop = StopRequest()
    with HeartbeatThread(client, task.id, attempt, 0.02, lambda: next(progress), stop) as beat:
        assert _beating(task)
        wait_until(lambda: beat.beats >= 3, GENEROUS_S, "three heartbeats")
    assert not _beating(task)  # stopped means its thread is gone: no more beats
    assert beat.beats >= 3
    assert task.years_done >= 2
    assert not stop.is_set()


def test_cancel_reaches_the_stop_request() -> None:
    driver = FakeDriver()
    client, task, attempt = _claimed(driver)
    stop = StopRequest()
    with HeartbeatThread(client, task.id, attempt, 0.02, lambda: 0, stop):
        driver.cancel_job(task.job_id)
        assert stop.wait(GENEROUS_S)
    assert stop.reason is StopReason.CANCELLED


def test_a_lost_lease_reaches_the_stop_request() -> None:
    driver = FakeDriver()
    client, task, attempt = _claimed(driver)
    driver.expire_lease(task.id)
    stop = StopRequest()
    with HeartbeatThread(client, task.id, attempt, 0.02, lambda: 0, stop):
        assert stop.wait(GENEROUS_S)
    assert stop.reason is StopReason.LEASE_LOST
    assert driver.calls[-1].status == 409


def test_a_driver_outage_does_not_stop_the_task() -> None:
    driver = FakeDriver()
    client, task, attempt = _claimed(driver)
    stop = StopRequest()
    driver.errors_to_serve = 2
    with HeartbeatThread(client, task.id, attempt, 0.02, lambda: 1, stop) as beat:
        driver.down = True
        wait_until(lambda: driver.refused >= 2, GENEROUS_S, "two beats while the driver is down")
        driver.down = False
        wait_until(lambda: beat.beats >= 2, GENEROUS_S, "two beats once it is back")
    assert not stop.is_set()
    assert beat.beats >= 2
    assert [c.status for c in driver.calls[2:4]] == [503, 503]


def test_progress_errors_do_not_stop_the_beats() -> None:
    driver = FakeDriver()
    client, task, attempt = _claimed(driver)

    def broken() -> int:
        raise OSError("log vanished")

    with HeartbeatThread(client, task.id, attempt, 0.02, broken, StopRequest()) as beat:
        wait_until(lambda: beat.beats >= 2, GENEROUS_S, "two beats without progress")
    assert beat.beats >= 2
