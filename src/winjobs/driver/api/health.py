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
    """Jobs, tasks and workers by state (and by their owner's policy); claim counts and
    latency (Prometheus text)."""
    counts = driver.store.counts()
    now = driver.store.clock()
    states: dict[str, int] = {}
    policies: dict[str, int] = {}
    for worker, tasks in driver.store.list_workers():
        state = views.worker_state(worker, tasks, now, driver.settings.worker_offline_s)
        states[state.value] = states.get(state.value, 0) + 1
        policy = views.policy_state(worker)
        if policy is not None and state is not WorkerState.OFFLINE:
            policies[policy.value] = policies.get(policy.value, 0) + 1
    text = metrics.render(
        counts.jobs, counts.tasks, states, driver.claims, driver.signal.waiting(), policies
    )
    return PlainTextResponse(text, media_type="text/plain; version=0.0.4")
