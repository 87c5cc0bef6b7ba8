"""The driver served by uvicorn on loopback (in a thread): long-polling workers hold no
threads, so they never starve other requests, and all of them wake up when work comes.

Every wait is on the event itself (a claim waiting in the driver, a claim answered, a
line logged), with generous timeouts; a long-poll lasts LONG_POLL_S, so a claim answered
sooner was woken, never timed out."""

from __future__ import annotations

import logging
import signal
import threading
import time
from pathlib import Path

import httpx
import pytest

from tests.helpers.waiting import GENEROUS_S, wait_until
from tests.integration.harness import Driver, start_upload_and_hang
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
LONG_POLL_S = 30  #: the driver's default claim_max_wait_s


def _claims_waiting(running: RunningDriver, count: int) -> None:
    driver = running.app.state.driver
    wait_until(
        lambda: driver.signal.waiting() == count,
        GENEROUS_S,
        f"{count} claim(s) waiting in the driver",
    )


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
            got = client.claim(ClaimRequest(free_cores=1, wait_s=LONG_POLL_S))
            with lock:
                results.append(got)

        threads = [threading.Thread(target=long_poll, args=(c,)) for c in workers]
        for thread in threads:
            thread.start()
        _claims_waiting(running, WORKERS)  # all waiting, with only 8 threads in the pool
        with DriverClient.connect(running.url, "alice-secret") as alice:
            started = time.monotonic()
            assert alice.health().status == "ok"
            assert alice.list_jobs().jobs == []
            assert time.monotonic() - started < LONG_POLL_S  # not queued behind the claims
            archive = packed_study(tmp_path, nbyears=WORKERS)
            started = time.monotonic()
            alice.submit_job(archive, JobSubmitFields())
        for thread in threads:
            thread.join(timeout=GENEROUS_S)
            assert not thread.is_alive()
        assert time.monotonic() - started < LONG_POLL_S  # all woken, none timed out
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
    settings = driver_settings(tmp_path / "data", port=0, lease_seconds=3, sweep_interval_s=0.1)
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
        requeued = threading.Event()

        def keep_beating() -> None:  # 15 beats per lease: a loaded machine cannot miss them
            while not requeued.wait(0.2):
                alive.heartbeat(kept.task_id, Heartbeat(attempt=kept.attempt))

        beats = threading.Thread(target=keep_beating)
        beats.start()
        try:  # the sweep re-queues the silent one's task, which wakes this claim
            again = spare.claim(ClaimRequest(free_cores=1, wait_s=LONG_POLL_S))
        finally:
            requeued.set()
            beats.join(timeout=GENEROUS_S)
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


def _metrics(url: str) -> str:
    return httpx.get(f"{url}/metrics", headers={"Authorization": "Bearer alice-secret"}).text


def _long_poll(client: DriverClient, got: list[object]) -> threading.Thread:
    def run() -> None:
        try:
            got.append(client.claim(ClaimRequest(free_cores=1, wait_s=LONG_POLL_S)))
        except ClientError as exc:
            got.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    return thread


class _Records(logging.Handler):
    def __init__(self, level: int = logging.WARNING) -> None:
        super().__init__(level)
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
            _claims_waiting(running, 1)
            running.stop()
            poll.join(timeout=GENEROUS_S)
    finally:
        running.stop()
        logging.getLogger("uvicorn.error").removeHandler(errors)
    # answered by the driver (204: no work, the worker claims elsewhere or later), not cut
    # by uvicorn after its 5 s graceful timeout (the client would see the connection drop)
    assert got == [None]
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
            with pytest.raises(httpx.ReadTimeout):  # hangs up after 1 s of a long claim
                httpx.post(
                    f"{running.url}/api/v1/workers/claim",
                    json=ClaimRequest(free_cores=1, wait_s=LONG_POLL_S).model_dump(mode="json"),
                    headers=headers,
                    timeout=1.0,
                )
        driver = running.app.state.driver
        _claims_waiting(running, 1)  # the claim it left behind
        with DriverClient.connect(running.url, "alice-secret") as alice:
            job_id = alice.submit_job(packed_study(tmp_path, nbyears=2), JobSubmitFields()).job_id
            wait_until(lambda: driver.claims.empty == 1, GENEROUS_S, "the left claim to end")
            assert driver.signal.waiting() == 0
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
            wait_until(
                lambda: "winjobs_claims_waiting 1\n" in _metrics(driver.url),
                GENEROUS_S,
                "the claim waiting in the driver",
            )
            assert driver.process is not None
            driver.process.send_signal(signum)
            driver.process.wait(GENEROUS_S)
            poll.join(timeout=GENEROUS_S)
    finally:
        driver.stop()
    assert got == [None]  # answered by the driver as it stopped, not cut by uvicorn
    log = driver.log_path.read_text(errors="replace")
    assert "Traceback" not in log and "ERROR" not in log, log


def test_a_client_hanging_up_mid_upload_is_one_warning_not_a_traceback(tmp_path: Path) -> None:
    """A worker killed mid-upload, a dropped connection: the half-received file is removed
    (as before) and the log says so in one line, not with an ERROR traceback."""
    records = _Records(logging.INFO)
    watched = [logging.getLogger(name) for name in ("uvicorn.error", "winjobs")]
    levels = [logger.level for logger in watched]
    with RunningDriver(driver_settings(tmp_path / "data", port=0)) as running:
        for logger in watched:  # after uvicorn set up its loggers (which drops handlers)
            logger.addHandler(records)
            logger.setLevel(logging.INFO)
        try:
            tmp = running.app.state.driver.files.tmp
            hanging = start_upload_and_hang(running.url, 4 * 1024 * 1024)
            wait_until(lambda: list(tmp.glob("upload-*")), GENEROUS_S, "the upload to start")
            hanging.close()

            def said() -> list[logging.LogRecord]:
                return [
                    r
                    for r in records.records
                    if "hung up" in r.getMessage() or r.levelno >= logging.ERROR
                ]

            wait_until(said, GENEROUS_S, "the driver to notice the hang-up")
            wait_until(lambda: not any(tmp.iterdir()), GENEROUS_S, "the upload to be removed")
        finally:
            for logger, level in zip(watched, levels, strict=True):
                logger.removeHandler(records)
                logger.setLevel(level)
    problems = [r for r in records.records if r.levelno >= logging.ERROR or r.exc_info]
    assert problems == [], [r.getMessage() for r in problems]
    [line] = said()
    assert line.levelno == logging.WARNING
    assert "POST /api/v1/jobs: the client hung up during the upload" in line.getMessage()
