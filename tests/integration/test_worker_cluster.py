"""The real driver on loopback, `winjobs worker` processes and the stand-in solver.

Issue 5's done-when: every year runs exactly once in the result; a worker killed with
kill -9 mid-task has its years run elsewhere and the output equals a clean run; a driver
killed and restarted mid-job does not stop the job; cancel kills the solver within
seconds; a failing year is retried then reported with the log tail; a hanging solver is
killed at the task time limit; Ctrl-C drains, twice kills and hands the task back.
"""

from __future__ import annotations

import contextlib
import signal
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import httpx
import psutil
import pytest

from tests.helpers.waiting import GENEROUS_S, wait_until
from tests.integration.compare import assert_same_run, mc_ind_years
from tests.integration.harness import (
    USER_TOKEN,
    Driver,
    Worker,
    cluster,
    fetch_result,
    make_study,
    single_machine_run,
    standin_solver,
    submit,
    wait_final,
)
from winjobs.client import DriverClient
from winjobs.wire import JobDetail, JobStatus, TaskStatus, WorkerState

pytestmark = pytest.mark.slow
_ALICE = {"Authorization": f"Bearer {USER_TOKEN}"}

SECONDS = "WINJOBS_STANDIN_SECONDS_PER_YEAR"
#: Short leases and heartbeats so that lost workers are noticed within seconds.
FAST = {
    "lease_seconds": 10,
    "heartbeat_interval_s": 0.3,
    "sweep_interval_s": 0.3,
    "claim_max_wait_s": 2,
    "max_attempts": 2,
}


@pytest.fixture(scope="module")
def solver(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return standin_solver(tmp_path_factory.mktemp("bin"))


@pytest.fixture(scope="module")
def clean_run(tmp_path_factory: pytest.TempPathFactory, solver: Path) -> Path:
    """A single-machine run of the 8-year study: what every job's output must equal."""
    return single_machine_run(tmp_path_factory.mktemp("clean"), solver, 8)


@pytest.fixture
def leftovers() -> Iterator[list[psutil.Process]]:
    """Processes a test knowingly leaves running (a killed worker's solver): killed at
    teardown whatever the test's outcome, so a failing test leaks no hanging solver."""
    processes: list[psutil.Process] = []
    yield processes
    for process in processes:
        with contextlib.suppress(psutil.NoSuchProcess):
            process.kill()  # psutil refuses if the pid now belongs to another process
    psutil.wait_procs(processes, timeout=10)


def _start(
    workers: list[Worker], driver: Driver, name: str, solver: Path, **kwargs: object
) -> Worker:
    worker = Worker(driver.root.parent / "workers", driver.url, name, solver, **kwargs)  # type: ignore[arg-type]
    workers.append(worker.start())
    return worker


def _registered(client: DriverClient, count: int) -> None:
    wait_until(lambda: len(client.list_workers().workers) >= count, 30, "workers to register")


def _last_seen(client: DriverClient, name: str) -> datetime:
    return next(w.last_seen for w in client.list_workers().workers if w.name == name)


def _claims_waiting(driver: Driver, count: int) -> None:
    """Until the driver's /metrics says `count` claims wait for work (30 s at most: half
    a 60 s long-poll, so a claim that only ended at its timeout fails the wait)."""
    line = f"winjobs_claims_waiting {count}\n"
    wait_until(
        lambda: line in httpx.get(f"{driver.url}/metrics", headers=_ALICE).text,
        30,
        f"{count} claim(s) waiting in the driver",
    )


def _running_task(client: DriverClient, job_id: int, worker: str | None = None) -> int:
    def find() -> int | None:
        for task in client.get_job(job_id).tasks:
            if task.status is TaskStatus.RUNNING and worker in (None, task.worker):
                return task.id
        return None

    task_id: int = wait_until(find, 30, "a running task")
    return task_id


def _assert_years_once(job: JobDetail) -> None:
    done = [
        year for task in job.tasks if task.status is TaskStatus.SUCCEEDED for year in task.years
    ]
    assert sorted(done) == job.years, "each year must be in exactly one succeeded task"


def test_every_year_runs_exactly_once(tmp_path: Path, solver: Path, clean_run: Path) -> None:
    with cluster(tmp_path, FAST) as (driver, workers), driver.user() as client:
        for name in ("w1", "w2"):
            _start(workers, driver, name, solver, env={SECONDS: "0.1"})
        _registered(client, 2)
        job_id = submit(client, make_study(tmp_path, 8), tmp_path)
        job = wait_final(client, job_id, 90)
        assert job.status is JobStatus.SUCCEEDED, job.error
        _assert_years_once(job)
        assert {task.worker for task in job.tasks} == {"w1", "w2"}
        run = fetch_result(client, job_id, tmp_path / "result")
        assert mc_ind_years(run) == list(range(1, 9))
        assert_same_run(run, clean_run)


def test_a_killed_worker_s_years_run_elsewhere(
    tmp_path: Path, solver: Path, clean_run: Path, leftovers: list[psutil.Process]
) -> None:
    fast_lease = {**FAST, "lease_seconds": 3}
    with cluster(tmp_path, fast_lease) as (driver, workers), driver.user() as client:
        doomed = _start(workers, driver, "doomed", solver, env={"WINJOBS_STANDIN_HANG": "1"})
        _registered(client, 1)
        job_id = submit(client, make_study(tmp_path, 8), tmp_path)
        task_id = _running_task(client, job_id, "doomed")
        orphan = doomed.recorded_solver()
        leftovers.append(orphan)
        doomed.kill9()
        _start(workers, driver, "rescuer", solver, env={SECONDS: "0.05"})
        job = wait_final(client, job_id, 90)
        assert job.status is JobStatus.SUCCEEDED, job.error
        _assert_years_once(job)
        rescued = next(task for task in job.tasks if task.id == task_id)
        assert rescued.worker == "rescuer"
        assert rescued.attempts == 2
        assert_same_run(fetch_result(client, job_id, tmp_path / "result"), clean_run)
        # kill -9 left the solver running; the next worker on that folder ends it.
        assert orphan.is_running()
        restarted = _start(workers, driver, "doomed", solver, args=["--exit-when-idle"])
        assert restarted.wait(60) == 0
        assert not orphan.is_running() or orphan.status() == psutil.STATUS_ZOMBIE
        assert "killed a solver left running" in restarted.log()


def test_the_job_survives_a_driver_restart(tmp_path: Path, solver: Path) -> None:
    with cluster(tmp_path, FAST) as (driver, workers), driver.user() as client:
        for name in ("w1", "w2"):
            _start(workers, driver, name, solver, env={SECONDS: "0.4"})
        _registered(client, 2)
        job_id = submit(client, make_study(tmp_path, 8), tmp_path)
        _running_task(client, job_id)
        retries = sum(worker.log().count("retry") for worker in workers)
        driver.kill9()
        wait_until(  # they see it go (and keep their tasks), whatever the machine's load
            lambda: sum(worker.log().count("retry") for worker in workers) > retries,
            GENEROUS_S,
            "a worker to notice the driver is gone",
        )
        driver.start()
        job = wait_final(client, job_id, 120)
        assert job.status is JobStatus.SUCCEEDED, job.error
        _assert_years_once(job)
        assert all(worker.process and worker.process.poll() is None for worker in workers)
        assert any("retry" in worker.log() for worker in workers)  # they did see it go


def test_cancel_kills_the_solver_within_seconds(tmp_path: Path, solver: Path) -> None:
    with cluster(tmp_path, FAST) as (driver, workers), driver.user() as client:
        worker = _start(workers, driver, "w1", solver, env={"WINJOBS_STANDIN_HANG": "1"})
        _registered(client, 1)
        job_id = submit(client, make_study(tmp_path, 4), tmp_path)
        _running_task(client, job_id)
        process = worker.running_solver()
        client.cancel_job(job_id)
        psutil.wait_procs([process], timeout=GENEROUS_S)  # at the worker's next heartbeat
        assert not process.is_running() or process.status() == psutil.STATUS_ZOMBIE
        assert client.get_job(job_id).status is JobStatus.CANCELLED
        assert worker.process is not None and worker.process.poll() is None  # still serving


def test_a_failing_year_is_retried_then_reported_with_the_log_tail(
    tmp_path: Path, solver: Path
) -> None:
    """The study's own error: the second machine's attempt fails the same way, and the
    job fails then, with the solver's reason (not after max_attempts tries)."""
    three = {**FAST, "max_attempts": 3}
    with cluster(tmp_path, three) as (driver, workers), driver.user() as client:
        for name in ("w1", "w2"):
            _start(
                workers,
                driver,
                name,
                solver,
                env={SECONDS: "0.05", "WINJOBS_STANDIN_FAIL_YEAR": "2"},
            )
        _registered(client, 2)
        job_id = submit(client, make_study(tmp_path, 4), tmp_path)
        job = wait_final(client, job_id, 90)
        assert job.status is JobStatus.FAILED
        assert job.error is not None and "failed with the same error on w" in job.error
        assert "[fatal]" not in job.error and "Year 3" in job.error, job.error
        [failed] = [task for task in job.tasks if 2 in task.years]
        assert failed.status is TaskStatus.FAILED
        assert failed.attempts == 2  # on two machines, though 3 attempts were allowed
        assert failed.log_tail is not None and "[fatal]" in failed.log_tail


def test_a_hanging_solver_is_killed_at_the_task_time_limit(tmp_path: Path, solver: Path) -> None:
    one_attempt = {**FAST, "max_attempts": 1}
    with cluster(tmp_path, one_attempt) as (driver, workers), driver.user() as client:
        worker = _start(workers, driver, "w1", solver, env={"WINJOBS_STANDIN_HANG": "1"})
        _registered(client, 1)
        job_id = submit(client, make_study(tmp_path, 2), tmp_path, task_time_limit_s=3)
        _running_task(client, job_id)
        process = worker.running_solver()
        job = wait_final(client, job_id, 60)
        assert job.status is JobStatus.FAILED
        assert "killed at the task time limit of 3 s" in (job.error or "")
        assert not process.is_running() or process.status() == psutil.STATUS_ZOMBIE


def test_ctrl_c_drains_and_twice_hands_the_task_back(tmp_path: Path, solver: Path) -> None:
    with cluster(tmp_path, FAST) as (driver, workers), driver.user() as client:
        patient = _start(workers, driver, "patient", solver, cores=1, env={SECONDS: "0.5"})
        _registered(client, 1)
        job_id = submit(client, make_study(tmp_path, 4), tmp_path)
        first = _running_task(client, job_id, "patient")
        # The driver shows a task running from the moment it answers the claim; the
        # worker holds it once its solver runs. A stop in between hands the task back.
        patient.running_solver()
        patient.send(signal.SIGINT)
        assert patient.wait(60) == 0  # finished its task first
        job = client.get_job(job_id)
        assert next(t for t in job.tasks if t.id == first).status is TaskStatus.SUCCEEDED
        assert not any(t.status is TaskStatus.RUNNING for t in job.tasks)
        assert "no new tasks" in patient.log()

        hasty = _start(workers, driver, "hasty", solver, cores=1, env={"WINJOBS_STANDIN_HANG": "1"})
        second = _running_task(client, job_id, "hasty")
        process = hasty.running_solver()
        hasty.send(signal.SIGTERM)
        # a second signal sent before the first was handled would be merged into it
        wait_until(lambda: "no new tasks" in hasty.log(), 30, "the first signal's effect")
        drained_at = _last_seen(client, "hasty")
        wait_until(  # a heartbeat after it: the worker holds the task on, draining
            lambda: _last_seen(client, "hasty") > drained_at, GENEROUS_S, "a later heartbeat"
        )
        assert process.is_running()  # the first signal lets it run
        hasty.send(signal.SIGTERM)
        assert hasty.wait(30) == 0
        assert not process.is_running() or process.status() == psutil.STATUS_ZOMBIE
        task = next(t for t in client.get_job(job_id).tasks if t.id == second)
        assert task.status is TaskStatus.QUEUED  # handed back, not counted as a failure
        assert task.error == "worker shutting down"


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_an_idle_worker_stops_at_once_and_leaves_no_claim_behind(
    tmp_path: Path, solver: Path, signum: signal.Signals
) -> None:
    """Stopped in the middle of a 60 s long-poll: out at once, its claim ended in the
    driver (which would otherwise take the next job's task for a worker that is gone).
    "At once" is told by events, not a stopwatch: the worker exits and the driver's
    waiting claims drop to none well within the 60 s the long-poll would have lasted."""
    idle_polls = {**FAST, "claim_max_wait_s": 60}
    with cluster(tmp_path, idle_polls) as (driver, workers), driver.user() as client:
        idle = _start(workers, driver, "idle", solver, settings={"claim_wait_s": 60})
        _registered(client, 1)
        _claims_waiting(driver, 1)  # in its long-poll
        idle.send(signum)
        assert idle.wait(30) == 0
        _claims_waiting(driver, 0)  # ended by its draining claim, not by its 60 s
        job_id = submit(client, make_study(tmp_path, 2), tmp_path)
        assert client.get_job(job_id).tasks == []
        [worker] = client.list_workers().workers
        assert worker.state is WorkerState.DRAINING
