"""One mc-all table pooled over partial runs, one run at a time."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator

import numpy as np
import pytest

from winjobs.antares.calendar import Calendar
from winjobs.antares.mcall import id_matrix, mc_all_matrix
from winjobs.antares.merge_tables import RunWeight, merge_table
from winjobs.antares.stats import synthesis_from_years
from winjobs.antares.values import OutputTable
from winjobs.antares.variables import Variable, area_variables

YEARS = 12


def _variables() -> tuple[Variable, ...]:
    return area_variables()[:6]


def _per_year() -> np.ndarray:
    """Whole values for each year: printed exactly (0 decimals), so a run's min and max
    are the years' own, and ties between years are exact (the earliest year's)."""
    rows = len(Calendar.from_settings().index("weekly")[0])
    rng = np.random.default_rng(7)
    return rng.integers(0, 200, size=(YEARS, rows, len(_variables()))).astype(np.float64)


def _tables(years: list[int]) -> tuple[OutputTable, OutputTable]:
    """The values and id tables a run of `years` (0-based) prints, as the solver would."""
    summary = synthesis_from_years(_per_year()[years], [y + 1 for y in years], [1.0] * len(years))
    made = []
    for kind, (columns, values) in (
        ("values", mc_all_matrix(_variables(), summary, "weekly")),
        ("id", id_matrix(_variables(), summary)),
    ):
        table = OutputTable.build(
            "NODE",
            kind=kind,
            period="weekly",
            calendar=Calendar.from_settings(),
            columns=columns,
            values=values,
        )
        made.append(OutputTable.parse(table.to_bytes(), source=kind))  # as printed
    return made[0], made[1]


def test_runs_pool_into_the_table_of_all_years_one_run_at_a_time() -> None:
    """The merge of 12 one-year runs prints what one run of the 12 years prints, and each
    run's table is gone before the next one is read (the first is kept as the layout):
    a job of a thousand tasks is merged in the memory of one."""
    alive: list[weakref.ref[np.ndarray]] = []
    most_alive = 0

    def runs() -> Iterator[tuple[OutputTable, OutputTable | None]]:
        nonlocal most_alive
        for year in range(YEARS):
            gc.collect()
            most_alive = max(most_alive, sum(ref() is not None for ref in alive[1:]))
            values, ids = _tables([year])
            alive.append(weakref.ref(values.values))
            yield values, ids

    merged = merge_table(runs(), [RunWeight(1.0, 1)] * YEARS, "values-weekly.txt")
    assert most_alive <= 1  # the previous run's table at most, never all of them
    whole_values, whole_ids = _tables(list(range(YEARS)))
    extremes = [j for j, c in enumerate(whole_values.columns) if c.stat in ("min", "max")]
    np.testing.assert_array_equal(
        merged.values.values[:, extremes], whole_values.values[:, extremes]
    )
    # means and deviations of printed (rounded) runs: the last printed digit may differ
    np.testing.assert_allclose(merged.values.values, whole_values.values, rtol=0, atol=1.0)
    assert merged.ids is not None and merged.ids.to_bytes() == whole_ids.to_bytes()
    assert merged.notes == []


def test_runs_of_different_layouts_are_refused() -> None:
    values, ids = _tables([0])
    other = values.with_values(values.values[:, :-1], values.columns[:-1], None)
    with pytest.raises(Exception, match="disagree on its columns or rows"):
        merge_table([(values, ids), (other, ids)], [RunWeight(1.0, 1)] * 2, "values-weekly.txt")
