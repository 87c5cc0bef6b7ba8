"""A finished attempt checked and turned into its report (`finishing.conclude`), for a run
the solver zipped itself (`result-format = zip`, or `-z`): it is checked inside the zip
and uploaded as the solver wrote it, never unpacked and zipped again (issue 12)."""

from __future__ import annotations

import hashlib
import io
import shutil
from pathlib import Path

import pytest

from winjobs.antares.example import write_example_study
from winjobs.antares.ini import IniDocument
from winjobs.standin.cli import run_solver
from winjobs.wire import TaskAssignment, Transfer
from winjobs.worker.finishing import Ran, conclude
from winjobs.worker.reports import Failure, Upload
from winjobs.worker.staging import StagedTask


def _assignment(years: list[int]) -> TaskAssignment:
    return TaskAssignment(
        task_id=7,
        job_id=1,
        attempt=1,
        years=years,
        antares_version="8.8",
        solver_version="8.8",
        study_sha256="0" * 64,
        study_size=1,
        study_name="example",
        transfer=Transfer.HTTP,
        lease_seconds=60,
        heartbeat_interval_s=1,
    )


@pytest.fixture(scope="module")
def zipped_task(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A task folder whose solver (the stand-in, `-z`) left `output/<run>.zip`."""
    staged = StagedTask.under(tmp_path_factory.mktemp("zipped") / "task")
    study = write_example_study(staged.study_dir, nbyears=2)
    settings = study / "settings" / "generaldata.ini"
    ini = IniDocument.read(settings)
    ini.set("general", "simulation.end", "7")
    ini.write(settings)
    log = io.StringIO()
    argv = ["antares-8.8-solver", "-i", str(study), "-z", "-n", "7"]
    assert run_solver(argv, {"WINJOBS_STANDIN_SECONDS_PER_YEAR": "0"}, log) == 0
    staged.log_path.write_text(log.getvalue(), encoding="utf-8")
    return staged.folder


@pytest.fixture
def zipped(zipped_task: Path, tmp_path: Path) -> tuple[StagedTask, Path]:
    """A copy of that task folder, and its zipped run."""
    staged = StagedTask.under(tmp_path / "task")
    shutil.copytree(zipped_task, staged.folder)
    [run] = list((staged.study_dir / "output").iterdir())
    assert run.suffix == ".zip"
    return staged, run


def test_a_zipped_run_is_uploaded_as_the_solver_wrote_it(zipped: tuple[StagedTask, Path]) -> None:
    staged, run = zipped
    before = hashlib.sha256(run.read_bytes()).hexdigest()
    report = conclude(_assignment([0, 1]), staged, Ran(0, True, frozenset()), tail_lines=5)
    assert isinstance(report, Upload), report
    assert report.run_zip == run
    assert hashlib.sha256(run.read_bytes()).hexdigest() == before
    assert sorted(p.name for p in staged.folder.iterdir()) == ["solver.log", "study"]


def test_a_zipped_run_is_checked_inside_the_zip(zipped: tuple[StagedTask, Path]) -> None:
    staged, run = zipped
    report = conclude(_assignment([0, 1, 2]), staged, Ran(0, True, frozenset()), tail_lines=5)
    assert isinstance(report, Failure)
    assert report.reason == f"{run.name} lacks mc-ind years 00003"


def test_a_damaged_zipped_run_is_a_failure(zipped: tuple[StagedTask, Path]) -> None:
    staged, run = zipped
    run.write_bytes(run.read_bytes()[: run.stat().st_size // 2])
    report = conclude(_assignment([0, 1]), staged, Ran(0, True, frozenset()), tail_lines=5)
    assert isinstance(report, Failure)
    assert "is not a readable zip" in report.reason
