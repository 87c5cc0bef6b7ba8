"""The output layer's strict check accepts a good stand-in run and rejects every faulty one.

This is the contract the worker relies on: whatever way the stand-in (or the real solver)
ends badly, `check_run` says so, and the progress parser follows the stand-in's log.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tests.unit.standin.conftest import run_inprocess, set_settings
from winjobs.antares.output import check_run, find_run_folders, parse_progress, read_run_info
from winjobs.standin.faults import CRASH_ENV, FAIL_YEAR_ENV, PARTIAL_ENV
from winjobs.standin.version import VERSION_ENV

YEARS = [0, 1, 2, 3]


def _check(study: Path, environ: dict[str, str], *options: str) -> tuple[bool, str | None, str]:
    outcome = run_inprocess([*options, str(study)], environ)
    runs = find_run_folders(study)
    result = check_run(
        runs[-1] if runs else None,
        exit_code=outcome.status,
        expected_years=YEARS,
        year_by_year=True,
        log_text=outcome.stdout,
    )
    return result.ok, result.reason, outcome.stdout


def test_good_run_is_accepted_and_progress_complete(small_study: Callable[..., Path]) -> None:
    study = small_study(nbyears=4)
    ok, reason, stdout = _check(study, {}, "--force-parallel=2")
    assert ok, reason
    progress = parse_progress(stdout)
    assert (progress.years_done, progress.years_total) == (4, 4)
    info = read_run_info(find_run_folders(study)[0])
    assert (info.years, info.mode.lower(), info.year_by_year) == ((0, 1, 2, 3), "economy", True)


def test_zipped_run_is_accepted(small_study: Callable[..., Path]) -> None:
    ok, reason, _ = _check(small_study(nbyears=4), {}, "-z")
    assert ok, reason


def test_progress_mid_run(small_study: Callable[..., Path]) -> None:
    _, _, stdout = _check(small_study(nbyears=4), {})
    cut = stdout.split("Exporting the annual results")
    partial = "Exporting the annual results".join(cut[:3])  # two years exported
    progress = parse_progress(partial)
    assert (progress.years_done, progress.years_total) == (2, 4)


@pytest.mark.parametrize(
    ("environ", "options", "reason"),
    [
        ({FAIL_YEAR_ENV: "2"}, (), "status 1"),
        ({CRASH_ENV: "1"}, (), "status 139"),
        ({PARTIAL_ENV: "1"}, (), "execution_info.ini"),
        ({VERSION_ENV: "8.6"}, (), "status 1"),
    ],
    ids=["failed-year", "crash", "partial-exit-0", "study-too-new"],
)
def test_faulty_runs_are_rejected(
    small_study: Callable[..., Path],
    environ: dict[str, str],
    options: tuple[str, ...],
    reason: str,
) -> None:
    ok, why, _ = _check(small_study(nbyears=4), environ, *options)
    assert not ok
    assert why is not None and reason in why


def test_missing_year_is_rejected(small_study: Callable[..., Path]) -> None:
    """A run that played fewer years than the task asked for is not a success."""
    study = small_study(nbyears=4)
    set_settings(study, "general", {"nbyears": "3"})
    ok, why, _ = _check(study, {})
    assert not ok and why is not None and "00004" in why


def test_milp_study_needs_ortools_like_the_real_solver(small_study: Callable[..., Path]) -> None:
    study = small_study(nbyears=1)
    set_settings(study, "other preferences", {"unit-commitment-mode": "milp"})
    outcome = run_inprocess([str(study)])
    assert outcome.status == 1
    assert "[fatal] Unit Commitment mode 'milp' must be used with an OR-Tools solver" in (
        outcome.stdout
    )
    assert run_inprocess(["--use-ortools", "--ortools-solver=sirius", str(study)]).status == 0
