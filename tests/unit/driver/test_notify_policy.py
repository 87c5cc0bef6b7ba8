"""The notification outbox's pure parts: backoff, the state machine, the signed body, the
mail, the settings and the generated secret."""

from __future__ import annotations

import json
import smtplib
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.helpers.doc_snippets import python_block_defining
from winjobs.driver.notify.config import NotifySettings, SmtpSettings
from winjobs.driver.notify.policy import MAX_ERROR_CHARS, Backoff, after_attempt
from winjobs.driver.notify.secret import SECRET_FILE, webhook_secret
from winjobs.driver.notify.summary import job_end_summary, mail_message, signature, webhook_body
from winjobs.driver.notify.transports import Mailer
from winjobs.driver.settings import load_settings
from winjobs.errors import ConfigError
from winjobs.wire import DeliveryState

NOW = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("first", "cap", "attempts", "schedule"),
    [
        (30, 3600, 10, [30, 60, 120, 240, 480, 960, 1920, 3600, 3600]),
        (1, 4, 5, [1, 2, 4, 4]),
        (5, 5, 3, [5, 5]),
        (10, 100, 1, []),
    ],
)
def test_backoff_doubles_up_to_its_cap(
    first: float, cap: float, attempts: int, schedule: list[float]
) -> None:
    assert Backoff(first, cap, attempts).schedule() == schedule


def test_backoff_never_overflows_on_huge_attempt_numbers() -> None:
    assert Backoff(30, 3600, 100).delay_after(5000) == 3600


BACKOFF = Backoff(first_delay_s=30, max_delay_s=3600, max_attempts=3)


@pytest.mark.parametrize(
    ("before", "error", "state", "attempts", "next_in_s", "sent"),
    [
        (0, None, DeliveryState.SENT, 1, None, True),
        (2, None, DeliveryState.SENT, 3, None, True),
        (0, "refused", DeliveryState.RETRYING, 1, 30, False),
        (1, "refused", DeliveryState.RETRYING, 2, 60, False),
        (2, "refused", DeliveryState.GAVE_UP, 3, None, False),
    ],
)
def test_an_attempt_moves_the_row(
    before: int,
    error: str | None,
    state: DeliveryState,
    attempts: int,
    next_in_s: float | None,
    sent: bool,
) -> None:
    done = after_attempt(before, error, NOW, BACKOFF)
    assert done.state is state
    assert done.attempts == attempts
    expected_next = None if next_in_s is None else NOW + timedelta(seconds=next_in_s)
    assert done.next_attempt_at == expected_next
    assert done.last_error == error
    assert done.sent_at == (NOW if sent else None)


def test_a_long_error_is_cut() -> None:
    done = after_attempt(0, "x" * 5000, NOW, BACKOFF)
    assert done.last_error is not None and len(done.last_error) == MAX_ERROR_CHARS
    assert done.last_error.endswith("...")


def summary(status: str = "succeeded", **changes: Any) -> dict[str, Any]:
    facts: dict[str, Any] = {
        "job_id": 7,
        "name": "winter",
        "owner": "alice",
        "status": status,
        "years": [0, 1, 2, 9],
        "created_at": NOW,
        "started_at": NOW + timedelta(seconds=10),
        "finished_at": NOW + timedelta(seconds=130),
        "reason": None,
        "run_folder": "20260105-0900eco-winter",
    }
    facts.update(changes)
    return job_end_summary(**facts)


def test_the_signature_is_the_hmac_sha256_of_the_body() -> None:
    # RFC-style known vector (Wikipedia's HMAC example), so a receiver in any language agrees
    known = "f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8"
    assert signature(b"key", b"The quick brown fox jumps over the lazy dog") == f"sha256={known}"


def test_the_body_holds_the_summary_and_the_links() -> None:
    body = webhook_body(summary(), "http://driver:8000")
    data = json.loads(body)
    assert data == {
        "event": "job.ended",
        "id": 7,
        "name": "winter",
        "owner": "alice",
        "status": "succeeded",
        "years": "1-3, 10",
        "years_total": 4,
        "submitted_at": "2026-01-05T09:00:00+00:00",
        "started_at": "2026-01-05T09:00:10+00:00",
        "finished_at": "2026-01-05T09:02:10+00:00",
        "run_seconds": 120.0,
        "reason": None,
        "run_folder": "20260105-0900eco-winter",
        "job_url": "http://driver:8000/api/v1/jobs/7",
        "result_url": "http://driver:8000/api/v1/jobs/7/result",
    }
    assert body == webhook_body(summary(), "http://driver:8000"), "a retry sends the same bytes"


def test_a_failed_job_has_a_reason_and_no_result_link() -> None:
    data = json.loads(webhook_body(summary("failed", reason="year 3: infeasible"), "http://d"))
    assert data["reason"] == "year 3: infeasible"
    assert data["result_url"] is None


def test_the_mail_tells_the_same_facts() -> None:
    facts = summary("failed", reason="year 3: infeasible", run_folder=None)
    message = mail_message(facts, "http://d", "winjobs@example.com", "me@example.com")
    assert message["Subject"] == "winjobs: job 7 (winter) failed"
    assert (message["From"], message["To"]) == ("winjobs@example.com", "me@example.com")
    text = message.get_content()
    for line in ("ended failed", "1-3, 10 (4 in all)", "120 s", "reason:      year 3: infeasible"):
        assert line in text
    assert "http://d/api/v1/jobs/7" in text
    assert "result:" not in text


class FakeSmtp:
    """Records the SMTP conversation `Mailer` holds (STARTTLS before login)."""

    calls: list[str]

    def __init__(self, host: str, port: int, timeout: float) -> None:
        self.calls = [f"connect {host}:{port}"]
        FakeSmtp.last = self

    def __enter__(self) -> FakeSmtp:
        return self

    def __exit__(self, *exc: object) -> None:
        self.calls.append("quit")

    def starttls(self, context: object) -> None:
        self.calls.append("starttls")

    def login(self, user: str, password: str) -> None:
        self.calls.append(f"login {user} {password}")

    def send_message(self, message: object) -> None:
        self.calls.append("send")


class RefusingSmtp(FakeSmtp):
    def login(self, user: str, password: str) -> None:
        raise smtplib.SMTPAuthenticationError(535, b"bad credentials")


def smtp(**changes: Any) -> SmtpSettings:
    fields: dict[str, Any] = {
        "host": "smtp.example.com",
        "username": "winjobs",
        "password": "pw",
        "from_address": "winjobs@example.com",
    }
    fields.update(changes)
    return SmtpSettings.model_validate(fields)


def test_the_mailer_upgrades_to_tls_before_it_logs_in() -> None:
    mailer = Mailer(smtp(), "http://d", FakeSmtp)  # type: ignore[arg-type]
    assert mailer.send("mail:me@example.com", summary()) is None
    assert FakeSmtp.last.calls == [
        "connect smtp.example.com:587",
        "starttls",
        "login winjobs pw",
        "send",
        "quit",
    ]


def test_a_refused_login_is_an_error_line_not_an_exception() -> None:
    mailer = Mailer(smtp(), "http://d", RefusingSmtp)  # type: ignore[arg-type]
    error = mailer.send("mail:me@example.com", summary())
    assert error is not None
    assert error.startswith("SMTP smtp.example.com:587: SMTPAuthenticationError")


@pytest.mark.parametrize(
    ("notify", "message"),
    [
        ({"smtp": {"host": "smtp.x.com"}}, "notify.smtp.from_address"),
        (
            {"smtp": {"host": "smtp://x.com", "from_address": "a@b.c"}},
            "notify.smtp.host",
        ),
        (
            {"smtp": {"host": "x.com", "from_address": "not an address"}},
            "notify.smtp.from_address",
        ),
        (
            {"smtp": {"host": "x.com", "from_address": "a@b.c", "username": "u"}},
            "give both username and password",
        ),
        ({"smtp": {"host": "x.com", "from_address": "a@b.c", "port": 0}}, "notify.smtp.port"),
        ({"webhook_secret": "short"}, "notify.webhook_secret"),
        ({"public_url": "driver:8000"}, "notify.public_url"),
        ({"first_retry_s": 100, "max_retry_delay_s": 10}, "first_retry_s must not exceed"),
    ],
)
def test_a_bad_notify_setting_is_named(
    tmp_path: Path, notify: dict[str, Any], message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        load_settings(None, data_dir=tmp_path, notify=notify)


def test_the_secret_is_generated_once_and_kept(tmp_path: Path) -> None:
    first = webhook_secret(NotifySettings(), tmp_path)
    assert len(first) == 64
    assert (tmp_path / SECRET_FILE).read_text(encoding="utf-8").strip() == first.decode()
    assert webhook_secret(NotifySettings(), tmp_path) == first, "a restart keeps the secret"


def test_a_configured_secret_wins(tmp_path: Path) -> None:
    configured = NotifySettings.model_validate({"webhook_secret": "s" * 20})
    assert webhook_secret(configured, tmp_path) == b"s" * 20
    assert not (tmp_path / SECRET_FILE).exists()


def test_a_receiver_verifies_with_the_secret_file(tmp_path: Path) -> None:
    """docs/driver.md's receiver code, run as written, against what the driver sends."""
    receiver: dict[str, Any] = {}
    exec(python_block_defining("is_from_winjobs"), receiver)
    is_from_winjobs = receiver["is_from_winjobs"]
    key = webhook_secret(NotifySettings(), tmp_path)
    body = webhook_body(summary(), "http://d")
    header = signature(key, body)
    assert is_from_winjobs(key, body, header)
    assert not is_from_winjobs(key, body.replace(b"alice", b"mallory"), header)
    assert not is_from_winjobs(b"another key", body, header)
