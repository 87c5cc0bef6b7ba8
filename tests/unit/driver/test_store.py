"""The store on SQLite and on a real PostgreSQL server: claims, fencing, leases, states."""

from __future__ import annotations

import threading
from collections import Counter
from datetime import datetime, timedelta

import pytest
from sqlalchemy import Connection, update

from tests.unit.driver.helpers import FakeClock
from winjobs.driver.errors import Conflict, NotFound
from winjobs.driver.models import Task
from winjobs.driver.settings import ChunkPolicy
from winjobs.driver.store import (
    Claimed,
    ClaimPolicy,
    FailOutcome,
    FailureReport,
    FailureRules,
    NewJob,
    Store,
    describe_years,
)
from winjobs.wire import JobStatus, TaskStatus

POLICY = ClaimPolicy(ChunkPolicy.CORES, lease_seconds=60, worker_offline_s=90)
RULES = FailureRules(max_attempts=3)


def new_job(
    years: int | list[int] = 8,
    priority: int = 50,
    version: str = "8.8",
    splittable: bool = True,
    submitter: str = "alice",
) -> NewJob:
    listed = list(range(years)) if isinstance(years, int) else years
    return NewJob(
        name="job",
        submitter=submitter,
        priority=priority,
        study_name="study",
        study_sha256="a" * 64,
        study_size=100,
        antares_version=version,
        mode="economy",
        years=listed,
        splittable=splittable,
        task_time_limit_s=None,
        warnings=[],
    )


def worker(
    store: Store, name: str = "w1", cores: int = 4, versions: list[str] | None = None
) -> int:
    registered = store.register_worker(
        name, "Linux", cores, versions or ["8.8"], "http", None, None, token_name="pool"
    )
    return registered.worker_id


def claim(store: Store, worker_id: int, cores: int = 4, policy: ClaimPolicy = POLICY) -> Claimed:
    claimed = store.claim(worker_id, cores, False, None, policy)
    assert claimed is not None
    return claimed


def status(store: Store, job_id: int) -> str:
    return store.get_job(job_id).status


def test_claim_cuts_ascending_chunks_of_the_workers_cores(store: Store) -> None:
    job_id = store.create_job(new_job(10))
    w = worker(store)
    first, second, third = (claim(store, w, cores=4) for _ in range(3))
    assert [first.years, second.years, third.years] == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]
    assert first.attempt == 1 and first.solver_version == "8.8"
    assert store.claim(w, 4, False, None, POLICY) is None
    job = store.get_job(job_id)
    assert job.status == JobStatus.RUNNING and job.started_at is not None
    assert job.solver_version == "8.8"


def test_claim_follows_priority_then_submission_order(store: Store) -> None:
    low = store.create_job(new_job(2, priority=10))
    first = store.create_job(new_job(2, priority=70))
    second = store.create_job(new_job(2, priority=70))
    w = worker(store)
    order = [claim(store, w, cores=2).job_id for _ in range(3)]
    assert order == [first, second, low]


def test_a_worker_only_gets_versions_it_can_run(store: Store) -> None:
    job9 = store.create_job(new_job(2, version="9.2", priority=90))
    job8 = store.create_job(new_job(2, version="8.6"))
    w88 = worker(store, "w88", versions=["8.8"])
    w92 = worker(store, "w92", versions=["9.2", "8.8"])
    assert claim(store, w88).job_id == job8
    assert claim(store, w92).job_id == job9
    assert store.get_job(job8).solver_version == "8.8"


def test_a_non_splittable_study_is_one_task(store: Store) -> None:
    store.create_job(new_job(7, splittable=False))
    assert claim(store, worker(store), cores=2).years == list(range(7))


def test_balanced_chunks_count_the_pool(store: Store) -> None:
    store.create_job(new_job(96))
    ids = [worker(store, f"w{i}") for i in range(4)]
    balanced = ClaimPolicy(ChunkPolicy.BALANCED, 60, 90)
    sizes = [len(claim(store, w, 4, balanced).years) for w in ids]
    assert sizes == [12, 12, 12, 12]


def test_balanced_chunks_share_the_years_others_just_claimed(store: Store) -> None:
    """The facts behind `scheduler.chunk_size`: the claimer's own running task never
    counts (it claims once its solver exited), nor do tasks already reporting progress."""
    store.create_job(new_job(96))
    ids = [worker(store, f"w{i}") for i in range(4)]
    balanced = ClaimPolicy(ChunkPolicy.BALANCED, 60, 90)
    first = [claim(store, w, 4, balanced) for w in ids]
    # 48 unassigned + the 36 years the 3 others just claimed: 84 // 32 = 2 rounds
    assert len(claim(store, ids[0], 4, balanced).years) == 8
    for w, task in zip(ids[1:], first[1:], strict=True):
        store.heartbeat(task.task_id, w, task.attempt, years_done=4, lease_seconds=60)
    # 40 unassigned + w0's two tasks (no progress reported): 60 // 32 = 1 round
    assert len(claim(store, ids[1], 4, balanced).years) == 4


def test_heartbeat_extends_the_lease_and_records_progress(store: Store, clock: FakeClock) -> None:
    store.create_job(new_job(4))
    w = worker(store)
    task = claim(store, w)
    clock.advance(30)
    beat = store.heartbeat(task.task_id, w, task.attempt, years_done=9, lease_seconds=60)
    assert not beat.cancel and beat.lease_until == clock() + timedelta(seconds=60)
    assert store.get_task(task.task_id).years_done == 4  # clamped to the task's years


def test_stale_reports_are_refused_and_change_nothing(store: Store, clock: FakeClock) -> None:
    store.create_job(new_job(4))
    w1, w2 = worker(store, "w1"), worker(store, "w2")
    old = claim(store, w1)
    clock.advance(61)
    [event] = store.requeue_expired(RULES)
    assert event.outcome is FailOutcome.REQUEUED
    new = claim(store, w2)
    assert (new.task_id, new.attempt) == (old.task_id, 2)
    before = store.get_task(old.task_id)
    with pytest.raises(Conflict, match="stale"):
        store.heartbeat(old.task_id, w1, old.attempt, 1, 60)
    with pytest.raises(Conflict, match="stale"):
        store.complete_task(old.task_id, w1, old.attempt, "late")
    with pytest.raises(Conflict, match="stale"):
        store.fail_task(old.task_id, w1, old.attempt, FailureReport("x"), RULES)
    with pytest.raises(Conflict):  # the right attempt from the wrong worker
        store.complete_task(old.task_id, w1, new.attempt, "")
    after = store.get_task(old.task_id)
    assert (after.status, after.attempt, after.worker_id, after.failures) == (
        before.status,
        before.attempt,
        before.worker_id,
        before.failures,
    )
    with pytest.raises(NotFound):
        store.heartbeat(999, w1, 1, 0, 60)


def test_failures_requeue_until_max_attempts_then_fail_the_job(store: Store) -> None:
    job_id = store.create_job(new_job(6))
    w = worker(store)
    done = claim(store, w, cores=2)
    store.complete_task(done.task_id, w, done.attempt, "")
    other = claim(store, w, cores=2)  # years 2-3, left running
    for attempt in range(1, 4):
        task = claim(store, w, cores=2)
        assert task.years == [4, 5] and task.attempt == attempt
        event = store.fail_task(
            task.task_id, w, attempt, FailureReport(f"boom {attempt}", "tail"), RULES
        )
        if attempt < 3:
            assert event.outcome is FailOutcome.REQUEUED and status(store, job_id) == "running"
    assert event.outcome is FailOutcome.JOB_FAILED
    job = store.get_job(job_id)
    assert job.status == JobStatus.FAILED
    assert job.error == "years 5-6 failed 3 times; last: boom 3"
    tasks = {t.id: t for t in store.job_tasks(job_id)}
    assert tasks[done.task_id].status == TaskStatus.SUCCEEDED  # finished results are kept
    assert tasks[other.task_id].status == TaskStatus.CANCELLED
    assert tasks[task.task_id].status == TaskStatus.FAILED


def test_a_release_is_not_counted(store: Store) -> None:
    store.create_job(new_job(2))
    w = worker(store)
    for _ in range(5):
        task = claim(store, w)
        event = store.fail_task(
            task.task_id, w, task.attempt, FailureReport("shutting down", release=True), RULES
        )
        assert event.outcome is FailOutcome.RELEASED
    assert store.get_task(task.task_id).failures == 0


def test_expired_leases_count_as_failures(store: Store, clock: FakeClock) -> None:
    job_id = store.create_job(new_job(2))
    w = worker(store)
    for _ in range(3):
        task = claim(store, w)
        clock.advance(30)
        assert store.requeue_expired(RULES) == []  # lease still valid
        clock.advance(31)
        [event] = store.requeue_expired(RULES)
        assert "lease expired: worker w1" in event.reason
    assert event.outcome is FailOutcome.JOB_FAILED
    assert status(store, job_id) == JobStatus.FAILED
    assert store.get_task(task.task_id).attempt == 3


def test_a_heartbeat_racing_the_sweep_keeps_its_task(
    store: Store, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The sweep reads the expired leases, then re-queues them one by one: a heartbeat
    landing in between renews the lease, and the sweep must then leave the task alone
    (its UPDATE is guarded by `lease_until < now`). In production the window is between
    the sweep's read and its lock of the workers' rows (PostgreSQL; SQLite serialises
    writers); the test renews the lease inside the sweep's own transaction, just before
    the re-queue, which the guard must see on both databases."""
    store.create_job(new_job(2))
    w = worker(store)
    task = claim(store, w)
    clock.advance(61)  # the lease ran out: the sweep will find it
    between_read_and_requeue = store._lock_job  # called for each task the sweep read
    renewed: list[datetime] = []

    def heartbeat_now(conn: Connection, job_id: int) -> None:
        between_read_and_requeue(conn, job_id)
        if renewed:
            return
        until = clock() + timedelta(seconds=60)
        conn.execute(update(Task).where(Task.id == task.task_id).values(lease_until=until))
        renewed.append(clock())

    monkeypatch.setattr(store, "_lock_job", heartbeat_now)
    assert store.requeue_expired(RULES) == []
    assert renewed, "the sweep never reached the window"
    kept = store.get_task(task.task_id)
    assert (kept.status, kept.attempt, kept.failures) == (TaskStatus.RUNNING, 1, 0)
    assert kept.lease_until is not None and kept.lease_until > clock()
    monkeypatch.undo()
    clock.advance(61)  # and without heartbeats it does expire
    [event] = store.requeue_expired(RULES)
    assert event.task_id == task.task_id


def test_cancel_closes_open_tasks_and_running_ones_hear_it(store: Store) -> None:
    job_id = store.create_job(new_job(8))
    w = worker(store)
    running = claim(store, w)
    store.cancel_job(job_id)
    assert status(store, job_id) == JobStatus.CANCELLED
    beat = store.heartbeat(running.task_id, w, running.attempt, 1, 60)
    assert beat.cancel
    assert store.claim(w, 4, False, None, POLICY) is None
    with pytest.raises(Conflict, match=f"cannot cancel job {job_id}: it was cancelled"):
        store.cancel_job(job_id)
    with pytest.raises(Conflict):
        store.set_priority(job_id, 90)
    with pytest.raises(Conflict):  # a late completion of a cancelled task
        store.complete_task(running.task_id, w, running.attempt, "")


def test_retry_runs_only_the_missing_years(store: Store) -> None:
    job_id = store.create_job(new_job(6))
    w = worker(store)
    done = claim(store, w, cores=2)
    store.complete_task(done.task_id, w, done.attempt, "")
    claim(store, w, cores=2)
    store.cancel_job(job_id)
    queued = store.create_job(new_job(1))
    with pytest.raises(Conflict, match="only a failed or cancelled job"):
        store.retry_job(queued)
    store.cancel_job(queued)
    assert store.retry_job(job_id) is False
    assert status(store, job_id) == JobStatus.RUNNING
    got = sorted(y for _ in range(2) for y in claim(store, w, cores=2).years)
    assert got == [2, 3, 4, 5]
    assert store.claim(w, 2, False, None, POLICY) is None


def test_completion_tells_when_every_year_is_done(store: Store) -> None:
    job_id = store.create_job(new_job(4))
    w = worker(store)
    a, b = claim(store, w, cores=2), claim(store, w, cores=2)
    assert store.complete_task(a.task_id, w, a.attempt, "") == (job_id, False)
    assert store.jobs_awaiting_assembly() == []
    assert store.complete_task(b.task_id, w, b.attempt, "") == (job_id, True)
    assert store.jobs_awaiting_assembly() == [job_id]
    assert store.progress([job_id])[job_id].years_done == 4
    assert store.finish_job(job_id, "20260105-0900eco-job")
    assert store.jobs_awaiting_assembly() == []
    assert status(store, job_id) == JobStatus.SUCCEEDED


def test_jobs_are_listed_a_page_at_a_time_newest_first(store: Store) -> None:
    ids = [store.create_job(new_job(submitter="bob" if i % 3 == 0 else "alice")) for i in range(7)]
    store.cancel_job(ids[1])
    newest_first = ids[::-1]
    page = store.list_jobs(limit=3)
    assert ([j.id for j in page.jobs], page.total) == (newest_first[:3], 7)
    page = store.list_jobs(limit=3, offset=6)
    assert ([j.id for j in page.jobs], page.total) == (newest_first[6:], 7)
    assert store.list_jobs(limit=3, offset=9).jobs == []
    assert [j.id for j in store.list_jobs().jobs] == newest_first  # no limit: all
    alice = store.list_jobs(submitter="alice", limit=2, offset=1)
    alices = [i for i in newest_first if i not in ids[::3]]
    assert ([j.id for j in alice.jobs], alice.total) == (alices[1:3], len(alices))
    queued = store.list_jobs(status=JobStatus.QUEUED.value, submitter="alice")
    assert [j.id for j in queued.jobs] == [i for i in alices if i != ids[1]]
    assert queued.total == len(alices) - 1


def test_draining_workers_get_nothing(store: Store) -> None:
    store.create_job(new_job(4))
    w = worker(store)
    assert store.claim(w, 4, True, None, POLICY) is None
    assert store.get_worker(w).draining


def test_unknown_worker_cannot_claim(store: Store) -> None:
    with pytest.raises(NotFound, match="register"):
        store.claim(42, 4, False, None, POLICY)


def test_registering_again_keeps_the_worker_id(store: Store) -> None:
    first = worker(store, "pc-01", cores=4)
    again = worker(store, "pc-01", cores=8)
    assert first == again and store.get_worker(first).cores == 8


def test_restart_gives_running_tasks_a_fresh_lease(store: Store, clock: FakeClock) -> None:
    store.create_job(new_job(4))
    w = worker(store)
    task = claim(store, w)
    clock.advance(3600)  # the driver was down for an hour
    assert store.extend_running_leases(60) == 1
    assert store.requeue_expired(RULES) == []
    assert store.heartbeat(task.task_id, w, task.attempt, 1, 60).cancel is False


def test_concurrent_claims_never_hand_out_a_year_twice(store: Store) -> None:
    """20 threads claim at once from two jobs: every year exactly once."""
    jobs = [store.create_job(new_job(60)), store.create_job(new_job(40, priority=60))]
    workers = [worker(store, f"w{i}", cores=1 + i % 3) for i in range(20)]
    got: list[Claimed] = []
    lock = threading.Lock()

    def run(w: int) -> None:
        while (claimed := store.claim(w, 1 + w % 3, False, None, POLICY)) is not None:
            with lock:
                got.append(claimed)

    threads = [threading.Thread(target=run, args=(w,)) for w in workers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    years = Counter((c.job_id, y) for c in got for y in c.years)
    assert set(years.values()) == {1}
    assert len(years) == 100
    assert {j for j, _ in years} == set(jobs)


@pytest.mark.parametrize(
    ("years", "text"),
    [([0], "1"), ([0, 1, 2], "1-3"), ([0, 2, 3, 4, 9], "1, 3-5, 10"), ([], "none")],
)
def test_describe_years(years: list[int], text: str) -> None:
    assert describe_years(years) == text
