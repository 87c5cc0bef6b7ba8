"""HTTP layer: one router per resource. Handlers parse, call a service, and answer.

Routes that block (database, files) are plain `def`, run in the thread pool; the few
`async def` routes are the ones that stream (uploads), wait (the claim long-poll) or run
on the store's writer (claims, heartbeats, completions), and they hand every blocking
step to a thread themselves.
"""

from __future__ import annotations

from fastapi import FastAPI

from winjobs.driver.api import health, jobs, me, pool, status, studies, tasks, workers
from winjobs.driver.api.fastlane import WorkerFastLane
from winjobs.wire import API_PREFIX


def include_routers(app: FastAPI) -> None:
    """The worker protocol's routes first: a request is matched against the routes in
    order, and those are the frequent ones. The most frequent of them do not even wait
    for that: `WorkerFastLane` hands them to their endpoints before FastAPI's routing."""
    app.add_middleware(WorkerFastLane)
    for module in (workers, tasks):
        app.include_router(module.router, prefix=API_PREFIX)
    app.include_router(health.router)
    for module in (me, jobs, studies, pool, status):
        app.include_router(module.router, prefix=API_PREFIX)
