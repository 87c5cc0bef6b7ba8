"""Failed attempts in the store, on SQLite and PostgreSQL: the next attempt avoids the
worker that failed, machine failures do not count, the study's error fails fast, failing
workers are held and released."""

from __future__ import annotations

import pytest

from tests.unit.driver.helpers import FakeClock
from tests.unit.driver.test_store import POLICY, claim, new_job, status, worker
from winjobs.driver.errors import Conflict, NotFound
from winjobs.driver.settings import ChunkPolicy
from winjobs.driver.store import (
    ClaimPolicy,
    FailOutcome,
    FailureReport,
    FailureRules,
    Store,
    TaskEvent,
)
from winjobs.wire import FailureKind, JobStatus, TaskStatus

RULES = FailureRules(max_attempts=3, hold_after_failures=3, worker_offline_s=90)
CRASH = FailureReport(
    "the solver crashed (SIGSEGV, exit status 139)", kind=FailureKind.MACHINE, crashed=True
)
INFEASIBLE = FailureReport(
    "the solver exited with status 1: Year 3: infeasible",
    kind=FailureKind.STUDY,
    fingerprint="exit=1 signal=- fatal=Year 3: infeasible",
)


def fail(
    store: Store, worker_id: int, report: FailureReport, rules: FailureRules = RULES
) -> TaskEvent:
    """The worker's running task fails with `report`."""
    [task] = [
        t
        for job in store.list_jobs().jobs
        for t in store.job_tasks(job.id)
        if t.status == TaskStatus.RUNNING and t.worker_id == worker_id
    ]
    return store.fail_task(task.id, worker_id, task.attempt, report, rules)


def held(store: Store, worker_id: int) -> str | None:
    return store.get_worker(worker_id).held_reason


def test_a_crash_is_not_counted_and_the_next_attempt_avoids_the_worker(store: Store) -> None:
    job_id = store.create_job(new_job(6))
    broken, healthy = worker(store, "broken"), worker(store, "healthy")
    first = claim(store, broken, cores=2)
    event = fail(store, broken, CRASH)
    assert (event.outcome, event.counted, event.avoided) == (FailOutcome.REQUEUED, False, True)
    assert store.get_task(first.task_id).failures == 0
    # the broken worker cuts new years rather than take back what it failed
    again = claim(store, broken, cores=2)
    assert again.task_id != first.task_id and again.years == [2, 3]
    fail(store, broken, CRASH)
    assert claim(store, broken, cores=2).years == [4, 5]
    fail(store, broken, CRASH)
    assert store.claim(broken, 2, False, None, POLICY) is None  # everything left avoids it
    # the healthy worker takes them, lowest years first
    rescued = claim(store, healthy, cores=2)
    assert (rescued.task_id, rescued.attempt) == (first.task_id, 2)
    assert status(store, job_id) == JobStatus.RUNNING


def test_crashes_on_the_only_worker_that_can_run_it_do_count(store: Store) -> None:
    job_id = store.create_job(new_job(2))
    only = worker(store, "only")
    worker(store, "nine", versions=["9.2"])  # online, but cannot run an 8.8 study
    for attempt in (1, 2, 3):
        task = claim(store, only, cores=2)
        assert task.attempt == attempt  # it may retry: nobody else can
        event = fail(store, only, CRASH)
        assert event.counted and not event.avoided
    assert event.outcome is FailOutcome.JOB_FAILED
    job = store.get_job(job_id)
    assert job.error == (
        "years 1-2 failed 3 times; last: the solver crashed (SIGSEGV, exit status 139)"
    )


def test_the_same_error_on_two_machines_fails_the_job_at_once(store: Store) -> None:
    job_id = store.create_job(new_job(8))
    w1, w2, w3 = (worker(store, f"w{i}") for i in (1, 2, 3))
    ok = claim(store, w3, cores=2)
    task = claim(store, w1, cores=2)
    first = fail(store, w1, INFEASIBLE)
    assert (first.outcome, first.counted, first.avoided) == (FailOutcome.REQUEUED, True, True)
    assert claim(store, w2, cores=2).task_id == task.task_id
    second = fail(store, w2, INFEASIBLE)
    assert second.outcome is FailOutcome.JOB_FAILED
    job = store.get_job(job_id)
    assert job.status == JobStatus.FAILED
    assert job.error == (
        "years 3-4 failed with the same error on w1 and w2: "
        "the solver exited with status 1: Year 3: infeasible"
    )
    assert store.get_task(ok.task_id).status == TaskStatus.CANCELLED
    # the study's fault is not charged to the second machine
    assert store.get_worker(w2).fail_streak == 0
    assert store.get_worker(w1).fail_streak == 1


def test_another_error_on_the_second_machine_only_counts(store: Store) -> None:
    store.create_job(new_job(2))
    w1, w2 = worker(store, "w1"), worker(store, "w2")
    task = claim(store, w1, cores=2)
    fail(store, w1, INFEASIBLE)
    claim(store, w2, cores=2)
    other = FailureReport("boom", kind=FailureKind.STUDY, fingerprint="exit=1 signal=- fatal=x")
    event = fail(store, w2, other)
    assert event.outcome is FailOutcome.REQUEUED
    assert store.get_task(task.task_id).failures == 2


def test_a_failing_worker_is_held_once_others_succeed(store: Store) -> None:
    store.create_job(new_job(20))
    broken, healthy = worker(store, "broken"), worker(store, "healthy")
    done = claim(store, healthy, cores=2)
    store.complete_task(done.task_id, healthy, done.attempt, "")
    for count in (1, 2):
        claim(store, broken, cores=2)
        assert fail(store, broken, CRASH).held is None
        assert store.get_worker(broken).fail_streak == count
    claim(store, broken, cores=2)
    event = fail(store, broken, CRASH)
    reason = "solver crashed 3 times in a row: the solver crashed (SIGSEGV, exit status 139)"
    assert event.held == reason
    row = store.get_worker(broken)
    assert (row.held_reason, row.held_by) == (reason, "driver")
    assert store.claim(broken, 2, False, None, POLICY) is None  # held: no new task
    assert claim(store, healthy, cores=2).attempt == 2  # the failed years go elsewhere

    assert store.release_worker("broken") == reason
    row = store.get_worker(broken)
    assert (row.held_at, row.fail_streak, row.streak_reason) == (None, 0, None)
    assert claim(store, broken, cores=2).years  # claims again


def test_a_hold_waits_until_another_worker_succeeds(store: Store) -> None:
    """Every worker failing points at the jobs: nobody is held until one succeeds."""
    store.create_job(new_job(20))
    broken, healthy = worker(store, "broken"), worker(store, "healthy")
    pending = claim(store, healthy, cores=2)
    for _ in range(4):
        claim(store, broken, cores=2)
        assert fail(store, broken, CRASH).held is None
    assert held(store, broken) is None
    store.complete_task(pending.task_id, healthy, pending.attempt, "")
    assert store.claim(broken, 2, False, None, POLICY) is None  # held at this claim
    assert held(store, broken) == (
        "solver crashed 4 times in a row: the solver crashed (SIGSEGV, exit status 139)"
    )


def test_a_success_ends_the_streak_and_a_zero_threshold_never_holds(store: Store) -> None:
    store.create_job(new_job(20))
    flaky, other = worker(store, "flaky"), worker(store, "other")
    done = claim(store, other, cores=2)
    store.complete_task(done.task_id, other, done.attempt, "")
    for _ in range(2):
        claim(store, flaky, cores=2)
        fail(store, flaky, CRASH)
    task = claim(store, flaky, cores=2)
    store.complete_task(task.task_id, flaky, task.attempt, "")
    assert store.get_worker(flaky).fail_streak == 0
    never = FailureRules(max_attempts=3, hold_after_failures=0)
    no_holds = ClaimPolicy(ChunkPolicy.CORES, 60, 90, hold_after_failures=0)
    for _ in range(5):
        claim(store, flaky, 2, no_holds)
        assert fail(store, flaky, CRASH, never).held is None
    assert held(store, flaky) is None


def test_releases_and_lease_expiries(store: Store, clock: FakeClock) -> None:
    """A release is not a failure at all; a lost lease is the machine's."""
    store.create_job(new_job(4))
    lost, other = worker(store, "lost"), worker(store, "other")
    task = claim(store, lost, cores=2)
    released = fail(store, lost, FailureReport("worker shutting down", release=True))
    assert released.outcome is FailOutcome.RELEASED
    assert store.get_worker(lost).fail_streak == 0
    assert claim(store, lost, cores=2).task_id == task.task_id  # no avoidance either
    clock.advance(61)
    store.claim(other, 2, False, None, POLICY)  # `other` stays online (and takes 2-3)
    [event] = [e for e in store.requeue_expired(RULES) if e.task_id == task.task_id]
    assert (event.outcome, event.counted, event.avoided) == (FailOutcome.REQUEUED, False, True)
    assert "lease expired: worker lost" in event.reason
    assert store.get_worker(lost).fail_streak == 1


def test_a_task_nobody_else_can_run_goes_back_to_its_failed_worker(
    store: Store, clock: FakeClock
) -> None:
    store.create_job(new_job(2))
    broken, healthy = worker(store, "broken"), worker(store, "healthy")
    task = claim(store, broken, cores=2)
    fail(store, broken, CRASH)
    assert store.reopen_stranded(RULES) == []  # `healthy` may still come
    assert store.claim(broken, 2, False, None, POLICY) is None
    clock.advance(91)  # `healthy` is offline now; `broken` is seen at its claims
    assert store.claim(broken, 2, False, None, POLICY) is None
    [event] = store.reopen_stranded(RULES)
    assert (event.task_id, event.outcome) == (task.task_id, FailOutcome.REOPENED)
    again = claim(store, broken, cores=2)
    assert (again.task_id, again.attempt) == (task.task_id, 2)
    counted = fail(store, broken, CRASH)  # the last worker that can run it: counts now
    assert counted.counted and store.get_task(task.task_id).failures == 1
    assert store.get_worker(healthy).id == healthy


def test_a_retry_forgets_who_failed_the_years(store: Store) -> None:
    job_id = store.create_job(new_job(2))
    w1, w2 = worker(store, "w1"), worker(store, "w2")
    claim(store, w1, cores=2)
    fail(store, w1, INFEASIBLE)
    claim(store, w2, cores=2)
    fail(store, w2, INFEASIBLE)
    assert status(store, job_id) == JobStatus.FAILED
    store.retry_job(job_id)
    assert claim(store, w1, cores=2).years == [0, 1]  # w1 may take it again


def test_registering_again_keeps_a_hold_unless_the_configuration_changed(store: Store) -> None:
    store.create_job(new_job(20))
    broken, healthy = worker(store, "broken"), worker(store, "healthy")
    store.register_worker(
        "broken", "Linux", 4, ["8.8"], "http", None, None, "a" * 64, token_name="pool"
    )
    done = claim(store, healthy, cores=2)
    store.complete_task(done.task_id, healthy, done.attempt, "")
    for _ in range(3):
        claim(store, broken, cores=2)
        fail(store, broken, CRASH)
    reason = held(store, broken)
    assert reason is not None

    same = store.register_worker(
        "broken", "Linux", 4, ["8.8"], "http", None, None, "a" * 64, token_name="pool"
    )
    assert (same.worker_id, same.held_reason, same.released_from) == (broken, reason, None)
    unknown = store.register_worker(
        "broken", "Linux", 4, ["8.8"], "http", None, None, None, token_name="pool"
    )
    assert unknown.held_reason == reason  # a worker that sends no fingerprint proves nothing
    changed = store.register_worker(
        "broken", "Linux", 4, ["8.8"], "http", None, None, "b" * 64, token_name="pool"
    )
    assert (changed.held_reason, changed.released_from) == (None, reason)
    assert held(store, broken) is None and store.get_worker(broken).fail_streak == 0


def test_release_refusals(store: Store) -> None:
    worker(store, "fine")
    with pytest.raises(NotFound, match="no worker named 'ghost'"):
        store.release_worker("ghost")
    with pytest.raises(Conflict, match="worker fine is not held"):
        store.release_worker("fine")


def test_held_workers_do_not_count_in_the_pool(store: Store) -> None:
    """Balanced chunks share the work among the workers that can take it."""
    balanced = ClaimPolicy(ChunkPolicy.BALANCED, 60, 90)
    store.create_job(new_job(40))
    ids = [worker(store, f"w{i}") for i in range(4)]
    done = claim(store, ids[3], 4)
    store.complete_task(done.task_id, ids[3], done.attempt, "")
    for _ in range(3):
        claim(store, ids[0], 4)
        fail(store, ids[0], CRASH)
    assert held(store, ids[0]) is not None
    store.create_job(new_job(56, priority=90))
    # 3 workers of 4 cores take it: 56 // (2 * 12) = 2 rounds (with the held one's
    # cores it would be 56 // 32 = 1 round)
    assert len(claim(store, ids[1], 4, balanced).years) == 8
