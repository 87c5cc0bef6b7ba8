"""`winjobs slurm`: run the driver's queue on a Slurm cluster with pilot jobs (docs/slurm.md)."""

from __future__ import annotations

import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import Annotated, Any

import typer

from winjobs.cli.app import app, console
from winjobs.client import DriverClient
from winjobs.logfiles import close_logging, log_file, setup_logging
from winjobs.slurm.commands import SlurmCommands, find_commands
from winjobs.slurm.manager import PoolManager
from winjobs.slurm.settings import ENV_PREFIX, load_settings


@contextmanager
def _stop_on_signals(stop: threading.Event) -> Iterator[None]:
    """Ctrl-C (SIGTERM on POSIX, CTRL_BREAK on Windows) ends the manager's loop."""
    if sys.platform == "win32":
        signums = [signal.SIGINT, signal.SIGBREAK]
    else:
        signums = [signal.SIGINT, signal.SIGTERM]

    def handler(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous: dict[int, Any] = {s: signal.signal(s, handler) for s in signums}
    try:
        yield
    finally:
        for signum, old in previous.items():
            signal.signal(signum, old if old is not None else signal.SIG_DFL)


@app.command("slurm")
def slurm(
    config: Annotated[
        Path | None,
        typer.Option(
            "--config",
            envvar=f"{ENV_PREFIX}CONFIG",
            help="YAML file with the pool's settings (see docs/slurm.md).",
        ),
    ] = None,
    check: Annotated[
        bool,
        typer.Option(
            "--check",
            help="Check the settings, write the pilot script, ask Slurm whether it would "
            "run it (sbatch --test-only), print it, and exit: nothing is submitted.",
        ),
    ] = False,
    driver_url: Annotated[
        str | None,
        typer.Option(help="The driver, e.g. http://host:8000. (env WINJOBS_SLURM_DRIVER_URL)"),
    ] = None,
    token: Annotated[
        str | None,
        typer.Option(help="A worker token of the driver. (env WINJOBS_SLURM_TOKEN)"),
    ] = None,
    pool: Annotated[
        str | None,
        typer.Option(help="The pool's name (default: slurm). (env WINJOBS_SLURM_POOL)"),
    ] = None,
    max_pilots: Annotated[
        int | None,
        typer.Option(
            help="Most pilots in Slurm at once (default: 4). (env WINJOBS_SLURM_MAX_PILOTS)"
        ),
    ] = None,
    log_level: Annotated[
        str | None,
        typer.Option(
            "--log-level",
            help="debug, info, warning or error (default: info); also the log file's "
            "(<data_dir>/logs/slurm.log). (env WINJOBS_SLURM_LOG_LEVEL)",
        ),
    ] = None,
) -> None:
    """Submit Slurm pilot jobs, each running a worker, while the driver's queue has work
    the cluster could run; cancel pending ones when it has none. Ctrl-C (or SIGTERM)
    stops it: pending pilots are cancelled, running ones end by themselves."""
    settings = load_settings(
        config,
        {
            "driver_url": driver_url,
            "token": token,
            "pool": pool,
            "max_pilots": max_pilots,
            "log_level": log_level,
        },
    )
    slurm_commands = SlurmCommands(find_commands(settings.slurm_bin_dir))
    setup_logging(
        settings.log_level,
        log_file(settings.data_dir, "slurm"),
        settings.log_file_max_bytes,
        settings.log_file_backups,
    )
    try:
        with DriverClient.connect(settings.driver_url, settings.token.get_secret_value()) as client:
            manager = PoolManager(settings, slurm_commands, client)
            manager.prepare()
            if check:
                assert manager.script is not None
                console.print(manager.script.read_text(encoding="utf-8"), markup=False,
                              highlight=False, soft_wrap=True)  # fmt: skip
                return
            stop = threading.Event()
            with _stop_on_signals(stop):
                manager.run(stop)
    finally:
        close_logging()
