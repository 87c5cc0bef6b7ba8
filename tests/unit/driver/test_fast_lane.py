"""The worker protocol's fast lane (`api/fastlane.py`) answers as FastAPI's routes do, and
takes the requests it is for (FastAPI's stack never sees them)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

from fastapi.testclient import TestClient
from starlette.middleware import Middleware
from starlette.types import ASGIApp, Receive, Scope, Send

from tests.unit.driver.helpers import FakeClock, driver_settings
from winjobs.driver.api.fastlane import WorkerFastLane
from winjobs.driver.app import create_app
from winjobs.wire import API_PREFIX

P = API_PREFIX
WORKER = {"Authorization": "Bearer worker-secret"}
REGISTRATION = {"name": "w1", "cores": 2, "os": "Linux-test", "versions": ["8.8"]}

#: (method, path, headers beyond the worker's, json body, whether the lane takes it)
REQUESTS: list[tuple[str, str, dict[str, str], Any, bool]] = [
    ("POST", "/workers/claim", {"Authorization": ""}, {"free_cores": 1}, True),
    ("POST", "/workers/claim", {"Authorization": "Bearer alice-secret"}, {}, True),
    ("POST", "/workers/claim", {"X-Winjobs-Worker": ""}, {"free_cores": 1}, True),
    ("POST", "/workers/claim", {"X-Winjobs-Worker": "99"}, {"free_cores": 1}, True),
    ("POST", "/workers/claim", {}, {"free_cores": "many"}, True),
    ("POST", "/workers/claim", {}, {"free_cores": 1, "wait_s": 0}, True),
    ("POST", "/tasks/7/heartbeat", {}, {"attempt": 1}, True),
    ("POST", "/tasks/7/heartbeat", {}, {"attempt": "first"}, True),
    ("POST", f"/tasks/{2**63}/heartbeat", {}, {"attempt": 1}, False),
    ("POST", "/tasks/seven/heartbeat", {}, {"attempt": 1}, False),
    ("POST", "/tasks/7/complete", {}, {"attempt": 1}, True),
    ("POST", "/tasks/7/complete-shared", {}, {"attempt": 1, "run_path": "x"}, True),
    ("POST", "/tasks/7/fail", {}, {"attempt": 1, "reason": "x"}, False),
    ("GET", "/workers/claim", {}, None, False),
]


class _Behind:
    """Notes the paths of the requests that reach FastAPI's stack behind the lane."""

    seen: ClassVar[list[str]] = []

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            _Behind.seen.append(f"{scope['method']} {scope['path']}")
        await self.app(scope, receive, send)


def _answers(tmp_path: Path, lane: bool) -> list[tuple[int, str | None, bytes]]:
    app = create_app(driver_settings(tmp_path / f"driver-{lane}"), clock=FakeClock())
    if not lane:
        fast_lane: object = WorkerFastLane
        app.user_middleware = [m for m in app.user_middleware if m.cls is not fast_lane]
    app.user_middleware.append(Middleware(_Behind))  # innermost: just before the routes
    answers = []
    with TestClient(app) as http:
        registered = http.post(f"{P}/workers/register", json=REGISTRATION, headers=WORKER)
        worker_id = str(registered.json()["worker_id"])
        _Behind.seen.clear()
        for method, path, extra, body, _ in REQUESTS:
            headers = {**WORKER, "X-Winjobs-Worker": worker_id, **extra}
            headers = {key: value for key, value in headers.items() if value}
            response = http.request(method, P + path, json=body, headers=headers)
            answers.append(
                (response.status_code, response.headers.get("www-authenticate"), response.content)
            )
    return answers


def test_the_fast_lane_answers_as_fastapi_routes_do(tmp_path: Path) -> None:
    through_fastapi = _answers(tmp_path, lane=False)
    assert _Behind.seen == [f"{method} {P}{path}" for method, path, *_ in REQUESTS]
    assert _answers(tmp_path, lane=True) == through_fastapi
    assert _Behind.seen == [f"{m} {P}{path}" for m, path, _, _, taken in REQUESTS if not taken]
    statuses = [status for status, _, _ in through_fastapi]
    assert statuses[:6] == [401, 403, 403, 404, 422, 204]  # the cases are what they say
    assert statuses[8:10] == [422, 422]  # ids FastAPI refuses, not the lane
