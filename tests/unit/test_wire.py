"""Wire compatibility: what the driver receives is strict, what it sends is tolerant."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
import pytest
from pydantic import ValidationError

from winjobs.client import DriverClient
from winjobs.wire import (
    ClaimRequest,
    Heartbeat,
    JobList,
    JobSubmitFields,
    PolicyReport,
    TaskCopyInfo,
    TaskFailure,
    WorkerRegistration,
    parse_notify_target,
)


def _job_from_a_newer_driver() -> dict[str, object]:
    return {
        "id": 7,
        "name": "winter",
        "submitter": "alice",
        "priority": 50,
        "status": "running",
        "study_name": "winter",
        "antares_version": "8.8",
        "mode": "economy",
        "years_total": 10,
        "years_done": 4,
        "tasks_running": 2,
        "created_at": datetime(2026, 1, 5, 9, tzinfo=UTC).isoformat(),
        "carbon_budget": 12.5,  # a field this client does not know yet
    }


def test_an_older_client_reads_answers_with_new_fields() -> None:
    body = {"jobs": [_job_from_a_newer_driver()], "total": 1, "next_page": None}
    transport = httpx.MockTransport(lambda request: httpx.Response(200, json=body))
    client = DriverClient(httpx.Client(transport=transport, base_url="http://driver"))
    listing = client.list_jobs()
    assert isinstance(listing, JobList)
    assert [(job.id, job.years_done) for job in listing.jobs] == [(7, 4)]


@pytest.mark.parametrize(
    ("model", "body"),
    [
        (Heartbeat, {"attempt": 1, "years_done": 2, "yaers_done": 3}),
        (ClaimRequest, {"free_cores": 4, "wait": 10}),
        (TaskFailure, {"attempt": 1, "reason": "boom", "logtail": "x"}),
        (
            WorkerRegistration,
            {"name": "pc", "cores": 2, "os": "Linux", "versions": ["8.8"], "core": 1},
        ),
    ],
)
def test_the_driver_refuses_unknown_fields_in_what_it_receives(
    model: type[Heartbeat | ClaimRequest | TaskFailure | WorkerRegistration],
    body: dict[str, object],
) -> None:
    with pytest.raises(ValidationError, match="Extra inputs are not permitted"):
        model.model_validate(body)


@pytest.mark.parametrize(
    ("text", "target"),
    [
        ("mail:me@example.com", "mail:me@example.com"),
        (" MAIL: me@example.com ", "mail:me@example.com"),
        ("https://hooks.example.com/winjobs?x=1", "https://hooks.example.com/winjobs?x=1"),
        ("http://127.0.0.1:9000/hook", "http://127.0.0.1:9000/hook"),
    ],
)
def test_notify_targets_are_normalised(text: str, target: str) -> None:
    assert parse_notify_target(text) == target


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("me@example.com", "give mail:ADDRESS or a webhook URL"),
        ("mail:me", "is not an e-mail address"),
        ("mail:a@b@c", "is not an e-mail address"),
        ("mail:", "is not an e-mail address"),
        ("ftp://example.com/x", "give mail:ADDRESS or a webhook URL"),
        ("https://", "give mail:ADDRESS or a webhook URL"),
        ("https://example.com/a b", "no spaces"),
    ],
)
def test_bad_notify_targets_say_what_to_write(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_notify_target(text)


def test_the_submit_field_holds_one_target_per_line_without_duplicates() -> None:
    fields = JobSubmitFields(notify="mail:a@b.c\n\nhttps://h/x\nmail:a@b.c\n")
    assert fields.notify_targets == ["mail:a@b.c", "https://h/x"]
    with pytest.raises(ValidationError, match="notify"):
        JobSubmitFields(notify="mail:a@b.c\nnope")
    with pytest.raises(ValidationError, match="at most 20 targets"):
        JobSubmitFields(notify="\n".join(f"mail:u{i}@b.c" for i in range(21)))


def test_job_states_read_as_sentences() -> None:
    from winjobs.wire import JobStatus

    assert [f"job 6 {s.phrase}" for s in JobStatus] == [
        "job 6 is queued",
        "job 6 is running",
        "job 6 has succeeded",
        "job 6 has failed",
        "job 6 was cancelled",
    ]


def test_a_policy_report_s_next_work_time_must_say_its_zone() -> None:
    """The driver stores it as UTC: a naive time is refused (422), not guessed."""
    with pytest.raises(ValidationError, match="timezone"):
        PolicyReport.model_validate(
            {"state": "outside_schedule", "next_work_at": "2026-01-05T19:00"}
        )
    report = PolicyReport.model_validate(
        {"state": "outside_schedule", "next_work_at": "2026-01-05T19:00+01:00"}
    )
    assert report.next_work_at is not None and report.next_work_at.utcoffset() is not None


@pytest.mark.parametrize(
    ("status", "reason", "told"),
    [
        ("running", None, "runs beside it: the first to finish wins"),
        ("won", None, "finished first: its output is the task's"),
        ("lost", "x", "was cancelled: the original finished first"),
        ("promoted", None, "went on as the task's attempt: the original failed"),
        ("failed", "solver exit 1", "failed: solver exit 1"),
        ("expired", None, "expired"),
    ],
)
def test_a_speculative_copy_described(status: str, reason: str | None, told: str) -> None:
    copy = TaskCopyInfo.model_validate(
        {
            "attempt": 2,
            "of_attempt": 1,
            "of_worker": "w3",
            "worker": "w1",
            "status": status,
            "started_at": "2026-12-02T10:00:00Z",
            "reason": reason,
        }
    )
    assert copy.describe() == f"attempt 2 on w1, a copy of attempt 1 on w3, {told}"
