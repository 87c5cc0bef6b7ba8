"""Signing in with an API token, the session cookie, signing out."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.unit.driver.dashboard.conftest import TOKENS, Dash, csrf_of
from tests.unit.driver.helpers import TOKENS as CONFIG_TOKENS
from tests.unit.driver.helpers import FakeClock, driver_settings
from winjobs.driver.app import create_app
from winjobs.driver.dashboard.security import COOKIE_NAME


def test_pages_send_strangers_to_the_sign_in_form(dash: Dash) -> None:
    browser = dash.browser()
    for path, target in (
        ("/", "/signin?next=%2F"),
        ("/workers", "/signin?next=%2Fworkers"),
        ("/jobs/1", "/signin?next=%2Fjobs%2F1"),
        ("/?status=running", "/signin?next=%2F%3Fstatus%3Drunning"),
    ):
        response = browser.get(path)
        assert (response.status_code, response.headers["location"]) == (303, target)
    form = browser.get("/signin")
    assert form.status_code == 200
    assert '<label for="token">Token</label>' in form.text
    assert 'type="password"' in form.text


def test_sign_in_sets_a_session_cookie_that_is_not_the_token(dash: Dash) -> None:
    browser = dash.browser()
    response = browser.post("/signin", data={"token": "alice-secret", "next": "/workers"})
    assert (response.status_code, response.headers["location"]) == (303, "/workers")
    cookie = response.headers["set-cookie"]
    assert cookie.startswith(f"{COOKIE_NAME}=")
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Path=/" in cookie
    assert "Max-Age=43200" in cookie and "Secure" not in cookie
    value = browser.cookies[COOKIE_NAME]
    assert "alice-secret" not in cookie and len(value) >= 40
    page = browser.get("/workers")
    assert page.status_code == 200 and "Signed in as <strong>alice</strong> (user)" in page.text
    for path in ("/", "/workers", "/fragment/jobs", "/signin"):
        answer = browser.get(path, follow_redirects=True)
        assert "alice-secret" not in answer.text
        assert "alice-secret" not in str(answer.headers)


@pytest.mark.parametrize(
    ("token", "message"),
    [
        ("wrong", "This token is not known to the driver."),
        ("", "This token is not known to the driver."),
        ("worker-secret", "A worker token cannot sign in to the dashboard"),
    ],
)
def test_refused_sign_ins(dash: Dash, token: str, message: str) -> None:
    browser = dash.browser()
    response = browser.post("/signin", data={"token": token, "next": "/"})
    assert response.status_code == 401
    assert message in response.text and 'aria-invalid="true"' in response.text
    assert COOKIE_NAME not in browser.cookies
    assert token == "" or f'value="{token}"' not in response.text  # never echoed back
    assert browser.get("/").status_code == 303


def test_sign_out_ends_the_session_on_the_server(dash: Dash) -> None:
    browser = dash.browser("bob")
    stolen = browser.cookies[COOKIE_NAME]
    response = browser.post("/signout", data={"csrf_token": dash.csrf(browser)})
    assert (response.status_code, response.headers["location"]) == (
        303,
        "/signin?signed_out=true",
    )
    assert COOKIE_NAME not in browser.cookies
    assert "You are signed out." in browser.get("/signin?signed_out=true").text
    replay = TestClient(dash.api.app, follow_redirects=False, cookies={COOKIE_NAME: stolen})
    assert replay.get("/").status_code == 303
    assert replay.get("/fragment/jobs").status_code == 401


def test_sign_out_needs_the_csrf_token(dash: Dash) -> None:
    browser = dash.browser("bob")
    assert browser.post("/signout", data={"csrf_token": "forged"}).status_code == 403
    assert browser.post("/signout").status_code == 403
    assert browser.get("/").status_code == 200


def test_signing_in_again_replaces_the_session(dash: Dash) -> None:
    browser = dash.browser("alice")
    before = browser.cookies[COOKIE_NAME]
    browser.post("/signin", data={"token": TOKENS["ops"], "next": "/"})
    after = browser.cookies[COOKIE_NAME]
    assert after != before
    assert "Signed in as <strong>ops</strong> (admin)" in browser.get("/").text
    old = TestClient(dash.api.app, follow_redirects=False, cookies={COOKIE_NAME: before})
    assert old.get("/").status_code == 303


def test_signed_in_visitors_skip_the_form(dash: Dash) -> None:
    browser = dash.browser("alice")
    response = browser.get("/signin?next=/workers")
    assert (response.status_code, response.headers["location"]) == (303, "/workers")


@pytest.mark.parametrize(
    "target", ["https://evil.example/", "//evil.example/x", "/\\evil.example", "relative", ""]
)
def test_no_open_redirect_after_sign_in(dash: Dash, target: str) -> None:
    response = dash.browser().post("/signin", data={"token": "alice-secret", "next": target})
    assert response.headers["location"] == "/"


def test_a_sign_in_posted_from_another_site_is_refused(dash: Dash) -> None:
    browser = dash.browser()
    for header in (
        {"Origin": "http://evil.example"},
        {"Origin": "null"},
        {"Referer": "http://evil.example/page"},
    ):
        response = browser.post("/signin", data={"token": "alice-secret"}, headers=header)
        assert response.status_code == 403, header
        assert "another site" in response.text
    assert COOKIE_NAME not in browser.cookies
    ok = browser.post(
        "/signin", data={"token": "alice-secret"}, headers={"Origin": "http://testserver"}
    )
    assert ok.status_code == 303


def test_sessions_last_as_configured(tmp_path: Path) -> None:
    clock = FakeClock()
    settings = driver_settings(tmp_path, dashboard={"session_hours": 1, "cookie_secure": True})
    with TestClient(create_app(settings, clock=clock)) as app_client:
        browser = TestClient(app_client.app, follow_redirects=False)
        response = browser.post("/signin", data={"token": "alice-secret"})
        cookie = response.headers["set-cookie"]
        assert "Max-Age=3600" in cookie and "Secure" in cookie
        session = {COOKIE_NAME: response.cookies[COOKIE_NAME]}
        looking = TestClient(app_client.app, follow_redirects=False, cookies=session)
        clock.advance(3500)
        assert looking.get("/").status_code == 200
        clock.advance(100)
        assert looking.get("/").status_code == 303


def test_a_session_survives_a_driver_restart_but_not_its_token(tmp_path: Path) -> None:
    clock = FakeClock()
    with TestClient(create_app(driver_settings(tmp_path), clock=clock)) as first:
        response = TestClient(first.app, follow_redirects=False).post(
            "/signin", data={"token": "alice-secret"}
        )
        cookies = {COOKIE_NAME: response.cookies[COOKIE_NAME]}
    with TestClient(create_app(driver_settings(tmp_path), clock=clock)) as second:
        browser = TestClient(second.app, follow_redirects=False, cookies=cookies)
        assert browser.get("/").status_code == 200
    without_alice = [t for t in CONFIG_TOKENS if t["name"] != "alice"]
    with TestClient(
        create_app(driver_settings(tmp_path, tokens=without_alice), clock=clock)
    ) as third:
        browser = TestClient(third.app, follow_redirects=False, cookies=cookies)
        assert browser.get("/").status_code == 303
        assert browser.get("/api/v1/jobs").status_code == 401


def test_the_session_reads_the_api_but_never_acts_through_it(dash: Dash) -> None:
    job_id = dash.submit("alice")
    browser = dash.browser("alice")
    log = browser.get(f"/api/v1/jobs/{job_id}/log")
    assert log.status_code == 200 and "submitted by alice" in log.text
    assert browser.get("/api/v1/jobs").json()["jobs"][0]["id"] == job_id
    for action in ("cancel", "retry"):
        refused = browser.post(f"/api/v1/jobs/{job_id}/{action}")
        assert refused.status_code == 401, action
    assert browser.post(f"/api/v1/jobs/{job_id}/priority", json={"priority": 9}).status_code == 401
    assert dash.api.client("alice-secret").get_job(job_id).status == "queued"
    stale = TestClient(dash.api.app, cookies={COOKIE_NAME: "x" * 43})
    response = stale.get("/api/v1/jobs")
    assert response.status_code == 401 and "sign in again" in response.json()["detail"]
    bearer_wins = dash.api.raw("bob-secret")
    bearer_wins.cookies.set(COOKIE_NAME, "x" * 43)
    assert bearer_wins.get("/api/v1/me").json()["name"] == "bob"


def test_the_csrf_token_belongs_to_the_session(dash: Dash) -> None:
    alice, bob = dash.browser("alice"), dash.browser("bob")
    assert dash.csrf(alice) != dash.csrf(bob)
    assert csrf_of(alice.get("/").text) == dash.csrf(alice)
