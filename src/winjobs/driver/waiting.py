"""Why queued work waits: the claim's own rule, asked for every worker of the pool.

Pure: facts in (the active jobs as the claim reads them, the queued tasks, the workers
with their state), a `WaitReason` out. Nothing here guesses: each worker is judged by
`scheduler.assess` on the job *as that worker's claim would see it* (without the tasks it
failed and must leave to others), the order of jobs is the claim's (`QueueFacts.order`:
`fairshare.ranking` of the same usage, rules and clock), and what an idle worker would
take is `scheduler.pick` in that order. A worker's availability is its state as
`winjobs workers` shows it, which is what the claim refuses on: offline (it is not
claiming), held, draining, kept away by its owner's policy.

Computed when jobs are read (the API, the CLI, the dashboard), never on the claim path:
one pass over the facts of one read transaction (`store.OverviewStore.queue_facts`).

The reasons, from the most fundamental to the most passing (docs/driver.md, "Why is it
waiting?"): the job held; nobody online can run the study's version (or the version the
job is pinned to); the workers that could run it failed it; they are held, draining, away
by their owner's policy or refused it for lack of disk; jobs ahead of it take them first;
they are busy; an idle one is about to take it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from winjobs.driver import scheduler
from winjobs.driver.scheduler import Blocker, JobFacts
from winjobs.wire import WaitCode, WaitReason, WorkerState


@dataclass(frozen=True)
class PoolWorker:
    """A registered worker as the reasons need it."""

    id: int
    name: str
    cores: int
    versions: tuple[str, ...]
    state: WorkerState  #: as `winjobs workers` shows it
    last_seen: datetime
    held_reason: str | None = None
    #: why its owner's policy keeps it from work now ("outside its schedule"); None: it
    #: reports no such policy, or the policy lets it work
    away: str | None = None
    back_at: datetime | None = None  #: when that policy lets it work again, if known
    busy_until: datetime | None = None  #: estimated end of its running task, if known


@dataclass(frozen=True)
class QueuedTask:
    """A task waiting for an attempt."""

    id: int
    job_id: int
    years: int = 1  #: how many years it holds
    #: workers that failed it and must leave it to others (`task_failures.avoid`)
    avoided_by: frozenset[int] = frozenset()
    #: the worker that gave its last attempt back for lack of disk, and why
    refused_by: str | None = None
    refusal: str | None = None


@dataclass(frozen=True)
class QueueFacts:
    """The pool and its queue, read in one transaction."""

    jobs: Sequence[JobFacts]  #: active jobs, every queued task counted
    tasks: Sequence[QueuedTask]
    workers: Sequence[PoolWorker]
    now: datetime
    #: the claim's order of the queue (fair share, aging); the original one by default
    order: scheduler.Order = scheduler.job_order
    #: each job's effective priority (aging): shown beside its priority when they differ
    effective: Callable[[JobFacts], int] = lambda job: job.priority
    _by_job: dict[int, list[QueuedTask]] = field(default_factory=dict, compare=False)

    def __post_init__(self) -> None:
        for task in self.tasks:
            self._by_job.setdefault(task.job_id, []).append(task)

    def job(self, job_id: int) -> JobFacts | None:
        return next((j for j in self.jobs if j.id == job_id), None)

    def task(self, task_id: int) -> QueuedTask | None:
        return next((t for t in self.tasks if t.id == task_id), None)

    def tasks_of(self, job_id: int) -> Sequence[QueuedTask]:
        return self._by_job.get(job_id, [])

    def seen_by(self, worker: PoolWorker, job: JobFacts) -> JobFacts:
        """The job as this worker's claim reads it: without the tasks it must avoid."""
        avoided = sum(worker.id in t.avoided_by for t in self.tasks_of(job.id))
        return job._replace(queued_tasks=job.queued_tasks - avoided) if avoided else job

    def queue_seen_by(self, worker: PoolWorker) -> list[JobFacts]:
        return [self.seen_by(worker, job) for job in self.jobs]


#: what one worker would do with the work waiting: its claim's view of it
Unit = Callable[[PoolWorker], JobFacts]


def explain_job(facts: QueueFacts, job_id: int) -> WaitReason | None:
    """Why this job's waiting work (queued tasks, years not cut yet) is not taken; None
    when it has none or is not active."""
    job = facts.job(job_id)
    if job is None or (job.queued_tasks == 0 and job.unassigned_years == 0):
        return None
    refusals = {t.refused_by: t.refusal or "" for t in facts.tasks_of(job_id) if t.refused_by}
    return _explain(facts, job, lambda w: facts.seen_by(w, job), refusals)


def explain_task(facts: QueueFacts, task_id: int) -> WaitReason | None:
    """Why this queued task is not taken; None when it is not queued."""
    task = facts.task(task_id)
    job = facts.job(task.job_id) if task is not None else None
    if task is None or job is None:
        return None

    def unit(worker: PoolWorker) -> JobFacts:
        mine = 0 if worker.id in task.avoided_by else 1
        return job._replace(queued_tasks=mine, unassigned_years=0)

    refusals = {task.refused_by: task.refusal or ""} if task.refused_by else {}
    return _explain(facts, job, unit, refusals)


def _explain(
    facts: QueueFacts, job: JobFacts, unit: Unit, refusals: Mapping[str, str]
) -> WaitReason:
    versions = online_versions(facts.workers)
    if job.held:
        return WaitReason(
            code=WaitCode.JOB_HELD,
            short="held",
            message="held by its owner or an admin: no task of it starts until it is "
            f"released (`winjobs release {job.id}`)",
            pool_versions=versions,
        )
    verdicts = {w.id: scheduler.assess(unit(w), w.versions) for w in facts.workers}
    online = [w for w in facts.workers if w.state is not WorkerState.OFFLINE]
    could = [w for w in facts.workers if _could_run(verdicts[w.id])]
    runs_online = any(_could_run(verdicts[w.id]) for w in online)
    pinned_out = any(verdicts[w.id].blocker is Blocker.PINNED_VERSION for w in online)
    if not runs_online and pinned_out:
        return _pinned_gone(job, versions)
    online_could = [w for w in could if w.state is not WorkerState.OFFLINE]
    if not online_could:
        return _nobody_online(job, versions, could, facts.now)
    takers = [w for w in online_could if verdicts[w.id].solver is not None]
    if not takers:
        return _failed_there(online_could, versions)
    free = [w for w in takers if _unavailable(w, refusals) is None]
    if not free:
        return _all_unavailable(takers, refusals, versions)
    ahead = _jobs_ahead(facts, job, free)
    for worker in free:
        if worker.state is WorkerState.IDLE:
            decision = scheduler.pick(facts.queue_seen_by(worker), worker.versions, facts.order)
            if decision is not None and decision.job_id == job.id:
                return WaitReason(
                    code=WaitCode.STARTING,
                    short="starting",
                    message=f"{worker.name} is idle and takes it at its next claim",
                    pool_versions=versions,
                    workers=[worker.name],
                )
    busy = [w for w in free if w.state is WorkerState.BUSY]
    return _behind(facts, ahead, busy, free, versions)


def _could_run(verdict: scheduler.Verdict) -> bool:
    """Has a solver for the job (whether or not it failed the work and avoids it)."""
    return verdict.blocker not in (Blocker.NO_SOLVER, Blocker.PINNED_VERSION)


def online_versions(workers: Sequence[PoolWorker]) -> list[str]:
    """The solver versions the online workers have, oldest first."""
    found = {v for w in workers if w.state is not WorkerState.OFFLINE for v in w.versions}
    return sorted(found, key=_version_key)


def _version_key(text: str) -> tuple[int, ...]:
    try:
        version = scheduler.parse_version(text)
    except ValueError:
        return (99, 99)
    return (version.major, version.minor)


def _pool_has(versions: Sequence[str]) -> str:
    return f"the online workers have {', '.join(versions)}" if versions else "no worker is online"


def _names(workers: Sequence[PoolWorker]) -> list[str]:
    return [w.name for w in workers]


def _pinned_gone(job: JobFacts, versions: list[str]) -> WaitReason:
    return WaitReason(
        code=WaitCode.PINNED_VERSION_GONE,
        short=f"needs solver {job.solver_version}",
        message=(
            f"its first tasks ran with solver {job.solver_version}, which its other years "
            f"need too (partial runs of different versions cannot be merged), and no online "
            f"worker has it any more ({_pool_has(versions)})"
        ),
        pool_versions=versions,
    )


def _nobody_online(
    job: JobFacts, versions: list[str], could: Sequence[PoolWorker], now: datetime
) -> WaitReason:
    wanted = job.solver_version or job.antares_version
    what = f"solver {wanted}" if job.solver_version else f"a solver for Antares {wanted}"
    if not could:
        return WaitReason(
            code=WaitCode.NO_SOLVER,
            short=f"no {wanted} solver",
            message=f"no online worker has {what} ({_pool_has(versions)})",
            pool_versions=versions,
        )
    seen = ", ".join(
        f"{w.name} (last seen {_ago((now - w.last_seen).total_seconds())})" for w in could
    )
    return WaitReason(
        code=WaitCode.WORKERS_OFFLINE,
        short="workers offline",
        message=f"the workers with {what} are offline: {seen} ({_pool_has(versions)})",
        pool_versions=versions,
        workers=_names(could),
    )


def _failed_there(workers: Sequence[PoolWorker], versions: list[str]) -> WaitReason:
    names = ", ".join(_names(workers))
    return WaitReason(
        code=WaitCode.FAILED_THERE,
        short="failed on its workers",
        message=(
            f"it failed on {names}, which leave it to other workers while one could run "
            "it; none online can now, so they get it back at the driver's next sweep"
        ),
        pool_versions=versions,
        workers=_names(workers),
    )


#: why a worker that could run the work takes none now, by precedence in a mixed pool
_UNAVAILABLE_ORDER = (
    WaitCode.DISK_REFUSED,
    WaitCode.WORKERS_AWAY,
    WaitCode.WORKERS_HELD,
    WaitCode.WORKERS_DRAINING,
)


def _unavailable(worker: PoolWorker, refusals: Mapping[str, str]) -> tuple[WaitCode, str] | None:
    """Why this worker takes no work now (its code and a few words), or None."""
    if worker.state is WorkerState.HELD:
        return WaitCode.WORKERS_HELD, f"held ({worker.held_reason or 'no reason given'})"
    if worker.state is WorkerState.DRAINING:
        return WaitCode.WORKERS_DRAINING, "draining"
    if worker.away is not None:
        until = f" until {_clock(worker.back_at)}" if worker.back_at is not None else ""
        return WaitCode.WORKERS_AWAY, f"{worker.away}{until}"
    if worker.name in refusals:
        return WaitCode.DISK_REFUSED, f"gave it back: {refusals[worker.name]}"
    return None


def _all_unavailable(
    workers: Sequence[PoolWorker], refusals: Mapping[str, str], versions: list[str]
) -> WaitReason:
    why = {w.name: _unavailable(w, refusals) for w in workers}
    codes = {reason[0] for reason in why.values() if reason is not None}
    code = next(c for c in _UNAVAILABLE_ORDER if c in codes)
    shorts = {
        WaitCode.DISK_REFUSED: "disk refused",
        WaitCode.WORKERS_AWAY: "workers away",
        WaitCode.WORKERS_HELD: "workers held",
        WaitCode.WORKERS_DRAINING: "workers draining",
    }
    details = "; ".join(f"{name} {reason[1]}" for name, reason in why.items() if reason)
    backs = [w.back_at for w in workers if w.back_at is not None]
    return WaitReason(
        code=code,
        short=shorts[code],
        message=f"the workers that could run it take no work now: {details}",
        pool_versions=versions,
        workers=_names(workers),
        free_at=min(backs) if backs and code is WaitCode.WORKERS_AWAY else None,
    )


def _jobs_ahead(facts: QueueFacts, job: JobFacts, workers: Sequence[PoolWorker]) -> list[JobFacts]:
    """Jobs served before this one that some of these workers may take."""
    mine = facts.order(job)
    return [
        other
        for other in sorted(facts.jobs, key=facts.order)
        if facts.order(other) < mine
        and any(scheduler.assess(facts.seen_by(w, other), w.versions).solver for w in workers)
    ]


def _behind(
    facts: QueueFacts,
    ahead: Sequence[JobFacts],
    busy: Sequence[PoolWorker],
    free: Sequence[PoolWorker],
    versions: list[str],
) -> WaitReason:
    now = facts.now
    ends = [w.busy_until for w in busy if w.busy_until is not None]
    free_at = min(ends) if ends and len(ends) == len(busy) else None
    cores = sum(w.cores for w in busy)
    count = len(busy)
    workers = f"the {count} workers" if count > 1 else "the worker"
    busy_part = ""
    if busy:
        when = (
            f"the first frees up {_soon((free_at - now).total_seconds())} at its current pace"
            if free_at is not None
            else "when the first frees up is not known yet"
        )
        busy_part = f"{workers} that could run it {'are' if count > 1 else 'is'} busy "
        busy_part += f"({cores} cores); {when}"
    if ahead:
        listed = ", ".join(f"#{j.id} ({_priority(facts, j)})" for j in ahead[:5])
        more = f" and {len(ahead) - 5} more" if len(ahead) > 5 else ""
        count_ahead = len(ahead)
        head = (
            f"{count_ahead} job{'s' if count_ahead > 1 else ''} ahead of it get the workers first: "
        )
        return WaitReason(
            code=WaitCode.JOBS_AHEAD,
            short=f"{count_ahead} job{'s' if count_ahead > 1 else ''} ahead",
            message=head + listed + more + (f"; {busy_part}" if busy_part else ""),
            pool_versions=versions,
            workers=_names(free),
            jobs_ahead=[j.id for j in ahead],
            free_at=free_at,
        )
    return WaitReason(
        code=WaitCode.WORKERS_BUSY,
        short="workers busy",
        message=busy_part or "the workers that could run it are about to take it",
        pool_versions=versions,
        workers=_names(free),
        free_at=free_at,
    )


def _priority(facts: QueueFacts, job: JobFacts) -> str:
    """`priority 50`, or `priority 50, 54 with aging` once it has aged."""
    effective = facts.effective(job)
    aged = f", {effective} with aging" if effective != job.priority else ""
    return f"priority {job.priority}{aged}"


def _soon(seconds: float) -> str:
    """Coarse, so a refreshed page does not change every second: `within a minute`,
    `in about 4 min`, `in about 2 h 10 min`."""
    if seconds < 60:
        return "within a minute"
    minutes = round(seconds / 60)
    if minutes < 60:
        return f"in about {minutes} min"
    return f"in about {minutes // 60} h {minutes % 60:02d} min"


def _ago(seconds: float) -> str:
    minutes = int(max(0.0, seconds) // 60)
    if minutes < 1:
        return "less than a minute ago"
    if minutes < 120:
        return f"{minutes} min ago"
    return f"{minutes // 60} h ago"


def _clock(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC")
