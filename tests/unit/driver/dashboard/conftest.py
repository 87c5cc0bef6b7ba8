"""Fixtures of the dashboard's unit tests: the real driver app in-process, and
"browsers" (TestClients keeping cookies) signed in as the test tokens."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.unit.driver.helpers import Api, FakeClock, driver_settings, packed_study
from winjobs.driver.app import create_app
from winjobs.wire import JobSubmitFields

TOKENS = {"alice": "alice-secret", "bob": "bob-secret", "ops": "ops-secret"}
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_of(html: str) -> str:
    """The CSRF token a page's forms carry (what a browser would send back)."""
    match = _CSRF.search(html)
    assert match, "the page has no form with a CSRF token"
    return match.group(1)


@dataclass
class Dash:
    api: Api
    tmp: Path

    def browser(self, who: str | None = None) -> TestClient:
        """A cookie-keeping client, signed in through the form when `who` is given."""
        client = TestClient(self.api.app, follow_redirects=False)
        if who is not None:
            response = client.post("/signin", data={"token": TOKENS[who], "next": "/"})
            assert response.status_code == 303, response.text
        return client

    def submit(self, who: str = "alice", **study: Any) -> int:
        archive = packed_study(self.tmp, name=f"s{len(list(self.tmp.iterdir()))}", **study)
        client = self.api.client(TOKENS[who])
        return client.submit_job(archive, JobSubmitFields(name=study.get("caption"))).job_id

    def csrf(self, browser: TestClient) -> str:
        return csrf_of(browser.get("/workers").text)


@pytest.fixture
def dash(tmp_path: Path) -> Iterator[Dash]:
    clock = FakeClock()
    app = create_app(driver_settings(tmp_path / "driver"), clock=clock)
    (tmp_path / "studies").mkdir()
    with TestClient(app) as http:
        yield Dash(api=Api(app=app, http=http, clock=clock), tmp=tmp_path / "studies")
