"""The demo's pieces that need no driver: configs, environment, solver, folder, children."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import psutil
import pytest
import yaml

from winjobs.cli.common import InputError
from winjobs.cli.demo import (
    DemoPlan,
    child_environment,
    free_port,
    prepare_root,
    standin_solver,
    write_configs,
)
from winjobs.cli.demo_owner import OwnerScene
from winjobs.cli.processes import Child, ChildFailed, Children
from winjobs.worker.settings import load_settings


def plan(tmp_path: Path, workers: int = 2) -> DemoPlan:
    return DemoPlan(
        root=tmp_path,
        port=8123,
        workers=workers,
        antares_version="8.8",
        solver=tmp_path / "solver",
        seconds_per_year="0.5",
    )


def test_configs_use_the_documented_keys_and_distinct_tokens(tmp_path: Path) -> None:
    demo = plan(tmp_path, workers=3)
    driver_path, worker_paths = write_configs(demo)
    driver = yaml.safe_load(driver_path.read_text())
    assert (driver["host"], driver["port"]) == ("127.0.0.1", 8123)
    roles = {t["role"]: t["token"] for t in driver["tokens"]}
    assert roles == {
        "user": demo.user_token,
        "admin": demo.admin_token,
        "worker": demo.worker_token,
    }
    assert len(set(roles.values())) == 3
    workers = [yaml.safe_load(p.read_text()) for p in worker_paths]
    assert [w["name"] for w in workers] == ["demo-worker-1", "demo-worker-2", "demo-worker-3"]
    assert {w["driver_url"] for w in workers} == {"http://127.0.0.1:8123"}
    assert {w["token"] for w in workers} == {demo.worker_token}
    assert workers[0]["solvers"] == {"8.8": str(tmp_path / "solver")}
    assert len({w["data_dir"] for w in workers}) == 3


def test_with_an_owner_worker_1_is_an_office_pc_the_others_are_not(tmp_path: Path) -> None:
    scene = OwnerScene(tmp_path, after_s=2)
    demo = DemoPlan(
        root=tmp_path,
        port=8123,
        workers=2,
        antares_version="8.8",
        solver=tmp_path / "solver",
        seconds_per_year="3",
        owner=scene,
    )
    _, worker_paths = write_configs(demo)
    office, other = (load_settings(path) for path in worker_paths)  # valid worker configs
    assert office.schedule == ["always idle=10m"]
    assert (office.idle_source.value, office.idle_file) == ("file", scene.marker)
    assert office.vacate_after_s == 5
    assert other.schedule == ["always"] and other.idle_file is None


def test_the_owner_comes_back_after_worker_1_s_first_solver_started(tmp_path: Path) -> None:
    scene = OwnerScene(tmp_path, after_s=0.2)
    scene.start()
    try:
        time.sleep(0.5)
        assert not scene.marker.exists()  # worker 1 has not started a solver yet
        task = tmp_path / "worker-1" / "tasks" / "job1-task1-a1"
        task.mkdir(parents=True)
        (task / "solver.log").write_text("")
        deadline = time.monotonic() + 10
        while not scene.marker.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert scene.came_back and scene.marker.exists()
        first = scene.marker.stat().st_mtime
        while scene.marker.stat().st_mtime == first and time.monotonic() < deadline:
            time.sleep(0.05)
        assert scene.marker.stat().st_mtime > first  # and stays: touched again and again
    finally:
        scene.stop()


def test_child_environment_drops_the_users_winjobs_settings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WINJOBS_TOKEN", "users-own-token")
    monkeypatch.setenv("WINJOBS_WORKER_CORES", "64")
    monkeypatch.setenv("WINJOBS_STANDIN_FAIL_YEAR", "3")
    env = child_environment(plan(tmp_path))
    assert not {"WINJOBS_TOKEN", "WINJOBS_WORKER_CORES", "WINJOBS_STANDIN_FAIL_YEAR"} & set(env)
    assert env["WINJOBS_STANDIN_SECONDS_PER_YEAR"] == "0.5"
    assert env["WINJOBS_STANDIN_VERSION"] == "8.8"
    assert env["PATH"] == __import__("os").environ["PATH"]


def test_the_standin_console_script_is_found_beside_python(tmp_path: Path) -> None:
    solver = standin_solver(tmp_path / "bin")
    assert solver.name.startswith("winjobs-standin-solver")
    assert solver.parent == Path(sys.executable).parent
    assert not (tmp_path / "bin").exists()


def test_without_the_console_script_a_launcher_is_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "executable", str(tmp_path / "elsewhere" / "python"))
    monkeypatch.setattr("shutil.which", lambda name: None)
    launcher = standin_solver(tmp_path / "bin")
    assert launcher.parent == tmp_path / "bin"
    text = launcher.read_text()
    assert str(tmp_path / "elsewhere" / "python") in text and "-m winjobs.standin" in text


def test_prepare_root(tmp_path: Path) -> None:
    assert prepare_root(tmp_path / "new") == (tmp_path / "new").resolve()
    assert prepare_root(tmp_path / "new") == (tmp_path / "new").resolve()  # empty: fine
    (tmp_path / "new" / "x").write_text("")
    with pytest.raises(InputError, match="is not an empty folder"):
        prepare_root(tmp_path / "new")
    fresh = prepare_root(None)
    try:
        assert fresh.is_dir() and fresh.name.startswith("winjobs-demo-")
    finally:
        fresh.rmdir()


def test_free_port_is_bindable() -> None:
    import socket

    port = free_port()
    with socket.socket() as s:
        s.bind(("127.0.0.1", port))


SLEEPER = (
    "import time, subprocess, sys; "
    "subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)']); time.sleep(60)"
)
STUBBORN = (
    "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
    "print('ready', flush=True); time.sleep(60)"
)


def test_children_are_stopped_with_their_own_children(tmp_path: Path) -> None:
    with Children(grace=5) as children:
        child = children.start(
            Child("sleeper", [sys.executable, "-c", SLEEPER], tmp_path / "sleeper.log")
        )
        time.sleep(0.5)
        assert child.pid is not None
        family = [psutil.Process(child.pid), *psutil.Process(child.pid).children(recursive=True)]
        assert len(family) == 2
    _, alive = psutil.wait_procs(family, timeout=5)
    assert alive == []


@pytest.mark.skipif(sys.platform == "win32", reason="SIGTERM cannot be ignored on Windows")
def test_a_child_ignoring_the_polite_stop_is_killed(tmp_path: Path) -> None:
    log = tmp_path / "stubborn.log"
    children = Children(grace=0.5)
    child = children.start(Child("stubborn", [sys.executable, "-c", STUBBORN], log))
    deadline = time.monotonic() + 10
    while "ready" not in log.read_text() and time.monotonic() < deadline:
        time.sleep(0.05)
    started = time.monotonic()
    children.stop_all()
    assert child.exit_code() is not None
    assert time.monotonic() - started < 5


def test_a_dead_child_is_reported_with_its_log(tmp_path: Path) -> None:
    code = "import sys; print('cannot bind port 8000'); sys.exit(2)"
    with Children() as children:
        child = children.start(Child("driver", [sys.executable, "-c", code], tmp_path / "d.log"))
        while child.exit_code() is None:
            time.sleep(0.05)
        with pytest.raises(
            ChildFailed,
            match=r"the driver stopped \(exit status 2\).*"
            r"cannot bind port 8000",
        ):
            children.check_alive()
