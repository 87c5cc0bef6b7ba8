"""The user CLI as a user drives it: `winjobs ...` subprocesses against a real driver
(`winjobs driver` on a free loopback port) and real workers running the stand-in solver.

Two drivers: `idle_driver` has no worker, so a submitted job stays queued for as long as
a test needs (priority, cancel); `busy_driver` has two workers whose stand-in solver fails
MC year 8 (0-based 7), so a test gets a failed job by asking for that year and every
other test avoids it.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import yaml

from tests.integration.harness import watch_me
from winjobs.cli.demo import free_port
from winjobs.cli.processes import Child, Children

TOKENS = {"alice": "alice-e2e-token", "bob": "bob-e2e-token", "ops": "ops-e2e-token"}
WORKER_TOKEN = "pool-e2e-token"
FAILING_YEAR = 8  # 1-based, as users give years
SECONDS_PER_YEAR = "0.2"


def clean_env(**extra: str) -> dict[str, str]:
    """The caller's environment without any WINJOBS_* setting, plus `extra`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("WINJOBS_")}
    env.update({"COLUMNS": "200", "PYTHONUNBUFFERED": "1", **extra})
    return env


def winjobs(*args: str) -> list[str]:
    return [sys.executable, "-m", "winjobs", *args]


@dataclass
class Driver:
    url: str
    root: Path
    children: Children

    def log(self) -> str:
        return (self.root / "driver.log").read_text(errors="replace")


def wait_for(what: str, ready: object, children: Children, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    assert callable(ready)
    while not ready():
        children.check_alive()
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not ready after {timeout} s")
        time.sleep(0.2)


def healthy(url: str) -> bool:
    try:
        return httpx.get(f"{url}/health", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def start_driver(root: Path, children: Children) -> Driver:
    root.mkdir(parents=True)
    port = free_port()
    config = {
        "host": "127.0.0.1",
        "port": port,
        "data_dir": str(root / "data"),
        "max_attempts": 2,
        "tokens": [
            {"name": "alice", "role": "user", "token": TOKENS["alice"]},
            {"name": "bob", "role": "user", "token": TOKENS["bob"]},
            {"name": "ops", "role": "admin", "token": TOKENS["ops"]},
            {"name": "pool", "role": "worker", "token": WORKER_TOKEN},
        ],
    }
    (root / "driver.yaml").write_text(yaml.safe_dump(config))
    children.start(
        Child(
            "driver",
            winjobs("driver", "--config", str(root / "driver.yaml"), *watch_me()),
            root / "driver.log",
        ),
        clean_env(),
    )
    url = f"http://127.0.0.1:{port}"
    wait_for("the driver", lambda: healthy(url), children)
    return Driver(url, root, children)


def start_workers(driver: Driver, count: int) -> None:
    solver = Path(sys.executable).parent / "winjobs-standin-solver"
    for index in range(1, count + 1):
        root = driver.root / f"worker-{index}"
        root.mkdir()
        config = {
            "driver_url": driver.url,
            "token": WORKER_TOKEN,
            "name": f"e2e-worker-{index}",
            "cores": 2,
            "data_dir": str(root / "data"),
            "solvers": {"8.8": str(solver)},
        }
        (root / "worker.yaml").write_text(yaml.safe_dump(config))
        env = clean_env(
            WINJOBS_STANDIN_SECONDS_PER_YEAR=SECONDS_PER_YEAR,
            WINJOBS_STANDIN_FAIL_YEAR=str(FAILING_YEAR - 1),
        )
        driver.children.start(
            Child(
                f"worker {index}",
                winjobs("worker", "--config", str(root / "worker.yaml"), *watch_me()),
                root / "worker.log",
            ),
            env,
        )

    def registered() -> bool:
        answer = httpx.get(
            f"{driver.url}/api/v1/workers", headers={"Authorization": f"Bearer {TOKENS['alice']}"}
        )
        return len(answer.json()["workers"]) >= count

    wait_for("the workers", registered, driver.children)


@pytest.fixture(scope="session")
def idle_driver(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Driver]:
    with Children(grace=10) as children:
        yield start_driver(tmp_path_factory.mktemp("e2e") / "idle-driver", children)


@pytest.fixture(scope="session")
def busy_driver(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Driver]:
    with Children(grace=10) as children:
        driver = start_driver(tmp_path_factory.mktemp("e2e") / "busy-driver", children)
        start_workers(driver, 2)
        yield driver


@dataclass
class User:
    """A user's shell: their own config folder, the driver in WINJOBS_DRIVER."""

    home: Path
    driver_url: str
    token: str = TOKENS["alice"]

    @property
    def config_path(self) -> Path:
        return self.home / "winjobs" / "config.yaml"

    def env(self, **extra: str) -> dict[str, str]:
        base = {
            "WINJOBS_CONFIG": str(self.config_path),
            "WINJOBS_DRIVER": self.driver_url,
            "WINJOBS_TOKEN": self.token,
        }
        base.update(extra)
        return clean_env(**base)

    def run(
        self,
        *args: str,
        timeout: float = 120,
        token: str | None = None,
        cwd: Path | None = None,
        **env: str,
    ) -> subprocess.CompletedProcess[str]:
        """`winjobs ARGS` as this user; `token` replaces theirs, `env` adds variables."""
        if token is not None:
            env["WINJOBS_TOKEN"] = token
        return subprocess.run(
            winjobs(*args),
            cwd=cwd,
            env=self.env(**env),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )


@pytest.fixture
def idle_user(tmp_path: Path, idle_driver: Driver) -> User:
    return User(tmp_path / "home", idle_driver.url)


@pytest.fixture
def busy_user(tmp_path: Path, busy_driver: Driver) -> User:
    return User(tmp_path / "home", busy_driver.url)


def one_error_line(result: subprocess.CompletedProcess[str]) -> str:
    """The error a command printed: exactly one line starting with `error: `."""
    lines = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr, result.stderr
    return lines[0]
