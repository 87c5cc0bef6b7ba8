"""kill -9 the driver process in the middle of work, start it again: every job, task,
lease and stored file is as it was, an upload cut by the kill is gone, and the work
carries on to a merged output."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import yaml

from tests.integration.harness import start_upload_and_hang, watch_me
from tests.unit.driver.helpers import TOKENS, make_study, standin_run
from winjobs.antares.archive import pack_study
from winjobs.client import DriverClient
from winjobs.wire import (
    ClaimRequest,
    Heartbeat,
    JobStatus,
    JobSubmitFields,
    WorkerRegistration,
)

pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class DriverProcess:
    """`winjobs driver --config FILE` as a separate process."""

    def __init__(self, config: Path, port: int, log: Path) -> None:
        self.config, self.port, self.log = config, port, log
        self.process: subprocess.Popen[bytes] | None = None
        self.url = f"http://127.0.0.1:{port}"

    def start(self) -> None:
        script = Path(sys.executable).with_name("winjobs")
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [str(script), "driver", "--config", str(self.config), *watch_me()],
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            assert self.process.poll() is None, self.log.read_text()
            try:
                if httpx.get(f"{self.url}/health", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                time.sleep(0.1)
        raise AssertionError(f"the driver did not start:\n{self.log.read_text()}")

    def kill9(self) -> None:
        assert self.process is not None
        os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=30)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=30)

    def client(self, token: str) -> DriverClient:
        return DriverClient.connect(self.url, token)


@pytest.fixture
def driver(tmp_path: Path) -> Iterator[DriverProcess]:
    port = _free_port()
    config = tmp_path / "driver.yaml"
    settings = {
        "host": "127.0.0.1",
        "port": port,
        "data_dir": str(tmp_path / "data"),
        "tokens": TOKENS,
        "lease_seconds": 30,
        "sweep_interval_s": 0.5,
    }
    config.write_text(yaml.safe_dump(settings), encoding="utf-8")
    process = DriverProcess(config, port, tmp_path / "driver.log")
    process.start()
    yield process
    process.stop()


def test_kill9_and_restart_keeps_everything(driver: DriverProcess, tmp_path: Path) -> None:
    study = make_study(tmp_path / "study", nbyears=4)
    archive = pack_study(study, tmp_path / "study.zip").path
    alice = driver.client("alice-secret")
    job_id = alice.submit_job(archive, JobSubmitFields(priority=60, name="survivor")).job_id
    worker = driver.client("worker-secret")
    worker.register_worker(WorkerRegistration(name="w1", cores=2, os="Linux", versions=["8.8"]))
    first = worker.claim(ClaimRequest(free_cores=2, wait_s=0))
    assert first is not None
    worker.heartbeat(first.task_id, Heartbeat(attempt=first.attempt, years_done=1))
    before = alice.get_job(job_id)
    data = tmp_path / "data"
    hanging = start_upload_and_hang(driver.url, 4 * 1024 * 1024)
    deadline = time.monotonic() + 20
    while not list((data / "tmp").glob("upload-*")) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert list((data / "tmp").glob("upload-*")), "the upload never reached the driver"

    driver.kill9()
    hanging.close()
    driver.start()

    assert list((data / "tmp").iterdir()) == []  # the cut upload is gone
    after = alice.get_job(job_id)
    assert after.model_dump(exclude={"eta_seconds"}) == before.model_dump(exclude={"eta_seconds"})
    assert [j.id for j in alice.list_jobs().jobs] == [job_id]
    assert (data / "studies" / f"{first.study_sha256}.zip").read_bytes() == archive.read_bytes()
    assert "submitted by alice" in alice.job_log(job_id)
    # the worker carries on where it was: same id, same attempt, lease still held
    reply = worker.heartbeat(first.task_id, Heartbeat(attempt=first.attempt, years_done=2))
    assert reply.cancel is False
    second = worker.claim(ClaimRequest(free_cores=2, wait_s=0))
    assert second is not None and second.years == [2, 3]
    for task in (first, second):
        upload = standin_run(study, task.years, tmp_path / "runs", f"t{task.task_id}")
        worker.complete_task_upload(task.task_id, task.attempt, upload)
    deadline = time.monotonic() + 120
    while alice.get_job(job_id).status == JobStatus.RUNNING and time.monotonic() < deadline:
        time.sleep(0.2)
    final = alice.get_job(job_id)
    assert final.status == JobStatus.SUCCEEDED, final.error
    result = alice.download_result(job_id, tmp_path / "result.zip")
    assert result.stat().st_size > 0
    for client in (alice, worker):
        client.close()
