"""The agent loop against the honest fake driver, with a small solver stand-in."""

from __future__ import annotations

import io
import os
import re
import signal
import sys
import threading
import time
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest

from tests.unit.worker.fake_driver import FakeDriver, FakeTask
from winjobs.antares.archive import pack_study
from winjobs.client import ClientError
from winjobs.wire import FailureEvidence, FailureKind, PolicyState, TaskStatus
from winjobs.worker.agent import Agent
from winjobs.worker.owner import OwnerWatch
from winjobs.worker.policy import Policy, windows_from
from winjobs.worker.probes import Probes
from winjobs.worker.retry import Backoff
from winjobs.worker.settings import WorkerSettings, load_settings
from winjobs.worker.shutdown import Shutdown, signals_to
from winjobs.worker.solvers import Solver, check_solvers, config_fingerprint

MINI_SOLVER = Path(__file__).with_name("mini_solver.py")


def _study(root: Path, nbyears: int) -> bytes:
    study = root / "study-src"
    (study / "settings").mkdir(parents=True)
    (study / "input").mkdir()
    (study / "study.antares").write_text("[antares]\nversion = 880\ncaption = tiny\n")
    (study / "settings" / "generaldata.ini").write_text(
        "[general]\nmode = Economy\nnbyears = "
        f"{nbyears}\nyear-by-year = true\nuser-playlist = false\n\n[output]\nsynthesis = true\n"
    )
    packed = pack_study(study, root / "study.zip")
    return packed.path.read_bytes()


class World:
    """A fake driver, a worker configured against it, and a tiny study."""

    def __init__(self, tmp_path: Path, solvers: dict[str, Solver], study: bytes) -> None:
        self.tmp_path = tmp_path
        self.driver = FakeDriver(heartbeat_interval_s=0.05)
        self.driver.max_claim_wait_s = 0.2
        self.solvers = solvers
        self.study = study
        self.pid_file = tmp_path / "solver-pids"
        self.overrides: dict[str, Any] = {}
        self.shutdown = Shutdown()

    def settings(self) -> WorkerSettings:
        base = {
            "token": "worker-secret",
            "solvers": {"8.8": str(self.solvers["8.8"].path)},
            "name": "unit-worker",
            "cores": 2,
            "data_dir": self.tmp_path / "data",
            "claim_wait_s": 0.2,
            "min_free_disk_bytes": 0,
        }
        return load_settings(None, {**base, **self.overrides})

    def agent(self, shutdown: Shutdown | None = None, owner: OwnerWatch | None = None) -> Agent:
        return Agent(
            self.settings(),
            self.driver.client(),
            self.solvers,
            shutdown=shutdown,
            backoff=Backoff(initial_s=0.02, max_s=0.1),
            owner=owner,
        )

    def add(self, years: list[int], **extra: Any) -> FakeTask:
        return self.driver.add_task(years, self.study, **extra)

    def solver_pids(self, count: int = 1, timeout: float = 10.0) -> list[int]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.pid_file.exists():
                pids = [int(line) for line in self.pid_file.read_text().split()]
                if len(pids) >= count:
                    return pids
            time.sleep(0.01)
        raise AssertionError("the solver never started")


@pytest.fixture(scope="module")
def checked_solvers(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Solver]:
    """The mini solver, checked once (its `-v` check costs an interpreter start)."""
    solver = tmp_path_factory.mktemp("bin") / "antares-8.8-solver"
    solver.write_text(f"#!{sys.executable}\n" + MINI_SOLVER.read_text(), encoding="utf-8")
    solver.chmod(0o755)
    return check_solvers({"8.8": solver})


@pytest.fixture(scope="module")
def study(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    return _study(tmp_path_factory.mktemp("study"), nbyears=6)


@pytest.fixture
def world(
    tmp_path: Path,
    checked_solvers: dict[str, Solver],
    study: bytes,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[World]:
    for key in list(os.environ):
        if key.startswith(("WINJOBS_WORKER_", "MINI_")):
            monkeypatch.delenv(key)
    monkeypatch.setenv("MINI_PID_FILE", str(tmp_path / "solver-pids"))
    yield World(tmp_path, checked_solvers, study)


def _run_in_thread(agent: Agent, **kwargs: Any) -> threading.Thread:
    thread = threading.Thread(target=agent.run, kwargs=kwargs, daemon=True)
    thread.start()
    return thread


def _wait(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition never met")
        time.sleep(0.01)


def _mc_ind_years(output: bytes) -> list[int]:
    with zipfile.ZipFile(io.BytesIO(output)) as archive:
        names = archive.namelist()
    assert all(n.startswith("20240501-1000eco-") for n in names)  # under the run's name
    folders = {n.split("mc-ind/")[1][:5] for n in names if "mc-ind/" in n}
    return sorted(int(folder) - 1 for folder in folders if folder.isdigit())


def _alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def test_tasks_run_with_their_years_and_the_study_is_downloaded_once(world: World) -> None:
    first = world.add([0, 1, 2])
    second = world.add([4, 5])
    agent = world.agent()
    assert agent.run(exit_when_idle=True) == 2
    assert first.status is TaskStatus.SUCCEEDED
    assert second.status is TaskStatus.SUCCEEDED
    assert first.output is not None and second.output is not None
    assert _mc_ind_years(first.output) == [0, 1, 2]
    assert _mc_ind_years(second.output) == [4, 5]
    assert "Quitting the solver gracefully" in (first.output_log_tail or "")
    assert len(world.driver.paths("GET")) == 1  # one download for both tasks
    registration = world.driver.workers[1]
    assert (registration.name, registration.cores, registration.versions) == (
        "unit-worker",
        2,
        ["8.8"],
    )
    assert list((world.tmp_path / "data" / "tasks").iterdir()) == []  # acknowledged: deleted
    assert [p.name for p in (world.tmp_path / "data" / "cache").iterdir()] == [
        f"{first.study_sha256}.zip"
    ]


def test_the_solver_gets_the_command_line_and_heartbeats_carry_progress(world: World) -> None:
    world.overrides["keep_task_folders"] = 1
    world.add([1, 3], solver_args=["--year-by-year"])
    world.driver.heartbeat_interval_s = 0.02
    os.environ["MINI_SECONDS_PER_YEAR"] = "0.3"
    try:
        world.agent().run(max_tasks=1)
    finally:
        del os.environ["MINI_SECONDS_PER_YEAR"]
    folder = world.tmp_path / "data" / "tasks" / "job1-task1-a1"
    log = (folder / "solver.log").read_text()
    assert "options: --force-parallel=2 -n 1 --year-by-year (--force-parallel=2)" in log
    beats = [c.body.years_done for c in world.driver.calls if c.path.endswith("/heartbeat")]
    assert beats == sorted(beats)
    assert 1 in beats
    assert (folder / "study" / "settings" / "generaldata.ini").read_text().count(
        "playlist_year + ="
    ) == 2


def test_each_task_gives_its_solver_a_temporary_folder_of_its_own(world: World) -> None:
    """The real solver writes the weekly problems it exports there under names of year
    and week only: two solvers sharing one folder delete each other's files."""
    first, second = world.add([0]), world.add([1])
    assert world.agent().run(exit_when_idle=True) == 2
    told = [
        re.search(r"temporary folder: (\S+), (\S+)", t.output_log_tail or "")
        for t in (first, second)
    ]
    folders = [Path(m.group(1)) for m in told if m is not None]
    assert len(folders) == 2 and folders[0] != folders[1], told
    for found, folder in zip(told, folders, strict=True):
        assert found is not None and found.group(2) == str(folder)  # TEMP too (Windows)
        assert folder.name == "tmp" and folder.is_relative_to(world.tmp_path)
        assert not folder.exists(), "it goes with the task's folder"


def test_a_failing_solver_is_reported_with_the_log_tail(world: World) -> None:
    task = world.add([0, 1, 2])
    os.environ["MINI_FAIL_YEAR"] = "1"
    try:
        world.agent().run(max_tasks=1)
    finally:
        del os.environ["MINI_FAIL_YEAR"]
    assert task.status is TaskStatus.FAILED
    [failure] = task.failures
    assert failure.release is False
    assert failure.attempt == 1
    assert "[fatal] Year 2: the problem is infeasible" in failure.log_tail
    assert failure.reason
    # the solver judged the study: the driver compares this evidence between machines
    assert failure.kind is FailureKind.STUDY
    assert failure.evidence == FailureEvidence(
        exit_status=1, fatal_line="Year 2: the problem is infeasible"
    )


@pytest.mark.skipif(sys.platform == "win32", reason="the mini solver crashes by a POSIX signal")
def test_a_crashing_solver_is_reported_as_the_machines_failure(world: World) -> None:
    task = world.add([0, 1])
    os.environ["MINI_CRASH"] = "1"
    try:
        world.agent().run(max_tasks=1)
    finally:
        del os.environ["MINI_CRASH"]
    [failure] = task.failures
    assert failure.kind is FailureKind.MACHINE
    assert failure.evidence == FailureEvidence(exit_status=-9, signal="SIGKILL")
    assert failure.reason == "the solver crashed (SIGKILL, exit status -9)"


def test_a_hanging_solver_is_killed_at_the_time_limit(world: World) -> None:
    task = world.add([0], time_limit_s=1.0)
    os.environ["MINI_HANG"] = "1"
    try:
        started = time.monotonic()
        world.agent().run(max_tasks=1)
    finally:
        del os.environ["MINI_HANG"]
    assert time.monotonic() - started < 8
    [failure] = task.failures
    assert failure.reason == "killed at the task time limit of 1 s"
    assert failure.kind is FailureKind.UNKNOWN  # a slow machine or a heavy study
    assert "MC-Years" in failure.log_tail
    assert not _alive(world.solver_pids()[0])


@pytest.mark.parametrize("how", ["cancel", "lease lost"])
def test_cancel_or_lost_lease_kills_the_solver_and_drops_the_task(world: World, how: str) -> None:
    task = world.add([0, 1])
    os.environ["MINI_HANG"] = "1"
    try:
        agent = world.agent()
        thread = _run_in_thread(agent, max_tasks=1)
        [pid] = world.solver_pids()
        if how == "cancel":
            world.driver.cancel_job(task.job_id)
        else:
            world.driver.expire_lease(task.id)
        started = time.monotonic()
        _wait(lambda: not _alive(pid), timeout=5)
        assert time.monotonic() - started < 3
        thread.join(10)
        assert not thread.is_alive()
    finally:
        del os.environ["MINI_HANG"]
    reports = [p for p in world.driver.paths("POST") if p.endswith(("/fail", "/complete"))]
    assert reports == []  # the driver already took the task back: nothing to report
    assert task.output is None
    assert list((world.tmp_path / "data" / "tasks").iterdir()) == []


def test_a_finished_result_waits_for_the_driver_to_come_back(world: World) -> None:
    task = world.add([0, 1])
    agent = world.agent()
    original = agent.client.complete_task_upload
    calls = []

    def upload(*args: Any, **kwargs: Any) -> Any:
        calls.append(time.monotonic())
        if len(calls) == 1:
            world.driver.down = True
            threading.Timer(0.5, lambda: setattr(world.driver, "down", False)).start()
        return original(*args, **kwargs)

    agent.client.complete_task_upload = upload  # type: ignore[method-assign]
    agent.run(max_tasks=1)
    assert task.status is TaskStatus.SUCCEEDED
    assert _mc_ind_years(task.output or b"") == [0, 1]
    assert len(calls) >= 2
    assert calls[-1] - calls[0] >= 0.4


def test_a_result_for_a_reassigned_task_is_dropped(world: World) -> None:
    task = world.add([0, 1])
    agent = world.agent()
    original = agent.client.complete_task_upload

    def upload(*args: Any, **kwargs: Any) -> Any:
        world.driver.expire_lease(task.id)  # the lease ran out just before the report
        return original(*args, **kwargs)

    agent.client.complete_task_upload = upload  # type: ignore[method-assign]
    assert agent.run(max_tasks=1) == 1  # no crash
    assert task.status is TaskStatus.QUEUED
    assert task.output is None
    completions = [c.status for c in world.driver.calls if c.path.endswith("/complete")]
    assert completions == [409]


def test_a_task_is_handed_back_when_the_disk_is_too_full(world: World) -> None:
    world.overrides["min_free_disk_bytes"] = 10**18
    task = world.add([0])
    agent = world.agent()
    agent.low_disk_pause_s = 0.01
    agent.run(max_tasks=1)
    assert task.status is TaskStatus.QUEUED
    [release] = task.releases
    assert release.release is True
    assert release.reason.startswith("not enough free disk on the worker")
    assert task.failures == []
    assert world.driver.paths("GET") == []  # nothing downloaded


def test_an_unknown_solver_version_is_handed_back(world: World) -> None:
    task = world.add([0], solver_version="9.2")
    world.agent().run(max_tasks=1)
    [release] = task.releases
    assert "no solver 9.2" in release.reason


def test_registration_sends_the_configuration_and_a_hold_is_logged(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    world.driver.held_reason = "solver crashed 3 times in a row: boom"
    world.add([0])
    with caplog.at_level("WARNING", logger="winjobs.worker.agent"):
        world.agent().run(exit_when_idle=True)
    registration = world.driver.workers[1]
    assert registration.config_sha256 == config_fingerprint(2, world.solvers)
    assert "the driver holds this worker: solver crashed 3 times in a row: boom" in caplog.text
    assert "winjobs worker-admin release unit-worker" in caplog.text


def test_an_interrupted_download_resumes(world: World) -> None:
    task = world.add([0])
    world.driver.cut_downloads_after = len(world.study) // 2 + 1  # the first download only
    world.agent().run(max_tasks=1)
    assert task.status is TaskStatus.SUCCEEDED
    gets = [c for c in world.driver.calls if c.method == "GET"]
    assert len(gets) == 2  # cut once, then fetched again


def test_driver_outage_at_start_and_forgotten_worker(world: World) -> None:
    world.driver.down = True
    threading.Timer(0.3, lambda: setattr(world.driver, "down", False)).start()
    agent = world.agent()
    thread = _run_in_thread(agent, max_tasks=1)
    _wait(lambda: 1 in world.driver.workers)
    world.driver.forget_workers()
    time.sleep(0.3)
    task = world.add([2])
    thread.join(15)
    assert task.status is TaskStatus.SUCCEEDED
    assert len(world.driver.workers) == 1  # registered again
    assert [c.status for c in world.driver.calls].count(404) >= 1


def test_a_bad_token_stops_the_worker(world: World) -> None:
    agent = world.agent()
    agent.client._http.headers["Authorization"] = "Bearer wrong"
    with pytest.raises(ClientError, match="HTTP 401"):
        agent.run()


def test_stale_task_folders_are_removed_at_start(world: World) -> None:
    stale = world.tmp_path / "data" / "tasks" / "job9-task9-a1"
    stale.mkdir(parents=True)
    world.agent().run(exit_when_idle=True)
    assert not stale.exists()


def test_first_stop_request_lets_the_task_finish_then_drains(world: World) -> None:
    task = world.add([0, 1, 2])
    world.add([3])
    shutdown = Shutdown()
    os.environ["MINI_SECONDS_PER_YEAR"] = "0.2"
    try:
        agent = world.agent(shutdown)
        thread = _run_in_thread(agent)
        world.solver_pids()
        shutdown.request()
        thread.join(15)
    finally:
        del os.environ["MINI_SECONDS_PER_YEAR"]
    assert not thread.is_alive()
    assert task.status is TaskStatus.SUCCEEDED
    assert world.driver.tasks[2].status is TaskStatus.QUEUED  # not claimed
    assert world.driver.draining == {1}


def test_second_stop_request_kills_and_hands_the_task_back(world: World) -> None:
    task = world.add([0, 1])
    shutdown = Shutdown()
    os.environ["MINI_HANG"] = "1"
    try:
        agent = world.agent(shutdown)
        thread = _run_in_thread(agent)
        [pid] = world.solver_pids()
        shutdown.request()
        time.sleep(0.2)
        assert _alive(pid)
        shutdown.request()
        thread.join(10)
    finally:
        del os.environ["MINI_HANG"]
    assert not thread.is_alive()
    assert not _alive(pid)
    [release] = task.releases
    assert release.reason == "worker shutting down"
    assert task.status is TaskStatus.QUEUED


def _stop_while_idle(world: World, stop: Callable[[], None]) -> float:
    """Run an idle worker whose claims long-poll for 30 s, `stop()` it 0.5 s in; seconds
    from the stop until `run` returned."""
    world.driver.max_claim_wait_s = 30
    world.overrides["claim_wait_s"] = 30
    agent = world.agent(world.shutdown)
    stopped: list[float] = []

    def stop_it() -> None:
        stopped.append(time.monotonic())
        stop()

    threading.Timer(0.5, stop_it).start()
    with signals_to(world.shutdown):
        assert agent.run() == 0
    return time.monotonic() - stopped[0]


def test_ctrl_c_ends_an_idle_claim_at_once(world: World) -> None:
    latency = _stop_while_idle(world, lambda: os.kill(os.getpid(), signal.SIGINT))
    assert latency < 2
    assert world.shutdown.drain.is_set()
    assert world.driver.draining == {1}


def test_a_stop_that_cannot_interrupt_the_claim_still_ends_it_at_once(world: World) -> None:
    """Windows: Ctrl-C / CTRL_BREAK never interrupt a socket read, so the handler can only
    set the flag (here: from another thread, the claim left blocked in the fake driver)."""
    latency = _stop_while_idle(world, world.shutdown.request)
    assert latency < 2
    assert world.driver.draining == {1}


def test_a_task_the_stopped_claim_brings_back_is_handed_back(world: World) -> None:
    """The driver leases a task to the pending claim just as the worker stops: the task is
    released (not counted as a failure), neither run nor left leased to a gone worker."""
    tasks: list[FakeTask] = []
    world.driver.before_draining = lambda: tasks or tasks.append(world.add([0, 1]))
    latency = _stop_while_idle(world, world.shutdown.request)
    assert latency < 2
    [task] = tasks
    assert task.status is TaskStatus.QUEUED
    assert task.attempt == 1 and not task.failures
    [release] = task.releases
    assert release.reason == "worker shutting down"
    assert not world.pid_file.exists()  # never started


def test_ctrl_c_while_the_driver_answers_a_claim_with_a_task_hands_it_back(
    world: World,
) -> None:
    """The signal lands after the driver leased a task, before its answer reached the
    worker (the race of the Ctrl-C cluster test on a loaded machine): the task comes
    back at once, instead of staying leased to a worker that exited."""
    task = world.add([0, 1])
    world.driver.after_lease = lambda: os.kill(os.getpid(), signal.SIGINT)
    with signals_to(world.shutdown):
        assert world.agent(world.shutdown).run() == 0
    assert task.status is TaskStatus.QUEUED and task.attempt == 1
    [release] = task.releases
    assert release.reason == "worker shutting down"
    assert not world.pid_file.exists()  # never started


def test_second_ctrl_c_during_a_background_upload_exits_cleanly(world: World) -> None:
    """The abort reaches the upload through its stop request; the main thread, waiting
    for it, is not hit by an exception meant for the upload."""
    world.overrides["report_retry_limit_s"] = 60
    task = world.add([0])
    world.driver.broken_routes.add("/complete")  # the upload is retried until the abort
    agent = world.agent(world.shutdown)

    def ctrl_c_twice() -> None:
        _wait(lambda: "/api/v1/tasks/1/complete" in world.driver.paths())
        os.kill(os.getpid(), signal.SIGINT)
        _wait(world.shutdown.drain.is_set)
        time.sleep(0.5)  # the main thread now waits for the upload to end
        os.kill(os.getpid(), signal.SIGINT)

    threading.Thread(target=ctrl_c_twice, daemon=True).start()
    with signals_to(world.shutdown):
        assert agent.run() == 1
    assert task.status is TaskStatus.QUEUED and not task.failures
    # Released once; maybe twice, when the still pending claim got it back meanwhile.
    assert {release.reason for release in task.releases} == {"worker shutting down"}


def test_an_upload_the_driver_keeps_failing_becomes_a_failure_report(world: World) -> None:
    world.overrides["report_retry_limit_s"] = 0.3
    task = world.add([0])
    world.driver.broken_routes.add("/complete")
    world.agent().run(max_tasks=1)
    [failure] = task.failures
    assert failure.reason == "the driver did not take the output: internal error (HTTP 500)"
    assert task.output is None
    assert [c.status for c in world.driver.calls if c.path.endswith("/complete")].count(500) > 1


def test_the_next_task_runs_while_the_last_output_uploads(world: World) -> None:
    first, second = world.add([0]), world.add([1])
    agent = world.agent()
    original = agent.client.complete_task_upload

    def slow_upload(*args: Any, **kwargs: Any) -> Any:
        time.sleep(1.0)  # a large run on a slow network
        return original(*args, **kwargs)

    agent.client.complete_task_upload = slow_upload  # type: ignore[method-assign]
    assert agent.run(max_tasks=2) == 2
    assert first.status is TaskStatus.SUCCEEDED and second.status is TaskStatus.SUCCEEDED
    calls = world.driver.calls
    leases = [i for i, c in enumerate(calls) if c.path.endswith("/claim") and c.status == 200]
    first_upload = next(i for i, c in enumerate(calls) if c.path == "/api/v1/tasks/1/complete")
    assert leases[1] < first_upload  # task 2 was claimed before task 1's output was in
    beats_during_upload = [
        c for c in calls[leases[1] : first_upload] if c.path == "/api/v1/tasks/1/heartbeat"
    ]
    assert beats_during_upload  # the finished attempt kept its lease while uploading


def test_a_cancel_during_the_upload_stops_it(world: World) -> None:
    task = world.add([0])
    agent = world.agent()
    original = agent.client.complete_task_upload

    def upload_after_cancel(*args: Any, **kwargs: Any) -> Any:
        world.driver.cancel_job(task.job_id)
        time.sleep(0.4)  # the heartbeat hears of it meanwhile
        return original(*args, **kwargs)

    agent.client.complete_task_upload = upload_after_cancel  # type: ignore[method-assign]
    agent.run(max_tasks=1)
    assert task.output is None
    assert not any(c.path.endswith("/complete") for c in world.driver.calls)
    assert list((world.tmp_path / "data" / "tasks").iterdir()) == []


def test_an_output_the_driver_refuses_becomes_a_failure_report(world: World) -> None:
    task = world.add([0, 1])
    world.driver.refuse_outputs = "the run lacks mc-ind year 00002"
    world.agent().run(max_tasks=1)
    [failure] = task.failures
    assert failure.reason == (
        "the driver refused the output: the run lacks mc-ind year 00002 (HTTP 422)"
    )
    assert "Quitting the solver gracefully" in failure.log_tail


# --------------------------------------------------------------------------- the owner first


class Owner:
    """The machine's owner as the worker sees them: seconds since their last input."""

    def __init__(self) -> None:
        self.idle_s = 3600.0

    def comes_back(self) -> None:
        self.idle_s = 0.0

    def leaves(self) -> None:
        self.idle_s = 3600.0

    def watch(self, cores: int = 1, vacate_after_s: float = 60.0) -> OwnerWatch:
        policy = Policy(
            windows=windows_from([f"always cores={cores} idle=10m"]),
            default_cores=2,
            resume_idle_s=1.0,
            vacate_after_s=vacate_after_s,
        )
        return OwnerWatch(policy, Probes(idle=lambda: self.idle_s), check_s=0.02)


def _status(pid: int) -> str:
    try:
        return str(psutil.Process(pid).status())
    except psutil.NoSuchProcess:
        return "gone"


def test_no_claim_while_the_owner_is_at_the_keyboard(world: World) -> None:
    owner = Owner()
    owner.comes_back()
    task = world.add([0, 1])
    thread = _run_in_thread(world.agent(owner=owner.watch(cores=1)), max_tasks=1)
    _wait(lambda: len(world.driver.paused_claims) >= 2)  # told at once, then kept alive
    paused = world.driver.paused_claims[0]
    assert paused.policy is not None and paused.policy.state is PolicyState.OWNER_ACTIVE
    assert "keyboard or mouse used 0s ago (needs 10m idle)" in paused.policy.reason
    assert task.attempt == 0  # nothing was leased
    assert world.driver.workers[1].policy.state is PolicyState.OWNER_ACTIVE  # type: ignore[union-attr]
    owner.leaves()
    thread.join(20)
    assert not thread.is_alive()
    assert task.status is TaskStatus.SUCCEEDED
    claims = [c.body for c in world.driver.calls if c.path.endswith("/claim")]
    working = [c for c in claims if c.takes_work]
    assert working and working[0].free_cores == 1  # the window's cores
    assert working[0].policy.state is PolicyState.IN_SCHEDULE


def test_owner_back_mid_task_suspends_the_solver_then_resumes_it(world: World) -> None:
    owner = Owner()
    task = world.add([0, 1, 2, 3])
    world.driver.heartbeat_interval_s = 0.05
    os.environ["MINI_SECONDS_PER_YEAR"] = "0.4"
    try:
        thread = _run_in_thread(world.agent(owner=owner.watch()), max_tasks=1)
        [pid] = world.solver_pids()
        owner.comes_back()
        _wait(lambda: _status(pid) == psutil.STATUS_STOPPED)
        _wait(lambda: task.suspended_beats > 0)  # heartbeats go on, and say so
        beats = task.suspended_beats
        _wait(lambda: task.suspended_beats > beats + 3)  # the lease is renewed meanwhile
        owner.leaves()
        _wait(lambda: _status(pid) != psutil.STATUS_STOPPED)
        thread.join(30)
    finally:
        del os.environ["MINI_SECONDS_PER_YEAR"]
    assert task.status is TaskStatus.SUCCEEDED, (task.failures, task.releases)
    assert not task.failures and not task.releases
    assert task.output is not None and _mc_ind_years(task.output) == [0, 1, 2, 3]


def test_owner_who_stays_gets_the_task_vacated_and_run_elsewhere(world: World) -> None:
    owner = Owner()
    task = world.add([0, 1])
    os.environ["MINI_HANG"] = "1"
    try:
        office = world.agent(owner=owner.watch(vacate_after_s=1.0))
        thread = _run_in_thread(office)
        [pid] = world.solver_pids()
        owner.comes_back()
        _wait(lambda: bool(task.releases))
        assert task.suspended_beats > 0  # it was suspended first (said at once, heartbeat)
        _wait(lambda: not _alive(pid))  # vacated: killed while suspended
    finally:
        del os.environ["MINI_HANG"]
    [release] = task.releases
    assert release.release and release.reason.startswith("vacated: suspended for ")
    assert "[solver][infos] MC-Years" in release.log_tail
    assert not task.failures and task.status is TaskStatus.QUEUED
    # the owner is still there: the worker stays, takes nothing, says why
    _wait(
        lambda: any(
            c.policy is not None and c.policy.state is PolicyState.OWNER_ACTIVE
            for c in world.driver.paused_claims
        )
    )
    # another worker runs the years at once
    assert world.agent().run(max_tasks=1) == 1
    assert task.status is TaskStatus.SUCCEEDED and task.attempt == 2
    assert task.output is not None and _mc_ind_years(task.output) == [0, 1]
    world.shutdown.request()
    office.shutdown.request()
    thread.join(10)
    assert not thread.is_alive()


def test_a_task_that_comes_as_the_owner_returns_is_handed_back(world: World) -> None:
    owner = Owner()
    task = world.add([0, 1])
    watch = owner.watch()

    def owner_back() -> None:
        owner.comes_back()
        watch.step()

    world.driver.after_lease = owner_back
    agent = world.agent(owner=watch)
    thread = _run_in_thread(agent)
    _wait(lambda: bool(task.releases))
    [release] = task.releases
    assert release.reason.startswith("the machine's owner comes first: keyboard or mouse used")
    assert task.status is TaskStatus.QUEUED and not task.failures
    assert not world.pid_file.exists()  # never started
    agent.shutdown.request()
    thread.join(10)
    assert not thread.is_alive()
