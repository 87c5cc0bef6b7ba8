"""Removing finished jobs (`winjobs clean data`), keeping a summary row of each."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, insert, select

from winjobs.driver.models import Job, JobArchive, Task
from winjobs.driver.store.base import StoreBase
from winjobs.wire import JobStatus

FINAL_JOB = (JobStatus.SUCCEEDED.value, JobStatus.FAILED.value, JobStatus.CANCELLED.value)


@dataclass(frozen=True)
class FinishedJob:
    job: Job
    tasks: list[Task]


class RetentionStore(StoreBase):
    def finished_jobs(self, before: datetime) -> list[FinishedJob]:
        """Jobs that ended (succeeded, failed, cancelled) before `before`, oldest first.

        On SQLite the newest job is never among them: SQLite hands the highest id out
        again once its row is gone, and a job number must never mean two jobs.
        """
        stmt = (
            select(Job).where(Job.status.in_(FINAL_JOB), Job.finished_at < before).order_by(Job.id)
        )
        with self._session() as session:
            jobs = list(session.scalars(stmt))
            newest = session.scalar(select(func.max(Job.id)))
            if self._sqlite:
                jobs = [j for j in jobs if j.id != newest]
            tasks = list(
                session.scalars(
                    select(Task).where(Task.job_id.in_([j.id for j in jobs])).order_by(Task.id)
                )
            )
        by_job: dict[int, list[Task]] = {j.id: [] for j in jobs}
        for task in tasks:
            by_job[task.job_id].append(task)
        return [FinishedJob(j, by_job[j.id]) for j in jobs]

    def archive_job(self, job_id: int, summary: dict[str, Any]) -> bool:
        """Delete a job that is still finished (its tasks go with it) and insert its
        summary, in one transaction; False (nothing changed) if it is active again
        (retried meanwhile) or gone."""
        with self._write() as conn:
            status = conn.execute(
                self._for_update(select(Job.status).where(Job.id == job_id))
            ).scalar_one_or_none()
            if status not in FINAL_JOB:
                return False
            conn.execute(delete(Task).where(Task.job_id == job_id))
            conn.execute(delete(Job).where(Job.id == job_id))
            conn.execute(insert(JobArchive).values(job_id=job_id, **summary))
            return True

    def archived_jobs(self) -> list[JobArchive]:
        with self._session() as session:
            return list(session.scalars(select(JobArchive).order_by(JobArchive.id)))
