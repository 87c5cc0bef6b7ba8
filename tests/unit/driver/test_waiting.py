"""Why queued work waits: the reason policy, table-driven, no database, no server.

Each case builds the pool and the queue as facts and checks the reason's code, its few
words and what its sentence must say. The last tests tie the reasons to the claim: where
the reason says a worker takes the work, `scheduler.pick` for that worker picks it, and
where it says nobody can, `pick` picks it for no worker.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tests.unit.driver.test_scheduler import job
from winjobs.driver import scheduler
from winjobs.driver.fairshare import STRICT, OrderRules, Usage, effective_priority, ranking
from winjobs.driver.scheduler import JobFacts
from winjobs.driver.waiting import (
    PoolWorker,
    QueuedTask,
    QueueFacts,
    explain_job,
    explain_task,
)
from winjobs.wire import WaitCode, WorkerState

NOW = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
IDLE, BUSY, HELD = WorkerState.IDLE, WorkerState.BUSY, WorkerState.HELD
DRAINING, OFFLINE = WorkerState.DRAINING, WorkerState.OFFLINE


def worker(
    id: int,
    state: WorkerState = IDLE,
    versions: tuple[str, ...] = ("8.8",),
    cores: int = 8,
    **more: object,
) -> PoolWorker:
    seen = NOW - timedelta(hours=3) if state is OFFLINE else NOW
    return PoolWorker(
        id=id,
        name=f"pc-{id:02d}",
        cores=cores,
        versions=versions,
        state=state,
        last_seen=seen,
        **more,  # type: ignore[arg-type]
    )


def facts(
    jobs: list[JobFacts],
    workers: list[PoolWorker],
    tasks: list[QueuedTask] | None = None,
    usage: dict[str, Usage] | None = None,
    rules: OrderRules | None = None,
) -> QueueFacts:
    """The queue in the original order, or, given usage or rules, as the claim orders it
    with them (`fairshare.ranking`)."""
    if usage is None and rules is None:
        return QueueFacts(jobs=jobs, tasks=tasks or [], workers=workers, now=NOW)
    rules, now = rules or OrderRules(), NOW.timestamp()
    return QueueFacts(
        jobs=jobs,
        tasks=tasks or [],
        workers=workers,
        now=NOW,
        order=ranking(usage or {}, now, rules, jobs),
        effective=lambda job: effective_priority(job, now, rules),
    )


def of(job_: JobFacts, user: str, waited_h: float = 0.0) -> JobFacts:
    """The job submitted by `user`, `waited_h` hours ago."""
    return job_._replace(user=user, submitted_at=NOW.timestamp() - waited_h * 3600)


#: alice used 10 core-hours lately, bob nothing
ALICE_USED = {"alice": Usage(36_000.0, 0, NOW.timestamp())}
AGING = OrderRules(aging_per_hour=2.0, aging_max=10)


SOON = NOW + timedelta(minutes=4)
LATER = NOW + timedelta(minutes=30)

CASES = [
    # (what, facts, job id, code, short, words in the message)
    ("the pool has no solver for 9.3",
     facts([job(1, version="9.3")], [worker(1, versions=("8.8",)), worker(2, versions=("9.2",))]),
     1, WaitCode.NO_SOLVER, "no 9.3 solver",
     ["no online worker has a solver for Antares 9.3", "the online workers have 8.8, 9.2"]),
    ("nobody online at all",
     facts([job(1)], []),
     1, WaitCode.NO_SOLVER, "no 8.8 solver", ["no worker is online"]),
    ("the only 9.2 worker is offline",
     facts([job(1, version="9.2")], [worker(1), worker(2, OFFLINE, versions=("9.2",))]),
     1, WaitCode.WORKERS_OFFLINE, "workers offline",
     ["pc-02 (last seen 3 h ago)", "the online workers have 8.8"]),
    ("pinned to 8.8, only 8.9 online",
     facts([job(1, version="8.6", pinned="8.8")], [worker(1, versions=("8.9",))]),
     1, WaitCode.PINNED_VERSION_GONE, "needs solver 8.8",
     ["ran with solver 8.8", "no online worker has it any more", "8.9"]),
    ("every worker that could run it failed it",
     facts([job(1, queued=1, unassigned=0)], [worker(1), worker(2, versions=("9.2",))],
           [QueuedTask(5, 1, avoided_by=frozenset({1}))]),
     1, WaitCode.FAILED_THERE, "failed on its workers", ["it failed on pc-01"]),
    ("the compatible workers are held",
     facts([job(1)], [worker(1, HELD, held_reason="solver crashed 3 times in a row"),
                      worker(2, versions=("9.2",))]),
     1, WaitCode.WORKERS_HELD, "workers held",
     ["pc-01 held (solver crashed 3 times in a row)"]),
    ("the compatible worker drains",
     facts([job(1)], [worker(1, DRAINING)]),
     1, WaitCode.WORKERS_DRAINING, "workers draining", ["pc-01 draining"]),
    ("outside their owners' schedules",
     facts([job(1)], [worker(1, away="outside its schedule", back_at=LATER),
                      worker(2, HELD, held_reason="x")]),
     1, WaitCode.WORKERS_AWAY, "workers away",
     ["pc-01 outside its schedule until 2026-03-02 10:30 UTC", "pc-02 held (x)"]),
    ("the only worker gave it back for lack of disk",
     facts([job(1, queued=1, unassigned=0)], [worker(1)],
           [QueuedTask(5, 1, refused_by="pc-01", refusal="not enough free disk on the worker")]),
     1, WaitCode.DISK_REFUSED, "disk refused",
     ["pc-01 gave it back: not enough free disk on the worker"]),
    ("two jobs ahead take the busy workers first",
     facts([job(1, priority=90), job(2, priority=70), job(3, priority=50)],
           [worker(1, BUSY, busy_until=SOON), worker(2, BUSY, cores=16, busy_until=LATER)]),
     3, WaitCode.JOBS_AHEAD, "2 jobs ahead",
     ["#1 (priority 90), #2 (priority 70)", "the 2 workers that could run it are busy (24 cores)",
      "the first frees up in about 4 min"]),
    ("a job ahead needs another version: not ahead of this one",
     facts([job(1, priority=90, version="9.2"), job(2)], [worker(1, BUSY, busy_until=SOON)]),
     2, WaitCode.WORKERS_BUSY, "workers busy",
     ["the worker that could run it is busy (8 cores)", "frees up in about 4 min"]),
    ("busy, with no pace known yet",
     facts([job(1)], [worker(1, BUSY)]),
     1, WaitCode.WORKERS_BUSY, "workers busy", ["not known yet"]),
    ("an idle worker takes it next",
     facts([job(1)], [worker(1, BUSY), worker(2)]),
     1, WaitCode.STARTING, "starting", ["pc-02 is idle and takes it at its next claim"]),
    ("an idle worker takes the job ahead first",
     facts([job(1, priority=90), job(2)], [worker(2)]),
     2, WaitCode.JOBS_AHEAD, "1 job ahead", ["#1 (priority 90)"]),
    ("fair share: bob's later job goes before the job of alice, who used the pool",
     facts([of(job(1), "alice"), of(job(2), "bob")], [worker(1, BUSY)], usage=ALICE_USED),
     1, WaitCode.JOBS_AHEAD, "1 job ahead", ["#2 (priority 50)"]),
    ("fair share: an idle worker takes bob's job first",
     facts([of(job(1), "alice"), of(job(2), "bob")], [worker(1)], usage=ALICE_USED),
     2, WaitCode.STARTING, "starting", ["pc-01"]),
    ("strict: bob's later job waits behind alice's",
     facts([of(job(1), "alice"), of(job(2), "bob")], [worker(1, BUSY)], usage=ALICE_USED,
           rules=STRICT),
     2, WaitCode.JOBS_AHEAD, "1 job ahead", ["#1 (priority 50)"]),
    ("aging: a job that waited 3 h reaches a higher level, where its user used less",
     facts([of(job(1, priority=55), "alice"), of(job(2), "bob", waited_h=3)], [worker(1, BUSY)],
           usage=ALICE_USED, rules=AGING),
     1, WaitCode.JOBS_AHEAD, "1 job ahead", ["#2 (priority 50, 56 with aging)"]),
    ("a worker that failed one task still cuts new years",
     facts([job(1, queued=1, unassigned=4)], [worker(1)],
           [QueuedTask(5, 1, avoided_by=frozenset({1}))]),
     1, WaitCode.STARTING, "starting", ["pc-01"]),
]  # fmt: skip


@pytest.mark.parametrize(
    ("what", "queue", "job_id", "code", "short", "words"), CASES, ids=[c[0] for c in CASES]
)
def test_job_reasons(
    what: str,
    queue: QueueFacts,
    job_id: int,
    code: WaitCode,
    short: str,
    words: list[str],
) -> None:
    reason = explain_job(queue, job_id)
    assert reason is not None, what
    assert (reason.code, reason.short) == (code.value, short), reason.message
    for word in words:
        assert word in reason.message, (word, reason.message)


def test_the_reason_carries_the_facts_scripts_read() -> None:
    queue = facts(
        [job(1, priority=90), job(2, version="9.3"), job(3)],
        [worker(1, BUSY, busy_until=SOON), worker(2, BUSY, busy_until=LATER, versions=("9.2",))],
    )
    ahead = explain_job(queue, 3)
    assert ahead is not None
    assert ahead.jobs_ahead == [1] and ahead.free_at == SOON
    assert ahead.workers == ["pc-01"] and ahead.pool_versions == ["8.8", "9.2"]
    missing = explain_job(queue, 2)
    assert missing is not None and missing.pool_versions == ["8.8", "9.2"]
    assert missing.free_at is None and missing.jobs_ahead == []


def test_free_at_is_unknown_while_one_busy_worker_has_no_pace() -> None:
    queue = facts([job(1)], [worker(1, BUSY, busy_until=LATER), worker(2, BUSY)])
    reason = explain_job(queue, 1)
    assert reason is not None and reason.free_at is None


def test_no_reason_without_waiting_work() -> None:
    queue = facts([job(1, queued=0, unassigned=0)], [worker(1)])
    assert explain_job(queue, 1) is None
    assert explain_job(queue, 99) is None
    assert explain_task(queue, 5) is None


def test_a_task_is_judged_on_its_own_avoidances() -> None:
    """Task 5 failed on pc-01, task 6 did not: pc-01 still takes task 6, and task 5 waits
    for pc-02 (busy)."""
    tasks = [QueuedTask(5, 1, avoided_by=frozenset({1})), QueuedTask(6, 1)]
    queue = facts([job(1, queued=2, unassigned=0)], [worker(1), worker(2, BUSY)], tasks)
    five, six = explain_task(queue, 5), explain_task(queue, 6)
    assert five is not None and six is not None
    assert five.code == WaitCode.WORKERS_BUSY and five.workers == ["pc-02"]
    assert six.code == WaitCode.STARTING and six.workers == ["pc-01"]


def test_a_disk_refusal_is_the_refusing_workers_only() -> None:
    refused = QueuedTask(5, 1, refused_by="pc-01", refusal="not enough free disk")
    queue = facts([job(1, queued=1, unassigned=0)], [worker(1), worker(2, BUSY)], [refused])
    reason = explain_task(queue, 5)
    assert reason is not None and reason.code == WaitCode.WORKERS_BUSY
    assert reason.workers == ["pc-02"]


def _pool_pick(queue: QueueFacts, worker_: PoolWorker) -> int | None:
    decision = scheduler.pick(queue.queue_seen_by(worker_), worker_.versions, queue.order)
    return decision.job_id if decision is not None else None


@pytest.mark.parametrize(("what", "queue", "job_id"), [(c[0], c[1], c[2]) for c in CASES])
def test_the_reasons_agree_with_the_claim(what: str, queue: QueueFacts, job_id: int) -> None:
    """`starting` names a worker whose claim picks the job now; every reason that says
    no available worker may take it means no available idle worker's claim picks it."""
    reason = explain_job(queue, job_id)
    assert reason is not None
    available = [
        w for w in queue.workers if w.state is IDLE and w.away is None and w.name not in
        {t.refused_by for t in queue.tasks}
    ]  # fmt: skip
    picking = {w.name for w in available if _pool_pick(queue, w) == job_id}
    if reason.code == WaitCode.STARTING:
        assert set(reason.workers) <= picking, what
    else:
        assert not picking, what
