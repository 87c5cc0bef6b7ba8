"""Every endpoint against every kind of caller: 401 without a valid token, 403 for the
wrong role, and nothing changes when a request is refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.unit.driver.helpers import Api, packed_study
from winjobs.client import ClientError
from winjobs.wire import JobStatus, JobSubmitFields

P = "/api/v1"
ALL = {"user", "admin", "worker"}
USERS = {"user", "admin"}
TOKENS = {"user": "alice-secret", "admin": "ops-secret", "worker": "worker-secret"}

ENDPOINTS = [
    ("GET", "/metrics", ALL),
    ("GET", f"{P}/me", ALL),
    ("POST", f"{P}/jobs", USERS),
    ("GET", f"{P}/jobs", USERS),
    ("GET", f"{P}/jobs/1", USERS),
    ("POST", f"{P}/jobs/1/cancel", USERS),
    ("POST", f"{P}/jobs/1/priority", USERS),
    ("POST", f"{P}/jobs/1/retry", USERS),
    ("GET", f"{P}/jobs/1/result", USERS),
    ("GET", f"{P}/jobs/1/log", USERS),
    ("GET", f"{P}/jobs/1/tasks/1/log", USERS),
    ("GET", f"{P}/workers", USERS),
    ("POST", f"{P}/workers/register", {"worker"}),
    ("POST", f"{P}/workers/claim", {"worker"}),
    ("POST", f"{P}/tasks/1/heartbeat", {"worker"}),
    ("POST", f"{P}/tasks/1/fail", {"worker"}),
    ("POST", f"{P}/tasks/1/complete", {"worker"}),
    ("GET", f"{P}/studies/{'0' * 64}", {"worker", "admin"}),
]


@pytest.mark.parametrize(("method", "path", "allowed"), ENDPOINTS)
def test_every_endpoint_needs_a_valid_token(
    api: Api, method: str, path: str, allowed: set[str]
) -> None:
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "Basic abc"}):
        response = api.http.request(method, path, headers=headers)
        assert response.status_code == 401, (headers, response.text)
        assert response.headers["WWW-Authenticate"] == "Bearer"
        assert response.json()["detail"]


@pytest.mark.parametrize(("method", "path", "allowed"), ENDPOINTS)
def test_roles(api: Api, method: str, path: str, allowed: set[str]) -> None:
    for role, token in TOKENS.items():
        headers = {"Authorization": f"Bearer {token}", "X-Winjobs-Worker": "1"}
        response = api.http.request(method, path, headers=headers)
        if role in allowed:
            assert response.status_code not in (401, 403), (role, response.text)
        else:
            assert response.status_code == 403, (role, response.text)
            assert "needs a" in response.json()["detail"]


def test_health_needs_no_token(api: Api) -> None:
    body = api.http.get("/health").json()
    assert body["status"] == "ok" and body["database"] == "sqlite"


def test_me(api: Api) -> None:
    assert api.client("ops-secret").me().role == "admin"
    assert api.client("alice-secret").me().name == "alice"


def test_users_change_only_their_own_jobs(api: Api, tmp_path: Path) -> None:
    alice, bob, admin = (api.client(t) for t in ("alice-secret", "bob-secret", "ops-secret"))
    job_id = alice.submit_job(packed_study(tmp_path), JobSubmitFields()).job_id
    for action in (
        lambda: bob.cancel_job(job_id),
        lambda: bob.set_priority(job_id, 99),
        lambda: bob.retry_job(job_id),
    ):
        with pytest.raises(ClientError, match="belongs to alice") as refused:
            action()
        assert refused.value.status_code == 403
    job = alice.get_job(job_id)
    assert (job.status, job.priority) == (JobStatus.QUEUED, 50)  # nothing changed
    assert admin.set_priority(job_id, 70).priority == 70  # admins change any job
    assert alice.cancel_job(job_id).status == JobStatus.CANCELLED


def test_worker_tokens_cannot_touch_jobs(api: Api, tmp_path: Path) -> None:
    alice = api.client("alice-secret")
    job_id = alice.submit_job(packed_study(tmp_path), JobSubmitFields()).job_id
    worker = api.worker()
    with pytest.raises(ClientError) as refused:
        worker.cancel_job(job_id)
    assert refused.value.status_code == 403
    assert alice.get_job(job_id).status == JobStatus.QUEUED


def test_the_worker_protocol_needs_a_registered_worker_id(api: Api) -> None:
    raw = api.raw("worker-secret")
    response = raw.post(f"{P}/workers/claim", json={"free_cores": 2, "wait_s": 0})
    assert response.status_code == 403 and "register" in response.json()["detail"]
    response = raw.post(
        f"{P}/workers/claim",
        json={"free_cores": 2, "wait_s": 0},
        headers={"X-Winjobs-Worker": "77"},
    )
    assert response.status_code == 404 and "register again" in response.json()["detail"]


def test_another_authenticator_can_be_plugged_in(api: Api) -> None:
    """What the dashboard does: a cookie session resolves to an Identity, and every
    protected route accepts it; a bearer token still works, a wrong one still fails."""
    from starlette.requests import HTTPConnection

    from winjobs.wire import Identity, Role

    def cookie_session(connection: HTTPConnection) -> Identity | None:
        if connection.cookies.get("session") == "s3cret":
            return Identity(name="carol", role=Role.USER)
        return None

    api.app.state.authenticators.append(cookie_session)
    assert api.app.state.tokens.identify("alice-secret").name == "alice"
    signed_in, stranger, mixed = api.raw(None), api.raw(None), api.raw("wrong")
    signed_in.cookies.set("session", "s3cret")
    stranger.cookies.set("session", "nope")
    mixed.cookies.set("session", "s3cret")
    assert signed_in.get(f"{P}/me").json()["name"] == "carol"
    assert signed_in.post(f"{P}/jobs/1/cancel").status_code == 404  # got past auth
    assert stranger.get(f"{P}/me").status_code == 401
    assert api.raw("ops-secret").get(f"{P}/me").json()["name"] == "ops"
    assert mixed.get(f"{P}/me").status_code == 401  # a wrong token never falls through
