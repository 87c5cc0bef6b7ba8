"""`winjobs worker`: run this machine's worker until stopped."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from winjobs.cli.app import app
from winjobs.cli.common import ParentPidOpt
from winjobs.client import DriverClient
from winjobs.errors import ConfigError
from winjobs.logfiles import close_logging, log_file, setup_logging
from winjobs.parentwatch import ParentWatch
from winjobs.worker.agent import Agent
from winjobs.worker.owner import watch_for
from winjobs.worker.retention import worker_lock
from winjobs.worker.settings import load_settings
from winjobs.worker.shutdown import Shutdown, signals_to
from winjobs.worker.solvers import check_solvers


def _parse_solvers(values: list[str] | None) -> dict[str, str] | None:
    if not values:
        return None
    solvers: dict[str, str] = {}
    for value in values:
        version, sep, path = value.partition("=")
        if not sep or not version.strip() or not path.strip():
            raise ConfigError(f"--solver {value!r}: expected VERSION=PATH, e.g. 8.8=/opt/solver")
        solvers[version.strip()] = path.strip()
    return solvers


_SOLVER_HELP = (
    "Solver of an Antares version; repeat for several. (env WINJOBS_WORKER_SOLVERS, JSON)"
)
_SCHEDULE_HELP = (
    "A window of local time in which tasks may start, e.g. 'mon-fri 19:00-07:30' or "
    "'mon-fri 07:30-19:00 cores=2 idle=15m'; repeat for several [always]. "
    "(env WINJOBS_WORKER_SCHEDULE, JSON list; docs/worker.md)"
)


@app.command("worker")
def worker(
    config: Annotated[
        Path | None,
        typer.Option(
            "--config",
            envvar="WINJOBS_WORKER_CONFIG",
            help="YAML file with the worker's settings (see docs/worker.md).",
        ),
    ] = None,
    max_tasks: Annotated[
        int | None, typer.Option("--max-tasks", min=1, help="Stop after settling N tasks.")
    ] = None,
    exit_when_idle: Annotated[
        bool, typer.Option("--exit-when-idle", help="Stop as soon as a claim finds no work.")
    ] = False,
    driver_url: Annotated[
        str | None,
        typer.Option(help="The driver, e.g. http://host:8000. (env WINJOBS_WORKER_DRIVER_URL)"),
    ] = None,
    token: Annotated[
        str | None,
        typer.Option(help="The driver's worker token. (env WINJOBS_WORKER_TOKEN)"),
    ] = None,
    name: Annotated[
        str | None,
        typer.Option(help="Name on the driver (default: host name). (env WINJOBS_WORKER_NAME)"),
    ] = None,
    cores: Annotated[
        int | None,
        typer.Option(help="Cores for the solver; 0 = all. (env WINJOBS_WORKER_CORES)"),
    ] = None,
    data_dir: Annotated[
        Path | None,
        typer.Option(help="Cache and task folders. (env WINJOBS_WORKER_DATA_DIR)"),
    ] = None,
    solver: Annotated[
        list[str] | None,
        typer.Option("--solver", metavar="VERSION=PATH", help=_SOLVER_HELP),
    ] = None,
    schedule: Annotated[
        list[str] | None,
        typer.Option("--schedule", metavar="WINDOW", help=_SCHEDULE_HELP),
    ] = None,
    idle_source: Annotated[
        str | None,
        typer.Option(
            help="Where the owner's idle time comes from: auto, windows, x11, file, none. "
            "(env WINJOBS_WORKER_IDLE_SOURCE)"
        ),
    ] = None,
    idle_file: Annotated[
        Path | None,
        typer.Option(
            help="With --idle-source file: the file whose age is the owner's idle time. "
            "(env WINJOBS_WORKER_IDLE_FILE)"
        ),
    ] = None,
    vacate_after_s: Annotated[
        float | None,
        typer.Option(
            help="A task suspended this long is handed back [600]. "
            "(env WINJOBS_WORKER_VACATE_AFTER_S)"
        ),
    ] = None,
    max_other_cpu_percent: Annotated[
        float | None,
        typer.Option(
            help="Work only while other programs use at most this % of the CPU. "
            "(env WINJOBS_WORKER_MAX_OTHER_CPU_PERCENT)"
        ),
    ] = None,
    min_free_memory_bytes: Annotated[
        str | None,
        typer.Option(
            "--min-free-memory",
            metavar="SIZE",
            help="Work only while this much memory is free, e.g. 2GiB. "
            "(env WINJOBS_WORKER_MIN_FREE_MEMORY_BYTES)",
        ),
    ] = None,
    deadline: Annotated[
        str | None,
        typer.Option(
            "--deadline",
            metavar="TIME",
            help="When this worker will be stopped from outside (a batch job's end), ISO "
            "8601, local time without a zone: no task is claimed after TIME minus the drain "
            "margin. (env WINJOBS_WORKER_DEADLINE)",
        ),
    ] = None,
    drain_margin: Annotated[
        float | None,
        typer.Option(
            "--drain-margin",
            metavar="SECONDS",
            help="With --deadline: stop claiming this long before it, the longest task "
            "still to finish [600]. (env WINJOBS_WORKER_DRAIN_MARGIN_S)",
        ),
    ] = None,
    log_level: Annotated[
        str | None,
        typer.Option(
            "--log-level",
            help="debug, info, warning or error [info]; also the log file's "
            "(<data_dir>/logs/worker.log). (env WINJOBS_WORKER_LOG_LEVEL)",
        ),
    ] = None,
    parent_pid: ParentPidOpt = None,
) -> None:
    """Claim tasks from the driver and run them with this machine's solvers, until stopped.

    Ctrl-C (or SIGTERM; CTRL_BREAK on Windows) once: finish the running task, then exit.
    Twice: kill it and hand it back to the driver. With --parent-pid, the parent's end
    works like twice.
    """
    settings = load_settings(
        config,
        {
            "driver_url": driver_url,
            "token": token,
            "name": name,
            "cores": cores,
            "data_dir": data_dir,
            "solvers": _parse_solvers(solver),
            "schedule": schedule or None,
            "idle_source": idle_source,
            "idle_file": idle_file,
            "vacate_after_s": vacate_after_s,
            "max_other_cpu_percent": max_other_cpu_percent,
            "min_free_memory_bytes": min_free_memory_bytes,
            "log_level": log_level,
            "deadline": deadline,
            "drain_margin_s": drain_margin,
        },
    )
    solvers = check_solvers(settings.solvers)  # a bad solver stops it before any file is made
    setup_logging(
        settings.log_level,
        log_file(settings.data_dir, "worker"),
        settings.log_file_max_bytes,
        settings.log_file_backups,
    )
    shutdown = Shutdown()
    watch = ParentWatch(parent_pid, shutdown.stop_now).start() if parent_pid else None
    try:
        owner = watch_for(settings)  # an idle source asked for that cannot work: exit 2
        with (
            worker_lock(settings.data_dir),
            DriverClient.connect(settings.driver_url, settings.token.get_secret_value()) as client,
            signals_to(shutdown),
        ):
            Agent(settings, client, solvers, shutdown, owner=owner).run(max_tasks, exit_when_idle)
    finally:
        if watch is not None:
            watch.stop()
        close_logging()
