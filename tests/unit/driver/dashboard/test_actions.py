"""Cancel, priority, hold, release and retry from the dashboard: plain forms, role checks,
CSRF."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from tests.unit.driver.dashboard.conftest import Dash, csrf_of
from tests.unit.driver.helpers import claim
from winjobs.wire import JobStatus, TaskFailure

ACTIONS = [
    ("cancel", {}),
    ("priority", {"priority": "80"}),
    ("retry", {}),
    ("hold", {"reason": "disk maintenance"}),
]


def status_and_priority(dash: Dash, job_id: int) -> tuple[JobStatus, int]:
    job = dash.api.client("ops-secret").get_job(job_id)
    return job.status, job.priority


def snapshot(dash: Dash, job_id: int) -> tuple[JobStatus, int, bool]:
    """What any of the actions would change."""
    job = dash.api.client("ops-secret").get_job(job_id)
    return job.status, job.priority, job.held


def failed_job(dash: Dash, who: str = "alice") -> int:
    job_id = dash.submit(who, nbyears=2)
    worker = dash.api.worker(cores=2)
    for attempt in (1, 2, 3):
        task = claim(worker, cores=2)
        worker.fail_task(task.task_id, TaskFailure(attempt=attempt, reason="exit 1"))
    assert status_and_priority(dash, job_id)[0] is JobStatus.FAILED
    return job_id


def post(browser: TestClient, path: str, fields: dict[str, str], csrf: str | None) -> object:
    data = dict(fields)
    if csrf is not None:
        data["csrf_token"] = csrf
    return browser.post(path, data=data)


def test_the_owner_cancels_reprioritises_and_retries_without_javascript(dash: Dash) -> None:
    job_id = dash.submit("alice")
    browser = TestClient(dash.api.app)  # follows redirects, like a browser
    browser.post("/signin", data={"token": "alice-secret"})
    page = browser.get(f"/jobs/{job_id}").text
    for form in ("priority", "cancel"):
        assert f'action="/jobs/{job_id}/{form}"' in page
    assert f'action="/jobs/{job_id}/retry"' not in page  # only for failed or cancelled jobs
    csrf = csrf_of(page)

    done = browser.post(f"/jobs/{job_id}/priority", data={"csrf_token": csrf, "priority": "90"})
    assert done.url.path == f"/jobs/{job_id}" and done.status_code == 200
    assert f"Priority of job {job_id} set to 90." in done.text and 'role="status"' in done.text
    assert status_and_priority(dash, job_id) == (JobStatus.QUEUED, 90)

    done = browser.post(f"/jobs/{job_id}/cancel", data={"csrf_token": csrf})
    assert f"Job {job_id} cancelled" in done.text
    assert status_and_priority(dash, job_id)[0] is JobStatus.CANCELLED
    assert f'action="/jobs/{job_id}/cancel"' not in done.text
    assert f'action="/jobs/{job_id}/retry"' in done.text

    done = browser.post(f"/jobs/{job_id}/retry", data={"csrf_token": csrf})
    assert f"Job {job_id} queued again" in done.text
    assert status_and_priority(dash, job_id)[0] is JobStatus.QUEUED
    assert "Job 1 queued again" not in browser.get(f"/jobs/{job_id}").text  # flashed once
    assert "cancelled by alice" in done.text and "priority set to 90 by alice" in done.text


@pytest.mark.parametrize(("action", "fields"), ACTIONS)
def test_users_cannot_change_the_jobs_of_others(
    dash: Dash, action: str, fields: dict[str, str]
) -> None:
    job_id = failed_job(dash, "alice") if action == "retry" else dash.submit("alice")
    before = snapshot(dash, job_id)
    bob = dash.browser("bob")
    assert bob.get(f"/jobs/{job_id}").status_code == 403  # not even the page (test_read_access)
    forged = post(bob, f"/jobs/{job_id}/{action}", fields, dash.csrf(bob))
    assert forged.status_code == 403  # type: ignore[attr-defined]
    assert f"job {job_id} belongs to alice" in forged.text  # type: ignore[attr-defined]
    assert snapshot(dash, job_id) == before


@pytest.mark.parametrize(("action", "fields"), ACTIONS)
def test_admins_change_any_job(dash: Dash, action: str, fields: dict[str, str]) -> None:
    job_id = failed_job(dash, "alice") if action == "retry" else dash.submit("alice")
    ops = dash.browser("ops")
    assert f'action="/jobs/{job_id}/{action}"' in ops.get(f"/jobs/{job_id}").text
    response = post(ops, f"/jobs/{job_id}/{action}", fields, dash.csrf(ops))
    assert response.status_code == 303  # type: ignore[attr-defined]
    status, priority, held = snapshot(dash, job_id)
    expected = {"cancel": JobStatus.CANCELLED, "retry": JobStatus.QUEUED}
    assert status is expected.get(action, JobStatus.QUEUED)
    assert priority == (80 if action == "priority" else 50)
    assert held is (action == "hold")


FORGERIES = [  # (CSRF token sent, extra headers); "OWN": the session's real token
    (None, {}),
    ("forged", {}),
    ("", {}),
    ("OWN", {"Origin": "http://evil.example"}),
    ("OWN", {"Referer": "https://evil.example/trap.html"}),
]


@pytest.mark.parametrize(("action", "fields"), ACTIONS)
def test_forged_forms_change_nothing(dash: Dash, action: str, fields: dict[str, str]) -> None:
    job_id = failed_job(dash, "alice") if action == "retry" else dash.submit("alice")
    before = snapshot(dash, job_id)
    alice = dash.browser("alice")
    for csrf, headers in FORGERIES:
        data = dict(fields)
        if csrf is not None:
            data["csrf_token"] = dash.csrf(alice) if csrf == "OWN" else csrf
        response = alice.post(f"/jobs/{job_id}/{action}", data=data, headers=headers)
        assert response.status_code == 403, (csrf, headers)
        assert snapshot(dash, job_id) == before


@pytest.mark.parametrize(("action", "fields"), ACTIONS)
def test_no_action_without_a_session(dash: Dash, action: str, fields: dict[str, str]) -> None:
    job_id = failed_job(dash, "alice") if action == "retry" else dash.submit("alice")
    before = snapshot(dash, job_id)
    for client in (dash.browser(), dash.api.raw("alice-secret")):  # bearer tokens: API only
        response = client.post(
            f"/jobs/{job_id}/{action}", data={**fields, "csrf_token": "x"}, follow_redirects=False
        )
        assert response.status_code == 303
        assert response.headers["location"] == "/signin?next=%2F"
    assert snapshot(dash, job_id) == before


@pytest.mark.parametrize("value", ["0", "101", "abc", "", "5.5"])
def test_a_bad_priority_is_explained_on_the_page(dash: Dash, value: str) -> None:
    job_id = dash.submit("alice")
    alice = TestClient(dash.api.app)
    alice.post("/signin", data={"token": "alice-secret"})
    page = alice.post(
        f"/jobs/{job_id}/priority",
        data={"csrf_token": csrf_of(alice.get("/").text), "priority": value},
    )
    assert page.status_code == 200 and 'role="alert"' in page.text
    assert "give a whole number from 1 to 100" in page.text
    assert status_and_priority(dash, job_id) == (JobStatus.QUEUED, 50)


def test_an_action_the_moment_refuses_is_explained_on_the_page(dash: Dash) -> None:
    job_id = dash.submit("alice")
    alice = TestClient(dash.api.app)
    alice.post("/signin", data={"token": "alice-secret"})
    csrf = csrf_of(alice.get(f"/jobs/{job_id}").text)
    dash.api.client("ops-secret").cancel_job(job_id)  # meanwhile, elsewhere
    page = alice.post(f"/jobs/{job_id}/cancel", data={"csrf_token": csrf})
    assert page.status_code == 200
    assert f"cannot cancel job {job_id}: it was cancelled" in page.text
    assert alice.post("/jobs/999/cancel", data={"csrf_token": csrf}).status_code == 404


def test_the_owner_holds_and_releases_without_javascript(dash: Dash) -> None:
    job_id = dash.submit("alice")
    alice = TestClient(dash.api.app)
    alice.post("/signin", data={"token": "alice-secret"})
    page = alice.get(f"/jobs/{job_id}").text
    assert f'action="/jobs/{job_id}/hold"' in page
    assert f'action="/jobs/{job_id}/release"' not in page
    csrf = csrf_of(page)
    done = alice.post(
        f"/jobs/{job_id}/hold", data={"csrf_token": csrf, "reason": "  new costs coming "}
    )
    assert f"Job {job_id} held: no new task of it starts until it is released." in done.text
    assert "Held by alice:</strong> new costs coming" in done.text
    assert f'action="/jobs/{job_id}/hold"' not in done.text
    assert f'action="/jobs/{job_id}/release"' in done.text
    job = dash.api.client("alice-secret").get_job(job_id)
    assert (job.held, job.held_reason) == (True, "new costs coming")
    listing = alice.get("/").text
    assert 'class="badge badge-held" title="held by alice: new costs coming"' in listing
    done = alice.post(f"/jobs/{job_id}/release", data={"csrf_token": csrf})
    assert f"Job {job_id} released" in done.text
    assert dash.api.client("alice-secret").get_job(job_id).held is False
    again = alice.post(f"/jobs/{job_id}/release", data={"csrf_token": csrf})
    assert 'role="alert"' in again.text and "is not held" in again.text
    too_long = alice.post(f"/jobs/{job_id}/hold", data={"csrf_token": csrf, "reason": "x" * 501})
    assert "The reason is too long" in too_long.text
    assert dash.api.client("alice-secret").get_job(job_id).held is False


def test_an_admins_hold_is_not_the_owners_to_release(dash: Dash) -> None:
    job_id = dash.submit("alice")
    dash.api.client("ops-secret").hold_job(job_id, "pool needed")
    alice = dash.browser("alice")
    page = alice.get(f"/jobs/{job_id}").text
    assert "Held by ops:</strong> pool needed" in page
    assert f'action="/jobs/{job_id}/release"' not in page
    forged = post(alice, f"/jobs/{job_id}/release", {}, dash.csrf(alice))
    assert forged.status_code == 403  # type: ignore[attr-defined]
    assert "only an admin may release it" in forged.text  # type: ignore[attr-defined]
    assert snapshot(dash, job_id)[2] is True
    ops = dash.browser("ops")
    assert f'action="/jobs/{job_id}/release"' in ops.get(f"/jobs/{job_id}").text
    assert post(ops, f"/jobs/{job_id}/release", {}, dash.csrf(ops)).status_code == 303  # type: ignore[attr-defined]
    assert snapshot(dash, job_id)[2] is False
