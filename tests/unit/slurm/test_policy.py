"""The pool manager's scaling policy, table-driven: facts in, pilots to submit and to
cancel out. No Slurm, no driver."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from winjobs.slurm.policy import Facts, Phase, Pilot, Plan, plan, runnable_work
from winjobs.wire import PolicyState, QueuedWork, WorkerInfo, WorkerState

NOW = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)


def job(id: int, years: int, version: str = "8.8", pinned: str | None = None) -> QueuedWork:
    return QueuedWork(
        job_id=id, priority=50, antares_version=version, solver_version=pinned,
        years_waiting=years,
    )  # fmt: skip


def worker(
    name: str,
    cores: int,
    state: WorkerState = WorkerState.IDLE,
    versions: tuple[str, ...] = ("8.8",),
    policy: PolicyState | None = None,
) -> WorkerInfo:
    return WorkerInfo(
        id=hash(name) % 1000, name=name, os="Linux", cores=cores, versions=list(versions),
        state=state, last_seen=NOW, registered_at=NOW, policy=policy,
    )  # fmt: skip


def pilot(job_id: str, phase: Phase, cores: int = 8, order: int = 0) -> Pilot:
    return Pilot(job_id, phase, cores, order or int(job_id))


P, S, W, L = Phase.PENDING, Phase.STARTING, Phase.WORKING, Phase.LEAVING
BUSY, IDLE, DRAINING = WorkerState.BUSY, WorkerState.IDLE, WorkerState.DRAINING


@pytest.mark.parametrize(
    ("jobs", "workers", "pilots", "submit", "cancel"),
    [
        # nothing queued: nothing to do
        ([], [], [], 0, ()),
        # 20 years, nobody idle: ceil(20 / 8) = 3 pilots
        ([job(1, 20)], [], [], 3, ()),
        # the limit (4) counts every pilot in the queue, running ones included
        ([job(1, 100)], [], [pilot("10", W), pilot("11", L)], 2, ()),
        ([job(1, 100)], [], [pilot(str(i), W) for i in range(10, 14)], 0, ()),
        # idle office cores take years first: 20 - 12 = 8 -> one pilot
        ([job(1, 20)], [worker("pc-1", 12)], [], 1, ()),
        # ... if their owner's policy lets them take work now (docs/worker.md)
        ([job(1, 20)], [worker("pc-1", 12, policy=PolicyState.IN_SCHEDULE)], [], 1, ()),
        ([job(1, 20)], [worker("pc-1", 12, policy=PolicyState.OUTSIDE_SCHEDULE)], [], 3, ()),
        ([job(1, 20)], [worker("pc-1", 12, policy=PolicyState.OWNER_ACTIVE)], [], 3, ()),
        # busy workers do not count: the years wait for nobody
        ([job(1, 20)], [worker("pc-1", 12, BUSY)], [], 3, ()),
        # draining or offline workers neither
        ([job(1, 8)], [worker("pc-1", 8, DRAINING)], [], 1, ()),
        # pilots pending or starting cover years already: 20 - 16 = 4 -> one more
        ([job(1, 20)], [], [pilot("10", P), pilot("11", S)], 1, ()),
        # ... and exactly enough: none more, none cancelled (submit rounds up, cancel down)
        ([job(1, 24)], [], [pilot("10", P), pilot("11", P), pilot("12", S)], 0, ()),
        ([job(1, 17)], [], [pilot("10", P), pilot("11", P), pilot("12", P)], 0, ()),
        # the queue emptied: every pending pilot goes, starting and working ones stay
        ([], [], [pilot("10", P), pilot("11", S), pilot("12", W), pilot("13", P)], 0,
         ("13", "10")),
        # fewer years than pending cores: the newest pending go first, while still covered
        ([job(1, 6)], [], [pilot("10", P), pilot("11", P), pilot("12", P)], 0, ("12", "11")),
        ([job(1, 9)], [], [pilot("10", P), pilot("11", P), pilot("12", P)], 0, ("12",)),
        # idle workers covering the rest make pending pilots useless
        ([job(1, 8)], [worker("pc-1", 8)], [pilot("10", P)], 0, ("10",)),
        # a version the cluster (8.8) lacks is left to the office: no pilot, ever
        ([job(1, 50, version="9.2")], [], [], 0, ()),
        ([job(1, 50, version="9.2")], [], [pilot("10", P)], 0, ("10",)),
        # a job pinned by an office worker's first claim to a version the cluster lacks
        ([job(1, 50, version="8.6", pinned="8.6")], [], [], 0, ()),
        # ... while an 8.6 study not pinned yet runs on the cluster's 8.8
        ([job(1, 10, version="8.6")], [], [], 2, ()),
        # an idle worker only takes years of jobs its solvers may run
        ([job(1, 10), job(2, 10, version="9.2")], [worker("pc-92", 16, versions=("9.2",))],
         [], 2, ()),
        # and those of several jobs
        ([job(1, 4), job(2, 4)], [worker("pc-1", 8)], [], 0, ()),
    ],
)  # fmt: skip
def test_plan(
    jobs: list[QueuedWork],
    workers: list[WorkerInfo],
    pilots: list[Pilot],
    submit: int,
    cancel: tuple[str, ...],
) -> None:
    facts = Facts(jobs, workers, pilots, cluster_versions=["8.8"], cores_per_pilot=8, max_pilots=4)
    decided = plan(facts)
    assert (decided.submit, decided.cancel) == (submit, cancel)


def test_the_plan_says_what_it_counted() -> None:
    facts = Facts(
        [job(1, 20), job(2, 5, version="9.2")],
        [worker("pc-1", 4)],
        [pilot("10", P)],
        cluster_versions=["8.8"],
        cores_per_pilot=8,
        max_pilots=4,
    )
    assert plan(facts) == Plan(
        submit=1, cancel=(), cluster_years=20, uncovered_years=16, coming_cores=8
    )
    assert plan(facts).describe() == (
        "20 year(s) waiting for the cluster, 16 not taken by idle workers, "
        "8 core(s) of pilots to come"
    )


def test_runnable_work_keeps_the_schedulers_order() -> None:
    jobs = [job(3, 5), job(1, 0), job(2, 5, version="9.0"), job(4, 5, version="8.6")]
    assert [j.job_id for j in runnable_work(jobs, ["8.8", "9.2"])] == [3, 2, 4]
