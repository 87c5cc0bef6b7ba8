"""`winjobs worker` as users run it: start-up errors are one line and exit status 2."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.unit.worker.conftest import ScriptFactory

WINJOBS = Path(sys.executable).parent / "winjobs"


def _run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(WINJOBS), "worker", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        check=False,
    )


def test_help_lists_the_options() -> None:
    result = _run("--help", env={**os.environ, "COLUMNS": "250"})
    assert result.returncode == 0
    for option in (
        "--config",
        "--max-tasks",
        "--exit-when-idle",
        "--driver-url",
        "--token",
        "--name",
        "--cores",
        "--data-dir",
        "--solver",
        "--schedule",
        "--idle-source",
        "--idle-file",
        "--vacate-after-s",
        "--max-other-cpu-percent",
        "--min-free-memory",
        "WINJOBS_WORKER_CORES",
    ):
        assert option in result.stdout


def test_invalid_settings_exit_2_naming_the_key(tmp_path: Path) -> None:
    config = tmp_path / "worker.yaml"
    config.write_text('token: t\ncores: -3\nsolvers: {"8.8": /x}\n')
    result = _run("--config", str(config))
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"error: invalid worker settings (config file {config}): "
        "`cores`: Input should be greater than or equal to 0"
    ]


def test_a_bad_solver_stops_the_worker_before_any_work(
    tmp_path: Path, make_script: ScriptFactory
) -> None:
    wrong = make_script("antares-solver", "print('9.2.0 (revision )')\n")
    result = _run(
        "--token",
        "t",
        "--driver-url",
        "http://127.0.0.1:9",  # nothing listens: the check must fail first
        "--data-dir",
        str(tmp_path / "data"),
        "--solver",
        f"8.8={wrong}",
        "--solver",
        f"9.1={tmp_path / 'missing-solver'}",
    )
    assert result.returncode == 2
    message = result.stderr.strip()
    assert "is version 9.2.0, not 8.8" in message
    assert "solver 9.1" in message and "no such file" in message
    assert not (tmp_path / "data").exists()


def test_a_malformed_solver_flag(tmp_path: Path) -> None:
    result = _run("--token", "t", "--solver", "8.8")
    assert result.returncode == 2
    assert "--solver '8.8': expected VERSION=PATH" in result.stderr


def test_a_bad_schedule_or_idle_source_exits_2(tmp_path: Path, make_script: ScriptFactory) -> None:
    solver = make_script("antares-8.8-solver", "print('8.8.10 (revision )')\n")
    common = ("--token", "t", "--data-dir", str(tmp_path / "data"), "--solver", f"8.8={solver}")
    bad = _run(*common, "--schedule", "sat,sun", "--schedule", "weekdays 19:00-07:30")
    assert bad.returncode == 2
    assert "`schedule.1`: Value error, 'weekdays': days are mon, tue" in bad.stderr
    env = {k: v for k, v in os.environ.items() if k != "DISPLAY"}
    x11 = _run(*common, "--schedule", "always idle=5m", "--idle-source", "x11", env=env)
    assert x11.returncode == 2
    assert x11.stderr.strip().splitlines()[-1] == (
        "error: idle_source: x11: no X11 display ($DISPLAY is not set)"
    )
