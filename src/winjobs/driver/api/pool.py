"""`/pool`: what a pool manager of pilot workers (`winjobs slurm`, docs/slurm.md) reads and
reports. Read and written with the worker token the manager hands its pilots, or an
admin's."""

from __future__ import annotations

from fastapi import APIRouter

from winjobs.driver.api.deps import DriverDep, PoolManager
from winjobs.wire import Ack, PilotReport, PoolDemand, QueuedWork

router = APIRouter(tags=["pool"])


@router.get("/pool/demand", response_model=PoolDemand)
def demand(_identity: PoolManager, driver: DriverDep) -> PoolDemand:
    """The years waiting for a worker, per job in the order the claims serve them (held
    jobs left out; with the study's version and the version the job is pinned to), and
    every worker with its state, cores and solver versions: the facts a pool manager
    scales on."""
    jobs = [
        QueuedWork(
            job_id=work.job_id,
            priority=work.priority,
            antares_version=work.antares_version,
            solver_version=work.solver_version,
            years_waiting=work.years_waiting,
        )
        for work in driver.overview.waiting_work()
    ]
    return PoolDemand(jobs=jobs, workers=driver.pool.list().workers)


@router.put("/pool/pilots/{pool}", response_model=Ack)
def report_pilots(pool: str, report: PilotReport, _identity: PoolManager, driver: DriverDep) -> Ack:
    """A pool manager's view of its pilots (pending ones included), shown with the
    workers (`GET /workers`) until the next report replaces it."""
    driver.pool.pilots.report(pool, report, driver.store.clock())
    return Ack()
