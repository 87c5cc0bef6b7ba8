"""Fair share in the store: the claim's order, and each user's usage kept as tasks start
and end (on SQLite and on a real PostgreSQL server)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from tests.unit.driver.helpers import FakeClock
from tests.unit.driver.test_store import POLICY, RULES, claim, new_job, worker
from winjobs.driver.fairshare import HOUR, STRICT
from winjobs.driver.store import ClaimPolicy, FailureReport, Store


def usage(store: Store, user: str) -> tuple[float, int]:
    """The user's stored core-hours (as of their last settle) and running cores."""
    kept = store.queue_rows().usage[user]
    return kept.core_seconds / HOUR, kept.running_cores


@pytest.mark.parametrize(
    ("policy", "second"), [(POLICY, "bob"), (replace(POLICY, order=STRICT), "alice")]
)
def test_the_second_worker_serves_the_user_with_nothing_running(
    store: Store, policy: ClaimPolicy, second: str
) -> None:
    """alice's flood came first; with fair share bob's job is next once alice runs one
    task, strictly first come first served it waits behind all of hers."""
    flood = {store.create_job(new_job(8, submitter="alice")) for _ in range(3)}
    bobs = store.create_job(new_job(8, submitter="bob"))
    first = claim(store, worker(store, "w1"), policy=policy)
    assert first.job_id in flood
    then = claim(store, worker(store, "w2"), policy=policy).job_id
    assert ("bob" if then == bobs else "alice") == second


def test_usage_follows_the_tasks_that_start_and_end(store: Store, clock: FakeClock) -> None:
    store.create_job(new_job(8, submitter="alice"))
    w1, w2 = worker(store, "w1", cores=4), worker(store, "w2", cores=8)
    done = claim(store, w1)
    assert usage(store, "alice") == (0.0, 4)
    released = claim(store, w2, cores=8)
    assert usage(store, "alice") == (0.0, 12)
    clock.advance(HOUR)
    store.complete_task(done.task_id, w1, done.attempt, "")
    core_hours, cores = usage(store, "alice")
    assert cores == 8 and core_hours == pytest.approx(12 * 0.99, rel=0.01)
    clock.advance(HOUR)
    report = FailureReport("shutting down", release=True)
    store.fail_task(released.task_id, w2, released.attempt, report, RULES)
    core_hours, cores = usage(store, "alice")
    # 12 cores for the first hour, 8 for the second, each a little decayed since
    assert cores == 0 and 19.0 < core_hours < 12 + 8


def test_a_cancelled_job_and_a_lost_lease_stop_counting(store: Store, clock: FakeClock) -> None:
    cancelled = store.create_job(new_job(4, submitter="bob"))
    lost = store.create_job(new_job(4, submitter="alice"))
    claim(store, worker(store, "w1"))
    claim(store, worker(store, "w2"))
    assert usage(store, "bob")[1] == 4 and usage(store, "alice")[1] == 4
    store.cancel_job(cancelled)
    assert usage(store, "bob")[1] == 0
    clock.advance(POLICY.lease_seconds + 1)
    [event] = store.requeue_expired(RULES)
    assert event.job_id == lost
    core_hours, cores = usage(store, "alice")
    assert cores == 0 and core_hours == pytest.approx(4 * 61 / HOUR, rel=0.01)
