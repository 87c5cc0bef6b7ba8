"""Speculative copies in the store (SQLite and PostgreSQL), on a fake clock: handed out
only when the rule says, fenced like attempts, the first completion wins."""

from __future__ import annotations

from dataclasses import replace

import pytest

from tests.unit.driver.helpers import FakeClock
from tests.unit.driver.test_store import RULES, new_job, worker
from winjobs.driver.errors import Conflict
from winjobs.driver.models import TaskCopy
from winjobs.driver.settings import ChunkPolicy
from winjobs.driver.speculation import SpeculationRule
from winjobs.driver.store import Claimed, ClaimPolicy, FailOutcome, FailureReport, Store
from winjobs.wire import JobStatus, TaskStatus

COPIES = ClaimPolicy(
    ChunkPolicy.CORES, lease_seconds=60, worker_offline_s=90, speculation=SpeculationRule()
)


def claim(store: Store, worker_id: int, policy: ClaimPolicy = COPIES) -> Claimed | None:
    return store.claim(worker_id, 4, False, None, policy)


def slow_tail(store: Store, clock: FakeClock) -> tuple[int, Claimed, dict[str, int]]:
    """12 years on 3 workers of 4 cores: w1 and w2 finish their 4 years in 10 s (the
    job's pace: 10 s a round); w3's task, claimed at the same time, still runs."""
    job_id = store.create_job(new_job(12))
    ids = {name: worker(store, name) for name in ("w1", "w2", "w3")}
    first, second, slow = (claim(store, ids[name]) for name in ("w1", "w2", "w3"))
    assert first is not None and second is not None and slow is not None
    clock.advance(10)
    for done in (first, second):
        store.complete_task(done.task_id, ids[done.worker_name], done.attempt, "")
    return job_id, slow, ids


def copied(store: Store, clock: FakeClock) -> tuple[int, Claimed, Claimed, dict[str, int]]:
    """`slow_tail`, 16 s on: w3's task is 1.6 times its pace behind; w1 copies it."""
    job_id, slow, ids = slow_tail(store, clock)
    clock.advance(6)
    copy = claim(store, ids["w1"])
    assert copy is not None
    return job_id, slow, copy, ids


def only_copy(store: Store, job_id: int) -> TaskCopy:
    copies = store.job_copies(job_id)
    assert len(copies) == 1
    return copies[0]


def test_a_copy_is_handed_out_only_when_the_rule_says(store: Store, clock: FakeClock) -> None:
    job_id, slow, ids = slow_tail(store, clock)
    assert claim(store, ids["w1"]) is None  # 10 s: on pace
    clock.advance(5)
    assert claim(store, ids["w1"]) is None  # 15 s: 1.5 times, not more
    clock.advance(1)
    assert claim(store, ids["w3"]) is None  # never on its own worker
    copy = claim(store, ids["w1"])
    assert copy is not None
    assert (copy.task_id, copy.years, copy.attempt) == (slow.task_id, slow.years, 2)
    assert (copy.copy_of, copy.copy_of_worker) == (1, "w3")
    assert copy.behind == pytest.approx(1.6)
    assert claim(store, ids["w2"]) is None  # never a second copy
    row = only_copy(store, job_id)
    assert (row.status, row.worker_name, row.of_attempt, row.of_worker_name) == (
        "running",
        "w1",
        1,
        "w3",
    )
    task = store.get_task(slow.task_id)  # the original keeps the task's fence
    assert (task.status, task.attempt, task.worker_name) == ("running", 1, "w3")


def test_the_off_switch(store: Store, clock: FakeClock) -> None:
    _, _, ids = slow_tail(store, clock)
    clock.advance(30)
    assert claim(store, ids["w1"], replace(COPIES, speculation=None)) is None


def test_no_copy_while_the_job_has_work_to_hand_out(store: Store, clock: FakeClock) -> None:
    store.create_job(new_job(16))
    ids = [worker(store, name) for name in ("w1", "w2", "w3")]
    first, _, _ = (claim(store, w) for w in ids)
    assert first is not None
    clock.advance(10)
    store.complete_task(first.task_id, ids[0], first.attempt, "")
    clock.advance(30)
    again = claim(store, ids[0])  # the job's last 4 years, not a copy
    assert again is not None and again.copy_of is None and again.years == [12, 13, 14, 15]


def test_the_copy_completes_first_and_wins(store: Store, clock: FakeClock) -> None:
    job_id, slow, copy, ids = copied(store, clock)
    assert store.heartbeat(copy.task_id, ids["w1"], copy.attempt, 0, 60).cancel is False
    clock.advance(10)
    _, ready = store.complete_task(copy.task_id, ids["w1"], copy.attempt, "copy's log")
    assert ready  # every year done: each once, by the winner
    task = store.get_task(slow.task_id)
    assert (task.status, task.attempt, task.worker_name, task.log_tail) == (
        "succeeded",
        2,
        "w1",
        "copy's log",
    )
    assert store.accepted_by(copy.task_id, ids["w1"], copy.attempt) == job_id
    # the loser: its heartbeat says cancel, its completion and its checks are refused
    assert store.heartbeat(slow.task_id, ids["w3"], slow.attempt, 4, 60).cancel is True
    with pytest.raises(Conflict):
        store.complete_task(slow.task_id, ids["w3"], slow.attempt, "")
    with pytest.raises(Conflict):
        store.check_running(slow.task_id, ids["w3"], slow.attempt)
    assert store.accepted_by(slow.task_id, ids["w3"], slow.attempt) is None
    assert only_copy(store, job_id).status == "won"


def test_the_original_completes_first_and_wins(store: Store, clock: FakeClock) -> None:
    job_id, slow, copy, ids = copied(store, clock)
    clock.advance(2)
    _, ready = store.complete_task(slow.task_id, ids["w3"], slow.attempt, "")
    assert ready
    row = only_copy(store, job_id)
    assert (row.status, row.lease_until) == ("lost", None)  # its lease ended
    assert store.heartbeat(copy.task_id, ids["w1"], copy.attempt, 0, 60).cancel is True
    with pytest.raises(Conflict):
        store.complete_task(copy.task_id, ids["w1"], copy.attempt, "")
    task = store.get_task(slow.task_id)
    assert (task.status, task.attempt, task.worker_name) == ("succeeded", 1, "w3")


def test_the_originals_failure_promotes_its_copy(store: Store, clock: FakeClock) -> None:
    job_id, slow, copy, ids = copied(store, clock)
    event = store.fail_task(
        slow.task_id, ids["w3"], slow.attempt, FailureReport("solver crashed"), RULES
    )
    assert (event.outcome, event.counted) == (FailOutcome.COPY_PROMOTED, False)
    task = store.get_task(slow.task_id)
    assert (task.status, task.attempt, task.worker_name, task.failures) == (
        "running",
        2,
        "w1",
        0,
    )
    assert only_copy(store, job_id).status == "promoted"
    assert store.heartbeat(copy.task_id, ids["w1"], copy.attempt, 0, 60).cancel is False
    _, ready = store.complete_task(copy.task_id, ids["w1"], copy.attempt, "")
    assert ready


def test_the_originals_expired_lease_promotes_its_copy(store: Store, clock: FakeClock) -> None:
    _, slow, copy, ids = copied(store, clock)
    clock.advance(50)
    store.heartbeat(copy.task_id, ids["w1"], copy.attempt, 0, 60)
    clock.advance(20)  # the original's lease (claimed at 0, 60 s) ran out; the copy's not
    events = store.requeue_expired(RULES)
    assert [e.outcome for e in events] == [FailOutcome.COPY_PROMOTED]
    assert store.get_task(slow.task_id).worker_name == "w1"
    _, ready = store.complete_task(copy.task_id, ids["w1"], copy.attempt, "")
    assert ready


def test_a_failed_copy_ends_and_the_original_runs_on(store: Store, clock: FakeClock) -> None:
    job_id, slow, copy, ids = copied(store, clock)
    event = store.fail_task(copy.task_id, ids["w1"], copy.attempt, FailureReport("no"), RULES)
    assert (event.outcome, event.counted, event.worker) == (FailOutcome.COPY_ENDED, False, "w1")
    assert only_copy(store, job_id).status == "failed"
    assert store.get_task(slow.task_id).failures == 0
    with pytest.raises(Conflict):
        store.heartbeat(copy.task_id, ids["w1"], copy.attempt, 0, 60)
    clock.advance(30)
    assert claim(store, ids["w2"]) is None  # never a second copy, even after a failure
    # the original fails too: queued again, its next attempt numbered past the copy's
    store.fail_task(slow.task_id, ids["w3"], slow.attempt, FailureReport("crash"), RULES)
    again = claim(store, ids["w2"])
    assert again is not None and again.copy_of is None and again.attempt == 3


def test_the_sweeper_ends_a_silent_copy(store: Store, clock: FakeClock) -> None:
    job_id, slow, copy, ids = copied(store, clock)
    clock.advance(50)
    store.heartbeat(slow.task_id, ids["w3"], slow.attempt, 0, 60)
    clock.advance(20)  # the copy's lease (claimed at 16 s) ran out, not the original's
    assert store.requeue_expired(RULES) == []
    assert only_copy(store, job_id).status == "expired"
    assert store.get_task(slow.task_id).status == TaskStatus.RUNNING
    with pytest.raises(Conflict):
        store.complete_task(copy.task_id, ids["w1"], copy.attempt, "")
    store.complete_task(slow.task_id, ids["w3"], slow.attempt, "")


def test_a_cancelled_job_cancels_its_copies(store: Store, clock: FakeClock) -> None:
    job_id, slow, copy, ids = copied(store, clock)
    store.cancel_job(job_id)
    assert store.heartbeat(copy.task_id, ids["w1"], copy.attempt, 0, 60).cancel is True
    assert store.heartbeat(slow.task_id, ids["w3"], slow.attempt, 0, 60).cancel is True
    assert only_copy(store, job_id).status == "cancelled"
    assert store.retry_job(job_id) is False
    assert store.get_job(job_id).status == JobStatus.RUNNING
    again = claim(store, ids["w2"])  # numbered past the copy's attempt; the copy stays dead
    assert again is not None and again.attempt == 3
    assert store.heartbeat(copy.task_id, ids["w1"], copy.attempt, 0, 60).cancel is True
    with pytest.raises(Conflict):
        store.complete_task(copy.task_id, ids["w1"], copy.attempt, "")


def test_a_copied_task_is_not_taken_over_when_suspended(store: Store, clock: FakeClock) -> None:
    """A suspended task goes to an idle worker (`pick_stalled`), but not once it has a
    copy: the copy is its remedy already, and a take-over would reuse its attempt."""
    _, slow, _, ids = copied(store, clock)
    store.heartbeat(slow.task_id, ids["w3"], slow.attempt, 0, 60, suspended=True)
    clock.advance(30)
    takes_over = replace(COPIES, reassign_suspended_after_s=10)
    assert claim(store, ids["w2"], takes_over) is None
    assert store.get_task(slow.task_id).worker_name == "w3"


def test_a_restarted_driver_gives_copies_a_fresh_lease(store: Store, clock: FakeClock) -> None:
    job_id, _, copy, ids = copied(store, clock)
    clock.advance(55)  # the driver was down: the copy's lease (claimed at 16 s) ends at 76 s
    store.extend_running_leases(60)
    clock.advance(30)
    assert store.requeue_expired(RULES) == []
    assert only_copy(store, job_id).status == "running"
    assert store.heartbeat(copy.task_id, ids["w1"], copy.attempt, 0, 60).cancel is False
