"""The real-solver tier of the merge (issue 12): split runs of the REAL 8.8.10 solver
merge back into its full run.

Every shared study the real solver can run is cut into random chunks (seeded; single-year
chunks occur), each chunk run by the real solver, the runs merged with `merge_runs`, and
the result compared with the full real run (`tests/helpers/fidelity.py`: file lists,
mc-all within the tolerances of docs/merging.md, mc-ind and once-per-run files byte for
byte). Then the same on variants that toggle what a run writes: output filters, thematic
trimming, zip, districts, binding-constraint outputs, extras, modes, impedances. Real runs
are cached for the session (`tests/helpers/real_solver.py`), so tests share them.
"""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path

import pytest

import winjobs.antares.merge as merge_module
from tests.conftest import shared_studies
from tests.helpers.fidelity import check_split, compare_split, random_split, study_years
from tests.helpers.real_solver import RealSolver, real_solver
from tests.helpers.study_variants import VariantCache, study_variants
from winjobs.antares.merge import merge_runs
from winjobs.antares.output import check_run, read_run_info
from winjobs.antares.study import open_study
from winjobs.errors import MergeError

__all__ = ["real_solver", "study_variants"]

pytestmark = [pytest.mark.shared_data, pytest.mark.slow, pytest.mark.xdist_group("real-solver")]

#: Shared studies with no split run to compare, and why.
NOT_COMPARED = {
    "final-levels-v920": "a 9.2 study: the 8.8 solver refuses it (Invalid version for the study)",
    "hybrid-3_8-v930": "a 9.3 study: the 8.8 solver refuses it (Invalid version for the study)",
    "milp-accurate-uc": "MILP unit commitment needs an OR-Tools build; the shared solver has none",
    "playlist-1": "hydro hot start: split runs differ by nature (warned; see test_merge.py)",
    "hydro-H700-23": "hydro hot start: split runs differ by nature (warned; see test_merge.py)",
}

#: (study, variant) pairs: each setting on a study where it changes what the run writes.
VARIANT_CASES = [
    ("multiple-ntc-sc-builder", "filters-no-year-by-year"),
    ("multiple-ntc-sc-builder", "filters-random"),
    ("multiple-ntc-sc-builder", "impedances"),
    ("bc-rhs-scenario-simple-v870", "thematic"),
    ("bc-rhs-scenario-simple-v870", "thematic-keep"),
    ("bc-rhs-scenario-simple-v870", "zip"),
    ("bc-rhs-scenario-simple-v870", "districts"),
    ("bc-rhs-scenario-simple-v870", "constraints"),
    ("bc-rhs-scenario-simple-v870", "year-by-year-off"),
    ("bc-rhs-scenario-simple-v870", "synthesis-off"),
    ("bc-rhs-scenario-simple-v870", "adequacy"),
    ("bc-rhs-scenario-simple-v870", "expansion"),
    ("ts-gen-thermal-stochastic", "extras"),
]


def _chunks(study: Path, seed: str, most: int = 3) -> list[list[int]]:
    facts = open_study(study)
    years = list(facts.years)
    return random_split(years, seed, most=most) if facts.splittable else [years]


@pytest.mark.parametrize("name", [s.name for s in shared_studies()])
def test_every_study_the_real_solver_runs_merges_back(
    name: str,
    real_solver: RealSolver,
    study_variants: VariantCache,
    shared_antares: Path,
    tmp_path: Path,
) -> None:
    """With everything written (year-by-year and synthesis on, trimming off)."""
    if name in NOT_COMPARED:
        pytest.skip(NOT_COMPARED[name])
    study = study_variants.get(shared_antares / "studies" / name, "full")
    chunks = _chunks(study, f"real-{name}")
    result = check_split(real_solver, study, chunks, tmp_path / "merged")
    assert result.problems == [], (chunks, result.problems)


@pytest.mark.parametrize(("name", "variant"), VARIANT_CASES)
def test_variants_merge_back(
    name: str,
    variant: str,
    real_solver: RealSolver,
    study_variants: VariantCache,
    shared_antares: Path,
    tmp_path: Path,
) -> None:
    study = study_variants.get(shared_antares / "studies" / name, variant)
    chunks = _chunks(study, f"real-{name}-{variant}", most=2)
    result = check_split(real_solver, study, chunks, tmp_path / "merged")
    assert result.problems == [], (chunks, result.problems)
    if variant == "filters-no-year-by-year":  # the case: no mc-ind at all
        full = real_solver.run(study).folder()
        assert read_run_info(full).year_by_year and not (full / "economy/mc-ind").exists()
    if variant == "impedances":  # the quadratic step ran: FLOW QUAD. is not all 0
        full = real_solver.run(study).folder()
        assert "(quadratic optimisation)" in (full / "simulation.log").read_text()
    if variant == "zip":
        assert result.merged is not None and result.merged.suffix == ".zip"
        assert result.merged.is_file()


def test_the_strict_check_takes_filtered_runs_and_refuses_partial_ones(
    real_solver: RealSolver, study_variants: VariantCache, shared_antares: Path, tmp_path: Path
) -> None:
    source = shared_antares / "studies" / "multiple-ntc-sc-builder"
    filtered = real_solver.run(study_variants.get(source, "filters-no-year-by-year"))
    years = read_run_info(filtered.folder()).years
    assert check_run(
        filtered.folder(), exit_code=0, expected_years=years, year_by_year=True, log_text=""
    ).ok
    full = tmp_path / "run"
    shutil.copytree(real_solver.run(study_variants.get(source, "full")).folder(), full)
    shutil.rmtree(full / "economy/mc-ind/00004")
    check = check_run(full, exit_code=0, expected_years=years, year_by_year=True, log_text="")
    assert not check.ok and check.reason == "run lacks mc-ind years 00004"
    shutil.rmtree(full / "economy/mc-ind")  # no trimming: no year folder at all is a failure
    check = check_run(full, exit_code=0, expected_years=years, year_by_year=True, log_text="")
    assert not check.ok and "lacks mc-ind years 00001, 00002" in (check.reason or "")


def test_flow_quad_on_a_loop_runs_in_one_piece(
    real_solver: RealSolver,
    study_variants: VariantCache,
    shared_antares: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A loop of links with impedances: FLOW QUAD. is a quadratic optimum of the averages
    of all years. The study is not split, a merge of several runs is refused, and the
    one-piece run merges into itself; pooled anyway, FLOW QUAD. would be far off."""
    source = shared_antares / "studies" / "multiple-ntc-sc-builder"
    study = study_variants.get(source, "meshed")
    facts = open_study(study)
    assert not facts.splittable and "form a loop" in (facts.split_blocker or "")
    result = check_split(real_solver, study, [list(facts.years)], tmp_path / "whole")
    assert result.problems == []
    parts = [real_solver.run(study, years=chunk).folder() for chunk in ([0, 2, 4], [1, 3])]
    with pytest.raises(MergeError, match="cannot be merged from 2 partial runs: FLOW QUAD"):
        merge_runs(study, parts, tmp_path / "refused")

    unblocked = dataclasses.replace(facts, split_blocker=None, splittable=True)
    monkeypatch.setattr(merge_module, "open_study", lambda path: unblocked)
    merge_runs(study, parts, tmp_path / "pooled")
    full = real_solver.run(study).folder()
    problems = compare_split(full, tmp_path / "pooled", parts, tmp_path / "cmp")
    assert problems and all("FLOW QUAD." in p for p in problems), problems


def test_random_splits_are_partitions_with_single_year_chunks(shared_antares: Path) -> None:
    years = study_years(shared_antares / "studies" / "thermal-refresh")
    for seed in range(30):
        chunks = random_split(years, str(seed))
        assert 2 <= len(chunks) <= 4 and sorted(y for c in chunks for y in c) == years
    assert any(len(c) == 1 for s in range(30) for c in random_split(years, str(s)))
    assert random_split([7], "any") == [[7]]
