"""`winjobs submit` and `winjobs download`: studies go up, merged run folders come back."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from winjobs.cli.app import app, console, err_console
from winjobs.cli.common import (
    DebugOpt,
    DriverOpt,
    InputError,
    JobArg,
    JobNotSucceeded,
    JsonOpt,
    TokenOpt,
    driver_session,
)
from winjobs.cli.jobs import wait_for
from winjobs.cli.transfer import SubmitRequest, default_destination, fetch_result, send_study
from winjobs.cli.userconfig import default_notify_targets


@app.command("submit")
def submit(
    study: Annotated[
        Path, typer.Argument(metavar="STUDY", help="The study folder.", show_default=False)
    ],
    priority: Annotated[
        int, typer.Option("--priority", "-p", metavar="N", help="1..100, higher runs first.")
    ] = 50,
    name: Annotated[
        str | None,
        typer.Option("--name", metavar="NAME", help="Job name (default: the study's name)."),
    ] = None,
    years: Annotated[
        str | None,
        typer.Option(
            "--years",
            metavar="SPEC",
            help="MC years to run, 1-based as in Antares, e.g. 1-10,15 "
            "(default: the study's playlist).",
        ),
    ] = None,
    time_limit: Annotated[
        float | None,
        typer.Option(
            "--time-limit", metavar="SECONDS", help="Stop and retry a task running longer."
        ),
    ] = None,
    notify: Annotated[
        list[str] | None,
        typer.Option(
            "--notify",
            metavar="TARGET",
            help="Tell TARGET when the job ends: mail:ADDRESS or a webhook URL (http:// or "
            "https://); repeat for several (default: `notify` in the user config file).",
            show_default=False,
        ),
    ] = None,
    wait: Annotated[
        bool,
        typer.Option("--wait", help="Follow the job until it ends; exit 0 only if it succeeded."),
    ] = False,
    download: Annotated[
        bool,
        typer.Option(
            "--download",
            help="When it succeeds, fetch the result (implies --wait): into DEST/<run folder>/ "
            "when DEST follows, else into the study's own output/.",
        ),
    ] = False,
    download_dest: Annotated[
        Path | None,
        typer.Argument(
            metavar="[DEST]",
            help="Where --download puts the run folder (plays the part of a study's output/).",
            show_default=False,
        ),
    ] = None,
    driver: DriverOpt = None,
    token: TokenOpt = None,
    as_json: JsonOpt = False,
    debug: DebugOpt = False,
) -> None:
    """Validate, pack and upload a study as a new job; print its id."""
    if download_dest is not None and not download:
        raise InputError(
            f"unexpected argument {download_dest}: to fetch the result there, write "
            f"`--download {download_dest}`"
        )
    targets = notify if notify else default_notify_targets()
    request = SubmitRequest(study, priority, name, years, time_limit, tuple(targets))
    fetch = download
    with driver_session(driver, token) as (client, connection):
        created = send_study(client, connection, request, err_console)
        report: dict[str, object] = {"job_id": created.job_id, "warnings": created.warnings}
        if not as_json:
            console.print(f"submitted job {created.job_id}")
        if not (wait or fetch):
            if as_json:
                typer.echo(json.dumps(report))
            else:
                err_console.print(f"follow it with: winjobs wait {created.job_id}")
            return
        try:
            job = wait_for(client, created.job_id, as_json=False)
        except JobNotSucceeded as exc:
            if as_json:
                report["status"] = str(exc.job.status) if exc.job else None
                typer.echo(json.dumps(report))
            raise
        report["status"] = str(job.status)
        if fetch:
            dest = download_dest if download_dest is not None else study / "output"
            run = fetch_result(client, job, dest, err_console)
            report["output"] = str(run)
        if as_json:
            typer.echo(json.dumps(report))
        else:
            where = f": {report['output']}" if "output" in report else ""
            console.print(f"job {job.id} succeeded{where}")


@app.command("download")
def download_result(
    job_id: JobArg,
    dest: Annotated[
        Path | None,
        typer.Argument(
            metavar="[DEST]",
            help="Folder playing the part of a study's output/ (default: the submitted "
            "study's own output/, when it was submitted from here).",
            show_default=False,
        ),
    ] = None,
    driver: DriverOpt = None,
    token: TokenOpt = None,
    as_json: JsonOpt = False,
    debug: DebugOpt = False,
) -> None:
    """Fetch a succeeded job's merged output as DEST/<run folder>/."""
    with driver_session(driver, token) as (client, connection):
        job = client.get_job(job_id)  # first: an unknown job is "no job N", whatever DEST
        folder = dest if dest is not None else default_destination(connection, job_id)
        run = fetch_result(client, job, folder, err_console)
    if as_json:
        typer.echo(json.dumps({"job_id": job_id, "output": str(run)}))
    else:
        console.print(str(run))
