"""The job-end half of the notification outbox: rows written where a job ends.

A plain function of the connection, called by every transaction that ends a job
(cancel, assembled, failed), so the rows exist exactly when the ending is committed: a
crash loses both or neither. It only inserts; sending is the sender's business.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, insert, select

from winjobs.driver.models import Job, Notification
from winjobs.driver.notify.summary import job_end_summary
from winjobs.wire import DeliveryState


def record_job_end(conn: Connection, job_id: int, now: datetime) -> int:
    """One pending notification per target of the job that just ended; how many."""
    job = conn.execute(
        select(
            Job.id,
            Job.name,
            Job.submitter,
            Job.status,
            Job.years,
            Job.created_at,
            Job.started_at,
            Job.finished_at,
            Job.error,
            Job.run_folder,
            Job.notify,
        ).where(Job.id == job_id)
    ).one()
    if not job.notify:
        return 0
    summary = job_end_summary(
        job_id=job.id,
        name=job.name,
        owner=job.submitter,
        status=job.status,
        years=list(job.years),
        created_at=job.created_at,
        started_at=job.started_at,
        finished_at=job.finished_at,
        reason=job.error,
        run_folder=job.run_folder,
    )
    rows = [
        {
            "job_id": job_id,
            "target": target,
            "job_status": job.status,
            "summary": summary,
            "state": DeliveryState.PENDING.value,
            "attempts": 0,
            "next_attempt_at": now,
            "created_at": now,
        }
        for target in job.notify
    ]
    conn.execute(insert(Notification), rows)
    return len(rows)
