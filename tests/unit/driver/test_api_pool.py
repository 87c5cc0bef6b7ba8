"""`/pool`: the queue as a pool manager of pilot workers reads it, and its pilot reports
shown with the workers."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.unit.driver.helpers import Api, claim, packed_study
from winjobs.client import ClientError
from winjobs.wire import JobSubmitFields, PilotInfo, PilotReport, TaskFailure, WorkerState

P = "/api/v1"


def submit(
    api: Api, tmp_path: Path, priority: int = 50, token: str = "alice-secret", **options: object
) -> int:
    archive = packed_study(tmp_path, name=f"s{time.monotonic_ns()}", **options)  # type: ignore[arg-type]
    fields = JobSubmitFields(priority=priority)
    return api.client(token).submit_job(archive, fields).job_id


def test_demand_counts_unassigned_and_requeued_years_in_the_schedulers_order(
    api: Api, tmp_path: Path
) -> None:
    low = submit(api, tmp_path, priority=20, nbyears=6)
    high = submit(api, tmp_path, priority=80, nbyears=10, version="920")
    manager = api.client("worker-secret")
    [first, second] = manager.pool_demand().jobs
    assert (first.job_id, first.years_waiting, first.antares_version) == (high, 10, "9.2")
    assert (second.job_id, second.years_waiting, second.solver_version) == (low, 6, None)

    worker = api.worker("pc-01", cores=4, versions=("8.8",))
    task = claim(worker, cores=4)  # the 8.8 worker takes 4 of the low job's years
    assert task.job_id == low
    jobs = {j.job_id: j for j in manager.pool_demand().jobs}
    assert (jobs[low].years_waiting, jobs[low].solver_version) == (2, "8.8")  # pinned now
    worker.fail_task(task.task_id, TaskFailure(attempt=1, reason="x", release=True))
    jobs = {j.job_id: j for j in manager.pool_demand().jobs}
    assert jobs[low].years_waiting == 6  # the re-queued task's years wait again

    demand = manager.pool_demand()
    [pc] = demand.workers
    assert (pc.name, pc.cores, pc.versions, pc.state) == ("pc-01", 4, ["8.8"], WorkerState.IDLE)


def test_demand_follows_fair_share_as_the_claims_do(api: Api, tmp_path: Path) -> None:
    """Same priority: the user with nothing running comes first, though submitted last
    (the driver's default order is fair share)."""
    alices = submit(api, tmp_path, nbyears=10)
    bobs = submit(api, tmp_path, nbyears=10, token="bob-secret")
    manager = api.client("worker-secret")
    assert [j.job_id for j in manager.pool_demand().jobs] == [alices, bobs]  # nobody runs yet
    assert claim(api.worker("pc-01", cores=4), cores=4).job_id == alices
    assert [j.job_id for j in manager.pool_demand().jobs] == [bobs, alices]
    assert claim(api.worker("pc-02", cores=4), cores=4).job_id == bobs  # as the claims go


def test_a_held_job_is_no_demand(api: Api, tmp_path: Path) -> None:
    """Nothing of a held job is handed out: pilots started for it would only idle."""
    held = submit(api, tmp_path, priority=80, nbyears=6)
    other = submit(api, tmp_path, nbyears=4)
    api.client("alice-secret").hold_job(held, "checking the inputs")
    manager = api.client("worker-secret")
    assert [j.job_id for j in manager.pool_demand().jobs] == [other]
    api.client("alice-secret").release_job(held)
    assert [j.job_id for j in manager.pool_demand().jobs] == [held, other]


def test_a_job_with_every_year_running_waits_for_nothing(api: Api, tmp_path: Path) -> None:
    job = submit(api, tmp_path, nbyears=4)
    claim(api.worker("pc-01", cores=8), cores=8)
    assert [j.job_id for j in api.client("ops-secret").pool_demand().jobs] == []
    assert job


def report(*pilots: PilotInfo, problem: str | None = None) -> PilotReport:
    return PilotReport(
        manager="login01", partition="debug", max_pilots=4, interval_s=10, problem=problem,
        pilots=list(pilots),
    )  # fmt: skip


def test_pilot_reports_are_shown_with_the_workers_and_go_stale(api: Api) -> None:
    pending = PilotInfo(job_id="101", state="PENDING", reason="Priority", cores=8)
    running = PilotInfo(
        job_id="100", state="RUNNING", node="node07", worker="hpc-100-node07", cores=8,
        started_at=datetime(2026, 1, 5, 8, 59, tzinfo=UTC),
    )  # fmt: skip
    manager = api.client("worker-secret")
    problem = "sbatch: error: Batch job submission failed: Job violates accounting/QOS policy"
    manager.report_pilots("hpc", report(running, pending, problem=problem))
    [pool] = api.client("alice-secret").list_workers().pools
    assert (pool.name, pool.manager, pool.partition) == ("hpc", "login01", "debug")
    assert not pool.stale
    assert pool.problem == problem
    assert [(p.job_id, p.state, p.reason) for p in pool.pilots] == [
        ("100", "RUNNING", None),
        ("101", "PENDING", "Priority"),
    ]
    api.clock.advance(31)  # three intervals without a report
    [pool] = api.client("alice-secret").list_workers().pools
    assert pool.stale
    manager.report_pilots("hpc", report())  # the next report replaces the last
    [pool] = api.client("alice-secret").list_workers().pools
    assert pool.pilots == [] and not pool.stale and pool.problem is None
    api.clock.advance(2 * 86400)
    assert api.client("alice-secret").list_workers().pools == []


def test_only_workers_and_admins_read_and_report(api: Api) -> None:
    with pytest.raises(ClientError) as refused:
        api.client("alice-secret").pool_demand()
    assert refused.value.status_code == 403
    with pytest.raises(ClientError) as refused:
        api.client("alice-secret").report_pilots("hpc", report())
    assert refused.value.status_code == 403
    assert api.client("ops-secret").report_pilots("hpc", report()).ok
    response = api.raw(None).get(f"{P}/pool/demand")
    assert response.status_code == 401


def test_bad_pool_names_and_reports_are_refused(api: Api) -> None:
    raw = api.raw("worker-secret")
    body = report().model_dump(mode="json")
    bad_name = raw.put(f"{P}/pool/pilots/-x", json=body)
    assert bad_name.status_code == 422 and "pool name '-x'" in bad_name.json()["detail"]
    typo = raw.put(f"{P}/pool/pilots/hpc", json={**body, "max_pilot": 3})
    assert typo.status_code == 422
    assert api.client("alice-secret").list_workers().pools == []
