"""Slurm pilots end to end: a real single-node Slurm cluster (tests/slurm_cluster.py), a
real driver (`winjobs driver`), the real pool manager (`winjobs slurm`) submitting real
pilot jobs that run `winjobs worker` with the stand-in solver.

The cluster is started once per session; each test has its own driver, pool name and
folders, and ends with every job killed and the queue empty.
"""

from __future__ import annotations

import itertools
import signal
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil
import pytest
import yaml

from tests.integration.harness import WINJOBS, WORKER_TOKEN, clean_env, standin_solver
from tests.slurm_cluster import SlurmCluster, SlurmUnavailable, running_cluster

SECONDS = "WINJOBS_STANDIN_SECONDS_PER_YEAR"
#: Fast protocol timings for the drivers of these tests.
DRIVER = {
    "heartbeat_interval_s": 0.5,
    "sweep_interval_s": 0.5,
    "claim_max_wait_s": 2,
    "lease_seconds": 6,
    "worker_offline_s": 10,
}


@pytest.fixture(scope="session")
def slurm_cluster() -> Iterator[SlurmCluster]:
    """The session's Slurm cluster; skips (with why) where Slurm is not installed."""
    try:
        with running_cluster() as cluster:
            yield cluster
    except SlurmUnavailable as exc:
        pytest.skip(str(exc))


@pytest.fixture
def cluster(slurm_cluster: SlurmCluster, tmp_path: Path) -> Iterator[SlurmCluster]:
    """The cluster for one test: every job killed after it, and no process of the test
    (a pilot's worker or solver) left behind."""
    yield slurm_cluster
    slurm_cluster.kill_all_jobs()
    left = leftovers(tmp_path)
    for process in left:
        process.kill()
    assert not left, f"left running after the test: {[p.info['cmdline'] for p in left]}"


def leftovers(root: Path) -> list[psutil.Process]:
    """Processes whose command line mentions the test's folder (pilots, solvers...)."""
    found = []
    for process in psutil.process_iter(["cmdline"]):
        try:
            if any(str(root) in part for part in process.info["cmdline"] or []):
                found.append(process)
        except psutil.Error:
            continue
    return found


_POOL_NUMBERS = itertools.count(1)


@dataclass
class Pool:
    """`winjobs slurm` in a subprocess: its YAML settings and its output.

    Each pool has a name of its own (`p1`, `p2`...): ended pilots stay visible in
    `squeue --states=all` for minutes (MinJobAge), and must not be taken for this
    test's."""

    root: Path
    cluster: SlurmCluster
    driver_url: str
    settings: dict[str, Any] = field(default_factory=dict)
    seconds_per_year: str = "0.5"
    name: str = field(default_factory=lambda: f"p{next(_POOL_NUMBERS)}")
    process: subprocess.Popen[bytes] | None = None

    @property
    def job_name(self) -> str:
        return f"winjobs-{self.name}"

    def worker(self, job_id: str) -> str:
        """The worker name of a pilot (on the single node)."""
        return f"{self.name}-{job_id}-localhost"

    def pilot_of(self, worker: str | None) -> str:
        """The Slurm job id of a pilot's worker (`<pool>-<job id>-<node>`)."""
        assert worker is not None and worker.startswith(f"{self.name}-"), worker
        return worker.split("-")[1]

    def jobs(self, every: bool = False) -> list[dict[str, str]]:
        """This pool's pilots in squeue (`every`: the ended ones too)."""
        return self.cluster.jobs(every=every, name=self.job_name)

    def config(self) -> Path:
        self.root.mkdir(parents=True, exist_ok=True)
        solver = standin_solver(self.root / "bin")
        worker = {
            "solvers": {"8.8": str(solver)},
            "claim_wait_s": 2,
            "retry_initial_s": 0.2,
            "retry_max_s": 1,
            "min_free_disk_bytes": 0,
            **self.settings.pop("worker", {}),
        }
        config = {
            "driver_url": self.driver_url,
            "token": WORKER_TOKEN,
            "pool": self.name,
            "data_dir": str(self.root / "manager"),
            "scratch_dir": str(self.root / "scratch"),
            "cores": 1,
            "max_pilots": 2,
            "time_limit": "10",
            "drain_margin_s": 60,
            "poll_interval_s": 0.5,
            "retry_initial_s": 1,
            "retry_max_s": 2,
            "register_timeout_s": 60,
            "worker": worker,
            **self.settings,
        }
        path = self.root / "pool.yaml"
        path.write_text(yaml.safe_dump(config), encoding="utf-8")
        return path

    def env(self) -> dict[str, str]:
        return clean_env(**self.cluster.env, **{SECONDS: self.seconds_per_year})

    def command(self, *args: str) -> list[str]:
        return [str(WINJOBS), "slurm", "--config", str(self.config()), *args]

    def start(self) -> Pool:
        command = self.command()
        with (self.root / "manager.out").open("ab") as out:
            self.process = subprocess.Popen(
                command, stdout=out, stderr=subprocess.STDOUT, env=self.env()
            )
        return self

    def alive(self) -> bool:
        """True while the manager runs; an AssertionError with its output if it ended."""
        assert self.process is not None
        if self.process.poll() is not None:
            output = (self.root / "manager.out").read_text(errors="replace")
            raise AssertionError(f"winjobs slurm exited ({self.process.returncode}): {output}")
        return True

    def log(self) -> str:
        path = self.root / "manager" / "logs" / "slurm.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def pilot_output(self, job_id: str) -> str:
        path = self.root / "manager" / "pilots" / f"{job_id}.out"
        return path.read_text(errors="replace") if path.exists() else ""

    def stop(self, timeout: float = 30) -> int:
        """Ctrl-C-like stop: the manager cancels its pending pilots and exits."""
        assert self.process is not None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout)
        finally:
            if self.process.poll() is None:
                self.process.kill()
