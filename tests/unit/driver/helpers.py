"""Small generated studies, a movable clock and API actors for the driver's tests."""

from __future__ import annotations

import io
import shutil
import threading
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient

from winjobs.antares.archive import pack_folder, pack_study
from winjobs.antares.output import find_run_folders
from winjobs.antares.playlist import write_task_playlist
from winjobs.client import DriverClient
from winjobs.driver.runtime import Driver
from winjobs.driver.settings import DriverSettings, load_settings
from winjobs.standin.cli import run_solver
from winjobs.wire import ClaimRequest, TaskAssignment, WorkerRegistration

TOKENS = [
    {"name": "alice", "role": "user", "token": "alice-secret"},
    {"name": "bob", "role": "user", "token": "bob-secret"},
    {"name": "ops", "role": "admin", "token": "ops-secret"},
    {"name": "pool", "role": "worker", "token": "worker-secret"},
]


def make_study(
    root: Path,
    nbyears: int = 6,
    version: str = "880",
    caption: str = "tiny",
    derated: bool = False,
    playlist: list[int] | None = None,
    mode: str = "Economy",
) -> Path:
    """A minimal study folder the `winjobs.antares.study` rules accept."""
    (root / "settings").mkdir(parents=True)
    (root / "input" / "areas").mkdir(parents=True)
    (root / "input" / "areas" / "list.txt").write_text("north\n", encoding="utf-8")
    (root / "study.antares").write_text(
        f"[antares]\nversion = {version}\ncaption = {caption}\n", encoding="utf-8"
    )
    general = [
        "[general]",
        f"mode = {mode}",
        f"nbyears = {nbyears}",
        "year-by-year = true",
        f"derated = {'true' if derated else 'false'}",
        f"user-playlist = {'true' if playlist is not None else 'false'}",
        "",
        "[output]",
        "synthesis = true",
        "",
    ]
    if playlist is not None:
        general += ["[playlist]", "playlist_reset = false"]
        general += [f"playlist_year + = {y}" for y in playlist]
        general.append("")
    (root / "settings" / "generaldata.ini").write_text("\n".join(general), encoding="utf-8")
    return root


def standin_run(
    study: Path, years: list[int], workdir: Path, name: str, version: str | None = None
) -> Path:
    """Run the stand-in solver (in-process) on a copy of `study` playing `years`, the way a
    worker does; returns what a worker uploads: its run folder zipped, or the `<run>.zip`
    the solver wrote itself (`result-format = zip`), as it is."""
    task = workdir / name
    shutil.copytree(study, task)
    write_task_playlist(task, years)
    environ = {"WINJOBS_STANDIN_SECONDS_PER_YEAR": "0"}
    if version is not None:
        environ["WINJOBS_STANDIN_VERSION"] = version
    argv = ["antares-solver", "-i", str(task), "-n", name, f"--force-parallel={len(years)}"]
    log = io.StringIO()
    assert run_solver(argv, environ, log) == 0, log.getvalue()[-2000:]
    run = find_run_folders(task)[-1]
    if run.is_file():
        return run
    return pack_folder(run, workdir / f"{name}.zip", arcname_root=run.name).path


def packed_study(tmp: Path, name: str = "study", **options: Any) -> Path:
    study = make_study(tmp / name, **options)
    return pack_study(study, tmp / f"{name}.zip").path


class FakeClock:
    """A clock the test moves by hand; thread-safe."""

    def __init__(self) -> None:
        self._now = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
        self._lock = threading.Lock()

    def __call__(self) -> datetime:
        with self._lock:
            return self._now

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._now += timedelta(seconds=seconds)


def driver_settings(data_dir: Path, **overrides: Any) -> DriverSettings:
    options: dict[str, Any] = {"data_dir": data_dir, "tokens": TOKENS, "sweep_interval_s": 3600}
    options.update(overrides)
    return load_settings(None, **options)


@dataclass
class Api:
    """A driver app in-process, and its users as DriverClients."""

    app: FastAPI
    http: TestClient  #: runs the app's lifespan
    clock: FakeClock

    @property
    def driver(self) -> Driver:
        driver: Driver = self.app.state.driver
        return driver

    def client(self, token: str | None) -> DriverClient:
        http = TestClient(self.app)
        if token is not None:
            http.headers["Authorization"] = f"Bearer {token}"
        return DriverClient(http)

    def raw(self, token: str | None) -> TestClient:
        http = TestClient(self.app)
        if token is not None:
            http.headers["Authorization"] = f"Bearer {token}"
        return http

    def worker(
        self, name: str = "w1", cores: int = 4, versions: tuple[str, ...] = ("8.8",)
    ) -> DriverClient:
        client = self.client("worker-secret")
        client.register_worker(
            WorkerRegistration(name=name, cores=cores, os="Linux-test", versions=list(versions))
        )
        return client


def claim(worker: DriverClient, cores: int = 4) -> TaskAssignment:
    assignment = worker.claim(ClaimRequest(free_cores=cores, wait_s=0))
    assert assignment is not None, "expected a task"
    return assignment
