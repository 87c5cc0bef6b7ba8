"""The owner comes first, for real: `winjobs driver` and `winjobs worker` processes on
loopback, the stand-in solver, the owner's activity told through the idle file.

Issue 16's done-when: a worker told "owner active" mid-task suspends the real solver
process (psutil status `stopped`), resumes it, then vacates it; the job succeeds on
another worker and no attempt is counted against it (max_attempts is 1: a counted
attempt would fail the job), its output equal to a clean run. And the driver's rule: a
task suspended too long goes to a worker that has nothing else to do.
"""

from __future__ import annotations

import os
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psutil
import pytest

from tests.integration.compare import assert_same_run
from tests.integration.harness import (
    Driver,
    Worker,
    clean_env,
    cluster,
    fetch_result,
    make_study,
    standin_solver,
    submit,
    wait_final,
    wait_until,
)
from winjobs.antares.output import new_run_folder
from winjobs.client import DriverClient
from winjobs.wire import JobStatus, PolicyState, TaskInfo, TaskStatus

pytestmark = pytest.mark.slow

SECONDS = "WINJOBS_STANDIN_SECONDS_PER_YEAR"
#: A lease shorter than the suspension: only the heartbeats keep it. One attempt: a
#: counted failure (or lease expiry) would fail the job.
DRIVER = {
    "lease_seconds": 2,
    "heartbeat_interval_s": 0.3,
    "sweep_interval_s": 0.3,
    "claim_max_wait_s": 2,
    "max_attempts": 1,
    "reassign_suspended_after_s": None,
}


@pytest.fixture(scope="module")
def solver(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return standin_solver(tmp_path_factory.mktemp("bin"))


class Owner:
    """The office PC's owner, through the worker's idle file (its age is the idle time)."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def comes_back(self) -> None:
        self.marker.touch()
        os.utime(self.marker)

    def leaves(self) -> None:
        long_ago = time.time() - 3600
        self.marker.touch()
        os.utime(self.marker, (long_ago, long_ago))

    @contextmanager
    def stays(self) -> Iterator[None]:
        """At the keyboard, touching it every 0.1 s, until the block ends."""
        done = threading.Event()

        def keep_busy() -> None:
            while not done.is_set():
                self.comes_back()
                done.wait(0.1)

        thread = threading.Thread(target=keep_busy, daemon=True)
        thread.start()
        try:
            yield
        finally:
            done.set()
            thread.join(5)


def _office(driver: Driver, solver: Path, marker: Path, **policy: object) -> Worker:
    settings = {
        "schedule": ["always idle=1m"],
        "idle_source": "file",
        "idle_file": str(marker),
        "resume_idle_s": 1,
        "vacate_after_s": 4,
        "owner_check_s": 0.1,
        **policy,
    }
    root = driver.root.parent / "workers"
    return Worker(root, driver.url, "office", solver, settings=settings, env={SECONDS: "5"})


def _status(process: psutil.Process) -> str:
    try:
        return str(process.status())
    except psutil.NoSuchProcess:
        return "gone"


def _gone(process: psutil.Process) -> bool:
    return _status(process) in ("gone", psutil.STATUS_ZOMBIE)


def _office_policy(client: DriverClient) -> PolicyState | None:
    return next((w.policy for w in client.list_workers().workers if w.name == "office"), None)


def _task(client: DriverClient, job_id: int, task_id: int) -> TaskInfo:
    return next(t for t in client.get_job(job_id).tasks if t.id == task_id)


def _clean_run(root: Path, solver: Path) -> Path:
    """A single-machine run of the same 4-year study."""
    copy = make_study(root, 4)
    subprocess.run(
        [str(solver), "-i", str(copy), "--force-parallel=2", "-n", "clean"],
        stdout=subprocess.DEVNULL,
        env=clean_env(**{SECONDS: "0"}),
        check=True,
        timeout=120,
    )
    run = new_run_folder(copy, set())
    assert run is not None
    return run


def test_owner_back_suspends_resumes_then_vacates_and_the_job_runs_elsewhere(
    tmp_path: Path, solver: Path
) -> None:
    owner = Owner(tmp_path / "owner-active")
    with cluster(tmp_path, DRIVER) as (driver, workers), driver.user() as client:
        office = _office(driver, solver, owner.marker)
        workers.append(office.start())
        wait_until(lambda: _office_policy(client) is PolicyState.IN_SCHEDULE, 60, "the office")
        study = make_study(tmp_path, 4)
        job_id = submit(client, study, tmp_path)
        process = office.running_solver(timeout=60)
        task_id = next(t.id for t in client.get_job(job_id).tasks if t.worker == "office")

        owner.comes_back()  # mid-task
        wait_until(lambda: _status(process) == psutil.STATUS_STOPPED, 30, "the suspension")
        wait_until(lambda: _office_policy(client) is PolicyState.SUSPENDED, 30, "the report")
        assert _task(client, job_id, task_id).suspended_since is not None

        owner.leaves()
        wait_until(lambda: _status(process) != psutil.STATUS_STOPPED, 30, "the resumption")
        assert _status(process) in (psutil.STATUS_RUNNING, psutil.STATUS_SLEEPING)

        with owner.stays():
            wait_until(lambda: _status(process) == psutil.STATUS_STOPPED, 30, "a 2nd suspension")
            stopped_at = time.monotonic()
            wait_until(lambda: _gone(process), 60, "the vacate")
            suspended_for = time.monotonic() - stopped_at
            released = wait_until(
                lambda: (
                    (task := _task(client, job_id, task_id)).status is TaskStatus.QUEUED and task
                ),
                30,
                "the task handed back",
            )
            assert released.error is not None
            assert released.error.startswith("vacated: suspended for")
            # longer than the 2 s lease: the heartbeats kept it while suspended
            assert suspended_for > DRIVER["lease_seconds"]  # type: ignore[operator]
            wait_until(lambda: _office_policy(client) is PolicyState.OWNER_ACTIVE, 30, "idle")
            rescuer = Worker(office.root, driver.url, "rescuer", solver, env={SECONDS: "0.1"})
            workers.append(rescuer.start())
            job = wait_final(client, job_id, 120)
        assert job.status is JobStatus.SUCCEEDED, job.error  # max_attempts 1: not counted
        rescued = _task(client, job_id, task_id)
        assert (rescued.worker, rescued.attempts) == ("rescuer", 2)
        assert {t.worker for t in job.tasks} == {"rescuer"}  # the office took nothing more
        office_row = next(w for w in client.list_workers().workers if w.name == "office")
        # a release: not charged to the office either (no failure streak, no hold)
        assert (office_row.failures_in_a_row, office_row.held_reason) == (0, None)
        merged = fetch_result(client, job_id, tmp_path / "result")
        assert_same_run(merged, _clean_run(tmp_path / "clean", solver))
        log = office.log()
        for line in ("solver suspended", "solver resumed", "vacating", "policy: owner active"):
            assert line in log, line
        assert "given back by office: vacated: suspended for" in client.job_log(job_id)


def test_a_task_suspended_too_long_goes_to_an_idle_worker(tmp_path: Path, solver: Path) -> None:
    owner = Owner(tmp_path / "owner-active")
    take_over = {**DRIVER, "lease_seconds": 10, "reassign_suspended_after_s": 1}
    with cluster(tmp_path, take_over) as (driver, workers), driver.user() as client:
        office = _office(driver, solver, owner.marker, vacate_after_s=300)
        workers.append(office.start())
        wait_until(lambda: _office_policy(client) is PolicyState.IN_SCHEDULE, 60, "the office")
        job_id = submit(client, make_study(tmp_path, 2), tmp_path)
        process = office.running_solver(timeout=60)
        with owner.stays():
            wait_until(lambda: _status(process) == psutil.STATUS_STOPPED, 30, "the suspension")
            rescuer = Worker(office.root, driver.url, "rescuer", solver, env={SECONDS: "0.1"})
            workers.append(rescuer.start())
            wait_until(lambda: _gone(process), 60, "the office's solver to be killed")
            job = wait_final(client, job_id, 120)
        assert job.status is JobStatus.SUCCEEDED, job.error  # max_attempts 1: not counted
        [task] = job.tasks
        assert (task.worker, task.attempts) == ("rescuer", 2)
        assert "taken over from worker office" in client.job_log(job_id)
        assert "lease lost (task re-assigned)" in office.log()
