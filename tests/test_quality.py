"""The code-quality gates run as tests so that `uv run pytest` is the whole of CI."""

from __future__ import annotations

import shutil
import subprocess
import sys

import pytest

from tests.conftest import PROJECT_ROOT


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        args, cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=600, check=False
    )


def _tool(name: str) -> str:
    found = shutil.which(name, path=str(PROJECT_ROOT / ".venv" / "bin")) or shutil.which(name)
    if found is None:
        pytest.fail(f"{name} is not installed: run the tests through `uv run pytest`")
    return found


def test_ruff_lint() -> None:
    result = _run(_tool("ruff"), "check", "src", "tests", "benchmarks")
    assert result.returncode == 0, result.stdout + result.stderr


def test_ruff_format() -> None:
    result = _run(_tool("ruff"), "format", "--check", "src", "tests", "benchmarks")
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.slow
def test_mypy_strict_on_src() -> None:
    result = _run(sys.executable, "-m", "mypy")
    assert result.returncode == 0, result.stdout + result.stderr


def test_import_rules() -> None:
    """docs/architecture.md's import rules, enforced by import-linter."""
    result = _run(_tool("lint-imports"))
    assert result.returncode == 0, result.stdout + result.stderr
