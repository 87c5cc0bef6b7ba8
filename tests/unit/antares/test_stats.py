"""mc-all statistics: the solver's rules from years, and pooling partial runs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.helpers.real_outputs import run_folder
from winjobs.antares.mcall import id_matrix, mc_all_matrix
from winjobs.antares.stats import Summary, pool, synthesis_from_years
from winjobs.antares.values import read_table
from winjobs.antares.variables import Variable, variable


def test_weighted_statistics_by_hand() -> None:
    x = np.array([[1.0], [4.0], [10.0]])
    s = synthesis_from_years(x, [2, 3, 5], [1.0, 2.0, 1.0])
    assert s.weight == 4.0 and s.count == 3
    assert s.exp[0] == pytest.approx((1 + 8 + 10) / 4)
    assert s.std[0] == pytest.approx(np.sqrt((1 + 32 + 100) / 4 - (19 / 4) ** 2))
    assert (s.min[0], s.min_year[0], s.max[0], s.max_year[0]) == (1.0, 2, 10.0, 5)
    assert s.share[0] == pytest.approx(5.0)  # unweighted


def test_ties_go_to_the_earliest_year_within_1e7() -> None:
    x = np.array([[5.0, 5.0], [5.0 - 5e-8, 5.0 + 5e-8], [5.0, 5.0]])
    s = synthesis_from_years(x, [7, 3, 9], [1, 1, 1])  # years given out of order
    assert s.min_year.tolist() == [3, 3] and s.max_year.tolist() == [3, 3]
    strict = synthesis_from_years(np.array([[5.0], [4.0]]), [1, 2], [1, 1])
    assert strict.min_year[0] == 2 and strict.max_year[0] == 1


def test_weights_are_c_floats_and_zero_weights_are_refused() -> None:
    s = synthesis_from_years(np.array([[1.0], [2.0]]), [1, 2], [0.1, 0.2])
    assert s.weight == float(np.float32(np.float32(0.1) + np.float32(0.2)))
    with pytest.raises(ValueError, match="sum to zero"):
        synthesis_from_years(np.array([[1.0]]), [1], [0.0])
    with pytest.raises(ValueError, match="one weight"):
        synthesis_from_years(np.array([[1.0]]), [1, 2], [1, 1])
    with pytest.raises(ValueError, match="nothing"):
        pool([])


@st.composite
def _years_and_partition(draw: st.DrawFn) -> tuple[np.ndarray, list[int], list[float], list[int]]:
    n_years = draw(st.integers(1, 7))
    years = sorted(draw(st.sets(st.integers(1, 40), min_size=n_years, max_size=n_years)))
    weights = draw(st.lists(st.sampled_from([0.5, 1.0, 2.0, 3.0, 10.0]), min_size=n_years,
                            max_size=n_years))  # fmt: skip
    # values on a 0.25 grid: ties are exact, so extremes and their years are well defined
    values = draw(st.lists(st.integers(-40, 40), min_size=n_years * 6, max_size=n_years * 6))
    matrix = np.array(values, dtype=np.float64).reshape(n_years, 2, 3) * 0.25
    parts = draw(st.lists(st.integers(0, 3), min_size=n_years, max_size=n_years))
    return matrix, years, weights, parts


@settings(max_examples=150, deadline=None)
@given(_years_and_partition())
def test_pooling_any_partition_equals_the_synthesis_of_all_years(
    case: tuple[np.ndarray, list[int], list[float], list[int]],
) -> None:
    matrix, years, weights, labels = case
    whole = synthesis_from_years(matrix, years, weights)
    parts: list[Summary] = []
    for label in sorted(set(labels)):
        pick = [i for i, lab in enumerate(labels) if lab == label]
        parts.append(
            synthesis_from_years(matrix[pick], [years[i] for i in pick], [weights[i] for i in pick])
        )
    pooled = pool(parts)
    assert pooled.weight == pytest.approx(whole.weight) and pooled.count == whole.count
    np.testing.assert_allclose(pooled.exp, whole.exp, rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(pooled.share, whole.share, rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(pooled.std, whole.std, rtol=1e-6, atol=1e-6)
    np.testing.assert_array_equal(pooled.min, whole.min)
    np.testing.assert_array_equal(pooled.max, whole.max)
    np.testing.assert_array_equal(pooled.min_year, whole.min_year)
    np.testing.assert_array_equal(pooled.max_year, whole.max_year)


def test_pooled_variance_avoids_cancellation() -> None:
    big = np.full((2, 1), 1.5e10)
    part_a = synthesis_from_years(big[:1] + 1, [1], [1])
    part_b = synthesis_from_years(big[1:] - 1, [2], [1])
    assert pool([part_a, part_b]).std[0] == pytest.approx(1.0)


def _synthesise_run(run: Path, mode: str, objects: list[str], weights: dict[int, float]) -> None:
    """mc-all of a real run recomputed from its mc-ind years equals the printed one."""
    years = sorted(weights)
    for obj in objects:
        for period in ("hourly", "daily", "weekly", "monthly", "annual"):
            per_year = [
                read_table(run / mode / "mc-ind" / f"{y:05d}" / obj / f"values-{period}.txt")
                for y in years
            ]
            full = read_table(run / mode / "mc-all" / obj / f"values-{period}.txt")
            ids = read_table(run / mode / "mc-all" / obj / f"id-{period}.txt")
            variables = [variable(c.caption) for c in per_year[0].columns]
            assert all(isinstance(v, Variable) for v in variables)
            known = [v for v in variables if v is not None]
            summary = synthesis_from_years(
                np.stack([t.values for t in per_year]), years, [weights[y] for y in years]
            )
            columns, values = mc_all_matrix(known, summary, period)
            assert [(c.caption, c.stat) for c in columns] == [
                (c.caption, c.stat) for c in full.columns
            ]
            printed = full.with_values(values, full.columns, full.not_applicable).to_bytes()
            expected = full.to_bytes()
            cells = [
                (a, b)
                for la, lb in zip(printed.split(b"\n"), expected.split(b"\n"), strict=True)
                for a, b in zip(la.split(b"\t"), lb.split(b"\t"), strict=True)
                if a != b
            ]
            # statistics of printed (rounded) years: one unit of the last digit off at most
            unit = [10.0 ** -(len(b.split(b".")[1]) if b"." in b else 0) for _, b in cells]
            assert all(
                abs(float(a) - float(b)) <= u * 1.0001
                for (a, b), u in zip(cells, unit, strict=True)
            ), (obj, period, cells[:5])
            id_columns, years_matrix = id_matrix(known, summary)
            na = ids.not_applicable
            if na is not None:
                years_matrix[na] = np.nan
            assert [(c.caption, c.stat) for c in id_columns] == [
                (c.caption, c.stat) for c in ids.columns
            ]
            _same_year_unless_printed_tie(years_matrix, ids.values, id_columns, per_year, years)


def _same_year_unless_printed_tie(
    ours: np.ndarray, real: np.ndarray, columns: list, per_year: list, years: list[int]
) -> None:
    """Our id years equal the solver's, except where the printed per-year values tie
    (the solver compared exact values the files no longer hold)."""
    captions = [c.caption for c in per_year[0].columns]
    rows, cols = np.nonzero((ours != real) & ~(np.isnan(ours) & np.isnan(real)))
    for r, k in zip(rows.tolist(), cols.tolist(), strict=True):
        j = captions.index(columns[k].caption)
        mine = per_year[years.index(int(ours[r, k]))].values[r, j]
        theirs = per_year[years.index(int(real[r, k]))].values[r, j]
        assert mine == theirs, (columns[k], r, ours[r, k], real[r, k])


@pytest.mark.shared_data
def test_solver_rules_reproduce_real_mc_all(real_outputs: Path) -> None:
    _synthesise_run(
        run_folder(real_outputs, "ntc-full"),
        "economy",
        ["areas/source", "areas/sink 2", "links/sink 1 - source"],
        {y: 1.0 for y in range(1, 6)},
    )
    _synthesise_run(  # weighted years 2 and 3 (weights 10 and 3)
        run_folder(real_outputs, "plc-full"), "economy", ["areas/f"], {2: 10.0, 3: 3.0}
    )
