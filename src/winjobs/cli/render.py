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
from winjobs.ops.words import counted
from winjobs.wire import (
    DeliveryState,
    JobDetail,
    JobStatus,
    JobSummary,
    NotificationInfo,
    PilotPool,
    PoolStatus,
    Shares,
    TaskInfo,
    TaskStatus,
    WorkerInfo,
    eta_basis_words,
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


def job_state(job: JobSummary) -> str:
    """The job's status, with `held` beside it: `queued, held`."""
    return f"{job.status}, held" if job.held else str(job.status)


def job_state_text(job: JobSummary) -> Text:
    text = status_text(job.status)
    if job.held:
        text.append(", held", style="bold yellow")
    return text


def hold_text(job: JobSummary) -> str:
    """Who held the job and why, and what that means for its tasks."""
    who = f"by {job.held_by}" + (f": {job.held_reason}" if job.held_reason else "")
    running = job.tasks_running
    effect = "no new task starts"
    if running:
        effect += f"; {counted(running, 'running task')} {'finishes' if running == 1 else 'finish'}"
    return f"{who} ({effect}; winjobs release {job.id} lets it go on)"


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
    for column in ("ID", "NAME", "SUBMITTER", "PRIO", "STATUS", "PROGRESS", "AGE", "WAITING"):
        table.add_column(column, justify="right" if column in ("ID", "PRIO") else "left")
    for job in jobs:
        progress = format_progress(job.years_done, job.years_total)
        if job.tasks_running:
            progress += f", {job.tasks_running} running"
        table.add_row(
            str(job.id),
            job.name,
            job.submitter,
            priority_text(job, short=True),
            job_state_text(job),
            progress,
            format_age(job.created_at, now),
            Text(job.waiting.short, style="yellow") if job.waiting else "",
        )
    return table


def eta_text(job: JobSummary) -> str | None:
    """`12m 30s (at the job's pace so far)`; None without an ETA."""
    if job.eta_seconds is None or job.status.is_final:
        return None
    basis = eta_basis_words(job.eta_basis)
    return format_seconds(job.eta_seconds) + (f" ({basis})" if basis else "")


def priority_text(job: JobSummary, short: bool = False) -> str:
    """`50`, or `50 (54 with aging)` once a waiting job has aged; `short`: `50 (54)`, for
    the jobs table, where it explains why an older job runs before a higher priority."""
    effective = job.effective_priority
    if effective is None or effective == job.priority:
        return str(job.priority)
    return f"{job.priority} ({effective})" if short else f"{job.priority} ({effective} with aging)"


def job_facts(job: JobDetail, now: datetime) -> Table:
    """The job's header: one `key  value` line per fact worth reading."""
    facts = Table.grid(padding=(0, 2))
    facts.add_column(style="bold")
    facts.add_column()
    rows: list[tuple[str, str | Text]] = [
        ("job", f"{job.id}  {job.name}"),
        ("status", job_state_text(job)),
        ("submitter", job.submitter),
        ("priority", priority_text(job)),
        *([("held", Text(hold_text(job), style="yellow"))] if job.held else []),
        ("study", f"{job.study_name} (Antares {job.antares_version}, {job.mode})"),
        ("years", f"{format_years(job.years)} ({counted(job.years_total, 'year')})"),
        ("progress", format_progress(job.years_done, job.years_total)),
        ("submitted", f"{format_age(job.created_at, now)} ago"),
    ]
    if job.started_at is not None:
        rows.append(("run time", _duration(job.started_at, job.finished_at, now)))
    if (eta := eta_text(job)) is not None:
        rows.append(("eta", eta))
    if job.waiting is not None:
        rows.append(("waiting", Text(job.waiting.message, style="yellow")))
    if job.task_time_limit_s is not None:
        rows.append(("time limit", f"{format_seconds(job.task_time_limit_s)} per task"))
    if job.run_folder:
        rows.append(("output", job.run_folder))
    if job.error:
        rows.append(("error", Text(job.error, style="red")))
    rows.extend(("warning", Text(w, style="yellow")) for w in job.warnings)
    rows.extend(("notify", notify_text(target, job.notifications, now)) for target in job.notify)
    for key, value in rows:
        facts.add_row(key, value)
    return facts


def notify_text(target: str, sent: Sequence[NotificationInfo], now: datetime) -> Text:
    """A target and how telling it of the job's last ending went (nothing yet: running)."""
    text = Text(target)
    mine = [n for n in sent if n.target == target]
    if not mine:
        return text
    last = mine[-1]
    tries = f"{last.attempts} attempt{'s' if last.attempts != 1 else ''}"
    if last.state == DeliveryState.SENT and last.sent_at is not None:
        text.append(f"  sent {format_age(last.sent_at, now)} ago", style="green")
    elif last.state == DeliveryState.PENDING:
        text.append("  pending", style="yellow")
    elif last.state == DeliveryState.RETRYING:
        when = ""
        if last.next_attempt_at is not None:
            wait = max(0.0, (last.next_attempt_at - now).total_seconds())
            when = f", next in {format_seconds(wait)}"
        text.append(f"  retrying ({tries}{when}): {last.last_error}", style="yellow")
    else:
        text.append(f"  gave up after {tries}: {last.last_error}", style="red")
    return text


def tasks_table(tasks: Sequence[TaskInfo], now: datetime) -> Table:
    table = Table(box=None, pad_edge=False, header_style="bold")
    for column in ("TASK", "YEARS", "WORKER", "ATTEMPTS", "STATUS", "DONE", "DURATION"):
        table.add_column(column, justify="right" if column in ("TASK", "ATTEMPTS") else "left")
    for task in sorted(tasks, key=lambda t: (min(t.years, default=0), t.id)):
        status = status_text(task.status)
        if task.status == TaskStatus.FAILED and task.error:
            status.append(f": {task.error}", style="red")
        if task.waiting is not None:
            status.append(f" ({task.waiting.short})", style="yellow")
        if task.speculative_copy is not None:
            status.append(f"\n{task.speculative_copy.describe()}", style="cyan")
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
    held = [w for w in workers if w.held_reason or w.drain_reason]
    if not held:
        return workers_table(workers, now)
    notes = Table.grid(padding=(0, 2))
    notes.add_column(style="bold")
    notes.add_column()
    for worker in held:
        notes.add_row(worker.name, _hold_note(worker, now))
    hint = Text(
        "held workers take no new task until `winjobs worker-admin release NAME` (an admin) "
        "or, held by the driver, a restart with a changed configuration; drained ones until "
        "they restart or are released",
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


def _hold_note(worker: WorkerInfo, now: datetime) -> Text:
    """`held (5m ago), by ops: disk to replace` or `drained (...)`."""
    drained = worker.drain_reason is not None
    since = worker.drained_at if drained else worker.held_at
    by = worker.drained_by if drained else worker.held_by
    when = f" ({format_age(since, now)} ago)" if since else ""
    who = f", by {by}" if by and by != "driver" else ""
    reason = worker.drain_reason if drained else worker.held_reason
    word = "drained" if drained else "held"
    return Text(f"{word}{when}{who}: {reason}", style="yellow" if drained else "red")


def shares_view(shares: Shares) -> Group:
    """`winjobs shares`: how the queue is ordered, then one line per user, least served
    per weight first (the next to be served at an equal priority)."""
    if shares.scheduling == "fair_share":
        rule = (
            "fair share: at one priority, the user with the least recent usage per weight "
            f"goes first (usage halves every {shares.half_life_hours:g} h)"
        )
    else:
        rule = "strict order: at one priority, first come first served"
    if shares.aging_points_per_hour > 0 and shares.aging_max_points > 0:
        rule += (
            f"; waiting jobs gain {shares.aging_points_per_hour:g} priority point(s) per hour, "
            f"at most {shares.aging_max_points}"
        )
    table = Table(box=None, pad_edge=False, header_style="bold")
    for column in ("USER", "WEIGHT", "CORE-HOURS", "RUNNING CORES", "USED", "ENTITLED"):
        table.add_column(column, justify="left" if column == "USER" else "right")
    for user in shares.users:
        table.add_row(
            user.user,
            f"{user.weight:g}",
            f"{user.core_hours:.1f}",
            str(user.running_cores),
            f"{user.used:.0%}",
            f"{user.entitled:.0%}",
        )
    return Group(Text(rule), table if shares.users else Text("no user yet"))


def status_view(pool: PoolStatus) -> Table:
    """`winjobs status`: the pool at a glance, one `key  value` line per fact."""
    facts = Table.grid(padding=(0, 2))
    facts.add_column(style="bold")
    facts.add_column()
    states = [
        (pool.workers_idle, "idle"),
        (pool.workers_busy, "busy"),
        (pool.workers_held, "held"),
        (pool.workers_draining, "draining"),
    ]
    online = ", ".join(f"{count} {word}" for count, word in states if count)
    drain = "-" if pool.drain_seconds is None else format_seconds(pool.drain_seconds)
    if pool.drain_seconds is None and pool.years_left:
        drain = "unknown (no year done in the last hour)"
    rows = [
        ("workers", f"{pool.workers_online} online ({online or 'none'}), "
                    f"{pool.workers_offline} offline"),
        ("cores", f"{pool.cores_busy}/{pool.cores_total} busy"),
        ("solvers", ", ".join(pool.versions) or "none online"),
        ("jobs", f"{pool.jobs_queued} queued, {pool.jobs_running} running"),
        ("years left", str(pool.years_left)),
        ("throughput", f"{pool.years_per_hour:g} years/h (last hour)"),
        ("queue drains in", drain),
    ]  # fmt: skip
    for key, value in rows:
        facts.add_row(key, value)
    return facts


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
