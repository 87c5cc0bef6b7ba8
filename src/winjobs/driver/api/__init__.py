"""HTTP layer: one router per resource. Handlers parse, call a service, and answer.

Routes that block (database, files) are plain `def`, run in the thread pool; the few
`async def` routes are the ones that stream (uploads) or wait (the claim long-poll), and
they hand every blocking step to the thread pool themselves.
"""

from __future__ import annotations

from fastapi import FastAPI

from winjobs.driver.api import health, jobs, me, pool, studies, tasks, workers
from winjobs.wire import API_PREFIX


def include_routers(app: FastAPI) -> None:
    app.include_router(health.router)
    for module in (me, jobs, workers, tasks, studies, pool):
        app.include_router(module.router, prefix=API_PREFIX)
