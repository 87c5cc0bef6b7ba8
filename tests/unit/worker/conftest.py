"""Helpers of the worker's unit tests: tiny Python programs standing in for a solver."""

from __future__ import annotations

import stat
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

ScriptFactory = Callable[[str, str], Path]


@pytest.fixture
def make_script(tmp_path: Path) -> ScriptFactory:
    """`make_script(name, body)`: an executable Python program at tmp_path/bin/name."""

    def make(name: str, body: str) -> Path:
        folder = tmp_path / "bin"
        folder.mkdir(exist_ok=True)
        path = folder / name
        path.write_text(f"#!{sys.executable}\n" + textwrap.dedent(body), encoding="utf-8")
        path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
        return path

    return make
