"""Pool the mc-all tables of partial runs into the tables of a single run.

A values/details table of each partial run becomes a `Summary` per variable (its EXP,
std, min, max and `values` columns, and the years of its id file); `stats.pool` combines
them; `mcall.statistic` picks what each output column prints. Columns keep the first
run's layout and decimals (widened when another run printed more decimals).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import NDArray

from winjobs.antares.mcall import statistic
from winjobs.antares.stats import Pooling, Summary
from winjobs.antares.textnum import ZERO
from winjobs.antares.values import OutputTable
from winjobs.antares.variables import Column, rule_for
from winjobs.errors import MergeError


@dataclass(frozen=True)
class RunWeight:
    """A partial run's share: W (sum of its years' weights, as C floats) and K (years)."""

    weight: float
    count: int


@dataclass(frozen=True)
class ColumnGroup:
    caption: str
    unit: str
    columns: tuple[int, ...]
    stats: tuple[str, ...]


def column_groups(columns: Sequence[Column]) -> list[ColumnGroup]:
    """Consecutive columns of one variable (same caption and unit) form a group."""
    groups: list[ColumnGroup] = []
    start = 0
    for j in range(1, len(columns) + 1):
        if j == len(columns) or (columns[j].caption, columns[j].unit) != (
            columns[start].caption,
            columns[start].unit,
        ):
            picked = tuple(range(start, j))
            stats = tuple(columns[c].stat for c in picked)
            groups.append(ColumnGroup(columns[start].caption, columns[start].unit, picked, stats))
            start = j
    return groups


@dataclass(frozen=True)
class _Layout:
    """Per statistic, the column holding it for each variable (the same in every run).
    A variable without that statistic points at its first column: the pooled number is
    then meaningless but never printed (only the variable's own statistics are)."""

    columns: dict[str, NDArray[np.intp]]
    id_columns: dict[str, NDArray[np.intp]] | None


def _layout(groups: list[ColumnGroup], ids: OutputTable | None) -> _Layout:
    columns: dict[str, NDArray[np.intp]] = {}
    for stat in ("EXP", "std", "min", "max"):
        picks = []
        for group in groups:
            wanted = ("EXP", "values") if stat == "EXP" else (stat,)
            found = [c for c, s in zip(group.columns, group.stats, strict=True) if s in wanted]
            picks.append(found[0] if found else group.columns[0])
        columns[stat] = np.array(picks, dtype=np.intp)
    id_columns = None
    if ids is not None and ids.columns:
        where = {(c.caption, c.stat): k for k, c in enumerate(ids.columns)}
        id_columns = {
            stat: np.array([where.get((g.caption, stat), 0) for g in groups], dtype=np.intp)
            for stat in ("min", "max")
        }
    return _Layout(columns, id_columns)


def _take_columns(matrix: NDArray[np.float64], columns: NDArray[np.intp]) -> NDArray[np.float64]:
    """matrix[:, columns], copying whole contiguous columns when the matrix is
    column-major (as pandas returns it)."""
    if matrix.flags.f_contiguous and not matrix.flags.c_contiguous:
        picked: NDArray[np.float64] = matrix.T[columns].T
        return picked
    return matrix[:, columns]


def _summary(
    table: OutputTable, ids: OutputTable | None, layout: _Layout, share: RunWeight
) -> Summary:
    fields = {stat: _take_columns(table.values, cols) for stat, cols in layout.columns.items()}
    years: dict[str, NDArray[np.int64]] = {}
    for stat in ("min", "max"):
        if ids is None or layout.id_columns is None:
            years[stat] = np.zeros(fields["EXP"].shape, dtype=np.int64)
            continue
        found = _take_columns(ids.values, layout.id_columns[stat])
        years[stat] = np.where(np.isfinite(found), found, 0).astype(np.int64)
    return Summary(
        weight=share.weight,
        count=share.count,
        exp=fields["EXP"],
        std=fields["std"],
        min=fields["min"],
        min_year=years["min"],
        max=fields["max"],
        max_year=years["max"],
        share=fields["EXP"],
    )


def _order(matrix: NDArray[np.float64]) -> Literal["C", "F"]:
    """Keep the memory order the reader gave: column copies stay contiguous."""
    return "F" if matrix.flags.f_contiguous and not matrix.flags.c_contiguous else "C"


def _check_same_layout(first: OutputTable, other: OutputTable, what: str) -> None:
    layout = [(c.caption, c.unit, c.stat) for c in first.columns]
    if [(c.caption, c.unit, c.stat) for c in other.columns] != layout or (
        other.index != first.index
    ):
        raise MergeError(
            f"{what}: the partial runs disagree on its columns or rows "
            "(runs of different studies or settings?)"
        )


@dataclass
class MergedTable:
    values: OutputTable
    ids: OutputTable | None
    notes: list[str]


def merge_table(
    tables: Iterable[tuple[OutputTable, OutputTable | None]],
    shares: Sequence[RunWeight],
    what: str,
) -> MergedTable:
    """Pool one values/details table (and its id table) over the partial runs.

    `tables` gives each run's table and id table in the order of `shares`; each is
    folded in as it comes (`stats.Pooling`) and can be dropped at once, so the merge of
    many runs holds one run's table at a time."""
    pairs = iter(tables)
    first_pair = next(pairs, None)
    if first_pair is None:
        raise MergeError(f"{what}: no partial run to merge")
    first, first_ids = first_pair
    groups = column_groups(first.columns)
    layout = _layout(groups, first_ids)
    pooling = Pooling([s.weight for s in shares], [s.count for s in shares])
    pooling.add(_summary(first, first_ids, layout, shares[0]))
    decimals = [c.decimals for c in first.columns]
    rules = [rule_for(first.kind, g.caption, g.stats) for g in groups]
    unknown = [
        col for g, rule in zip(groups, rules, strict=True) if rule is None for col in g.columns
    ]
    all_zero = {col: bool(np.all(np.abs(first.values[:, col]) < ZERO)) for col in unknown}
    for added, (table, ids) in enumerate(pairs, start=1):
        _check_same_layout(first, table, what)
        if first_ids is not None and ids is not None:
            _check_same_layout(first_ids, ids, what.replace("values-", "id-"))
        pooling.add(_summary(table, ids, layout, shares[added]))
        decimals = [max(d, c.decimals) for d, c in zip(decimals, table.columns, strict=True)]
        for col in unknown:
            all_zero[col] = all_zero[col] and bool(np.all(np.abs(table.values[:, col]) < ZERO))
    pooled = pooling.result()
    out = np.empty(first.values.shape, order=_order(first.values))
    not_applicable = (
        np.zeros(out.shape, dtype=bool)
        if first.not_applicable is None
        else first.not_applicable.copy()
    )
    notes: list[str] = []
    for j, (group, rule) in enumerate(zip(groups, rules, strict=True)):
        for col, stat in zip(group.columns, group.stats, strict=True):
            if rule is None:
                if all_zero[col]:
                    out[:, col] = 0.0
                    continue
                not_applicable[:, col] = True
                out[:, col] = np.nan
                notes.append(f"{what}: {group.caption} has no known pooling rule: printed N/A")
                continue
            out[:, col] = statistic(pooled, stat, rule, first.period)[:, j]
    columns = [Column(c.caption, c.unit, c.stat, decimals[i]) for i, c in enumerate(first.columns)]
    merged = first.with_values(out, columns, not_applicable if not_applicable.any() else None)
    merged_ids = None
    if first_ids is not None:
        merged_ids = _merge_ids(first_ids, groups, pooled)
    return MergedTable(merged, merged_ids, notes)


def _merge_ids(template: OutputTable, groups: list[ColumnGroup], pooled: Summary) -> OutputTable:
    position = {g.caption: j for j, g in enumerate(groups)}
    values = template.values.copy()
    for col, column in enumerate(template.columns):
        j = position.get(column.caption)
        if j is None or column.stat not in ("min", "max"):
            continue
        years = pooled.min_year if column.stat == "min" else pooled.max_year
        values[:, col] = years[:, j]
    na = template.not_applicable
    if na is not None:
        values[na] = np.nan
    return template.with_values(values, template.columns, na)
