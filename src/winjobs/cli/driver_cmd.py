"""`winjobs driver`: run the driver service."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from winjobs.cli.app import app
from winjobs.cli.common import ParentPidOpt
from winjobs.driver.settings import ENV_PREFIX, load_settings


@app.command("driver")
def driver(
    config: Annotated[
        Path | None,
        typer.Option(
            "--config",
            "-c",
            help="YAML configuration file (keys: see docs/driver.md).",
            envvar=f"{ENV_PREFIX}CONFIG",
        ),
    ] = None,
    host: Annotated[
        str | None, typer.Option("--host", help="Address to listen on [127.0.0.1].")
    ] = None,
    port: Annotated[
        int | None, typer.Option("--port", help="Port to listen on [8000]; 0: any free port.")
    ] = None,
    data_dir: Annotated[
        Path | None,
        typer.Option("--data-dir", help="Folder for the database, archives and outputs."),
    ] = None,
    log_level: Annotated[
        str | None,
        typer.Option(
            "--log-level",
            help="debug, info, warning or error [info]; also the log file's "
            "(<data_dir>/logs/driver.log).",
        ),
    ] = None,
    database_url: Annotated[
        str | None,
        typer.Option(
            "--database-url",
            help="sqlite:///PATH (default: in the data folder) or postgresql+psycopg://...",
        ),
    ] = None,
    parent_pid: ParentPidOpt = None,
) -> None:
    """Run the driver: the HTTP API, scheduling, leases and output assembly.

    Settings come from the YAML file, then WINJOBS_DRIVER_* environment variables
    (e.g. WINJOBS_DRIVER_PORT), then these options, each overriding the previous.
    """
    from winjobs.driver.app import serve  # the web stack loads only for this command

    settings = load_settings(
        config,
        host=host,
        port=port,
        data_dir=data_dir,
        database_url=database_url,
        log_level=log_level,
    )
    serve(settings, parent_pid)
