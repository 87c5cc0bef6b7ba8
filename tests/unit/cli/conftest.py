"""Run the real `winjobs` entry point in-process against the fake driver."""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.unit.cli.fake_driver import BASE_URL, FakeDriver
from winjobs.cli import common, follow, main
from winjobs.cli.userconfig import Connection
from winjobs.client import DriverClient


@dataclass
class Result:
    code: int
    out: str
    err: str


Cli = Callable[..., Result]


@pytest.fixture
def fake() -> FakeDriver:
    return FakeDriver()


@pytest.fixture
def user_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An isolated user config folder; no WINJOBS_* variable leaks in from the caller."""
    folder = tmp_path / "userconfig"
    for name in ("WINJOBS_DRIVER", "WINJOBS_TOKEN", "WINJOBS_DEBUG"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("WINJOBS_CONFIG", str(folder / "config.yaml"))
    monkeypatch.setenv("COLUMNS", "200")
    return folder


@pytest.fixture
def cli(
    fake: FakeDriver,
    user_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> Cli:
    """`cli("show", "3")` runs `winjobs show 3` as alice against the fake driver."""
    seen: list[Connection] = []

    def make_client(connection: Connection) -> DriverClient:
        seen.append(connection)
        if connection.driver_url != BASE_URL:
            raise AssertionError(f"unexpected driver URL {connection.driver_url}")
        http = httpx.Client(
            base_url=connection.driver_url,
            transport=fake.transport(),
            headers={"Authorization": f"Bearer {connection.token}"},
        )
        return DriverClient(http)

    monkeypatch.setattr(common, "make_client", make_client)
    monkeypatch.setattr(follow, "POLL_INTERVAL_S", 0.0)

    def run(*args: str, auth: bool = True) -> Result:
        credentials = ["--driver", BASE_URL, "--token", "alice-token"] if auth else []
        argv = ["winjobs", args[0], *credentials, *args[1:]]
        monkeypatch.setattr(sys, "argv", argv)
        capsys.readouterr()
        try:
            main()
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
        captured = capsys.readouterr()
        return Result(code, captured.out, captured.err)

    return run
