"""User commands on jobs already on the driver: list, show, wait, cancel, priority, hold,
release, retry, logs, the workers list and the pool's status. Each parses its options and
calls `DriverClient`; the look is in `render`, the waiting in `follow`.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Annotated

import typer
from rich.console import RenderableType

from winjobs.cli.app import app, console, err_console
from winjobs.cli.common import (
    DebugOpt,
    DriverOpt,
    InputError,
    JobArg,
    JobNotSucceeded,
    JsonOpt,
    TokenOpt,
    check_priority,
    driver_session,
)
from winjobs.cli.follow import JobFollower
from winjobs.cli.render import (
    format_progress,
    hold_text,
    job_view,
    jobs_table,
    pools_view,
    shares_view,
    status_view,
    to_json,
    workers_view,
)
from winjobs.client import DriverClient
from winjobs.ops.words import counted
from winjobs.wire import JOBS_LIMIT_DEFAULT, JOBS_LIMIT_MAX, JobDetail, JobStatus


def _now() -> datetime:
    return datetime.now(UTC)


def print_result(job: JobDetail, as_json: bool, human: RenderableType) -> None:
    """A job command's answer: the job as the API sends it with `--json`, else `human`."""
    if as_json:
        typer.echo(to_json(job))
    else:
        console.print(human)


@app.command("jobs")
def list_jobs(
    status: Annotated[
        JobStatus | None, typer.Option("--status", help="Only jobs in this state.")
    ] = None,
    submitter: Annotated[
        str | None, typer.Option("--submitter", metavar="NAME", help="Only this user's jobs.")
    ] = None,
    limit: Annotated[
        int | None,
        typer.Option(
            "--limit",
            metavar="N",
            min=1,
            max=JOBS_LIMIT_MAX,
            help=f"Show the newest N jobs [{JOBS_LIMIT_DEFAULT}].",
        ),
    ] = None,
    driver: DriverOpt = None,
    token: TokenOpt = None,
    as_json: JsonOpt = False,
    debug: DebugOpt = False,
) -> None:
    """List the driver's jobs, newest first: id, name, submitter, priority, status,
    progress, age."""
    with driver_session(driver, token) as (client, _):
        listing = client.list_jobs(status=status, submitter=submitter, limit=limit)
    if as_json:
        typer.echo(to_json(listing))
    elif not listing.jobs:
        err_console.print("no jobs")
    else:
        console.print(jobs_table(listing.jobs, _now()))
        if listing.total is not None and listing.total > len(listing.jobs):
            err_console.print(
                f"the newest {len(listing.jobs)} of {listing.total} jobs (--limit N for more)"
            )


@app.command("show")
def show_job(
    job_id: JobArg,
    driver: DriverOpt = None,
    token: TokenOpt = None,
    as_json: JsonOpt = False,
    debug: DebugOpt = False,
) -> None:
    """Show a job and its tasks (years 1-based here, 0-based in --json)."""
    with driver_session(driver, token) as (client, _):
        job = client.get_job(job_id)
    print_result(job, as_json, job_view(job, _now()))


def wait_for(client: DriverClient, job_id: int, as_json: bool) -> JobDetail:
    """Follow a job to its end; raise `JobNotSucceeded` (exit 3) unless it succeeded."""
    job = JobFollower(client, err_console).follow(job_id)
    if as_json:
        typer.echo(to_json(job))
    if job.status == JobStatus.SUCCEEDED:
        return job
    reason = f": {job.error}" if job.error else ""
    raise JobNotSucceeded(f"job {job.id} {job.status}{reason}", job)


@app.command("wait")
def wait_job(
    job_id: JobArg,
    driver: DriverOpt = None,
    token: TokenOpt = None,
    as_json: JsonOpt = False,
    debug: DebugOpt = False,
) -> None:
    """Follow a job with a progress bar until it ends; exit 0 only if it succeeded."""
    with driver_session(driver, token) as (client, _):
        job = wait_for(client, job_id, as_json)
    if not as_json:
        console.print(f"job {job.id} succeeded ({counted(job.years_total, 'year')})")


@app.command("cancel")
def cancel_job(
    job_id: JobArg,
    driver: DriverOpt = None,
    token: TokenOpt = None,
    as_json: JsonOpt = False,
    debug: DebugOpt = False,
) -> None:
    """Cancel a job: queued tasks are dropped, running ones stopped at their next heartbeat."""
    with driver_session(driver, token) as (client, _):
        job = client.cancel_job(job_id)
    print_result(job, as_json, f"job {job.id} {job.status}")


@app.command("priority")
def set_priority(
    job_id: JobArg,
    priority: Annotated[
        int, typer.Argument(metavar="N", help="1..100, higher runs first.", show_default=False)
    ],
    driver: DriverOpt = None,
    token: TokenOpt = None,
    as_json: JsonOpt = False,
    debug: DebugOpt = False,
) -> None:
    """Change the priority of a queued or running job (1..100, higher runs first)."""
    check_priority(priority)
    with driver_session(driver, token) as (client, _):
        job = client.set_priority(job_id, priority)
    print_result(job, as_json, f"job {job.id} now has priority {job.priority}")


@app.command("hold")
def hold_job(
    job_id: JobArg,
    reason: Annotated[
        str | None,
        typer.Option("--reason", metavar="TEXT", help="Why, shown with the job."),
    ] = None,
    driver: DriverOpt = None,
    token: TokenOpt = None,
    as_json: JsonOpt = False,
    debug: DebugOpt = False,
) -> None:
    """Hold a queued or running job: it keeps its place in the queue but no task of it
    starts until `winjobs release JOB`; its running tasks finish."""
    if reason is not None and len(reason) > 500:
        raise InputError("--reason must be at most 500 characters long")
    with driver_session(driver, token) as (client, _):
        job = client.hold_job(job_id, reason)
    print_result(job, as_json, f"job {job.id} held: {hold_text(job)}")


@app.command("release")
def release_job(
    job_id: JobArg,
    driver: DriverOpt = None,
    token: TokenOpt = None,
    as_json: JsonOpt = False,
    debug: DebugOpt = False,
) -> None:
    """Release a held job: its tasks start again, at its place in the queue."""
    with driver_session(driver, token) as (client, _):
        job = client.release_job(job_id)
    print_result(job, as_json, f"job {job.id} released: it {job.status.phrase} again")


@app.command("retry")
def retry_job(
    job_id: JobArg,
    driver: DriverOpt = None,
    token: TokenOpt = None,
    as_json: JsonOpt = False,
    debug: DebugOpt = False,
) -> None:
    """Run a failed job again: only its missing years run."""
    with driver_session(driver, token) as (client, _):
        job = client.retry_job(job_id)
    done = format_progress(job.years_done, job.years_total)
    print_result(job, as_json, f"job {job.id} {job.status} again (years already done: {done})")


@app.command("logs")
def show_logs(
    job_id: JobArg,
    task: Annotated[
        int | None,
        typer.Option("--task", metavar="ID", help="The log of one task (its solver log)."),
    ] = None,
    driver: DriverOpt = None,
    token: TokenOpt = None,
    as_json: JsonOpt = False,
    debug: DebugOpt = False,
) -> None:
    """Print a job's log, or with --task the log of one of its tasks."""
    if task is not None and task < 1:
        raise InputError(f"--task must be a task id as `winjobs show {job_id}` lists, not {task}")
    with driver_session(driver, token) as (client, _):
        text = client.job_log(job_id) if task is None else client.task_log(job_id, task)
    if as_json:
        typer.echo(json.dumps({"job_id": job_id, "task_id": task, "log": text}, indent=2))
    else:
        typer.echo(text, nl=not text.endswith("\n"))


@app.command("workers")
def list_workers(
    driver: DriverOpt = None,
    token: TokenOpt = None,
    as_json: JsonOpt = False,
    debug: DebugOpt = False,
) -> None:
    """List the workers, one line each: name, cores, solver versions, state, the tasks
    it runs, last seen; then why each held worker is held; then the pilots of
    batch-system pools (Slurm job id, state, reason), pending ones included."""
    with driver_session(driver, token) as (client, _):
        listing = client.list_workers()
    now = _now()
    if as_json:
        typer.echo(to_json(listing))
        return
    if not listing.workers:
        err_console.print("no workers have registered yet")
    else:
        console.print(workers_view(listing.workers, now))
    if listing.pools:
        console.print(pools_view(listing.pools, now))


@app.command("shares")
def pool_shares(
    driver: DriverOpt = None,
    token: TokenOpt = None,
    as_json: JsonOpt = False,
    debug: DebugOpt = False,
) -> None:
    """Each user's share of the pool, as fair share weighs it: weight, recent usage
    (core-hours, decayed), cores held now; least served per weight first, the next to be
    served at an equal priority. Also says how the queue is ordered."""
    with driver_session(driver, token) as (client, _):
        shares = client.shares()
    if as_json:
        typer.echo(to_json(shares))
    else:
        console.print(shares_view(shares))


@app.command("status")
def pool_status(
    driver: DriverOpt = None,
    token: TokenOpt = None,
    as_json: JsonOpt = False,
    debug: DebugOpt = False,
) -> None:
    """The pool at a glance: workers by state, cores busy, jobs queued and running, years
    left, the last hour's throughput and the time to drain the queue at that pace."""
    with driver_session(driver, token) as (client, _):
        pool = client.pool_status()
    if as_json:
        typer.echo(to_json(pool))
    else:
        console.print(status_view(pool))
