"""The owner watch with an injected clock and idle time: every transition, acted on a fake
solver, each logged once; waiting for work; the start-up wiring from the settings."""

from __future__ import annotations

import logging
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from winjobs.errors import ConfigError
from winjobs.wire import PolicyState
from winjobs.worker.owner import OwnerWatch, watch_for
from winjobs.worker.policy import Policy, windows_from
from winjobs.worker.probes import Probes
from winjobs.worker.runner import StopReason, StopRequest
from winjobs.worker.settings import load_settings

T0 = datetime(2026, 1, 5, 10, 0, tzinfo=UTC)  # a Monday


class World:
    """The facts the watch sees, set by the test."""

    def __init__(self) -> None:
        self.now = T0
        self.idle_s: float | None = 3600.0
        self.cpu: float | None = 0.0

    def probes(self) -> Probes:
        return Probes(
            clock=lambda: self.now,
            idle=lambda: self.idle_s,
            load=lambda pid: self.cpu,
            memory=lambda: 8 * 1024**3,
        )

    def later(self, seconds: float, idle_s: float | None = None) -> None:
        self.now += timedelta(seconds=seconds)
        self.idle_s = idle_s if idle_s is not None else (self.idle_s or 0) + seconds


class FakeSolver:
    pid = 4242

    def __init__(self) -> None:
        self.calls: list[str] = []
        self.vacate_detail = ""

    def suspend(self) -> list[int]:
        self.calls.append("suspend")
        return [self.pid]

    def resume(self) -> list[int]:
        self.calls.append("resume")
        return [self.pid]

    def vacate(self, detail: str) -> None:
        self.calls.append("vacate")
        self.vacate_detail = detail


POLICY = Policy(
    windows=windows_from(["mon-fri 07:30-19:00 cores=2 idle=15m", "mon-fri 19:00-07:30"]),
    default_cores=8,
    resume_idle_s=300,
    vacate_after_s=600,
    max_other_cpu_percent=50,
)


@pytest.fixture
def world() -> World:
    return World()


def _held(watch: OwnerWatch, solver: FakeSolver) -> list[int]:
    nudges: list[int] = []
    assert watch.hold(7, StopRequest(), lambda: nudges.append(1))
    watch.attach(solver)  # type: ignore[arg-type]
    return nudges


def test_owner_returns_mid_task_suspend_resume_then_vacate(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="winjobs.worker.owner")
    watch = OwnerWatch(POLICY, world.probes())
    assert watch.step().state is PolicyState.IN_SCHEDULE
    solver = FakeSolver()
    nudges = _held(watch, solver)

    world.later(60, idle_s=2)  # the owner is back
    assert watch.step().state is PolicyState.SUSPENDED
    assert solver.calls == ["suspend"] and watch.suspended(7) and not watch.suspended(8)
    assert watch.report().state is PolicyState.SUSPENDED
    for _ in range(3):  # the owner stays: nothing more to do
        world.later(30, idle_s=1)
        assert watch.step().state is PolicyState.SUSPENDED
    assert solver.calls == ["suspend"]

    world.later(60, idle_s=400)  # gone for more than resume_idle_s
    assert watch.step().state is PolicyState.IN_SCHEDULE
    assert solver.calls == ["suspend", "resume"] and not watch.suspended(7)

    world.later(60, idle_s=1)  # back again, and stays
    assert watch.step().state is PolicyState.SUSPENDED
    world.later(599, idle_s=1)
    assert watch.step().state is PolicyState.SUSPENDED
    assert "vacate" not in solver.calls
    world.later(1, idle_s=1)  # 10 min suspended: vacate
    assert watch.step().state is PolicyState.VACATING
    assert solver.vacate_detail == "vacated: suspended for 10m (vacate_after_s)"
    world.later(2, idle_s=1)
    assert watch.step().state is PolicyState.VACATING
    assert solver.calls.count("vacate") == 1  # asked once, not again
    assert len(nudges) == 3  # suspend, resume, suspend: each sent at once in a heartbeat

    watch.release()  # the solver was killed, the task handed back
    assert watch.verdict.state is PolicyState.OWNER_ACTIVE
    transitions = [r.getMessage() for r in caplog.records if r.getMessage().startswith("policy:")]
    assert [t.split(" (")[0] for t in transitions] == [
        "policy: in schedule",
        "policy: suspended",
        "policy: in schedule",
        "policy: suspended",
        "policy: vacating",
        "policy: owner active",
    ]
    assert "policy: suspended (keyboard or mouse used 2s ago)" in transitions


def test_the_owner_back_during_staging_starts_the_solver_suspended(world: World) -> None:
    watch = OwnerWatch(POLICY, world.probes())
    stop, nudges = StopRequest(), []
    assert watch.hold(7, stop, lambda: nudges.append(1))
    world.later(5, idle_s=0.5)
    assert watch.step().state is PolicyState.SUSPENDED
    assert watch.suspended(7)
    solver = FakeSolver()
    watch.attach(solver)  # type: ignore[arg-type]
    assert solver.calls == ["suspend"]


def test_the_window_closing_vacates(world: World) -> None:
    watch = OwnerWatch(Policy(windows=windows_from(["mon 09:00-10:30"])), world.probes())
    solver = FakeSolver()
    _held(watch, solver)
    world.later(29 * 60)
    assert watch.step().state is PolicyState.IN_SCHEDULE
    world.later(60)
    assert watch.step().state is PolicyState.VACATING
    assert solver.vacate_detail == "vacated: its schedule window closed"


def test_vacating_while_staging_stops_the_staging(world: World) -> None:
    watch = OwnerWatch(Policy(windows=windows_from(["mon 09:00-10:30"])), world.probes())
    stop = StopRequest()
    assert watch.hold(7, stop, lambda: None)
    world.later(31 * 60)
    assert watch.step().state is PolicyState.VACATING
    assert (stop.reason, stop.detail) == (StopReason.VACATED, "vacated: its schedule window closed")


def test_no_work_is_taken_while_the_owner_is_there(world: World) -> None:
    world.idle_s = 60
    watch = OwnerWatch(POLICY, world.probes())
    assert watch.step().state is PolicyState.OWNER_ACTIVE
    assert not watch.may_take_work()
    assert not watch.hold(7, StopRequest(), lambda: None)  # a task that came anyway
    report = watch.report()
    assert (report.state, report.next_work_at) == (
        PolicyState.OWNER_ACTIVE,
        T0 + timedelta(minutes=14),
    )


def test_waiting_for_work_tells_the_driver_and_returns_the_window_s_cores(world: World) -> None:
    world.idle_s = 60
    watch = OwnerWatch(POLICY, world.probes(), check_s=0.01)
    told: list[PolicyState] = []
    watch.start()
    try:
        abort = threading.Event()
        result: list[int | None] = []

        def wait() -> None:
            result.append(
                watch.wait_for_work(abort, lambda: told.append(watch.verdict.state), 0.05)
            )

        waiter = threading.Thread(target=wait)
        waiter.start()
        waiter.join(0.3)
        assert waiter.is_alive() and told and set(told) == {PolicyState.OWNER_ACTIVE}
        assert len(told) >= 2  # and again every keepalive
        world.idle_s = 3600
        waiter.join(10)
        assert result == [2]  # office hours: 2 cores
        # --exit-when-idle: tell the driver once, then give up
        world.idle_s = 1
        watch.step()
        assert watch.wait_for_work(abort, lambda: None, 10, give_up=True) is None
        abort.set()
        assert watch.wait_for_work(abort, lambda: None, 10) is None
    finally:
        watch.stop()


def test_a_failing_probe_does_not_stop_the_watch(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="winjobs.worker.owner")
    calls = []

    def flaky() -> float:
        calls.append(1)
        if len(calls) in (2, 3, 4):
            raise OSError("display gone")
        return 3600.0

    probes = world.probes()
    probes.idle = flaky
    watch = OwnerWatch(POLICY, probes, check_s=0.01)
    watch.start()
    try:
        deadline = datetime.now() + timedelta(seconds=10)
        while len(calls) < 6 and datetime.now() < deadline:
            threading.Event().wait(0.01)
        assert len(calls) >= 6
    finally:
        watch.stop()
    messages = [r.getMessage() for r in caplog.records]
    assert messages.count("looking at the owner's activity failed; trying again") == 1
    assert messages.count("looking at the owner's activity works again") == 1


def _settings(tmp_path: Path, **extra: object) -> object:
    base = {"token": "t", "solvers": {"8.8": "/x"}, "data_dir": tmp_path}
    return load_settings(None, {**base, **extra})


def test_watch_for_uses_only_the_probes_its_settings_need(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    plain = watch_for(_settings(tmp_path))  # type: ignore[arg-type]
    assert (plain.probes.idle, plain.probes.load, plain.probes.memory) == (None, None, None)
    full = watch_for(
        _settings(  # type: ignore[arg-type]
            tmp_path,
            schedule=["always idle=5m"],
            idle_source="file",
            idle_file=tmp_path / "touched",
            max_other_cpu_percent=40,
            min_free_memory_bytes="1GiB",
        )
    )
    assert full.probes.idle is not None and full.probes.idle() == float("inf")
    assert full.probes.load is not None and full.probes.memory is not None
    monkeypatch.delenv("DISPLAY", raising=False)
    with pytest.raises(ConfigError, match="idle_source: x11: no X11 display"):
        watch_for(_settings(tmp_path, schedule=["always idle=5m"], idle_source="x11"))  # type: ignore[arg-type]
