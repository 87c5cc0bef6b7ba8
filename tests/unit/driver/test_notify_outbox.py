"""The notification outbox on a real database (SQLite and PostgreSQL): rows written by
every ending of a job, delivered by the sender, retried with backoff, given up, and sent
after a restart; time moves by the injected clock only."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from alembic.config import Config
from sqlalchemy import MetaData, Table

from tests.unit.driver.helpers import FakeClock
from tests.unit.driver.test_store import RULES, claim, new_job, worker
from winjobs.driver.db import MIGRATIONS_DIR, make_engine, migrate
from winjobs.driver.errors import Conflict
from winjobs.driver.notify.config import NotifySettings
from winjobs.driver.notify.sender import NotificationSender, Transports
from winjobs.driver.retention import JobRemoval
from winjobs.driver.store import FailureReport, Store
from winjobs.wire import DeliveryState, JobStatus

TARGETS = ["mail:me@example.com", "https://hooks.example.com/x"]
SETTINGS = NotifySettings(first_retry_s=10, max_retry_delay_s=40, max_attempts=3)


class FakeTransport:
    """Records what it is asked to send; answers the scripted errors in turn (then OK)."""

    def __init__(self, errors: list[str | None] | None = None, always: str | None = None):
        self.errors = list(errors or [])
        self.always = always
        self.sent: list[tuple[str, dict[str, Any]]] = []

    def send(self, target: str, summary: dict[str, Any]) -> str | None:
        self.sent.append((target, summary))
        if self.always is not None:
            return self.always
        return self.errors.pop(0) if self.errors else None


def sender(store: Store, clock: FakeClock, transport: FakeTransport) -> NotificationSender:
    return NotificationSender(store, SETTINGS, Transports(transport, transport), clock)


def notified_job(store: Store, targets: list[str] | None = None, years: int = 4) -> int:
    return store.create_job(replace(new_job(years), notify=TARGETS if targets is None else targets))


def end_by_cancel(store: Store, job_id: int) -> None:
    store.cancel_job(job_id)


def end_by_assembly_failure(store: Store, job_id: int) -> None:
    assert store.fail_job(job_id, "assembly: disk full")


def end_by_success(store: Store, job_id: int) -> None:
    w = worker(store)
    task = claim(store, w, cores=4)
    store.complete_task(task.task_id, w, task.attempt, "")
    assert store.finish_job(job_id, "20260105-0900eco-job")


def end_by_failed_attempts(store: Store, job_id: int) -> None:
    w = worker(store)
    for attempt in range(1, RULES.max_attempts + 1):
        task = claim(store, w, cores=4)
        store.fail_task(task.task_id, w, attempt, FailureReport(f"boom {attempt}"), RULES)


@pytest.mark.parametrize(
    ("end", "status", "reason"),
    [
        (end_by_cancel, JobStatus.CANCELLED, None),
        (end_by_assembly_failure, JobStatus.FAILED, "assembly: disk full"),
        (end_by_success, JobStatus.SUCCEEDED, None),
        (end_by_failed_attempts, JobStatus.FAILED, "years 1-4 failed 3 times; last: boom 3"),
    ],
)
def test_every_ending_records_one_pending_row_per_target(
    store: Store, end: Any, status: JobStatus, reason: str | None
) -> None:
    job_id = notified_job(store)
    assert store.job_notifications(job_id) == []
    end(store, job_id)
    rows = store.job_notifications(job_id)
    assert [r.target for r in rows] == TARGETS
    for row in rows:
        assert (row.state, row.job_status, row.attempts) == ("pending", status.value, 0)
        assert row.summary["status"] == status.value
        assert row.summary["reason"] == reason
        assert row.summary["id"] == job_id and row.summary["owner"] == "alice"
    assert store.get_job(job_id).notify == TARGETS


def test_no_target_no_row_and_a_refused_ending_adds_none(store: Store) -> None:
    silent = notified_job(store, targets=[])
    store.cancel_job(silent)
    assert store.job_notifications(silent) == []
    told = notified_job(store)
    store.cancel_job(told)
    with pytest.raises(Conflict):
        store.cancel_job(told)
    assert not store.fail_job(told, "late")
    assert len(store.job_notifications(told)) == len(TARGETS)


def test_the_sender_delivers_each_row_once(store: Store, clock: FakeClock) -> None:
    job_id = notified_job(store)
    store.cancel_job(job_id)
    transport = FakeTransport()
    outbox = sender(store, clock, transport)
    assert outbox.send_due() == 2
    assert [t for t, _ in transport.sent] == TARGETS
    assert transport.sent[0][1]["status"] == "cancelled"
    rows = store.job_notifications(job_id)
    assert {(r.state, r.attempts, r.sent_at) for r in rows} == {("sent", 1, clock())}
    assert outbox.send_due() == 0
    assert len(transport.sent) == 2


def test_failed_attempts_back_off_then_give_up(store: Store, clock: FakeClock) -> None:
    job_id = notified_job(store, targets=["https://dead.example.com/x"])
    store.cancel_job(job_id)
    outbox = sender(store, clock, FakeTransport(always="ConnectError: refused"))
    waits = []
    for _ in range(SETTINGS.max_attempts - 1):
        assert outbox.send_due() == 1
        [row] = store.job_notifications(job_id)
        assert row.state == DeliveryState.RETRYING and row.last_error == "ConnectError: refused"
        assert row.next_attempt_at is not None
        wait = (row.next_attempt_at - clock()).total_seconds()
        waits.append(wait)
        clock.advance(wait - 1)
        assert outbox.send_due() == 0, "not before its time"
        clock.advance(1)
    assert waits == [10, 20]
    assert outbox.send_due() == 1
    [row] = store.job_notifications(job_id)
    assert (row.state, row.attempts, row.next_attempt_at) == ("gave_up", 3, None)
    clock.advance(10**6)
    assert outbox.send_due() == 0, "given up for good"


def test_a_retry_sends_the_summary_of_the_ending_even_after_a_job_retry(
    store: Store, clock: FakeClock
) -> None:
    job_id = notified_job(store, targets=["https://h.example.com/x"])
    store.cancel_job(job_id)
    transport = FakeTransport(errors=["HTTP 503: busy"])
    outbox = sender(store, clock, transport)
    outbox.send_due()
    store.retry_job(job_id)  # queued again: the pending message still tells of the cancel
    clock.advance(SETTINGS.first_retry_s)
    outbox.send_due()
    assert [s["status"] for _, s in transport.sent] == ["cancelled", "cancelled"]
    [row] = store.job_notifications(job_id)
    assert (row.state, row.attempts, row.last_error) == ("sent", 2, None)


def test_undelivered_rows_are_sent_after_a_restart(
    store: Store, clock: FakeClock, database_url: str
) -> None:
    job_id = notified_job(store)
    store.cancel_job(job_id)
    sender(store, clock, FakeTransport(always="refused")).send_due()
    store.engine.dispose()  # the driver stops with both rows retrying
    engine = make_engine(database_url, pool_size=2)
    try:
        restarted = Store(engine, clock=clock)
        transport = FakeTransport()
        outbox = sender(restarted, clock, transport)
        assert outbox.send_due() == 0, "their retry time has not come"
        clock.advance(SETTINGS.first_retry_s)
        assert outbox.send_due() == 2
        assert [t for t, _ in transport.sent] == TARGETS
        assert {r.state for r in restarted.job_notifications(job_id)} == {"sent"}
    finally:
        engine.dispose()


def test_mail_and_webhook_targets_take_their_own_way(store: Store, clock: FakeClock) -> None:
    job_id = notified_job(store)
    store.cancel_job(job_id)
    mail, webhook = FakeTransport(), FakeTransport()
    NotificationSender(store, SETTINGS, Transports(webhook, mail), clock).send_due()
    assert [t for t, _ in mail.sent] == ["mail:me@example.com"]
    assert [t for t, _ in webhook.sent] == ["https://hooks.example.com/x"]


def test_removing_a_finished_job_removes_its_notifications(store: Store) -> None:
    job_id = notified_job(store)
    store.cancel_job(job_id)
    store.create_job(new_job())  # SQLite never removes the newest job
    [finished] = store.finished_jobs(store.clock() + timedelta(seconds=1))
    removal = JobRemoval(finished, Path("unused"), 0)
    assert store.archive_job(job_id, removal.summary(store.clock()))
    assert store.job_notifications(job_id) == []
    assert store.due_notifications(store.clock() + timedelta(days=1)) == []


def test_jobs_stored_before_revision_0010_keep_working(tmp_path: Path, clock: FakeClock) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'old.db'}", pool_size=2)
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, "0004")
        jobs = Table("jobs", MetaData(), autoload_with=conn)
        assert "notify" not in jobs.c
        values = {
            key: value
            for key, value in replace(new_job(3), name="old").__dict__.items()
            if key in jobs.c and key != "notify"
        }
        conn.execute(
            jobs.insert().values(
                **values, status="queued", years_total=3, next_index=0, created_at=clock()
            )
        )
    try:
        migrate(engine)
        store = Store(engine, clock=clock)
        [old] = store.list_jobs().jobs
        assert (old.name, old.notify, old.years) == ("old", None, [0, 1, 2])
        store.cancel_job(old.id)
        assert store.job_notifications(old.id) == []
        assert store.get_job(old.id).status == "cancelled"
    finally:
        engine.dispose()
