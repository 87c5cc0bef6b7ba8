"""`winjobs demo`: the whole loop on one machine, from nothing, in well under a minute.

It starts a driver (SQLite in the data folder, a free loopback port, freshly generated
tokens) and N workers running the stand-in solver, all as child processes through the very
commands a user would type (`winjobs driver --config`, `winjobs worker --config`); submits
a copy of the bundled example study through the same code as `winjobs submit`; follows
it; downloads the merged output into the copy's `output/`; and prints a summary. Children
are stopped on every way out (success, error, Ctrl-C); `--keep` leaves them running, with
the dashboard URL and the tokens printed, until Ctrl-C.

The children's environment is the user's minus every `WINJOBS_*` variable, so a
`WINJOBS_TOKEN` meant for the CLI cannot leak into the demo's driver or workers.
"""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated

import httpx
import typer
import yaml

from winjobs.antares.example import example_study_path
from winjobs.antares.study import open_study
from winjobs.cli.app import app, console, err_console
from winjobs.cli.common import DebugOpt, InputError
from winjobs.cli.demo_owner import SECONDS_PER_YEAR, OwnerScene
from winjobs.cli.follow import JobFollower, StoppedFollowing
from winjobs.cli.processes import Child, ChildFailed, Children, winjobs_command
from winjobs.cli.render import format_seconds
from winjobs.cli.transfer import SubmitRequest, fetch_result, send_study
from winjobs.cli.userconfig import Connection
from winjobs.client import DriverClient
from winjobs.errors import WinjobsError
from winjobs.ops.words import counted
from winjobs.wire import JobDetail, JobStatus

#: Seconds each MC year takes in the stand-in: long enough to watch, short enough that
#: 8 years on 2 workers x 2 cores finish in a few seconds. WINJOBS_STANDIN_SECONDS_PER_YEAR
#: in the user's environment overrides it.
DEMO_SECONDS_PER_YEAR = 1.0
DEMO_CORES_PER_WORKER = 2
STANDIN_SECONDS_ENV = "WINJOBS_STANDIN_SECONDS_PER_YEAR"
STANDIN_VERSION_ENV = "WINJOBS_STANDIN_VERSION"
READY_TIMEOUT_S = 60.0


class DemoInterrupted(WinjobsError):
    exit_code = 130


@dataclass(frozen=True)
class DemoPlan:
    """Everything decided before the first process starts."""

    root: Path
    port: int
    workers: int
    antares_version: str
    solver: Path
    seconds_per_year: str
    #: --owner-active-after: the owner of worker 1 comes back mid-job
    owner: OwnerScene | None = None
    user_token: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    admin_token: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    worker_token: str = field(default_factory=lambda: secrets.token_urlsafe(24))

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def free_port() -> int:
    """A loopback port nobody listens on right now (the driver binds it a moment later)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def standin_solver(bin_dir: Path) -> Path:
    """The stand-in solver's executable: the console script beside this Python, else a
    launcher written into `bin_dir` (a `.cmd` on Windows, a shell script elsewhere)."""
    scripts = Path(sys.executable).parent
    name = "winjobs-standin-solver.exe" if sys.platform == "win32" else "winjobs-standin-solver"
    for candidate in (scripts / name, shutil.which("winjobs-standin-solver")):
        if candidate and Path(candidate).is_file():
            return Path(candidate)
    bin_dir.mkdir(parents=True, exist_ok=True)
    if sys.platform == "win32":
        launcher = bin_dir / "winjobs-standin-solver.cmd"
        launcher.write_text(f'@"{sys.executable}" -m winjobs.standin %*\r\n', encoding="utf-8")
    else:
        launcher = bin_dir / "winjobs-standin-solver"
        launcher.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m winjobs.standin "$@"\n')
        launcher.chmod(0o755)
    return launcher


def child_environment(plan: DemoPlan) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.upper().startswith("WINJOBS_")}
    env[STANDIN_SECONDS_ENV] = plan.seconds_per_year
    env[STANDIN_VERSION_ENV] = plan.antares_version
    env["PYTHONUNBUFFERED"] = "1"
    return env


def write_configs(plan: DemoPlan) -> tuple[Path, list[Path]]:
    """The driver's and each worker's YAML config, in the keys their issues document."""
    config_dir = plan.root / "config"
    config_dir.mkdir(parents=True, exist_ok=True)
    driver_config = config_dir / "driver.yaml"
    driver = {
        "host": "127.0.0.1",
        "port": plan.port,
        "data_dir": str(plan.root / "driver"),
        "tokens": [
            {"name": "demo-user", "role": "user", "token": plan.user_token},
            {"name": "demo-admin", "role": "admin", "token": plan.admin_token},
            {"name": "demo-workers", "role": "worker", "token": plan.worker_token},
        ],
    }
    driver_config.write_text(yaml.safe_dump(driver, sort_keys=False), encoding="utf-8")
    worker_configs = []
    for index in range(1, plan.workers + 1):
        worker = {
            "driver_url": plan.url,
            "token": plan.worker_token,
            "name": f"demo-worker-{index}",
            "cores": DEMO_CORES_PER_WORKER,
            "data_dir": str(plan.root / f"worker-{index}"),
            "solvers": {plan.antares_version: str(plan.solver)},
            **(plan.owner.worker_settings(index) if plan.owner else {}),
        }
        path = config_dir / f"worker-{index}.yaml"
        path.write_text(yaml.safe_dump(worker, sort_keys=False), encoding="utf-8")
        worker_configs.append(path)
    return driver_config, worker_configs


def wait_until(what: str, ready: Callable[[], bool], children: Children) -> None:
    """Poll `ready` until it holds; a child that dies meanwhile stops the wait at once."""
    deadline = time.monotonic() + READY_TIMEOUT_S
    while True:
        children.check_alive()
        if ready():
            return
        if time.monotonic() > deadline:
            raise ChildFailed(f"the {what} did not become ready in {READY_TIMEOUT_S:g} s")
        time.sleep(0.2)


def driver_is_up(url: str) -> bool:
    try:
        return httpx.get(f"{url}/health", timeout=2.0).status_code == 200
    except httpx.HTTPError:
        return False


def workers_are_up(client: DriverClient, count: int) -> bool:
    names = {w.name for w in client.list_workers().workers if w.state != "offline"}
    return all(f"demo-worker-{i}" in names for i in range(1, count + 1))


def prepare_root(data_dir: Path | None) -> Path:
    if data_dir is None:
        return Path(tempfile.mkdtemp(prefix="winjobs-demo-"))
    if data_dir.exists() and (not data_dir.is_dir() or any(data_dir.iterdir())):
        raise InputError(f"--data-dir {data_dir} is not an empty folder: give a new one")
    data_dir.mkdir(parents=True, exist_ok=True)
    return data_dir.resolve()


def make_plan(
    root: Path, port: int, workers: int, owner_after_s: float | None = None
) -> tuple[DemoPlan, Path]:
    """Copy the example study into `root` and decide ports, tokens, solver, timing."""
    study = root / "demo-study"
    shutil.copytree(example_study_path(), study, ignore=shutil.ignore_patterns("output"))
    owner = OwnerScene(root, owner_after_s) if owner_after_s is not None else None
    plan = DemoPlan(
        root=root,
        port=port or free_port(),
        workers=workers,
        antares_version=open_study(study).version,
        solver=standin_solver(root / "bin"),
        seconds_per_year=os.environ.get(STANDIN_SECONDS_ENV, "").strip()
        or (SECONDS_PER_YEAR if owner else str(DEMO_SECONDS_PER_YEAR)),
        owner=owner,
    )
    return plan, study


@dataclass(frozen=True)
class DemoOutcome:
    job: JobDetail
    output: Path
    seconds: float
    owner_story: list[str] = field(default_factory=list)  #: --owner-active-after


def start_children(plan: DemoPlan, children: Children, client: DriverClient) -> None:
    """Driver first (and wait for it), then the workers (and wait until all registered)."""
    driver_config, worker_configs = write_configs(plan)
    env = child_environment(plan)
    watch_me = ("--parent-pid", str(os.getpid()))  # they end with the demo, even a killed one
    logs = plan.root / "logs"
    err_console.print(f"starting the driver on {plan.url} ...")
    children.start(
        Child(
            "driver",
            winjobs_command("driver", "--config", str(driver_config), *watch_me),
            logs / "driver.log",
        ),
        env,
    )
    wait_until("driver", lambda: driver_is_up(plan.url), children)
    err_console.print(f"starting {plan.workers} workers with the stand-in solver ...")
    for index, config in enumerate(worker_configs, start=1):
        children.start(
            Child(
                f"worker {index}",
                winjobs_command("worker", "--config", str(config), *watch_me),
                logs / f"worker-{index}.log",
                group="workers",
            ),
            env,
        )
    wait_until("workers", lambda: workers_are_up(client, plan.workers), children)


def run_job(plan: DemoPlan, client: DriverClient, study: Path) -> DemoOutcome:
    connection = Connection(plan.url, plan.user_token, "the demo", "the demo")
    started = time.monotonic()
    created = send_study(client, connection, SubmitRequest(study, name="demo"), err_console)
    err_console.print(f"submitted job {created.job_id}")
    if plan.owner is not None:
        plan.owner.start()
    try:
        job = JobFollower(client, err_console).follow(created.job_id)
    finally:
        if plan.owner is not None:
            plan.owner.stop()
    if job.status != JobStatus.SUCCEEDED:
        raise WinjobsError(
            f"the demo job ended {job.status}: {job.error or 'no reason given'} "
            f"(logs in {plan.root / 'logs'})"
        )
    output = fetch_result(client, job, study / "output", err_console)
    story = plan.owner.story(client, job) if plan.owner is not None else []
    return DemoOutcome(client.get_job(job.id), output, time.monotonic() - started, story)


def print_summary(plan: DemoPlan, outcome: DemoOutcome, total_seconds: float) -> None:
    job = outcome.job
    workers = sorted({t.worker for t in job.tasks if t.worker and t.status == "succeeded"})
    console.print(f"merged output: {outcome.output}", highlight=False, soft_wrap=True)
    console.print(
        f"{counted(job.years_total, 'year')} in {counted(len(job.tasks), 'task')} on "
        f"{counted(len(workers), 'worker')} "
        f"({', '.join(workers)}), {format_seconds(outcome.seconds)} from submit to result, "
        f"{format_seconds(total_seconds)} in all",
        highlight=False,
        soft_wrap=True,
    )
    for line in outcome.owner_story:
        console.print(line, highlight=False, soft_wrap=True)
    console.print(f"everything is in {plan.root}", highlight=False, soft_wrap=True)


def keep_running(plan: DemoPlan, children: Children) -> None:
    console.print(
        f"""
the driver and workers keep running; Ctrl-C stops them.
  dashboard    {plan.url}/
  API docs     {plan.url}/docs
  user token   {plan.user_token}
  admin token  {plan.admin_token}
  try          winjobs jobs --driver {plan.url} --token {plan.user_token}""",
        highlight=False,
        soft_wrap=True,
    )
    try:
        while True:
            children.check_alive()
            time.sleep(1.0)
    except KeyboardInterrupt:
        err_console.print("stopping the workers and the driver ...")


@app.command("demo")
def demo(
    data_dir: Annotated[
        Path | None,
        typer.Option(
            "--data-dir",
            metavar="DIR",
            help="Empty or new folder for everything (default: a new temporary folder).",
        ),
    ] = None,
    keep: Annotated[
        bool, typer.Option("--keep", help="Leave the driver and workers running until Ctrl-C.")
    ] = False,
    workers: Annotated[
        int, typer.Option("--workers", metavar="N", help="Workers to start (1..8).")
    ] = 2,
    port: Annotated[
        int, typer.Option("--port", metavar="PORT", help="Driver port (0: a free one).")
    ] = 0,
    owner_active_after: Annotated[
        float | None,
        typer.Option(
            "--owner-active-after",
            metavar="S",
            help="S seconds after demo-worker-1 starts its first task, its owner comes "
            "back and stays: the solver is suspended, then the task vacated and run "
            "elsewhere (docs/worker.md).",
        ),
    ] = None,
    debug: DebugOpt = False,
) -> None:
    """Run the whole loop on this machine: driver, workers, a job, its merged output."""
    if not 1 <= workers <= 8:
        raise InputError(f"--workers must be between 1 and 8, not {workers}")
    if not 0 <= port <= 65535:
        raise InputError(f"--port must be between 0 and 65535, not {port}")
    if owner_active_after is not None and (owner_active_after < 0 or workers < 2):
        raise InputError(
            "--owner-active-after needs a number of seconds >= 0 and --workers 2 or more "
            "(the other workers run what the owner's PC hands back)"
        )
    began = time.monotonic()
    root = prepare_root(data_dir)
    err_console.print(f"demo folder: {root}", highlight=False, soft_wrap=True)
    plan, study = make_plan(root, port, workers, owner_active_after)
    try:
        with Children() as children:
            with DriverClient.connect(plan.url, plan.user_token) as client:
                start_children(plan, children, client)
                outcome = run_job(plan, client, study)
            print_summary(plan, outcome, time.monotonic() - began)
            if keep:
                keep_running(plan, children)
    except (KeyboardInterrupt, StoppedFollowing):
        raise DemoInterrupted("demo interrupted; its driver and workers are stopped") from None
