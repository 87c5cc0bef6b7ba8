"""Speculative copies on loopback: the real driver, `winjobs worker` processes and the
stand-in solver. A worker 1200 times slower than the other holds half the job's years;
once the other worker has done the rest it is idle and copies the slow task; the copy
wins, the slow worker is told to stop, and the output has each year once and equals a
single-machine run."""

from __future__ import annotations

from pathlib import Path

import psutil
import pytest

from tests.helpers.waiting import wait_until
from tests.integration.compare import assert_same_run, mc_ind_years
from tests.integration.harness import (
    USER_TOKEN,
    Worker,
    cluster,
    fetch_result,
    make_study,
    run_winjobs,
    single_machine_run,
    standin_solver,
    submit,
    wait_final,
)
from winjobs.client import DriverClient
from winjobs.wire import CopyStatus, JobStatus, TaskStatus

pytestmark = pytest.mark.slow

SECONDS = "WINJOBS_STANDIN_SECONDS_PER_YEAR"
SETTINGS = {
    "lease_seconds": 10,
    "heartbeat_interval_s": 0.3,
    "sweep_interval_s": 0.3,
    "claim_max_wait_s": 1,
    "chunk_policy": "cores",
    "speculative_copies": True,
    "speculative_min_finished": 1,
}


def _running_on(client: DriverClient, job_id: int, worker: str) -> bool:
    return any(
        t.status is TaskStatus.RUNNING and t.worker == worker for t in client.get_job(job_id).tasks
    )


def test_a_slow_workers_task_is_copied_and_each_year_is_in_the_output_once(
    tmp_path: Path,
) -> None:
    solver = standin_solver(tmp_path / "bin")
    clean = single_machine_run(tmp_path / "clean", solver, 4)
    with cluster(tmp_path, SETTINGS) as (driver, workers), driver.user() as client:

        def start(name: str, seconds: str) -> Worker:
            worker = Worker(tmp_path / "workers", driver.url, name, solver, env={SECONDS: seconds})
            workers.append(worker.start())
            return worker

        slow = start("slow", "60")
        job_id = submit(client, make_study(tmp_path, 4), tmp_path)
        wait_until(lambda: _running_on(client, job_id, "slow"), 30, "the slow worker's task")
        start("fast", "0.05")
        job = wait_final(client, job_id, 60)
        assert job.status is JobStatus.SUCCEEDED, job.error
        copied = [t for t in job.tasks if t.speculative_copy is not None]
        assert len(copied) == 1
        task, copy = copied[0], copied[0].speculative_copy
        assert copy is not None
        assert (copy.status, copy.of_worker, copy.of_attempt, copy.attempt) == (
            CopyStatus.WON,
            "slow",
            1,
            2,
        )
        assert task.worker == copy.worker == "fast" and task.attempts == 2
        done = [y for t in job.tasks if t.status is TaskStatus.SUCCEEDED for y in t.years]
        assert sorted(done) == job.years  # each year in exactly one succeeded task
        run = fetch_result(client, job_id, tmp_path / "result")
        assert mc_ind_years(run) == [1, 2, 3, 4]
        assert_same_run(run, clean)
        # the loser learned it at its next heartbeat: its solver is stopped
        wait_until(
            lambda: not psutil.Process(slow.pid).children(), 30, "the slow worker's solver to stop"
        )
        shown = run_winjobs(driver.url, USER_TOKEN, "show", str(job_id))
        assert shown.returncode == 0, shown.stderr
        assert "a copy of attempt 1 on slow" in shown.stdout
