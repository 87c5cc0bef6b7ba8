"""`/health` (no token: load balancers and scripts probe it) and `/metrics` (Prometheus)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import PlainTextResponse

import winjobs
from winjobs.driver import metrics, views
from winjobs.driver.api.deps import CurrentIdentity, DriverDep
from winjobs.wire import Health, WorkerState

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
    counts = driver.store.counts()
    pool = driver.overview.status()
    text = metrics.render(
        counts.jobs,
        counts.tasks,
        pool,
        driver.claims,
        driver.task_stats,
        driver.signal.waiting(),
        _policies(driver),
    )
    return PlainTextResponse(text, media_type="text/plain; version=0.0.4")


def _policies(driver: DriverDep) -> dict[str, int]:
    """Online workers by the state of their owner's policy (those that report one)."""
    now = driver.store.clock()
    policies: dict[str, int] = {}
    for worker, tasks in driver.store.list_workers():
        state = views.worker_state(worker, tasks, now, driver.settings.worker_offline_s)
        policy = views.policy_state(worker)
        if policy is not None and state is not WorkerState.OFFLINE:
            policies[policy.value] = policies.get(policy.value, 0) + 1
    return policies
