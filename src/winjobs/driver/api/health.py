"""`/health` (no token: load balancers and scripts probe it) and `/metrics` (Prometheus)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import PlainTextResponse

import winjobs
from winjobs.driver import metrics
from winjobs.driver.api.deps import CurrentIdentity, DriverDep
from winjobs.wire import Health

router = APIRouter(tags=["service"])


@router.get("/health", response_model=Health)
def health(driver: DriverDep) -> Health:
    """Liveness and readiness: answers only when the database answers."""
    return Health(version=winjobs.__version__, database=driver.store.ping())


@router.get("/metrics", response_class=PlainTextResponse)
def prometheus(driver: DriverDep, _identity: CurrentIdentity) -> PlainTextResponse:
    """Jobs, tasks and workers by state (and by their owner's policy), cores busy and
    online, the queue in years; claim counts and latency; years done, tasks finished and
    failed (by reason), task durations and upload sizes since the driver started
    (Prometheus text)."""
    facts = driver.overview.status_and_counts()
    text = metrics.render(
        facts.jobs,
        facts.tasks,
        facts.pool,
        driver.claims,
        driver.task_stats,
        driver.signal.waiting(),
        facts.policies,
    )
    return PlainTextResponse(text, media_type="text/plain; version=0.0.4")
