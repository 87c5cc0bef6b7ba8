"""The driver served by uvicorn on loopback (in a thread): long-polling workers hold no
threads, so they never starve other requests, and all of them wake up when work comes."""

from __future__ import annotations

import logging
import signal
import threading
import time
from pathlib import Path

import httpx
import pytest

from tests.integration.harness import Driver
from tests.unit.driver.helpers import driver_settings, packed_study
from winjobs.client import ClientError, DriverClient
from winjobs.driver.app import RunningDriver
from winjobs.wire import (
    WORKER_ID_HEADER,
    ClaimRequest,
    Heartbeat,
    JobSubmitFields,
    TaskAssignment,
    WorkerRegistration,
)

pytestmark = pytest.mark.slow
WORKERS = 50


def test_fifty_long_polls_do_not_starve_other_requests(tmp_path: Path) -> None:
    settings = driver_settings(tmp_path / "data", port=0, thread_pool_size=8)
    with RunningDriver(settings) as running:
        workers = []
        for i in range(WORKERS):
            client = DriverClient.connect(running.url, "worker-secret")
            client.register_worker(
                WorkerRegistration(name=f"w{i:02d}", cores=1, os="Linux", versions=["8.8"])
            )
            workers.append(client)
        results: list[TaskAssignment | None] = []
        lock = threading.Lock()

        def long_poll(client: DriverClient) -> None:
            got = client.claim(ClaimRequest(free_cores=1, wait_s=20))
            with lock:
                results.append(got)

        threads = [threading.Thread(target=long_poll, args=(c,)) for c in workers]
        for thread in threads:
            thread.start()
        time.sleep(1.0)  # every claim is now waiting, with only 8 threads in the pool
        with DriverClient.connect(running.url, "alice-secret") as alice:
            started = time.monotonic()
            assert alice.health().status == "ok"
            assert alice.list_jobs().jobs == []
            assert time.monotonic() - started < 2.0
            archive = packed_study(tmp_path, nbyears=WORKERS)
            started = time.monotonic()
            alice.submit_job(archive, JobSubmitFields())
        for thread in threads:
            thread.join(timeout=30)
        assert time.monotonic() - started < 10  # nobody waited for the 20 s timeout
        tasks = [r for r in results if r is not None]
        years = sorted(y for t in tasks for y in t.years)
        assert years == sorted(set(years)) and len(years) == WORKERS
        for client in workers:
            client.close()


def test_running_driver_reports_its_port(tmp_path: Path) -> None:
    with RunningDriver(driver_settings(tmp_path / "data", port=0)) as running:
        assert httpx.get(f"{running.url}/health").json()["status"] == "ok"
    with pytest.raises(httpx.TransportError):
        httpx.get(f"{running.url}/health", timeout=2)


def test_the_sweeper_requeues_a_silent_workers_task(tmp_path: Path) -> None:
    """Real time, short lease: a worker that stops heartbeating loses its task to
    another; one that keeps heartbeating keeps its own."""
    settings = driver_settings(tmp_path / "data", port=0, lease_seconds=0.8, sweep_interval_s=0.1)
    with RunningDriver(settings) as running:
        with DriverClient.connect(running.url, "alice-secret") as alice:
            job_id = alice.submit_job(packed_study(tmp_path, nbyears=2), JobSubmitFields()).job_id
        clients = []
        for name in ("silent", "alive", "next"):
            client = DriverClient.connect(running.url, "worker-secret")
            client.register_worker(
                WorkerRegistration(name=name, cores=1, os="Linux", versions=["8.8"])
            )
            clients.append(client)
        silent, alive, spare = clients
        lost = silent.claim(ClaimRequest(free_cores=1, wait_s=0))
        kept = alive.claim(ClaimRequest(free_cores=1, wait_s=0))
        assert lost is not None and kept is not None
        deadline = time.monotonic() + 2.5
        while time.monotonic() < deadline:
            alive.heartbeat(kept.task_id, Heartbeat(attempt=kept.attempt))
            time.sleep(0.2)
        again = spare.claim(ClaimRequest(free_cores=1, wait_s=5))
        assert again is not None and (again.task_id, again.attempt) == (lost.task_id, 2)
        assert alive.heartbeat(kept.task_id, Heartbeat(attempt=kept.attempt)).cancel is False
        with DriverClient.connect(running.url, "alice-secret") as alice:
            log = alice.job_log(job_id)
        assert "lease expired: worker silent" in log
        for client in clients:
            client.close()


def _worker(url: str, name: str = "w1") -> DriverClient:
    client = DriverClient.connect(url, "worker-secret")
    client.register_worker(WorkerRegistration(name=name, cores=1, os="Linux", versions=["8.8"]))
    return client


def _long_poll(client: DriverClient, got: list[object]) -> threading.Thread:
    def run() -> None:
        try:
            got.append(client.claim(ClaimRequest(free_cores=1, wait_s=25)))
        except ClientError as exc:
            got.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    return thread


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def test_stopping_answers_waiting_claims_at_once(tmp_path: Path) -> None:
    """No 5 s wait for uvicorn's graceful timeout, no cancelled claim logging a traceback."""
    running = RunningDriver(driver_settings(tmp_path / "data", port=0))
    errors = _Records()
    logging.getLogger("uvicorn.error").addHandler(errors)
    try:
        with _worker(running.url) as worker:
            got: list[object] = []
            poll = _long_poll(worker, got)
            time.sleep(1.0)  # the claim waits in the driver
            started = time.monotonic()
            running.stop()
            stop_s = time.monotonic() - started
            poll.join(timeout=30)
    finally:
        running.stop()
        logging.getLogger("uvicorn.error").removeHandler(errors)
    assert stop_s < 2, f"the driver took {stop_s:.1f} s to stop"
    assert got == [None]  # 204: no work, the worker claims elsewhere or later
    assert [r.getMessage() for r in errors.records] == []


def test_a_claim_whose_worker_hung_up_takes_no_task(tmp_path: Path) -> None:
    """A worker that went away mid-long-poll (killed, or gave up on it): the claim it
    left in the driver must not take a task when work wakes it."""
    with RunningDriver(driver_settings(tmp_path / "data", port=0)) as running:
        with _worker(running.url, "gone") as gone:
            headers = {
                "Authorization": "Bearer worker-secret",
                WORKER_ID_HEADER: str(gone.worker_id),
            }
            with pytest.raises(httpx.ReadTimeout):  # hangs up after 1 s of a 25 s claim
                httpx.post(
                    f"{running.url}/api/v1/workers/claim",
                    json=ClaimRequest(free_cores=1, wait_s=25).model_dump(mode="json"),
                    headers=headers,
                    timeout=1.0,
                )
        with DriverClient.connect(running.url, "alice-secret") as alice:
            job_id = alice.submit_job(packed_study(tmp_path, nbyears=2), JobSubmitFields()).job_id
            time.sleep(1.0)  # the left claim has been woken by the submission
            assert alice.get_job(job_id).tasks == []
            with _worker(running.url, "present") as present:
                assignment = present.claim(ClaimRequest(free_cores=1, wait_s=0))
            assert assignment is not None and assignment.job_id == job_id
            assert {task.worker for task in alice.get_job(job_id).tasks} == {"present"}


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_winjobs_driver_stops_at_once_with_a_claim_waiting(
    tmp_path: Path, signum: signal.Signals
) -> None:
    driver = Driver(tmp_path / "driver").start()
    try:
        with _worker(driver.url) as worker:
            got: list[object] = []
            poll = _long_poll(worker, got)
            time.sleep(1.0)
            assert driver.process is not None
            started = time.monotonic()
            driver.process.send_signal(signum)
            driver.process.wait(30)
            stop_s = time.monotonic() - started
            poll.join(timeout=30)
    finally:
        driver.stop()
    assert stop_s < 2, f"the driver took {stop_s:.1f} s to stop"
    assert got == [None]
    log = driver.log_path.read_text(errors="replace")
    assert "Traceback" not in log and "ERROR" not in log, log
