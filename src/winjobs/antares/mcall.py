"""mc-all and id tables from statistics: the one place that maps a variable's rule to
the numbers printed under each of its sub-columns. The stand-in solver uses it on
`synthesis_from_years`, the merge on `pool`, so both print the same way."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

from winjobs.antares.stats import Summary
from winjobs.antares.variables import Column, Rule, Variable


def statistic(summary: Summary, stat: str, rule: Rule, period: str) -> NDArray[np.float64]:
    """The numbers printed under `stat` for every cell of `summary`."""
    if stat == "EXP":
        return summary.exp
    if stat == "std":
        return summary.std
    if stat == "min":
        return summary.min
    if stat == "max":
        return summary.max
    if stat == "values":
        if rule is Rule.CONG_PROB and period != "hourly":
            return summary.share
        return summary.exp
    raise ValueError(f"unknown statistic {stat!r}")


def mc_all_matrix(
    variables: Sequence[Variable], summary: Summary, period: str
) -> tuple[list[Column], NDArray[np.float64]]:
    """Columns and values of an mc-all values/details file; `summary` arrays are
    (rows, variables) in the order of `variables`."""
    columns: list[Column] = []
    blocks: list[NDArray[np.float64]] = []
    for j, var in enumerate(variables):
        for column in var.mc_all_columns():
            columns.append(column)
            blocks.append(statistic(summary, column.stat, var.rule, period)[:, j])
    return columns, _stack(blocks, summary.exp.shape[0])


def id_matrix(
    variables: Sequence[Variable], summary: Summary
) -> tuple[list[Column], NDArray[np.float64]]:
    """Columns and 1-based years of the id file (FULL variables only)."""
    columns: list[Column] = []
    blocks: list[NDArray[np.float64]] = []
    for j, var in enumerate(variables):
        for column in var.id_columns():
            columns.append(column)
            years = summary.min_year if column.stat == "min" else summary.max_year
            blocks.append(years[:, j].astype(np.float64))
    return columns, _stack(blocks, summary.exp.shape[0])


def _stack(blocks: list[NDArray[np.float64]], rows: int) -> NDArray[np.float64]:
    if not blocks:
        return np.zeros((rows, 0))
    return np.ascontiguousarray(np.column_stack(blocks))
