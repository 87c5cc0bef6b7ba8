"""The two drivers a benchmark compares, each started fresh in its own process, and the
study and run folders they are fed.

- `ours`: `winjobs driver --config driver.yaml` (uvicorn, one process), SQLite in its
  data folder or a PostgreSQL URL, its default log level.
- `original`: the original tool from `../shared/baselines/antares-winjobs-original`, set
  up as `../shared/baselines/original_load.py` says: a copy of it and its own venv
  (fastapi[standard], uvicorn, pyyaml, requests, httpx) in a cache folder outside the
  project (`~/.cache/winjobs-bench`, built once), `config/config_driver.yaml` pointing at
  a fresh data folder, `uvicorn src.main_driver:app` in one process.
"""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import signal
import subprocess
import sys
import time
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import yaml

from winjobs.antares.output import find_run_folders
from winjobs.antares.playlist import write_task_playlist
from winjobs.cli.demo import free_port
from winjobs.client import DriverClient
from winjobs.standin.cli import run_solver
from winjobs.wire import JobSubmitFields

PROJECT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("WINJOBS_SHARED", PROJECT.parent / "shared"))
ORIGINAL_SOURCE = SHARED / "baselines" / "antares-winjobs-original"
CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "winjobs-bench"
ORIGINAL_PACKAGES = ["fastapi[standard]", "pyyaml", "requests", "uvicorn", "httpx"]

USER_TOKEN, WORKER_TOKEN = "bench-user", "bench-worker"
TOKENS = [
    {"name": "bench", "role": "user", "token": USER_TOKEN},
    {"name": "pool", "role": "worker", "token": WORKER_TOKEN},
]
#: the files of the smallest run folder the driver's strict check accepts (and merges)
RUN_FILES = (
    "execution_info.ini",
    "info.antares-output",
    "about-the-study/parameters.ini",
    "annualSystemCost.txt",
    "checkIntegrity.txt",
)


def write_study(root: Path, nbyears: int) -> Path:
    """The smallest study both drivers take: one area, no synthesis, no year-by-year."""
    (root / "settings").mkdir(parents=True)
    (root / "input" / "areas").mkdir(parents=True)
    (root / "input" / "areas" / "list.txt").write_text("north\n")
    (root / "study.antares").write_text("[antares]\nversion = 880\ncaption = bench\n")
    (root / "settings" / "generaldata.ini").write_text(
        "[general]\nmode = Economy\n"
        f"nbyears = {nbyears}\nyear-by-year = false\nuser-playlist = false\n\n"
        "[output]\nsynthesis = false\n"
    )
    return root


def zip_study(study: Path) -> bytes:
    """The study zipped with its content at the root (what both drivers accept)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(study.rglob("*")):
            if path.is_file():
                archive.write(path, path.relative_to(study).as_posix())
    return buffer.getvalue()


@dataclass(frozen=True)
class RunTemplate:
    """One stand-in run of one year, reduced to `RUN_FILES`; `for_year` re-targets it."""

    name: str
    files: dict[str, bytes]

    @classmethod
    def make(cls, study: Path, workdir: Path) -> RunTemplate:
        task = workdir / "template-task"
        shutil.copytree(study, task)
        write_task_playlist(task, [0])
        log = io.StringIO()
        argv = ["antares-solver", "-i", str(task), "-n", "bench"]
        if run_solver(argv, {"WINJOBS_STANDIN_SECONDS_PER_YEAR": "0"}, log) != 0:
            raise SystemExit(f"the stand-in solver failed:\n{log.getvalue()[-2000:]}")
        run = find_run_folders(task)[-1]
        files = {name: (run / name).read_bytes() for name in RUN_FILES}
        shutil.rmtree(task)
        return cls(run.name, files)

    def year_files(self, year: int) -> dict[str, bytes]:
        files = dict(self.files)
        params = files["about-the-study/parameters.ini"]
        if b"playlist_year + = 0" not in params:
            raise SystemExit("unexpected parameters.ini in the stand-in's run")
        files["about-the-study/parameters.ini"] = params.replace(
            b"playlist_year + = 0", f"playlist_year + = {year}".encode()
        )
        return files

    def zip_for_year(self, year: int, extra: tuple[str, int] | None = None) -> bytes:
        """The run of `year` zipped under its run folder's name, as a worker uploads it;
        `extra` adds (name, size) of incompressible bytes (a large output)."""
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            for name, data in self.year_files(year).items():
                archive.writestr(f"{self.name}/{name}", data)
            if extra is not None:
                path, size = extra
                archive.writestr(
                    f"{self.name}/{path}", os.urandom(size), compress_type=zipfile.ZIP_STORED
                )
        return buffer.getvalue()

    def write_year(self, year: int, dest: Path) -> Path:
        """The run of `year` as a folder `dest/<run name>` (shared mode)."""
        run = dest / self.name
        for name, data in self.year_files(year).items():
            (run / name).parent.mkdir(parents=True, exist_ok=True)
            (run / name).write_bytes(data)
        return run


@dataclass
class Running:
    url: str
    pid: int
    data: Path


def wait_healthy(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    """Until a driver process started at `url` answers /health (either driver); exits
    with the end of its `log` if it dies or takes more than 90 s."""
    deadline = time.monotonic() + 90
    while True:
        try:
            if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise SystemExit(f"the driver did not start:\n{log.read_text()[-3000:]}")
        time.sleep(0.1)


def stop_driver(process: subprocess.Popen[bytes]) -> None:
    """Ctrl-C, as a user stops it (its shutdown path is exercised too); killed after 60 s."""
    if sys.platform == "win32":
        process.send_signal(signal.CTRL_C_EVENT)
    else:
        process.send_signal(signal.SIGINT)
    try:
        process.wait(timeout=60)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@contextmanager
def ours(
    workdir: Path,
    database_url: str | None = None,
    shared_root: Path | None = None,
    extra: dict[str, object] | None = None,
) -> Iterator[Running]:
    """Our driver, started fresh in `workdir`."""
    port = free_port()
    config: dict[str, object] = {
        "host": "127.0.0.1",
        "port": port,
        "data_dir": str(workdir / "data"),
        "tokens": TOKENS,
        "chunk_policy": "cores",  # one year per task with 1-core workers: the original's rule
        "max_years_per_job": 100_000,
    }
    if database_url:
        config["database_url"] = database_url
    if shared_root is not None:
        config |= {"transfer": "shared", "shared_root": str(shared_root), "collect": "link"}
    config |= extra or {}
    workdir.mkdir(parents=True, exist_ok=True)
    path = workdir / "driver.yaml"
    path.write_text(yaml.safe_dump(config))
    log = workdir / "driver.out"
    script = Path(sys.executable).with_name("winjobs")
    with log.open("wb") as out:
        process = subprocess.Popen(
            [str(script), "driver", "--config", str(path)], stdout=out, stderr=subprocess.STDOUT
        )
        url = f"http://127.0.0.1:{port}"
        try:
            wait_healthy(url, process, log)
            yield Running(url, process.pid, workdir / "data")
        finally:
            stop_driver(process)


def submit_ours(url: str, study_zip: Path, jobs: int, years: str | None = None) -> list[int]:
    with DriverClient.connect(url, USER_TOKEN) as user:
        return [
            user.submit_job(study_zip, JobSubmitFields(years=years)).job_id for _ in range(jobs)
        ]


def original_available() -> str | None:
    """Why the original cannot run here, or None."""
    if not (ORIGINAL_SOURCE / "src" / "main_driver.py").is_file():
        return f"the original tool is not at {ORIGINAL_SOURCE} (../shared is absent)"
    if shutil.which("uv") is None:
        return "uv is needed to build the original tool's venv"
    return None


def original_app() -> Path:
    """The original tool's copy with its venv, in the cache (built on first use)."""
    digest = hashlib.sha256(
        b"".join(p.read_bytes() for p in sorted(ORIGINAL_SOURCE.rglob("*.py")))
    ).hexdigest()[:12]
    app = CACHE / f"original-{digest}"
    if (app / ".venv" / "ready").is_file():
        return app
    print(f"building the original tool's venv in {app} ...", flush=True)
    shutil.rmtree(app, ignore_errors=True)
    shutil.copytree(ORIGINAL_SOURCE, app)
    for path in [app, *app.rglob("*")]:
        path.chmod(path.stat().st_mode | 0o200)
    subprocess.run(["uv", "venv", "-q", str(app / ".venv"), "--python", sys.executable], check=True)
    subprocess.run(
        [
            "uv",
            "pip",
            "install",
            "-q",
            "--python",
            str(app / ".venv" / "bin" / "python"),
            *ORIGINAL_PACKAGES,
        ],
        check=True,
    )
    (app / ".venv" / "ready").write_text("ok\n")
    return app


@contextmanager
def original(workdir: Path) -> Iterator[Running]:
    """The original driver on a fresh data folder (its config is read from the cwd)."""
    app = original_app()
    data = workdir / "data"
    for sub in ("zip", "study", "state"):
        (data / sub).mkdir(parents=True, exist_ok=True)
    (app / "config" / "config_driver.yaml").write_text(
        yaml.safe_dump(
            {
                "new_jobs_zip_folder_path": str(data / "zip"),
                "new_jobs_study_folder_path": str(data / "study"),
                "7_zip_file_path": None,
                "persisted_queue_folder_path": str(data / "state"),
            }
        )
    )
    port = free_port()
    log = workdir / "driver.out"
    command = [str(app / ".venv" / "bin" / "uvicorn"), "src.main_driver:app"]
    command += ["--host", "127.0.0.1", "--port", str(port)]
    with log.open("wb") as out:
        process = subprocess.Popen(
            command,
            cwd=app,
            env={**os.environ, "PYTHONPATH": "src"},
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        url = f"http://127.0.0.1:{port}"
        try:
            wait_healthy(url, process, log)
            yield Running(url, process.pid, data)
        finally:
            stop_driver(process)


def submit_original(url: str, study_zip: bytes, jobs: int, tag: str) -> None:
    with httpx.Client(base_url=url, timeout=300) as client:
        for index in range(jobs):
            name = f"{tag}-{index:03d}.zip"
            answer = client.post(
                "/submit_job",
                files={"zip_file": (name, study_zip, "application/zip")},
                data={"priority": "50", "submitter": "bench"},
            )
            if answer.status_code != 200 or "job_id" not in answer.json():
                raise SystemExit(f"the original refused a job: {answer.text[:500]}")
