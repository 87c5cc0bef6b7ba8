"""The pool manager's rounds against the real driver app (in-process) and a fake Slurm:
what it submits, cancels, logs and reports, and that nothing Slurm does ends it."""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.unit.driver.helpers import Api, FakeClock, driver_settings, packed_study
from winjobs.driver.app import create_app
from winjobs.errors import ConfigError
from winjobs.slurm.commands import SlurmError, SlurmJob
from winjobs.slurm.manager import PoolManager
from winjobs.slurm.settings import load_settings
from winjobs.wire import JobSubmitFields, WorkerState
from winjobs.worker.retry import Backoff


class FakeSlurm:
    """Slurm as the manager sees it: jobs by id, with knobs for refusals and failures."""

    def __init__(self) -> None:
        self.jobs_by_id: dict[str, SlurmJob] = {}
        self.refuse: str | None = None  #: sbatch fails with this message
        self.squeue_error: str | None = None
        self.submitted: list[str] = []
        self.cancelled: list[str] = []
        self._next = 100

    def submit(self, script: Path) -> str:
        assert script.is_file()
        if self.refuse is not None:
            raise SlurmError(self.refuse)
        self._next += 1
        job_id = str(self._next)
        self.jobs_by_id[job_id] = SlurmJob(job_id, "PENDING", "Priority", cores=4)
        self.submitted.append(job_id)
        return job_id

    def test_submit(self, script: Path) -> str:
        if self.refuse is not None:
            raise SlurmError(self.refuse)
        return "sbatch: Job 1 to start at 2026-12-02T04:13:44 using 4 processors"

    def jobs(self, name: str) -> list[SlurmJob]:
        assert name == "winjobs-hpc"
        if self.squeue_error is not None:
            raise SlurmError(self.squeue_error)
        return list(self.jobs_by_id.values())

    def cancel(self, job_ids: Sequence[str]) -> None:
        for job_id in job_ids:
            self.cancelled.append(job_id)
            self.set(job_id, "CANCELLED")

    def set(
        self, job_id: str, state: str, node: str | None = None, reason: str | None = None
    ) -> None:
        old = self.jobs_by_id[job_id]
        self.jobs_by_id[job_id] = SlurmJob(job_id, state, reason, node or old.node, cores=old.cores)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def api(tmp_path: Path) -> Iterator[Api]:
    clock = FakeClock()
    app = create_app(driver_settings(tmp_path / "driver"), clock=clock)
    with TestClient(app) as http:
        yield Api(app=app, http=http, clock=clock)


@pytest.fixture(autouse=True)
def no_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for key in list(os.environ):
        if key.startswith(("WINJOBS_SLURM_", "WINJOBS_WORKER_")):
            monkeypatch.delenv(key)


class World:
    def __init__(self, api: Api, tmp_path: Path) -> None:
        self.api = api
        self.tmp_path = tmp_path
        self.slurm = FakeSlurm()
        self.clock = Clock()

    def manager(self, **values: Any) -> PoolManager:
        settings = load_settings(
            None,
            {
                "token": "worker-secret",
                "pool": "hpc",
                "data_dir": self.tmp_path / "manager",
                "cores": 4,
                "max_pilots": 3,
                "retry_initial_s": 60,
                "retry_max_s": 600,
                "register_timeout_s": 300,
                "worker": {"solvers": {"8.8": "/opt/antares/antares-8.8-solver"}},
                **values,
            },
        )
        manager = PoolManager(
            settings,
            self.slurm,
            self.api.client(settings.token.get_secret_value()),
            monotonic=self.clock,
            backoff=Backoff(settings.retry_initial_s, settings.retry_max_s, jitter=0),
        )
        manager.prepare()
        return manager

    def submit(self, years: int, version: str = "880") -> int:
        archive = packed_study(self.tmp_path, name=f"s{time.monotonic_ns()}", nbyears=years,
                               version=version)  # fmt: skip
        return self.api.client("alice-secret").submit_job(archive, JobSubmitFields()).job_id

    def pilot_registers(self, job_id: str, cores: int = 4) -> None:
        self.slurm.set(job_id, "RUNNING", node="node07")
        self.api.worker(f"hpc-{job_id}-node07", cores=cores)

    def shown(self) -> Any:
        [pool] = self.api.client("alice-secret").list_workers().pools
        return pool


@pytest.fixture
def world(api: Api, tmp_path: Path) -> World:
    return World(api, tmp_path)


def test_pilots_follow_the_queue_and_are_shown_on_the_driver(world: World) -> None:
    manager = world.manager()
    assert manager.round() is not None
    assert world.slurm.submitted == []  # nothing queued
    world.submit(years=10)
    plan = manager.round()
    assert plan is not None and plan.submit == 3  # ceil(10 / 4)
    assert world.slurm.submitted == ["101", "102", "103"]
    manager.round()
    assert world.slurm.submitted == ["101", "102", "103"]  # they cover the years: no more
    shown = world.shown()
    assert [(p.job_id, p.state, p.reason) for p in shown.pilots] == [
        ("101", "PENDING", "Priority"), ("102", "PENDING", "Priority"),
        ("103", "PENDING", "Priority"),
    ]  # fmt: skip
    assert (shown.name, shown.max_pilots, shown.problem) == ("hpc", 3, None)

    world.pilot_registers("101")
    manager.round()
    [first] = [p for p in world.shown().pilots if p.job_id == "101"]
    assert (first.state, first.node, first.worker) == ("RUNNING", "node07", "hpc-101-node07")


def test_pending_pilots_are_cancelled_when_the_queue_empties(world: World) -> None:
    manager = world.manager()
    job_id = world.submit(years=8)
    manager.round()
    assert world.slurm.submitted == ["101", "102"]
    world.pilot_registers("101")
    world.api.client("alice-secret").cancel_job(job_id)
    manager.round()
    assert world.slurm.cancelled == ["102"]  # the running one ends by itself
    assert [p.job_id for p in world.shown().pilots] == ["101"]


def test_a_refused_sbatch_is_reported_and_retried_later(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    manager = world.manager()
    world.submit(years=4)
    world.slurm.refuse = (
        "sbatch: error: Batch job submission failed: Job violates accounting/QOS policy"
    )
    with caplog.at_level(logging.ERROR):
        manager.round()
    assert world.slurm.submitted == []
    assert "Job violates accounting/QOS policy; trying again in 60 s" in caplog.text
    assert world.shown().problem is not None
    assert "accounting/QOS policy" in world.shown().problem
    world.slurm.refuse = None
    manager.round()
    assert world.slurm.submitted == []  # held back until the wait is over
    world.clock.now += 61
    manager.round()
    assert world.slurm.submitted == ["101"]
    assert world.shown().problem is None


def test_the_wait_grows_while_slurm_keeps_refusing(world: World) -> None:
    manager = world.manager()
    world.submit(years=4)
    world.slurm.refuse = "sbatch: error: QOSMaxSubmitJobPerUserLimit"
    waits = []
    for _ in range(5):
        manager.round()
        waits.append(manager.hold_until - world.clock.now)
        world.clock.now = manager.hold_until
    assert waits == [60, 120, 240, 480, 600]


def test_a_pilot_that_fails_before_registering_holds_submissions(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    manager = world.manager(max_pilots=1)
    world.submit(years=4)
    manager.round()
    (world.tmp_path / "manager" / "pilots" / "101.out").write_text(
        "winjobs pilot hpc-101-node07: 4 cores\nerror: solver 8.8: /opt/antares/x not found\n"
    )
    world.slurm.set("101", "FAILED", node="node07", reason="NonZeroExitCode")
    with caplog.at_level(logging.ERROR):
        manager.round()
    assert "pilot 101 ended (FAILED (NonZeroExitCode)) before its worker registered" in caplog.text
    assert "error: solver 8.8: /opt/antares/x not found" in caplog.text  # its output's end
    assert world.slurm.submitted == ["101"]  # no new pilot for a while
    world.clock.now += 61
    manager.round()
    assert world.slurm.submitted == ["101", "102"]


def test_a_pilot_that_never_registers_is_cancelled(world: World) -> None:
    manager = world.manager(max_pilots=1)
    world.submit(years=4)
    manager.round()
    world.slurm.set("101", "RUNNING", node="node07")
    manager.round()
    world.clock.now += 301
    manager.round()
    assert world.slurm.cancelled == ["101"]
    problem = world.shown().problem or ""
    assert "pilot 101 was cancelled after running 300 s before its worker registered" in problem
    world.clock.now += 30
    manager.round()
    assert world.slurm.submitted == ["101"]  # held back: the next one would do the same


def test_squeue_failing_skips_the_round_and_says_why(world: World) -> None:
    manager = world.manager()
    world.submit(years=4)
    world.slurm.squeue_error = "squeue: error: Unable to contact slurm controller"
    assert manager.round() is None
    assert world.slurm.submitted == []
    assert "Unable to contact slurm controller" in (world.shown().problem or "")


def test_work_only_office_workers_can_take_gets_no_pilot(world: World) -> None:
    manager = world.manager()
    world.submit(years=6, version="920")  # the cluster has 8.8 only
    manager.round()
    assert world.slurm.submitted == []


def test_idle_workers_take_years_before_pilots_do(world: World) -> None:
    manager = world.manager()
    world.api.worker("pc-01", cores=8)
    world.submit(years=10)
    manager.round()
    assert world.slurm.submitted == ["101"]  # 10 - 8 idle cores = 2: one pilot
    workers = world.api.client("alice-secret").list_workers().workers
    assert [w.state for w in workers] == [WorkerState.IDLE]


def test_stopping_cancels_the_pending_pilots(world: World) -> None:
    manager = world.manager()
    world.submit(years=8)
    manager.round()
    world.pilot_registers("101")
    manager.round()
    manager.close()
    assert world.slurm.cancelled == ["102"]
    assert "stopped" in (world.shown().problem or "")


def test_a_manager_started_again_finds_its_pilots(world: World) -> None:
    world.submit(years=8)
    world.manager().round()
    again = world.manager()
    again.round()
    assert world.slurm.submitted == ["101", "102"]  # not two more
    assert set(again.pilots) == {"101", "102"}


def test_slurm_refusing_the_pilot_at_start_is_a_configuration_error(world: World) -> None:
    world.slurm.refuse = "sbatch: error: invalid partition specified: nope"
    with pytest.raises(ConfigError, match=r"Slurm refuses the pilot job.*invalid partition"):
        world.manager(partition="nope")
    world.slurm.refuse = "sbatch: error: Unable to contact slurm controller (connect failure)"
    world.manager()  # the controller is away: the loop will retry, no reason to stop


def test_a_token_the_driver_refuses_stops_the_manager_at_start(world: World) -> None:
    with pytest.raises(ConfigError, match=r"the driver refuses the pool manager: .*HTTP 401"):
        world.manager(token="not-a-token")
    with pytest.raises(ConfigError, match=r"the driver refuses .*HTTP 403"):
        world.manager(token="alice-secret")  # a user's token: not for a pool manager


def test_a_pilot_that_worked_and_ended_between_two_rounds_is_no_failure(world: World) -> None:
    manager = world.manager(max_pilots=1)
    world.submit(years=4)
    manager.round()
    world.pilot_registers("101")  # registers, works, and ends before the next round
    world.slurm.set("101", "COMPLETED")
    manager.round()
    assert manager.problem is None and manager.hold_until == 0.0
    assert world.slurm.submitted == ["101", "102"]  # years left: the next pilot at once
