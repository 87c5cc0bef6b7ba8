"""Smoke test of benchmarks/bench_driver.py on a tiny load (the figures are not checked:
speed targets belong to the benchmark, not to the tests)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.conftest import PROJECT_ROOT


@pytest.mark.slow
def test_bench_driver_runs() -> None:
    result = subprocess.run(
        [
            sys.executable,
            str(PROJECT_ROOT / "benchmarks" / "bench_driver.py"),
            "--backend", "sqlite", "--workers", "4", "--processes", "2", "--seconds", "1",
            "--jobs", "2", "--years", "3", "--claim-years", "20",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert any(line.startswith("sqlite     cycles") for line in lines), result.stdout
    assert any(line.startswith("sqlite     claims") for line in lines), result.stdout
    assert "worker error" not in result.stdout
