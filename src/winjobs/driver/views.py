"""Database rows -> wire models. Pure functions; the clock is an argument."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from winjobs.driver import scheduler
from winjobs.driver.models import Job, Notification, Task, TaskCopy, Worker
from winjobs.driver.store import Progress
from winjobs.wire import (
    CopyStatus,
    DeliveryState,
    EtaBasis,
    JobDetail,
    JobStatus,
    JobSummary,
    NotificationInfo,
    PolicyState,
    TaskCopyInfo,
    TaskInfo,
    TaskStatus,
    WorkerInfo,
    WorkerState,
    WorkerTask,
)


def _running_seconds(job: Job, now: datetime) -> float:
    if job.started_at is None:
        return 0.0
    end = job.finished_at or now
    return max(0.0, (end - job.started_at).total_seconds())


def job_summary(job: Job, progress: Progress, now: datetime) -> JobSummary:
    status = JobStatus(job.status)
    held = job.held and not status.is_final
    eta = None
    if not status.is_final and not held:
        eta = scheduler.eta_seconds(
            job.years_total, progress.years_done, _running_seconds(job, now)
        )
    return JobSummary(
        id=job.id,
        name=job.name,
        submitter=job.submitter,
        priority=job.priority,
        status=status,
        study_name=job.study_name,
        antares_version=job.antares_version,
        mode=job.mode,
        years_total=job.years_total,
        years_done=progress.years_done,
        tasks_running=progress.tasks_running,
        created_at=job.created_at,
        started_at=job.started_at,
        finished_at=job.finished_at,
        eta_seconds=eta,
        eta_basis=EtaBasis.PACE.value if eta is not None else None,
        error=job.error,
        warnings=list(job.warnings),
        result_available=status is JobStatus.SUCCEEDED,
        held=held,
        held_by=job.held_by if held else None,
        held_reason=job.held_reason if held else None,
    )


def copy_info(copy: TaskCopy) -> TaskCopyInfo:
    return TaskCopyInfo(
        attempt=copy.attempt,
        of_attempt=copy.of_attempt,
        of_worker=copy.of_worker_name,
        worker=copy.worker_name,
        status=CopyStatus(copy.status),
        started_at=copy.started_at,
        finished_at=copy.finished_at,
        reason=copy.reason,
    )


def task_info(task: Task, copy: TaskCopy | None = None) -> TaskInfo:
    return TaskInfo(
        id=task.id,
        job_id=task.job_id,
        years=list(task.years),
        status=TaskStatus(task.status),
        worker=task.worker_name,
        attempts=task.attempt,
        years_done=task.years_done,
        created_at=task.created_at,
        started_at=task.started_at,
        finished_at=task.finished_at,
        error=task.error,
        log_tail=task.log_tail,
        output_location=task.output_location,
        suspended_since=task.suspended_at if task.status == TaskStatus.RUNNING.value else None,
        speculative_copy=None if copy is None else copy_info(copy),
    )


def job_detail(
    job: Job,
    tasks: list[Task],
    progress: Progress,
    now: datetime,
    notifications: Sequence[Notification] = (),
    copies: Sequence[TaskCopy] = (),
) -> JobDetail:
    summary = job_summary(job, progress, now)
    copy_of = {copy.task_id: copy for copy in copies}
    return JobDetail(
        **summary.model_dump(),
        years=list(job.years),
        task_time_limit_s=job.task_time_limit_s,
        run_folder=job.run_folder,
        tasks=[task_info(t, copy_of.get(t.id)) for t in tasks],
        notify=list(job.notify or []),
        notifications=[notification_info(n) for n in notifications],
    )


def notification_info(row: Notification) -> NotificationInfo:
    return NotificationInfo(
        target=row.target,
        job_status=JobStatus(row.job_status),
        state=DeliveryState(row.state),
        attempts=row.attempts,
        last_error=row.last_error,
        next_attempt_at=row.next_attempt_at if row.state == DeliveryState.RETRYING else None,
        created_at=row.created_at,
        sent_at=row.sent_at,
    )


def worker_state(
    worker: Worker, tasks: Sequence[Task], now: datetime, offline_s: float
) -> WorkerState:
    """Offline first (nothing else matters while it is away; `held_reason` still shows a
    hold), then held, draining (by its own Ctrl-C or an admin's drain), busy, idle."""
    if now - worker.last_seen > timedelta(seconds=offline_s):
        return WorkerState.OFFLINE
    if worker.held_at is not None:
        return WorkerState.DRAINING if worker.drained else WorkerState.HELD
    if worker.draining:
        return WorkerState.DRAINING
    return WorkerState.BUSY if tasks else WorkerState.IDLE


def worker_info(
    worker: Worker, tasks: Sequence[Task], now: datetime, offline_s: float
) -> WorkerInfo:
    """`tasks`: the ones it runs, the most recently claimed first (`Store.list_workers`).
    A drain is kept as a hold (`Worker.drained`) but shown as what it is."""
    latest = tasks[0] if tasks else None
    drained = worker.held_at is not None and worker.drained
    held = worker.held_at is not None and not worker.drained
    return WorkerInfo(
        id=worker.id,
        name=worker.name,
        os=worker.os,
        cores=worker.cores,
        versions=list(worker.versions),
        state=worker_state(worker, tasks, now, offline_s),
        tasks=[WorkerTask(task_id=t.id, job_id=t.job_id) for t in tasks],
        current_task=latest.id if latest is not None else None,
        current_job=latest.job_id if latest is not None else None,
        last_seen=worker.last_seen,
        registered_at=worker.registered_at,
        policy=policy_state(worker),
        policy_reason=worker.policy_reason,
        next_work_at=worker.next_work_at,
        held_reason=worker.held_reason if held else None,
        held_at=worker.held_at if held else None,
        held_by=worker.held_by if held else None,
        failures_in_a_row=worker.fail_streak or 0,
        drain_reason=worker.held_reason if drained else None,
        drained_at=worker.held_at if drained else None,
        drained_by=worker.held_by if drained else None,
    )


def policy_state(worker: Worker) -> PolicyState | None:
    """The owner-policy state the worker last reported (None: it reports none, or a value
    a newer worker sent that this driver does not know)."""
    try:
        return PolicyState(worker.policy_state) if worker.policy_state else None
    except ValueError:
        return None
