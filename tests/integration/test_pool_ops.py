"""Issue 15 for real: a `winjobs driver` on loopback, a real worker, the real CLI.

A 9.3 study on an 8.8 pool: `submit` warns at once, `jobs` and `show` say why it waits.
An admin drains the worker (an 8.8 job then waits for it, and says so), releases it (the
job runs), holds it with a reason; `winjobs status` sums the pool up; an offline worker
is forgotten.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.integration.harness import (
    ADMIN_TOKEN,
    TOKENS_WITH_ADMIN,
    USER_TOKEN,
    WORKER_TOKEN,
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
from winjobs.wire import JobStatus, WaitCode, WorkerRegistration, WorkerState

pytestmark = pytest.mark.slow

SETTINGS = {
    "heartbeat_interval_s": 0.3,
    "claim_max_wait_s": 1,
    "worker_offline_s": 4,  # the worker that only registered goes offline soon
    "tokens": TOKENS_WITH_ADMIN,
}


def _state(client: DriverClient, name: str) -> WorkerState | None:
    found = [w.state for w in client.list_workers().workers if w.name == name]
    return found[0] if found else None


def _study_93(root: Path) -> Path:
    study = make_study(root / "v93", 4)
    marker = study / "study.antares"
    marker.write_text(
        marker.read_text(encoding="utf-8").replace("version = 880", "version = 9.3"),
        encoding="utf-8",
    )
    return study


def test_why_it_waits_status_and_the_admins_hand_on_workers(tmp_path: Path) -> None:
    solver = standin_solver(tmp_path / "bin")
    with cluster(tmp_path, SETTINGS) as (driver, workers), driver.user() as client:
        env = {"WINJOBS_STANDIN_SECONDS_PER_YEAR": "0.05"}
        workers.append(Worker(tmp_path / "workers", driver.url, "pc-01", solver, env=env).start())
        wait_until(lambda: _state(client, "pc-01") is WorkerState.IDLE, 60, "pc-01")
        with DriverClient.connect(driver.url, WORKER_TOKEN) as old:
            old.register_worker(
                WorkerRegistration(name="pc-old", cores=2, os="Linux-test", versions=["9.2"])
            )

        # a 9.3 study: warned at submission, and the reason in `jobs` and `show`
        sent = run_winjobs(driver.url, USER_TOKEN, "submit", str(_study_93(tmp_path)))
        assert sent.returncode == 0, sent.stderr
        told = " ".join(sent.stderr.split())
        assert (
            "warning from the driver: no online worker can run this job now: no online worker "
            "has a solver for Antares 9.3 (the online workers have 8.8"
        ) in told
        assert told.count("warning from the driver") == 1, "told before the upload, once"
        future = int(sent.stdout.split()[-1])
        listed = run_winjobs(driver.url, USER_TOKEN, "jobs")
        row = next(line for line in listed.stdout.splitlines() if line.split()[0] == str(future))
        assert row.rstrip().endswith("no 9.3 solver"), listed.stdout
        shown = run_winjobs(driver.url, USER_TOKEN, "show", str(future))
        assert "waiting    no online worker has a solver for Antares 9.3" in shown.stdout

        # drained, the worker takes no new task; the waiting job says so; released, it runs
        drained = run_winjobs(
            driver.url, ADMIN_TOKEN, "worker-admin", "drain", "pc-01", "--reason", "OS update"
        )
        assert drained.returncode == 0, drained.stderr
        assert "worker pc-01 draining: it is idle, then takes no new task" in drained.stdout
        job_id = submit(client, make_study(tmp_path, 4), tmp_path)
        reason = client.get_job(job_id).waiting
        assert reason is not None and reason.code == WaitCode.WORKERS_DRAINING
        assert "pc-01 draining" in run_winjobs(driver.url, USER_TOKEN, "show", str(job_id)).stdout
        assert client.get_job(job_id).status is JobStatus.QUEUED
        listing = run_winjobs(driver.url, USER_TOKEN, "workers")
        assert "pc-01  drained" in listing.stdout and "by ops: OS update" in listing.stdout
        released = run_winjobs(driver.url, ADMIN_TOKEN, "worker-admin", "release", "pc-01")
        assert released.returncode == 0, released.stderr
        assert wait_final(client, job_id, 120).status is JobStatus.SUCCEEDED

        held = run_winjobs(
            driver.url, ADMIN_TOKEN, "worker-admin", "hold", "pc-01", "--reason", "new disk"
        )
        assert "worker pc-01 held: no new task until released (held)" in held.stdout
        refused = run_winjobs(driver.url, USER_TOKEN, "worker-admin", "drain", "pc-01")
        assert refused.returncode == 1 and "needs a admin token" in refused.stderr

        # the pool at a glance
        status = run_winjobs(driver.url, USER_TOKEN, "status")
        assert status.returncode == 0, status.stderr
        text = " ".join(status.stdout.split())
        assert "jobs 1 queued, 0 running" in text and "solvers 8.8" in text
        assert "years left 4" in text
        pool = json.loads(run_winjobs(driver.url, USER_TOKEN, "status", "--json").stdout)
        assert pool["workers_held"] == 1 and pool["years_per_hour"] > 0

        # an offline worker forgotten: out of the lists
        wait_until(lambda: _state(client, "pc-old") is WorkerState.OFFLINE, 30, "pc-old away")
        early = run_winjobs(driver.url, ADMIN_TOKEN, "worker-admin", "forget", "pc-01")
        assert early.returncode == 1 and "worker pc-01 is online" in early.stderr
        forgot = run_winjobs(driver.url, ADMIN_TOKEN, "worker-admin", "forget", "pc-old")
        assert forgot.returncode == 0, forgot.stderr
        assert "worker pc-old forgotten (it was offline)" in forgot.stdout
        names = [
            w["name"]
            for w in json.loads(run_winjobs(driver.url, USER_TOKEN, "workers", "--json").stdout)[
                "workers"
            ]
        ]
        assert names == ["pc-01"]
