"""The driver's side of the owner's policy: what workers report (registration, claims,
heartbeats) is kept and shown; paused workers get nothing and leave the pool; a task
suspended too long goes to a worker that finds no other work, not counted as a failure."""

from __future__ import annotations

import threading
import time
from datetime import timedelta
from pathlib import Path

import pytest

from tests.unit.driver.helpers import Api, FakeClock, packed_study
from tests.unit.driver.test_store import POLICY, new_job, worker
from winjobs.driver import scheduler
from winjobs.driver.errors import Conflict
from winjobs.driver.settings import ChunkPolicy
from winjobs.driver.store import ClaimPolicy, PolicyStatus, Store
from winjobs.driver.store.records import FailureReport, FailureRules
from winjobs.wire import (
    ClaimRequest,
    FailureKind,
    Heartbeat,
    JobSubmitFields,
    PolicyReport,
    PolicyState,
    WorkerRegistration,
    WorkerState,
)

TAKE_OVER = ClaimPolicy(
    ChunkPolicy.CORES, lease_seconds=60, worker_offline_s=90, reassign_suspended_after_s=300
)
OWNER_ACTIVE = PolicyStatus("owner_active", "keyboard or mouse used 2s ago")


def _beat(store: Store, task_id: int, worker_id: int, attempt: int, suspended: bool) -> None:
    store.heartbeat(task_id, worker_id, attempt, 0, 60, suspended=suspended)


def test_a_suspended_task_keeps_its_lease_and_says_since_when(
    store: Store, clock: FakeClock
) -> None:
    store.create_job(new_job(4))
    w = worker(store)
    task = store.claim(w, 4, False, None, POLICY)
    assert task is not None
    clock.advance(10)
    suspended_at = clock()
    for _ in range(3):  # heartbeats go on while suspended: the lease never runs out
        _beat(store, task.task_id, w, task.attempt, suspended=True)
        assert store.get_task(task.task_id).suspended_at == suspended_at
        clock.advance(50)
        assert store.requeue_expired(3) == []
    _beat(store, task.task_id, w, task.attempt, suspended=False)  # resumed
    assert store.get_task(task.task_id).suspended_at is None


def test_a_paused_worker_gets_nothing_and_leaves_the_pool(store: Store) -> None:
    store.create_job(new_job(32))
    office, other = worker(store, "office"), worker(store, "other")
    balanced = ClaimPolicy(ChunkPolicy.BALANCED, lease_seconds=60, worker_offline_s=90)
    assert store.claim(office, 4, False, None, balanced, paused=True, status=OWNER_ACTIVE) is None
    row = store.get_worker(office)
    assert (row.policy_state, row.policy_reason, row.draining) == (
        "owner_active",
        "keyboard or mouse used 2s ago",
        False,
    )
    # 32 years, 4 cores in the pool (the office PC's 4 do not count): 4 rounds of 4
    claimed = store.claim(other, 4, False, None, balanced)
    assert claimed is not None and len(claimed.years) == 16


def test_a_task_suspended_too_long_goes_to_an_idle_worker(store: Store, clock: FakeClock) -> None:
    job_id = store.create_job(new_job(8))
    office, busy, idle = worker(store, "office"), worker(store, "busy"), worker(store, "idle")
    held = store.claim(office, 4, False, None, TAKE_OVER)
    other = store.claim(busy, 4, False, None, TAKE_OVER)
    assert held is not None and other is not None
    _beat(store, held.task_id, office, held.attempt, suspended=True)
    suspended_at = clock()
    clock.advance(299)
    _beat(store, held.task_id, office, held.attempt, suspended=True)
    assert store.claim(idle, 4, False, None, TAKE_OVER) is None  # not for long enough yet
    clock.advance(1)
    taken = store.claim(idle, 4, False, None, TAKE_OVER)
    assert taken is not None
    assert (taken.task_id, taken.attempt, taken.years) == (held.task_id, 2, held.years)
    assert (taken.taken_from, taken.suspended_since) == ("office", suspended_at)
    with pytest.raises(Conflict, match="stale"):  # the office PC learns it at its next beat
        _beat(store, held.task_id, office, held.attempt, suspended=True)
    row = store.get_task(held.task_id)
    assert (row.worker_name, row.failures, row.suspended_at) == ("idle", 0, None)
    assert store.get_task(other.task_id).worker_name == "busy"  # not suspended: stays
    assert store.get_job(job_id).status == "running"


def test_a_worker_that_failed_a_task_does_not_take_it_over(store: Store, clock: FakeClock) -> None:
    """The take-over obeys the failure policy: a machine the years crashed on leaves them
    to others, suspended elsewhere or not."""
    store.create_job(new_job(4))
    broken, office, idle = worker(store, "broken"), worker(store, "office"), worker(store, "idle")
    first = store.claim(broken, 4, False, None, TAKE_OVER)
    assert first is not None
    crash = FailureReport("the solver crashed (SIGSEGV)", kind=FailureKind.MACHINE, crashed=True)
    event = store.fail_task(first.task_id, broken, first.attempt, crash, FailureRules(3))
    assert event is not None and event.avoided
    held = store.claim(office, 4, False, None, TAKE_OVER)
    assert held is not None and held.task_id == first.task_id
    _beat(store, held.task_id, office, held.attempt, suspended=True)
    clock.advance(300)
    _beat(store, held.task_id, office, held.attempt, suspended=True)
    assert store.claim(broken, 4, False, None, TAKE_OVER) is None
    taken = store.claim(idle, 4, False, None, TAKE_OVER)
    assert taken is not None and (taken.task_id, taken.taken_from) == (first.task_id, "office")


def test_other_work_comes_before_a_suspended_task(store: Store, clock: FakeClock) -> None:
    store.create_job(new_job(4))
    office, idle = worker(store, "office"), worker(store, "idle")
    held = store.claim(office, 4, False, None, TAKE_OVER)
    assert held is not None
    _beat(store, held.task_id, office, held.attempt, suspended=True)
    clock.advance(600)
    _beat(store, held.task_id, office, held.attempt, suspended=True)
    newer = store.create_job(new_job(2, priority=10))
    first = store.claim(idle, 4, False, None, TAKE_OVER)
    assert first is not None and first.job_id == newer  # a low-priority job's new years
    second = store.claim(idle, 4, False, None, TAKE_OVER)
    assert second is not None and second.task_id == held.task_id  # then the suspended task


@pytest.mark.parametrize(
    ("policy", "versions"),
    [
        (POLICY, ["8.8"]),  # reassign_suspended_after_s: None: never
        (TAKE_OVER, ["9.2"]),  # the idle worker cannot run the job's version
    ],
)
def test_when_a_suspended_task_stays(
    store: Store, clock: FakeClock, policy: ClaimPolicy, versions: list[str]
) -> None:
    store.create_job(new_job(4))
    office, idle = worker(store, "office"), worker(store, "idle", versions=versions)
    held = store.claim(office, 4, False, None, policy)
    assert held is not None
    _beat(store, held.task_id, office, held.attempt, suspended=True)
    clock.advance(59)
    _beat(store, held.task_id, office, held.attempt, suspended=True)
    clock.advance(59)
    _beat(store, held.task_id, office, held.attempt, suspended=True)
    clock.advance(3600)
    _beat(store, held.task_id, office, held.attempt, suspended=True)
    assert store.claim(idle, 4, False, None, policy) is None


def _stalled(
    task: int, job: int, priority: int, minute: int, version: str = "8.8"
) -> scheduler.StalledTask:
    facts = scheduler.JobFacts(job, priority, version, version, 0, 0)
    since = FakeClock()() + timedelta(minutes=minute)
    return scheduler.StalledTask(task, 1, "w", since, facts)


def test_pick_stalled_follows_the_job_order_then_the_longest_suspended() -> None:
    tasks = [
        _stalled(1, job=1, priority=50, minute=5),
        _stalled(2, job=2, priority=80, minute=9),
        _stalled(3, job=2, priority=80, minute=1),
        _stalled(4, job=3, priority=90, minute=0, version="9.2"),
    ]
    assert scheduler.pick_stalled(tasks, ["8.8"]) == (tasks[2], "8.8")
    assert scheduler.pick_stalled(tasks, ["9.2"]) == (tasks[3], "9.2")
    assert scheduler.pick_stalled(tasks, ["7.2"]) is None
    assert scheduler.pick_stalled([], ["8.8"]) is None


# --------------------------------------------------------------------------- over HTTP


def _report(state: PolicyState, reason: str = "") -> PolicyReport:
    return PolicyReport(state=state, reason=reason)


def test_workers_show_what_their_owner_s_policy_says(api: Api, tmp_path: Path) -> None:
    office = api.client("worker-secret")
    opens = api.clock() + timedelta(hours=9)
    office.register_worker(
        WorkerRegistration(
            name="office",
            cores=4,
            os="Windows-10",
            versions=["8.8"],
            policy=PolicyReport(
                state=PolicyState.OUTSIDE_SCHEDULE,
                reason="outside its schedule (opens mon 19:00)",
                next_work_at=opens,
            ),
        )
    )
    user = api.client("alice-secret")
    [row] = user.list_workers().workers
    assert (row.policy, row.policy_reason, row.next_work_at) == (
        PolicyState.OUTSIDE_SCHEDULE,
        "outside its schedule (opens mon 19:00)",
        opens,
    )
    user.submit_job(packed_study(tmp_path), JobSubmitFields())
    busy = office.claim(
        ClaimRequest(free_cores=2, wait_s=0, policy=_report(PolicyState.IN_SCHEDULE, "in window"))
    )
    assert busy is not None
    [row] = user.list_workers().workers
    assert (row.state, row.policy, row.next_work_at) == (
        WorkerState.BUSY,
        PolicyState.IN_SCHEDULE,
        None,
    )
    assert row.next_work == "after its task"
    beat = Heartbeat(
        attempt=busy.attempt,
        suspended=True,
        policy=_report(PolicyState.SUSPENDED, "keyboard or mouse used 1s ago"),
    )
    office.heartbeat(busy.task_id, beat)
    [row] = user.list_workers().workers
    assert row.policy is PolicyState.SUSPENDED
    assert row.policy_reason == "keyboard or mouse used 1s ago"
    [task] = user.get_job(busy.job_id).tasks
    assert task.suspended_since == api.clock()
    metrics = api.raw("alice-secret").get("/metrics").text
    assert 'winjobs_workers_policy{state="suspended"} 1' in metrics
    assert 'winjobs_workers_policy{state="in_schedule"} 0' in metrics


def test_a_paused_claim_ends_the_worker_s_pending_long_poll(api: Api) -> None:
    office = api.worker("office")
    got: list[object] = []
    pending = threading.Thread(
        target=lambda: got.append(office.claim(ClaimRequest(free_cores=4, wait_s=20)))
    )
    pending.start()
    time.sleep(0.3)  # well into its long-poll
    started = time.monotonic()
    paused = ClaimRequest(
        free_cores=4, wait_s=20, paused=True, policy=_report(PolicyState.OWNER_ACTIVE)
    )
    assert office.claim(paused) is None
    pending.join(10)
    assert got == [None] and time.monotonic() - started < 5
    [row] = api.client("alice-secret").list_workers().workers
    assert (row.state, row.policy) == (WorkerState.IDLE, PolicyState.OWNER_ACTIVE)


def test_a_take_over_is_in_the_job_log(api: Api, tmp_path: Path) -> None:
    user = api.client("alice-secret")
    job_id = user.submit_job(packed_study(tmp_path), JobSubmitFields()).job_id
    office, idle = api.worker("office", cores=8), api.worker("idle")
    held = office.claim(ClaimRequest(free_cores=8, wait_s=0))
    assert held is not None
    office.heartbeat(held.task_id, Heartbeat(attempt=held.attempt, suspended=True))
    api.clock.advance(api.driver.settings.reassign_suspended_after_s or 0)
    office.heartbeat(held.task_id, Heartbeat(attempt=held.attempt, suspended=True))
    taken = idle.claim(ClaimRequest(free_cores=4, wait_s=0))
    assert taken is not None and (taken.task_id, taken.attempt) == (held.task_id, 2)
    log = user.job_log(job_id)
    assert f"task {held.task_id} taken over from worker office, whose solver was suspended" in log
    assert "not counted" in log


def test_a_vacated_task_starts_afresh_on_its_next_worker(store: Store, clock: FakeClock) -> None:
    """Handed back while suspended (the worker vacated it), the task is queued without
    its suspension: its next worker is not taken for a suspended one."""
    store.create_job(new_job(4))
    office, other, idle = worker(store, "office"), worker(store, "other"), worker(store, "idle")
    held = store.claim(office, 4, False, None, TAKE_OVER)
    assert held is not None
    _beat(store, held.task_id, office, held.attempt, suspended=True)
    clock.advance(400)
    release = FailureReport("vacated: suspended for 6m", release=True)
    store.fail_task(held.task_id, office, held.attempt, release, FailureRules(max_attempts=3))
    again = store.claim(other, 4, False, None, TAKE_OVER)
    assert again is not None and again.task_id == held.task_id
    row = store.get_task(held.task_id)
    assert (row.suspended_at, row.failures, row.attempt) == (None, 0, 2)
    assert store.claim(idle, 4, False, None, TAKE_OVER) is None  # nothing to take over
    [office_row] = [w for w, _ in store.list_workers() if w.name == "office"]
    assert (office_row.fail_streak, office_row.held_at) == (0, None)  # a release: not charged
