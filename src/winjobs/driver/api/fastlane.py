"""The worker protocol's frequent requests, handed straight to their endpoints.

A claim, a heartbeat or a completion is a few hundred microseconds of the driver's own
work; FastAPI's way to it cost as much again (measured for issue 14: its middleware
layers, then every route of the app tried in turn, then dependency resolution, for
endpoints that take the request alone and check it themselves). This lane, in front
of that stack, recognises those four requests by method and path (one dict look-up, or
one regular expression for the task's routes) and calls the same endpoint functions
the routes declare; it answers their errors with the app's own exception handlers.

Everything else goes on to FastAPI unchanged, as does a task id that is not a plain
number a database key can hold (FastAPI then answers its 422). The routes stay declared
in their routers: they are the OpenAPI description, and the way in for any request this
lane does not recognise.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable

from fastapi import Request, Response
from starlette.types import ASGIApp, Receive, Scope, Send

from winjobs.driver.api import tasks, workers
from winjobs.wire import API_PREFIX, INT64_MAX

TaskEndpoint = Callable[[int, Request], Awaitable[Response]]

_CLAIM = f"{API_PREFIX}/workers/claim"
_TASK_REPORT = re.compile(re.escape(API_PREFIX) + r"/tasks/([0-9]{1,19})/([a-z-]+)")
_TASK_ENDPOINTS: dict[str, TaskEndpoint] = {
    "heartbeat": tasks.heartbeat,
    "complete": tasks.complete,
    "complete-shared": tasks.complete_shared,
}


class WorkerFastLane:
    """ASGI middleware: the worker protocol's hot requests to their endpoints at once."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        call = _recognised(scope) if scope["type"] == "http" else None
        if call is None:
            await self.app(scope, receive, send)
            return
        request = Request(scope, receive, send)
        try:
            response = await call(request)
        except Exception as exc:
            response = await _handled(request, exc)
        await response(scope, receive, send)


def _recognised(scope: Scope) -> Callable[[Request], Awaitable[Response]] | None:
    if scope["method"] != "POST":
        return None
    path: str = scope["path"]
    root: str = scope.get("root_path", "")
    if root and path.startswith(root):
        path = path[len(root) :]
    if path == _CLAIM:
        return workers.claim
    match = _TASK_REPORT.fullmatch(path)
    if match is None or (endpoint := _TASK_ENDPOINTS.get(match[2])) is None:
        return None
    task_id = int(match[1])
    if task_id > INT64_MAX:
        return None  # FastAPI's 422, as the route declares it
    return lambda request: endpoint(task_id, request)


async def _handled(request: Request, exc: Exception) -> Response:
    """The app's answer to `exc` (its exception handlers, by the exception's class as
    Starlette looks them up); an exception no handler takes goes on up (a 500)."""
    handlers = request.app.exception_handlers
    for kind in type(exc).__mro__:
        if kind is Exception:  # Starlette's server-error handler: the 500 up the stack
            break
        handler = handlers.get(kind)
        if handler is not None:
            response: Response = await handler(request, exc)
            return response
    raise exc
