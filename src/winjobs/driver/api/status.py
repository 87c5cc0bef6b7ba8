"""`/status`: the pool at a glance (`winjobs status`), and its load of the last hours."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from winjobs.driver.api.deps import DriverDep, UserIdentity
from winjobs.wire import LoadHistory, PoolStatus, Shares

router = APIRouter(tags=["status"])


@router.get("/status", response_model=PoolStatus)
def pool_status(_identity: UserIdentity, driver: DriverDep) -> PoolStatus:
    """Workers by state, cores busy and online, jobs queued and running, years left, the
    throughput of the last hour and the time to drain the queue at that pace."""
    return driver.overview.status()


@router.get("/status/load", response_model=LoadHistory)
def pool_load(
    _identity: UserIdentity,
    driver: DriverDep,
    hours: Annotated[float, Query(gt=0, le=168)] = 6.0,
) -> LoadHistory:
    """The pool's recorded load (online and busy workers and cores) of the last `hours`
    (at most a week; the driver keeps `utilisation_keep_hours`), oldest first."""
    return driver.overview.load_history(hours)


@router.get("/status/shares", response_model=Shares)
def pool_shares(_identity: UserIdentity, driver: DriverDep) -> Shares:
    """Each user's recent usage of the pool and weight, the least served (per weight)
    first: the order fair share serves them in at one priority (docs/driver.md, "Fair
    share and aging")."""
    return driver.overview.shares()
