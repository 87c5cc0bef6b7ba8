"""Issue 15's queries on both backends (SQLite, PostgreSQL): an admin's hold, drain and
forget; the queue's facts the reasons read; task timings; the load samples."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.unit.driver.helpers import FakeClock
from tests.unit.driver.test_store import POLICY, claim, new_job, worker
from winjobs.driver.errors import Conflict, NotFound
from winjobs.driver.store import Store
from winjobs.wire import LoadPoint


def test_hold_drain_and_forget(store: Store, clock: FakeClock) -> None:
    pc1, pc2 = worker(store, "pc-01"), worker(store, "pc-02")
    store.create_job(new_job(8))
    store.hold_worker("pc-01", "new disk", "ops")
    with pytest.raises(Conflict, match="held already"):
        store.drain_worker("pc-01", "again", "ops")
    assert store.claim(pc1, 4, False, None, POLICY) is None
    store.drain_worker("pc-02", "OS update", "ops")
    assert store.claim(pc2, 4, False, None, POLICY) is None
    worker(store, "pc-02")  # restarted: the drain is over
    assert claim(store, pc2).years == [0, 1, 2, 3]
    worker(store, "pc-01")  # a hold stays
    rows = {w.name: w for w, _ in store.list_workers()}
    assert rows["pc-01"].held_reason == "new disk" and rows["pc-02"].held_at is None

    with pytest.raises(Conflict, match="is online"):
        store.forget_worker("pc-01", offline_s=90)
    with pytest.raises(NotFound):
        store.forget_worker("pc-09", offline_s=90)
    clock.advance(600)
    with pytest.raises(Conflict, match="still holds task"):
        store.forget_worker("pc-02", offline_s=90)
    store.forget_worker("pc-01", offline_s=90)
    assert [w.name for w, _ in store.list_workers()] == ["pc-02"]
    with pytest.raises(NotFound):
        store.hold_worker("pc-01", "x", "ops")  # forgotten: unknown until seen again
    assert worker(store, "pc-01") == pc1
    assert sorted(w.name for w, _ in store.list_workers()) == ["pc-01", "pc-02"]


def test_queue_rows_and_timings(store: Store, clock: FakeClock) -> None:
    first = store.create_job(new_job(8))
    pc1 = worker(store, "pc-01", cores=4)
    task = claim(store, pc1)
    clock.advance(120)
    store.heartbeat(task.task_id, pc1, task.attempt, 2, 60)
    rows = store.queue_rows()
    assert [(j.id, j.unassigned_years) for j in rows.jobs] == [(first, 4)]
    assert [(r.task_id, r.run.years_done, r.run.cores) for r in rows.running] == [
        (task.task_id, 2, 4)
    ]
    store.complete_task(task.task_id, pc1, task.attempt, "")
    assert len(store.queue_rows().finished[first]) == 1
    assert len(store.recent_runs(clock() - timedelta(hours=1))) == 1
    again = store.create_job(new_job(8))
    assert len(store.study_runs(again, "a" * 64, "study")) == 1


def test_load_samples_are_kept_for_a_while(store: Store, clock: FakeClock) -> None:
    def sample(busy: int) -> LoadPoint:
        return LoadPoint(
            at=clock(), workers_online=2, workers_busy=1, cores_total=8, cores_busy=busy
        )

    store.record_sample(sample(4), keep_after=clock() - timedelta(hours=1))
    clock.advance(3600)
    store.record_sample(sample(8), keep_after=clock() - timedelta(minutes=30))
    kept = store.load_samples(clock() - timedelta(days=1))
    assert [(p.cores_busy, p.at) for p in kept] == [(8, clock())]
