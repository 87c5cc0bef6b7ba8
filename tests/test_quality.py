"""The code-quality gates run as tests so that `uv run pytest` is the whole of CI."""

from __future__ import annotations

import shutil
import subprocess
import sys

import pytest

from tests.conftest import PROJECT_ROOT
from tests.helpers.doc_snippets import documents, python_blocks


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


def test_documented_python_is_ruff_clean() -> None:
    """The Python blocks of README.md and docs/ meet the code's own lint and format."""
    blocks = [(document, block) for document in documents() for block in python_blocks(document)]
    assert blocks, "no Python block found in the documents: the pattern is wrong"
    for document, block in blocks:
        name = f"{document.relative_to(PROJECT_ROOT)}.py"
        for command in (
            ("check", "--stdin-filename", name),
            ("format", "--check", "--stdin-filename", name),
        ):
            result = subprocess.run(
                (_tool("ruff"), *command, "-"),
                cwd=PROJECT_ROOT,
                input=block,
                capture_output=True,
                text=True,
                timeout=60,
                check=False,
            )
            assert result.returncode == 0, f"{name}:\n{block}\n{result.stdout}{result.stderr}"


@pytest.mark.slow
@pytest.mark.parametrize("platform", ["linux", "win32"])
def test_mypy_strict_on_src(platform: str) -> None:
    """Strict typing on both platforms: the Windows-only branches (`sys.platform ==
    "win32"`) are skipped by mypy on Linux, and no machine here runs Windows, so checking
    them as win32 is the only thing that keeps them honest. On Linux the benchmarks too
    (they start PostgreSQL the tests' POSIX-only way, so not as win32)."""
    folders = ("src", "benchmarks") if platform == "linux" else ("src",)
    result = _run(sys.executable, "-m", "mypy", "--platform", platform, *folders)
    assert result.returncode == 0, result.stdout + result.stderr


def test_import_rules() -> None:
    """docs/architecture.md's import rules, enforced by import-linter."""
    result = _run(_tool("lint-imports"))
    assert result.returncode == 0, result.stdout + result.stderr
