"""Fixtures of the stand-in tests: small studies and a way to run the solver in-process.

`copy_study` and `set_settings` come from `tests.helpers.study_variants` (re-exported here
for the tests that import them from this module)."""

from __future__ import annotations

import io
import shutil
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.helpers.study_variants import copy_study as copy_study
from tests.helpers.study_variants import set_settings as set_settings
from winjobs.antares.example import write_example_study
from winjobs.standin.cli import run_solver

FAST = {"WINJOBS_STANDIN_SECONDS_PER_YEAR": "0", "WINJOBS_STANDIN_COLOR": "never"}


@dataclass
class Outcome:
    status: int
    stdout: str
    stderr: str

    @property
    def lines(self) -> list[str]:
        return self.stdout.splitlines()


def run_inprocess(argv: list[str], environ: Mapping[str, str] | None = None) -> Outcome:
    """`winjobs-standin-solver argv` inside the test process (fast, no interpreter start)."""
    out, err = io.StringIO(), io.StringIO()
    status = run_solver(["winjobs-standin-solver", *argv], {**FAST, **(environ or {})}, out, err)
    return Outcome(status, out.getvalue(), err.getvalue())


def only_run(study: Path) -> Path:
    runs = [p for p in (study / "output").iterdir()]
    assert len(runs) == 1, runs
    return runs[0]


@pytest.fixture(scope="session")
def example_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The bundled example study, generated once per session (copied per test)."""
    return write_example_study(tmp_path_factory.mktemp("template") / "example", nbyears=8)


@pytest.fixture
def small_study(tmp_path: Path, example_template: Path) -> Callable[..., Path]:
    """The bundled example study cut to two weeks (fast runs), with `nbyears` years."""

    def make(nbyears: int = 6, name: str = "study", days: int = 14) -> Path:
        study = tmp_path / name
        shutil.copytree(example_template, study)
        settings = {"nbyears": str(nbyears), "simulation.end": str(days)}
        set_settings(study, "general", settings)
        return study

    return make


def python_solver() -> list[str]:
    """The stand-in as a separate process, the way the worker starts a solver."""
    return [sys.executable, "-m", "winjobs.standin"]
