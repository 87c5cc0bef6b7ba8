"""The pool and its queue as people look at them: the facts of the why-pending reasons,
task timings for ETAs and throughput, and the pool's load samples. Reads only (but the
samples), none on the claim's path.

The active jobs' facts come from the claim's own query (`ClaimStore._job_facts`), read
for no worker in particular (every queued task counted); the queued tasks bring which
workers avoid them, so `waiting` can see each job as each worker's claim would.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import Connection, delete, insert, or_, select

from winjobs.driver.estimates import TaskRun
from winjobs.driver.fairshare import Usage
from winjobs.driver.models import Job, PoolSample, Task, TaskFailure, Worker
from winjobs.driver.scheduler import JobFacts
from winjobs.driver.store.claims import ClaimStore
from winjobs.driver.store.records import ACTIVE_JOB
from winjobs.driver.store.usage import usage_of
from winjobs.driver.waiting import QueuedTask
from winjobs.wire import LOW_DISK_REASON, LoadPoint, TaskStatus

#: a worker id no worker has: the claim's job facts read for it count every queued task
_NOBODY = 0
#: how many finished tasks of a study's earlier job its ETA is judged on
_HISTORY_TASKS = 200


@dataclass(frozen=True)
class RunningTask:
    task_id: int
    job_id: int
    worker_id: int | None
    run: TaskRun


@dataclass(frozen=True)
class QueueRows:
    """The queue and what runs, read in one transaction."""

    jobs: list[JobFacts]
    tasks: list[QueuedTask]
    running: list[RunningTask]
    #: the active jobs' finished tasks, by job (their time per batch)
    finished: dict[int, list[TaskRun]]
    #: each user's usage, as the claim reads it (fair share)
    usage: dict[str, Usage] = field(default_factory=dict)


_RUN_COLUMNS = (Task.started_at, Task.finished_at, Task.n_years, Task.years_done, Worker.cores)


def _run(row: Sequence[object]) -> TaskRun:
    started, finished, n_years, done, cores = row
    assert isinstance(started, datetime)
    return TaskRun(
        started_at=started,
        finished_at=finished if isinstance(finished, datetime) else None,
        n_years=int(n_years),  # type: ignore[call-overload]
        years_done=int(done),  # type: ignore[call-overload]
        cores=int(cores) if cores else 1,  # type: ignore[call-overload]
    )


class OverviewStore(ClaimStore):
    def queue_rows(self) -> QueueRows:
        with self._read() as conn:
            jobs = self._job_facts(conn, _NOBODY)
            tasks = self._queued_tasks(conn)
            running = [
                RunningTask(int(task_id), int(job_id), worker_id, _run(rest))
                for task_id, job_id, worker_id, *rest in conn.execute(
                    select(Task.id, Task.job_id, Task.worker_id, *_RUN_COLUMNS)
                    .outerjoin(Worker, Worker.id == Task.worker_id)
                    .where(Task.status == TaskStatus.RUNNING.value, Task.started_at.is_not(None))
                )
            ]
            finished: dict[int, list[TaskRun]] = {}
            for job_id, *rest in conn.execute(
                select(Task.job_id, *_RUN_COLUMNS)
                .join(Job, Job.id == Task.job_id)
                .outerjoin(Worker, Worker.id == Task.worker_id)
                .where(
                    Job.status.in_(ACTIVE_JOB),
                    Task.status == TaskStatus.SUCCEEDED.value,
                    Task.started_at.is_not(None),
                )
            ):
                finished.setdefault(int(job_id), []).append(_run(rest))
            usage = usage_of(conn)
        return QueueRows(jobs, tasks, running, finished, usage)

    def user_usage(self) -> dict[str, Usage]:
        """Each user's usage as fair share keeps it (`GET /status/shares`)."""
        with self._read() as conn:
            return usage_of(conn)

    def _queued_tasks(self, conn: Connection) -> list[QueuedTask]:
        rows = conn.execute(
            select(Task.id, Task.job_id, Task.n_years, Task.worker_name, Task.error)
            .join(Job, Job.id == Task.job_id)
            .where(Task.status == TaskStatus.QUEUED.value, Job.status.in_(ACTIVE_JOB))
            .order_by(Task.id)
        ).all()
        avoided: dict[int, set[int]] = {}
        for task_id, worker_id in conn.execute(
            select(TaskFailure.task_id, TaskFailure.worker_id)
            .join(Task, Task.id == TaskFailure.task_id)
            .where(
                Task.status == TaskStatus.QUEUED.value,
                TaskFailure.avoid.is_(True),
                TaskFailure.worker_id.is_not(None),
            )
        ):
            if worker_id is not None:
                avoided.setdefault(int(task_id), set()).add(int(worker_id))
        return [
            QueuedTask(
                id=int(task_id),
                job_id=int(job_id),
                years=int(n_years),
                avoided_by=frozenset(avoided.get(int(task_id), ())),
                refused_by=worker if _disk_refusal(error) else None,
                refusal=error if _disk_refusal(error) else None,
            )
            for task_id, job_id, n_years, worker, error in rows
        ]

    def recent_runs(self, since: datetime) -> list[TaskRun]:
        """Tasks running now or finished (succeeded) since `since`: the throughput's."""
        with self._read() as conn:
            rows = conn.execute(
                select(*_RUN_COLUMNS)
                .outerjoin(Worker, Worker.id == Task.worker_id)
                .where(
                    Task.started_at.is_not(None),
                    or_(
                        Task.status == TaskStatus.RUNNING.value,
                        (Task.status == TaskStatus.SUCCEEDED.value) & (Task.finished_at >= since),
                    ),
                )
            ).all()
        return [_run(row) for row in rows]

    def study_runs(self, job_id: int, study_sha256: str, study_name: str) -> list[TaskRun]:
        """Finished tasks of the latest earlier job of the same study (same archive, else
        the same study name) that has any: what its time per batch was."""
        with self._read() as conn:
            for same in (Job.study_sha256 == study_sha256, Job.study_name == study_name):
                latest = conn.execute(
                    select(Task.job_id)
                    .join(Job, Job.id == Task.job_id)
                    .where(same, Job.id != job_id, Task.status == TaskStatus.SUCCEEDED.value)
                    .order_by(Task.job_id.desc())
                    .limit(1)
                ).scalar_one_or_none()
                if latest is None:
                    continue
                rows = conn.execute(
                    select(*_RUN_COLUMNS)
                    .outerjoin(Worker, Worker.id == Task.worker_id)
                    .where(
                        Task.job_id == latest,
                        Task.status == TaskStatus.SUCCEEDED.value,
                        Task.started_at.is_not(None),
                    )
                    .limit(_HISTORY_TASKS)
                ).all()
                return [_run(row) for row in rows]
        return []

    # ------------------------------------------------------------------ load samples

    def record_sample(self, sample: LoadPoint, keep_after: datetime) -> None:
        """Add a sample and drop those older than `keep_after` (one small transaction)."""
        with self._write() as conn:
            conn.execute(insert(PoolSample).values(**sample.model_dump()))
            conn.execute(delete(PoolSample).where(PoolSample.at < keep_after))

    def load_samples(self, since: datetime) -> list[LoadPoint]:
        with self._read() as conn:
            rows = conn.execute(
                select(
                    PoolSample.at,
                    PoolSample.workers_online,
                    PoolSample.workers_busy,
                    PoolSample.cores_total,
                    PoolSample.cores_busy,
                )
                .where(PoolSample.at >= since)
                .order_by(PoolSample.at)
            ).all()
        return [LoadPoint.model_validate(row, from_attributes=True) for row in rows]


def _disk_refusal(error: str | None) -> bool:
    """The task's last attempt was given back by its worker for lack of disk (the
    worker's release reason starts with `wire.LOW_DISK_REASON`)."""
    return bool(error) and str(error).startswith(LOW_DISK_REASON)
