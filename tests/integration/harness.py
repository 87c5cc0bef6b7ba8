"""Real processes on loopback for the integration tests and the makespan benchmark.

A driver (`winjobs driver`, a subprocess so that a test can kill -9 and restart it) on a
free port with SQLite in its data folder, workers (`winjobs worker` subprocesses), and
the stand-in solver reached through a symbolic link named like the real executable
(`antares-8.8-solver`), which is also how the stand-in learns the version it poses as.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psutil
import yaml

from tests.helpers.waiting import wait_until
from winjobs.antares.archive import pack_study
from winjobs.antares.example import write_example_study
from winjobs.antares.output import new_run_folder
from winjobs.client import ClientError, DriverClient
from winjobs.wire import JobDetail, JobSubmitFields
from winjobs.worker.hygiene import SOLVER_PID_FILE
from winjobs.worker.runner import kill_recorded_solver

BIN = Path(sys.executable).parent
WINJOBS = BIN / "winjobs"
STANDIN = BIN / "winjobs-standin-solver"
USER_TOKEN = "alice-secret"
WORKER_TOKEN = "worker-secret"
ADMIN_TOKEN = "ops-secret"
#: a driver's `tokens:` with an admin besides the user and the workers
TOKENS_WITH_ADMIN = [
    {"name": "alice", "role": "user", "token": USER_TOKEN},
    {"name": "ops", "role": "admin", "token": ADMIN_TOKEN},
    {"name": "pool", "role": "worker", "token": WORKER_TOKEN},
]

#: Environment variables of ours that must not leak from the test run into the processes.
_OWN_PREFIXES = ("WINJOBS_WORKER_", "WINJOBS_DRIVER_", "WINJOBS_STANDIN_")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def watch_me() -> list[str]:
    """The option that ends a driver or worker once this test process is gone: a test run
    killed hard (a CI time-out) must not leave them running for hours."""
    return ["--parent-pid", str(os.getpid())]


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(_OWN_PREFIXES)}
    env.update(extra)
    env["PYTHONUNBUFFERED"] = "1"
    return env


def standin_solver(bin_dir: Path, version: str = "8.8") -> Path:
    """The stand-in under the real solver's executable name for `version`."""
    bin_dir.mkdir(parents=True, exist_ok=True)
    link = bin_dir / f"antares-{version}-solver"
    if not link.exists():
        link.symlink_to(STANDIN)
    return link


def run_winjobs(url: str, token: str, *args: str) -> subprocess.CompletedProcess[str]:
    """A `winjobs` user command against the driver at `url`, its output captured (wide
    enough that Rich does not wrap table rows)."""
    return subprocess.run(
        [str(WINJOBS), *args, "--driver", url, "--token", token],
        capture_output=True,
        text=True,
        env=clean_env(COLUMNS="200"),
        timeout=120,
        check=False,
    )


def start_upload_and_hang(url: str, size: int) -> socket.socket:
    """Send the head and half the body of a submission (alice's), then go silent."""
    boundary = "winjobsboundary"
    head = (
        f"--{boundary}\r\n"
        'Content-Disposition: form-data; name="archive"; filename="big.zip"\r\n'
        "Content-Type: application/zip\r\n\r\n"
    ).encode()
    host, port = url.removeprefix("http://").split(":")
    sock = socket.create_connection((host, int(port)))
    request = (
        f"POST /api/v1/jobs HTTP/1.1\r\nHost: {host}\r\n"
        f"Authorization: Bearer {USER_TOKEN}\r\n"
        f"Content-Type: multipart/form-data; boundary={boundary}\r\n"
        f"Content-Length: {len(head) + size + 100}\r\n\r\n"
    ).encode()
    sock.sendall(request + head + b"P" * (size // 2))
    return sock


def _terminate(process: subprocess.Popen[bytes], timeout: float = 10.0) -> None:
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@dataclass
class Driver:
    """`winjobs driver` in a subprocess; `settings` are extra keys of its YAML config."""

    root: Path
    settings: dict[str, Any] = field(default_factory=dict)
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None
    starts: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log_path(self) -> Path:
        return self.root / "driver.log"

    def config(self) -> Path:
        path = self.root / "driver.yaml"
        config = {
            "host": "127.0.0.1",
            "port": self.port,
            "data_dir": str(self.root / "data"),
            "tokens": [
                {"name": "alice", "role": "user", "token": USER_TOKEN},
                {"name": "pool", "role": "worker", "token": WORKER_TOKEN},
            ],
            **self.settings,
        }
        path.write_text(yaml.safe_dump(config), encoding="utf-8")
        return path

    def start(self, timeout: float = 60.0) -> Driver:
        self.root.mkdir(parents=True, exist_ok=True)
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [str(WINJOBS), "driver", "--config", str(self.config()), *watch_me()],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=clean_env(),
        )
        log.close()
        self.starts += 1
        wait_until(self._healthy, timeout, f"the driver on port {self.port}")
        return self

    def _healthy(self) -> bool:
        if self.process is not None and self.process.poll() is not None:
            raise AssertionError(f"the driver exited:\n{self.log_path.read_text()[-3000:]}")
        try:
            return httpx.get(self.url + "/health", timeout=1.0).status_code == 200
        except httpx.HTTPError:
            return False

    def kill9(self) -> None:
        assert self.process is not None
        self.process.kill()
        self.process.wait()

    def stop(self) -> None:
        if self.process is not None:
            _terminate(self.process)

    def user(self) -> DriverClient:
        return DriverClient.connect(self.url, USER_TOKEN, timeout=30.0)


@dataclass
class Worker:
    """`winjobs worker` in a subprocess, configured by flags and a YAML file."""

    root: Path
    driver_url: str
    name: str
    solver: Path
    cores: int = 2
    env: dict[str, str] = field(default_factory=dict)
    settings: dict[str, Any] = field(default_factory=dict)
    args: list[str] = field(default_factory=list)
    process: subprocess.Popen[bytes] | None = None

    @property
    def log_path(self) -> Path:
        return self.root / f"{self.name}.log"

    @property
    def data_dir(self) -> Path:
        return self.root / self.name

    def start(self) -> Worker:
        self.root.mkdir(parents=True, exist_ok=True)
        config = self.root / f"{self.name}.yaml"
        content = {
            "driver_url": self.driver_url,
            "token": WORKER_TOKEN,
            "name": self.name,
            "cores": self.cores,
            "data_dir": str(self.data_dir),
            "solvers": {"8.8": str(self.solver)},
            "claim_wait_s": 2,
            "retry_initial_s": 0.1,
            "retry_max_s": 0.5,
            "min_free_disk_bytes": 0,
            **self.settings,
        }
        config.write_text(yaml.safe_dump(content), encoding="utf-8")
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [str(WINJOBS), "worker", "--config", str(config), *watch_me(), *self.args],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=clean_env(**self.env),
        )
        log.close()
        return self

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def running_solver(self, timeout: float = 30.0) -> psutil.Process:
        """The solver this worker runs (its child, in a session of its own), once it runs."""

        def find() -> psutil.Process | None:
            children = psutil.Process(self.pid).children()
            return children[0] if children else None

        found: psutil.Process = wait_until(find, timeout, f"{self.name}'s solver")
        return found

    def recorded_solver(self, timeout: float = 30.0) -> psutil.Process:
        """The running solver once the worker has also written it down (`solver.pid` in the
        task's folder, what a restarted worker kills first): a kill -9 before that record
        leaves an orphan found only by its working folder, so a test of the recorded
        route waits for the record (a window a loaded machine widens)."""
        solver = self.running_solver(timeout)

        def recorded() -> bool:
            return any(
                path.read_text(encoding="ascii").split()[:1] == [str(solver.pid)]
                for path in self.data_dir.rglob("solver.pid")
            )

        wait_until(recorded, timeout, f"{self.name}'s record of its solver")
        return solver

    def kill9(self) -> None:
        assert self.process is not None
        self.process.kill()
        self.process.wait()

    def send(self, signum: int) -> None:
        assert self.process is not None
        self.process.send_signal(signum)

    def wait(self, timeout: float = 30.0) -> int:
        assert self.process is not None
        return self.process.wait(timeout)

    def stop(self) -> None:
        """Kill the worker, then any solver it left running (a killed worker cannot take
        its detached solver down with it; a failed test must not leak one)."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        for pid_file in self.data_dir.glob(f"tasks/*/{SOLVER_PID_FILE}"):
            kill_recorded_solver(pid_file)


@contextlib.contextmanager
def cluster(
    root: Path, driver_settings: dict[str, Any] | None = None
) -> Iterator[tuple[Driver, list[Worker]]]:
    """A driver and a list the test fills with workers; everything is stopped after."""
    driver = Driver(root / "driver", settings=driver_settings or {}).start()
    workers: list[Worker] = []
    try:
        yield driver, workers
    finally:
        for worker in workers:
            worker.stop()
        driver.stop()


def make_study(root: Path, nbyears: int) -> Path:
    """The bundled example study with `nbyears` MC years, in a folder of its own."""
    return write_example_study(root / f"study-{nbyears}y", nbyears=nbyears)


def single_machine_run(root: Path, solver: Path, nbyears: int) -> Path:
    """The example study of `nbyears` years run by `solver` on this machine, at full
    speed: what a job's merged output must equal. Returns the run folder."""
    study = make_study(root, nbyears)
    subprocess.run(
        [str(solver), "-i", str(study), "--force-parallel=2", "-n", "clean"],
        stdout=subprocess.DEVNULL,
        env=clean_env(WINJOBS_STANDIN_SECONDS_PER_YEAR="0"),
        check=True,
        timeout=120,
    )
    run = new_run_folder(study, set())
    assert run is not None
    return run


def submit(client: DriverClient, study: Path, work: Path, **fields: Any) -> int:
    archive = pack_study(study, work / f"{study.name}-{time.monotonic_ns()}.zip").path
    return client.submit_job(archive, JobSubmitFields(**fields)).job_id


def wait_final(client: DriverClient, job_id: int, timeout: float) -> JobDetail:
    def final() -> JobDetail | None:
        try:
            job = client.get_job(job_id)
        except ClientError:
            return None  # the driver may be restarting
        return job if job.status.is_final else None

    result: JobDetail = wait_until(final, timeout, f"job {job_id} to end", interval=0.2)
    return result


def fetch_result(client: DriverClient, job_id: int, dest: Path) -> Path:
    """Download and unpack the job's merged output; returns the run folder."""
    archive = client.download_result(job_id, dest.with_suffix(".zip"))
    if dest.exists():
        shutil.rmtree(dest)
    with zipfile.ZipFile(archive) as opened:
        opened.extractall(dest)
    runs = [p for p in dest.iterdir() if p.is_dir()]
    return runs[0] if len(runs) == 1 and not (dest / "info.antares-output").exists() else dest
