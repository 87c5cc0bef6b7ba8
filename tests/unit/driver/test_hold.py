"""Holding and releasing jobs: the store on both backends, and the API through HTTP."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from tests.unit.driver.helpers import Api, claim, packed_study
from tests.unit.driver.test_store import POLICY, RULES, new_job, worker
from tests.unit.driver.test_store import claim as store_claim
from winjobs.client import ClientError
from winjobs.driver.errors import Conflict, NotFound
from winjobs.driver.store import FailureReport, Store
from winjobs.wire import API_PREFIX, ClaimRequest, Heartbeat, JobStatus, JobSubmitFields


def test_a_held_job_keeps_its_place_and_gives_no_task(store: Store) -> None:
    first = store.create_job(new_job(4, priority=70))
    second = store.create_job(new_job(4, priority=70))
    w = worker(store)
    store.hold_job(first, "alice", "new costs coming")
    job = store.get_job(first)
    assert (job.held, job.held_by, job.held_reason) == (True, "alice", "new costs coming")
    assert store_claim(store, w, cores=2).job_id == second
    store.release_job(first)
    # released, it is first again: the order is priority then submission, not the release
    assert store_claim(store, w, cores=2).job_id == first
    assert store.get_job(first).held is False


def test_a_held_running_job_keeps_its_running_tasks_and_starts_none(store: Store) -> None:
    job_id = store.create_job(new_job(8))
    w1, w2 = worker(store, "w1"), worker(store, "w2")
    running = store_claim(store, w1, cores=4)
    store.hold_job(job_id, "alice", None)
    assert store.claim(w2, 4, False, None, POLICY) is None
    # the running task is untouched: its heartbeats keep it, it completes as usual
    assert store.heartbeat(running.task_id, w1, running.attempt, 2, 60).cancel is False
    assert store.get_job(job_id).status == JobStatus.RUNNING
    # a task given back while held waits too
    store.fail_task(
        running.task_id, w1, running.attempt, FailureReport("shutting down", release=True), RULES
    )
    assert store.claim(w2, 4, False, None, POLICY) is None
    store.release_job(job_id)
    again = store_claim(store, w2, cores=4)
    assert (again.task_id, again.attempt) == (running.task_id, 2)


def test_hold_and_release_refusals(store: Store) -> None:
    job_id = store.create_job(new_job(2))
    with pytest.raises(Conflict, match=f"job {job_id} is not held"):
        store.release_job(job_id)
    store.hold_job(job_id, "alice", None)
    with pytest.raises(Conflict, match=f"job {job_id} is held already \\(by alice\\)"):
        store.hold_job(job_id, "ops", None)
    store.cancel_job(job_id)
    with pytest.raises(Conflict, match=f"cannot hold job {job_id}: it was cancelled"):
        store.hold_job(job_id, "alice", None)
    with pytest.raises(Conflict, match=f"cannot release job {job_id}: it was cancelled"):
        store.release_job(job_id)
    with pytest.raises(NotFound, match="no job 999"):
        store.hold_job(999, "alice", None)


def test_a_retry_lifts_a_hold_left_from_before_the_end(store: Store) -> None:
    job_id = store.create_job(new_job(2))
    store.hold_job(job_id, "alice", None)
    store.cancel_job(job_id)
    store.retry_job(job_id)
    assert store.get_job(job_id).held is False
    assert store_claim(store, worker(store)).job_id == job_id


# --------------------------------------------------------------------------- API


P = API_PREFIX


def test_hold_and_release_through_the_api(api: Api, tmp_path: Path) -> None:
    alice = api.client("alice-secret")
    job_id = alice.submit_job(packed_study(tmp_path, nbyears=8), JobSubmitFields()).job_id
    other = alice.submit_job(packed_study(tmp_path, "other"), JobSubmitFields()).job_id
    w = api.worker(cores=4)
    held = alice.hold_job(job_id, "waiting for new costs")
    assert (held.held, held.held_by, held.held_reason) == (True, "alice", "waiting for new costs")
    assert held.status == JobStatus.QUEUED  # a flag beside the status, not a new status
    assert claim(w).job_id == other
    listed = {j.id: j for j in alice.list_jobs().jobs}
    assert listed[job_id].held and not listed[other].held
    released = alice.release_job(job_id)
    assert (released.held, released.held_by, released.held_reason) == (False, None, None)
    assert claim(w).job_id == job_id
    log = alice.job_log(job_id)
    assert "held by alice: waiting for new costs" in log and "released by alice" in log


def test_the_body_of_a_hold_is_optional(api: Api, tmp_path: Path) -> None:
    job_id = api.client("alice-secret").submit_job(packed_study(tmp_path), JobSubmitFields()).job_id
    http = api.raw("alice-secret")
    answer = http.post(f"{P}/jobs/{job_id}/hold")
    assert answer.status_code == 200, answer.text
    assert answer.json()["held"] is True and answer.json()["held_reason"] is None
    assert http.post(f"{P}/jobs/{job_id}/release").json()["held"] is False
    too_long = http.post(f"{P}/jobs/{job_id}/hold", json={"reason": "x" * 501})
    assert too_long.status_code == 422
    unknown = http.post(f"{P}/jobs/{job_id}/hold", json={"why": "typo"})
    assert unknown.status_code == 422


def test_who_may_hold_and_release(api: Api, tmp_path: Path) -> None:
    alice, bob, ops = (api.client(f"{n}-secret") for n in ("alice", "bob", "ops"))
    job_id = alice.submit_job(packed_study(tmp_path), JobSubmitFields()).job_id
    with pytest.raises(ClientError, match="belongs to alice") as refused:
        bob.hold_job(job_id)
    assert refused.value.status_code == 403
    with pytest.raises(ClientError) as worker_refused:
        api.client("worker-secret").hold_job(job_id)
    assert worker_refused.value.status_code == 403
    # an admin's hold on alice's job is for an admin to lift
    ops.hold_job(job_id, "the pool is needed for the winter study")
    with pytest.raises(ClientError, match="held by ops, an admin") as refused:
        alice.release_job(job_id)
    assert refused.value.status_code == 403
    assert ops.release_job(job_id).held is False
    # alice's own hold: she or an admin lifts it
    alice.hold_job(job_id)
    assert ops.release_job(job_id).held is False
    alice.hold_job(job_id)
    assert alice.release_job(job_id).held is False
    assert not alice.get_job(job_id).held


def test_a_cancel_then_a_retry_does_not_undo_an_admins_hold(api: Api, tmp_path: Path) -> None:
    """The owner may cancel and retry their job, but an admin's hold survives the retry
    (it lifted it: a way round "only an admin releases it"); the owner's own hold does
    not, nor does an admin's hold when the admin retries."""
    alice, ops = api.client("alice-secret"), api.client("ops-secret")
    w = api.worker(cores=4)
    job_id = alice.submit_job(packed_study(tmp_path), JobSubmitFields()).job_id
    ops.hold_job(job_id, "the pool is needed for the winter study")
    alice.cancel_job(job_id)
    retried = alice.retry_job(job_id)
    assert retried.status == JobStatus.QUEUED
    assert (retried.held, retried.held_by, retried.held_reason) == (
        True,
        "ops",
        "the pool is needed for the winter study",
    )
    assert "queued again (still held by ops)" in alice.job_log(job_id)
    assert w.claim(ClaimRequest(free_cores=4, wait_s=0)) is None  # nothing to hand out
    with pytest.raises(ClientError, match="held by ops, an admin"):
        alice.release_job(job_id)
    ops.cancel_job(job_id)
    assert ops.retry_job(job_id).held is False  # the admin's retry lifts it
    alice.hold_job(job_id)
    alice.cancel_job(job_id)
    assert alice.retry_job(job_id).held is False  # her own hold: lifted, as before


def test_a_held_running_job_in_the_api(api: Api, tmp_path: Path) -> None:
    alice = api.client("alice-secret")
    job_id = alice.submit_job(packed_study(tmp_path, nbyears=8), JobSubmitFields()).job_id
    w1, w2 = api.worker("w1", cores=4), api.worker("w2", cores=4)
    task = claim(w1)
    detail = alice.hold_job(job_id)
    assert detail.status == JobStatus.RUNNING and detail.held and detail.tasks_running == 1
    assert detail.eta_seconds is None  # no new task starts: no pace to promise
    assert w2.claim(ClaimRequest(free_cores=4, wait_s=0)) is None
    beat = w1.heartbeat(task.task_id, Heartbeat(attempt=task.attempt, years_done=1))
    assert beat.cancel is False
    # ended, it shows no hold
    assert alice.cancel_job(job_id).held is False
    with pytest.raises(ClientError, match="it was cancelled") as conflict:
        alice.release_job(job_id)
    assert conflict.value.status_code == 409


def test_a_release_wakes_the_waiting_claims(api: Api, tmp_path: Path) -> None:
    alice = api.client("alice-secret")
    job_id = alice.submit_job(packed_study(tmp_path), JobSubmitFields()).job_id
    alice.hold_job(job_id)
    w = api.worker(cores=4)
    got: list[object] = []
    waiting = threading.Thread(
        target=lambda: got.append(w.claim(ClaimRequest(free_cores=4, wait_s=30)))
    )
    waiting.start()
    deadline = time.monotonic() + 15
    while not api.driver.signal._waiters:  # its claim waits (the only job is held)
        assert time.monotonic() < deadline, "the claim never waited"
        time.sleep(0.01)
    alice.release_job(job_id)
    waiting.join(timeout=20)  # the release wakes it (30 s otherwise)
    assert not waiting.is_alive()
    assert got and getattr(got[0], "job_id", None) == job_id
