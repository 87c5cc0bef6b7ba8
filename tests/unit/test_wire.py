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
    PolicyReport,
    TaskFailure,
    WorkerRegistration,
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
