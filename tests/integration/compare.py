"""Compare a job's merged output with a single-machine run of the same study."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from winjobs.antares.values import OutputTable


def mc_ind_years(run: Path) -> list[int]:
    """1-based year folders of a run's mc-ind (economy or adequacy)."""
    years = []
    for mode in ("economy", "adequacy"):
        folder = run / mode / "mc-ind"
        if folder.is_dir():
            years += [int(p.name) for p in folder.iterdir() if p.name.isdigit()]
    return sorted(years)


def _files(root: Path) -> dict[str, Path]:
    return {p.relative_to(root).as_posix(): p for p in root.rglob("*") if p.is_file()}


def assert_same_run(merged: Path, clean: Path) -> None:
    """mc-ind byte-identical; mc-all equal within the merge's NR-like tolerances (one unit
    of the last printed digit, two for std, plus 1e-3 relative); id files are skipped
    (ties between equal printed extremes may name another year)."""
    assert mc_ind_years(merged) == mc_ind_years(clean)
    for mode in ("economy", "adequacy"):
        if not (clean / mode).is_dir():
            continue
        mine, theirs = _files(merged / mode / "mc-ind"), _files(clean / mode / "mc-ind")
        assert sorted(mine) == sorted(theirs)
        for name, path in theirs.items():
            assert mine[name].read_bytes() == path.read_bytes(), f"mc-ind/{name} differs"
        mine, theirs = _files(merged / mode / "mc-all"), _files(clean / mode / "mc-all")
        assert sorted(mine) == sorted(theirs)
        for name, path in theirs.items():
            if name.split("/")[-1].startswith("id-") or not name.endswith(".txt"):
                continue
            _assert_close(mine[name], path, name)


def _assert_close(mine: Path, clean: Path, name: str) -> None:
    try:
        a = OutputTable.parse(mine.read_bytes(), source=str(mine))
        b = OutputTable.parse(clean.read_bytes(), source=str(clean))
    except Exception:  # not a values table (grid/ digests...): must then be identical
        assert mine.read_bytes() == clean.read_bytes(), f"mc-all/{name} differs"
        return
    assert [c.caption for c in a.columns] == [c.caption for c in b.columns], name
    assert a.index == b.index, name
    unit = 10.0 ** -b.decimals.astype(np.float64)
    stds = np.array([c.stat == "std" for c in b.columns])
    allowed = np.where(stds, 2 * unit, unit) + 1e-3 * np.abs(b.values)
    both_nan = np.isnan(a.values) & np.isnan(b.values)
    bad = ~both_nan & ~(np.abs(a.values - b.values) <= allowed)
    assert not bad.any(), f"mc-all/{name}: {int(bad.sum())} cells differ beyond tolerance"
