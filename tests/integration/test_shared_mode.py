"""Shared mode on Linux, laid out like the Windows set-up (docs/shared-mode.md).

Each "machine" has its own share folder (`machines/<pc>/share`); everyone reaches the
shares through symbolic links (`links/<PC>_SHARE`, what `winjobs links setup-remote`
makes on Windows), and the driver reads the workers' outputs through those links. Worker
pc2 reaches the driver's share through a "mount" of its own (`mnt/driver_share`) and a
`path_map`, like a Linux worker of a Windows driver. Real `winjobs driver` and
`winjobs worker` processes, the stand-in solver, loopback HTTP.
"""

from __future__ import annotations

import filecmp
import signal
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.integration.compare import assert_same_run, mc_ind_years
from tests.integration.harness import (
    WINJOBS,
    Driver,
    Worker,
    clean_env,
    cluster,
    fetch_result,
    make_study,
    single_machine_run,
    standin_solver,
    submit,
    wait_final,
    wait_until,
)
from winjobs.client import DriverClient
from winjobs.wire import JobDetail, JobStatus, WorkerState

pytestmark = pytest.mark.slow

SECONDS = "WINJOBS_STANDIN_SECONDS_PER_YEAR"
#: `cores` chunks: 2-core workers always cut the 8 years into the same four tasks, so a
#: shared-mode and an HTTP-mode job merge the very same partial runs.
DRIVER = {
    "heartbeat_interval_s": 0.5,
    "sweep_interval_s": 0.5,
    "claim_max_wait_s": 2,
    "chunk_policy": "cores",
}


@pytest.fixture(scope="module")
def solver(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return standin_solver(tmp_path_factory.mktemp("bin"))


@pytest.fixture(scope="module")
def clean_run(tmp_path_factory: pytest.TempPathFactory, solver: Path) -> Path:
    return single_machine_run(tmp_path_factory.mktemp("clean"), solver, 8)


class Machines:
    """Share folders of the driver and workers, and the links everyone reaches them by."""

    def __init__(self, root: Path) -> None:
        self.root = root
        for name in ("driver", "pc1", "pc2"):
            self.share(name).mkdir(parents=True)
            link = self.link(name)
            link.parent.mkdir(exist_ok=True)
            link.symlink_to(self.share(name), target_is_directory=True)
        # pc2 mounts the driver's share elsewhere and maps the driver's paths to it
        self.pc2_mount = root / "mnt" / "driver_share"
        self.pc2_mount.parent.mkdir()
        self.pc2_mount.symlink_to(self.share("driver"), target_is_directory=True)

    def share(self, name: str) -> Path:
        return self.root / "machines" / name / "share"

    def link(self, name: str) -> Path:
        return self.root / "links" / f"{name.upper()}_SHARE"

    def driver_settings(self, collect: str) -> dict[str, Any]:
        return {
            **DRIVER,
            "transfer": "shared",
            "shared_root": str(self.link("driver") / "winjobs"),
            "collect": collect,
        }

    def worker_settings(self, name: str) -> dict[str, Any]:
        settings: dict[str, Any] = {
            "transfer": "shared",
            "shared_output_dir": str(self.share(name) / "out"),
            "shared_output_root": str(self.link(name) / "out"),
        }
        if name == "pc2":
            settings["path_map"] = {str(self.link("driver")): str(self.pc2_mount)}
        return settings


def _start_workers(
    driver: Driver,
    client: DriverClient,
    workers: list[Worker],
    solver: Path,
    names: dict[str, dict[str, Any]],
) -> list[Worker]:
    """Start workers and wait until the driver knows them all (so each gets tasks)."""
    started = []
    for name, settings in names.items():
        worker = Worker(
            driver.root.parent / "workers",
            driver.url,
            name,
            solver,
            env={SECONDS: "0.1"},
            settings=settings,
        )
        workers.append(worker.start())
        started.append(worker)
    wait_until(
        lambda: (
            set(names)
            <= {w.name for w in client.list_workers().workers if w.state is not WorkerState.OFFLINE}
        ),
        60,
        "the workers to register",
    )
    return started


def _stop(workers: list[Worker]) -> None:
    """Ctrl-C-like stop: each worker settles its last report and exits 0."""
    for worker in workers:
        worker.send(signal.SIGTERM)
    for worker in workers:
        assert worker.wait(60) == 0, worker.log()[-3000:]


def _merged_run(driver: Driver, job: JobDetail) -> Path:
    assert job.run_folder is not None
    return driver.root / "data" / "jobs" / str(job.id) / "study" / "output" / job.run_folder


def _finished(client: DriverClient, job_id: int) -> JobDetail:
    job = wait_final(client, job_id, 120)
    assert job.status is JobStatus.SUCCEEDED, job.error
    return job


def _mc_all_files(run: Path) -> list[str]:
    return sorted(str(p.relative_to(run)) for p in (run / "economy" / "mc-all").rglob("*.txt"))


def test_collect_link(tmp_path: Path, solver: Path, clean_run: Path) -> None:
    machines = Machines(tmp_path)
    settings = machines.driver_settings("link")
    with cluster(tmp_path / "cluster", settings) as (driver, workers), driver.user() as client:
        study = make_study(tmp_path, 8)
        pc1, pc2 = _start_workers(
            driver,
            client,
            workers,
            solver,
            {name: machines.worker_settings(name) for name in ("pc1", "pc2")},
        )
        shared_job = submit(client, study, tmp_path)
        job = _finished(client, shared_job)
        _stop([pc1, pc2])

        # every task's output stayed on its worker's share, reached through its link
        for task in job.tasks:
            assert task.worker in ("pc1", "pc2")
            assert task.output_location is not None
            assert Path(task.output_location).is_relative_to(machines.link(task.worker) / "out")
        merged = _merged_run(driver, job)
        owner = {year + 1: task.worker for task in job.tasks for year in task.years}
        assert set(owner.values()) == {"pc1", "pc2"}
        for year in range(1, 9):
            folder = merged / "economy" / "mc-ind" / f"{year:05d}"
            assert folder.is_symlink(), f"year {year} should be linked"
            assert folder.resolve().is_relative_to(machines.share(owner[year]).resolve())
        # pc2 read the study through its own mount (path_map); pc1 through the links
        assert str(machines.pc2_mount) in pc2.log()
        assert str(machines.link("driver")) in pc1.log()
        # linked runs are kept, the rest of their task folders (the study's input) went
        kept = sorted((machines.share("pc1") / "out").iterdir())
        assert kept and all((folder / ".winjobs-linked").is_file() for folder in kept)
        assert not any((folder / "study" / "input").exists() for folder in kept)
        # the result zip is built on demand, following the links
        fetched = fetch_result(client, shared_job, tmp_path / "fetched")
        assert mc_ind_years(fetched) == list(range(1, 9))
        assert_same_run(fetched, clean_run)

        # the same study in HTTP mode: same tasks, so the same merged mc-all, byte for byte
        http_workers = _start_workers(driver, client, workers, solver, {"h1": {}, "h2": {}})
        http_job = submit(client, study, tmp_path)
        reference = _finished(client, http_job)
        _stop(http_workers)
        assert all(task.output_location is None for task in reference.tasks)
        http_run = _merged_run(driver, reference)
        assert not any(p.is_symlink() for p in http_run.rglob("*"))
        files = _mc_all_files(merged)
        assert files and files == _mc_all_files(http_run)
        _, mismatch, errors = filecmp.cmpfiles(merged, http_run, files, shallow=False)
        assert not mismatch and not errors

        # a worker's clean removes its linked runs (the driver's links then dangle)
        cleaned = subprocess.run(
            [WINJOBS, "clean", "data", "--config", pc1.root / "pc1.yaml", "--older-than", "0s"],
            capture_output=True,
            text=True,
            env=clean_env(),
            timeout=60,
        )
        assert cleaned.returncode == 0, cleaned.stderr
        assert "linked run" in cleaned.stdout
        assert not any((machines.share("pc1") / "out").iterdir())


def test_collect_copy(tmp_path: Path, solver: Path, clean_run: Path) -> None:
    machines = Machines(tmp_path)
    settings = machines.driver_settings("copy")
    with cluster(tmp_path / "cluster", settings) as (driver, workers), driver.user() as client:
        started = _start_workers(
            driver,
            client,
            workers,
            solver,
            {name: machines.worker_settings(name) for name in ("pc1", "pc2")},
        )
        job_id = submit(client, make_study(tmp_path, 8), tmp_path)
        job = _finished(client, job_id)
        _stop(started)
        assert {task.worker for task in job.tasks} == {"pc1", "pc2"}
        assert all(task.output_location is None for task in job.tasks)  # on the driver
        merged = _merged_run(driver, job)
        assert mc_ind_years(merged) == list(range(1, 9))
        assert not any(p.is_symlink() for p in merged.rglob("*")), "no link may be left"
        assert_same_run(merged, clean_run)
        # the workers' task folders went once the driver had its copy
        for name in ("pc1", "pc2"):
            assert not any((machines.share(name) / "out").iterdir())
        # both programs also log into their data folders
        driver_log = driver.root / "data" / "logs" / "driver.log"
        assert "driver" in driver_log.read_text() and "starting" in driver_log.read_text()
        for worker in started:
            text = (worker.data_dir / "logs" / "worker.log").read_text()
            assert f"registered as '{worker.name}'" in text
