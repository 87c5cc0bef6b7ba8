"""Compare a job's merged output with a single-machine run of the same study."""

from __future__ import annotations

from pathlib import Path

from tests.helpers.output_compare import compare_runs


def mc_ind_years(run: Path) -> list[int]:
    """1-based year folders of a run's mc-ind (economy or adequacy)."""
    years = []
    for mode in ("economy", "adequacy"):
        folder = run / mode / "mc-ind"
        if folder.is_dir():
            years += [int(p.name) for p in folder.iterdir() if p.name.isdigit()]
    return sorted(years)


def assert_same_run(merged: Path, clean: Path) -> None:
    """The same years, mc-ind byte-identical, mc-all and summaries within the
    non-regression tolerances of the merge (tests/helpers/output_compare.py)."""
    assert mc_ind_years(merged) == mc_ind_years(clean)
    problems = compare_runs(clean, merged)
    assert not problems, "\n".join(problems[:20])
