"""Follow a job until it ends: a live progress bar on a terminal, one line per change in logs.

Used by `winjobs wait`, `winjobs submit --wait` and `winjobs demo`. It polls the driver
(`GET /jobs/{id}`) because that is what every driver already answers; a blip of the
network or a driver restart is waited out for `patience` seconds rather than ending a
wait that may have lasted hours.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn

from winjobs.cli.render import format_seconds, job_state
from winjobs.client import ClientError, DriverClient
from winjobs.errors import WinjobsError
from winjobs.ops.words import counted
from winjobs.wire import JobDetail

#: Seconds between two looks at the job (a GET of a few hundred bytes).
POLL_INTERVAL_S = 1.0


class StoppedFollowing(WinjobsError):
    """Ctrl-C while following: the job itself keeps running on the driver."""

    exit_code = 130


def eta_text(job: JobDetail, now: datetime) -> str:
    """The driver's ETA, else one from the pace so far; `-` until there is a pace."""
    if job.status.is_final or job.held:
        return "-"
    if job.eta_seconds is not None:
        return format_seconds(job.eta_seconds)
    if job.started_at is None or job.years_done == 0:
        return "-"
    elapsed = (now - job.started_at).total_seconds()
    remaining = job.years_total - job.years_done
    return format_seconds(elapsed / job.years_done * remaining)


def summary_line(job: JobDetail, now: datetime) -> str:
    line = f"job {job.id} {job_state(job)}: {job.years_done}/{job.years_total} years"
    if job.tasks_running:
        line += f", {counted(job.tasks_running, 'task')} running"
    eta = eta_text(job, now)
    if eta != "-":
        line += f", eta {eta}"
    return line


class JobFollower:
    """Poll one job and show its progress on `console` until it reaches a final state."""

    def __init__(
        self,
        client: DriverClient,
        console: Console,
        poll_interval: float | None = None,
        patience: float = 120.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._client = client
        self._console = console
        self._poll_interval = POLL_INTERVAL_S if poll_interval is None else poll_interval
        self._patience = patience
        self._sleep = sleep

    def follow(self, job_id: int) -> JobDetail:
        try:
            if self._console.is_terminal:
                return self._follow_live(job_id)
            return self._follow_lines(job_id)
        except KeyboardInterrupt:
            raise StoppedFollowing(
                f"stopped following job {job_id}; it keeps running on the driver "
                f"(follow it again with: winjobs wait {job_id})"
            ) from None

    def _poll(self, job_id: int) -> JobDetail:
        """The job now, waiting out transient driver trouble for up to `patience` s."""
        deadline: float | None = None
        while True:
            try:
                return self._client.get_job(job_id)
            except ClientError as exc:
                if not exc.is_transient:
                    raise
                now = time.monotonic()
                if deadline is None:
                    deadline = now + self._patience
                    self._console.print(f"[yellow]driver trouble, retrying:[/] {exc}")
                elif now >= deadline:
                    raise
                self._sleep(self._poll_interval)

    def _follow_lines(self, job_id: int) -> JobDetail:
        last = ""
        while True:
            job = self._poll(job_id)
            line = summary_line(job, datetime.now(UTC))
            key = f"{job_state(job)} {job.years_done} {job.tasks_running}"
            if key != last:
                self._console.print(line, highlight=False)
                last = key
            if job.status.is_final:
                return job
            self._sleep(self._poll_interval)

    def _follow_live(self, job_id: int) -> JobDetail:
        progress = Progress(
            TextColumn("job {task.fields[job]} [bold]{task.fields[status]:<9}[/]"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("years · {task.fields[running]} running · eta {task.fields[eta]}"),
            console=self._console,
        )
        with progress:
            bar: TaskID | None = None
            while True:
                job = self._poll(job_id)
                fields: dict[str, Any] = {
                    "job": job.id,
                    "status": job_state(job),
                    "running": job.tasks_running,
                    "eta": eta_text(job, datetime.now(UTC)),
                }
                if bar is None:
                    bar = progress.add_task("", total=job.years_total, **fields)
                progress.update(bar, completed=job.years_done, total=job.years_total, **fields)
                if job.status.is_final:
                    return job
                self._sleep(self._poll_interval)
