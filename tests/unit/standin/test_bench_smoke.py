"""benchmarks/bench_standin.py still runs (a benchmark nobody runs rots)."""

from __future__ import annotations

import subprocess
import sys

from tests.conftest import PROJECT_ROOT


def test_bench_standin_runs() -> None:
    result = subprocess.run(
        [sys.executable, str(PROJECT_ROOT / "benchmarks" / "bench_standin.py"),
         "--years", "1", "--repeat", "1"],
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "x the copy" in result.stdout and "MB/s" in result.stdout
