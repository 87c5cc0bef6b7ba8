"""The only module that issues SQL: every read and write of jobs, tasks and workers.

Each public method is one transaction. Writers are serialised: on SQLite by `BEGIN
IMMEDIATE` plus an in-process lock (no busy-wait sleeps under contention); on PostgreSQL
by row locks (`FOR UPDATE` on the job whose years are being cut, `FOR UPDATE SKIP LOCKED`
on queued and expired tasks). Every state change of a task is a conditional UPDATE whose
row count is checked, so a stale report (old fencing token) changes nothing.

The scheduling decisions themselves come from `scheduler` (pure); this module gathers its
facts and applies its answers.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any, NoReturn

from sqlalchemy import Connection, Engine, and_, case, func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from winjobs.driver import scheduler
from winjobs.driver.db import READ_ONLY, is_sqlite
from winjobs.driver.errors import Conflict, NotFound
from winjobs.driver.models import Job, Task, Worker
from winjobs.driver.settings import ChunkPolicy
from winjobs.wire import JobStatus, TaskStatus

Clock = Callable[[], datetime]
ACTIVE_JOB = (JobStatus.QUEUED.value, JobStatus.RUNNING.value)
OPEN_TASK = (TaskStatus.QUEUED.value, TaskStatus.RUNNING.value)


def utcnow() -> datetime:
    return datetime.now(UTC)


def describe_years(years: Sequence[int]) -> str:
    """0-based years as users read them: 1-based, runs collapsed (`3-5, 9`)."""
    shown = sorted(y + 1 for y in years)
    parts: list[str] = []
    start = prev = shown[0] if shown else 0
    for year in [*shown[1:], None]:
        if year is not None and year == prev + 1:
            prev = year
            continue
        parts.append(f"{start}-{prev}" if prev > start else f"{start}")
        if year is not None:
            start = prev = year
    return ", ".join(parts) if shown else "none"


@dataclass(frozen=True)
class NewJob:
    """A validated submission, as stored."""

    name: str
    submitter: str
    priority: int
    study_name: str
    study_sha256: str
    study_size: int
    antares_version: str
    mode: str
    years: list[int]
    splittable: bool
    task_time_limit_s: float | None
    warnings: list[str]


@dataclass(frozen=True)
class ClaimPolicy:
    chunk_policy: ChunkPolicy
    lease_seconds: float
    worker_offline_s: float


@dataclass(frozen=True)
class Claimed:
    task_id: int
    job_id: int
    attempt: int
    years: list[int]
    antares_version: str
    solver_version: str
    study_sha256: str
    study_size: int
    study_name: str
    time_limit_s: float | None
    worker_name: str
    lease_until: datetime


@dataclass(frozen=True)
class Beat:
    cancel: bool
    lease_until: datetime


class FailOutcome(StrEnum):
    RELEASED = "released"  #: given back, not counted
    REQUEUED = "requeued"  #: counted, will be tried again
    JOB_FAILED = "job_failed"  #: reached max_attempts: the job failed


@dataclass(frozen=True)
class TaskEvent:
    """What a failure or lease expiry did, for the job log and the work signal."""

    task_id: int
    job_id: int
    years: list[int]
    outcome: FailOutcome
    reason: str


@dataclass(frozen=True)
class Progress:
    years_done: int
    tasks_running: int


@dataclass(frozen=True)
class Counts:
    jobs: dict[str, int]
    tasks: dict[str, int]


class Store:
    """Transactions over the driver's database. Thread-safe; one instance per app."""

    def __init__(self, engine: Engine, clock: Clock = utcnow) -> None:
        self.engine = engine
        self.clock = clock
        self._sqlite = is_sqlite(engine)
        self._read_engine = engine.execution_options(**{READ_ONLY: True})
        self._write_lock: AbstractContextManager[Any] = (
            threading.Lock() if self._sqlite else nullcontext()
        )

    # ------------------------------------------------------------------ plumbing

    @contextmanager
    def _write(self) -> Iterator[Connection]:
        with self._write_lock, self.engine.begin() as conn:
            yield conn

    @contextmanager
    def _read(self) -> Iterator[Connection]:
        with self._read_engine.begin() as conn:
            yield conn

    def _session(self) -> Session:
        return Session(self._read_engine, expire_on_commit=False)

    def _for_update(self, stmt: Any, skip_locked: bool = False) -> Any:
        return stmt if self._sqlite else stmt.with_for_update(skip_locked=skip_locked)

    # ------------------------------------------------------------------ jobs

    def create_job(self, job: NewJob, on_created: Callable[[int], None] | None = None) -> int:
        """Insert a job; `on_created(id)` runs inside the transaction (files move then)."""
        now = self.clock()
        status = JobStatus.QUEUED.value
        with self._write() as conn:
            job_id = conn.execute(
                insert(Job)
                .values(
                    name=job.name,
                    submitter=job.submitter,
                    priority=job.priority,
                    status=status,
                    study_name=job.study_name,
                    study_sha256=job.study_sha256,
                    study_size=job.study_size,
                    antares_version=job.antares_version,
                    mode=job.mode,
                    years=list(job.years),
                    years_total=len(job.years),
                    next_index=0,
                    splittable=job.splittable,
                    task_time_limit_s=job.task_time_limit_s,
                    warnings=list(job.warnings),
                    created_at=now,
                )
                .returning(Job.id)
            ).scalar_one()
            if on_created is not None:
                on_created(job_id)
        return int(job_id)

    def get_job(self, job_id: int) -> Job:
        with self._session() as session:
            job = session.get(Job, job_id)
        if job is None:
            raise NotFound(f"no job {job_id}")
        return job

    def get_task(self, task_id: int) -> Task:
        with self._session() as session:
            task = session.get(Task, task_id)
        if task is None:
            raise NotFound(f"no task {task_id}")
        return task

    def job_tasks(self, job_id: int) -> list[Task]:
        with self._session() as session:
            return list(
                session.scalars(select(Task).where(Task.job_id == job_id).order_by(Task.first_year))
            )

    def list_jobs(self, status: str | None = None, submitter: str | None = None) -> list[Job]:
        stmt = select(Job).order_by(Job.id.desc())
        if status is not None:
            stmt = stmt.where(Job.status == status)
        if submitter is not None:
            stmt = stmt.where(Job.submitter == submitter)
        with self._session() as session:
            return list(session.scalars(stmt))

    def progress(self, job_ids: Sequence[int]) -> dict[int, Progress]:
        """Years done (finished tasks' years + running tasks' reports) and running tasks."""
        if not job_ids:
            return {}
        running = Task.status == TaskStatus.RUNNING.value
        done = case(
            (Task.status == TaskStatus.SUCCEEDED.value, Task.n_years),
            (running, Task.years_done),
            else_=0,
        )
        stmt = (
            select(Task.job_id, func.sum(done), func.sum(case((running, 1), else_=0)))
            .where(Task.job_id.in_(list(job_ids)))
            .group_by(Task.job_id)
        )
        with self._read() as conn:
            rows = conn.execute(stmt).all()
        found = {int(j): Progress(int(d or 0), int(r or 0)) for j, d, r in rows}
        return {j: found.get(j, Progress(0, 0)) for j in job_ids}

    def set_priority(self, job_id: int, priority: int) -> None:
        with self._write() as conn:
            changed = conn.execute(
                update(Job)
                .where(Job.id == job_id, Job.status.in_(ACTIVE_JOB))
                .values(priority=priority)
            ).rowcount
            if changed != 1:
                self._raise_job_not_active(conn, job_id, "change the priority of")

    def cancel_job(self, job_id: int) -> None:
        """Cancel a queued or running job: its open tasks are cancelled at once.

        A running task's worker learns it at its next heartbeat (`cancel=true`).
        """
        now = self.clock()
        with self._write() as conn:
            changed = conn.execute(
                update(Job)
                .where(Job.id == job_id, Job.status.in_(ACTIVE_JOB))
                .values(status=JobStatus.CANCELLED.value, finished_at=now)
            ).rowcount
            if changed != 1:
                self._raise_job_not_active(conn, job_id, "cancel")
            self._close_open_tasks(conn, job_id, now)

    def retry_job(self, job_id: int) -> bool:
        """Re-queue a failed or cancelled job's unfinished work; True if only assembly remains."""
        with self._write() as conn:
            job = conn.execute(
                self._for_update(select(Job.status, Job.next_index, Job.years_total)).where(
                    Job.id == job_id
                )
            ).one_or_none()
            if job is None:
                raise NotFound(f"no job {job_id}")
            if job.status not in (JobStatus.FAILED.value, JobStatus.CANCELLED.value):
                raise Conflict(
                    f"job {job_id} is {job.status}: only a failed or cancelled job can be retried"
                )
            conn.execute(
                update(Task)
                .where(
                    Task.job_id == job_id,
                    Task.status.in_((TaskStatus.FAILED.value, TaskStatus.CANCELLED.value)),
                )
                .values(
                    status=TaskStatus.QUEUED.value,
                    failures=0,
                    years_done=0,
                    lease_until=None,
                    finished_at=None,
                    error=None,
                )
            )
            succeeded = conn.execute(
                select(func.count())
                .select_from(Task)
                .where(Task.job_id == job_id, Task.status == TaskStatus.SUCCEEDED.value)
            ).scalar_one()
            conn.execute(
                update(Job)
                .where(Job.id == job_id)
                .values(
                    status=JobStatus.RUNNING.value if succeeded else JobStatus.QUEUED.value,
                    error=None,
                    finished_at=None,
                    run_folder=None,
                )
            )
            return self._all_years_done(conn, job_id)

    def _raise_job_not_active(self, conn: Connection, job_id: int, action: str) -> None:
        status = conn.execute(select(Job.status).where(Job.id == job_id)).scalar_one_or_none()
        if status is None:
            raise NotFound(f"no job {job_id}")
        raise Conflict(f"cannot {action} job {job_id}: it is already {status}")

    def _close_open_tasks(self, conn: Connection, job_id: int, now: datetime) -> None:
        conn.execute(
            update(Task)
            .where(Task.job_id == job_id, Task.status.in_(OPEN_TASK))
            .values(status=TaskStatus.CANCELLED.value, lease_until=None, finished_at=now)
        )

    def _all_years_done(self, conn: Connection, job_id: int) -> bool:
        """Every year of the job is in a task and every task succeeded."""
        job = conn.execute(select(Job.next_index, Job.years_total).where(Job.id == job_id)).one()
        if job.next_index < job.years_total:
            return False
        unfinished = conn.execute(
            select(func.count())
            .select_from(Task)
            .where(Task.job_id == job_id, Task.status != TaskStatus.SUCCEEDED.value)
        ).scalar_one()
        return int(unfinished) == 0

    # ------------------------------------------------------------------ assembly

    def jobs_awaiting_assembly(self) -> list[int]:
        """Running jobs whose years are all done: their output still has to be built."""
        not_done = (
            select(Task.id)
            .where(Task.job_id == Job.id, Task.status != TaskStatus.SUCCEEDED.value)
            .exists()
        )
        stmt = (
            select(Job.id)
            .where(
                Job.status == JobStatus.RUNNING.value,
                Job.next_index >= Job.years_total,
                ~not_done,
            )
            .order_by(Job.id)
        )
        with self._read() as conn:
            return [int(i) for i in conn.execute(stmt).scalars()]

    def finish_job(self, job_id: int, run_folder: str) -> bool:
        """Mark an assembled job succeeded; False if it was cancelled meanwhile."""
        with self._write() as conn:
            return (
                conn.execute(
                    update(Job)
                    .where(Job.id == job_id, Job.status == JobStatus.RUNNING.value)
                    .values(
                        status=JobStatus.SUCCEEDED.value,
                        run_folder=run_folder,
                        finished_at=self.clock(),
                    )
                ).rowcount
                == 1
            )

    def fail_job(self, job_id: int, reason: str) -> bool:
        now = self.clock()
        with self._write() as conn:
            changed = conn.execute(
                update(Job)
                .where(Job.id == job_id, Job.status.in_(ACTIVE_JOB))
                .values(status=JobStatus.FAILED.value, error=reason, finished_at=now)
            ).rowcount
            if changed == 1:
                self._close_open_tasks(conn, job_id, now)
            return changed == 1

    # ------------------------------------------------------------------ workers

    def register_worker(
        self,
        name: str,
        os: str,
        cores: int,
        versions: list[str],
        transfer: str,
        shared_output_root: str | None,
        free_disk_bytes: int | None,
    ) -> int:
        """Create the worker, or refresh it when a worker of that name registers again."""
        now = self.clock()
        values: dict[str, Any] = {
            "os": os,
            "cores": cores,
            "versions": versions,
            "transfer": transfer,
            "shared_output_root": shared_output_root,
            "free_disk_bytes": free_disk_bytes,
            "draining": False,
            "registered_at": now,
            "last_seen": now,
        }
        for _ in range(3):
            try:
                with self._write() as conn:
                    found = conn.execute(
                        update(Worker).where(Worker.name == name).values(**values)
                    ).rowcount
                    if found:
                        return int(
                            conn.execute(select(Worker.id).where(Worker.name == name)).scalar_one()
                        )
                    return int(
                        conn.execute(
                            insert(Worker).values(name=name, **values).returning(Worker.id)
                        ).scalar_one()
                    )
            except IntegrityError:  # the same name registered concurrently: update it
                continue
        raise Conflict(f"worker {name!r} is registering from several places at once")

    def list_workers(self) -> list[tuple[Worker, Task | None]]:
        """Every worker with the task it is running, if any."""
        current = and_(Task.worker_id == Worker.id, Task.status == TaskStatus.RUNNING.value)
        stmt = select(Worker, Task).outerjoin(Task, current).order_by(Worker.name)
        with self._session() as session:
            return [(w, t) for w, t in session.execute(stmt)]

    def get_worker(self, worker_id: int) -> Worker:
        with self._session() as session:
            worker = session.get(Worker, worker_id)
        if worker is None:
            raise NotFound(f"no worker {worker_id}: register again")
        return worker

    # ------------------------------------------------------------------ claim

    def claim(
        self,
        worker_id: int,
        free_cores: int,
        draining: bool,
        free_disk_bytes: int | None,
        policy: ClaimPolicy,
    ) -> Claimed | None:
        """Lease the next task to this worker, cutting new years if needed; None: no work."""
        now = self.clock()
        with self._write() as conn:
            worker = conn.execute(
                update(Worker)
                .where(Worker.id == worker_id)
                .values(last_seen=now, draining=draining, free_disk_bytes=free_disk_bytes)
                .returning(Worker.name, Worker.versions)
            ).one_or_none()
            if worker is None:
                raise NotFound(f"no worker {worker_id}: register again")
            if draining:
                return None
            for _ in range(3):  # a lost race (PostgreSQL) re-reads the facts
                decision = scheduler.pick(self._job_facts(conn), worker.versions)
                if decision is None:
                    return None
                lease_until = now + timedelta(seconds=policy.lease_seconds)
                if decision.requeued_task:
                    task_id = self._claim_queued_task(
                        conn, decision, worker_id, worker.name, now, lease_until
                    )
                else:
                    task_id = self._cut_task(
                        conn, decision, worker_id, worker.name, free_cores, now, policy
                    )
                if task_id is not None:
                    return self._claimed(conn, task_id, decision, worker.name, now)
            return None

    def _job_facts(self, conn: Connection) -> list[scheduler.JobFacts]:
        queued = (
            select(func.count())
            .where(Task.job_id == Job.id, Task.status == TaskStatus.QUEUED.value)
            .scalar_subquery()
        )
        rows = conn.execute(
            select(
                Job.id,
                Job.priority,
                Job.antares_version,
                Job.solver_version,
                queued,
                Job.years_total - Job.next_index,
            ).where(Job.status.in_(ACTIVE_JOB))
        ).all()
        return [
            scheduler.JobFacts(
                id=r[0],
                priority=r[1],
                antares_version=r[2],
                solver_version=r[3],
                queued_tasks=int(r[4]),
                unassigned_years=int(r[5]),
            )
            for r in rows
        ]

    def _claim_queued_task(
        self,
        conn: Connection,
        decision: scheduler.Decision,
        worker_id: int,
        worker_name: str,
        now: datetime,
        lease_until: datetime,
    ) -> int | None:
        task_id = conn.execute(
            self._for_update(
                select(Task.id)
                .where(Task.job_id == decision.job_id, Task.status == TaskStatus.QUEUED.value)
                .order_by(Task.first_year)
                .limit(1),
                skip_locked=True,
            )
        ).scalar_one_or_none()
        if task_id is None:
            return None
        changed = conn.execute(
            update(Task)
            .where(Task.id == task_id, Task.status == TaskStatus.QUEUED.value)
            .values(
                status=TaskStatus.RUNNING.value,
                attempt=Task.attempt + 1,
                worker_id=worker_id,
                worker_name=worker_name,
                solver_version=decision.solver_version,
                lease_until=lease_until,
                started_at=now,
                finished_at=None,
                years_done=0,
            )
        ).rowcount
        return int(task_id) if changed == 1 else None

    def _cut_task(
        self,
        conn: Connection,
        decision: scheduler.Decision,
        worker_id: int,
        worker_name: str,
        free_cores: int,
        now: datetime,
        policy: ClaimPolicy,
    ) -> int | None:
        job = conn.execute(
            self._for_update(
                select(Job.years, Job.next_index, Job.splittable, Job.status).where(
                    Job.id == decision.job_id
                )
            )
        ).one()
        if job.status not in ACTIVE_JOB or job.next_index >= len(job.years):
            return None
        online = now - timedelta(seconds=policy.worker_offline_s)
        cores, count = conn.execute(
            select(func.coalesce(func.sum(Worker.cores), 0), func.count()).where(
                Worker.last_seen >= online, Worker.draining.is_(False)
            )
        ).one()
        in_flight = conn.execute(
            select(func.coalesce(func.sum(Task.n_years), 0)).where(
                Task.job_id == decision.job_id, Task.status == TaskStatus.RUNNING.value
            )
        ).scalar_one()
        size = scheduler.chunk_size(
            policy.chunk_policy,
            unassigned=len(job.years) - job.next_index,
            free_cores=free_cores,
            pool=scheduler.Pool(cores=int(cores), workers=int(count)),
            in_flight=int(in_flight),
            splittable=job.splittable,
        )
        years = list(job.years[job.next_index : job.next_index + size])
        moved = conn.execute(
            update(Job)
            .where(Job.id == decision.job_id, Job.next_index == job.next_index)
            .values(next_index=job.next_index + size)
        ).rowcount
        if moved != 1:
            return None
        return int(
            conn.execute(
                insert(Task)
                .values(
                    job_id=decision.job_id,
                    years=years,
                    first_year=years[0],
                    n_years=len(years),
                    status=TaskStatus.RUNNING.value,
                    attempt=1,
                    failures=0,
                    worker_id=worker_id,
                    worker_name=worker_name,
                    solver_version=decision.solver_version,
                    lease_until=now + timedelta(seconds=policy.lease_seconds),
                    years_done=0,
                    created_at=now,
                    started_at=now,
                )
                .returning(Task.id)
            ).scalar_one()
        )

    def _claimed(
        self,
        conn: Connection,
        task_id: int,
        decision: scheduler.Decision,
        worker_name: str,
        now: datetime,
    ) -> Claimed:
        conn.execute(
            update(Job)
            .where(Job.id == decision.job_id)
            .values(
                status=JobStatus.RUNNING.value,
                started_at=func.coalesce(Job.started_at, now),
                solver_version=func.coalesce(Job.solver_version, decision.solver_version),
            )
        )
        row = conn.execute(
            select(
                Task.attempt,
                Task.years,
                Task.lease_until,
                Job.antares_version,
                Job.study_sha256,
                Job.study_size,
                Job.study_name,
                Job.task_time_limit_s,
            )
            .join(Job, Job.id == Task.job_id)
            .where(Task.id == task_id)
        ).one()
        return Claimed(
            task_id=task_id,
            job_id=decision.job_id,
            attempt=row.attempt,
            years=list(row.years),
            antares_version=row.antares_version,
            solver_version=decision.solver_version,
            study_sha256=row.study_sha256,
            study_size=row.study_size,
            study_name=row.study_name,
            time_limit_s=row.task_time_limit_s,
            worker_name=worker_name,
            lease_until=row.lease_until,
        )

    # ------------------------------------------------------------------ task reports

    def _fence(self, worker_id: int, attempt: int, task_id: int) -> Any:
        return and_(
            Task.id == task_id,
            Task.attempt == attempt,
            Task.worker_id == worker_id,
            Task.status == TaskStatus.RUNNING.value,
        )

    def _refuse(self, conn: Connection, task_id: int, worker_id: int, attempt: int) -> NoReturn:
        """Raise the right error for a report that did not match a running attempt."""
        task = conn.execute(
            select(Task.status, Task.attempt, Task.worker_id).where(Task.id == task_id)
        ).one_or_none()
        if task is None:
            raise NotFound(f"no task {task_id}")
        if task.attempt != attempt or task.worker_id != worker_id:
            raise Conflict(
                f"task {task_id}: attempt {attempt} is stale (the task was given to another "
                "attempt); this report is ignored"
            )
        raise Conflict(f"task {task_id} is {task.status}: this report is ignored")

    def check_running(self, task_id: int, worker_id: int, attempt: int) -> int:
        """Raise unless the attempt still holds the task; returns the task's job id."""
        with self._read() as conn:
            job_id = conn.execute(
                select(Task.job_id).where(self._fence(worker_id, attempt, task_id))
            ).scalar_one_or_none()
            if job_id is None:
                self._refuse(conn, task_id, worker_id, attempt)
            return int(job_id)

    def heartbeat(
        self, task_id: int, worker_id: int, attempt: int, years_done: int, lease_seconds: float
    ) -> Beat:
        now = self.clock()
        lease_until = now + timedelta(seconds=lease_seconds)
        with self._write() as conn:
            clamped = case((Task.n_years < years_done, Task.n_years), else_=years_done)
            changed = conn.execute(
                update(Task)
                .where(self._fence(worker_id, attempt, task_id))
                .values(lease_until=lease_until, years_done=clamped)
            ).rowcount
            conn.execute(update(Worker).where(Worker.id == worker_id).values(last_seen=now))
            if changed == 1:
                return Beat(cancel=False, lease_until=lease_until)
            task = conn.execute(
                select(Task.status, Task.attempt, Task.worker_id).where(Task.id == task_id)
            ).one_or_none()
            if (
                task is not None
                and task.status == TaskStatus.CANCELLED.value
                and task.attempt == attempt
                and task.worker_id == worker_id
            ):
                return Beat(cancel=True, lease_until=now)
            self._refuse(conn, task_id, worker_id, attempt)

    def complete_task(
        self,
        task_id: int,
        worker_id: int,
        attempt: int,
        log_tail: str,
        output_location: str | None = None,
    ) -> tuple[int, bool]:
        """Record a finished attempt; returns (job id, whether every year is now done)."""
        now = self.clock()
        with self._write() as conn:
            changed = conn.execute(
                update(Task)
                .where(self._fence(worker_id, attempt, task_id))
                .values(
                    status=TaskStatus.SUCCEEDED.value,
                    finished_at=now,
                    lease_until=None,
                    years_done=Task.n_years,
                    log_tail=log_tail,
                    error=None,
                    output_location=output_location,
                )
            ).rowcount
            if changed != 1:
                self._refuse(conn, task_id, worker_id, attempt)
            conn.execute(update(Worker).where(Worker.id == worker_id).values(last_seen=now))
            job_id = int(conn.execute(select(Task.job_id).where(Task.id == task_id)).scalar_one())
            job_running = conn.execute(select(Job.status).where(Job.id == job_id)).scalar_one() == (
                JobStatus.RUNNING.value
            )
            return job_id, job_running and self._all_years_done(conn, job_id)

    def fail_task(
        self,
        task_id: int,
        worker_id: int,
        attempt: int,
        reason: str,
        log_tail: str,
        release: bool,
        max_attempts: int,
    ) -> TaskEvent:
        now = self.clock()
        with self._write() as conn:
            task = conn.execute(
                select(Task.id, Task.job_id, Task.years, Task.failures).where(
                    self._fence(worker_id, attempt, task_id)
                )
            ).one_or_none()
            if task is None:
                self._refuse(conn, task_id, worker_id, attempt)
            assert task is not None
            conn.execute(update(Worker).where(Worker.id == worker_id).values(last_seen=now))
            return self._after_failure(
                conn, task, reason, log_tail, release, max_attempts, now, attempt
            )

    def requeue_expired(self, max_attempts: int) -> list[TaskEvent]:
        """The sweeper's pass: every running task whose lease ran out is a failed attempt."""
        now = self.clock()
        events = []
        with self._write() as conn:
            expired = conn.execute(
                self._for_update(
                    select(
                        Task.id,
                        Task.job_id,
                        Task.years,
                        Task.failures,
                        Task.attempt,
                        Task.worker_name,
                    ).where(Task.status == TaskStatus.RUNNING.value, Task.lease_until < now),
                    skip_locked=True,
                )
            ).all()
            for task in expired:
                reason = (
                    f"lease expired: worker {task.worker_name} stopped reporting "
                    f"(attempt {task.attempt})"
                )
                events.append(
                    self._after_failure(
                        conn, task, reason, "", False, max_attempts, now, task.attempt
                    )
                )
        return events

    def _after_failure(
        self,
        conn: Connection,
        task: Any,
        reason: str,
        log_tail: str,
        release: bool,
        max_attempts: int,
        now: datetime,
        attempt: int,
    ) -> TaskEvent:
        failures = task.failures if release else task.failures + 1
        exhausted = failures >= max_attempts
        outcome = (
            FailOutcome.RELEASED
            if release
            else FailOutcome.JOB_FAILED
            if exhausted
            else FailOutcome.REQUEUED
        )
        status = TaskStatus.FAILED if outcome is FailOutcome.JOB_FAILED else TaskStatus.QUEUED
        conn.execute(
            update(Task)
            .where(Task.id == task.id, Task.attempt == attempt)
            .values(
                status=status.value,
                failures=failures,
                lease_until=None,
                years_done=0,
                error=reason,
                log_tail=log_tail or None,
                finished_at=now if status is TaskStatus.FAILED else None,
            )
        )
        if outcome is FailOutcome.JOB_FAILED:
            job_reason = (
                f"years {describe_years(task.years)} failed {failures} times; last: {reason}"
            )
            conn.execute(
                update(Job)
                .where(Job.id == task.job_id, Job.status.in_(ACTIVE_JOB))
                .values(status=JobStatus.FAILED.value, error=job_reason, finished_at=now)
            )
            self._close_open_tasks(conn, task.job_id, now)
        return TaskEvent(task.id, task.job_id, list(task.years), outcome, reason)

    # ------------------------------------------------------------------ start-up & overview

    def extend_running_leases(self, lease_seconds: float) -> int:
        """At start-up: give running tasks a full lease, as the driver's downtime is not
        their workers' fault (they kept running and retried their heartbeats)."""
        until = self.clock() + timedelta(seconds=lease_seconds)
        with self._write() as conn:
            return int(
                conn.execute(
                    update(Task)
                    .where(
                        Task.status == TaskStatus.RUNNING.value,
                        or_(Task.lease_until.is_(None), Task.lease_until < until),
                    )
                    .values(lease_until=until)
                ).rowcount
            )

    def job_ids(self) -> set[int]:
        with self._read() as conn:
            return {int(i) for i in conn.execute(select(Job.id)).scalars()}

    def study_hashes(self) -> set[str]:
        with self._read() as conn:
            return set(conn.execute(select(Job.study_sha256).distinct()).scalars())

    def succeeded_attempts(self) -> set[tuple[int, int, int]]:
        """(job id, task id, attempt) of every succeeded task: the outputs to keep."""
        with self._read() as conn:
            rows = conn.execute(
                select(Task.job_id, Task.id, Task.attempt).where(
                    Task.status == TaskStatus.SUCCEEDED.value
                )
            ).all()
        return {(int(j), int(t), int(a)) for j, t, a in rows}

    def ping(self) -> str:
        """Round-trip to the database; returns its kind ("sqlite" or "postgresql")."""
        with self._read() as conn:
            conn.execute(select(1))
        return "sqlite" if self._sqlite else "postgresql"

    def counts(self) -> Counts:
        with self._read() as conn:
            jobs = conn.execute(select(Job.status, func.count()).group_by(Job.status)).all()
            tasks = conn.execute(select(Task.status, func.count()).group_by(Task.status)).all()
        return Counts({s: int(n) for s, n in jobs}, {s: int(n) for s, n in tasks})
