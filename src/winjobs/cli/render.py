"""How jobs, tasks and workers look on a terminal, and as JSON for scripts.

Pure functions from wire models to Rich renderables or JSON text; `now` is a parameter so
that tests pin the clock. Humans see MC years 1-based (`format_years`); the JSON output is
the wire model itself, years 0-based, because scripts feed it back to the API.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime

from pydantic import BaseModel
from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from winjobs.cli.years import format_years
from winjobs.ops.durations import elapsed_parts
from winjobs.wire import (
    JobDetail,
    JobStatus,
    JobSummary,
    PilotPool,
    TaskInfo,
    TaskStatus,
    WorkerInfo,
)

_STATUS_STYLE = {
    "queued": "yellow",
    "running": "cyan",
    "succeeded": "green",
    "failed": "bold red",
    "cancelled": "magenta",
    "idle": "green",
    "busy": "cyan",
    "draining": "yellow",
    "held": "bold red",
    "offline": "dim",
    "in schedule": "green",
    "outside schedule": "dim",
    "owner active": "yellow",
    "suspended": "bold yellow",
    "vacating": "red",
    "PENDING": "yellow",
    "RUNNING": "cyan",
}


def to_json(model: BaseModel) -> str:
    """The JSON text `--json` prints: the wire model as the API sends it."""
    return json.dumps(model.model_dump(mode="json"), indent=2)


def status_text(status: str) -> Text:
    return Text(status, style=_STATUS_STYLE.get(status, ""))


def format_seconds(seconds: float) -> str:
    """A duration the way a person reads it: `45s`, `2m 05s`, `1h 02m`, `3d 04h`."""
    (amount, unit), *rest = elapsed_parts(seconds)
    return " ".join([f"{amount}{unit}", *(f"{n:02d}{u}" for n, u in rest)])


def format_age(moment: datetime, now: datetime) -> str:
    """How long ago `moment` was, coarse: `12s`, `5m`, `3h`, `2d`."""
    seconds = max(0.0, (now - moment).total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{int(seconds // size)}{unit}"
    return f"{int(seconds)}s"


def format_progress(done: int, total: int) -> str:
    percent = 100 * done // total if total else 0
    return f"{done}/{total} ({percent}%)"


def _duration(started: datetime | None, finished: datetime | None, now: datetime) -> str:
    if started is None:
        return "-"
    return format_seconds(((finished or now) - started).total_seconds())


def jobs_table(jobs: Sequence[JobSummary], now: datetime) -> Table:
    table = Table(box=None, pad_edge=False, header_style="bold")
    for column in ("ID", "NAME", "SUBMITTER", "PRIO", "STATUS", "PROGRESS", "AGE"):
        table.add_column(column, justify="right" if column in ("ID", "PRIO") else "left")
    for job in jobs:
        progress = format_progress(job.years_done, job.years_total)
        if job.tasks_running:
            progress += f", {job.tasks_running} running"
        table.add_row(
            str(job.id),
            job.name,
            job.submitter,
            str(job.priority),
            status_text(job.status),
            progress,
            format_age(job.created_at, now),
        )
    return table


def job_facts(job: JobDetail, now: datetime) -> Table:
    """The job's header: one `key  value` line per fact worth reading."""
    facts = Table.grid(padding=(0, 2))
    facts.add_column(style="bold")
    facts.add_column()
    rows: list[tuple[str, str | Text]] = [
        ("job", f"{job.id}  {job.name}"),
        ("status", status_text(job.status)),
        ("submitter", job.submitter),
        ("priority", str(job.priority)),
        ("study", f"{job.study_name} (Antares {job.antares_version}, {job.mode})"),
        ("years", f"{format_years(job.years)} ({job.years_total} years)"),
        ("progress", format_progress(job.years_done, job.years_total)),
        ("submitted", f"{format_age(job.created_at, now)} ago"),
    ]
    if job.started_at is not None:
        rows.append(("run time", _duration(job.started_at, job.finished_at, now)))
    if job.eta_seconds is not None and not job.status.is_final:
        rows.append(("eta", format_seconds(job.eta_seconds)))
    if job.task_time_limit_s is not None:
        rows.append(("time limit", f"{format_seconds(job.task_time_limit_s)} per task"))
    if job.run_folder:
        rows.append(("output", job.run_folder))
    if job.error:
        rows.append(("error", Text(job.error, style="red")))
    rows.extend(("warning", Text(w, style="yellow")) for w in job.warnings)
    for key, value in rows:
        facts.add_row(key, value)
    return facts


def tasks_table(tasks: Sequence[TaskInfo], now: datetime) -> Table:
    table = Table(box=None, pad_edge=False, header_style="bold")
    for column in ("TASK", "YEARS", "WORKER", "ATTEMPTS", "STATUS", "DONE", "DURATION"):
        table.add_column(column, justify="right" if column in ("TASK", "ATTEMPTS") else "left")
    for task in sorted(tasks, key=lambda t: (min(t.years, default=0), t.id)):
        status = status_text(task.status)
        if task.status == TaskStatus.FAILED and task.error:
            status.append(f": {task.error}", style="red")
        table.add_row(
            str(task.id),
            format_years(task.years),
            task.worker or "-",
            str(task.attempts),
            status,
            f"{task.years_done}/{len(task.years)}",
            _duration(task.started_at, task.finished_at, now),
        )
    return table


def year_locations(tasks: Sequence[TaskInfo]) -> Table | None:
    """Shared mode with collect: link: which years stay on which worker's share (readable
    only while that machine is on); None when every output is on the driver."""
    linked = [t for t in tasks if t.status == TaskStatus.SUCCEEDED and t.output_location]
    if not linked:
        return None
    table = Table(box=None, pad_edge=False, header_style="bold")
    for column in ("YEARS", "KEPT ON", "AT"):
        table.add_column(column)
    for task in sorted(linked, key=lambda t: min(t.years, default=0)):
        table.add_row(format_years(task.years), task.worker or "-", task.output_location)
    return table


def job_view(job: JobDetail, now: datetime) -> RenderableType:
    """`winjobs show`: the facts, then the tasks (none yet while the job waits), then
    where linked years live (shared mode)."""
    if not job.tasks:
        note = "no task yet: tasks are cut when workers ask for work"
        if job.status != JobStatus.QUEUED:
            note = "no tasks"
        return Group(job_facts(job, now), Text(""), Text(note, style="dim"))
    parts: list[RenderableType] = [job_facts(job, now), Text(""), tasks_table(job.tasks, now)]
    if (places := year_locations(job.tasks)) is not None:
        note = "years linked from workers' shares (readable while those machines are on):"
        parts += [Text(""), Text(note, style="bold"), places]
    return Group(*parts)


def next_work(worker: WorkerInfo, now: datetime) -> str:
    """When the worker takes work next: `now`, `after its task`, `Mon 19:00 (in 9h 30m)`
    (the reader's local time), `-` when not known."""
    if worker.next_work_at is not None:
        moment = f"{worker.next_work_at.astimezone():%a %H:%M}"
        wait = (worker.next_work_at - now).total_seconds()
        return f"{moment} (in {format_seconds(wait)})" if wait >= 1 else moment
    return worker.next_work or "-"


def workers_view(workers: Sequence[WorkerInfo], now: datetime) -> RenderableType:
    """`winjobs workers`: the table, then why each held worker is held (a reason is too
    long for a column) and how to release it."""
    held = [w for w in workers if w.held_reason]
    if not held:
        return workers_table(workers, now)
    notes = Table.grid(padding=(0, 2))
    notes.add_column(style="bold")
    notes.add_column()
    for worker in held:
        when = f" ({format_age(worker.held_at, now)} ago)" if worker.held_at else ""
        by = f", by {worker.held_by}" if worker.held_by and worker.held_by != "driver" else ""
        notes.add_row(worker.name, Text(f"held{when}{by}: {worker.held_reason}", style="red"))
    hint = Text(
        "held workers take no new task until `winjobs worker-admin release NAME` (an admin) "
        "or a restart with a changed configuration",
        style="dim",
    )
    return Group(workers_table(workers, now), Text(""), notes, hint)


def workers_table(workers: Sequence[WorkerInfo], now: datetime) -> Table:
    table = Table(box=None, pad_edge=False, header_style="bold")
    columns = ("NAME", "CORES", "VERSIONS", "STATE", "POLICY", "NEXT WORK", "RUNNING")
    for column in (*columns, "LAST SEEN"):
        table.add_column(column, justify="right" if column == "CORES" else "left")
    for worker in workers:
        table.add_row(
            worker.name,
            str(worker.cores),
            ", ".join(worker.versions),
            status_text(worker.state),
            status_text(worker.policy.label) if worker.policy else Text("-"),
            next_work(worker, now),
            running_tasks(worker),
            f"{format_age(worker.last_seen, now)} ago",
        )
    return table


def pool_heading(pool: PilotPool, now: datetime) -> Text:
    """`Slurm pool hpc (partition debug, manager login01, 2/4 pilots, reported 5s ago)`."""
    where = f"partition {pool.partition}, " if pool.partition else ""
    text = Text(f"{pool.system.capitalize()} pool {pool.name}", style="bold")
    text.append(
        f" ({where}manager {pool.manager}, {len(pool.pilots)}/{pool.max_pilots} pilots, "
        f"reported {format_age(pool.reported_at, now)} ago)"
    )
    if pool.stale:
        text.append(" - no report for a while: is the manager running?", style="yellow")
    return text


def pilots_table(pool: PilotPool, now: datetime) -> Table:
    """A pool's pilots in the batch system: Slurm's job id, state and reason."""
    table = Table(box=None, pad_edge=False, header_style="bold")
    for column in ("JOB ID", "STATE", "REASON", "NODE", "WORKER", "CORES", "SUBMITTED", "ENDS"):
        table.add_column(column, justify="right" if column == "CORES" else "left")
    for pilot in pool.pilots:
        submitted = pilot.submitted_at
        ends = pilot.ends_at
        table.add_row(
            pilot.job_id,
            status_text(pilot.state),
            pilot.reason or "-",
            pilot.node or "-",
            pilot.worker or "-",
            str(pilot.cores) if pilot.cores else "-",
            f"{format_age(submitted, now)} ago" if submitted else "-",
            f"in {format_age(now, ends)}" if ends and ends > now else "-",
        )
    return table


def pools_view(pools: Sequence[PilotPool], now: datetime) -> RenderableType:
    """Each pool: its heading, the problem its manager last met, its pilots."""
    parts: list[RenderableType] = []
    for pool in pools:
        parts += [Text(""), pool_heading(pool, now)]
        if pool.problem:
            parts.append(Text(pool.problem, style="red"))
        parts.append(pilots_table(pool, now) if pool.pilots else Text("no pilot", style="dim"))
    return Group(*parts)


def running_tasks(worker: WorkerInfo) -> str:
    """`task 7 (job 3), task 8 (job 3)`: every task it runs; `-` when none (a driver
    older than `WorkerInfo.tasks` sends only its current task)."""
    tasks: list[tuple[int, int | None]] = [(t.task_id, t.job_id) for t in worker.tasks]
    if not tasks and worker.current_task is not None:
        tasks = [(worker.current_task, worker.current_job)]
    if not tasks:
        return "-"
    return ", ".join(
        f"task {task}" + (f" (job {job})" if job is not None else "") for task, job in tasks
    )
