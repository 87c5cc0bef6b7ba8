"""The pool and its queue as people read them: why-pending reasons and ETAs on the jobs
and tasks being read, the pool at a glance, its load history.

Everything here is computed when it is read (the API, the CLI, the dashboard), from one
read of the queue's facts (`Store.queue_rows`) and the workers as `winjobs workers`
shows them; nothing of it runs on the claim path. The rules are the pure modules':
`waiting` (the reasons, on the scheduler's own `assess`), `estimates` (task ends, ETAs,
throughput).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import TypeVar

from winjobs.driver import estimates, fairshare, waiting
from winjobs.driver.estimates import JobTiming
from winjobs.driver.pool import PoolService
from winjobs.driver.scheduler import JobFacts
from winjobs.driver.settings import DriverSettings
from winjobs.driver.store import QueueRows, Store, WaitingWork
from winjobs.wire import (
    JobDetail,
    JobStatus,
    JobSummary,
    LoadHistory,
    LoadPoint,
    PoolStatus,
    Role,
    Shares,
    TaskStatus,
    UserShare,
    WaitCode,
    WaitReason,
    WorkerInfo,
    WorkerState,
)

#: the window of the pool's throughput (`winjobs status`)
THROUGHPUT_WINDOW = timedelta(hours=1)

J = TypeVar("J", bound=JobSummary)
#: reasons a submission is warned of: no online worker could ever take it as things are
UNRUNNABLE = (
    WaitCode.NO_SOLVER.value,
    WaitCode.WORKERS_OFFLINE.value,
    WaitCode.PINNED_VERSION_GONE.value,
)
#: the id a job not submitted yet has in `unrunnable_version` (no stored job has it)
_NOT_SUBMITTED = -1


def _unrunnable(reason: WaitReason | None) -> str | None:
    if reason is None or reason.code not in UNRUNNABLE:
        return None
    return f"no online worker can run this job now: {reason.message}"


@dataclass(frozen=True)
class Snapshot:
    """The queue's facts and the pool, read once per request."""

    rows: QueueRows
    workers: list[WorkerInfo]
    queue: waiting.QueueFacts
    #: time per batch of each active job's finished tasks
    per_batch: dict[int, float | None] = field(default_factory=dict)


@dataclass(frozen=True)
class PoolFacts:
    """`Overview.status_and_counts`: what `/metrics` renders."""

    pool: PoolStatus
    jobs: Mapping[str, int]  #: jobs by status
    tasks: Mapping[str, int]  #: tasks by status
    policies: dict[str, int]  #: online workers by their owner's policy state


class Overview:
    def __init__(self, store: Store, settings: DriverSettings, pool: PoolService) -> None:
        self.store = store
        self.settings = settings
        self.pool = pool

    # ------------------------------------------------------------------ the queue's facts

    def workers(self) -> list[WorkerInfo]:
        """Every worker as `GET /workers` shows it (the one place its state is decided)."""
        return self.pool.list().workers

    def snapshot(self) -> Snapshot:
        now = self.store.clock()
        rows = self.store.queue_rows()
        infos = self.workers()
        per_batch = {job: estimates.batch_seconds(runs) for job, runs in rows.finished.items()}
        running = {r.worker_id: r for r in rows.running}
        pool = []
        for info in infos:
            task = running.get(info.id)
            busy_until = None
            if task is not None:
                busy_until = estimates.task_end(task.run, now, per_batch.get(task.job_id))
            pool.append(
                waiting.PoolWorker(
                    id=info.id,
                    name=info.name,
                    cores=info.cores,
                    versions=tuple(info.versions),
                    state=info.state,
                    last_seen=info.last_seen,
                    held_reason=info.held_reason,
                    away=_away(info),
                    back_at=info.next_work_at,
                    busy_until=busy_until,
                )
            )
        rules, moment = fairshare.order_rules(self.settings), now.timestamp()
        queue = waiting.QueueFacts(
            jobs=rows.jobs,
            tasks=rows.tasks,
            workers=pool,
            now=now,
            order=fairshare.ranking(rows.usage, moment, rules, rows.jobs),
            effective=lambda job: fairshare.effective_priority(job, moment, rules),
        )
        return Snapshot(rows, infos, queue, per_batch)

    def waiting_work(self) -> list[WaitingWork]:
        """The years waiting for a worker, job by job, as the claims will hand them out:
        held jobs left out (nothing of theirs is handed out), the others in the queue's
        order (priority raised by aging, then fair share, then first come). A pool
        manager starts pilots for them in that order."""
        snap = self.snapshot()
        facts = {job.id: job for job in snap.rows.jobs}
        work = [
            item
            for item in self.store.waiting_work()
            if item.job_id in facts and not facts[item.job_id].held
        ]
        return sorted(work, key=lambda item: snap.queue.order(facts[item.job_id]))

    # ------------------------------------------------------------------ jobs as read

    def annotate(self, jobs: Sequence[JobSummary]) -> list[JobSummary]:
        """The jobs with their why-pending reason and their ETA (and its basis)."""
        if all(job.status.is_final for job in jobs):
            return list(jobs)
        snap = self.snapshot()
        return [self._annotated(job, snap) for job in jobs]

    def annotate_detail(self, job: JobDetail) -> JobDetail:
        """The job as `annotate` gives it, and each queued task with its reason."""
        if job.status.is_final:
            return job
        snap = self.snapshot()
        tasks = [
            task.model_copy(update={"waiting": waiting.explain_task(snap.queue, task.id)})
            if task.status is TaskStatus.QUEUED
            else task
            for task in job.tasks
        ]
        return self._annotated(job, snap).model_copy(update={"tasks": tasks})

    def unrunnable(self, job_id: int) -> str | None:
        """What a submission must hear at once: no online worker can run the job (no
        solver for its version, or only offline ones); None when some worker can."""
        return _unrunnable(waiting.explain_job(self.snapshot().queue, job_id))

    def unrunnable_version(self, antares_version: str) -> str | None:
        """`unrunnable` for a job of this version not submitted yet: a user told before
        packing and uploading a large study, not after. The job is put in the queue as
        it would come (a year to cut, last in line); only whether a worker can run it
        is told."""
        snap = self.snapshot()
        coming = JobFacts(
            id=_NOT_SUBMITTED,
            priority=0,
            antares_version=antares_version,
            solver_version=None,
            queued_tasks=0,
            unassigned_years=1,
            submitted_at=snap.queue.now.timestamp(),
        )
        queue = waiting.QueueFacts(
            jobs=[*snap.queue.jobs, coming],
            tasks=snap.queue.tasks,
            workers=snap.queue.workers,
            now=snap.queue.now,
            order=snap.queue.order,
            effective=snap.queue.effective,
        )
        return _unrunnable(waiting.explain_job(queue, _NOT_SUBMITTED))

    def _annotated(self, job: J, snap: Snapshot) -> J:
        if job.status.is_final:
            return job
        reason = None
        if job.status is JobStatus.QUEUED or job.tasks_running == 0:
            reason = waiting.explain_job(snap.queue, job.id)
        eta = estimates.job_eta(self._timing(job, snap), snap.queue.now)
        facts = snap.queue.job(job.id)
        return job.model_copy(
            update={
                "effective_priority": None if facts is None else snap.queue.effective(facts),
                "waiting": reason,
                "eta_seconds": eta.seconds if eta is not None else None,
                "eta_basis": eta.basis.value if eta is not None else None,
            }
        )

    def _timing(self, job: JobSummary, snap: Snapshot) -> JobTiming:
        running = [r.run for r in snap.rows.running if r.job_id == job.id]
        finished = snap.rows.finished.get(job.id, [])
        history = None
        if not finished and job.years_done == 0 and running:
            detail = self.store.get_job(job.id)
            history = estimates.batch_seconds(
                self.store.study_runs(job.id, detail.study_sha256, detail.study_name)
            )
        started = job.started_at
        seconds = (snap.queue.now - started).total_seconds() if started is not None else 0.0
        return JobTiming(
            years_total=job.years_total,
            years_done=job.years_done,
            running_seconds=max(0.0, seconds),
            finished_tasks=len(finished),
            running=running,
            history_batch_s=history,
        )

    # ------------------------------------------------------------------ the pool

    def status(self) -> PoolStatus:
        return self.status_and_counts().pool

    def status_and_counts(self) -> PoolFacts:
        """The pool at a glance, the job and task counts it was computed from, and the
        online workers by their owner's policy: `/metrics` needs all three, from one read
        of the workers and one count of the database."""
        now = self.store.clock()
        snap = self.snapshot()
        workers = snap.workers
        states = Counter(w.state for w in workers)
        load = pool_load(workers, now)
        counts = self.store.counts()
        per_hour = estimates.years_per_hour(
            self.store.recent_runs(now - THROUGHPUT_WINDOW), now, THROUGHPUT_WINDOW
        )
        left = years_left(snap.rows)
        pool = PoolStatus(
            at=now,
            workers_online=load.workers_online,
            workers_idle=states[WorkerState.IDLE],
            workers_busy=states[WorkerState.BUSY],
            workers_held=states[WorkerState.HELD],
            workers_draining=states[WorkerState.DRAINING],
            workers_offline=states[WorkerState.OFFLINE],
            cores_total=load.cores_total,
            cores_busy=load.cores_busy,
            versions=waiting.online_versions(snap.queue.workers),
            jobs_queued=counts.jobs.get(JobStatus.QUEUED.value, 0),
            jobs_running=counts.jobs.get(JobStatus.RUNNING.value, 0),
            years_left=left,
            years_per_hour=round(per_hour, 2),
            drain_seconds=estimates.drain_seconds(left, per_hour),
        )
        policies = Counter(
            w.policy.value
            for w in workers
            if w.policy is not None and w.state is not WorkerState.OFFLINE
        )
        return PoolFacts(pool, counts.jobs, counts.tasks, dict(policies))

    def shares(self) -> Shares:
        """The users' shares of the pool: every user token and whoever has a usage."""
        rules, now = fairshare.order_rules(self.settings), self.store.clock().timestamp()
        users = [t.name for t in self.settings.tokens if t.role is Role.USER]
        lines = fairshare.shares(self.store.user_usage(), users, now, rules)
        return Shares(
            scheduling=rules.scheduling.value,
            half_life_hours=self.settings.fair_share_half_life_h,
            aging_points_per_hour=rules.aging_per_hour,
            aging_max_points=rules.aging_max,
            users=[UserShare(**asdict(line)) for line in lines],
        )

    def load_sample(self) -> LoadPoint:
        """The pool's load now (what the sampler records)."""
        return pool_load(self.workers(), self.store.clock())

    def load_history(self, hours: float) -> LoadHistory:
        since = self.store.clock() - timedelta(hours=hours)
        return LoadHistory(
            sample_s=self.settings.utilisation_sample_s, points=self.store.load_samples(since)
        )


def pool_load(workers: Sequence[WorkerInfo], now: datetime) -> LoadPoint:
    """Online workers and their cores, and those running a task."""
    online = [w for w in workers if w.state is not WorkerState.OFFLINE]
    busy = [w for w in online if w.current_task is not None]
    return LoadPoint(
        at=now,
        workers_online=len(online),
        workers_busy=len(busy),
        cores_total=sum(w.cores for w in online),
        cores_busy=sum(w.cores for w in busy),
    )


def years_left(rows: QueueRows) -> int:
    """Years of the active jobs not done: not cut yet, in queued tasks, and in running
    tasks beyond what their solvers reported."""
    unassigned = sum(job.unassigned_years for job in rows.jobs)
    queued = sum(task.years for task in rows.tasks)
    running = sum(max(0, r.run.n_years - r.run.years_done) for r in rows.running)
    return unassigned + queued + running


def _away(info: WorkerInfo) -> str | None:
    """Why the worker's owner policy keeps it from work now ("outside its schedule"), in
    the worker's own words when it sent some; None when its policy lets it work or it
    reports none."""
    if info.policy is None or info.policy.takes_work:
        return None
    return info.policy_reason or info.policy.label
