"""Issue 13's crashing worker, for real: a worker whose solver crashes on every task next to
a healthy one. Before, the broken worker took all the attempts of a task and the job failed
within seconds (the healthy worker's task cancelled with it). Now the job succeeds on the
healthy worker, and the broken one ends held with its reason, in the CLI and the API; an
admin releases it with `winjobs worker-admin release`, or its operator by restarting it with
a changed configuration (restarted unchanged, it stays held).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tests.integration.harness import (
    ADMIN_TOKEN,
    TOKENS_WITH_ADMIN,
    USER_TOKEN,
    Worker,
    cluster,
    make_study,
    run_winjobs,
    standin_solver,
    submit,
    wait_final,
    wait_until,
)
from winjobs.client import DriverClient
from winjobs.wire import JobStatus, TaskStatus, WorkerInfo, WorkerState

pytestmark = pytest.mark.slow

SETTINGS = {
    "lease_seconds": 10,
    "heartbeat_interval_s": 0.3,
    "sweep_interval_s": 0.3,
    "claim_max_wait_s": 2,
    "hold_after_failures": 2,  # (3 by default) fewer tasks: a shorter test
    "tokens": TOKENS_WITH_ADMIN,
}
CRASH = {"WINJOBS_STANDIN_CRASH": "1"}
HELD = re.compile(
    r"solver crashed (\d+) times in a row: the solver crashed \(SIGSEGV, exit status 139\)"
)


def _worker(client: DriverClient, name: str) -> WorkerInfo:
    return next(w for w in client.list_workers().workers if w.name == name)


def test_a_crashing_worker_is_held_and_the_job_succeeds_on_the_healthy_one(
    tmp_path: Path,
) -> None:
    solver = standin_solver(tmp_path / "bin")
    with cluster(tmp_path, SETTINGS) as (driver, workers), driver.user() as client:
        for name, env in (
            ("broken", CRASH),
            ("healthy", {"WINJOBS_STANDIN_SECONDS_PER_YEAR": "0.05"}),
        ):
            worker = Worker(tmp_path / "workers", driver.url, name, solver, env=env)
            workers.append(worker.start())
        wait_until(lambda: len(client.list_workers().workers) == 2, 30, "two workers")
        job_id = submit(client, make_study(tmp_path, 8), tmp_path)

        job = wait_final(client, job_id, 180)
        assert job.status is JobStatus.SUCCEEDED, job.error
        done = sorted(y for t in job.tasks if t.status is TaskStatus.SUCCEEDED for y in t.years)
        assert done == job.years
        assert {t.worker for t in job.tasks} == {"healthy"}  # every year ran there
        crashed = [t for t in job.tasks if t.attempts > 1]
        assert crashed, "the broken worker crashed some tasks first"
        assert "failed on broken (not counted: the machine's fault)" in client.job_log(job_id)

        # held with its reason: in the API, in `winjobs workers --json` and the table
        def held() -> WorkerInfo | None:
            info = _worker(client, "broken")
            return info if info.state is WorkerState.HELD else None

        broken: WorkerInfo = wait_until(held, 60, "the broken worker to be held")
        assert broken.held_reason is not None and HELD.fullmatch(broken.held_reason)
        assert int(HELD.fullmatch(broken.held_reason).group(1)) >= 2  # type: ignore[union-attr]
        assert broken.held_by == "driver" and broken.failures_in_a_row >= 2
        driver_log = driver.log_path.read_text(errors="replace")
        assert f"worker broken is held: {broken.held_reason}" in driver_log
        assert _worker(client, "healthy").state is WorkerState.IDLE

        listed = run_winjobs(driver.url, USER_TOKEN, "workers", "--json")
        assert listed.returncode == 0, listed.stderr
        by_name = {w["name"]: w for w in json.loads(listed.stdout)["workers"]}
        assert by_name["broken"]["state"] == "held"
        assert by_name["broken"]["held_reason"] == broken.held_reason
        assert by_name["healthy"]["held_reason"] is None
        table = run_winjobs(driver.url, USER_TOKEN, "workers")
        assert "broken  held (" in table.stdout and broken.held_reason in table.stdout

        # restarted as it was, it stays held (and says so); with other cores it is free
        workers[0].stop()
        same = Worker(tmp_path / "workers", driver.url, "broken", solver, env=CRASH)
        workers.append(same.start())
        wait_until(lambda: "the driver holds this worker" in same.log(), 60, "registration")
        assert _worker(client, "broken").held_reason == broken.held_reason
        same.stop()
        changed = Worker(tmp_path / "workers", driver.url, "broken", solver, cores=1, env=CRASH)
        workers.append(changed.start())
        wait_until(lambda: _worker(client, "broken").held_reason is None, 60, "the release")
        assert "released from hold: it registered with a changed configuration" in (
            driver.log_path.read_text(errors="replace")
        )
        changed.stop()

        refused = run_winjobs(driver.url, USER_TOKEN, "worker-admin", "release", "broken")
        assert refused.returncode == 1 and "needs a admin token" in refused.stderr
        again = run_winjobs(driver.url, ADMIN_TOKEN, "worker-admin", "release", "broken")
        assert again.returncode == 1 and "worker broken is not held (HTTP 409)" in again.stderr
