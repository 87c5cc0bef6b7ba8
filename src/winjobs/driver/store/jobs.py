"""Jobs: create, read, change state, and the assembly hand-offs."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from sqlalchemy import Connection, case, delete, func, insert, select, update

from winjobs.driver.errors import Conflict, NotFound
from winjobs.driver.models import Job, Task, TaskCopy, TaskFailure
from winjobs.driver.store.base import StoreBase, attempt_past_copy
from winjobs.driver.store.outbox import record_job_end
from winjobs.driver.store.records import ACTIVE_JOB, NewJob, Progress
from winjobs.wire import JobStatus, TaskStatus


@dataclass(frozen=True)
class JobPage:
    jobs: list[Job]
    total: int  #: jobs matching the filters, on every page


@dataclass(frozen=True)
class WaitingWork:
    """An active job's years that no worker runs yet (queued tasks + unassigned years)."""

    job_id: int
    priority: int
    antares_version: str
    solver_version: str | None
    years_waiting: int


class JobStore(StoreBase):
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
                    notify=list(job.notify),
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

    def job_copies(self, job_id: int) -> list[TaskCopy]:
        """The speculative copies of the job's tasks, oldest first."""
        with self._session() as session:
            return list(
                session.scalars(
                    select(TaskCopy)
                    .join(Task, Task.id == TaskCopy.task_id)
                    .where(Task.job_id == job_id)
                    .order_by(TaskCopy.id)
                )
            )

    def list_jobs(
        self,
        status: str | None = None,
        submitter: str | None = None,
        limit: int | None = None,
        offset: int = 0,
    ) -> JobPage:
        """One page of the jobs matching the filters, newest first, and how many match in
        all; read in one transaction, so the count agrees with the page."""
        matching = []
        if status is not None:
            matching.append(Job.status == status)
        if submitter is not None:
            matching.append(Job.submitter == submitter)
        page = select(Job).where(*matching).order_by(Job.id.desc()).offset(offset).limit(limit)
        count = select(func.count()).select_from(Job).where(*matching)
        with self._session() as session, session.begin():
            jobs = list(session.scalars(page))
            total = session.execute(count).scalar_one()
        return JobPage(jobs, int(total))

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

    def waiting_work(self) -> list[WaitingWork]:
        """Active jobs with years waiting for a worker, held ones included (higher
        priority first, then first come first served; `Overview.waiting_work` orders them
        as the claims do)."""
        queued_years = (
            select(func.coalesce(func.sum(Task.n_years), 0))
            .where(Task.job_id == Job.id, Task.status == TaskStatus.QUEUED.value)
            .scalar_subquery()
        )
        waiting = queued_years + Job.years_total - Job.next_index
        stmt = (
            select(Job.id, Job.priority, Job.antares_version, Job.solver_version, waiting)
            .where(Job.status.in_(ACTIVE_JOB), waiting > 0)
            .order_by(Job.priority.desc(), Job.id)
        )
        with self._read() as conn:
            rows = conn.execute(stmt).all()
        return [WaitingWork(int(i), int(p), v, s, int(w)) for i, p, v, s, w in rows]

    def set_priority(self, job_id: int, priority: int) -> None:
        with self._write() as conn:
            changed = conn.execute(
                update(Job)
                .where(Job.id == job_id, Job.status.in_(ACTIVE_JOB))
                .values(priority=priority)
            ).rowcount
            if changed != 1:
                self._raise_job_not_active(conn, job_id, "change the priority of")

    def hold_job(self, job_id: int, by: str, reason: str | None) -> None:
        """Hold a queued or running job: claims skip it from now on (its running tasks
        go on). Conflict if it has ended or is held already."""
        self._change_hold(job_id, "hold", held=True, by=by, reason=reason)

    def release_job(self, job_id: int) -> None:
        """Let a held job's tasks be claimed again, at the job's place in the queue."""
        self._change_hold(job_id, "release", held=False, by=None, reason=None)

    def _change_hold(
        self, job_id: int, action: str, *, held: bool, by: str | None, reason: str | None
    ) -> None:
        """One conditional update (an active job, not already in that state), so that a
        hold and a release racing each other cannot both succeed."""
        with self._write() as conn:
            changed = conn.execute(
                update(Job)
                .where(Job.id == job_id, Job.status.in_(ACTIVE_JOB), Job.held.is_(not held))
                .values(held=held, held_by=by, held_reason=reason)
            ).rowcount
            if changed != 1:
                self._refuse_hold_change(conn, job_id, action)

    def _refuse_hold_change(self, conn: Connection, job_id: int, action: str) -> None:
        job = conn.execute(
            select(Job.status, Job.held, Job.held_by).where(Job.id == job_id)
        ).one_or_none()
        if job is None or job.status not in ACTIVE_JOB:
            self._raise_job_not_active(conn, job_id, action)
        elif job.held:
            raise Conflict(f"job {job_id} is held already (by {job.held_by})")
        raise Conflict(f"job {job_id} is not held: there is nothing to release")

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
            record_job_end(conn, job_id, now)

    def retry_job(self, job_id: int, lift_hold: bool = True) -> bool:
        """Re-queue a failed or cancelled job's unfinished work; True if only assembly
        remains. `lift_hold`: a hold left from before the end is lifted (else kept, with its
        reason: `JobService.retry` keeps an admin's hold the caller may not release)."""
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
                    f"job {job_id} {JobStatus(job.status).phrase}: only a failed or cancelled "
                    "job can be retried"
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
                    attempt=attempt_past_copy(self._sqlite),
                )
            )
            # a retry starts afresh: every worker may take the years again
            conn.execute(
                delete(TaskFailure).where(
                    TaskFailure.task_id.in_(select(Task.id).where(Task.job_id == job_id))
                )
            )
            succeeded = conn.execute(
                select(func.count())
                .select_from(Task)
                .where(Task.job_id == job_id, Task.status == TaskStatus.SUCCEEDED.value)
            ).scalar_one()
            # a retry asks for the years to run: a hold left from before the end would
            # keep them waiting without anyone seeing why, unless it is one the caller
            # may not lift
            unheld = {"held": False, "held_by": None, "held_reason": None} if lift_hold else {}
            conn.execute(
                update(Job)
                .where(Job.id == job_id)
                .values(
                    status=JobStatus.RUNNING.value if succeeded else JobStatus.QUEUED.value,
                    error=None,
                    finished_at=None,
                    run_folder=None,
                    **unheld,
                )
            )
            return self._all_years_done(conn, job_id)

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
        now = self.clock()
        with self._write() as conn:
            changed = conn.execute(
                update(Job)
                .where(Job.id == job_id, Job.status == JobStatus.RUNNING.value)
                .values(status=JobStatus.SUCCEEDED.value, run_folder=run_folder, finished_at=now)
            ).rowcount
            if changed == 1:
                record_job_end(conn, job_id, now)
            return changed == 1

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
                record_job_end(conn, job_id, now)
            return changed == 1
