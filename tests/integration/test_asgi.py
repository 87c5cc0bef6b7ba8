"""`uvicorn winjobs.driver.asgi:app`, as the original tool's driver was started: settings
from WINJOBS_DRIVER_CONFIG, a working API, and a second process on the same data folder
(what `--workers 2` would start) refused with the reason."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.helpers.waiting import GENEROUS_S, wait_until

pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _uvicorn(config: Path, port: int) -> subprocess.Popen[str]:
    env = {**os.environ, "WINJOBS_DRIVER_CONFIG": str(config)}
    argv = [sys.executable, "-m", "uvicorn", "winjobs.driver.asgi:app"]
    argv += ["--host", "127.0.0.1", "--port", str(port), "--workers", "1"]
    return subprocess.Popen(
        argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "driver.yaml"
    path.write_text(
        f"data_dir: {(tmp_path / 'data').as_posix()}\n"
        "tokens:\n  - {name: alice, role: user, token: alice-secret}\n",
        encoding="utf-8",
    )
    return path


@pytest.fixture
def served(config: Path) -> Iterator[str]:
    port = _free_port()
    process = _uvicorn(config, port)
    url = f"http://127.0.0.1:{port}"

    def healthy() -> bool:
        assert process.poll() is None, process.stdout.read() if process.stdout else ""
        try:
            return httpx.get(f"{url}/health", timeout=2).status_code == 200
        except httpx.TransportError:
            return False

    try:
        wait_until(healthy, GENEROUS_S, "uvicorn to serve the driver")
        yield url
    finally:
        process.terminate()
        process.communicate(timeout=GENEROUS_S)  # waits, and closes its pipe


def test_uvicorn_serves_the_driver_from_its_config_variable(served: str) -> None:
    me = httpx.get(f"{served}/api/v1/me", headers={"Authorization": "Bearer alice-secret"})
    assert me.status_code == 200 and me.json()["name"] == "alice"
    assert httpx.get(f"{served}/api/v1/jobs").status_code == 401


def test_a_second_process_on_the_same_data_folder_stops_with_the_reason(
    served: str, config: Path
) -> None:
    second = _uvicorn(config, _free_port())
    output, _ = second.communicate(timeout=GENEROUS_S)
    assert second.returncode != 0
    assert "is already served by driver process" in output and "--workers 1" in output
    assert httpx.get(f"{served}/health").status_code == 200  # the first one serves on
