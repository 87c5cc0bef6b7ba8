"""Database rows -> wire models. Pure functions; the clock is an argument."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from winjobs.driver import scheduler
from winjobs.driver.models import Job, Task, Worker
from winjobs.driver.store import Progress
from winjobs.wire import (
    JobDetail,
    JobStatus,
    JobSummary,
    PolicyState,
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
    eta = None
    if not status.is_final:
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
        error=job.error,
        warnings=list(job.warnings),
        result_available=status is JobStatus.SUCCEEDED,
    )


def task_info(task: Task) -> TaskInfo:
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
    )


def job_detail(job: Job, tasks: list[Task], progress: Progress, now: datetime) -> JobDetail:
    summary = job_summary(job, progress, now)
    return JobDetail(
        **summary.model_dump(),
        years=list(job.years),
        task_time_limit_s=job.task_time_limit_s,
        run_folder=job.run_folder,
        tasks=[task_info(t) for t in tasks],
    )


def worker_state(
    worker: Worker, tasks: Sequence[Task], now: datetime, offline_s: float
) -> WorkerState:
    """Offline first (nothing else matters while it is away; `held_reason` still shows a
    hold), then held, draining, busy, idle."""
    if now - worker.last_seen > timedelta(seconds=offline_s):
        return WorkerState.OFFLINE
    if worker.held_at is not None:
        return WorkerState.HELD
    if worker.draining:
        return WorkerState.DRAINING
    return WorkerState.BUSY if tasks else WorkerState.IDLE


def worker_info(
    worker: Worker, tasks: Sequence[Task], now: datetime, offline_s: float
) -> WorkerInfo:
    """`tasks`: the ones it runs, the most recently claimed first (`Store.list_workers`)."""
    latest = tasks[0] if tasks else None
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
        held_reason=worker.held_reason if worker.held_at is not None else None,
        held_at=worker.held_at,
        held_by=worker.held_by if worker.held_at is not None else None,
        failures_in_a_row=worker.fail_streak or 0,
    )


def policy_state(worker: Worker) -> PolicyState | None:
    """The owner-policy state the worker last reported (None: it reports none, or a value
    a newer worker sent that this driver does not know)."""
    try:
        return PolicyState(worker.policy_state) if worker.policy_state else None
    except ValueError:
        return None
