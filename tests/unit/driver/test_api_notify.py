"""Notification targets through the jobs API: checked at submit (422 naming `notify`),
kept with the job, and their delivery state in the job's detail."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.unit.driver.helpers import Api, FakeClock, driver_settings, packed_study
from tests.unit.driver.test_api_jobs import leftovers, submit_raw
from winjobs.driver.app import create_app
from winjobs.wire import DeliveryState, JobStatus, JobSubmitFields


def refused_port() -> int:
    """A loopback port nobody listens on (it was free a moment ago)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def refused_url() -> str:
    return f"http://127.0.0.1:{refused_port()}/hook"


def notify_api(tmp_path: Path, clock: FakeClock, **notify: object) -> Iterator[Api]:
    # the sender's thread makes one pass at start-up, then sleeps: the tests drive it
    settings = driver_settings(
        tmp_path / "driver",
        readers=["bob"],
        notify={"poll_interval_s": 3600, "first_retry_s": 5, **notify},
    )
    with TestClient(create_app(settings, clock=clock)) as http:
        yield Api(app=http.app, http=http, clock=clock)  # type: ignore[arg-type]


@pytest.fixture
def api_no_mail(tmp_path: Path, clock: FakeClock) -> Iterator[Api]:
    yield from notify_api(tmp_path, clock)


@pytest.fixture
def api_mail(tmp_path: Path, clock: FakeClock) -> Iterator[Api]:
    smtp = {"host": "127.0.0.1", "port": refused_port(), "starttls": False}
    yield from notify_api(tmp_path, clock, smtp={**smtp, "from_address": "w@example.com"})


@pytest.mark.parametrize(
    ("notify", "message"),
    [
        ("me@example.com", "notify: Value error, 'me@example.com': give mail:ADDRESS"),
        ("mail:nobody", "notify: Value error, 'nobody' is not an e-mail address"),
        ("https://ok.example.com\nftp://x", "notify: Value error, 'ftp://x': give mail:"),
    ],
)
def test_a_bad_target_is_refused_naming_the_field(
    api_mail: Api, tmp_path: Path, notify: str, message: str
) -> None:
    archive = packed_study(tmp_path).read_bytes()
    status, detail = submit_raw(api_mail, archive, notify=notify)
    assert (status, detail[: len(message)]) == (422, message)
    assert api_mail.client("alice-secret").list_jobs().jobs == []
    assert leftovers(api_mail) == []


def test_mail_needs_the_drivers_smtp_settings(api_no_mail: Api, tmp_path: Path) -> None:
    archive = packed_study(tmp_path).read_bytes()
    status, detail = submit_raw(api_no_mail, archive, notify="mail:me@example.com")
    assert status == 422
    assert detail.startswith("notify: this driver has no mail server (notify.smtp")
    status, _ = submit_raw(api_no_mail, archive, notify="https://hooks.example.com/x")
    assert status == 201, "webhooks need no mail server"


def test_targets_are_kept_and_their_delivery_is_shown(api_mail: Api, tmp_path: Path) -> None:
    alice = api_mail.client("alice-secret")
    dead = refused_url()
    created = alice.submit_job(
        packed_study(tmp_path), JobSubmitFields(notify=f" {dead}\nMAIL:me@example.com")
    )
    job = alice.get_job(created.job_id)
    assert job.notify == [dead, "mail:me@example.com"]
    assert job.notifications == [], "nothing to tell before the job ends"
    alice.cancel_job(created.job_id)
    pending = alice.get_job(created.job_id).notifications
    assert [(n.target, n.job_status, n.state) for n in pending] == [
        (dead, JobStatus.CANCELLED, DeliveryState.PENDING),
        ("mail:me@example.com", JobStatus.CANCELLED, DeliveryState.PENDING),
    ]
    api_mail.driver.notifier.send_due()  # nobody listens on either port
    webhook, mail = alice.get_job(created.job_id).notifications
    for row in (webhook, mail):
        assert (row.state, row.attempts) == (DeliveryState.RETRYING, 1)
        assert row.next_attempt_at == api_mail.clock() + timedelta(seconds=5)
    assert webhook.last_error is not None and webhook.last_error.startswith("ConnectError")
    assert mail.last_error is not None and mail.last_error.startswith("SMTP 127.0.0.1:")
    assert "ConnectionRefusedError" in mail.last_error


def test_only_the_owner_and_admins_see_the_targets(api_no_mail: Api, tmp_path: Path) -> None:
    """A webhook URL may hold a key: a reader sees the job, not whom it tells."""
    hook = "https://hooks.example.com/T0/B0/secret-key"
    alice = api_no_mail.client("alice-secret")
    job_id = alice.submit_job(packed_study(tmp_path), JobSubmitFields(notify=hook)).job_id
    alice.cancel_job(job_id)
    for token, visible in (("alice-secret", True), ("ops-secret", True), ("bob-secret", False)):
        job = api_no_mail.client(token).get_job(job_id)
        assert job.status == JobStatus.CANCELLED
        assert job.notify == ([hook] if visible else []), token
        assert len(job.notifications) == (1 if visible else 0), token
